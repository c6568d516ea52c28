"""Shared fixtures. Sections: environment isolation, Git server and remotes, fake Kestra,
either backend.

Every test runs in an isolated environment (``isolated_env``, autouse): no developer or CI
setting (secrets, proxies, git config, Kestra variables) can change its result.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest
from fakekestra import FakeKestra
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME, BareRemote, GitHttpServer
from pygit2.enums import ConfigLevel
from pytest_httpserver import HTTPServer

from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.instance.base import Instance
from kestra_git_tasks.instance.kestra import KestraInstance
from kestra_git_tasks.instance.local import LocalInstance

# ---------------------------------------------------------------------------------------------
# Environment isolation
# ---------------------------------------------------------------------------------------------

_CLEARED_PREFIXES = ("SECRET_", "ENV_", "GIT_", "KESTRA_")
_PROXY_VARIABLES = {"http_proxy", "https_proxy", "no_proxy", "all_proxy", "ftp_proxy"}
_PYGIT2_CONFIG_LEVELS = (ConfigLevel.SYSTEM, ConfigLevel.XDG, ConfigLevel.GLOBAL)


@dataclass(frozen=True)
class IsolatedEnv:
    """Where the isolated environment points: ``home`` (HOME, XDG_CONFIG_HOME below it, git's
    and pygit2's config search path) and ``kestra_git_home`` (KESTRA_GIT_HOME)."""

    home: Path
    kestra_git_home: Path


@pytest.fixture(autouse=True)
def isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[IsolatedEnv]:
    """Clear SECRET_*, ENV_*, GIT_*, KESTRA_* and proxy variables; give HOME, git and pygit2 an
    empty config; point KESTRA_GIT_HOME at an empty folder. Restores everything afterwards."""
    home = tmp_path_factory.mktemp("home")
    kestra_git_home = tmp_path_factory.mktemp("kestra-git-home")
    for name in list(os.environ):
        if name.upper().startswith(_CLEARED_PREFIXES) or name.lower() in _PROXY_VARIABLES:
            monkeypatch.delenv(name)

    global_config = home / ".gitconfig"
    global_config.touch()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(global_config))
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")  # the git CLI fails instead of prompting
    monkeypatch.setenv("KESTRA_GIT_HOME", str(kestra_git_home))

    saved = {level: pygit2.settings.search_path[level] for level in _PYGIT2_CONFIG_LEVELS}
    for level in _PYGIT2_CONFIG_LEVELS:
        pygit2.settings.search_path[level] = str(home)
    try:
        yield IsolatedEnv(home=home, kestra_git_home=kestra_git_home)
    finally:
        for level, value in saved.items():
            pygit2.settings.search_path[level] = value


# ---------------------------------------------------------------------------------------------
# Git server and remotes
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHttpServer]:
    """A smart-HTTP git server on 127.0.0.1 (Basic auth ``git_user`` / ``s3cr3t-token``)
    serving the bare repositories under its ``root``."""
    root = tmp_path_factory.mktemp("git-server") / "repos"
    server = GitHttpServer(root, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD)
    try:
        yield server
    finally:
        server.close()


MakeRemote = Callable[..., BareRemote]
_remote_numbers = itertools.count(1)


@pytest.fixture
def remote(git_server: GitHttpServer, request: pytest.FixtureRequest) -> Iterator[MakeRemote]:
    """Factory of bare repositories served by ``git_server``.

    ``make_remote(name=None, files=None, branch="main")``: ``files`` ({path: bytes | str}) are
    committed on ``branch``; without ``files`` the repository is empty (no commit). The name
    defaults to one derived from the test's name. Returns a :class:`gitserver.BareRemote`
    (``.path``, ``.url``, ``.commit(files, message, delete=[...], branch=...)``,
    ``.head(branch)``, ``.files(branch)``). The repositories are removed after the test.
    """
    created: list[BareRemote] = []
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:60]

    def make_remote(
        name: str | None = None,
        files: dict[str, bytes | str] | None = None,
        branch: str = "main",
        message: str = "Initial commit",
    ) -> BareRemote:
        repo_name = name or f"{test_name}-{next(_remote_numbers)}"
        bare = BareRemote(git_server, repo_name, branch=branch)
        created.append(bare)
        if files is not None:
            bare.commit(files, message, branch=branch)
        return bare

    yield make_remote
    for bare in created:
        shutil.rmtree(bare.path, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Fake Kestra server (tests/fakekestra.py) and a KestraInstance connected to it
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def fake_kestra(httpserver: HTTPServer) -> Iterator[FakeKestra]:
    """A stateful fake Kestra on pytest-httpserver: tenant ``main``, HTTP Basic
    ``admin@kestra.io`` / ``Admin1234``. Errors raised inside the fake fail the test."""
    fake = FakeKestra().install(httpserver)
    yield fake
    httpserver.check_handler_errors()


@pytest.fixture
def kestra_instance(fake_kestra: FakeKestra) -> Iterator[KestraInstance]:
    """A :class:`KestraInstance` connected to ``fake_kestra`` with its credentials."""
    with KestraInstance(
        fake_kestra.url, username=fake_kestra.username, password=fake_kestra.password
    ) as instance:
        yield instance


# ---------------------------------------------------------------------------------------------
# Either backend: the sync and push suites run against the embedded instance and the fake server
# ---------------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "embedded_only(reason): the test reads the embedded instance's own storage (SQLite), so "
        "it runs on the embedded backend only",
    )


@pytest.fixture(params=["embedded", "kestra"])
def any_instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Instance]:
    """The embedded instance (in ``tmp_path / "home"``), then a KestraInstance on the fake
    Kestra server: a test using it runs against both."""
    if request.param == "embedded":
        with LocalInstance(tmp_path / "home", validator=validate_source) as local:
            yield local
        return
    marker = request.node.get_closest_marker("embedded_only")
    if marker is not None:
        pytest.skip(f"embedded instance only: {marker.args[0] if marker.args else ''}")
    yield request.getfixturevalue("kestra_instance")
