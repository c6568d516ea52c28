"""The instance's change stamps, and the no-change sync that trusts them.

A sync remembers the embedded instance's change stamp of its scope; the next run compares it
instead of reading the flow index. These tests write behind the sync's back in every way a
user can (raw sqlite3 in another process, ``kestra-git flows deploy``, a delete through another
connection) and check the sync notices; and that a sync which is not disturbed reads no flow
or file table at all (SQLite's own statement trace, on the real connection).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kestra_git_tasks import LocalInstance, RunContext, SyncFlows, SyncNamespaceFiles
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.tasks.git.push_flows import PushFlows

if TYPE_CHECKING:
    from conftest import MakeRemote
    from gitserver import GitHttpServer

USER, PASSWORD = "git_user", "s3cr3t-token"
ROOT = Path(__file__).resolve().parent.parent
LOG = "io.kestra.plugin.core.log.Log"


def flow(flow_id: str, namespace: str = "anything", message: str = "hi") -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\n\ntasks:\n  - id: log\n"
        f"    type: {LOG}\n    message: {message}\n"
    )


def sync(instance: LocalInstance, home: Path, url: str, **properties: Any) -> SyncFlows.Output:
    properties.setdefault("target_namespace", "prod")
    task = SyncFlows(id="sync", url=url, username=USER, password=PASSWORD, **properties)
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="sync")
    ctx.task_id = "sync"
    return task.run(ctx)


def sync_files(instance: LocalInstance, home: Path, url: str) -> SyncNamespaceFiles.Output:
    task = SyncNamespaceFiles(
        id="files", url=url, username=USER, password=PASSWORD, namespace="prod", delete=True
    )
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="sync")
    ctx.task_id = "files"
    return task.run(ctx)


def states(output: Any) -> list[tuple[Any, ...]]:
    return [(r["gitPath"], r["syncState"], r.get("flowId") or r["kestraPath"]) for r in output]


@contextmanager
def statements(instance: LocalInstance) -> Iterator[list[str]]:
    """Every SQL statement the instance's connection runs inside the block."""
    seen: list[str] = []
    instance._conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        instance._conn.set_trace_callback(None)


def reads_of(seen: list[str], table: str) -> list[str]:
    return [s for s in seen if f"FROM {table} " in s or f"FROM {table}\n" in s]


def sqlite_in_another_process(database: Path, sql: str, *params: object) -> None:
    script = (
        "import sqlite3, sys, json; c = sqlite3.connect(sys.argv[1]); "
        "c.execute(sys.argv[2], json.loads(sys.argv[3])); c.commit()"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(database), sql, json.dumps(list(params))], check=True
    )


# -- the stamp itself ---------------------------------------------------------------------------
def test_the_stamp_moves_with_every_kind_of_write_whoever_makes_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        seen = [instance.change_stamp("flow", "prod")]
        instance.put_flow(flow("a", "prod"))
        seen.append(instance.change_stamp("flow", "prod"))
        database = home / "instance.db"
        for sql in (
            "INSERT OR IGNORE INTO flows VALUES ('prod', 'b', 1, 'x', 0, '2020')",
            "INSERT OR REPLACE INTO flows VALUES ('prod', 'b', 1, 'y', 0, '2020')",
            "UPDATE flows SET source = 'z' WHERE id = 'b'",
            "UPDATE flows SET namespace = 'moved' WHERE id = 'b'",
            "DELETE FROM flows WHERE namespace = 'prod'",
        ):
            sqlite_in_another_process(database, sql)
            seen.append(instance.change_stamp("flow", "prod"))
        assert len(set(seen)) == len(seen), seen


