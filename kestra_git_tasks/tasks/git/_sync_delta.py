"""SyncFlows in O(changed): when the instance is as the last sync left it (its change stamp is
the remembered one) and Git moved, only what moved is read, validated, compared and written.

:func:`plan_delta` takes this path only when everything it relies on holds, else returns None
and the sync plans as before (``_replan`` or the full plan):

- the keyed memory (``_flow_memory.open_store``) is usable: its head names this stamp, a clean
  sync (no skipped invalid flow, no drift), a folder without symbolic links or submodules, and
  its no-change rows file (``sync-quick/``) holds as many lines as it has rows;
- ``git/tree.TreeDiffer`` lists what changed between the remembered commit and the new one by
  blob ids (a link or submodule that changed, a folder gone, or a changed ``.kestraignore``
  send the sync down the full path);
- each changed path's remembered row is the line of the rows file at that path (checked by a
  binary search over the file: the lines are sorted by ``gitPath``).

The plan holds only the changed rows (deletions, then by ``gitPath``) and their writes, as the
full plan would order them; the rows of the run are the remembered lines with the changed
ones replaced (:meth:`RowsDelta.splice`), so the diff file and the output equal the full
path's, built without a row object per unchanged flow. After the apply, :meth:`RowsDelta.save`
updates the changed rows of the store, switching its head only if no other sync saved since
(else the memory is forgotten), then writes the no-change answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import GitRefNotFoundError
from ...git import RepoCache
from ...sync_store import FlowStore, StoreChange, StoredHead, StoreError, store_path
from ._flow_memory import forget_flow_memory, open_store, write_head
from ._sync_flow_files import _delete_entry, _duplicate
from ._sync_plan import (
    KESTRAIGNORE,
    GitTree,
    SyncPlan,
    WriteAction,
    build_plan,
    filter_files,
    normalise_directory,
)
from ._sync_rows import FlowRow, QuickMemory, Row, SyncMemory, SyncState

if TYPE_CHECKING:
    from ...context import RunContext
    from .sync_flows import SyncFlows

__all__ = ["RowsDelta", "lower_bound", "plan_delta"]

_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def _too_many(changed: int, rows: int) -> bool:
    """Past this many changed files, the full plan costs less than a lookup per file."""
    return changed > max(1_000, rows // 4)


def lower_bound(lines: bytes, path: str) -> int:
    """The offset of the first line of ``lines`` (rows sorted by ``gitPath``) whose
    ``gitPath`` is not below ``path``; ``len(lines)`` when there is none. Raises ValueError
    for a line that is not a row."""
    low, high = 0, len(lines)  # both at line starts (or the end)
    while low < high:
        middle = (low + high) // 2
        start = lines.rfind(b"\n", 0, middle) + 1 if middle > low else low
        start = max(start, low)
        end = lines.index(b"\n", start) + 1
        if _git_path(lines[start:end]) < path:
            low = end
        else:
            high = start
    return low


def _row_at(lines: bytes, offset: int) -> tuple[dict[str, Any], int] | None:
    """The row starting at ``offset`` and where it ends; None at the end."""
    if offset >= len(lines):
        return None
    end = lines.index(b"\n", offset) + 1
    row = json.loads(lines[offset:end])
    if not isinstance(row, dict):
        raise ValueError("not a row")
    return row, end


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _git_path(line: bytes) -> str:
    path = json.loads(line)["gitPath"]
    if not isinstance(path, str):
        raise ValueError("a remembered row without gitPath")
    return path


@dataclass
class RowsDelta:
    """The remembered rows and what the changed files replace in them (module docstring)."""

    memory_path: Path
    planned: StoredHead
    base: bytes  # the remembered rows, UNCHANGED, one JSON object a line, by gitPath
    offsets: dict[str, int]  # gitPath of each changed file -> where its row goes in ``base``
    spans: dict[str, tuple[int, int]]  # gitPath -> the base line it replaces (it had a row)
    blobs: dict[str, str | None]  # the changed files (relative): new blob, None when gone

    def splice(self, rows: list[Row], *, unchanged: bool = False) -> tuple[bytes, dict[str, int]]:
        """The run's rows as JSON Lines (``unchanged``: the next no-change answer: no
        deletions, every row UNCHANGED) and the count of each state, in order of appearance."""
        counts: dict[str, int] = {}
        pieces: list[bytes] = []

        def emit(row: Row) -> None:
            row = row.with_state(SyncState.UNCHANGED) if unchanged else row
            pieces.append((_ENCODE(row.to_dict()) + "\n").encode("utf-8"))
            counts[row.sync_state.value] = counts.get(row.sync_state.value, 0) + 1

        for row in rows:
            if row.git_path is None and not unchanged:
                emit(row)  # deletions first, as the plan ordered them
        inserts = sorted(
            (self.offsets[row.git_path], row.git_path, n)
            for n, row in enumerate(rows)
            if row.git_path is not None
        )
        cuts = sorted(self.spans.values())
        cursor, cut = 0, 0
        for offset, _, n in [*inserts, (len(self.base), "", -1)]:
            while cut < len(cuts) and cuts[cut][0] < offset:
                cursor = self._keep(cursor, cuts[cut][0], pieces, counts)
                cursor, cut = max(cursor, cuts[cut][1]), cut + 1
            cursor = self._keep(cursor, offset, pieces, counts)
            if n >= 0:
                emit(rows[n])
        kept = self.planned.count - len(self.spans)  # base lines kept, counted, not read
        if kept:
            counts["UNCHANGED"] = counts.get("UNCHANGED", 0) + kept
        return b"".join(pieces), counts

    def _keep(self, cursor: int, upto: int, pieces: list[bytes], counts: dict[str, int]) -> int:
        if upto > cursor:
            pieces.append(self.base[cursor:upto])
            counts.setdefault("UNCHANGED", 0)  # its place among the states; counted at the end
        return max(cursor, upto)

    def save(self, ctx: RunContext, plan: SyncPlan, rows: list[Row]) -> None:
        """Remember the applied plan: its changed rows, index entries and blobs (see the
        module docstring); without a stamp after the apply, forget instead."""
        stamp = plan.memory.stamp
        if stamp is None:  # another writer during the apply: plan from scratch next time
            forget_flow_memory(self.memory_path)
            return
        index: dict[str, Any] = {}
        removed_index: list[str] = []
        for write in plan.writes:
            row = rows[write.row]
            assert isinstance(row, FlowRow)
            if write.action is WriteAction.PUT_FLOW:
                index[row.uid] = row.revision
            else:
                removed_index.append(row.uid)
        stored = [
            (row.git_path, row.flow_id, row.namespace, row.revision)
            for row in rows
            if isinstance(row, FlowRow) and row.git_path is not None
        ]
        change = StoreChange(list(self.spans), stored, index, removed_index, self.blobs)
        count = self.planned.count - len(self.spans) + len(stored)
        head = self.planned.next(
            commit=plan.commit, stamp=stamp, clean=plan.memory.clean, count=count
        )
        try:
            opened = FlowStore.open(store_path(self.memory_path))
            saved = False
            if opened is not None:
                with opened[0] as store:
                    saved = store.update(self.planned, head, change)
        except StoreError as exc:
            ctx.warn(f"could not remember this sync ({exc}); the next sync plans from scratch")
            saved = False
        if not saved:  # another sync saved since this one planned, or the store failed
            forget_flow_memory(self.memory_path)
            return
        write_head(self.memory_path, head)
        lines, counts = self.splice(rows, unchanged=True)
        QuickMemory.save(self.memory_path, plan.commit, stamp, lines, sum(counts.values()))


def plan_delta(
    task: SyncFlows, ctx: RunContext, cache: RepoCache, commit: str, stamp: str | None
) -> SyncPlan | None:
    """The O(changed) plan, or None when it cannot be made (module docstring)."""
    if stamp is None or task.clone_submodules:
        return None
    path = task.state_path(ctx, task.target_namespace)
    opened = open_store(path)
    if opened is None:
        return None
    store, head = opened
    with store:
        if not _usable(head, task.target_namespace, commit, stamp):
            return None
        quick = QuickMemory.rows_if_unchanged(path, str(head.commit), stamp)
        if quick is None or quick[1] != head.count:
            return None  # the rows file is not this memory's (or is torn: its size differs)
        base = quick[0]
        directory = normalise_directory(task.git_directory)
        try:  # the remembered commit may have left the cache
            blobs = cache.tree_differ(task.url).changes(str(head.commit), commit, directory)
        except GitRefNotFoundError:
            return None
        if blobs is None or KESTRAIGNORE in blobs or _too_many(len(blobs), head.count):
            return None
        blobs = _not_ignored(blobs, head.ignore, cache.blob_reader(task.url))
        present = {rel: blob for rel, blob in blobs.items() if blob is not None}
        tree = GitTree(commit, directory, present, cache.blob_reader(task.url))
        try:
            located = _locate(store, base, {tree.git_path(rel) for rel in blobs})
        except (StoreError, ValueError, KeyError):
            return None
        if located is None:
            return None
        offsets, spans, prior = located
        gone = len(blobs) - len(present)
        ctx.log("DEBUG", f"{len(present)} changed and {gone} removed file(s) in Git")
        try:
            plan = _plan(task, ctx, tree, store, prior, head)
        except StoreError:
            return None
    plan.delta = RowsDelta(path, head, base, offsets, spans, blobs)
    return plan


def _usable(head: StoredHead, scope: str, commit: str, stamp: str) -> bool:
    return (
        head.scope == scope
        and head.stamp == stamp
        and head.clean
        and not head.links
        and head.commit is not None
        and head.commit != commit
    )


def _not_ignored(
    blobs: dict[str, str | None], ignore: str | None, reader: Any
) -> dict[str, str | None]:
    """``blobs`` without what the unchanged ``.kestraignore`` and Kestra's skip rules drop."""
    listed = {rel: blob or "" for rel, blob in blobs.items()}
    if ignore is not None:
        listed[KESTRAIGNORE] = ignore
    kept, _ = filter_files(listed, reader)
    return {rel: blobs[rel] for rel in kept}


