"""SyncNamespaceFiles: Git -> namespace files, through a real smart-HTTP server and real SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from backends import files_state, run_flow_on, stored_execution
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME, BareRemote, GitHttpServer

from kestra_git_tasks import LocalInstance
from kestra_git_tasks.context import RunContext
from kestra_git_tasks.errors import (
    ConfigError,
    GitAuthError,
    GitDirectoryNotFoundError,
    GitRefNotFoundError,
    NotFoundError,
)
from kestra_git_tasks.instance.base import Instance, LogRecord
from kestra_git_tasks.tasks.git.sync_namespace_files import SyncNamespaceFiles

if TYPE_CHECKING:
    from conftest import MakeRemote

TYPE = "io.kestra.plugin.git.SyncNamespaceFiles"
BINARY = bytes(range(256)) * 4 + b"\x00\r\n\x1a\xff\xfe"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def instance(any_instance: Instance) -> Instance:
    """The embedded instance, then the fake Kestra server (see conftest.any_instance)."""
    return any_instance


def make_ctx(
    instance: LocalInstance,
    home: Path,
    namespace: str = "company.team",
    flow_id: str = "sync_files",
    logs: list[LogRecord] | None = None,
) -> RunContext:
    ctx = RunContext.create(instance=instance, home=home, flow_id=flow_id, namespace=namespace)
    if logs is not None:
        ctx.sinks.append(logs.append)
    return ctx


def task(url: str, **properties: Any) -> SyncNamespaceFiles:
    credentials = {"username": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD}
    return SyncNamespaceFiles(id="sync", url=url, **{**credentials, **properties})


def sync(ctx: RunContext, url: str, **properties: Any) -> SyncNamespaceFiles.Output:
    output = task(url, **properties).run(ctx)
    assert isinstance(output, SyncNamespaceFiles.Output)
    return output


def states(output: SyncNamespaceFiles.Output) -> list[tuple[str | None, str]]:
    return [(row["gitPath"], row["syncState"]) for row in output.files]


def stored(instance: LocalInstance, namespace: str) -> dict[str, bytes]:
    """Live files of ``namespace``: path -> content."""
    return {
        record.path: instance.read_file(namespace, record.path)
        for record in instance.list_files(namespace)
    }


def file_history(home: Path, namespace: str, path: str) -> list[tuple[int, int, bytes]]:
    """Every row of the ``files`` table for one file: (revision, deleted, content)."""
    with sqlite3.connect(home / "instance.db") as db:
        rows = db.execute(
            "SELECT revision, deleted, content FROM files WHERE namespace = ? AND path = ? "
            "ORDER BY revision",
            (namespace, path),
        ).fetchall()
    db.close()
    return [(revision, deleted, bytes(content)) for revision, deleted, content in rows]


def write_flow(folder: Path, text: str) -> Path:
    path = folder / "flow.yml"
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------
# properties and defaults
# ---------------------------------------------------------------------------------------------


def test_properties_default_to_kestras_values() -> None:
    sync_task = SyncNamespaceFiles(id="sync", url="https://example.com/repo.git")
    assert sync_task.namespace is None
    assert sync_task.git_directory == "_files"
    assert sync_task.branch == "main"
    assert sync_task.delete is False
    assert sync_task.dry_run is False
    assert sync_task.fail_on_missing_directory is True
    assert sync_task.allow_empty is False
    assert sync_task.username is None and sync_task.password is None


def test_properties_are_read_from_their_camel_case_yaml_names() -> None:
    sync_task = SyncNamespaceFiles.from_properties(
        {
            "id": "sync",
            "url": "https://example.com/repo.git",
            "namespace": "prod",
            "gitDirectory": "config",
            "branch": "dev",
            "delete": True,
            "dryRun": True,
            "failOnMissingDirectory": False,
            "allowEmpty": True,
        }
    )
    assert isinstance(sync_task, SyncNamespaceFiles)
    assert (sync_task.namespace, sync_task.git_directory, sync_task.branch) == (
        "prod",
        "config",
        "dev",
    )
    assert sync_task.delete and sync_task.dry_run and sync_task.allow_empty
    assert sync_task.fail_on_missing_directory is False


def test_misspelt_property_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match="unknown property 'gitDirectoy'"):
        SyncNamespaceFiles.from_properties({"id": "sync", "url": "u", "gitDirectoy": "x"})


def test_namespace_defaults_to_the_running_flows_namespace(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A"})
    ctx = make_ctx(instance, home, namespace="company.team")

    output = sync(ctx, bare.url)

    assert output.files == [
        {
            "gitPath": "_files/a.txt",
            "syncState": "ADDED",
            "kestraPath": "/company/team/_files/a.txt",
        }
    ]
    assert stored(instance, "company.team") == {"/a.txt": b"A"}


def test_explicit_namespace_is_the_one_written_to(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A"})
    ctx = make_ctx(instance, home, namespace="company.team")

    output = sync(ctx, bare.url, namespace="prod")

    assert output.files[0]["kestraPath"] == "/prod/_files/a.txt"
    assert stored(instance, "prod") == {"/a.txt": b"A"}
    assert instance.list_files("company.team") == []


def test_git_directory_defaults_to_the_files_folder(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A", "other/b.txt": "B", "root.txt": "R"})

    output = sync(make_ctx(instance, home), bare.url, namespace="prod")

    assert states(output) == [("_files/a.txt", "ADDED")]
    assert stored(instance, "prod") == {"/a.txt": b"A"}


def test_custom_git_directory_is_read_and_named_in_git_path(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"config/files/a.txt": "A", "config/b.txt": "B", "_files/c.txt": "C"})

    output = sync(
        make_ctx(instance, home), bare.url, namespace="prod", git_directory="config/files"
    )

    assert output.files == [
        {"gitPath": "config/files/a.txt", "syncState": "ADDED", "kestraPath": "/prod/_files/a.txt"}
    ]
    assert stored(instance, "prod") == {"/a.txt": b"A"}


def test_branch_defaults_to_main_and_another_branch_can_be_read(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "from main"})
    bare.commit({"_files/a.txt": "from dev", "_files/dev.txt": "D"}, branch="dev")
    ctx = make_ctx(instance, home)

    sync(ctx, bare.url, namespace="main-ns")
    output = sync(ctx, bare.url, namespace="dev-ns", branch="dev")

    assert stored(instance, "main-ns") == {"/a.txt": b"from main"}
    assert stored(instance, "dev-ns") == {"/a.txt": b"from dev", "/dev.txt": b"D"}
    assert output.commit_id == bare.head("dev")


# ---------------------------------------------------------------------------------------------
# rows and instance state
# ---------------------------------------------------------------------------------------------


@pytest.mark.embedded_only("reads the embedded instance's SQLite tables")
def test_added_rows_carry_kestra_path_and_git_path(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/cloned.json": '{"a": 1}'})

    output = sync(make_ctx(instance, home), bare.url, namespace="my.namespace")

    assert output.files == [
        {
            "gitPath": "_files/cloned.json",
            "syncState": "ADDED",
            "kestraPath": "/my/namespace/_files/cloned.json",
        }
    ]
    assert output.commit_id == bare.head()
    assert file_history(home, "my.namespace", "/cloned.json") == [(1, 0, b'{"a": 1}')]


def test_nested_folders_keep_their_structure(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(
        files={"_files/top.txt": "T", "_files/a/mid.txt": "M", "_files/a/b/c/deep.sql": "D"}
    )

    output = sync(make_ctx(instance, home), bare.url, namespace="prod.team")

    assert output.files == [
        {
            "gitPath": "_files/a/b/c/deep.sql",
            "syncState": "ADDED",
            "kestraPath": "/prod/team/_files/a/b/c/deep.sql",
        },
        {
            "gitPath": "_files/a/mid.txt",
            "syncState": "ADDED",
            "kestraPath": "/prod/team/_files/a/mid.txt",
        },
        {
            "gitPath": "_files/top.txt",
            "syncState": "ADDED",
            "kestraPath": "/prod/team/_files/top.txt",
        },
    ]
    assert stored(instance, "prod.team") == {
        "/a/b/c/deep.sql": b"D",
        "/a/mid.txt": b"M",
        "/top.txt": b"T",
    }


@pytest.mark.embedded_only("reads the embedded instance's SQLite tables")
def test_changed_content_is_overwritten_as_a_new_revision_keeping_the_old_one(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/conf.yml": "v: 1\n", "_files/same.txt": "same"})
    ctx = make_ctx(instance, home)
    sync(ctx, bare.url, namespace="prod")
    bare.commit({"_files/conf.yml": "v: 2\n"})

    output = sync(ctx, bare.url, namespace="prod")

    assert states(output) == [("_files/conf.yml", "OVERWRITTEN"), ("_files/same.txt", "UNCHANGED")]
    assert output.files[0]["kestraPath"] == "/prod/_files/conf.yml"
    assert instance.read_file("prod", "/conf.yml") == b"v: 2\n"
    assert file_history(home, "prod", "/conf.yml") == [(1, 0, b"v: 1\n"), (2, 0, b"v: 2\n")]
    assert file_history(home, "prod", "/same.txt") == [(1, 0, b"same")]


@pytest.mark.embedded_only("reads the embedded instance's SQLite tables")
def test_identical_content_already_in_the_instance_is_unchanged_without_new_revision(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "same bytes", "_files/b.txt": "new"})
    instance.write_file("prod", "/a.txt", b"same bytes")

    output = sync(make_ctx(instance, home), bare.url, namespace="prod")

    assert states(output) == [("_files/a.txt", "UNCHANGED"), ("_files/b.txt", "ADDED")]
    assert file_history(home, "prod", "/a.txt") == [(1, 0, b"same bytes")]


def test_files_missing_from_git_are_kept_without_delete(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A"})
    instance.write_file("prod", "/only-in-kestra.txt", b"K")

    output = sync(make_ctx(instance, home), bare.url, namespace="prod")

    assert states(output) == [("_files/a.txt", "ADDED")]
    assert stored(instance, "prod") == {"/a.txt": b"A", "/only-in-kestra.txt": b"K"}


@pytest.mark.embedded_only("reads the embedded instance's SQLite tables")
def test_delete_true_deletes_files_missing_from_git_keeping_their_history(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A"})
    instance.write_file("prod", "/gone.txt", b"bye")
    instance.write_file("prod", "/dir/old.csv", b"x,y")
    instance.write_file("other", "/gone.txt", b"other namespace")

    output = sync(make_ctx(instance, home), bare.url, namespace="prod", delete=True)

    assert output.files == [
        {"gitPath": None, "syncState": "DELETED", "kestraPath": "/prod/_files/dir/old.csv"},
        {"gitPath": None, "syncState": "DELETED", "kestraPath": "/prod/_files/gone.txt"},
        {"gitPath": "_files/a.txt", "syncState": "ADDED", "kestraPath": "/prod/_files/a.txt"},
    ]
    assert stored(instance, "prod") == {"/a.txt": b"A"}
    with pytest.raises(NotFoundError):
        instance.read_file("prod", "/gone.txt")
    assert file_history(home, "prod", "/gone.txt") == [(1, 0, b"bye"), (2, 1, b"bye")]
    assert stored(instance, "other") == {"/gone.txt": b"other namespace"}


def test_delete_also_removes_files_outside_git_directory_like_kestra(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"sub/folder/a.txt": "A"})
    instance.write_file("prod", "/README.md", b"readme")

    output = sync(
        make_ctx(instance, home),
        bare.url,
        namespace="prod",
        git_directory="sub/folder",
        delete=True,
    )

    assert states(output) == [(None, "DELETED"), ("sub/folder/a.txt", "ADDED")]
    assert stored(instance, "prod") == {"/a.txt": b"A"}


def test_rows_are_sorted_by_git_path_with_deletions_first(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(
        files={
            "_files/b.txt": "b",
            "_files/a/z.txt": "z",
            "_files/a.txt": "a",
            "_files/A.txt": "A",
            "_files/a-b.txt": "ab",
            "_files/c/d/e.txt": "e",
        }
    )
    instance.write_file("prod", "/zz-old.txt", b"old")
    instance.write_file("prod", "/aa-old.txt", b"old")
    instance.write_file("prod", "/b.txt", b"b")  # UNCHANGED, sorted among the others

    output = sync(make_ctx(instance, home), bare.url, namespace="prod", delete=True)

    assert states(output) == [
        (None, "DELETED"),
        (None, "DELETED"),
        ("_files/A.txt", "ADDED"),
        ("_files/a-b.txt", "ADDED"),
        ("_files/a.txt", "ADDED"),
        ("_files/a/z.txt", "ADDED"),
        ("_files/b.txt", "UNCHANGED"),
        ("_files/c/d/e.txt", "ADDED"),
    ]
    assert [row["kestraPath"] for row in output.files[:2]] == [
        "/prod/_files/aa-old.txt",
        "/prod/_files/zz-old.txt",
    ]


# ---------------------------------------------------------------------------------------------
# what is synced: .kestraignore, .gitkeep, binary files
# ---------------------------------------------------------------------------------------------


def test_root_kestraignore_excludes_paths_and_is_not_synced(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(
        files={
            "_files/.kestraignore": "*.log\nsecret/\n/build.txt\n",
            "_files/keep.txt": "K",
            "_files/debug.log": "L",
            "_files/nested/trace.log": "L",
            "_files/secret/key.pem": "P",
            "_files/build.txt": "root build",
            "_files/nested/build.txt": "nested build",
        }
    )

    output = sync(make_ctx(instance, home), bare.url, namespace="prod")

    assert states(output) == [
        ("_files/keep.txt", "ADDED"),
        ("_files/nested/build.txt", "ADDED"),
    ]
    assert stored(instance, "prod") == {"/keep.txt": b"K", "/nested/build.txt": b"nested build"}


def test_kestraignored_instance_files_are_deleted_with_delete_true(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    # An ignored path is "not in Git": with delete it goes, like any other file not produced by Git.
    bare = remote(
        files={"_files/.kestraignore": "*.log\n", "_files/a.txt": "A", "_files/x.log": "L"}
    )
    instance.write_file("prod", "/x.log", b"L")

    output = sync(make_ctx(instance, home), bare.url, namespace="prod", delete=True)

    assert output.files[0] == {
        "gitPath": None,
        "syncState": "DELETED",
        "kestraPath": "/prod/_files/x.log",
    }
    assert stored(instance, "prod") == {"/a.txt": b"A"}


def test_nested_kestraignore_is_synced_as_a_normal_file_and_not_honoured(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/sub/.kestraignore": "*.txt\n", "_files/sub/a.txt": "A"})

    output = sync(make_ctx(instance, home), bare.url, namespace="prod")

    assert states(output) == [("_files/sub/.kestraignore", "ADDED"), ("_files/sub/a.txt", "ADDED")]
    assert stored(instance, "prod") == {"/sub/.kestraignore": b"*.txt\n", "/sub/a.txt": b"A"}


def test_gitkeep_and_gitignore_files_are_skipped(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(
        files={
            "_files/.gitkeep": "",
            "_files/empty/.gitkeep": "",
            "_files/.gitignore": "*.tmp\n",
            "_files/a.txt": "A",
        }
    )

    output = sync(make_ctx(instance, home), bare.url, namespace="prod")

    assert states(output) == [("_files/a.txt", "ADDED")]
    assert stored(instance, "prod") == {"/a.txt": b"A"}


@pytest.mark.embedded_only("reads the embedded instance's SQLite tables")
def test_binary_files_round_trip_byte_for_byte(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(
        files={"_files/blob.bin": BINARY, "_files/img/pixel.png": b"\x89PNG\r\n\x1a\n\x00"}
    )
    ctx = make_ctx(instance, home)

    sync(ctx, bare.url, namespace="prod")

    assert instance.read_file("prod", "/blob.bin") == BINARY
    assert instance.read_file("prod", "/img/pixel.png") == b"\x89PNG\r\n\x1a\n\x00"
    assert file_history(home, "prod", "/blob.bin") == [(1, 0, BINARY)]
    changed = BINARY[::-1]
    bare.commit({"_files/blob.bin": changed})
    output = sync(ctx, bare.url, namespace="prod")
    assert ("_files/blob.bin", "OVERWRITTEN") in states(output)
    assert instance.read_file("prod", "/blob.bin") == changed


# ---------------------------------------------------------------------------------------------
# dryRun
# ---------------------------------------------------------------------------------------------


def test_dry_run_reports_the_same_rows_and_writes_nothing(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/new.txt": "N", "_files/changed.txt": "v2", "_files/same.txt": "S"})
    instance.write_file("prod", "/changed.txt", b"v1")
    instance.write_file("prod", "/same.txt", b"S")
    instance.write_file("prod", "/gone.txt", b"G")
    before = files_state(instance)
    ctx = make_ctx(instance, home)

    planned = sync(ctx, bare.url, namespace="prod", delete=True, dry_run=True)

    assert states(planned) == [
        (None, "DELETED"),
        ("_files/changed.txt", "OVERWRITTEN"),
        ("_files/new.txt", "ADDED"),
        ("_files/same.txt", "UNCHANGED"),
    ]
    assert files_state(instance) == before
    assert not (home / "sync-state").exists() or not any((home / "sync-state").iterdir())

    applied = sync(ctx, bare.url, namespace="prod", delete=True)

    assert applied.files == planned.files
    assert stored(instance, "prod") == {"/changed.txt": b"v2", "/new.txt": b"N", "/same.txt": b"S"}


# ---------------------------------------------------------------------------------------------
# failures: directory, branch, credentials
# ---------------------------------------------------------------------------------------------


def test_missing_directory_fails_with_kestras_message(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"elsewhere/a.txt": "A"})
    instance.write_file("prod", "/kept.txt", b"K")

    with pytest.raises(GitDirectoryNotFoundError) as caught:
        sync(make_ctx(instance, home), bare.url, namespace="prod", delete=True)

    assert (
        "The directory '_files' was not found in the git repository. Verify if the path exists "
        "in the specified branch 'main'." in str(caught.value)
    )
    assert stored(instance, "prod") == {"/kept.txt": b"K"}


def test_missing_directory_counts_as_empty_when_fail_on_missing_directory_is_false(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"elsewhere/a.txt": "A"})
    instance.write_file("prod", "/kept.txt", b"K")
    logs: list[LogRecord] = []

    output = sync(
        make_ctx(instance, home, logs=logs),
        bare.url,
        namespace="prod",
        git_directory="missing",
        fail_on_missing_directory=False,
    )

    assert output.files == []
    assert stored(instance, "prod") == {"/kept.txt": b"K"}
    assert any(log.level == "WARN" and "'missing' not found" in log.message for log in logs)


def test_git_directory_that_is_a_file_fails(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files": "I am a file"})

    with pytest.raises(GitDirectoryNotFoundError, match="exists but is a file") as caught:
        sync(make_ctx(instance, home), bare.url, namespace="prod")

    assert str(caught.value).startswith(
        "The path '_files' exists but is a file, not a directory. Sync tasks require a directory "
        "to process files."
    )
    assert instance.list_files("prod") == []


def test_missing_branch_raises_ref_not_found_naming_it_and_changes_nothing(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A"})
    instance.write_file("prod", "/kept.txt", b"K")
    before = files_state(instance)

    with pytest.raises(GitRefNotFoundError, match="no-such-branch"):
        sync(
            make_ctx(instance, home),
            bare.url,
            namespace="prod",
            branch="no-such-branch",
            delete=True,
        )

    assert files_state(instance) == before


def test_wrong_password_raises_auth_error_and_changes_nothing(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A"})
    instance.write_file("prod", "/kept.txt", b"K")
    before = files_state(instance)

    with pytest.raises(GitAuthError) as caught:
        sync(
            make_ctx(instance, home),
            bare.url,
            namespace="prod",
            password="wrong-pass-123",
            delete=True,
        )

    assert "wrong-pass-123" not in str(caught.value)
    assert files_state(instance) == before


# ---------------------------------------------------------------------------------------------
# delete guards
# ---------------------------------------------------------------------------------------------


def test_delete_with_an_empty_git_directory_is_refused_mentioning_allow_empty(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/.gitkeep": "", "README.md": "r"})
    instance.write_file("prod", "/a.txt", b"A")
    instance.write_file("prod", "/b.txt", b"B")
    before = files_state(instance)

    with pytest.raises(ConfigError, match="allowEmpty"):
        sync(make_ctx(instance, home), bare.url, namespace="prod", delete=True)

    assert files_state(instance) == before


def test_delete_with_a_missing_directory_treated_as_empty_is_refused_too(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"README.md": "r"})
    instance.write_file("prod", "/a.txt", b"A")

    with pytest.raises(ConfigError, match="allowEmpty"):
        sync(
            make_ctx(instance, home),
            bare.url,
            namespace="prod",
            delete=True,
            fail_on_missing_directory=False,
        )

    assert stored(instance, "prod") == {"/a.txt": b"A"}


def test_allow_empty_lets_delete_empty_the_namespace(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/.gitkeep": ""})
    instance.write_file("prod", "/a.txt", b"A")
    instance.write_file("prod", "/b.txt", b"B")

    output = sync(
        make_ctx(instance, home), bare.url, namespace="prod", delete=True, allow_empty=True
    )

    assert output.files == [
        {"gitPath": None, "syncState": "DELETED", "kestraPath": "/prod/_files/a.txt"},
        {"gitPath": None, "syncState": "DELETED", "kestraPath": "/prod/_files/b.txt"},
    ]
    assert instance.list_files("prod") == []


def test_system_namespace_files_are_not_deleted_when_namespace_is_implicit(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A"})
    instance.write_file("system", "/keep.txt", b"K")
    logs: list[LogRecord] = []

    output = sync(make_ctx(instance, home, namespace="system", logs=logs), bare.url, delete=True)

    assert states(output) == [("_files/a.txt", "ADDED")]
    assert stored(instance, "system") == {"/a.txt": b"A", "/keep.txt": b"K"}
    assert any("kept 1 file(s) of system" in log.message for log in logs)


def test_system_namespace_files_are_deleted_when_namespace_system_is_explicit(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A"})
    instance.write_file("system", "/gone.txt", b"G")

    output = sync(
        make_ctx(instance, home, namespace="system"), bare.url, namespace="system", delete=True
    )

    assert states(output) == [(None, "DELETED"), ("_files/a.txt", "ADDED")]
    assert stored(instance, "system") == {"/a.txt": b"A"}


def test_system_guard_through_a_flow_honours_only_an_explicit_namespace(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A"})
    instance.write_file("system", "/keep.txt", b"K")
    implicit = write_flow(
        tmp_path,
        f"""\
