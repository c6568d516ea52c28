"""known_hosts rules, the host-key opt-out read from the run's environment, and
``kestra-git known-hosts add`` against a real sshd."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sshd import SshServer, keygen

from kestra_git_tasks.cli import cli
from kestra_git_tasks.context import RunContext
from kestra_git_tasks.git.known_hosts import HostKey, Verdict, check, default_paths
from kestra_git_tasks.instance.base import LogRecord
from kestra_git_tasks.tasks.git.sync_flows import SyncFlows


def _key(tmp_path: Path, name: str) -> HostKey:
    pub = Path(f"{keygen(tmp_path / name, 'ed25519')}.pub").read_text().split()
    return HostKey.from_blob(base64.b64decode(pub[1]))


def test_port_22_is_named_bare_and_other_ports_in_brackets(tmp_path: Path) -> None:
    key = _key(tmp_path, "k")
    line = f"{key.key_type} {base64.b64encode(key.blob).decode()}\n"
    (tmp_path / "kh").write_text(f"github.com,gitlab.com {line}[git.example]:2222 {line}")

    assert check((tmp_path / "kh",), "github.com", 22, key) is Verdict.MATCH
    assert check((tmp_path / "kh",), "git.example", 2222, key) is Verdict.MATCH
    assert check((tmp_path / "kh",), "git.example", 22, key) is Verdict.UNKNOWN
    assert check((tmp_path / "kh",), "github.com", 2222, key) is Verdict.UNKNOWN


def test_hostile_known_hosts_lines_are_skipped_and_negation_and_revoked_refuse(
    tmp_path: Path,
) -> None:
    key, other = _key(tmp_path, "k"), _key(tmp_path, "o")
    b64 = base64.b64encode(key.blob).decode()
    (tmp_path / "kh").write_text(
        "garbage\n|1|notbase64|x ssh-ed25519 AAAA\n[h]:1 ssh-ed25519 !!!notbase64\n"
        f"*.corp,!evil.corp ssh-ed25519 {b64}\n@revoked bad.corp ssh-ed25519 {b64}\n"
    )
    paths = (tmp_path / "kh",)

    assert check(paths, "git.corp", 22, key) is Verdict.MATCH
    assert check(paths, "evil.corp", 22, key) is Verdict.UNKNOWN
    assert check(paths, "bad.corp", 22, key) is Verdict.REVOKED
    assert check(paths, "git.corp", 22, other) is Verdict.CHANGED


def test_known_hosts_env_replaces_the_default_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert default_paths(home, {"HOME": "/u"}) == (
        home / "known_hosts",
        Path("/u/.ssh/known_hosts"),
    )
    named = {"KESTRA_GIT_KNOWN_HOSTS": "/etc/kh", "HOME": "/u"}
    assert default_paths(home, named) == (Path("/etc/kh"),)


def _context(tmp_path: Path, environ: dict[str, str]) -> tuple[RunContext, list[LogRecord]]:
    ctx = RunContext.create(home=tmp_path / "home", environ=environ)
    records: list[LogRecord] = []
    ctx.sinks.append(records.append)
    return ctx, records


def test_host_key_opt_out_comes_from_the_run_environment_and_warns_every_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KESTRA_GIT_SSH_INSECURE_ACCEPT_ANY_HOST_KEY", "true")  # ignored
    task = SyncFlows(id="s", url="git@github.com:org/repo.git", target_namespace="dev")

    quiet_ctx, quiet_logs = _context(tmp_path, {})
    assert task.transport_options(quiet_ctx).accept_any_host_key is False
    assert quiet_logs == []

    ctx, logs = _context(tmp_path, {"KESTRA_GIT_SSH_INSECURE_ACCEPT_ANY_HOST_KEY": "true"})
    for _ in range(2):
        assert task.transport_options(ctx).accept_any_host_key is True
    assert [r.level for r in logs] == ["WARN", "WARN"]
    assert "NOT verified" in logs[0].message


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    if SshServer.available():
        pytest.skip("no sshd installed (scripts/setup installs it)")
    with SshServer(tmp_path / "sshd") as server:
        yield server


def test_known_hosts_add_shows_the_fingerprint_and_writes_only_when_confirmed(
    sshd: SshServer, tmp_path: Path
) -> None:
    target = tmp_path / "kh"
    args = ["known-hosts", "add", f"127.0.0.1:{sshd.port}", "--file", str(target)]
    blob = base64.b64decode(sshd.host_public_key().split()[1])
    fingerprint = HostKey.from_blob(blob).fingerprint

    declined = CliRunner().invoke(cli, args, input="n\n")
    assert fingerprint in declined.output
    assert declined.exit_code == 1 and not target.exists()

    accepted = CliRunner().invoke(cli, [*args, "--yes"])
    assert accepted.exit_code == 0, accepted.output
    assert target.read_text() == sshd.known_hosts_line()
    assert check((target,), "127.0.0.1", sshd.port, HostKey.from_blob(blob)) is Verdict.MATCH