def _locate(
    store: FlowStore, base: bytes, git_paths: set[str]
) -> tuple[dict[str, int], dict[str, tuple[int, int]], dict[str, FlowRow]] | None:
    """Where each changed path's row goes in ``base``, the base line it replaces, and its
    remembered row; None when the store and the rows file disagree (damaged or edited)."""
    stored = store.rows_at(p for p in git_paths if _is_utf8(p))  # rows have UTF-8 paths only
    offsets: dict[str, int] = {}
    spans: dict[str, tuple[int, int]] = {}
    prior: dict[str, FlowRow] = {}
    for git_path in sorted(git_paths):
        offset = offsets[git_path] = lower_bound(base, git_path)
        found = _row_at(base, offset)
        line = found[0] if found is not None else None
        remembered = stored.get(git_path)
        if remembered is None:
            if line is not None and line.get("gitPath") == git_path:
                return None
            continue
        _, flow_id, namespace, revision = remembered
        row = FlowRow(git_path, SyncState.UNCHANGED, flow_id, namespace, revision)
        if found is None or line != row.to_dict():
            return None
        spans[git_path] = (offset, found[1])
        prior[git_path] = row
    return offsets, spans, prior


def _plan(
    task: SyncFlows,
    ctx: RunContext,
    tree: GitTree,
    store: FlowStore,
    prior: dict[str, FlowRow],
    head: StoredHead,
) -> SyncPlan:
    """The plan of the changed files (``SyncFlows._replan`` without its O(rows) parts)."""
    instance = ctx.require_instance()
    git_flows, protected = task._valid_flows(ctx, task._git_flows(ctx, tree), instance)
    held = store.paths_of(git_flows)
    for uid, (git_path, _) in git_flows.items():
        other = held.get(uid)
        if other is not None and other not in prior:  # an unchanged file declares it too
            raise _duplicate(git_path, other, uid)
    existing = {}
    for uid in git_flows:
        record = instance.get_flow(*uid.split("/", 1))
        if record is not None:
            existing[uid] = record
    memory = SyncMemory(task.target_namespace, index=store.index_of(git_flows))
    drifted: list[str] = []
    entries = task._flow_entries(ctx, git_flows, existing, memory, drifted)
    if task.delete:
        records = []
        for uid in sorted({row.uid for row in prior.values()} - set(git_flows)):
            record = instance.get_flow(*uid.split("/", 1))
            if record is not None and task._may_delete(ctx, record, uid, protected):
                records.append(record)
        total = len(git_flows) + head.count - len(prior)
        task.check_empty_guard(total, len(records), f"namespace {task.target_namespace}")
        entries += [_delete_entry(record) for record in records]
    plan = build_plan(tree.commit, entries, task.target_namespace, drifted)
    plan.memory.clean = not protected and not drifted
    plan.memory.stamp = head.stamp
    return plan
