"""Kestra's own @Example flows (all 25 of kestra-io/plugin-git at 31ef79c, copied verbatim into
tests/data/upstream_examples/ as `<Task>_<n>.yml`) pass `kestra-git validate`: Kestra's Script,
If and Loop types are known (the catalog) and `pluginDefaults` are applied."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kestra_git_tasks.cli import cli

EXAMPLES = Path(__file__).parent / "data" / "upstream_examples"


def validate(home: Path, path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", str(path)], env={"KESTRA_GIT_HOME": str(home)})
    return result.exit_code, result.output


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yml")))
def test_upstream_example_validates(example: str, tmp_path: Path) -> None:
    code, output = validate(tmp_path, EXAMPLES / example)
    assert code == 0, output


def test_every_upstream_example_is_here() -> None:
    """plugin-git declares 25 @Example flows (5 Clone, 2 each of NamespaceSync, Push,
    PushExecutionFiles, PushFlows, PushNamespaceFiles, SyncFlows, SyncNamespaceFiles,
    TenantSync, 1 each of PushDashboards, Sync, SyncDashboards, SyncFlow)."""
    names = sorted(p.stem for p in EXAMPLES.glob("*.yml"))
    assert len(names) == 25
    per_task: dict[str, int] = {}
    for name in names:
        task = name.rsplit("_", 1)[0]
        per_task[task] = per_task.get(task, 0) + 1
    assert per_task["Clone"] == 5 and per_task["SyncFlow"] == 1 and per_task["TenantSync"] == 2
