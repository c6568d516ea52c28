"""The embedded SQLite instance: revisions, scoping, batches, executions, and real concurrency."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

import kestra_git_tasks
from kestra_git_tasks.errors import FlowValidationError, InstanceError, NotFoundError
from kestra_git_tasks.instance.base import ExecutionRecord, Instance, LogRecord
from kestra_git_tasks.instance.local import SCHEMA_VERSION, LocalInstance

REPO_ROOT = Path(kestra_git_tasks.__file__).resolve().parents[1]


def flow(namespace: str, flow_id: str, extra: str = "") -> str:
    return f"id: {flow_id}\nnamespace: {namespace}\n{extra}"


def require_tasks(source: str) -> list[str]:
    """A small validator: a flow needs a 'tasks' key."""
    return [] if "tasks:" in source else ["tasks: must not be empty"]


@pytest.fixture
def inst(tmp_path: Path) -> Iterator[LocalInstance]:
    with LocalInstance(tmp_path / "home") as instance:
        yield instance


def sql(home: Path, query: str) -> list[tuple[object, ...]]:
    """Look at the database file directly, the way another tool would."""
    with closing(sqlite3.connect(home / "instance.db")) as conn:
        return conn.execute(query).fetchall()


def state(instance: LocalInstance) -> object:
    """Everything a batch could change, to compare before and after."""
    return (
        instance.list_namespaces(),
        [instance.list_flows(ns) for ns in instance.list_namespaces()],
        [instance.flow_revisions("dev", f) for f in ("a", "b", "c")],
        [instance.list_files(ns) for ns in instance.list_namespaces()],
        sql(instance.home, "SELECT namespace, path, revision, deleted FROM files ORDER BY 1, 2, 3"),
    )


@contextmanager
def child_process(script: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """Run ``script`` in a new Python process; it is killed if the test leaves it running."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    command = [sys.executable, "-c", script, *args]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()


