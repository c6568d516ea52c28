"""``git/quick_head.py``: "the branch has not moved" answered without pygit2, never unsafely.

A no-change ``kestra-git run`` reads the cached ref from its file and trusts a recorded verdict
that libgit2's configuration names no proxy; the verdict is dropped by any touch of the files it
watches, by another ``HOME``, by an include or any mention of a proxy, and a damaged one is
not trusted. A proxy added after the verdict was recorded is still honoured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import IsolatedEnv, MakeRemote
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME
from scenario import FLOWS, ROOT, kestra_git_env

from kestra_git_tasks.git.quick_head import (
    VERDICT_FILE,
    cached_target,
    proxy_free,
    record_verdict,
)

SHA = "0123456789abcdef0123456789abcdef01234567"


def _git_dir(tmp_path: Path) -> Path:
    git_dir = tmp_path / "cache.git"
    (git_dir / "refs" / "remotes" / "cache").mkdir(parents=True)
    (git_dir / "config").write_text("[core]\n\tbare = true\n", encoding="utf-8")
    return git_dir


# -- the cached ref ------------------------------------------------------------------------------
def test_the_cached_ref_is_read_from_its_file_or_packed_refs(tmp_path: Path) -> None:
    git_dir = _git_dir(tmp_path)
    (git_dir / "refs/remotes/cache/main").write_text(SHA + "\n", encoding="ascii")
    (git_dir / "refs/remotes/cache/feature").mkdir()
    (git_dir / "refs/remotes/cache/feature/x").write_text(SHA, encoding="ascii")
    other = "f" * 40
    (git_dir / "packed-refs").write_text(
        f"# pack-refs with: peeled fully-peeled sorted\n{other} refs/remotes/cache/release\n"
    )
    assert cached_target(git_dir, "main") == SHA
    assert cached_target(git_dir, "feature/x") == SHA
    assert cached_target(git_dir, "release") == other
    assert cached_target(git_dir, "absent") is None


@pytest.mark.parametrize(
    "branch",
    ["../../../config", "a/../../HEAD", ".hidden", "main.lock", "a//b", "/main", "main/", "",
     "ma in", "main\n", "~main", "heads/../x"],
)  # fmt: skip
def test_an_unusual_branch_name_is_left_to_pygit2(tmp_path: Path, branch: str) -> None:
    git_dir = _git_dir(tmp_path)
    # a file wherever the name could lead, holding a commit id: none is read
    (git_dir / "HEAD").write_text(SHA, encoding="ascii")
    (tmp_path / "config").write_text(SHA, encoding="ascii")
    assert cached_target(git_dir, branch) is None


def test_a_symbolic_or_damaged_ref_is_left_to_pygit2(tmp_path: Path) -> None:
    git_dir = _git_dir(tmp_path)
    (git_dir / "refs/remotes/cache/main").write_text("ref: refs/remotes/cache/other\n")
    (git_dir / "refs/remotes/cache/bad").write_text(SHA[:-1] + "\n")
    (git_dir / "refs/remotes/cache/upper").write_text(SHA.upper())
    assert cached_target(git_dir, "main") is None
    assert cached_target(git_dir, "bad") is None
    assert cached_target(git_dir, "upper") is None


# -- the proxy verdict -------------------------------------------------------------------------
def test_a_verdict_holds_until_a_watched_file_changes(tmp_path: Path) -> None:
    git_dir = _git_dir(tmp_path)
    global_config = tmp_path / ".gitconfig"
    global_config.write_text("[user]\n\tname = someone\n", encoding="utf-8")
    absent = tmp_path / "xdg" / "config"
    record_verdict(git_dir, [global_config, absent])
    assert proxy_free(git_dir)
    global_config.write_text("[user]\n\tname = someone else\n", encoding="utf-8")
    assert not proxy_free(git_dir)
    record_verdict(git_dir, [global_config, absent])
    assert proxy_free(git_dir)
    absent.parent.mkdir()
    absent.write_text("", encoding="utf-8")  # a file appearing counts too
    assert not proxy_free(git_dir)


def test_a_verdict_does_not_hold_under_another_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git_dir = _git_dir(tmp_path)
    record_verdict(git_dir, [])
    assert proxy_free(git_dir)
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    assert not proxy_free(git_dir)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert not proxy_free(git_dir)


@pytest.mark.parametrize(
    "text",
    [
        "[http]\n\tproxy = http://proxy.example:3128\n",
        '[http "https://git.example.com"]\n\tProxy = http://proxy.example:3128\n',
        "[include]\n\tpath = ~/more.gitconfig\n",
        '[includeIf "gitdir:/work/"]\n\tpath = work.gitconfig\n',
        "# no proxy here, honestly\n",
    ],
)
def test_no_verdict_is_recorded_where_a_proxy_could_hide(tmp_path: Path, text: str) -> None:
    git_dir = _git_dir(tmp_path)
    record_verdict(git_dir, [])
    assert proxy_free(git_dir)
    config = tmp_path / "gitconfig"
    config.write_text(text, encoding="utf-8")
    record_verdict(git_dir, [config])
    assert not (git_dir / VERDICT_FILE).exists()
    assert not proxy_free(git_dir)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        json.dumps({"environment": {}, "files": []}),
        json.dumps({"files": [["/etc/gitconfig", None]]}),
        json.dumps({"environment": None, "files": None}),
    ],
)
def test_a_damaged_verdict_is_not_trusted(tmp_path: Path, content: str) -> None:
    git_dir = _git_dir(tmp_path)
    (git_dir / VERDICT_FILE).write_text(content, encoding="utf-8")
    assert not proxy_free(git_dir)


# -- end to end: the CLI in fresh interpreters ----------------------------------------------------
def _run(tmp_path: Path, flow: Path) -> subprocess.CompletedProcess[str]:
    env = kestra_git_env(tmp_path / "home")
    secret = f"GIT_TOKEN={DEFAULT_PASSWORD}"
    return subprocess.run(
        [sys.executable, "-m", "kestra_git_tasks", "run", str(flow), "--secret", secret],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_a_proxy_configured_after_the_verdict_sends_the_run_back_to_libgit2(
    tmp_path: Path, remote: MakeRemote, isolated_env: IsolatedEnv
) -> None:
    origin = remote(files=FLOWS)
    flow = tmp_path / "sync.yml"
    flow.write_text(
        "id: sync\nnamespace: system\ntasks:\n"
        "  - id: flows\n    type: io.kestra.plugin.git.SyncFlows\n"
        f"    url: {origin.url}\n    username: {DEFAULT_USERNAME}\n"
        "    password: \"{{ secret('GIT_TOKEN') }}\"\n    targetNamespace: prod\n",
        encoding="utf-8",
    )
    for _ in range(2):  # first, then a no-change run through the shortcut
        before = len(origin.server.requests)
        done = _run(tmp_path, flow)
        assert done.returncode == 0, done.stderr
    # the shortcut's one request: our GET, credentials sent up front
    assert [(r.endpoint, r.status) for r in origin.server.requests.all()[before:]] == [
        ("info/refs", 200)
    ]
    verdicts = list((tmp_path / "home").rglob(VERDICT_FILE))
    assert len(verdicts) == 1
    global_config = Path(os.environ["HOME"]) / ".gitconfig"
    assert global_config == isolated_env.home / ".gitconfig"
    global_config.write_text("[http]\n\tproxy = http://127.0.0.1:9\n", encoding="utf-8")
    before = len(origin.server.requests)
    done = _run(tmp_path, flow)
    # libgit2 connected, as it does whenever a proxy may apply (it asks without credentials
    # first: a 401), and the verdict is gone; what libgit2 makes of a proxy for a loopback
    # server is its own rule, not this test's
    assert not verdicts[0].exists()
    assert (origin.server.requests.all()[before].status, done.returncode) == (401, 0), done.stderr
