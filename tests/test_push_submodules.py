"""Push and submodules: a push writes no work tree and cannot commit into a submodule, so a
file it would write at or inside a gitlink is refused, naming both, before anything is pushed;
with ``cloneSubmodules: true`` the comparison reads the submodule's content (an identical
file is no change), and a submodule's file the instance lacks is not deleted (warned)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from test_sync_submodules import add_submodules, flow

from kestra_git_tasks import PushFlows, PushNamespaceFiles, RunContext
from kestra_git_tasks.errors import ConfigError
from kestra_git_tasks.instance.base import Instance, LogRecord

if TYPE_CHECKING:
    from conftest import MakeRemote

USER, PASSWORD = "git_user", "s3cr3t-token"


def push_files(
    instance: Instance, tmp_path: Path, url: str, records: list[LogRecord], **properties: Any
) -> PushNamespaceFiles.Output:
    ctx = RunContext.create(instance=instance, home=tmp_path / "home", flow_id="p")
    ctx.task_id = "push"
    ctx.sinks.append(records.append)
    task = PushNamespaceFiles(
        id="push", url=url, username=USER, password=PASSWORD, namespace="dev", **properties
    )
    output = task.run(ctx)
    assert isinstance(output, PushNamespaceFiles.Output)
    return output


@pytest.mark.parametrize("clone_submodules", [False, True])
def test_a_file_written_inside_a_submodule_is_refused_naming_it(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path, clone_submodules: bool
) -> None:
    lib = remote(files={"query.sql": "select 1\n"})
    top = remote(files={"_files/run.sh": "echo hi\n"})
    add_submodules(top, {"_files/sql": (lib.url, lib.head())})
    before = top.head()
    any_instance.write_file("dev", "/sql/query.sql", b"select 2\n")

    with pytest.raises(
        ConfigError, match=r"cannot write _files/sql/query.sql: .*submodule '_files/sql'"
    ):
        push_files(any_instance, tmp_path, top.url, [], clone_submodules=clone_submodules)

    assert top.head() == before
    assert lib.files() == {"query.sql": b"select 1\n"}


def test_a_file_identical_to_the_submodules_is_no_change(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    lib = remote(files={"query.sql": "select 1\n"})
    top = remote(files={"_files/run.sh": "echo hi\n"})
    add_submodules(top, {"_files/sql": (lib.url, lib.head())})
    any_instance.write_file("dev", "/run.sh", b"echo bye\n")
    any_instance.write_file("dev", "/sql/query.sql", b"select 1\n")

    output = push_files(any_instance, tmp_path, top.url, [], clone_submodules=True)

    assert [row["file"] for row in output.files] == ["_files/run.sh"]
    assert top.files()["_files/run.sh"] == b"echo bye\n"
    tree = top.head_commit().tree
    assert tree["_files/sql"].filemode == 0o160000  # the gitlink is kept


def test_a_submodules_file_missing_from_the_instance_is_not_deleted_but_warned(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    lib = remote(files={"query.sql": "select 1\n", "old.sql": "select 0\n"})
    top = remote(files={"_files/run.sh": "echo hi\n"})
    add_submodules(top, {"_files/sql": (lib.url, lib.head())})
    any_instance.write_file("dev", "/run.sh", b"echo bye\n")
    any_instance.write_file("dev", "/sql/query.sql", b"select 1\n")
    records: list[LogRecord] = []

    push_files(any_instance, tmp_path, top.url, records, clone_submodules=True, delete=True)

    warnings = [r.message for r in records if r.level == "WARN"]
    assert any(
        w.startswith("not deleted: _files/sql/old.sql is inside a submodule") for w in warnings
    )
    assert top.head_commit().tree["_files/sql"].filemode == 0o160000


def test_push_flows_into_a_submodule_folder_is_refused(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    lib = remote(files={"team.yml": flow("team", "dev.lib")})
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/lib": (lib.url, lib.head())})
    before = top.head()
    any_instance.put_flow(flow("team", "dev.lib").replace("message: hi", "message: changed"))
    ctx = RunContext.create(instance=any_instance, home=tmp_path / "home", flow_id="p")
    ctx.task_id = "push"
    task = PushFlows(
        id="push", url=top.url, username=USER, password=PASSWORD, source_namespace="dev",
        include_child_namespaces=True, clone_submodules=True,
    )  # fmt: skip

    with pytest.raises(ConfigError, match=r"cannot write _flows/lib/team.yml: .*'_flows/lib'"):
        task.run(ctx)

    assert top.head() == before
