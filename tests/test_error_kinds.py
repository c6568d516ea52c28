"""Every expected failure has a kind: no bare KestraGitError, and pydantic errors from building
a task in Python come out as ConfigError with the same words as the YAML check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kestra_git_tasks
from kestra_git_tasks import RunContext, SyncFlows
from kestra_git_tasks.errors import ConfigError, SecretNotFoundError
from kestra_git_tasks.flow import parse_flow
from kestra_git_tasks.tasks.core.log import Log

PACKAGE = Path(kestra_git_tasks.__file__).parent
BARE_RAISE = re.compile(r"raise\s+KestraGitError\s*\(")


def test_no_module_of_the_package_raises_the_bare_root_error() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if BARE_RAISE.search(line)
    ]
    assert offenders == []


def test_misspelt_property_in_python_is_a_config_error_with_the_yaml_hint() -> None:
    with pytest.raises(ConfigError) as from_python:
        SyncFlows(id="s", url="https://example.com/r.git", targetNamspace="x")  # type: ignore[call-arg, unused-ignore]
    source = (
        "id: f\nnamespace: n\ntasks:\n  - id: s\n    type: io.kestra.plugin.git.SyncFlows\n"
        "    url: https://example.com/r.git\n    targetNamespace: prod\n    targetNamspace: x\n"
    )
    with pytest.raises(Exception) as from_yaml:
        parse_flow(source)
    hint = "unknown property 'targetNamspace'; did you mean 'targetNamespace'?"
    assert hint in str(from_python.value)
    assert hint in str(from_yaml.value)
    assert "task 's' (io.kestra.plugin.git.SyncFlows)" in str(from_python.value)


def test_wrong_type_in_python_is_a_config_error_naming_the_property() -> None:
    with pytest.raises(ConfigError, match=r"property 'disabled': Input should be a valid boolean"):
        Log(id="l", message="m", disabled="maybe")  # type: ignore[arg-type, unused-ignore]


def test_missing_property_in_python_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"missing required property 'message'"):
        Log(id="l")  # type: ignore[call-arg, unused-ignore]


def test_child_tasks_outside_a_flow_run_are_a_config_error() -> None:
    ctx = RunContext.create(home="/nonexistent-home")
    with pytest.raises(ConfigError, match="only run inside a flow run"):
        ctx.run_children("tasks")


def test_task_needing_an_instance_without_one_is_a_config_error() -> None:
    ctx = RunContext.create(home="/nonexistent-home")
    with pytest.raises(ConfigError, match="needs an instance"):
        ctx.require_instance()


def test_secret_sub_key_errors_have_a_kind() -> None:
    ctx = RunContext.create(home="/nonexistent-home", secrets={"J": '{"a": "1"}', "T": "text"})
    with pytest.raises(SecretNotFoundError, match="Cannot find secret sub-key 'b'"):
        ctx.render("{{ secret('J', subkey='b') }}")
    with pytest.raises(ConfigError, match="Ensure the secret contains valid JSON"):
        ctx.render("{{ secret('T', subkey='a') }}")