# -- opening -----------------------------------------------------------------------------------
def test_open_creates_missing_home_with_wal_and_schema_version(tmp_path: Path) -> None:
    home = tmp_path / "a" / "b"
    with LocalInstance(home) as instance:
        assert isinstance(instance, Instance)
        assert instance.list_namespaces() == []
    assert (home / "instance.db").is_file()
    assert sql(home, "PRAGMA journal_mode") == [("wal",)]
    assert sql(home, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


def test_reopen_keeps_data(tmp_path: Path) -> None:
    with LocalInstance(tmp_path) as instance:
        instance.put_flow(flow("dev", "a"))
    with LocalInstance(tmp_path) as instance:
        reopened = instance.get_flow("dev", "a")
    assert reopened is not None
    assert reopened.revision == 1


def test_open_refuses_database_from_newer_schema(tmp_path: Path) -> None:
    LocalInstance(tmp_path).close()
    with closing(sqlite3.connect(tmp_path / "instance.db")) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(InstanceError, match="schema version"):
        LocalInstance(tmp_path)


# -- flow revisions ----------------------------------------------------------------------------
def test_put_flow_first_save_is_revision_one_with_aware_timestamp(inst: LocalInstance) -> None:
    saved = inst.put_flow(flow("dev", "a"))
    assert (saved.namespace, saved.id, saved.revision, saved.deleted) == ("dev", "a", 1, False)
    assert saved.updated.tzinfo is not None
    assert inst.get_flow("dev", "a") == saved


def test_put_flow_identical_source_keeps_revision(inst: LocalInstance) -> None:
    first = inst.put_flow(flow("dev", "a"))
    again = inst.put_flow(flow("dev", "a"))
    assert again == first
    assert len(inst.flow_revisions("dev", "a")) == 1


def test_put_flow_changed_source_bumps_revision_and_keeps_history(inst: LocalInstance) -> None:
    inst.put_flow(flow("dev", "a"))
    inst.put_flow(flow("dev", "a", "description: two\n"))
    third = inst.put_flow(flow("dev", "a", "description: three\n"))
    assert third.revision == 3
    history = inst.flow_revisions("dev", "a")
    assert [r.revision for r in history] == [1, 2, 3]
    assert history[0].source == flow("dev", "a")
    assert inst.get_flow("dev", "a") == third


def test_put_flow_whitespace_change_is_a_new_revision(inst: LocalInstance) -> None:
    inst.put_flow(flow("dev", "a"))
    assert inst.put_flow(flow("dev", "a") + "\n").revision == 2


def test_delete_flow_writes_deleted_revision_and_hides_flow(inst: LocalInstance) -> None:
    inst.put_flow(flow("dev", "a"))
    assert inst.delete_flow("dev", "a") is True
    assert inst.get_flow("dev", "a") is None
    assert inst.list_flows("dev") == []
    history = inst.flow_revisions("dev", "a")
    assert [(r.revision, r.deleted) for r in history] == [(1, False), (2, True)]
    assert history[1].source == flow("dev", "a")


def test_delete_flow_returns_false_when_missing_or_already_deleted(inst: LocalInstance) -> None:
    assert inst.delete_flow("dev", "nope") is False
    inst.put_flow(flow("dev", "a"))
    assert inst.delete_flow("dev", "a") is True
    assert inst.delete_flow("dev", "a") is False
    assert len(inst.flow_revisions("dev", "a")) == 2


def test_put_flow_after_delete_continues_numbering(inst: LocalInstance) -> None:
    inst.put_flow(flow("dev", "a"))
    inst.put_flow(flow("dev", "a", "description: two\n"))
    inst.delete_flow("dev", "a")
    recreated = inst.put_flow(flow("dev", "a", "description: two\n"))
    assert recreated.revision == 4
    assert not recreated.deleted
    assert [r.deleted for r in inst.flow_revisions("dev", "a")] == [False, False, True, False]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("id: [unclosed\nnamespace: dev\n", "not valid YAML at line"),
        ("- id: a\n", "must be a YAML mapping"),
        ("namespace: dev\n", "'id' must be a non-empty string (got missing)"),
        ("id: 12\nnamespace: dev\n", "'id' must be a non-empty string (got 12)"),
        ("id: a\nnamespace: ''\n", "'namespace' must be a non-empty string"),
    ],
)
def test_put_flow_without_string_id_and_namespace_raises(
    inst: LocalInstance, source: str, message: str
) -> None:
    with pytest.raises(FlowValidationError) as caught:
        inst.put_flow(source)
    assert message in str(caught.value)
    assert caught.value.constraints == [str(caught.value)]
    assert sql(inst.home, "SELECT count(*) FROM flows") == [(0,)]


def test_put_flow_validator_problems_raise_and_write_nothing(tmp_path: Path) -> None:
    with LocalInstance(tmp_path, validator=require_tasks) as instance:
        with pytest.raises(FlowValidationError, match="tasks: must not be empty") as caught:
            instance.put_flow(flow("dev", "a"))
        assert caught.value.constraints == ["tasks: must not be empty"]
        assert instance.list_namespaces() == []
        assert instance.put_flow(flow("dev", "a", "tasks: []\n")).revision == 1


def test_validate_flows_reports_problems_without_raising(tmp_path: Path) -> None:
    with LocalInstance(tmp_path, validator=require_tasks) as instance:
        problems = instance.validate_flows(
            [flow("dev", "ok", "tasks: []\n"), flow("dev", "a"), "tasks: []\nid: x\n"]
        )
        assert problems[0] == []
        assert problems[1] == ["tasks: must not be empty"]
        assert problems[2] == ["flow 'namespace' must be a non-empty string (got missing)"]
        assert instance.list_namespaces() == []


def test_validate_flows_without_validator_checks_id_and_namespace(inst: LocalInstance) -> None:
    valid, no_namespace, not_yaml = inst.validate_flows([flow("dev", "a"), "id: a\n", "a: [b"])
    assert valid == []
    assert no_namespace == ["flow 'namespace' must be a non-empty string (got missing)"]
    assert len(not_yaml) == 1
    assert not_yaml[0].startswith("flow source is not valid YAML at line ")


