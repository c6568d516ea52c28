"""Docs stay honest: generated reference up to date, every task documented with examples that
run, every CLI command documented."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from kestra_git_tasks.cli import cli
from kestra_git_tasks.cli.docs import command_help
from kestra_git_tasks.docgen import docstring_examples, generate_docs
from kestra_git_tasks.flow import TaskSpec, parse_flow
from kestra_git_tasks.tasks._base import Task
from kestra_git_tasks.tasks.registry import TASK_CLASSES

ROOT = Path(__file__).resolve().parent.parent


def test_generated_reference_is_up_to_date() -> None:
    for relative, content in generate_docs(command_help(cli)).items():
        page = ROOT / "docs" / relative
        assert page.exists(), f"docs/{relative} missing: run `kestra-git docs`"
        assert page.read_text() == content, f"docs/{relative} stale: run `kestra-git docs`"


@pytest.mark.parametrize("cls", TASK_CLASSES, ids=lambda c: c.__name__)
def test_task_has_title_fields_and_examples(cls: type[Task]) -> None:
    doc = cls.__doc__ or ""
    assert doc.strip().splitlines()[0].strip(), "title line"
    for name, field in cls.model_fields.items():
        assert field.description, f"{cls.__name__}.{name} has no description"
    examples = docstring_examples(cls)
    assert examples, f"{cls.__name__} has no example flow"
    for example in examples:
        flow = parse_flow(example, f"{cls.__name__} docstring")
        assert cls in _classes(flow.tasks), "the example must use the task (maybe nested)"


def _classes(specs: list[TaskSpec]) -> set[type]:
    found: set[type] = set()
    for spec in specs:
        found.add(spec.cls)
        for children in spec.children.values():
            found |= _classes(children)
    return found


def _commands(group: click.Command, prefix: str = "kestra-git") -> list[str]:
    names = [prefix]
    if isinstance(group, click.Group):
        for name, command in group.commands.items():
            names += _commands(command, f"{prefix} {name}")
    return names


@pytest.mark.parametrize("command", _commands(cli))
def test_every_cli_command_has_help_and_a_docs_entry(command: str) -> None:
    page = (ROOT / "docs" / "cli.md").read_text()
    assert f"## `{command}`" in page


def test_readme_opens_with_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("## ")]
    assert "bash scripts/main-job" in head and "bash scripts/test" in head


def test_readme_names_every_dependency() -> None:
    import tomllib

    readme = (ROOT / "README.md").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["test"]
    section = readme[readme.index("## Dependencies") :]
    for spec in deps:
        name = spec.split(">")[0].split("=")[0].split("[")[0].strip()
        assert f"**{name}**" in section, f"README's Dependencies section does not name {name}"
