"""Where SyncFlows remembers its last sync: a keyed store (``sync_store.FlowStore``, one SQLite
file in ``<home>/sync-rows/``) behind a small head in ``<home>/sync-state/<key>.json``.

The head (``scope``, ``commit``, ``stamp``, ``clean`` and the store's ``generation``) is written
after the store, atomically; a memory is used only when both name the same generation, so a
sync killed between the two, a concurrent save, or a damaged or edited file reads as no memory
(the sync plans from scratch). A head in the earlier format (the whole memory as JSON) is still
read. The full path saves everything (:func:`save_flow_memory`); the O(changed) path updates
the changed rows only (``_sync_delta.py``) and writes the head with the new generation
(:func:`write_head`).
"""

from __future__ import annotations

import json
from pathlib import Path

from ...sync_store import FlowStore, StoredHead, StoreError, store_path
from ._sync_rows import FlowRow, QuickMemory, SyncMemory, SyncState, _write_atomically

__all__ = ["forget_flow_memory", "load_flow_memory", "open_store", "save_flow_memory"]


def open_store(path: Path) -> tuple[FlowStore, StoredHead] | None:
    """The store of the memory ``path`` and its head, when the JSON head names its generation."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        generation = data["store"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    opened = FlowStore.open(store_path(path))
    if opened is None:
        return None
    store, head = opened
    if head.generation != generation or head.commit != data.get("commit"):
        store.close()
        return None
    return store, head


def load_flow_memory(path: Path, scope: str) -> SyncMemory:
    """The whole memory (every row, the index, the blobs); empty when there is none usable."""
    try:
        legacy = "rows" in json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return SyncMemory(scope)
    if legacy:  # the memory as one JSON file, from an earlier version
        return SyncMemory.load(path, scope, FlowRow)
    opened = open_store(path)
    if opened is None:
        return SyncMemory(scope)
    store, head = opened
    with store:
        try:
            stored, index, blobs = store.everything()
        except StoreError:  # a damaged store is no memory
            return SyncMemory(scope)
    if head.scope != scope or len(stored) != head.count:
        return SyncMemory(scope)
    unchanged = SyncState.UNCHANGED
    rows = [FlowRow(p, unchanged, fid, ns, rev) for p, fid, ns, rev in stored]
    return SyncMemory(scope, head.commit, list(rows), index, blobs, head.clean, head.stamp)


def save_flow_memory(path: Path, memory: SyncMemory, *, links: bool, ignore: str | None) -> None:
    """Everything ``memory`` holds, then its head and its no-change answer."""
    stored = [
        (row.git_path, row.flow_id, row.namespace, row.revision)
        for row in memory.unchanged_rows()
        if isinstance(row, FlowRow) and row.git_path is not None
    ]
    head = StoredHead(
        memory.scope, memory.commit, memory.stamp, memory.clean, links, ignore, len(stored), ""
    ).next()
    with FlowStore.create(store_path(path)) as store:
        store.replace(head, stored, memory.index or {}, memory.blobs or {})
    write_head(path, head)
    memory.save_quick(path)


def write_head(path: Path, head: StoredHead) -> None:
    """The JSON head naming the store's generation (see the module docstring)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "scope": head.scope,
        "commit": head.commit,
        "stamp": head.stamp,
        "clean": head.clean,
        "store": head.generation,
    }
    _write_atomically(path, json.dumps(data))


def forget_flow_memory(path: Path) -> None:
    """No memory: the next sync plans from scratch."""
    path.unlink(missing_ok=True)
    QuickMemory.forget(path)
