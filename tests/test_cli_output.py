"""What ``kestra-git run`` and ``deploy`` print: each Git task's rows as a table, the patch of
each change with ``--diff`` (dry runs included), and deploy's detailed exit codes. Real runs of
the real command against the smart-HTTP Git server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from scenario import FLOWS, KESTRA_GIT, ROOT, TOKEN_SECRET, flow_files, hello, kestra_git_env

from kestra_git_tasks.cli import cli
from kestra_git_tasks.cli._tables import split_kestra_path, task_table

if TYPE_CHECKING:
    from conftest import MakeRemote
    from fakekestra import FakeKestra
    from gitserver import BareRemote


def kestra_git(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KESTRA_GIT, *args],
        capture_output=True,
        text=True,
        env=kestra_git_env(home),
        cwd=ROOT,
        timeout=120,
    )


def run(home: Path, flow: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return kestra_git(home, "run", str(flow), "--secret", TOKEN_SECRET, *args)


@pytest.fixture
def origin(remote: MakeRemote) -> BareRemote:
    return remote(files=FLOWS)


@pytest.fixture
def flows(tmp_path: Path, origin: BareRemote) -> dict[str, Path]:
    return flow_files(tmp_path / "flows", origin.url)


def section(out: str, task_id: str) -> str:
    """The lines ``run`` printed for ``task_id`` (its heading to the next blank line)."""
    start = out.index(f"[{task_id}] ")
    return out[start : out.index("\n\n", start)]


def test_run_prints_each_sync_tasks_rows_as_a_table(tmp_path: Path, flows: dict[str, Path]) -> None:
    result = run(tmp_path / "home", flows["sync"])
    assert result.returncode == 0, result.stderr
    flows_part = section(result.stdout, "flows")
    assert flows_part.splitlines() == [
        "[flows] 2 row(s), 2 changed:",
        "  PATH               STATE  NAMESPACE  REVISION  FLOW",
        "  _flows/hello.yml   ADDED  prod       1         hello",
        "  _flows/report.yml  ADDED  prod       1         report",
    ]
    files_part = section(result.stdout, "files")
    assert files_part.splitlines() == [
        "[files] 1 row(s), 1 changed:",
        "  PATH                   STATE  NAMESPACE  INSTANCE PATH",
        "  _files/scripts/etl.py  ADDED  prod       /scripts/etl.py",
    ]
    # logs stay on stderr, the tables on stdout, no colour when piped
    assert "changed: 2 ADDED" in result.stderr and "PATH" not in result.stderr
    assert "\x1b[" not in result.stdout + result.stderr
    again = run(tmp_path / "home", flows["sync"])
    assert "  _flows/hello.yml   UNCHANGED  prod       1         hello" in again.stdout
    assert "[flows] 2 row(s), 0 changed:" in again.stdout


def test_the_instance_path_of_a_file_row_is_the_one_files_list_shows(
    tmp_path: Path, flows: dict[str, Path]
) -> None:
    home = tmp_path / "home"
    assert run(home, flows["sync"]).returncode == 0
    listed = kestra_git(home, "files", "list", "prod")
    assert listed.stdout.splitlines()[1].split()[:2] == ["prod", "/scripts/etl.py"]
    shown = kestra_git(home, "files", "show", "prod", "/scripts/etl.py")
    assert shown.stdout == "print('extract')\nprint('load')\n"


def test_kestra_paths_split_into_namespace_and_path_even_when_hostile() -> None:
    assert split_kestra_path("/company/team/_files/a/b.txt") == ("company.team", "/a/b.txt")
    assert split_kestra_path("/prod/_files/x/_files/y") == ("prod", "/x/_files/y")
    assert split_kestra_path("no-marker") == ("", "no-marker")
    # control characters in a cell are shown as escapes: a path cannot clear a line or add a row
    rows = [{"gitPath": "a\x1b[2K\nb.txt", "syncState": "ADDED", "kestraPath": "/p/_files/a"}]
    [header, line] = task_table(rows)
    assert line.startswith("a\\x1b[2K\\nb.txt  ADDED") and "\x1b" not in line
    assert header.index("STATE") == line.index("ADDED")


def test_a_hostile_file_name_and_content_cannot_forge_rows_or_drive_the_terminal(
    tmp_path: Path, origin: BareRemote, flows: dict[str, Path]
) -> None:
    evil = "_files/x\n  _files/fake.txt  UNCHANGED  prod  /fake.txt\x1b[1A.txt"
    origin.commit({evil: "clear\x1b[2J\rline\n"})
    result = run(tmp_path / "home", flows["plan"], "--diff")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    table = section(result.stdout, "files").splitlines()
    assert not any(line.startswith("  _files/fake.txt") for line in table)
    [row] = [line for line in table if line.startswith("  _files/x")]
    assert row.startswith("  _files/x\\n  _files/fake.txt  UNCHANGED  prod  /fake.txt\\x1b[1A.txt")
    assert "+clear\\x1b[2J\\rline" in result.stdout


def test_diff_of_a_dry_run_shows_each_change_and_changes_nothing(
    tmp_path: Path, origin: BareRemote, flows: dict[str, Path]
) -> None:
    home = tmp_path / "home"
    assert run(home, flows["sync"]).returncode == 0
    origin.commit(
        {"_flows/hello.yml": hello("Hello again"), "_files/scripts/etl.py": "print('load')\n"},
        delete=["_flows/report.yml"],
    )
    result = run(home, flows["plan"], "--diff")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "  _flows/hello.yml  UPDATED  prod       2         hello" in out
    assert "  -                 DELETED  prod       1         report" in out
    assert (
        "\n".join(
            [
                "diff --git a/_flows/hello.yml b/_flows/hello.yml",
                "--- a/_flows/hello.yml",
                "+++ b/_flows/hello.yml",
                "@@ -3,4 +3,4 @@",
                " tasks:",
                "   - id: greet",
                "     type: io.kestra.plugin.core.log.Log",
                "-    message: Hello from Git",
                "+    message: Hello again",
            ]
        )
        in out
    )
    assert "diff --git a/prod/report b/prod/report\n--- a/prod/report\n+++ /dev/null\n" in out
    assert "-    message: daily report" in out
    assert "--- a/_files/scripts/etl.py\n+++ b/_files/scripts/etl.py\n" in out
    assert "-print('extract')\n print('load')" in out
    # a dry run: the instance still has the old flow
    shown = kestra_git(home, "flows", "show", "prod/hello")
    assert "Hello from Git" in shown.stdout
    # the real run's diff shows the same change, and applies it
    applied = run(home, flows["sync"], "--diff")
    assert "+    message: Hello again" in applied.stdout
    assert "Hello again" in kestra_git(home, "flows", "show", "prod/hello").stdout


def test_diff_of_an_unchanged_sync_says_there_is_no_difference(
    tmp_path: Path, flows: dict[str, Path]
) -> None:
    home = tmp_path / "home"
    assert run(home, flows["sync"]).returncode == 0
    result = run(home, flows["plan"], "--diff")
    assert "[flows] 2 row(s), 0 changed:" in result.stdout
    assert "(no difference)" in section(result.stdout, "flows")
    assert "diff --git" not in result.stdout


def test_push_rows_and_diff(tmp_path: Path, origin: BareRemote, flows: dict[str, Path]) -> None:
    home = tmp_path / "home"
    assert run(home, flows["sync"]).returncode == 0
    result = run(home, flows["push"], "--diff")
    assert result.returncode == 0, result.stderr
    assert section(result.stdout, "push").splitlines()[:4] == [
        "[push] 2 row(s), 2 changed:",
        "  FILE                 ADDITIONS  DELETIONS  CHANGES",
        "  exported/hello.yml   +6         -0         0",
        "  exported/report.yml  +6         -0         0",
    ]
    assert "--- /dev/null\n+++ b/exported/hello.yml\n@@ -0,0 +1,6 @@\n+id: hello\n" in result.stdout
    assert "exported/hello.yml" in origin.files("export")
    # a change pushed again shows as a patch against the branch's file
    run(home, flows["sync"])
    flow = tmp_path / "hello.yml"
    flow.write_text(hello("Changed in the instance"))
    assert kestra_git(home, "flows", "deploy", str(flow)).returncode == 0
    again = run(home, flows["push"], "--diff")
    assert "  exported/hello.yml  +0         -0         " in again.stdout
    assert "-    message: Hello from Git\n+    message: Changed in the instance" in again.stdout


def test_patches_are_written_only_when_asked_and_outputs_keep_their_keys(
    tmp_path: Path, flows: dict[str, Path]
) -> None:
    home = tmp_path / "home"
    result = run(home, flows["plan"], "--json")
    execution = json.loads(result.stdout)
    output = execution["outputs"]["flows"]
    assert sorted(output) == ["commitId", "diffFile", "drifted", "flows"]
    assert sorted(execution["outputs"]["files"]) == ["commitId", "diffFile", "files"]
    assert not Path(output["diffFile"]).with_suffix(".patch").exists()
    # --diff with --json prints JSON only, and writes no patch
    quiet = run(home, flows["plan"], "--json", "--diff")
    assert json.loads(quiet.stdout)["state"] == "SUCCESS"
    with_diff = run(home, flows["plan"], "--diff")
    patches = list((home / "executions").rglob("*.patch"))
    assert sorted(p.name for p in patches) == ["files-files.patch", "flows-flows.patch"]
    assert "diff --git" in with_diff.stdout


def test_a_patch_masks_secrets_and_shows_binary_files_as_one_line(
    tmp_path: Path, origin: BareRemote, flows: dict[str, Path]
) -> None:
    home = tmp_path / "home"
    origin.commit(
        {
            "_files/conf.env": f"TOKEN={TOKEN_SECRET.split('=', 1)[1]}\n",
            "_files/logo.bin": b"\x89PNG\x00\x01\x02",
            "_files/latin1.txt": "caf\xe9\n".encode("latin-1"),
        }
    )
    result = run(home, flows["plan"], "--diff")
    assert result.returncode == 0, result.stderr
    secret = TOKEN_SECRET.split("=", 1)[1]
    assert "+TOKEN=******" in result.stdout and secret not in result.stdout
    for patch in (home / "executions").rglob("*.patch"):
        assert secret not in patch.read_text(encoding="utf-8")
    assert "Binary files /dev/null and b/_files/logo.bin differ" in result.stdout
    assert "Binary files /dev/null and b/_files/latin1.txt differ" in result.stdout


def write_flows(folder: Path, *messages: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, message in enumerate(messages):
        (folder / f"f{index}.yml").write_text(
            f"id: f{index}\nnamespace: ci\ntasks:\n  - id: log\n"
            f"    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
        )
    return folder


def test_deploy_dry_run_detailed_exitcode_is_2_when_pending_0_when_not_1_on_error(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    folder = write_flows(tmp_path / "flows", "one", "two")
    args = ("deploy", str(folder), "--namespace", "ci")
    pending = kestra_git(home, *args, "--dry-run", "--detailed-exitcode")
    assert pending.returncode == 2, pending.stderr
    assert "2 flow(s), 2 would change" in pending.stderr
    assert "  ADDED  ci" in pending.stdout
    # without the flag a dry run with changes still exits 0
    assert kestra_git(home, *args, "--dry-run").returncode == 0
    assert kestra_git(home, *args).returncode == 0
    nothing = kestra_git(home, *args, "--dry-run", "--detailed-exitcode")
    assert nothing.returncode == 0, nothing.stderr
    assert "2 flow(s), 0 would change" in nothing.stderr
    (folder / "f1.yml").write_text("id: f1\nnamespace: ci\ntasks: [{id: x}]\n")
    broken = kestra_git(home, *args, "--dry-run", "--detailed-exitcode")
    assert broken.returncode == 1
    assert broken.stderr.startswith("Error: ") and "f1.yml" in broken.stderr
    as_json = kestra_git(home, *args, "--dry-run", "--detailed-exitcode", "--json")
    assert as_json.returncode == 1


def test_deploy_detailed_exitcode_in_json_mode_still_tells_pending_changes(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    folder = write_flows(tmp_path / "flows", "one")
    result = kestra_git(
        home, "deploy", str(folder), "-n", "ci", "--dry-run", "--detailed-exitcode", "--json"
    )
    assert result.returncode == 2
    assert json.loads(result.stdout)[0]["syncState"] == "ADDED"


def test_diff_against_a_kestra_server_reads_the_old_side_from_the_server(
    tmp_path: Path, origin: BareRemote, flows: dict[str, Path], fake_kestra: FakeKestra
) -> None:
    fake_kestra.add_flow(hello("Edited on the server"))
    fake_kestra.add_file("prod", "/scripts/etl.py", b"print('server')\n")
    server = [
        "--server", fake_kestra.url, "--server-user", fake_kestra.username or "",
        "--server-password", fake_kestra.password or "",
    ]  # fmt: skip
    result = CliRunner().invoke(
        cli,
        ["run", str(flows["plan"]), "--secret", TOKEN_SECRET, "--diff", *server],
        env={"KESTRA_GIT_HOME": str(tmp_path / "home")},
    )
    assert result.exit_code == 0, result.stderr
    assert "-    message: Edited on the server\n+    message: Hello from Git" in result.stdout
    assert "-print('server')\n+print('extract')" in result.stdout
    assert fake_kestra.live_flows()[("prod", "hello")] == hello("Edited on the server")