# -- namespace scoping -------------------------------------------------------------------------
def test_list_flows_scopes_children_on_dot_boundaries(inst: LocalInstance) -> None:
    for namespace in ("dev", "dev.team", "dev.team.deep", "devops", "dev-x", "dev_x", "de"):
        inst.put_flow(flow(namespace, "f"))
    assert [f.namespace for f in inst.list_flows("dev")] == ["dev"]
    assert [f.namespace for f in inst.list_flows("dev", include_children=True)] == [
        "dev",
        "dev.team",
        "dev.team.deep",
    ]
    assert [f.namespace for f in inst.list_flows("dev.team", include_children=True)] == [
        "dev.team",
        "dev.team.deep",
    ]
    assert inst.list_flows("de.v", include_children=True) == []


def test_list_flows_underscore_and_percent_are_not_wildcards(inst: LocalInstance) -> None:
    for namespace in ("my_ns", "myxns", "my_ns.child", "myxns.child", "a%b", "axyzb.c"):
        inst.put_flow(flow(namespace, "f"))
    assert [f.namespace for f in inst.list_flows("my_ns", include_children=True)] == [
        "my_ns",
        "my_ns.child",
    ]
    assert [f.namespace for f in inst.list_flows("a%b", include_children=True)] == ["a%b"]


def test_list_flows_sorted_by_namespace_then_id_without_deleted(inst: LocalInstance) -> None:
    for namespace, flow_id in [("dev.b", "z"), ("dev", "b"), ("dev.a", "y"), ("dev", "a")]:
        inst.put_flow(flow(namespace, flow_id))
    inst.put_flow(flow("dev", "gone"))
    inst.delete_flow("dev", "gone")
    listed = inst.list_flows("dev", include_children=True)
    assert [(f.namespace, f.id) for f in listed] == [
        ("dev", "a"),
        ("dev", "b"),
        ("dev.a", "y"),
        ("dev.b", "z"),
    ]


def test_list_flows_returns_latest_revision(inst: LocalInstance) -> None:
    inst.put_flow(flow("dev", "a"))
    latest = inst.put_flow(flow("dev", "a", "description: new\n"))
    assert inst.list_flows("dev") == [latest]


def test_list_namespaces_counts_live_flows_and_files(inst: LocalInstance) -> None:
    inst.put_flow(flow("b.flows", "a"))
    inst.write_file("a.files", "/x.txt", b"x")
    inst.put_flow(flow("c.deleted", "a"))
    inst.delete_flow("c.deleted", "a")
    inst.write_file("d.deleted", "/x.txt", b"x")
    inst.delete_file("d.deleted", "/x.txt")
    inst.put_flow(flow("a.files", "also-a-flow"))
    assert inst.list_namespaces() == ["a.files", "b.flows"]


# -- namespace files ---------------------------------------------------------------------------
def test_write_file_normalises_path_to_leading_slash(inst: LocalInstance) -> None:
    record = inst.write_file("dev", "dir/a.txt", b"hello")
    assert record.path == "/dir/a.txt"
    assert record.size == 5
    assert record.updated.tzinfo is not None
    assert inst.read_file("dev", "/dir/a.txt") == b"hello"
    assert inst.read_file("dev", "dir/a.txt") == b"hello"


@pytest.mark.parametrize(
    "path", ["", "/", "a//b", "/a/", "./a", "/a/./b", "/a/../b", "..", "a\\b", "//a"]
)
def test_file_path_that_cannot_be_normalised_raises_naming_it(
    inst: LocalInstance, path: str
) -> None:
    with pytest.raises(InstanceError, match="invalid namespace file path") as caught:
        inst.write_file("dev", path, b"x")
    assert repr(path) in str(caught.value)
    with pytest.raises(InstanceError, match="invalid namespace file path"):
        inst.read_file("dev", path)
    assert inst.list_files("dev") == []


