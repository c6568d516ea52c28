"""The memory of a SyncFlows task as a keyed store: one SQLite file per task and scope in
``<home>/sync-rows/<key>.sqlite``, so a sync that changed a few flows reads and writes those
rows only.

Tables: ``head`` (one JSON text: commit, stamp, clean, links, count of rows, generation),
``rows`` (the remembered rows that are not deletions, by ``gitPath``, with an index on
``namespace/id``), ``idx`` (the instance's index of the scope: ``namespace/id`` -> revision)
and ``blobs`` (each listed file of the Git folder -> its blob id; names as UTF-8 bytes with
surrogate escapes, as Git may hold any bytes).

Every change is one transaction. :meth:`FlowStore.replace` rewrites everything (a full sync);
:meth:`FlowStore.update` changes the given rows and switches the head only if it is still the
one the sync planned from (compare and swap): a concurrent writer makes it return False and
change nothing. Any SQLite error on reading (a damaged or foreign file) reads as "no memory"
(:meth:`FlowStore.open` returns None): the sync then plans from scratch and rewrites the file.
This module is, beside ``instance/``, the only one importing sqlite3; it knows nothing of
tasks (rows are plain tuples).
"""

from __future__ import annotations

import functools
import json
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["FlowStore", "StoreChange", "StoreError", "StoredHead", "StoredRow", "store_path"]

#: ``(gitPath, flowId, namespace, revision)`` of one remembered row
StoredRow = tuple[str, str, str, int]

