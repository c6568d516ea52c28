"""Commands that only read never create the runner's home folder; commands that write do."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kestra_git_tasks.cli import cli

DATA = Path(__file__).parent / "data" / "validate"

READ_ONLY = [
    ["flows", "list"],
    ["flows", "list", "--json"],
    ["flows", "show", "company.team/good_hello"],
    ["flows", "delete", "company.team/good_hello"],
    ["flows", "revisions", "company.team/good_hello"],
    ["flows", "restore", "company.team/good_hello", "--revision", "1"],
    ["files", "revisions", "prod", "/a.txt"],
    ["files", "show", "prod", "/a.txt", "--revision", "1"],
    ["files", "list", "prod"],
    ["files", "show", "prod", "/a.txt"],
    ["executions", "list"],
    ["executions", "show", "4xJ2"],
]


def invoke(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_reading_a_missing_home_fails_in_one_line_and_creates_nothing(
    tmp_path: Path, args: list[str]
) -> None:
    home = tmp_path / "no" / "such" / "home"
    code, out, err = invoke(args, {"KESTRA_GIT_HOME": str(home)})
    assert code == 1 and out == ""
    assert err == (
        f"Error: no instance at {home}: point --home or KESTRA_GIT_HOME at the runner's home "
        "folder (`kestra-git run` and `kestra-git deploy` create it)\n"
    )
    assert not (tmp_path / "no").exists()


def test_home_option_names_the_missing_folder_too(tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"
    code, _, err = invoke(["flows", "list", "--home", str(home)], {})
    assert code == 1 and f"no instance at {home}:" in err
    assert not home.exists()


def test_a_home_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder\n")
    code, _, err = invoke(["executions", "list"], {"KESTRA_GIT_HOME": str(home)})
    assert code == 2 and "Invalid value for '--home'" in err and "is a file" in err
    assert home.read_text() == "not a folder\n"


def test_an_existing_empty_home_reads_as_an_empty_instance(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    assert invoke(["flows", "list"], {"KESTRA_GIT_HOME": str(home)})[:2] == (0, "No flows.\n")


def test_commands_that_write_create_the_home(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    env = {"KESTRA_GIT_HOME": str(home)}
    code, out, _ = invoke(["flows", "deploy", str(DATA / "good_hello.yml")], env)
    assert (code, out) == (0, "company.team/good_hello: created, revision 1\n")
    assert invoke(["flows", "list", "--json"], env)[0] == 0


def test_a_missing_secrets_file_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "secrets.yml"
    code, _, err = invoke(
        ["run", "flows/hello.yml", "--secrets-file", str(missing)],
        {"KESTRA_GIT_HOME": str(tmp_path / "home")},
    )
    assert code == 2
    assert "Invalid value for '--secrets-file'" in err and "does not exist" in err
    assert not (tmp_path / "home").exists()


def test_a_secrets_file_that_is_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = invoke(
        ["run", "flows/hello.yml", "--secrets-file", str(tmp_path)],
        {"KESTRA_GIT_HOME": str(tmp_path / "home")},
    )
    assert code == 2 and "is a directory" in err
