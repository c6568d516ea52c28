"""Progress of long work: the library's events (from libgit2's transfer callbacks, the plan and
the apply) and what ``kestra-git run`` draws with them, on a terminal only.

The terminal cases run the real command under a pseudo-terminal (``pty``); the piped ones with
plain pipes; both against the smart-HTTP Git server.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from scenario import FLOWS, KESTRA_GIT, ROOT, TOKEN_SECRET, flow_files, kestra_git_env
from terminal import run_in_pty, screen_text

from kestra_git_tasks.context import RunContext
from kestra_git_tasks.git import Credentials, RepoCache, clone_repository
from kestra_git_tasks.git.push import Identity, Pusher
from kestra_git_tasks.instance.local import LocalInstance
from kestra_git_tasks.progress import ProgressEvent
from kestra_git_tasks.tasks.git.sync_flows import SyncFlows

if TYPE_CHECKING:
    from conftest import MakeRemote
    from gitserver import BareRemote

CREDS = Credentials("git_user", TOKEN_SECRET.split("=", 1)[1])
SGR = "\x1b["
#: An SGR sequence that sets a foreground or background colour.
COLOUR = re.compile(r"\x1b\[(?:[0-9]+;)*(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9]+)*m")


def big_repository(remote: MakeRemote, count: int = 60) -> BareRemote:
    files: dict[str, bytes | str] = dict(FLOWS)
    for index in range(count):
        files[f"_files/data/{index:03}.txt"] = f"line {index}\n" * 200
    return remote(files=files)


def test_a_fetch_reports_objects_and_bytes_up_to_the_total(
    tmp_path: Path, remote: MakeRemote
) -> None:
    origin = big_repository(remote)
    events: list[ProgressEvent] = []
    RepoCache(tmp_path / "cache").fetch_branch(origin.url, "main", CREDS, progress=events.append)
    assert events and {e.phase for e in events} == {"fetch"}
    last = events[-1]
    assert last.total > 60 and last.done == last.total
    assert last.nbytes is not None and last.nbytes > 1000
    assert [e.done for e in events] == sorted(e.done for e in events)


def test_without_a_callback_nothing_is_reported_and_the_fetch_is_the_same(
    tmp_path: Path, remote: MakeRemote
) -> None:
    origin = big_repository(remote, 3)
    sha = RepoCache(tmp_path / "cache").fetch_branch(origin.url, "main", CREDS)
    assert sha == origin.head()


def test_a_clone_and_a_push_report_their_transfers(tmp_path: Path, remote: MakeRemote) -> None:
    origin = big_repository(remote, 10)
    fetched: list[ProgressEvent] = []
    clone_repository(origin.url, tmp_path / "work", credentials=CREDS, progress=fetched.append)
    assert fetched and fetched[-1].phase == "fetch" and fetched[-1].done == fetched[-1].total
    pushed: list[ProgressEvent] = []
    Pusher(RepoCache(tmp_path / "cache")).push_changes(
        origin.url,
        "main",
        lambda view: {"new/file.txt": b"pushed\n" * 100},
        message="add a file",
        author=Identity("t", "t@example.com"),
        committer=Identity("t", "t@example.com"),
        credentials=CREDS,
        progress=pushed.append,
    )
    assert {e.phase for e in pushed} == {"fetch", "push"}
    last = [e for e in pushed if e.phase == "push"][-1]
    assert last.total > 0 and last.done == last.total and last.nbytes
    assert origin.files()["new/file.txt"] == b"pushed\n" * 100


def test_a_sync_reports_fetch_plan_and_apply_tagged_with_its_task(
    tmp_path: Path, remote: MakeRemote
) -> None:
    origin = remote(files=FLOWS)
    events: list[ProgressEvent] = []
    with (
        LocalInstance(tmp_path / "home") as instance,
        RunContext.create(instance=instance, home=tmp_path / "home") as ctx,
    ):
        ctx.progress, ctx.task_id = events.append, "sync"
        task = SyncFlows(
            id="sync", url=origin.url, username="git_user", password=CREDS.password,
            target_namespace="prod",
        )  # fmt: skip
        task.run(ctx)
    phases = [e.phase for e in events]
    assert phases.index("fetch") < phases.index("plan") < phases.index("apply")
    assert {e.task_id for e in events} == {"sync"}
    plan = next(e for e in events if e.phase == "plan")
    assert plan.total == 2  # the two flow files under _flows
    applied = [e for e in events if e.phase == "apply"]
    assert applied[-1].done == applied[-1].total == 2


@pytest.fixture
def scenario(tmp_path: Path, remote: MakeRemote) -> dict[str, Path]:
    origin = big_repository(remote)
    return flow_files(tmp_path / "flows", origin.url)


def run_args(flow: Path, *extra: str) -> list[str]:
    return [*KESTRA_GIT, "run", str(flow), "--secret", TOKEN_SECRET, *extra]


def test_progress_shows_on_a_terminal(tmp_path: Path, scenario: dict[str, Path]) -> None:
    home = tmp_path / "home"
    result = run_in_pty(run_args(scenario["sync"]), env=kestra_git_env(home), cwd=ROOT)
    assert result.returncode == 0, result.text
    raw = result.text
    assert "[flows] fetching" in raw and "[flows] planning 2 files" in raw
    assert "[files] planning 61 files" in raw and "[files] applying" in raw
    screen = screen_text(raw)
    # the bars are gone when the command ends; the finished transfer stays as one line
    assert "[flows] fetched " in screen and " objects, " in screen and "/s)" in screen
    assert "planning" not in screen
    # logs, then the tables, then the execution's line
    assert screen.index("changed: 2 ADDED") < screen.index("[flows] 2 row(s), 2 changed:")
    assert screen.rstrip().splitlines()[-1].endswith(": SUCCESS")
    # states are coloured on a terminal
    assert "\x1b[32mADDED\x1b[0m" in raw


def test_no_progress_and_no_colour_when_piped(tmp_path: Path, scenario: dict[str, Path]) -> None:
    result = subprocess.run(
        run_args(scenario["sync"]),
        capture_output=True,
        text=True,
        env=kestra_git_env(tmp_path / "home"),
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    both = result.stdout + result.stderr
    assert "fetching" not in both and "planning" not in both and "fetched" not in both
    assert SGR not in both


def test_no_progress_with_json_even_on_a_terminal(
    tmp_path: Path, scenario: dict[str, Path]
) -> None:
    result = run_in_pty(
        run_args(scenario["sync"], "--json"), env=kestra_git_env(tmp_path / "home"), cwd=ROOT
    )
    assert result.returncode == 0, result.text
    assert "fetching" not in result.text and "planning" not in result.text
    assert SGR not in result.text and '"state": "SUCCESS"' in result.text


@pytest.mark.parametrize("how", ["NO_COLOR", "--no-color"])
def test_no_colour_with_no_color_on_a_terminal(
    tmp_path: Path, scenario: dict[str, Path], how: str
) -> None:
    home = tmp_path / "home"
    extra = {"NO_COLOR": "1"} if how == "NO_COLOR" else {}
    args = run_args(scenario["sync"], *([how] if how.startswith("--") else []))
    result = run_in_pty(args, env=kestra_git_env(home, **extra), cwd=ROOT)
    assert result.returncode == 0, result.text
    screen = screen_text(result.text)
    assert "  _flows/hello.yml   ADDED  prod       1         hello" in screen
    # no colour anywhere (the progress display still redraws its line; dim text is no colour)
    assert COLOUR.search(result.text) is None
    assert "[flows] fetched " in screen


def test_an_empty_no_color_keeps_the_colours(tmp_path: Path, scenario: dict[str, Path]) -> None:
    env = kestra_git_env(tmp_path / "home", NO_COLOR="")
    result = run_in_pty(run_args(scenario["sync"]), env=env, cwd=ROOT)
    assert "\x1b[32mADDED\x1b[0m" in result.text


class Stop(Exception):
    pass


def test_a_callback_that_raises_stops_the_fetch_and_leaves_the_cache_usable(
    tmp_path: Path, remote: MakeRemote
) -> None:
    origin = big_repository(remote, 20)
    cache = RepoCache(tmp_path / "cache")

    def refuse(event: ProgressEvent) -> None:
        raise Stop(event.phase)

    with pytest.raises(Stop):
        cache.fetch_branch(origin.url, "main", CREDS, progress=refuse)
    assert cache.fetch_branch(origin.url, "main", CREDS) == origin.head()
    assert cache.list_tree(origin.url, origin.head() or "", "_flows") is not None


def test_importing_the_cli_does_not_load_rich() -> None:
    code = "import sys, kestra_git_tasks.cli; print('rich' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_progress_when_only_stderr_is_a_terminal(
    tmp_path: Path, scenario: dict[str, Path]
) -> None:
    """``kestra-git run ... > plan.txt`` on a terminal: stdout is a file, no bars on stderr."""
    import os
    import pty

    master, slave = pty.openpty()
    with (tmp_path / "out.txt").open("w") as out:
        process = subprocess.run(
            run_args(scenario["sync"]),
            stdin=slave,
            stdout=out,
            stderr=slave,
            env=kestra_git_env(tmp_path / "home", TERM="xterm"),
            cwd=ROOT,
            timeout=120,
        )
    os.close(slave)
    terminal = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        terminal += chunk
    os.close(master)
    assert process.returncode == 0
    assert b"changed: 2 ADDED" in terminal and b"fetching" not in terminal
    assert "  _flows/hello.yml   ADDED" in (tmp_path / "out.txt").read_text()
    assert SGR not in (tmp_path / "out.txt").read_text()
