"""Contracts of the public API: a sorted, complete __all__ and one error root."""

from __future__ import annotations

import inspect

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