def test_write_file_identical_content_keeps_revision(inst: LocalInstance) -> None:
    first = inst.write_file("dev", "/a.txt", b"one")
    assert inst.write_file("dev", "/a.txt", b"one") == first
    assert sql(inst.home, "SELECT count(*) FROM files") == [(1,)]


def test_file_revisions_bump_on_change_and_continue_after_delete(inst: LocalInstance) -> None:
    assert inst.write_file("dev", "/a.txt", b"one").revision == 1
    second = inst.write_file("dev", "/a.txt", b"two")
    assert second.revision == 2
    assert inst.read_file("dev", "/a.txt") == b"two"
    assert inst.delete_file("dev", "/a.txt") is True
    assert inst.delete_file("dev", "/a.txt") is False
    assert inst.list_files("dev") == []
    assert inst.write_file("dev", "/a.txt", b"two").revision == 4
    history = sql(inst.home, "SELECT revision, deleted, content FROM files ORDER BY revision")
    assert history == [(1, 0, b"one"), (2, 0, b"two"), (3, 1, b"two"), (4, 0, b"two")]


def test_read_file_missing_or_deleted_raises_not_found(inst: LocalInstance) -> None:
    with pytest.raises(NotFoundError, match=r"/nope\.txt.*'dev'"):
        inst.read_file("dev", "/nope.txt")
    inst.write_file("dev", "/a.txt", b"x")
    inst.delete_file("dev", "a.txt")
    with pytest.raises(NotFoundError, match=r"/a\.txt.*'dev'"):
        inst.read_file("dev", "/a.txt")
    assert inst.delete_file("dev", "/never.txt") is False


def test_list_files_latest_metadata_sorted_and_scoped(inst: LocalInstance) -> None:
    inst.write_file("dev.team", "/z.txt", b"z")
    inst.write_file("dev", "/b/c.txt", b"old")
    latest = inst.write_file("dev", "/b/c.txt", b"newer")
    inst.write_file("dev", "/a.txt", b"a")
    inst.write_file("devops", "/a.txt", b"a")
    listed = inst.list_files("dev", include_children=True)
    assert [(f.namespace, f.path) for f in listed] == [
        ("dev", "/a.txt"),
        ("dev", "/b/c.txt"),
        ("dev.team", "/z.txt"),
    ]
    assert listed[1] == latest
    assert [f.path for f in inst.list_files("dev")] == ["/a.txt", "/b/c.txt"]


def test_write_file_empty_content_is_a_file(inst: LocalInstance) -> None:
    record = inst.write_file("dev", "/empty", b"")
    assert record.size == 0
    assert inst.read_file("dev", "/empty") == b""


# -- batches -----------------------------------------------------------------------------------
def test_batch_rollback_on_exception_leaves_everything_as_before(inst: LocalInstance) -> None:
    inst.put_flow(flow("dev", "a"))
    inst.put_flow(flow("dev", "b"))
    inst.write_file("dev", "/keep.txt", b"keep")
    inst.write_file("dev", "/gone.txt", b"gone")
    before = state(inst)
    with pytest.raises(RuntimeError, match="boom"), inst.batch():
        inst.put_flow(flow("dev", "a", "description: changed\n"))
        inst.delete_flow("dev", "b")
        inst.put_flow(flow("dev", "c"))
        inst.put_flow(flow("other", "new"))
        inst.write_file("dev", "/keep.txt", b"changed")
        inst.delete_file("dev", "/gone.txt")
        inst.write_file("dev", "/new.txt", b"new")
        raise RuntimeError("boom")
    assert state(inst) == before
    assert inst.read_file("dev", "/keep.txt") == b"keep"


def test_batch_rollback_after_instance_error_inside(inst: LocalInstance) -> None:
    with pytest.raises(InstanceError), inst.batch():
        inst.put_flow(flow("dev", "a"))
        inst.write_file("dev", "/../escape", b"x")
    assert inst.list_namespaces() == []
    assert inst.put_flow(flow("dev", "a")).revision == 1


