"""``gitConfig`` on sync and push (no work tree) and on Clone: the keys that mean something
are used for that task's operation only, never written into the runner's shared repository
cache; a key that would make Git run a program is never applied anywhere, with a warning
naming it. Real servers: the git HTTP(S) server of tests/gitserver.py and tinyproxy."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2
import pytest
from gitserver import BareRemote, GitHttpServer
from pki import make_pki
from proxy import TinyProxy

from kestra_git_tasks import Clone, PushNamespaceFiles, RunContext, SyncFlows
from kestra_git_tasks.git.gitconfig import crlf_to_lf, refused_reason
from kestra_git_tasks.instance.base import Instance, LogRecord

if TYPE_CHECKING:
    from conftest import MakeRemote

USER, PASSWORD = "git_user", "s3cr3t-token"
DANGEROUS = {
    "core.sshCommand": "touch /tmp/pwned-ssh",
    "core.fsmonitor": "touch /tmp/pwned-fsmonitor",
    "core.hooksPath": "/tmp/hooks",
    "credential.helper": "!touch /tmp/pwned-helper",
    "diff.evil.command": "touch /tmp/pwned-diff",
    "filter.lfs.smudge": "touch /tmp/pwned-smudge",
    "alias.st": "!touch /tmp/pwned-alias",
    "include.path": "/etc/gitconfig",
}


def context(instance: Instance | None, tmp_path: Path, records: list[LogRecord]) -> RunContext:
    ctx = RunContext.create(instance=instance, home=tmp_path / "home", flow_id="f")
    ctx.task_id = "task"
    ctx.working_dir = tmp_path / "work"
    ctx.working_dir.mkdir(exist_ok=True)
    ctx.sinks.append(records.append)
    return ctx


def warnings(records: list[LogRecord]) -> list[str]:
    return [r.message for r in records if r.level == "WARN"]


def cache_configs(tmp_path: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in (tmp_path / "home" / "repos").glob("*.git/config")}


def sync(instance: Instance, tmp_path: Path, url: str, **properties: Any) -> list[LogRecord]:
    records: list[LogRecord] = []
    task = SyncFlows(
        id="sync", url=url, username=USER, password=PASSWORD, target_namespace="prod", **properties
    )
    task.run(context(instance, tmp_path, records))
    return records


def push(instance: Instance, tmp_path: Path, url: str, **properties: Any) -> list[LogRecord]:
    records: list[LogRecord] = []
    task = PushNamespaceFiles(
        id="push", url=url, username=USER, password=PASSWORD, namespace="dev", **properties
    )
    task.run(context(instance, tmp_path, records))
    return records


# -- keys that run programs ---------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(DANGEROUS))
def test_a_key_that_runs_a_program_is_refused(key: str) -> None:
    assert refused_reason(key) is not None
    assert refused_reason(key.upper()) is not None


@pytest.mark.parametrize("key", ["user.name", "http.proxy", "core.autocrlf", "core.fileMode"])
def test_an_ordinary_key_is_not_refused(key: str) -> None:
    assert refused_reason(key) is None


def test_clone_never_writes_a_key_that_runs_a_program(remote: MakeRemote, tmp_path: Path) -> None:
    repo = remote(files={"a.txt": "a"})
    records: list[LogRecord] = []
    task = Clone(
        id="clone", url=repo.url, username=USER, password=PASSWORD,
        git_config={**DANGEROUS, "core.fileMode": False},
    )  # fmt: skip

    output = task.run(context(None, tmp_path, records))

    config = pygit2.Config(str(Path(output.directory) / ".git" / "config"))
    assert config.get_bool("core.filemode") is False
    for key in DANGEROUS:
        assert key.lower() not in {entry.name.lower() for entry in config}
        assert any(f"refused key '{key}'" in w and "run a program" in w for w in warnings(records))
    assert "pwned" not in (Path(output.directory) / ".git" / "config").read_text()


@pytest.mark.parametrize("task", ["sync", "push"])
def test_sync_and_push_warn_about_a_key_that_runs_a_program_and_write_no_config(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path, task: str
) -> None:
    repo = remote(files={"_flows/README.md": "x", "_files/a.txt": "a"})
    any_instance.write_file("dev", "/a.txt", b"b")
    run = sync if task == "sync" else push

    records = run(any_instance, tmp_path, repo.url, git_config=DANGEROUS)

    for key in DANGEROUS:
        assert any(
            f"'{key}' is not applied: it can make Git run a program" in w for w in warnings(records)
        )
    for text in cache_configs(tmp_path).values():
        assert "pwned" not in text and "hooks" not in text and "sshcommand" not in text.lower()


# -- the shared cache ---------------------------------------------------------------------------
def test_the_shared_cache_config_is_unchanged_by_a_tasks_git_config(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/README.md": "x", "_files/a.txt": "a"})
    sync(any_instance, tmp_path, repo.url)
    before = cache_configs(tmp_path)
    assert before
    any_instance.write_file("dev", "/a.txt", b"b")
    git_config = {
        "user.name": "Bot", "user.email": "bot@example.com", "core.autocrlf": "input",
        "http.extraHeader": "X-Flow: a", "url.http://evil/.insteadOf": repo.url,
    }  # fmt: skip

    sync(any_instance, tmp_path, repo.url, git_config=git_config)
    push(any_instance, tmp_path, repo.url, git_config=git_config)

    assert cache_configs(tmp_path) == before


# -- keys applied -------------------------------------------------------------------------------
def test_core_autocrlf_stores_a_pushed_text_files_crlf_as_lf(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"_files/keep.txt": "k"})
    any_instance.write_file("dev", "/a.txt", b"one\r\ntwo\r\n")
    any_instance.write_file("dev", "/b.bin", b"\0\r\n")

    push(any_instance, tmp_path, repo.url, git_config={"core.autocrlf": True})

    assert repo.files()["_files/a.txt"] == b"one\ntwo\n"
    assert repo.files()["_files/b.bin"] == b"\0\r\n"  # binary: unchanged


def test_without_core_autocrlf_a_pushed_file_keeps_its_crlf(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"_files/keep.txt": "k"})
    any_instance.write_file("dev", "/a.txt", b"one\r\ntwo\r\n")

    push(any_instance, tmp_path, repo.url, git_config={"core.autocrlf": False})

    assert repo.files()["_files/a.txt"] == b"one\r\ntwo\r\n"


def test_crlf_to_lf_leaves_lone_carriage_returns_alone() -> None:
    assert crlf_to_lf(b"a\r\nb\rc\r\n") == b"a\r\nb\rc\r\n"
    assert crlf_to_lf(b"a\r\nb\r\n") == b"a\nb\n"


def test_a_sync_says_core_autocrlf_does_not_change_what_it_reads(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/README.md": "x"})

    records = sync(any_instance, tmp_path, repo.url, git_config={"core.autocrlf": True})

    assert any(
        w.startswith("gitConfig key 'core.autocrlf' is not applied: a sync reads files as")
        for w in warnings(records)
    )


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[GitHttpServer, Path]]:
    ca, cert, key = make_pki(tmp_path / "pki")
    context_ = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context_.load_cert_chain(cert, key)
    with GitHttpServer(tmp_path / "root", username=None, ssl_context=context_) as server:
        yield server, ca


@pytest.fixture
def tinyproxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TinyProxy]:
    reason = TinyProxy.available()
    if reason:
        pytest.skip(reason)  # scripts/setup installs it
    with TinyProxy(tmp_path / "proxy") as proxy:
        for name in ("no_proxy", "NO_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "https_proxy"):
            monkeypatch.delenv(name, raising=False)
        yield proxy


@pytest.mark.embedded_only("one backend is enough for a transport setting")
def test_http_proxy_of_git_config_carries_the_sync_and_push_for_that_task_only(
    any_instance: Instance,
    https_server: tuple[GitHttpServer, Path],
    tinyproxy: TinyProxy,
    tmp_path: Path,
) -> None:
    server, ca = https_server
    bare = BareRemote(server, "repo")
    bare.commit({"_flows/README.md": "x", "_files/a.txt": "a"})
    any_instance.write_file("dev", "/a.txt", b"b")
    proxied = {"git_config": {"http.proxy": tinyproxy.url}, "trusted_ca_pem_path": str(ca)}

    sync(any_instance, tmp_path, bare.url, **proxied)
    push(any_instance, tmp_path, bare.url, **proxied)
    through = tinyproxy.connects()
    assert len(through) >= 2 and set(through) == {f"127.0.0.1:{server.port}"}

    bare.commit({"_flows/README.md": "y"})
    sync(any_instance, tmp_path, bare.url, trusted_ca_pem_path=str(ca))  # another task
    sync(any_instance, tmp_path, bare.url, no_proxy=True, **proxied)  # noProxy wins
    assert tinyproxy.connects() == through
    assert all("proxy" not in text for text in cache_configs(tmp_path).values())