id: sync_system_files
namespace: system
tasks:
  - id: sync
    type: {TYPE}
    url: {bare.url}
    username: {DEFAULT_USERNAME}
    password: "{{{{ secret('GIT_PASSWORD') }}}}"
    delete: true
""",
    )
    secrets = {"GIT_PASSWORD": DEFAULT_PASSWORD}

    execution = run_flow_on(instance, implicit, home=home, secrets=secrets)

    assert execution.state == "SUCCESS", execution.error
    assert [row["syncState"] for row in execution.outputs["sync"]["files"]] == ["ADDED"]
    assert stored(instance, "system") == {"/a.txt": b"A", "/keep.txt": b"K"}

    explicit = tmp_path / "explicit"
    explicit.mkdir()
    bare.commit({"_files/b.txt": "B"})  # the remote moves: this run cannot take the fast path
    flow = write_flow(
        explicit,
        implicit.read_text().replace(
            "    delete: true\n", "    namespace: system\n    delete: true\n"
        ),
    )

    execution = run_flow_on(instance, flow, home=home, secrets=secrets)

    assert execution.state == "SUCCESS", execution.error
    assert [row["syncState"] for row in execution.outputs["sync"]["files"]] == [
        "DELETED",
        "UNCHANGED",
        "ADDED",
    ]
    assert stored(instance, "system") == {"/a.txt": b"A", "/b.txt": b"B"}


def test_explicit_system_namespace_deletes_even_right_after_an_implicit_run(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A"})
    instance.write_file("system", "/gone.txt", b"G")
    ctx = make_ctx(instance, home, namespace="system")
    sync(ctx, bare.url, delete=True)  # implicit: gone.txt is protected
    assert stored(instance, "system") == {"/a.txt": b"A", "/gone.txt": b"G"}

    output = sync(ctx, bare.url, namespace="system", delete=True)  # explicit, same commit

    assert states(output) == [(None, "DELETED"), ("_files/a.txt", "UNCHANGED")]
    assert stored(instance, "system") == {"/a.txt": b"A"}


# ---------------------------------------------------------------------------------------------
# incremental: nothing changed -> nothing done
# ---------------------------------------------------------------------------------------------


def upload_pack_posts(server: GitHttpServer, bare: BareRemote, since: int = 0) -> int:
    recorded = server.requests.matching(repo=bare.name)[since:]
    return sum(1 for r in recorded if r.method == "POST" and r.endpoint == "git-upload-pack")


def test_second_sync_with_nothing_changed_rewrites_nothing_and_only_lists_refs(
    git_server: GitHttpServer, remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A", "_files/sub/b.bin": BINARY})
    instance.write_file("prod", "/gone.txt", b"G")
    ctx = make_ctx(instance, home)
    first = sync(ctx, bare.url, namespace="prod", delete=True)
    assert states(first) == [
        (None, "DELETED"),
        ("_files/a.txt", "ADDED"),
        ("_files/sub/b.bin", "ADDED"),
    ]
    assert upload_pack_posts(git_server, bare) >= 1
    table = files_state(instance)
    mark = len(git_server.requests.matching(repo=bare.name))

    second = sync(ctx, bare.url, namespace="prod", delete=True)

    assert states(second) == [("_files/a.txt", "UNCHANGED"), ("_files/sub/b.bin", "UNCHANGED")]
    assert [row["kestraPath"] for row in second.files] == [
        "/prod/_files/a.txt",
        "/prod/_files/sub/b.bin",
    ]
    assert files_state(instance) == table
    assert upload_pack_posts(git_server, bare, since=mark) == 0
    since = git_server.requests.matching(repo=bare.name)[mark:]
    assert {(r.method, r.endpoint) for r in since} == {("GET", "info/refs")}


@pytest.mark.embedded_only("reads the embedded instance's SQLite tables")
def test_sync_after_an_edit_in_the_instance_restores_git_content_on_the_same_commit(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "from git"})
    ctx = make_ctx(instance, home)
    sync(ctx, bare.url, namespace="prod")
    instance.write_file("prod", "/a.txt", b"edited by hand")

    output = sync(ctx, bare.url, namespace="prod")

    assert states(output) == [("_files/a.txt", "OVERWRITTEN")]
    assert [entry[:2] for entry in file_history(home, "prod", "/a.txt")] == [(1, 0), (2, 0), (3, 0)]
    assert instance.read_file("prod", "/a.txt") == b"from git"


# ---------------------------------------------------------------------------------------------
# outputs: diff file, run_flow, secrets
# ---------------------------------------------------------------------------------------------


def test_diff_file_holds_the_same_rows_as_json_lines(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A", "_files/b/c.txt": "C"})
    instance.write_file("prod", "/gone.txt", b"G")
    ctx = make_ctx(instance, home)

    output = sync(ctx, bare.url, namespace="prod", delete=True)

    diff_file = Path(output.diff_file)
    assert diff_file == home / "executions" / ctx.execution_id / "sync-files.jsonl"
    lines = diff_file.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == output.files
    assert len(lines) == 3
    assert '"gitPath": null' in lines[0]  # null fields are written, as Kestra does
    assert output.to_dict()["diffFile"] == str(diff_file)


def test_run_flow_syncs_into_the_flow_namespace_with_secret_credentials(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A", "_files/queries/q.sql": "select 1"})
    flow = write_flow(
        tmp_path,
        f"""\
