"""`kestra-git validate` for CI: `-q` (problems only), `--format github` (workflow annotations
with file and line), `--format json`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kestra_git_tasks.cli import cli

LOG = "io.kestra.plugin.core.log.Log"
GOOD = f"id: a\nnamespace: prod\ntasks:\n  - id: log\n    type: {LOG}\n    message: hi\n"
MISSPELT = f"id: b\nnamespace: prod\ntasks:\n  - id: log\n    type: {LOG}\n    mesage: hi\n"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["validate", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "a.yml").write_text(GOOD)
    (tmp_path / "b.yml").write_text(MISSPELT)
    return tmp_path


def test_quiet_prints_only_the_problems(folder: Path) -> None:
    code, out, err = invoke(str(folder), "-q")
    assert code == 1 and out == ""
    assert (
        f"{folder / 'b.yml'}:6: task 'log' ({LOG}): unknown property 'mesage'; "
        "did you mean 'message'?"
    ) in err.splitlines()
    assert "a.yml" not in err and "ok" not in err
    code, out, err = invoke(str(folder / "a.yml"), "-q")
    assert (code, out, err) == (0, "", "")


def test_github_format_prints_annotations_with_file_and_line(folder: Path) -> None:
    code, out, _ = invoke(str(folder), "--format", "github")
    assert code == 1
    lines = out.splitlines()
    assert (
        f"::error file={folder / 'b.yml'},line=6::task 'log' ({LOG}): unknown property "
        "'mesage'; did you mean 'message'?"
    ) in lines
    assert f"::error file={folder / 'b.yml'},line=4::" in out
    assert all(line.startswith("::error file=") for line in lines)


def test_github_annotations_escape_what_would_end_the_command(tmp_path: Path) -> None:
    hostile = tmp_path / "x,line=1::y%.yml"
    hostile.write_text(MISSPELT.replace("mesage: hi", 'mesage: hi\n    "a\\nb::c": 1'))
    code, out, _ = invoke(str(hostile), "--format", "github")
    assert code == 1
    lines = out.splitlines()
    assert lines and all(line.startswith("::error file=") for line in lines)
    assert f"file={str(tmp_path).replace(':', '%3A')}/x%2Cline=1%3A%3Ay%25.yml,line=" in lines[0]
    assert all(
        re.fullmatch(r"error file=[^:,\n]*(,line=\d+)?", line.split("::")[1]) for line in lines
    )
    assert "a%0Ab::c" in out  # a newline in a message would end the command: escaped


def test_json_format_is_one_report(folder: Path) -> None:
    code, out, _ = invoke(str(folder), "--format", "json")
    assert code == 1
    report = {Path(item["file"]).name: item for item in json.loads(out)}
    assert report["a.yml"]["valid"] and report["a.yml"]["flow"] == "prod/a"
    assert {p["line"] for p in report["b.yml"]["problems"]} == {4, 6}
    assert json.loads(invoke(str(folder), "--json")[1]) == json.loads(out)


def test_an_unknown_format_is_a_usage_error(folder: Path) -> None:
    code, _, err = invoke(str(folder), "--format", "junit")
    assert code == 2 and "'junit' is not one of" in err