def test_batch_commits_all_writes_together(inst: LocalInstance) -> None:
    with inst.batch():
        inst.put_flow(flow("dev", "a"))
        inst.put_flow(flow("dev", "a", "description: 2\n"))
        inst.write_file("dev", "/a.txt", b"a")
    assert inst.get_flow("dev", "a") is not None
    assert [r.revision for r in inst.flow_revisions("dev", "a")] == [1, 2]
    assert inst.read_file("dev", "/a.txt") == b"a"


def test_nested_batch_joins_outer_transaction(inst: LocalInstance) -> None:
    with LocalInstance(inst.home) as other, inst.batch():
        inst.put_flow(flow("dev", "a"))
        with inst.batch():
            inst.put_flow(flow("dev", "b"))
        assert other.get_flow("dev", "b") is None  # not committed until the outer batch ends
    assert [f.id for f in inst.list_flows("dev")] == ["a", "b"]


def test_outer_batch_failure_undoes_nested_batch_writes(inst: LocalInstance) -> None:
    with pytest.raises(RuntimeError), inst.batch():
        with inst.batch():
            inst.put_flow(flow("dev", "inner"))
        inst.put_flow(flow("dev", "outer"))
        raise RuntimeError("boom")
    assert inst.list_flows("dev") == []


def test_failed_nested_batch_undoes_only_its_writes(inst: LocalInstance) -> None:
    with inst.batch():
        inst.put_flow(flow("dev", "kept"))
        with pytest.raises(RuntimeError), inst.batch():
            inst.put_flow(flow("dev", "undone"))
            raise RuntimeError("boom")
        inst.put_flow(flow("dev", "after"))
    assert [f.id for f in inst.list_flows("dev")] == ["after", "kept"]


def test_batch_is_reusable_after_rollback(inst: LocalInstance) -> None:
    with pytest.raises(RuntimeError), inst.batch():
        raise RuntimeError("boom")
    with inst.batch():
        inst.put_flow(flow("dev", "a"))
    assert inst.get_flow("dev", "a") is not None


def test_readers_do_not_wait_for_a_writer_and_see_committed_state(tmp_path: Path) -> None:
    with LocalInstance(tmp_path) as writer, LocalInstance(tmp_path) as reader:
        writer.put_flow(flow("dev", "a"))
        with writer.batch():
            writer.put_flow(flow("dev", "a", "description: 2\n"))
            writer.put_flow(flow("dev", "b"))
            seen = reader.get_flow("dev", "a")
            assert seen is not None
            assert seen.revision == 1
            assert reader.get_flow("dev", "b") is None
        assert [f.revision for f in reader.list_flows("dev")] == [2, 1]


def test_second_writer_fails_after_busy_timeout(tmp_path: Path) -> None:
    with (
        LocalInstance(tmp_path) as holder,
        LocalInstance(tmp_path, busy_timeout=0.2) as impatient,
    ):
        with holder.batch():
            holder.put_flow(flow("dev", "a"))
            with pytest.raises(InstanceError, match="locked"):
                impatient.put_flow(flow("dev", "b"))
        assert impatient.put_flow(flow("dev", "b")).revision == 1
        assert [f.id for f in impatient.list_flows("dev")] == ["a", "b"]


# -- executions --------------------------------------------------------------------------------
def execution(
    execution_id: str, flow_id: str, start: datetime, **fields: object
) -> ExecutionRecord:
    return ExecutionRecord(
        id=execution_id,
        namespace="dev",
        flow_id=flow_id,
        flow_revision=1,
        state="RUNNING",
        start_date=start,
        **fields,  # type: ignore[arg-type]
    )