id: sync_files_from_git
namespace: company.team
tasks:
  - id: git
    type: {TYPE}
    url: {bare.url}
    username: "{{{{ secret('GIT_USER') }}}}"
    password: "{{{{ secret('GIT_PASSWORD') }}}}"
  - id: report
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ outputs.git.files | length }}}} file(s) at {{{{ outputs.git.commitId }}}}"
""",
    )

    execution = run_flow_on(
        instance,
        flow,
        home=home,
        secrets={"GIT_USER": DEFAULT_USERNAME, "GIT_PASSWORD": DEFAULT_PASSWORD},
    )

    assert execution.state == "SUCCESS", execution.error
    outputs = execution.outputs["git"]
    assert outputs["files"] == [
        {
            "gitPath": "_files/a.txt",
            "syncState": "ADDED",
            "kestraPath": "/company/team/_files/a.txt",
        },
        {
            "gitPath": "_files/queries/q.sql",
            "syncState": "ADDED",
            "kestraPath": "/company/team/_files/queries/q.sql",
        },
    ]
    assert outputs["commitId"] == bare.head()
    assert Path(outputs["diffFile"]).is_file()
    assert execution.logs[-1].message == f"2 file(s) at {bare.head()}"
    assert stored(instance, "company.team") == {"/a.txt": b"A", "/queries/q.sql": b"select 1"}
    assert stored_execution(instance, home, execution.id).outputs == execution.outputs


def all_bytes_under(folder: Path) -> Iterator[tuple[Path, bytes]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path, path.read_bytes()


@pytest.mark.embedded_only("reads the embedded instance's SQLite tables")
def test_password_never_appears_in_home_files_outputs_or_logs(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    bare = remote(files={"_files/a.txt": "A"})
    flow = write_flow(
        tmp_path,
        f"""\
