"""Revisions reachable from the CLI, on both backends: `flows revisions|show --revision|restore`
and `files revisions|show --revision`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kestra_git_tasks.cli import cli
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.instance.base import Instance
from kestra_git_tasks.instance.kestra import KestraInstance
from kestra_git_tasks.instance.local import LocalInstance

LOG = "io.kestra.plugin.core.log.Log"


def source(message: str) -> str:
    return (
        f"id: hello\nnamespace: dev\ntasks:\n  - id: say\n    type: {LOG}\n    message: {message}\n"
    )


class Cli:
    """Runs `kestra-git` on one backend: the embedded home, or the fake server."""

    def __init__(self, home: Path, server: list[str]) -> None:
        self.home, self.server = home, server

    def __call__(self, *args: str, input: str | None = None) -> tuple[int, str, str]:
        result = CliRunner().invoke(
            cli, [*args, *self.server], env={"KESTRA_GIT_HOME": str(self.home)}, input=input
        )
        return result.exit_code, result.stdout, result.stderr


@pytest.fixture(params=["embedded", "kestra"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Instance, Cli]]:
    home = tmp_path / "home"
    if request.param == "embedded":
        with LocalInstance(home, validator=validate_source) as local:
            yield local, Cli(home, [])
        return
    fake = request.getfixturevalue("fake_kestra")
    server = [
        "--server",
        fake.url,
        "--server-user",
        fake.username,
        "--server-password",
        fake.password,
    ]
    with KestraInstance(fake.url, username=fake.username, password=fake.password) as instance:
        yield instance, Cli(home, server)


def test_flow_revisions_list_show_and_restore(backend: tuple[Instance, Cli]) -> None:
    instance, run = backend
    for message in ("one", "two", "three"):
        instance.put_flow(source(message))

    code, out, err = run("flows", "revisions", "dev/hello", "--json")
    assert code == 0, err
    assert [r["revision"] for r in json.loads(out)] == [1, 2, 3]

    code, out, _ = run("flows", "show", "dev/hello", "--revision", "1")
    assert code == 0 and out == source("one")
    code, out, _ = run("flows", "show", "dev/hello", "--json")
    assert json.loads(out)["revision"] == 3 and json.loads(out)["source"] == source("three")

    code, out, err = run("flows", "restore", "dev/hello", "--revision", "1")
    assert code == 0, err
    assert "revision 4" in out
    latest = instance.get_flow("dev", "hello")
    assert latest is not None and latest.revision == 4 and latest.source == source("one")

    code, out, _ = run("flows", "restore", "dev/hello", "--revision", "4", "--json")
    assert code == 0 and json.loads(out)["state"] == "unchanged"
    assert [r.revision for r in instance.flow_revisions("dev", "hello")] == [1, 2, 3, 4]


def test_restore_brings_a_deleted_flow_back(backend: tuple[Instance, Cli]) -> None:
    instance, run = backend
    instance.put_flow(source("one"))
    instance.delete_flow("dev", "hello")
    code, out, _ = run("flows", "revisions", "dev/hello")
    assert code == 0 and "deleted" in out
    code, _, err = run("flows", "restore", "dev/hello", "--revision", "1")
    assert code == 0, err
    restored = instance.get_flow("dev", "hello")
    assert restored is not None and restored.source == source("one") and restored.revision == 3


def test_a_missing_revision_names_the_ones_that_exist(backend: tuple[Instance, Cli]) -> None:
    instance, run = backend
    instance.put_flow(source("one"))
    code, out, err = run("flows", "show", "dev/hello", "--revision", "7")
    assert code == 1 and out == ""
    assert err.count("Error:") == 1
    assert "no revision 7 (revisions: 1)" in err and "flows revisions dev/hello" in err
    code, _, err = run("flows", "revisions", "dev/nope")
    assert code == 1 and "dev/nope has no revisions" in err


@pytest.mark.parametrize("revision", ["0", "-1", "x"])
def test_a_revision_that_is_not_a_positive_number_is_a_usage_error(
    backend: tuple[Instance, Cli], revision: str
) -> None:
    _, run = backend
    code, _, err = run("flows", "show", "dev/hello", "--revision", revision)
    assert code == 2 and "--revision" in err


def test_file_revisions_list_and_show(backend: tuple[Instance, Cli]) -> None:
    instance, run = backend
    instance.write_file("dev", "/scripts/a.py", b"print(1)\n")
    instance.write_file("dev", "/scripts/a.py", b"print(2)\n")

    code, out, err = run("files", "revisions", "dev", "/scripts/a.py", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["revision"] for r in rows] == [1, 2]
    assert rows[0]["size"] == 9 and not rows[0]["deleted"]

    code, out, _ = run("files", "show", "dev", "/scripts/a.py", "--revision", "1")
    assert code == 0 and out == "print(1)\n"
    code, out, _ = run("files", "show", "dev", "scripts/a.py")
    assert code == 0 and out == "print(2)\n"

    code, _, err = run("files", "show", "dev", "/scripts/a.py", "--revision", "9")
    assert code == 1 and "has no revision 9" in err
    code, _, err = run("files", "revisions", "dev", "/nope.txt")
    assert code == 1 and "has no revisions" in err


@pytest.mark.parametrize("path", ["../etc/passwd", "/a/../b", "a\\b", "/"])
def test_file_revisions_refuse_hostile_paths(backend: tuple[Instance, Cli], path: str) -> None:
    _, run = backend
    code, out, err = run("files", "revisions", "dev", path)
    assert code == 1 and out == ""
    assert "invalid namespace file path" in err
    code, _, err = run("files", "show", "dev", path, "--revision", "1")
    assert code == 1 and "invalid namespace file path" in err


def test_embedded_file_revisions_keep_deleted_ones(tmp_path: Path) -> None:
    with LocalInstance(tmp_path / "home") as instance:
        instance.write_file("dev", "/a.txt", b"a")
        instance.delete_file("dev", "/a.txt")
        revisions = instance.file_revisions("dev", "/a.txt")
        assert [(r.revision, r.deleted) for r in revisions] == [(1, False), (2, True)]
        assert instance.read_file_revision("dev", "/a.txt", 1) == b"a"
