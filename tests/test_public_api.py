"""Contracts of the public API: a sorted, complete __all__, one error root, one version."""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import tomllib
from pathlib import Path

from click.testing import CliRunner

import kestra_git_tasks
from kestra_git_tasks import errors


def test_all_is_sorted() -> None:
    assert kestra_git_tasks.__all__ == sorted(kestra_git_tasks.__all__)


def test_all_names_exist() -> None:
    for name in kestra_git_tasks.__all__:
        assert hasattr(kestra_git_tasks, name), name


def test_every_error_class_is_exported_and_subclasses_the_root() -> None:
    error_classes = {
        name
        for name, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, Exception) and obj.__module__ == errors.__name__
    }
    assert error_classes <= set(kestra_git_tasks.__all__)
    for name in error_classes:
        assert issubclass(getattr(errors, name), errors.KestraGitError), name


def test_every_task_class_is_exported() -> None:
    from kestra_git_tasks.tasks.registry import TASK_CLASSES

    for cls in TASK_CLASSES:
        assert getattr(kestra_git_tasks, cls.__name__) is cls


def test_error_tree_in_docstring_names_every_error() -> None:
    doc = errors.__doc__ or ""
    for name, obj in inspect.getmembers(errors, inspect.isclass):
        if issubclass(obj, errors.KestraGitError):
            assert name in doc, name


def test_the_registry_knows_every_alias_a_task_class_declares() -> None:
    from kestra_git_tasks.tasks.registry import TASK_CLASSES, known_task_types, task_class

    assert sorted(cls.type for cls in TASK_CLASSES) == known_task_types()
    for cls in TASK_CLASSES:
        for name in (cls.type, *cls.aliases):
            assert task_class(name) is cls, name


def test_importing_the_cli_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, kestra_git_tasks.cli; "
        "print(sorted(m for m in ('pygit2', 'httpx', 'jinja2', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_type_checkers_see_exactly_the_lazy_names() -> None:
    """The ``TYPE_CHECKING`` block re-exports (``X as X``) each public name from the module
    ``_LAZY`` loads it from, and nothing else: the two lists cannot drift apart."""
    tree = ast.parse(Path(kestra_git_tasks.__file__).read_text(encoding="utf-8"))
    [block] = [
        node
        for node in tree.body
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
    ]
    seen: dict[str, str] = {}
    for node in block.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                assert alias.asname == alias.name, f"{alias.name}: write it `{alias.name} as ...`"
                seen[alias.name] = "." * node.level + (node.module or "")

    assert seen == kestra_git_tasks._LAZY
    assert kestra_git_tasks.__all__ == sorted(kestra_git_tasks._LAZY)


def test_version_is_the_installed_distributions_which_pyproject_sets() -> None:
    pyproject = Path(kestra_git_tasks.__file__).parent.parent / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]

    assert kestra_git_tasks.__version__ == importlib.metadata.version("kestra-git-tasks")
    assert kestra_git_tasks.__version__ == declared


def test_cli_version_prints_the_package_version() -> None:
    from kestra_git_tasks.cli import cli

    result = CliRunner().invoke(cli, ["--version"])

    assert result.exit_code == 0
    assert result.output == f"kestra-git, version {kestra_git_tasks.__version__}\n"
