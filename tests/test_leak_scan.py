"""No secret leaks, by any credential path, into anything a run leaves behind.

Each case runs the real ``kestra-git run`` in a separate process against the real git HTTP
server, with TMPDIR pointed at a test folder, then scans for the secret's bytes and its base64
(at the three possible alignments): stdout, stderr, ``--json`` output, every file of the home
folder (instance.db and its WAL, executions/, repos/ cache, sync-state/), copies of clones'
``.git/config``, and the TMPDIR folder. The flow files and the secrets file live in a folder that
is not scanned: they hold the secrets on purpose.

Also here: the temporary folder of a Clone outside a WorkingDirectory is removed when the
execution ends, whether the Clone succeeded or failed.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME

from kestra_git_tasks import run_flow

if TYPE_CHECKING:
    from conftest import MakeRemote
    from gitserver import BareRemote

ROOT = Path(__file__).resolve().parent.parent
SHELL = "io.kestra.plugin.scripts.shell.Commands"
FLOW_FILE = (
    "id: hello\nnamespace: company.team\ntasks:\n"
    "  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
)
QUERY_TOKEN = "qu3ry-t0ken-in-the-url"
INPUT_SECRET = "inpu7-secret-value"
PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACDwq1lea5fhmYcTInGSLCEEPLnz8Ob3bYTVXzQ0ia4PTwAAAJg2q9U9NqvV\n"
    "PQ==\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def encodings(secret: str) -> list[bytes]:
    """``secret`` and the base64 of it at each of the three alignments it can be encoded at."""
    raw = secret.encode()
    found = [raw]
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        core = encoded[4 if offset else 0 :].rstrip(b"=")
        found.append(core[: len(core) - len(core) % 4] or core)
    return found


@dataclass
class Scan:
    """A run's outputs and the folders it may have written to."""

    stdout: str
    stderr: str
    folders: list[Path] = field(default_factory=list)

    def leaks(self, secret: str) -> list[str]:
        """Where any encoding of ``secret`` shows up."""
        found = []
        for needle in encodings(secret):
            for name, text in (("stdout", self.stdout), ("stderr", self.stderr)):
                if needle in text.encode():
                    found.append(f"{name}: {needle!r}")
            for folder in self.folders:
                for path in sorted([folder, *folder.rglob("*")]):
                    if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                        found.append(f"{path}: {needle!r}")
        return found