def test_execution_round_trip_with_logs(inst: LocalInstance) -> None:
    start = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    record = execution(
        "e1",
        "hello",
        start,
        inputs={"n": 1, "day": date(2024, 5, 1)},
        logs=[LogRecord(start, "INFO", "started")],
    )
    inst.create_execution(record)
    inst.append_log("e1", LogRecord(start + timedelta(seconds=1), "ERROR", "boom", task_id="t1"))
    record.state = "FAILED"
    record.end_date = start + timedelta(seconds=2)
    record.outputs = {"t0": {"value": [1, 2]}}
    record.error = "boom"
    record.failed_task_id = "t1"
    record.inputs["secret"] = "******"
    inst.update_execution(record)

    got = inst.get_execution("e1")
    assert got.start_date == start
    assert got.start_date.tzinfo == UTC
    assert got.end_date == start + timedelta(seconds=2)
    assert got.inputs == {"n": 1, "day": "2024-05-01", "secret": "******"}
    assert got.outputs == {"t0": {"value": [1, 2]}}
    assert (got.state, got.error, got.failed_task_id, got.flow_revision) == (
        "FAILED",
        "boom",
        "t1",
        1,
    )
    assert [(log.level, log.message, log.task_id) for log in got.logs] == [
        ("INFO", "started", None),
        ("ERROR", "boom", "t1"),
    ]
    assert got.logs[1].timestamp == start + timedelta(seconds=1)
    assert got.to_dict()["startDate"] == "2024-05-01T10:00:00.123456+00:00"


def test_naive_execution_dates_are_taken_as_utc(inst: LocalInstance) -> None:
    inst.create_execution(execution("e1", "hello", datetime(2024, 1, 1, 8, 0)))
    assert inst.get_execution("e1").start_date == datetime(2024, 1, 1, 8, 0, tzinfo=UTC)


def test_unknown_execution_raises_not_found(inst: LocalInstance) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        inst.get_execution("nope")
    with pytest.raises(NotFoundError, match="nope"):
        inst.append_log("nope", LogRecord(datetime.now(UTC), "INFO", "x"))
    with pytest.raises(NotFoundError, match="nope"):
        inst.update_execution(execution("nope", "hello", datetime.now(UTC)))


def test_create_execution_twice_raises(inst: LocalInstance) -> None:
    inst.create_execution(execution("e1", "hello", datetime.now(UTC)))
    with pytest.raises(InstanceError, match="already exists"):
        inst.create_execution(execution("e1", "hello", datetime.now(UTC)))


def test_list_executions_newest_first_filtered_and_limited(inst: LocalInstance) -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for n, flow_id in enumerate(["a", "b", "a", "a"]):
        record = execution(f"e{n}", flow_id, base + timedelta(hours=n))
        record.logs.append(LogRecord(base, "INFO", "x"))
        inst.create_execution(record)
    other = execution("other", "a", base + timedelta(days=1))
    other.namespace = "prod"
    inst.create_execution(other)

    assert [e.id for e in inst.list_executions()] == ["other", "e3", "e2", "e1", "e0"]
    assert [e.id for e in inst.list_executions(namespace="dev", flow_id="a")] == ["e3", "e2", "e0"]
    assert [e.id for e in inst.list_executions(flow_id="a", limit=2)] == ["other", "e3"]
    assert [e.id for e in inst.list_executions(namespace="prod")] == ["other"]
    assert all(e.logs == [] for e in inst.list_executions())