id: sync_files_from_git
namespace: prod
tasks:
  - id: git
    type: {TYPE}
    url: {bare.url}
    username: {DEFAULT_USERNAME}
    password: "{{{{ secret('GIT_PASSWORD') }}}}"
    delete: true
  - id: echo
    type: io.kestra.plugin.core.log.Log
    message: "token is {{{{ secret('GIT_PASSWORD') }}}}"
""",
    )
    seen: list[LogRecord] = []

    execution = run_flow_on(
        instance,
        flow,
        home=home,
        secrets={"GIT_PASSWORD": DEFAULT_PASSWORD},
        log_sinks=[seen.append],
    )
    # A direct call with the password written in the URL, then a failing one.
    logs: list[LogRecord] = []
    ctx = make_ctx(instance, home, namespace="prod", logs=logs)
    bare.commit({"_files/b.txt": "B"})
    direct = SyncNamespaceFiles(id="sync", url=bare.authenticated_url, delete=True).run(ctx)
    with pytest.raises(GitRefNotFoundError) as caught:
        sync(ctx, bare.authenticated_url, branch="nope")

    assert DEFAULT_PASSWORD in bare.authenticated_url
    assert execution.state == "SUCCESS", execution.error
    assert stored(instance, "prod") == {"/a.txt": b"A", "/b.txt": b"B"}
    assert "token is ******" in [log.message for log in execution.logs]
    texts = [
        json.dumps(execution.outputs),
        json.dumps(stored_execution(instance, home, execution.id).outputs),
        *(log.message for log in [*execution.logs, *seen, *logs]),
        json.dumps(direct.to_dict() if direct is not None else {}),
        str(caught.value),
    ]
    assert all(DEFAULT_PASSWORD not in text for text in texts)
    leaked = [path for path, data in all_bytes_under(home) if DEFAULT_PASSWORD.encode() in data]
    assert leaked == []
    assert (home / "repos").is_dir() and (home / "instance.db").is_file()