@dataclass
class Runner:
    """Runs ``kestra-git run --json`` on flows written to a folder that is not scanned."""

    base: Path
    git_url: str

    def __post_init__(self) -> None:
        self.private = self.base / "private"  # flows and secrets file: not scanned
        self.home = self.base / "home"
        self.tmp = self.base / "tmp"
        self.keep = self.base / "keep"  # copies of clones' .git/config
        for folder in (self.private, self.tmp, self.keep):
            folder.mkdir()
        (self.private / "secrets.yml").write_text(
            "SSH_KEY: |\n" + "".join(f"  {line}\n" for line in PEM.splitlines())
        )

    def run(self, flow: str, *args: str, env: dict[str, str] | None = None) -> Scan:
        path = self.private / "flow.yml"
        path.write_text(flow)
        result = subprocess.run(
            [sys.executable, "-m", "kestra_git_tasks", "run", str(path), "--json", "-v", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            env={
                **os.environ,
                **(env or {}),
                "KESTRA_GIT_HOME": str(self.home),
                "TMPDIR": str(self.tmp),
                "KEEP": str(self.keep),
            },
        )
        assert "Traceback" not in result.stderr, result.stderr
        assert '"state"' in result.stdout, result.stderr
        return Scan(result.stdout, result.stderr, [self.home, self.tmp, self.keep])


@pytest.fixture
def repository(remote: MakeRemote) -> BareRemote:
    return remote(files={"flows/hello.yml": FLOW_FILE, "README.md": "hello\n"})


@pytest.fixture
def runner(tmp_path: Path, repository: BareRemote) -> Iterator[Runner]:
    yield Runner(tmp_path, repository.url)


def with_user_in_url(url: str, password: str = DEFAULT_PASSWORD) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{DEFAULT_USERNAME}:{password}@{rest}"


def props(properties: dict[str, str] | None, indent: int) -> str:
    """YAML lines for ``properties``, each on a new line indented by ``indent`` spaces."""
    return "".join(f"\n{' ' * indent}{key}: {value}" for key, value in (properties or {}).items())


def clone_flow(url: str, credentials: dict[str, str] | None = None) -> str:
    """Clone inside a WorkingDirectory (its .git/config copied to $KEEP) and outside one."""
    return f"""id: leak_clone
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: clone_in
        type: io.kestra.plugin.git.Clone
        url: "{url}"{props(credentials, 8)}
      - id: keep_config
        type: {SHELL}
        commands:
          - cp .git/config "$KEEP/config-$(date +%s%N)"
          - cat .git/config
  - id: clone_out
    type: io.kestra.plugin.git.Clone
    url: "{url}"{props(credentials, 4)}
"""


def sync_flow(url: str, credentials: dict[str, str] | None = None) -> str:
    return f"""id: leak_sync
namespace: company.team
tasks:
  - id: sync
    type: io.kestra.plugin.git.SyncFlows
    url: "{url}"{props(credentials, 4)}
    branch: main
    gitDirectory: flows
    targetNamespace: company.team
"""


PASSWORD_PROPERTIES = {
    "username": DEFAULT_USERNAME,
    "password": "\"{{ secret('GIT_PASSWORD') }}\"",
}


def password_env() -> dict[str, str]:
    return {"SECRET_GIT_PASSWORD": base64.b64encode(DEFAULT_PASSWORD.encode()).decode()}


# -- credential paths ---------------------------------------------------------------------------


def test_a_token_in_the_url_user_part_leaks_nowhere_from_clone(runner: Runner) -> None:
    scan = runner.run(clone_flow(with_user_in_url(runner.git_url)))
    assert '"state": "SUCCESS"' in scan.stdout, scan.stderr
    assert list(runner.keep.iterdir()), "the clone's .git/config was not copied"
    assert scan.leaks(DEFAULT_PASSWORD) == []


def test_a_token_in_the_url_user_part_leaks_nowhere_from_sync(runner: Runner) -> None:
    scan = runner.run(sync_flow(with_user_in_url(runner.git_url)))
    assert '"state": "SUCCESS"' in scan.stdout, scan.stderr
    assert list((runner.home / "repos").iterdir()), "the sync did not use the repos/ cache"
    assert scan.leaks(DEFAULT_PASSWORD) == []


def run_with_query_token(runner: Runner) -> list[Scan]:
    url = f"{runner.git_url}?token={QUERY_TOKEN}"
    return [
        runner.run(flow(url, PASSWORD_PROPERTIES), env=password_env())
        for flow in (clone_flow, sync_flow)
    ]


def test_a_token_in_the_url_query_leaks_nowhere_in_output_logs_or_database(
    runner: Runner,
) -> None:
    for scan in run_with_query_token(runner):
        assert '"state": "SUCCESS"' in scan.stdout, scan.stderr
        scan.folders = [runner.home / name for name in ("instance.db", "executions")]
        scan.folders += list(runner.home.glob("instance.db-*"))
        assert scan.leaks(QUERY_TOKEN) == []
        assert scan.leaks(DEFAULT_PASSWORD) == []


def test_a_token_in_the_url_query_leaks_nowhere_in_clones_or_cache(runner: Runner) -> None:
    for scan in run_with_query_token(runner):
        assert scan.leaks(QUERY_TOKEN) == []


@pytest.mark.parametrize("host", ["[127.0.0.1", "127.0.0.1:99999"], ids=["bracket", "port"])
def test_a_token_in_a_malformed_url_leaks_nowhere(runner: Runner, host: str) -> None:
    url = f"http://{DEFAULT_USERNAME}:{DEFAULT_PASSWORD}@{host}/repo.git"
    scan = runner.run(clone_flow(url))
    assert '"state": "FAILED"' in scan.stdout
    assert scan.leaks(DEFAULT_PASSWORD) == []
    assert list(runner.tmp.iterdir()) == []


def test_a_password_from_a_secret_leaks_nowhere(runner: Runner) -> None:
    scan = runner.run(clone_flow(runner.git_url, PASSWORD_PROPERTIES), env=password_env())
    assert '"state": "SUCCESS"' in scan.stdout, scan.stderr
    assert scan.leaks(DEFAULT_PASSWORD) == []
    scan = runner.run(sync_flow(runner.git_url, PASSWORD_PROPERTIES), env=password_env())
    assert '"state": "SUCCESS"' in scan.stdout, scan.stderr
    assert scan.leaks(DEFAULT_PASSWORD) == []


def test_a_private_key_leaks_nowhere_even_when_the_transport_fails(runner: Runner) -> None:
    properties = {"privateKey": "\"{{ secret('SSH_KEY') }}\""}
    flow = clone_flow("ssh://git@127.0.0.1:1/repo.git", properties)
    scan = runner.run(flow, "--secrets-file", str(runner.private / "secrets.yml"))
    assert '"state": "FAILED"' in scan.stdout
    for line in [PEM, *PEM.splitlines()]:
        assert scan.leaks(line) == [], line


def test_a_secret_input_leaks_nowhere(runner: Runner) -> None:
    flow = f"""id: leak_input
namespace: company.team
inputs:
  - id: token
    type: SECRET
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "the token is {{{{ inputs.token }}}}"
  - id: show
    type: {SHELL}
    env:
      TOKEN: "{{{{ inputs.token }}}}"
    commands:
      - echo "token=$TOKEN"
      - echo '::{{"outputs":{{"token":"'"$TOKEN"'"}}}}::'
"""
    scan = runner.run(flow, "--input", f"token={INPUT_SECRET}")
    assert '"state": "SUCCESS"' in scan.stdout, scan.stderr
    assert scan.leaks(INPUT_SECRET) == []


def test_a_multiline_secret_printed_line_by_line_leaks_nowhere(runner: Runner) -> None:
    flow = f"""id: leak_pem
namespace: company.team
tasks:
  - id: show
    type: {SHELL}
    env:
      KEY: "{{{{ secret('SSH_KEY') }}}}"
    commands:
      - printf '%s\\n' "$KEY"
      - >-
        printf '%s\\n' "$KEY" | while read -r line; do echo "line: $line" >&2; done
"""
    scan = runner.run(flow, "--secrets-file", str(runner.private / "secrets.yml"))
    assert '"state": "SUCCESS"' in scan.stdout, scan.stderr
    assert "******" in scan.stderr
    for line in [PEM, *PEM.splitlines()]:
        assert scan.leaks(line) == [], line


def test_the_scan_finds_a_secret_that_is_written_down(runner: Runner) -> None:
    """The scanner itself works: a secret a command writes to a file is found, in clear and
    base64."""
    flow = f"""id: leak_on_purpose
namespace: company.team
tasks:
  - id: write
    type: {SHELL}
    commands:
      - printf '%s' "$TOKEN" > "$KEEP/clear"
      - printf 'x%s' "$TOKEN" | base64 > "$KEEP/encoded"
"""
    scan = runner.run(flow, env={"TOKEN": INPUT_SECRET})
    found = scan.leaks(INPUT_SECRET)
    assert any("clear" in where for where in found)
    assert any("encoded" in where for where in found)


# -- Clone's temporary folder -------------------------------------------------------------------


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    return folder


def run_clone(tmp_path: Path, url: str) -> str:
    flow = tmp_path / "clone.yml"
    flow.write_text(
        f"""id: clone_tmp
namespace: company.team
tasks:
  - id: clone
    type: io.kestra.plugin.git.Clone
    url: "{url}"
  - id: check
    type: {SHELL}
    commands:
      - test -f "{{{{ outputs.clone.directory }}}}/README.md"
"""
    )
    execution = run_flow(flow, home=tmp_path / "home")
    return execution.state


def test_clone_outside_a_working_directory_leaves_no_temporary_folder(
    tmp_path: Path, temp_root: Path, repository: BareRemote
) -> None:
    assert run_clone(tmp_path, with_user_in_url(repository.url)) == "SUCCESS"
    assert sorted(temp_root.iterdir()) == []


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://git_user:s3cr3t-token@127.0.0.1:1/nothing", id="unreachable"),
        pytest.param("http://git_user:s3cr3t-token@[127.0.0.1/repo", id="malformed"),
        pytest.param("http://git_user:s3cr3t-token@127.0.0.1:99999/repo", id="bad-port"),
    ],
)
def test_a_failing_clone_leaves_no_temporary_folder(
    tmp_path: Path, temp_root: Path, url: str
) -> None:
    assert run_clone(tmp_path, url) == "FAILED"
    assert sorted(temp_root.iterdir()) == []


def test_a_contexts_temporary_folders_are_removed_when_it_closes(temp_root: Path) -> None:
    from kestra_git_tasks import RunContext

    with RunContext.create(home=temp_root / "home") as ctx:
        folder = ctx.temporary_directory("clone-")
        (folder / "file").write_text("x")
        assert folder.parent == temp_root
    assert not folder.exists()
    ctx.close()  # twice is fine
