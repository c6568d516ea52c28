"""A terminal session, recorded: what a user sees running a sync, a dry run with ``--diff`` after
a change in Git, and a push, on a real pseudo-terminal against the smart-HTTP Git server.

The transcript is written to ``tests/artifacts/`` (gitignored): ``session.raw`` (every byte
the terminal received, escape sequences and progress redraws included), ``session.txt`` (the
screen once each command ended, colours dropped) and ``session.md`` (the same as Markdown, the
form committed as ``docs/session.md``). The test also checks the transcript says what a user
needs to see.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import TYPE_CHECKING

from scenario import FLOWS, KESTRA_GIT, TOKEN_SECRET, flow_files, hello, kestra_git_env
from terminal import run_in_pty, screen_text, strip_ansi

if TYPE_CHECKING:
    from conftest import MakeRemote

ARTIFACTS = Path(__file__).parent / "artifacts"
DOC = Path(__file__).resolve().parent.parent / "docs" / "session.md"
STEPS = [
    ("kestra-git run flows/sync.yml", ["run", "flows/sync.yml"]),
    ("kestra-git run flows/plan.yml --diff", ["run", "flows/plan.yml", "--diff"]),
    ("kestra-git run flows/push.yml --diff", ["run", "flows/push.yml", "--diff"]),
]
_VARYING = [
    (re.compile(r"\b[0-9a-f]{22}\b"), "<execution id>"),
    (re.compile(r"\b[0-9a-f]{12}\b"), "<commit>"),
    (re.compile(r"\b\d\d:\d\d:\d\d\b"), "12:00:00"),
    (re.compile(r"127\.0\.0\.1:\d+"), "git.example.com"),
    (re.compile(r"in \d+\.\d s \([^)]*\)"), "in 0.1 s (… kB/s)"),
]


def normalise(text: str) -> str:
    """The transcript without what changes from one recording to the next."""
    for pattern, replacement in _VARYING:
        text = pattern.sub(replacement, text)
    return text


def as_markdown(screens: list[tuple[str, str]]) -> str:
    parts = [
        "# What you see: a recorded terminal session\n\n"
        "Recorded by `tests/test_cli_output_session.py` on a real pseudo-terminal (100 columns) "
        "against a local Git server: a first sync, a change in Git seen with a dry run and "
        "`--diff`, then a push. Progress bars are drawn while the work runs and erased when it "
        "ends; a finished transfer leaves one line. Colours (states, diff lines) are dropped "
        "here; execution ids, commits and times are replaced by placeholders.\n"
    ]
    for command, screen in screens:
        parts.append(f"\n```console\n$ {command}\n{screen.rstrip()}\n```\n")
    return "".join(parts)


def test_record_a_terminal_session_of_sync_dry_run_diff_and_push(
    tmp_path: Path, remote: MakeRemote
) -> None:
    origin = remote(files=FLOWS)
    flow_files(tmp_path / "flows", origin.url)
    token = TOKEN_SECRET.split("=", 1)[1]
    env = kestra_git_env(
        tmp_path / "home", SECRET_GIT_TOKEN=base64.b64encode(token.encode()).decode()
    )
    raw = bytearray()
    screens: list[tuple[str, str]] = []
    for number, (command, args) in enumerate(STEPS):
        if number == 1:  # between the sync and the dry run, Git moves on
            origin.commit(
                {"_flows/hello.yml": hello("Hello again"), "_files/scripts/etl.py": "print(1)\n"},
                "Change hello, rewrite etl.py, drop report",
                delete=["_flows/report.yml"],
            )
        result = run_in_pty([*KESTRA_GIT, *args], env=env, cwd=tmp_path)
        assert result.returncode == 0, strip_ansi(result.text)
        raw += f"$ {command}\r\n".encode() + result.raw
        screens.append((command, normalise(screen_text(result.text))))

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "session.raw").write_bytes(bytes(raw))
    text = "".join(f"$ {command}\n{screen}" for command, screen in screens)
    (ARTIFACTS / "session.txt").write_text(text, encoding="utf-8")
    (ARTIFACTS / "session.md").write_text(as_markdown(screens), encoding="utf-8")

    # what a user must be able to see
    sync, plan, push = (screen for _, screen in screens)
    assert "[flows] 2 row(s), 2 changed:" in sync and "  _flows/hello.yml   ADDED" in sync
    assert "[files] 1 row(s), 1 changed:" in sync and "/scripts/etl.py" in sync
    assert "[flows] fetched " in sync
    assert "  _flows/hello.yml  UPDATED" in plan and "DELETED  prod       1         report" in plan
    assert "-    message: Hello from Git\n+    message: Hello again" in plan
    assert "  exported/hello.yml   +6" in push and "+id: hello" in push
    assert token not in text and token not in bytes(raw).decode("utf-8", "replace")
    # the raw bytes hold the progress and the colours the screen text drops
    raw_text = bytes(raw).decode("utf-8", "replace")
    assert "[flows] planning 2 files" in raw_text and "\x1b[32mADDED" in raw_text


def test_the_committed_session_shows_the_recorded_commands() -> None:
    text = DOC.read_text(encoding="utf-8")
    for command, _ in STEPS:
        assert f"$ {command}\n" in text
    assert "UPDATED" in text and "+    message: Hello again" in text
