"""Git content a sync cannot store faithfully is refused before anything is written.

* A file name that is not UTF-8 (Git stores names as bytes) stops SyncFlows and
  SyncNamespaceFiles at plan time, naming the file: before, SyncFlows wrote the flows and then
  failed on the diff file, breaking all-or-nothing.
* Flow content that is not UTF-8 (Latin-1) is an invalid flow naming the file, as
  ``kestra-git validate`` says, instead of being saved with replacement characters.
* Namespace files are bytes: whatever they hold is stored exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME

from kestra_git_tasks.context import RunContext
from kestra_git_tasks.deploy import deploy_folder
from kestra_git_tasks.errors import FlowFileError, FlowValidationError
from kestra_git_tasks.instance.base import Instance
from kestra_git_tasks.tasks.git.sync_flow import SyncFlow
from kestra_git_tasks.tasks.git.sync_flows import SyncFlows
from kestra_git_tasks.tasks.git.sync_namespace_files import SyncNamespaceFiles

if TYPE_CHECKING:
    from conftest import MakeRemote

BAD_NAME = "caf\udce9.yml"  # the bytes b"caf\xe9.yml": Latin-1, not UTF-8
LATIN_1 = "id: cafe\nnamespace: dev\ndescription: café\ntasks:\n  - id: log\n" + (
    "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
)


def flow(flow_id: str) -> str:
    return (
        f"id: {flow_id}\nnamespace: dev\ntasks:\n  - id: log\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )


@pytest.fixture
def instance(any_instance: Instance) -> Instance:
    return any_instance


def run(task: Any, instance: Instance, home: Path) -> Any:
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="sync")
    ctx.task_id = task.id
    return task.run(ctx)


def sync_flows(url: str, **properties: Any) -> SyncFlows:
    auth = {"username": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD}
    return SyncFlows(id="git", url=url, target_namespace="prod", **auth, **properties)


def sync_files(url: str, **properties: Any) -> SyncNamespaceFiles:
    auth = {"username": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD}
    return SyncNamespaceFiles(id="git", url=url, namespace="prod", **auth, **properties)


# -- file names -----------------------------------------------------------------------------
def test_sync_flows_refuses_a_flow_file_name_that_is_not_utf8_and_writes_nothing(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a"), f"_flows/{BAD_NAME}": flow("b")})
    with pytest.raises(FlowFileError) as caught:
        run(sync_flows(repo.url), instance, tmp_path / "home")
    assert "_flows/caf\\xe9.yml" in str(caught.value) and "not UTF-8" in str(caught.value)
    assert instance.list_flows("prod", include_children=True) == []
    assert not (tmp_path / "home" / "sync-state").exists()


def test_a_bad_name_outside_the_flows_in_scope_does_not_stop_the_sync(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    files: dict[str, bytes | str] = {
        "_flows/a.yml": flow("a"),
        "_flows/R\udce9ADME.md": "not a flow",
        f"_flows/team/{BAD_NAME}": flow("b"),  # a child folder, out of scope
    }
    output = run(sync_flows(remote(files=files).url), instance, tmp_path / "home")
    assert [row["gitPath"] for row in output.flows] == ["_flows/a.yml"]


def test_sync_namespace_files_refuses_a_file_name_that_is_not_utf8_and_writes_nothing(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"_files/a.txt": "a", "_files/caf\udce9.txt": "b"})
    with pytest.raises(FlowFileError, match=r"_files/caf\\xe9\.txt: the file name is not UTF-8"):
        run(sync_files(repo.url), instance, tmp_path / "home")
    assert instance.list_files("prod") == []


# -- flow content ---------------------------------------------------------------------------
def test_sync_flows_refuses_latin1_flow_content_naming_the_file(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a"), "_flows/cafe.yml": LATIN_1.encode("latin-1")})
    with pytest.raises(FlowValidationError) as caught:
        run(sync_flows(repo.url), instance, tmp_path / "home")
    assert "_flows/cafe.yml" in str(caught.value) and "not UTF-8" in str(caught.value)
    assert instance.list_flows("prod") == []


def test_ignore_invalid_flows_skips_latin1_content_and_syncs_the_rest(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a"), "_flows/cafe.yml": LATIN_1.encode("latin-1")})
    run(sync_flows(repo.url, ignore_invalid_flows=True), instance, tmp_path / "home")
    assert [record.id for record in instance.list_flows("prod")] == ["a"]


def test_utf8_flow_content_is_stored_exactly(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/cafe.yml": LATIN_1})
    run(sync_flows(repo.url), instance, tmp_path / "home")
    saved = instance.get_flow("prod", "cafe")
    assert saved is not None and saved.source == LATIN_1.replace(
        "namespace: dev", "namespace: prod"
    )


def test_sync_flow_refuses_latin1_flow_content_naming_the_file(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"flows/cafe.yml": LATIN_1.encode("latin-1")})
    task = SyncFlow(
        id="one",
        url=repo.url,
        username=DEFAULT_USERNAME,
        password=DEFAULT_PASSWORD,
        flow_path="flows/cafe.yml",
        target_namespace="prod",
    )
    with pytest.raises(FlowValidationError, match=r"flows/cafe\.yml: not UTF-8"):
        run(task, instance, tmp_path / "home")
    assert instance.list_flows("prod") == []


def test_deploy_refuses_latin1_flow_content_naming_the_file(
    instance: Instance, tmp_path: Path
) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "a.yml").write_text(flow("a"))
    (folder / "cafe.yml").write_bytes(LATIN_1.encode("latin-1"))
    with pytest.raises(FlowValidationError, match=r"cafe\.yml\): not UTF-8"):
        deploy_folder(folder, "prod", instance, home=tmp_path / "home")
    assert instance.list_flows("prod") == []


# -- namespace file content -----------------------------------------------------------------
def test_namespace_files_keep_their_bytes_exactly(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    contents = {
        "_files/latin1.txt": "café\n".encode("latin-1"),
        "_files/crlf.txt": b"a\r\nb\r\n",
        "_files/bom.txt": b"\xef\xbb\xbfhello",
        "_files/binary.bin": bytes(range(256)),
    }
    repo = remote(files=dict(contents))
    run(sync_files(repo.url), instance, tmp_path / "home")
    for git_path, content in contents.items():
        assert instance.read_file("prod", "/" + git_path.removeprefix("_files/")) == content
