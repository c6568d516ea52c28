"""SSH against a real OpenSSH sshd on loopback: keys of every kind, host keys verified."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sshd import SshServer, keygen

from kestra_git_tasks.errors import GitAuthError, GitNetworkError
from kestra_git_tasks.git import Credentials, RepoCache, TransportOptions, clone_repository
from kestra_git_tasks.git.push import Identity, Pusher

pytestmark = pytest.mark.skipif(SshServer.available() is not None, reason="no sshd installed")

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
    "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin",
}  # fmt: skip


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=_GIT_ENV, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def _bare_repo(folder: Path, files: dict[str, str]) -> tuple[Path, str]:
    bare = folder / "repo.git"
    _git("init", "-q", "--bare", "-b", "main", str(bare), cwd=folder)
    work = folder / "work"
    _git("init", "-q", "-b", "main", str(work), cwd=folder)
    for name, text in files.items():
        (work / name).write_text(text)
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", "first", cwd=work)
    _git("push", "-q", str(bare), "main", cwd=work)
    return bare, _git("rev-parse", "HEAD", cwd=work)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    with SshServer(tmp_path / "sshd") as server:
        yield server


@pytest.fixture
def known_hosts(tmp_path: Path, sshd: SshServer) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(sshd.known_hosts_line())
    return path


def _client_key(server: SshServer, folder: Path, kind: str, **kw: object) -> Credentials:
    key = keygen(folder / f"id_{kind}_{'pem' if kw.get('pem') else 'openssh'}", kind, **kw)  # type: ignore[arg-type]
    server.authorize(Path(f"{key}.pub"))
    return Credentials(
        private_key=key.read_text(), passphrase=str(kw.get("passphrase") or "") or None
    )


@pytest.mark.parametrize(
    ("kind", "pem"),
    [("ed25519", False), ("ecdsa", False), ("ecdsa", True), ("rsa", False), ("rsa", True)],
)
def test_sync_over_ssh_with_each_key_kind_and_format(
    sshd: SshServer, known_hosts: Path, tmp_path: Path, kind: str, pem: bool
) -> None:
    bare, sha = _bare_repo(tmp_path, {"a.yml": "x"})
    creds = _client_key(sshd, tmp_path, kind, pem=pem)
    options = TransportOptions(known_hosts=(known_hosts,))

    got = RepoCache(tmp_path / "cache").fetch_branch(sshd.url(bare), "main", creds, options)

    assert got == sha


def test_push_and_clone_over_ssh(sshd: SshServer, known_hosts: Path, tmp_path: Path) -> None:
    bare, _ = _bare_repo(tmp_path, {"a.yml": "x"})
    creds = _client_key(sshd, tmp_path, "ed25519")
    options = TransportOptions(known_hosts=(known_hosts,))
    me = Identity("t", "t@example.com")

    result = Pusher(RepoCache(tmp_path / "cache")).push_changes(
        sshd.url(bare), "main", lambda view: {"b.yml": b"pushed"},
        message="m", author=me, committer=me, credentials=creds, options=options,
    )  # fmt: skip
    clone_repository(sshd.url(bare), tmp_path / "clone", credentials=creds, options=options)

    assert _git("rev-parse", "main", cwd=bare) == str(result.commit_id)
    assert (tmp_path / "clone" / "b.yml").read_text() == "pushed"


def _fingerprint(server: SshServer) -> str:
    blob = base64.b64decode(server.host_public_key().split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def test_unknown_host_key_is_refused_with_fingerprint_and_command(
    sshd: SshServer, tmp_path: Path
) -> None:
    bare, _ = _bare_repo(tmp_path, {"a.yml": "x"})
    creds = _client_key(sshd, tmp_path, "ed25519")
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")

    with pytest.raises(GitNetworkError, match="unknown") as caught:
        RepoCache(tmp_path / "cache").fetch_branch(
            sshd.url(bare), "main", creds, TransportOptions(known_hosts=(empty,))
        )
    assert _fingerprint(sshd) in str(caught.value)
    assert f"kestra-git known-hosts add 127.0.0.1:{sshd.port}" in str(caught.value)
    assert creds.private_key not in str(caught.value)  # type: ignore[operator]


def test_changed_host_key_is_refused(sshd: SshServer, tmp_path: Path) -> None:
    bare, _ = _bare_repo(tmp_path, {"a.yml": "x"})
    creds = _client_key(sshd, tmp_path, "ed25519")
    other = keygen(tmp_path / "other_host", "ed25519")
    stale = tmp_path / "known_hosts"
    stale.write_text(
        f"[127.0.0.1]:{sshd.port} " + " ".join(Path(f"{other}.pub").read_text().split()[:2]) + "\n"
    )

    with pytest.raises(GitNetworkError, match="CHANGED") as caught:
        RepoCache(tmp_path / "cache").fetch_branch(
            sshd.url(bare), "main", creds, TransportOptions(known_hosts=(stale,))
        )
    assert _fingerprint(sshd) in str(caught.value)


def test_hashed_known_hosts_entry_is_understood(sshd: SshServer, tmp_path: Path) -> None:
    bare, sha = _bare_repo(tmp_path, {"a.yml": "x"})
    creds = _client_key(sshd, tmp_path, "ed25519")
    hashed = tmp_path / "known_hosts"
    hashed.write_text(sshd.known_hosts_line())
    subprocess.run(["ssh-keygen", "-H", "-f", str(hashed)], check=True, capture_output=True)
    assert hashed.read_text().startswith("|1|")

    got = RepoCache(tmp_path / "cache").fetch_branch(
        sshd.url(bare), "main", creds, TransportOptions(known_hosts=(hashed,))
    )
    assert got == sha


def test_accept_any_host_key_connects_without_known_hosts(sshd: SshServer, tmp_path: Path) -> None:
    bare, sha = _bare_repo(tmp_path, {"a.yml": "x"})
    creds = _client_key(sshd, tmp_path, "ed25519")
    options = TransportOptions(known_hosts=(), accept_any_host_key=True)

    assert RepoCache(tmp_path / "cache").fetch_branch(sshd.url(bare), "main", creds, options) == sha


def test_encrypted_key_works_with_its_passphrase_and_fails_clearly_without(
    sshd: SshServer, known_hosts: Path, tmp_path: Path
) -> None:
    bare, sha = _bare_repo(tmp_path, {"a.yml": "x"})
    creds = _client_key(sshd, tmp_path, "ed25519", passphrase="s3cret-phrase")
    options = TransportOptions(known_hosts=(known_hosts,))

    got = RepoCache(tmp_path / "cache").fetch_branch(sshd.url(bare), "main", creds, options)
    assert got == sha

    without = Credentials(private_key=creds.private_key)
    with pytest.raises(GitAuthError, match="passphrase") as caught:
        RepoCache(tmp_path / "cache2").fetch_branch(sshd.url(bare), "main", without, options)
    assert "s3cret-phrase" not in str(caught.value)
