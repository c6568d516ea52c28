"""`kestra-git validate DIR` reads a folder as `kestra-git deploy` does: one walker, one ignore."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kestra_git_tasks import LocalInstance
from kestra_git_tasks.cli import cli

LOG = "io.kestra.plugin.core.log.Log"
GOOD = f"id: a\nnamespace: prod\ntasks:\n  - id: log\n    type: {LOG}\n    message: hi\n"
WORKFLOW = "name: ci\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n"


def invoke(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"KESTRA_GIT_HOME": str(home)})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository root: a flow, an ignored draft, a GitHub workflow, an editor folder."""
    root = tmp_path / "repo"
    (root / "drafts").mkdir(parents=True)
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / "team" / ".idea").mkdir(parents=True)
    (root / "a.yml").write_text(GOOD)
    (root / ".kestraignore").write_text("drafts/\nwip_*.yml\n")
    (root / "drafts" / "draft.yml").write_text("id: draft\nnamespace: prod\ntasks: []\n")
    (root / "wip_b.yml").write_text("not: [a flow\n")
    (root / ".github" / "workflows" / "x.yml").write_text(WORKFLOW)
    (root / "team" / ".idea" / "misc.yaml").write_text("editor: settings\n")
    return root


def test_ignored_drafts_and_dot_folders_are_not_validated(tmp_path: Path, repo: Path) -> None:
    code, out, err = invoke(tmp_path / "home", "validate", str(repo), "--json")
    assert code == 0, err
    assert [entry["file"] for entry in json.loads(out)] == [str(repo / "a.yml")]


def test_a_bad_file_that_is_not_ignored_still_fails(tmp_path: Path, repo: Path) -> None:
    (repo / "team" / "broken.yml").write_text("id: broken\nnamespace: prod\ntasks: []\n")
    code, out, err = invoke(tmp_path / "home", "validate", str(repo))
    assert code == 1
    assert f"{repo / 'team' / 'broken.yml'}:" in err and "1 valid, 1 invalid" in err
    assert "draft" not in err + out and ".github" not in err + out


def test_a_file_named_explicitly_is_validated_even_if_ignored(tmp_path: Path, repo: Path) -> None:
    code, _, err = invoke(tmp_path / "home", "validate", str(repo / "drafts" / "draft.yml"))
    assert code == 1 and "draft.yml" in err


def test_validate_and_deploy_see_the_same_flows(tmp_path: Path, repo: Path) -> None:
    home = tmp_path / "home"
    code, out, _ = invoke(home, "validate", str(repo), "--json")
    validated = {Path(entry["file"]).relative_to(repo).as_posix() for entry in json.loads(out)}
    code, out, err = invoke(
        home, "deploy", str(repo), "-n", "prod", "--include-child-namespaces", "--json"
    )
    assert code == 0, err
    deployed = {row["gitPath"].removeprefix(repo.as_posix() + "/") for row in json.loads(out)}
    assert deployed == validated == {"a.yml"}
    with LocalInstance(home) as instance:
        assert [r.id for r in instance.list_flows("prod", include_children=True)] == ["a"]


def test_a_kestraignore_that_ignores_everything_leaves_nothing_to_validate(
    tmp_path: Path, repo: Path
) -> None:
    (repo / ".kestraignore").write_text("*\n")
    code, out, _ = invoke(tmp_path / "home", "validate", str(repo))
    assert (code, out) == (0, "0 valid, 0 invalid\n")
