"""Kestra's own @Example flows (kestra-io/plugin-git, copied verbatim into
tests/data/upstream_examples/) of the task types added for two-way GitOps pass `kestra-git
validate`, except those using core tasks this package does not run yet (listed here, checked
to fail for exactly that reason)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kestra_git_tasks.cli import cli

EXAMPLES = Path(__file__).parent / "data" / "upstream_examples"
#: example -> the core task type it needs (Kestra's Script tasks are not run here yet).
WAITING = {
    "PushExecutionFiles_0.yml": "io.kestra.plugin.scripts.python.Script",
    "PushExecutionFiles_1.yml": "io.kestra.plugin.scripts.shell.Script",
}


def validate(home: Path, path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", str(path)], env={"KESTRA_GIT_HOME": str(home)})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "example", sorted(p.name for p in EXAMPLES.glob("*.yml") if p.name not in WAITING)
)
def test_upstream_example_validates(example: str, tmp_path: Path) -> None:
    code, output = validate(tmp_path, EXAMPLES / example)
    assert code == 0, output


@pytest.mark.parametrize("example", sorted(WAITING))
def test_upstream_example_waits_only_for_a_core_task(example: str, tmp_path: Path) -> None:
    code, output = validate(tmp_path, EXAMPLES / example)
    assert code != 0
    assert f"unknown task type '{WAITING[example]}'" in output
    assert output.count("unknown task type") == 1