_VERSION = 1
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS head (one INTEGER PRIMARY KEY CHECK (one = 1), v TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rows (path TEXT PRIMARY KEY, uid TEXT NOT NULL, "
    "flow_id TEXT NOT NULL, namespace TEXT NOT NULL, revision INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS rows_uid ON rows (uid)",
    "CREATE TABLE IF NOT EXISTS idx (uid TEXT PRIMARY KEY, v TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS blobs (path BLOB PRIMARY KEY, blob TEXT NOT NULL)",
)


class StoreError(Exception):
    """The store could not be read or written (SQLite's error is the cause). Never reaches a
    user: the sync then plans from scratch, or warns that it could not remember."""


def _translated(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (sqlite3.Error, OSError, UnicodeError, ValueError) as exc:
            where = getattr(args[0], "path", args[1] if len(args) > 1 else "")
            raise StoreError(f"the sync memory {where}: {exc}") from exc

    return call


def store_path(state_path: Path) -> Path:
    """Beside the memory ``<home>/sync-state/<key>.json``: ``<home>/sync-rows/<key>.sqlite``."""
    return state_path.parent.parent / "sync-rows" / f"{state_path.stem}.sqlite"


@dataclass(frozen=True)
class StoredHead:
    """What the store remembers as a whole; ``generation`` changes with every save."""

    scope: str
    commit: str | None
    stamp: str | None
    clean: bool
    links: bool  # the Git folder held a symbolic link or submodule: no diff by blob ids
    ignore: str | None  # the blob of the folder's .kestraignore
    count: int
    generation: str

    def to_json(self) -> str:
        data = {"version": _VERSION, **self.__dict__}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StoredHead:
        data = json.loads(text)
        if not isinstance(data, dict) or data.pop("version", None) != _VERSION:
            raise ValueError("another version of the store")
        head = cls(**data)
        if not (isinstance(head.scope, str) and isinstance(head.count, int)):
            raise TypeError("head")
        texts = (head.commit, head.stamp, head.ignore, head.generation)
        if not all(isinstance(v, str | None) for v in texts):
            raise TypeError("head")
        return head

    def next(self, **changes: Any) -> StoredHead:
        """This head with ``changes`` and a new generation."""
        return StoredHead(**{**self.__dict__, **changes, "generation": secrets.token_hex(8)})


def _key(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


class FlowStore:
    """An open store (see the module docstring); use as a context manager."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    @classmethod
    def open(cls, path: Path) -> tuple[FlowStore, StoredHead] | None:
        """The store at ``path`` and its head; None when there is none or it is unreadable."""
        if not path.is_file():
            return None
        try:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        except sqlite3.Error:
            return None
        try:
            row = conn.execute("SELECT v FROM head").fetchone()
            head = StoredHead.from_json(row[0])
        except (sqlite3.Error, ValueError, TypeError, KeyError):
            conn.close()
            return None
        return cls(path, conn), head

    @classmethod
    @_translated
    def create(cls, path: Path) -> FlowStore:
        """The store at ``path``, made (or remade, when unreadable) with empty tables."""
        path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(2):
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            try:
                for statement in _SCHEMA:
                    conn.execute(statement)
                return cls(path, conn)
            except sqlite3.DatabaseError:
                conn.close()
                if attempt:
                    raise
                path.unlink(missing_ok=True)  # not a database: ours to replace
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> FlowStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- reading --------------------------------------------------------------------------------
    @_translated
    def everything(self) -> tuple[list[StoredRow], dict[str, Any], dict[str, str]]:
        """Every row (by path), the index and the blobs."""
        rows = [
            (path, flow_id, namespace, int(revision))
            for path, flow_id, namespace, revision in self._conn.execute(
                "SELECT path, flow_id, namespace, revision FROM rows ORDER BY path"
            )
        ]
        index = {uid: json.loads(v) for uid, v in self._conn.execute("SELECT uid, v FROM idx")}
        blobs = {
            bytes(path).decode("utf-8", "surrogateescape"): blob
            for path, blob in self._conn.execute("SELECT path, blob FROM blobs")
        }
        return rows, index, blobs

    @_translated
    def rows_at(self, paths: Iterable[str]) -> dict[str, StoredRow]:
        """The remembered rows of ``paths`` (gitPath) that have one."""
        found = {}
        for path in paths:
            row = self._conn.execute(
                "SELECT flow_id, namespace, revision FROM rows WHERE path = ?", (path,)
            ).fetchone()
            if row is not None:
                found[path] = (path, row[0], row[1], int(row[2]))
        return found

    @_translated
    def paths_of(self, uids: Iterable[str]) -> dict[str, str]:
        """``namespace/id`` -> gitPath of the remembered rows of ``uids``."""
        found = {}
        for uid in uids:
            row = self._conn.execute("SELECT path FROM rows WHERE uid = ?", (uid,)).fetchone()
            if row is not None:
                found[uid] = row[0]
        return found

    @_translated
    def index_of(self, uids: Iterable[str]) -> dict[str, Any]:
        """The remembered index entries of ``uids``."""
        found = {}
        for uid in uids:
            row = self._conn.execute("SELECT v FROM idx WHERE uid = ?", (uid,)).fetchone()
            if row is not None:
                found[uid] = json.loads(row[0])
        return found

    # -- writing --------------------------------------------------------------------------------
    @_translated
    def replace(
        self,
        head: StoredHead,
        rows: Iterable[StoredRow],
        index: Mapping[str, Any],
        blobs: Mapping[str, str],
    ) -> None:
        """Everything, in one transaction."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in ("head", "rows", "idx", "blobs"):
                conn.execute(f"DELETE FROM {table}")
            conn.execute("INSERT INTO head (one, v) VALUES (1, ?)", (head.to_json(),))
            conn.executemany(
                "INSERT INTO rows VALUES (?, ?, ?, ?, ?)",
                ((p, f"{ns}/{fid}", fid, ns, rev) for p, fid, ns, rev in rows),
            )
            conn.executemany(
                "INSERT INTO idx VALUES (?, ?)", ((u, json.dumps(v)) for u, v in index.items())
            )
            conn.executemany(
                "INSERT INTO blobs VALUES (?, ?)", ((_key(p), b) for p, b in blobs.items())
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @_translated
    def update(self, planned: StoredHead, head: StoredHead, change: StoreChange) -> bool:
        """``change`` and the new ``head``, only if the head is still ``planned``; False (and
        nothing changed) when another sync saved since."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            switched = conn.execute(
                "UPDATE head SET v = ? WHERE v = ?", (head.to_json(), planned.to_json())
            ).rowcount
            if switched != 1:
                conn.execute("ROLLBACK")
                return False
            change.write(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return True


@dataclass
class StoreChange:
    """The rows, index entries and blobs one sync changed (:meth:`FlowStore.update`)."""

    removed_rows: list[str]
    rows: list[StoredRow]
    index: dict[str, Any]
    removed_index: list[str]
    blobs: dict[str, str | None]

    def write(self, conn: sqlite3.Connection) -> None:
        conn.executemany("DELETE FROM rows WHERE path = ?", ((p,) for p in self.removed_rows))
        conn.executemany(
            "INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?, ?)",
            ((p, f"{ns}/{fid}", fid, ns, rev) for p, fid, ns, rev in self.rows),
        )
        conn.executemany("DELETE FROM idx WHERE uid = ?", ((u,) for u in self.removed_index))
        conn.executemany(
            "INSERT OR REPLACE INTO idx VALUES (?, ?)",
            ((u, json.dumps(v)) for u, v in self.index.items()),
        )
        gone = [(_key(p),) for p, b in self.blobs.items() if b is None]
        conn.executemany("DELETE FROM blobs WHERE path = ?", gone)
        conn.executemany(
            "INSERT OR REPLACE INTO blobs VALUES (?, ?)",
            ((_key(p), b) for p, b in self.blobs.items() if b is not None),
        )