def test_the_stamp_is_per_kind_and_namespace_and_covers_children(tmp_path: Path) -> None:
    with LocalInstance(tmp_path / "home", validator=validate_source) as instance:
        before = {
            "prod": instance.change_stamp("flow", "prod"),
            "prod+children": instance.change_stamp("flow", "prod", include_children=True),
            "files": instance.change_stamp("file", "prod"),
            "dashboards": instance.change_stamp("dashboard"),
        }
        instance.put_flow(flow("a", "prod.team"))
        instance.put_flow(flow("b", "production"))  # a sibling, not a child
        after = {
            "prod": instance.change_stamp("flow", "prod"),
            "prod+children": instance.change_stamp("flow", "prod", include_children=True),
            "files": instance.change_stamp("file", "prod"),
            "dashboards": instance.change_stamp("dashboard"),
        }
        assert after["prod"] == before["prod"]
        assert after["prod+children"] != before["prod+children"]
        assert after["files"] == before["files"]
        instance.write_file("prod", "/a.txt", b"1")
        assert instance.change_stamp("file", "prod") != after["files"]
        dashboard = "id: d\ntitle: D\ncharts: []\n"
        instance.put_dashboard(dashboard)
        assert instance.change_stamp("dashboard") != after["dashboards"]


def test_a_recreated_database_never_repeats_an_old_stamp(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        instance.put_flow(flow("a", "prod"))
        old = instance.change_stamp("flow", "prod")
    for suffix in ("", "-wal", "-shm"):
        (home / f"instance.db{suffix}").unlink(missing_ok=True)
    with LocalInstance(home, validator=validate_source) as instance:
        instance.put_flow(flow("a", "prod"))
        assert instance.change_stamp("flow", "prod") != old


def test_a_rolled_back_batch_leaves_the_stamp_as_it_was(tmp_path: Path) -> None:
    with LocalInstance(tmp_path / "home", validator=validate_source) as instance:
        before = instance.change_stamp("flow", "prod")
        try:
            with instance.batch():
                instance.put_flow(flow("a", "prod"))
                raise RuntimeError("stop")
        except RuntimeError:
            pass
        assert instance.change_stamp("flow", "prod") == before


# -- the no-change sync ---------------------------------------------------------------------------
def test_a_no_change_sync_reads_no_flow_table(remote: MakeRemote, tmp_path: Path) -> None:
    repo = remote(files={f"_flows/f{i}.yml": flow(f"f{i}") for i in range(5)})
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        sync(instance, home, repo.url)
        with statements(instance) as seen:
            output = sync(instance, home, repo.url)
        assert {r["syncState"] for r in output.flows} == {"UNCHANGED"}
        assert reads_of(seen, "flows") == [], seen
        assert any("change_stamps" in s for s in seen)


def test_a_write_to_another_namespace_keeps_the_no_change_path(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a")})
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        sync(instance, home, repo.url)
        instance.put_flow(flow("elsewhere", "staging"))
        with statements(instance) as seen:
            sync(instance, home, repo.url)
        assert reads_of(seen, "flows") == []


def test_a_one_change_sync_does_not_read_the_index_after_its_writes(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={f"_flows/f{i}.yml": flow(f"f{i}") for i in range(5)})
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        sync(instance, home, repo.url)
        repo.commit({"_flows/f2.yml": flow("f2", message="changed")}, "one change")
        with statements(instance) as seen:
            output = sync(instance, home, repo.url)
        assert [r["flowId"] for r in output.flows if r["syncState"] == "UPDATED"] == ["f2"]
        assert [s for s in seen if "GROUP BY t.namespace, t.id" in s] == []  # no flow_index
        # and the remembered index is right: the next run is a no-change one
        with statements(instance) as seen:
            output = sync(instance, home, repo.url)
        assert {r["syncState"] for r in output.flows} == {"UNCHANGED"}
        assert reads_of(seen, "flows") == []


def test_a_flow_written_with_sqlite3_by_another_process_is_noticed(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a")})
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        sync(instance, home, repo.url)
        sqlite_in_another_process(
            home / "instance.db",
            "INSERT INTO flows VALUES ('prod', 'a', 2, ?, 0, '2026-01-01T00:00:00.000000+00:00')",
            flow("a", "prod", message="edited by hand"),
        )
        output = sync(instance, home, repo.url)
        assert states(output.flows) == [("_flows/a.yml", "UPDATED", "a")]
        assert output.drifted == ["prod/a"]
        latest = instance.get_flow("prod", "a")
        assert latest is not None and latest.revision == 3 and "edited" not in latest.source


def test_a_flow_deployed_with_the_cli_behind_the_syncs_back_is_noticed(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a")})
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        sync(instance, home, repo.url)
    edited = tmp_path / "a.yml"
    edited.write_text(flow("a", "prod", message="deployed by hand"))
    cli = [sys.executable, "-m", "kestra_git_tasks", "flows", "deploy", "--home", str(home)]
    subprocess.run([*cli, str(edited)], check=True, capture_output=True, cwd=ROOT)
    with LocalInstance(home, validator=validate_source) as instance:
        output = sync(instance, home, repo.url)
        assert states(output.flows) == [("_flows/a.yml", "UPDATED", "a")]
        assert output.drifted == ["prod/a"]


def test_a_flow_deleted_behind_the_syncs_back_is_synced_again(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a"), "_flows/b.yml": flow("b")})
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        sync(instance, home, repo.url)
        with LocalInstance(home) as other:  # another connection, as another process has
            assert other.delete_flow("prod", "b")
        output = sync(instance, home, repo.url)
        assert states(output.flows) == [
            ("_flows/a.yml", "UNCHANGED", "a"),
            ("_flows/b.yml", "ADDED", "b"),
        ]
        assert instance.get_flow("prod", "b") is not None


def test_a_write_between_the_plan_and_the_apply_is_not_hidden_by_the_stamp(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a")})
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        sync(instance, home, repo.url)
        repo.commit({"_flows/a.yml": flow("a", message="v2")}, "change")
        task = SyncFlows(
            id="sync", url=repo.url, username=USER, password=PASSWORD, target_namespace="prod"
        )
        ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="sync")
        plan = task.plan(ctx)
        with LocalInstance(home) as other:  # lands after the plan, before the apply
            other.put_flow(flow("sneaky", "prod"))
        rows = task.apply(ctx, plan)
        task.save_state(ctx, plan, rows)
        assert plan.memory.stamp is None  # not trusted: the next run reads the index
        output = sync(instance, home, repo.url)
        assert states(output.flows) == [("_flows/a.yml", "UNCHANGED", "a")]
        assert instance.get_flow("prod", "sneaky") is not None  # without delete: kept


def test_a_namespace_file_written_behind_the_syncs_back_is_noticed(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"_files/a.txt": "from git"})
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        sync_files(instance, home, repo.url)
        with statements(instance) as seen:
            output = sync_files(instance, home, repo.url)
        assert states(output.files) == [("_files/a.txt", "UNCHANGED", "/prod/_files/a.txt")]
        assert reads_of(seen, "files") == []
        database = home / "instance.db"
        with sqlite3.connect(database) as conn:
            conn.execute("UPDATE files SET content = X'00', sha256 = 'x' WHERE path = '/a.txt'")
        output = sync_files(instance, home, repo.url)
        assert states(output.files) == [("_files/a.txt", "OVERWRITTEN", "/prod/_files/a.txt")]
        assert instance.read_file("prod", "/a.txt") == b"from git"


# -- the no-change push ---------------------------------------------------------------------------
def push(instance: LocalInstance, home: Path, url: str) -> PushFlows.Output:
    task = PushFlows(
        id="push", url=url, username=USER, password=PASSWORD, source_namespace="prod", branch="main"
    )
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="push")
    ctx.task_id = "push"
    return task.run(ctx)


def test_a_no_change_push_collects_nothing_and_fetches_nothing(
    remote: MakeRemote, tmp_path: Path, git_server: GitHttpServer
) -> None:
    repo = remote(files={"README.md": "flows"})
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        instance.put_flow(flow("a", "prod"))
        first = push(instance, home, repo.url)
        assert first.commit_id == repo.head()
        git_server.requests.reset()
        with statements(instance) as seen:
            again = push(instance, home, repo.url)
        assert again.commit_id is None and again.flows == []
        assert reads_of(seen, "flows") == []
        assert git_server.requests.count(method="POST") == 0
        assert repo.head() == first.commit_id


def test_a_flow_written_behind_the_pushs_back_is_pushed(remote: MakeRemote, tmp_path: Path) -> None:
    repo = remote(files={"README.md": "flows"})
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        instance.put_flow(flow("a", "prod"))
        push(instance, home, repo.url)
        sqlite_in_another_process(
            home / "instance.db",
            "INSERT INTO flows VALUES ('prod', 'a', 2, ?, 0, '2026-01-01T00:00:00.000000+00:00')",
            flow("a", "prod", message="edited by hand"),
        )
        output = push(instance, home, repo.url)
        assert output.commit_id == repo.head()
        assert b"edited by hand" in repo.files()["_flows/a.yml"]


def test_a_branch_moved_by_someone_else_is_pushed_over(remote: MakeRemote, tmp_path: Path) -> None:
    repo = remote(files={"README.md": "flows"})
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        instance.put_flow(flow("a", "prod"))
        push(instance, home, repo.url)
        repo.commit({"_flows/a.yml": "id: a\nnamespace: prod\n# edited in git\n"}, "by hand")
        output = push(instance, home, repo.url)
        assert output.commit_id == repo.head()
        assert repo.files()["_flows/a.yml"] == flow("a", "prod").encode()


# -- the no-change answer read from the head file -------------------------------------------------
def diff_file_of(output: Any) -> str:
    return Path(output.diff_file).read_text(encoding="utf-8")


def test_the_quick_no_change_answer_equals_the_full_one(remote: MakeRemote, tmp_path: Path) -> None:
    repo = remote(files={"_flows/a.yml": flow("a"), "_flows/team/b.yml": flow("b")})
    home = tmp_path / "home"
    with LocalInstance(home, validator=validate_source) as instance:
        sync(instance, home, repo.url, include_child_namespaces=True, delete=True)
        instance.put_flow(flow("gone", "prod"))  # deleted by the next sync: not in its rows
        sync(instance, home, repo.url, include_child_namespaces=True, delete=True)
        quick = sync(instance, home, repo.url, include_child_namespaces=True, delete=True)
        quick_diff = diff_file_of(quick)
        for head in (home / "sync-quick").glob("*.head.json"):
            head.unlink()  # the same run, down the full path
        full = sync(instance, home, repo.url, include_child_namespaces=True, delete=True)
    assert quick.flows == full.flows
    assert [r["syncState"] for r in quick.flows] == ["UNCHANGED", "UNCHANGED"]
    assert quick_diff == diff_file_of(full)


def test_a_head_file_naming_another_folder_is_not_followed(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a")})
    home = tmp_path / "home"
    outside = tmp_path / "outside.jsonl"
    outside.write_text('{"gitPath": "evil", "syncState": "UNCHANGED"}\n')
    with LocalInstance(home, validator=validate_source) as instance:
        sync(instance, home, repo.url)
        (head,) = (home / "sync-quick").glob("*.head.json")
        data = json.loads(head.read_text())
        data["rows"] = "../../outside.jsonl"
        head.write_text(json.dumps(data))
        output = sync(instance, home, repo.url)
        assert states(output.flows) == [("_flows/a.yml", "UNCHANGED", "a")]
        for rows in (home / "sync-quick").glob("*.rows.jsonl"):
            rows.unlink()  # gone: the run goes down the full path
        output = sync(instance, home, repo.url)
        assert states(output.flows) == [("_flows/a.yml", "UNCHANGED", "a")]
