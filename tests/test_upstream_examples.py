"""Kestra's own @Example flows (kestra-io/plugin-git, copied verbatim into
tests/data/upstream_examples/) of the task types added for two-way GitOps pass `kestra-git
validate`: every one of them, now that Kestra's Script and If types are known (the catalog) and
`pluginDefaults` are applied."""

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
