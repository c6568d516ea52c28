"""``kestra-git run`` lists the changed rows of a Git task and counts many UNCHANGED rows on one
line (``--all-rows`` lists them; ``--json`` keeps every row). Real runs of the real command
against the smart-HTTP Git server, and the rule itself at its boundary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from scenario import KESTRA_GIT, ROOT, TOKEN_SECRET, flow_files, hello, kestra_git_env

from kestra_git_tasks.cli._tables import UNCHANGED_LISTED, listed_rows

if TYPE_CHECKING:
    from conftest import MakeRemote

MANY = UNCHANGED_LISTED + 5


def flows_repo(count: int) -> dict[str, bytes | str]:
    files: dict[str, bytes | str] = {"_files/a.txt": "a"}
    for n in range(count):
        files[f"_flows/f{n:02}.yml"] = hello().replace("id: hello", f"id: f{n:02}")
    return files


def run(home: Path, flow: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KESTRA_GIT, "run", str(flow), "--secret", TOKEN_SECRET, *args],
        capture_output=True,
        text=True,
        env=kestra_git_env(home),
        cwd=ROOT,
        timeout=120,
    )


def section(out: str, task_id: str) -> list[str]:
    start = out.index(f"[{task_id}] ")
    return out[start : out.index("\n\n", start)].splitlines()


def test_many_unchanged_rows_are_counted_on_one_line(remote: MakeRemote, tmp_path: Path) -> None:
    origin = remote(files=flows_repo(MANY))
    flows = flow_files(tmp_path / "flows", origin.url)
    home = tmp_path / "home"
    first = run(home, flows["sync"])
    assert first.returncode == 0, first.stderr
    assert len(section(first.stdout, "flows")) == 2 + MANY  # every ADDED row is listed
    again = run(home, flows["sync"])
    assert section(again.stdout, "flows") == [
        f"[flows] {MANY} row(s), 0 changed:",
        f"  ({MANY} UNCHANGED row(s) not listed; --all-rows lists them)",
    ]
    origin.commit({"_flows/f03.yml": hello("changed").replace("id: hello", "id: f03")}, "one")
    one = run(home, flows["sync"])
    assert section(one.stdout, "flows") == [
        f"[flows] {MANY} row(s), 1 changed:",
        "  PATH            STATE    NAMESPACE  REVISION  FLOW",
        "  _flows/f03.yml  UPDATED  prod       2         f03",
        f"  ({MANY - 1} UNCHANGED row(s) not listed; --all-rows lists them)",
    ]


def test_all_rows_and_json_list_every_row(remote: MakeRemote, tmp_path: Path) -> None:
    origin = remote(files=flows_repo(MANY))
    flows = flow_files(tmp_path / "flows", origin.url)
    home = tmp_path / "home"
    assert run(home, flows["sync"]).returncode == 0
    listed = run(home, flows["sync"], "--all-rows")
    lines = section(listed.stdout, "flows")
    assert len(lines) == 2 + MANY and "not listed" not in listed.stdout
    assert lines[2].split() == ["_flows/f00.yml", "UNCHANGED", "prod", "1", "f00"]
    as_json = run(home, flows["sync"], "--json")
    rows = json.loads(as_json.stdout)["outputs"]["flows"]["flows"]
    assert [row["flowId"] for row in rows] == [f"f{n:02}" for n in range(MANY)]


def test_the_unchanged_rows_are_listed_up_to_the_threshold() -> None:
    def rows(unchanged: int, added: int = 1) -> list[dict[str, str]]:
        states = ["ADDED"] * added + ["UNCHANGED"] * unchanged
        return [{"gitPath": f"p{n}", "syncState": s} for n, s in enumerate(states)]

    assert listed_rows(rows(UNCHANGED_LISTED)) == (rows(UNCHANGED_LISTED), 0)
    assert listed_rows(rows(UNCHANGED_LISTED + 1)) == (rows(0), UNCHANGED_LISTED + 1)
    assert listed_rows(rows(UNCHANGED_LISTED + 1), all_rows=True)[1] == 0
    push = [{"file": "a", "additions": 1, "deletions": 0, "changes": 1}] * 50
    assert listed_rows(push) == (push, 0)  # rows without a state are never left out