# -- processes ---------------------------------------------------------------------------------
WRITER = """
import sys, time
from pathlib import Path
from kestra_git_tasks.instance.local import LocalInstance

home, worker = Path(sys.argv[1]), sys.argv[2]
with LocalInstance(home) as inst:
    print("ready", flush=True)
    sys.stdin.readline()
    for start in range(0, 200, 10):
        with inst.batch():
            for n in range(start, start + 10):
                inst.put_flow(f"id: f{n:03d}\\nnamespace: load.{worker}\\n")
            inst.put_flow(f"id: shared\\nnamespace: load\\ndescription: {worker} {start}\\n")
        time.sleep(0.01)  # let the other process take the writer lock between our batches
print("done", flush=True)
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    # Both open a fresh home at once (schema creation races too), then write in small batches
    # with short pauses so their transactions interleave; each also updates one shared flow.
    home = tmp_path / "home"
    with (
        child_process(WRITER, str(home), "w1") as one,
        child_process(WRITER, str(home), "w2") as two,
    ):
        assert one.stdout is not None and two.stdout is not None
        assert one.stdin is not None and two.stdin is not None
        assert one.stdout.readline() == "ready\n"
        assert two.stdout.readline() == "ready\n"
        one.stdin.write("go\n")
        two.stdin.write("go\n")
        one.stdin.flush()
        two.stdin.flush()
        out_one, _ = one.communicate(timeout=120)
        out_two, _ = two.communicate(timeout=120)
    assert (one.returncode, two.returncode) == (0, 0)
    assert out_one == out_two == "done\n"

    with LocalInstance(home) as instance:
        for worker in ("w1", "w2"):
            flows = instance.list_flows(f"load.{worker}")
            assert [f.id for f in flows] == [f"f{n:03d}" for n in range(200)]
            assert {f.revision for f in flows} == {1}
        shared = instance.flow_revisions("load", "shared")
    # 40 saves of distinct sources: no update lost, no revision number taken twice
    assert [r.revision for r in shared] == list(range(1, 41))
    for worker in ("w1", "w2"):
        starts = [int(r.source.split()[-1]) for r in shared if f" {worker} " in r.source]
        assert starts == list(range(0, 200, 10))
    assert sql(home, "PRAGMA integrity_check") == [("ok",)]


OPENER = """
import sys
from pathlib import Path
from kestra_git_tasks.instance.local import LocalInstance

print("ready", flush=True)
sys.stdin.readline()
with LocalInstance(Path(sys.argv[1])) as inst:
    inst.put_flow(f"id: f{sys.argv[2]}\\nnamespace: opened\\n")
"""


def test_processes_opening_a_new_home_at_once_all_succeed(tmp_path: Path) -> None:
    # Switching a new database to WAL can fail at once with "database is locked" when another
    # process is switching too; opening must wait and retry instead.
    home = tmp_path / "home"
    with ExitStack() as stack:
        procs = [stack.enter_context(child_process(OPENER, str(home), str(n))) for n in range(8)]
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        assert [proc.wait(timeout=120) for proc in procs] == [0] * 8
    with LocalInstance(home) as instance:
        assert len(instance.list_flows("opened")) == 8


KILLED_MID_BATCH = """
import sys, time
from pathlib import Path
from kestra_git_tasks.instance.local import LocalInstance

with LocalInstance(Path(sys.argv[1])) as inst:
    inst.put_flow("id: before\\nnamespace: crash\\n")
    with inst.batch():
        inst.put_flow("id: before\\nnamespace: crash\\ndescription: changed\\n")
        for n in range(2000):
            inst.put_flow(f"id: f{n}\\nnamespace: crash\\ndescription: {'x' * 500}\\n")
        for n in range(40):
            inst.write_file("crash", f"/big{n}.bin", bytes([n]) * 100_000)
        print("mid-batch", flush=True)
        time.sleep(600)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_process_killed_mid_batch_leaves_none_of_its_writes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with child_process(KILLED_MID_BATCH, str(home)) as child:
        assert child.stdout is not None
        assert child.stdout.readline() == "mid-batch\n"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL

    with LocalInstance(home, busy_timeout=5) as instance:
        flows = instance.list_flows("crash")
        assert [(f.id, f.revision) for f in flows] == [("before", 1)]
        assert instance.list_files("crash") == []
        with instance.batch():
            instance.put_flow(flow("crash", "before", "description: after\n"))
            instance.put_flow(flow("crash", "f0"))
            instance.write_file("crash", "/big0.bin", b"small")
        assert [(f.id, f.revision) for f in instance.list_flows("crash")] == [
            ("before", 2),
            ("f0", 1),
        ]
        assert instance.read_file("crash", "/big0.bin") == b"small"
    assert sql(home, "PRAGMA integrity_check") == [("ok",)]
