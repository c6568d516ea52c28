"""The typed results of a sync: diff rows, and the memory of what the last sync applied.

A row is a frozen dataclass; :meth:`to_dict` gives Kestra's field names, in Kestra's order, and
is the only place they are spelt: task outputs and the JSON Lines diff files hold exactly
``row.to_dict()``. :class:`SyncMemory` is what a sync remembers in ``<home>/sync-state`` so the
next run of the same task can tell that nothing changed without reading a file; it is written
to a unique temporary file and moved into place, so concurrent syncs in one home never see
(or leave) a half-written state.

With a change stamp, :meth:`SyncMemory.save` also writes what a no-change run answers, so that
run never parses the memory, in ``<home>/sync-quick``: ``<key>.<nonce>.rows.jsonl`` (the
remembered rows as they stand when nothing moved, exactly the diff file's lines) and
``<key>.head.json`` (commit, stamp, the name of that rows file, their count), each moved into
place, the head last; then the key's other rows files are removed. :class:`QuickMemory` reads
the head; a rows file gone meanwhile (a concurrent save) only sends the run down the full
path.

A no-change run hands those lines on as :class:`SyncRows`, parsed the first time something
reads them (a template, the recorder, the CLI table, a Python caller): the run itself costs
the same at 100,000 rows as at 10.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, overload

__all__ = [
    "FileRow",
    "FlowRow",
    "QuickMemory",
    "Row",
    "SyncMemory",
    "SyncRows",
    "SyncState",
    "rows_as_list",
]


class SyncState(StrEnum):
    """State of a diff row (Kestra's ``SyncState``)."""

    ADDED = "ADDED"
    UPDATED = "UPDATED"
    UNCHANGED = "UNCHANGED"
    DELETED = "DELETED"
    OVERWRITTEN = "OVERWRITTEN"


@dataclass(frozen=True)
class FlowRow:
    """One flow of a SyncFlows plan; ``git_path`` is None for a deletion."""

    git_path: str | None
    sync_state: SyncState
    flow_id: str
    namespace: str
    revision: int

    @property
    def uid(self) -> str:
        """``namespace/id``."""
        return f"{self.namespace}/{self.flow_id}"

    def with_state(self, state: SyncState) -> FlowRow:
        """This row in ``state`` (the constructor: dataclasses.replace costs ~7 us a row)."""
        if state is self.sync_state:
            return self
        return FlowRow(self.git_path, state, self.flow_id, self.namespace, self.revision)

    def to_dict(self) -> dict[str, Any]:
        """Kestra's row: ``{gitPath, syncState, flowId, namespace, revision}``."""
        return {
            "gitPath": self.git_path,
            "syncState": self.sync_state.value,
            "flowId": self.flow_id,
            "namespace": self.namespace,
            "revision": self.revision,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowRow:
        """The row :meth:`to_dict` gave (KeyError/ValueError/TypeError when it is not one)."""
        git_path = data["gitPath"]
        if not (git_path is None or isinstance(git_path, str)):
            raise TypeError("gitPath")
        return cls(
            git_path,
            SyncState(data["syncState"]),
            str(data["flowId"]),
            str(data["namespace"]),
            int(data["revision"]),
        )


@dataclass(frozen=True)
class FileRow:
    """One namespace file of a SyncNamespaceFiles plan; ``git_path`` is None for a deletion."""

    git_path: str | None
    sync_state: SyncState
    kestra_path: str

    def with_state(self, state: SyncState) -> FileRow:
        """This row in ``state``."""
        if state is self.sync_state:
            return self
        return FileRow(self.git_path, state, self.kestra_path)

    def to_dict(self) -> dict[str, Any]:
        """Kestra's row: ``{gitPath, syncState, kestraPath}``."""
        return {
            "gitPath": self.git_path,
            "syncState": self.sync_state.value,
            "kestraPath": self.kestra_path,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileRow:
        """The row :meth:`to_dict` gave (KeyError/ValueError/TypeError when it is not one)."""
        git_path = data["gitPath"]
        if not (git_path is None or isinstance(git_path, str)):
            raise TypeError("gitPath")
        return cls(git_path, SyncState(data["syncState"]), str(data["kestraPath"]))


Row = FlowRow | FileRow


@dataclass
class SyncMemory:
    """What the last successful sync of one task and scope applied.

    ``index`` is the instance's fingerprint of the scope after the sync; ``blobs`` (SyncFlows)
    the Git blob of each file then, and ``clean`` whether every flow was applied as Git has it
    (no skipped invalid flow, no drift), which lets the next run re-plan only changed files.
    ``stamp`` is the instance's change stamp of the scope right after the sync's own writes
    (``Instance.change_stamp``; None when the instance keeps none, or when another writer
    touched the scope during the sync): while it still equals the instance's, nothing in
    scope was written since and ``index`` still holds, without reading it again.
    """

    scope: str
    commit: str | None = None
    rows: list[Row] = field(default_factory=list)
    index: dict[str, Any] | None = None
    blobs: dict[str, str] | None = None
    clean: bool = False
    stamp: str | None = None

    def unchanged_rows(self) -> list[Row]:
        """The remembered rows as they stand when nothing moved: deletions are gone, the rest
        is UNCHANGED."""
        unchanged = SyncState.UNCHANGED
        return [
            row.with_state(unchanged) for row in self.rows if row.sync_state != SyncState.DELETED
        ]

    def to_json(self) -> str:
        data = {
            "scope": self.scope,
            "commit": self.commit,
            "rows": [row.to_dict() for row in self.rows],
            "index": self.index,
            "blobs": self.blobs,
            "clean": self.clean,
            "stamp": self.stamp,
        }
        return json.dumps(data)

    @classmethod
    def load(cls, path: Path, scope: str, row_type: type[FlowRow] | type[FileRow]) -> SyncMemory:
        """The memory saved at ``path``; an empty one when there is none or it is unreadable
        (the next sync then plans from scratch)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            rows: list[Row] = [row_type.from_dict(item) for item in data.get("rows", [])]
            index, blobs = data.get("index"), data.get("blobs")
            commit, stamp = data.get("commit"), data.get("stamp")
            if not (isinstance(index, dict | None) and isinstance(blobs, dict | None)):
                raise TypeError("index")
            if not (isinstance(commit, str | None) and isinstance(stamp, str | None)):
                raise TypeError("commit")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls(scope)
        return cls(scope, commit, rows, index, blobs, data.get("clean") is True, stamp)

    def save(self, path: Path) -> None:
        """Write to a unique temporary file beside ``path``, then move it into place (and,
        with a stamp, the no-change answer: see the module docstring)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, self.to_json())
        self.save_quick(path)

    def save_quick(self, path: Path) -> None:
        """The no-change answer of this memory beside ``path`` (removed without a stamp)."""
        lines = b""
        if self.stamp is not None:
            unchanged = [row.to_dict() for row in self.unchanged_rows()]
            encode = json.JSONEncoder(ensure_ascii=False).encode  # one encoder for every row
            lines = "".join(encode(r) + "\n" for r in unchanged).encode("utf-8")
        QuickMemory.save(path, self.commit, self.stamp, lines)


@dataclass(frozen=True)
class QuickMemory:
    """The head a no-change run reads: commit, stamp, and the file of its rows."""

    commit: str
    stamp: str
    rows: Path
    count: int
    size: int | None = None  # of the rows file, in bytes (None: a head of an earlier version)

    @staticmethod
    def head_path(path: Path) -> Path:
        """Beside the memory ``<home>/sync-state/<key>.json``: ``<home>/sync-quick/<key>...``."""
        return path.parent.parent / "sync-quick" / f"{path.stem}.head.json"

    @classmethod
    def load(cls, path: Path) -> QuickMemory | None:
        """The head saved beside the memory ``path``; None when there is none (or unreadable)."""
        try:
            data = json.loads(cls.head_path(path).read_text(encoding="utf-8"))
            commit, stamp, rows, count = data["commit"], data["stamp"], data["rows"], data["count"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not all(isinstance(v, str) for v in (commit, stamp, rows)) or "/" in rows:
            return None
        size = data.get("size")
        if not isinstance(count, int) or not isinstance(size, int | None):
            return None
        return cls(commit, stamp, cls.head_path(path).with_name(rows), count, size)

    @classmethod
    def rows_if_unchanged(
        cls, path: Path, commit: str, stamp: str | None
    ) -> tuple[bytes, int] | None:
        """The remembered rows' text and count when the head beside the memory ``path`` names
        this commit and stamp; None otherwise (no stamp, no head, another commit or stamp, no
        rows, or rows of another size than the head says)."""
        head = cls.load(path) if stamp is not None else None
        if head is None or head.commit != commit or head.stamp != stamp:
            return None
        lines = head.read_rows()
        if lines is None:
            return None
        if head.size is not None:
            torn = len(lines) != head.size  # O(1): the rows are not read
        else:
            torn = lines.count(b"\n") != head.count
        if torn:  # or not the file the head was written with
            return None
        return lines, head.count

    @classmethod
    def save(
        cls,
        path: Path,
        commit: str | None,
        stamp: str | None,
        lines: bytes,
        count: int | None = None,
    ) -> None:
        """Remember ``lines`` (the unchanged rows, one JSON object a line; ``count`` of them
        when known) as the no-change answer of ``commit`` and ``stamp`` beside the memory
        ``path``; without a stamp (or a commit) there is none, and the head is removed."""
        head = cls.head_path(path)
        if stamp is None or commit is None:
            head.unlink(missing_ok=True)
            return
        head.parent.mkdir(parents=True, exist_ok=True)
        rows = head.with_name(f"{path.stem}.{secrets.token_hex(8)}.rows.jsonl")
        _write_atomically(rows, lines)
        quick = {"commit": commit, "stamp": stamp, "rows": rows.name}
        count = lines.count(b"\n") if count is None else count
        _write_atomically(head, json.dumps({**quick, "count": count, "size": len(lines)}).encode())
        for other in head.parent.glob(f"{path.stem}.*.rows.jsonl"):
            if other != rows:  # older ones, or a concurrent save's (its head then misses it)
                other.unlink(missing_ok=True)

    @classmethod
    def forget(cls, path: Path) -> None:
        """Remove the no-change answer beside the memory ``path``."""
        cls.head_path(path).unlink(missing_ok=True)

    def read_rows(self) -> bytes | None:
        """The rows' JSON Lines; None when the file is gone (a concurrent save replaced it)."""
        try:
            return self.rows.read_bytes()
        except OSError:
            return None


class SyncRows(Sequence[dict[str, Any]]):
    """A sync's rows (Kestra's dicts) held as their JSON Lines, parsed on first use.

    What ``output.flows`` / ``output.files`` of a no-change run is: a read-only sequence of
    dicts that compares equal to the list of the same rows (``list(rows)`` makes a list). Its
    length is known without parsing; anything else parses every row once, then reads the
    list. The output's serializer (:func:`rows_as_list`) turns it into the list, so recorded
    outputs and templates see exactly what the full path gives.
    """

    __slots__ = ("_count", "_lines", "_rows")

    def __init__(self, lines: bytes, count: int | None = None) -> None:
        self._lines: bytes = lines  # one JSON object a line, each ended by "\n"
        self._count = lines.count(b"\n") if count is None else count
        self._rows: list[dict[str, Any]] | None = None

    @property
    def parsed(self) -> bool:
        """Whether the rows have been parsed yet."""
        return self._rows is not None

    def to_list(self) -> list[dict[str, Any]]:
        """The rows, parsed once (JSON never writes a raw line break inside a value)."""
        if self._rows is None:
            body = self._lines.rstrip(b"\n").replace(b"\n", b",")
            rows = json.loads(b"[" + body + b"]")
            if not isinstance(rows, list) or len(rows) != self._count:
                raise ValueError("the remembered rows are not one JSON object a line")
            self._rows, self._lines = rows, b""
        return self._rows

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self.to_list()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.to_list())

    def __contains__(self, value: object) -> bool:
        return value in self.to_list()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SyncRows):
            other = other.to_list()
        return isinstance(other, list) and self.to_list() == other

    __hash__ = None  # type: ignore[assignment]  # like a list

    def __repr__(self) -> str:
        return repr(self.to_list())


def rows_as_list(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of a sync output as a list (the field serializer of ``flows`` / ``files``)."""
    if isinstance(rows, list):
        return rows
    return rows.to_list() if isinstance(rows, SyncRows) else list(rows)


def _write_atomically(path: Path, data: str | bytes) -> None:
    fd, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
