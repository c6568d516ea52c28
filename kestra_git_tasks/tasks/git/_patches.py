"""The content behind diff rows: a unified diff of each changed flow or file.

Outputs keep Kestra's rows only. When the run asks for it (``RunContext.patches``), the sync
and push tasks also write the old and new content of every changed row as one unified diff,
``<taskId>-<rows>.patch``, beside the rows' JSON Lines file (:func:`patch_file` gives its path
from the ``diffFile`` output): dry runs included, secrets masked like every stored text.

Labels follow ``git diff``: ``a/<path>`` and ``b/<path>``, ``/dev/null`` for the side that does
not exist; a file that is not UTF-8 text is one ``Binary files ... differ`` line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...instance.base import Instance
from ._sync_rows import FlowRow, SyncState
from ._sync_rows import Row as SyncRow

if TYPE_CHECKING:
    from ._sync import Write

__all__ = ["Change", "patch_file", "render_patch", "sync_changes", "write_patch"]

#: Where libgit2 and git look for a NUL byte to call a file binary.
_BINARY_PROBE = 8000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Change:
    """One changed row: its label (a path) and its content before and after (None: absent)."""

    label: str
    old: bytes | None
    new: bytes | None


def patch_file(diff_file: str | Path) -> Path:
    """The patch written beside the JSON Lines ``diff_file`` of a task (it may not exist)."""
    return Path(diff_file).with_suffix(".patch")


def render_patch(changes: Iterable[Change]) -> str:
    """Every change as a unified diff (3 lines of context), in the order given."""
    return "".join(_file_patch(change) for change in changes)


def write_patch(
    diff_file: str | Path, changes: Iterable[Change], mask: Callable[[str], str] | None = None
) -> Path:
    """Write the unified diff of ``changes`` beside ``diff_file``; ``mask`` hides secret
    values."""
    text = render_patch(changes)
    if mask is not None:
        text = mask(text)
    path = patch_file(diff_file)
    path.write_text(text, encoding="utf-8", newline="")
    return path


def sync_changes(instance: Instance, rows: list[SyncRow], writes: Iterable[Write]) -> list[Change]:
    """The content behind a sync plan's writes, the old side read from ``instance`` (call it
    before the apply)."""
    changes = []
    for write in writes:
        row = rows[write.row]
        new: bytes | None = None
        if write.source is not None:
            new = write.source.encode("utf-8")
        elif write.content is not None:
            new = write.content
        old = None if row.sync_state == SyncState.ADDED else _current(instance, row, write)
        changes.append(Change(_label(row), old, new))
    return changes


def _current(instance: Instance, row: SyncRow, write: Write) -> bytes | None:
    if isinstance(row, FlowRow):
        record = instance.get_flow(row.namespace, row.flow_id)
        return record.source.encode("utf-8") if record is not None else None
    if write.namespace is None or write.key is None:
        return None
    return instance.read_file(write.namespace, write.key)


def _label(row: SyncRow) -> str:
    if row.git_path is not None:
        return row.git_path
    return row.uid if isinstance(row, FlowRow) else row.kestra_path.lstrip("/")


def _quoted(label: str) -> str:
    """A path as one header line: control characters (a newline in a file name) escaped."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), label)


def _file_patch(change: Change) -> str:
    change = Change(_quoted(change.label), change.old, change.new)
    old_name = f"a/{change.label}" if change.old is not None else "/dev/null"
    new_name = f"b/{change.label}" if change.new is not None else "/dev/null"
    header = f"diff --git a/{change.label} b/{change.label}\n"
    old_text, new_text = _text(change.old), _text(change.new)
    if old_text is None or new_text is None:
        return f"{header}Binary files {old_name} and {new_name} differ\n"
    lines = list(
        difflib.unified_diff(
            _lines(old_text),
            _lines(new_text),
            fromfile=old_name,
            tofile=new_name,
        )
    )
    if not lines:
        return ""
    for index, line in enumerate(lines):
        if not line.endswith("\n"):
            lines[index] = line + "\n\\ No newline at end of file\n"
    return header + "".join(lines)


def _lines(text: str) -> list[str]:
    """Lines ended by ``\\n`` only, as Git splits them (a ``\\r`` stays inside its line)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _text(content: bytes | None) -> str | None:
    """``content`` as text ("" when absent), None when it is binary or not UTF-8."""
    if content is None:
        return ""
    if b"\0" in content[:_BINARY_PROBE]:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None
