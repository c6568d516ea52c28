"""SyncFlows in O(changed): a sync after a change in Git, with the instance as the last sync
left it, reads only what moved (``tasks/git/_sync_delta.py``). Every case runs the same history
in two homes: one keeps its memory (the O(changed) path), the other forgets it before each
sync (the full plan); rows, diff files, messages and the instances' flows must be equal.

That the O(changed) path was taken shows in the output: its rows are ``SyncRows`` (spliced
into the remembered ones), where a full plan gives a list. When the memory is damaged,
edited, or saved by someone else meanwhile, the sync goes down the full path and stays right.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2
import pytest
from pygit2.enums import FileMode, ObjectType

from kestra_git_tasks import LocalInstance, RunContext, SyncFlows
from kestra_git_tasks.errors import FlowFileError, FlowValidationError, GitError
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.git import Credentials, RepoCache
from kestra_git_tasks.git.tree import TreeDiffer
from kestra_git_tasks.tasks.git._flow_memory import load_flow_memory
from kestra_git_tasks.tasks.git._sync_delta import lower_bound
from kestra_git_tasks.tasks.git._sync_rows import SyncRows

if TYPE_CHECKING:
    from conftest import MakeRemote
    from gitserver import BareRemote

USER, PASSWORD = "git_user", "s3cr3t-token"
LOG = "io.kestra.plugin.core.log.Log"


def flow(flow_id: str, message: str = "hi", namespace: str = "anything") -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n  - id: log\n"
        f"    type: {LOG}\n    message: {message}\n"
    )


INVALID = "id: broken\nnamespace: x\ntasks: []\n"

FIRST: dict[str, bytes | str] = {
    "_flows/a.yml": flow("a"),
    "_flows/b.yml": flow("b"),
    "_flows/m.yml": flow("m"),
    "_flows/team/c.yml": flow("c"),
    "_flows/README.md": "docs",
    **{f"_flows/bulk/f{n:02}.yml": flow(f"f{n:02}") for n in range(12)},
}


class Twins:
    """The same syncs in two homes: ``memory`` keeps its memory, ``full`` forgets it."""

    def __init__(self, tmp_path: Path, url: str, **properties: Any) -> None:
        self.url, self.properties = url, properties
        self.homes = {"memory": tmp_path / "memory", "full": tmp_path / "full"}
        self.instances = {
            name: LocalInstance(home, validator=validate_source)
            for name, home in self.homes.items()
        }
        self.logs: dict[str, list[str]] = {}

    def close(self) -> None:
        for instance in self.instances.values():
            instance.close()

    def run(
        self, name: str, sink: Callable[[str], None] | None = None, **properties: Any
    ) -> SyncFlows.Output:
        """One sync in home ``name``; ``sink`` sees each log message as it is written."""
        home = self.homes[name]
        if name == "full":
            for folder in ("sync-state", "sync-rows", "sync-quick"):
                shutil.rmtree(home / folder, ignore_errors=True)
        task = SyncFlows(
            id="sync",
            url=self.url,
            username=USER,
            password=PASSWORD,
            target_namespace="prod",
            include_child_namespaces=True,
            **{**self.properties, **properties},
        )
        ctx = RunContext.create(
            instance=self.instances[name], home=home, namespace="system", flow_id="sync"
        )
        ctx.task_id = "sync"
        self.logs[name] = []
        ctx.sinks.append(lambda log: self.logs[name].append(log.message))
        if sink is not None:
            ctx.sinks.append(lambda log: sink(log.message))
        return task.run(ctx)

    def both(self, **properties: Any) -> SyncFlows.Output:
        """Both syncs; their outcomes must be equal. The O(changed) one is returned."""
        memory, full = self.run("memory", **properties), self.run("full", **properties)
        assert memory.flows == full.flows
        assert isinstance(full.flows, list)
        assert Path(memory.diff_file).read_bytes() == Path(full.diff_file).read_bytes()
        assert memory.drifted == full.drifted and memory.commit_id == full.commit_id
        said = [[m for m in self.logs[n] if m.startswith("changed: ")] for n in ("memory", "full")]
        assert said[0] == said[1]
        assert live(self.instances["memory"]) == live(self.instances["full"])
        return memory


def live(instance: LocalInstance) -> dict[str, tuple[int, str]]:
    return {
        f"{r.namespace}/{r.id}": (r.revision, r.source)
        for r in instance.list_flows("prod", include_children=True)
    }


def changed(output: SyncFlows.Output) -> list[tuple[str | None, str, str]]:
    return [
        (r["gitPath"], r["syncState"], f"{r['namespace']}/{r['flowId']}")
        for r in output.flows
        if r["syncState"] != "UNCHANGED"
    ]


@pytest.fixture
def origin(remote: MakeRemote) -> BareRemote:
    return remote(files=FIRST)


@pytest.fixture(params=[True, False], ids=["delete", "keep"])
def twins(request: pytest.FixtureRequest, origin: BareRemote, tmp_path: Path) -> Any:
    pair = Twins(tmp_path, origin.url, delete=request.param)
    pair.both()  # the first sync: both full
    yield pair
    pair.close()


# -- each kind of change, against the full plan -------------------------------------------------
def test_a_changed_flow(twins: Twins, origin: BareRemote) -> None:
    origin.commit({"_flows/b.yml": flow("b", "edited")}, "edit")
    output = twins.both()
    assert isinstance(output.flows, SyncRows)
    assert changed(output) == [("_flows/b.yml", "UPDATED", "prod/b")]
    assert len(output.flows) == 16


def test_an_added_flow_in_a_new_folder(twins: Twins, origin: BareRemote) -> None:
    origin.commit({"_flows/new/deep/n.yml": flow("n"), "_flows/0first.yml": flow("z")}, "add")
    output = twins.both()
    assert isinstance(output.flows, SyncRows)
    assert changed(output) == [
        ("_flows/0first.yml", "ADDED", "prod/z"),
        ("_flows/new/deep/n.yml", "ADDED", "prod.new.deep/n"),
    ]


def test_a_deleted_flow_and_folder(twins: Twins, origin: BareRemote) -> None:
    origin.commit({}, "delete", delete=["_flows/a.yml", "_flows/bulk"])
    output = twins.both()
    assert isinstance(output.flows, SyncRows)
    deleted = [r for r in changed(output) if r[1] == "DELETED"]
    if twins.properties["delete"]:
        assert deleted[0] == (None, "DELETED", "prod.bulk/f00") and len(deleted) == 13
        assert ("prod/a" not in live(twins.instances["memory"])) is True
    else:
        assert deleted == [] and "prod/a" in live(twins.instances["memory"])


def test_a_renamed_flow_and_a_flow_moved_to_another_namespace(
    twins: Twins, origin: BareRemote
) -> None:
    origin.commit(
        {"_flows/renamed.yml": flow("m"), "_flows/team/moved.yml": flow("a")},
        "rename and move",
        delete=["_flows/m.yml", "_flows/a.yml"],
    )
    output = twins.both()
    assert isinstance(output.flows, SyncRows)
    rows = changed(output)
    assert ("_flows/team/moved.yml", "ADDED", "prod.team/a") in rows
    assert ((None, "DELETED", "prod/a") in rows) is twins.properties["delete"]
    assert ("_flows/renamed.yml", "UNCHANGED", "prod/m") in [
        (r["gitPath"], r["syncState"], f"{r['namespace']}/{r['flowId']}") for r in output.flows
    ]


def test_a_history_of_changes_stays_on_the_o_changed_path(twins: Twins, origin: BareRemote) -> None:
    steps: list[tuple[dict[str, bytes | str], list[str]]] = [
        ({"_flows/a.yml": flow("a", "one")}, []),
        ({"_flows/README.md": "only docs"}, []),
        ({"_flows/team/c.yml": flow("c", "two"), "_flows/zz.yml": flow("zz")}, ["_flows/b.yml"]),
        ({"_flows/b.yml": flow("b")}, ["_flows/zz.yml"]),
    ]
    for files, removed in steps:
        origin.commit(files, "step", delete=removed)
        assert isinstance(twins.both().flows, SyncRows)
    assert isinstance(twins.both().flows, SyncRows)  # no change: the no-change answer


def test_a_dry_run_plans_in_o_changed_and_remembers_nothing(
    twins: Twins, origin: BareRemote
) -> None:
    origin.commit({"_flows/b.yml": flow("b", "edited")}, "edit")
    planned = twins.both(dry_run=True)
    assert isinstance(planned.flows, SyncRows)
    assert changed(planned) == [("_flows/b.yml", "UPDATED", "prod/b")]
    assert changed(twins.both()) == [("_flows/b.yml", "UPDATED", "prod/b")]


# -- invalid flows in the change ------------------------------------------------------------------
def test_an_invalid_flow_in_the_change_writes_nothing_and_is_remembered_nowhere(
    twins: Twins, origin: BareRemote
) -> None:
    origin.commit({"_flows/b.yml": flow("b", "edited"), "_flows/broken.yml": INVALID}, "bad")
    before = live(twins.instances["memory"])
    for name in ("memory", "full"):
        with pytest.raises(FlowValidationError) as caught:
            twins.run(name)
        assert "_flows/broken.yml" in str(caught.value)
    assert live(twins.instances["memory"]) == before
    origin.commit({}, "fixed", delete=["_flows/broken.yml"])
    output = twins.both()
    assert isinstance(output.flows, SyncRows)
    assert changed(output) == [("_flows/b.yml", "UPDATED", "prod/b")]


def test_an_invalid_flow_skipped_with_ignore_invalid_flows(
    twins: Twins, origin: BareRemote
) -> None:
    origin.commit({"_flows/a.yml": INVALID.replace("broken", "a")}, "bad a")
    output = twins.both(ignore_invalid_flows=True)
    assert changed(output) == []  # prod/a is kept as it was, never deleted
    origin.commit({"_flows/b.yml": flow("b", "edited")}, "edit")
    later = twins.both(ignore_invalid_flows=True)  # not clean: the full plan
    assert isinstance(later.flows, list)


def test_a_changed_flow_declaring_an_unchanged_ones_id_is_refused(
    twins: Twins, origin: BareRemote
) -> None:
    origin.commit({"_flows/copy.yml": flow("b")}, "duplicate")
    for name in ("memory", "full"):
        with pytest.raises(FlowFileError) as caught:
            twins.run(name)
        assert "_flows/copy.yml and _flows/b.yml both declare flow prod/b" in str(caught.value)


# -- writers the sync did not expect --------------------------------------------------------------
def test_another_writer_during_the_apply_makes_the_next_sync_plan_in_full(
    twins: Twins, origin: BareRemote
) -> None:
    origin.commit({"_flows/b.yml": flow("b", "edited")}, "edit")
    home = twins.homes["memory"]

    def behind_the_back(message: str) -> None:
        if message.startswith("applying"):
            with LocalInstance(home) as other:
                other.put_flow(flow("intruder", namespace="prod"))

    output = twins.run("memory", behind_the_back)
    assert changed(output) == [("_flows/b.yml", "UPDATED", "prod/b")]
    assert list((home / "sync-state").glob("*.json")) == []  # forgotten
    again = twins.run("memory")  # no memory: the full plan
    assert isinstance(again.flows, list)
    intruder = [r for r in changed(again) if r[2] == "prod/intruder"]
    assert intruder == ([(None, "DELETED", "prod/intruder")] if twins.properties["delete"] else [])


def test_another_sync_saving_meanwhile_makes_this_one_forget_its_memory(
    twins: Twins, origin: BareRemote
) -> None:
    origin.commit({"_flows/b.yml": flow("b", "edited")}, "edit")
    home = twins.homes["memory"]

    def another_save(message: str) -> None:
        if message.startswith("applying"):
            (store,) = (home / "sync-rows").glob("*.sqlite")
            with sqlite3.connect(store) as db:
                db.execute("UPDATE head SET v = json_set(v, '$.generation', 'another')")

    output = twins.run("memory", another_save)
    assert output.flows == twins.run("full").flows
    assert changed(output) == [("_flows/b.yml", "UPDATED", "prod/b")]
    assert list((home / "sync-state").glob("*.json")) == []  # forgotten, not half-switched
    origin.commit({"_flows/a.yml": flow("a", "edited")}, "edit a")
    again = twins.both()
    assert isinstance(again.flows, list)  # the full plan, then the memory is whole again
    origin.commit({"_flows/c.yml": flow("c2")}, "add")
    assert isinstance(twins.both().flows, SyncRows)


# -- a damaged or edited memory ---------------------------------------------------------------
def _garbage_store(home: Path) -> None:
    (store,) = (home / "sync-rows").glob("*.sqlite")
    store.write_bytes(b"not a database" * 100)


def _edited_row(home: Path) -> None:
    (store,) = (home / "sync-rows").glob("*.sqlite")
    with sqlite3.connect(store) as db:
        db.execute("UPDATE rows SET revision = 7 WHERE path = '_flows/b.yml'")


def _edited_head(home: Path) -> None:
    (head,) = (home / "sync-state").glob("*.json")
    data = json.loads(head.read_text())
    head.write_text(json.dumps({**data, "store": "0" * 16}))


def _edited_rows_file(home: Path) -> None:
    (rows,) = (home / "sync-quick").glob("*.rows.jsonl")
    rows.write_text(rows.read_text().replace('"flowId": "b"', '"flowId": "x"'))


def _torn_rows_file(home: Path) -> None:
    (rows,) = (home / "sync-quick").glob("*.rows.jsonl")
    rows.write_bytes(rows.read_bytes()[:-40])


@pytest.mark.parametrize(
    "damage", [_garbage_store, _edited_row, _edited_head, _edited_rows_file, _torn_rows_file]
)
def test_a_damaged_or_edited_memory_sends_the_sync_down_the_full_path(
    twins: Twins, origin: BareRemote, damage: Any
) -> None:
    damage(twins.homes["memory"])
    origin.commit({"_flows/b.yml": flow("b", "edited")}, "edit")
    output = twins.both()
    assert isinstance(output.flows, list)
    assert changed(output) == [("_flows/b.yml", "UPDATED", "prod/b")]
    origin.commit({"_flows/a.yml": flow("a", "edited")}, "edit a")
    assert isinstance(twins.both().flows, SyncRows)  # remembered whole again


def test_a_remembered_commit_gone_from_the_cache_sends_the_sync_down_the_full_path(
    twins: Twins, origin: BareRemote
) -> None:
    shutil.rmtree(twins.homes["memory"] / "repos")
    origin.commit({"_flows/b.yml": flow("b", "edited")}, "edit")
    output = twins.both()
    assert isinstance(output.flows, list)
    assert changed(output) == [("_flows/b.yml", "UPDATED", "prod/b")]


def test_a_memory_that_cannot_be_written_is_a_warning_not_a_failure(
    origin: BareRemote, tmp_path: Path
) -> None:
    pair = Twins(tmp_path, origin.url)
    try:
        (pair.homes["memory"] / "sync-rows").write_text("a file where the folder goes")
        pair.both()
        assert any("could not remember this sync" in m for m in pair.logs["memory"])
        origin.commit({"_flows/b.yml": flow("b", "edited")}, "edit")
        assert isinstance(pair.both().flows, list)
    finally:
        pair.close()


def test_a_memory_saved_by_an_earlier_version_is_read_then_moved_to_the_store(
    twins: Twins, origin: BareRemote
) -> None:
    home = twins.homes["memory"]
    (path,) = (home / "sync-state").glob("*.json")
    earlier = load_flow_memory(path, "prod")  # what the earlier version kept, as one JSON file
    assert earlier.commit == origin.head() and len(earlier.rows) == 16
    earlier.save(path)
    shutil.rmtree(home / "sync-rows")
    assert "rows" in json.loads(path.read_text())
    origin.commit({"_flows/b.yml": flow("b", "edited")}, "edit")
    output = twins.both()  # the earlier memory: the re-plan of the changed files
    assert isinstance(output.flows, list) and "rows" not in json.loads(path.read_text())
    origin.commit({"_flows/a.yml": flow("a", "edited")}, "edit a")
    assert isinstance(twins.both().flows, SyncRows)


# -- what the O(changed) path does not trust -------------------------------------------------------
def commit_tree(remote: BareRemote, files: dict[str, str], links: dict[str, str]) -> None:
    """A commit on main (after its tip) of exactly ``files`` and symbolic ``links``."""
    repo = remote.repo
    index = pygit2.Index()
    for path, content in files.items():
        index.add(pygit2.IndexEntry(path, repo.create_blob(content.encode()), FileMode.BLOB))
    for path, target in links.items():
        index.add(pygit2.IndexEntry(path, repo.create_blob(target.encode()), FileMode.LINK))
    tree = index.write_tree(repo)
    signature = pygit2.Signature("t", "t@example.com")
    parent = repo.references["refs/heads/main"].target
    repo.create_commit("refs/heads/main", signature, signature, "tree", tree, [parent])


def test_a_folder_with_a_symbolic_link_is_always_planned_in_full(
    remote: MakeRemote, tmp_path: Path
) -> None:
    origin = remote(files={"README.md": "x"})
    commit_tree(
        origin,
        {"shared/s.yml": flow("s"), "_flows/a.yml": flow("a")},
        {"_flows/s.yml": "../shared/s.yml"},
    )
    pair = Twins(tmp_path, origin.url)
    try:
        pair.both()
        # the link's target changes outside the folder: only a full listing sees it
        commit_tree(
            origin,
            {"shared/s.yml": flow("s", "edited"), "_flows/a.yml": flow("a")},
            {"_flows/s.yml": "../shared/s.yml"},
        )
        output = pair.both()
        assert isinstance(output.flows, list)
        assert changed(output) == [("_flows/s.yml", "UPDATED", "prod/s")]
    finally:
        pair.close()


def test_a_changed_kestraignore_is_planned_in_full(twins: Twins, origin: BareRemote) -> None:
    origin.commit({"_flows/.kestraignore": "bulk/\n"}, "ignore bulk")
    output = twins.both()
    assert isinstance(output.flows, list)
    origin.commit({"_flows/bulk/f00.yml": flow("f00", "x"), "_flows/b.yml": flow("b", "y")}, "edit")
    later = twins.both()  # the unchanged .kestraignore applies to the changed files
    assert isinstance(later.flows, SyncRows)
    assert changed(later) == [("_flows/b.yml", "UPDATED", "prod/b")]


# -- the tree diff ----------------------------------------------------------------------------
def test_the_tree_diff_reads_only_the_subtrees_that_differ(
    origin: BareRemote, tmp_path: Path
) -> None:
    first = origin.head()
    assert first is not None
    second = origin.commit(
        {"_flows/team/c.yml": flow("c", "x"), "_flows/bulk": "now a file", "other/z": "z"},
        "mixed",
        delete=["_flows/bulk"],
    )
    cache = RepoCache(tmp_path / "cache")
    cache.fetch_branch(
        origin.url, "main", Credentials(username=USER, password=PASSWORD), depth=None
    )
    differ = cache.tree_differ(origin.url)
    changes = differ.changes(first, second, "_flows")
    assert changes is not None
    assert changes["bulk"] is not None and changes["team/c.yml"] is not None
    assert {path for path, blob in changes.items() if blob is None} == {
        f"bulk/f{n:02}.yml" for n in range(12)
    }
    assert len(changes) == 14 and differ.changes(first, first, "_flows") == {}
    assert differ.changes(first, second, "missing") is None
    assert differ.holds_links(second, "_flows") is False


def raw_tree(repo: pygit2.Repository, entries: list[tuple[FileMode, bytes, pygit2.Oid]]) -> Any:
    """A tree object written as bytes: no name check, unlike TreeBuilder and the index."""
    data = b"".join(b"%o %s\0" % (int(mode), name) + oid.raw for mode, name, oid in entries)
    return repo.odb.write(ObjectType.TREE, data)


@pytest.mark.parametrize(
    "name", [b".GIT", b"..", b"git~1", b".git.", b"a/b", b"a\\b"], ids=lambda n: n.decode()
)
def test_the_tree_diff_refuses_a_crafted_unsafe_name(
    origin: BareRemote, tmp_path: Path, name: bytes
) -> None:
    first = origin.head()
    assert first is not None
    repo = origin.repo
    blob = repo.create_blob(flow("a").encode())
    inner = raw_tree(repo, [(FileMode.BLOB, name, blob), (FileMode.BLOB, b"a.yml", blob)])
    root = raw_tree(repo, [(FileMode.TREE, b"_flows", inner)])
    signature = pygit2.Signature("t", "t@example.com")
    second = str(repo.create_commit("refs/heads/main", signature, signature, "evil", root, [first]))
    cache = RepoCache(tmp_path / "cache")
    creds = Credentials(username=USER, password=PASSWORD)
    cache.fetch_branch(origin.url, "main", creds, depth=None)
    with pytest.raises(GitError) as caught:
        TreeDiffer(cache.repository(origin.url)).changes(first, second, "_flows")
    assert repr(f"_flows/{name.decode()}") in str(caught.value)  # named as the listing names it


def test_a_crafted_unsafe_name_in_the_change_stops_the_sync_before_any_write(
    twins: Twins, origin: BareRemote
) -> None:
    repo = origin.repo
    blob = repo.create_blob(flow("a", "edited").encode())
    inner = raw_tree(repo, [(FileMode.BLOB, b".GIT", blob), (FileMode.BLOB, b"a.yml", blob)])
    root = raw_tree(repo, [(FileMode.TREE, b"_flows", inner)])
    signature = pygit2.Signature("t", "t@example.com")
    repo.create_commit(
        "refs/heads/main", signature, signature, "evil", root, [origin.head_commit().id]
    )
    before = live(twins.instances["memory"])
    for name in ("memory", "full"):
        with pytest.raises(GitError) as caught:
            twins.run(name)
        assert "_flows/.GIT" in str(caught.value)
    assert live(twins.instances["memory"]) == before


def test_lower_bound_finds_each_rows_place() -> None:
    lines = b"".join(
        (json.dumps({"gitPath": p}) + "\n").encode() for p in ["a", "b/c", "b/d", "\u00e9"]
    )
    offsets = [0, *(i + 1 for i, byte in enumerate(lines) if byte == 0x0A)]
    assert [
        lower_bound(lines, p) for p in ["", "a", "a0", "b/c", "b/cc", "z", "\u00e9", "\uffff"]
    ] == [
        offsets[0],
        offsets[0],
        offsets[1],
        offsets[1],
        offsets[2],
        offsets[3],
        offsets[3],
        offsets[4],
    ]
    assert lower_bound(b"", "a") == 0
