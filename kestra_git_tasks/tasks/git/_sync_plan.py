"""The data of a sync's plan and the pure steps that build it: what a sync will write
(:class:`Write`, :class:`SyncPlan`), the files it reads (:class:`GitTree`, from Git or from a
folder, with ``.kestraignore`` and Kestra's skip rules applied by :func:`filter_files`), and
:func:`build_plan`, which orders the rows as Kestra does. Nothing here reads Git or the instance
except :func:`_write`, the apply's one write (called inside the caller's batch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ...errors import ConfigError, FlowFileError, FlowProblem
from ...instance.base import Instance
from ._sync_rows import Row, SyncMemory

if TYPE_CHECKING:
    from ._sync_delta import RowsDelta

__all__ = [
    "KESTRAIGNORE",
    "Entry",
    "GitTree",
    "SyncPlan",
    "Write",
    "WriteAction",
    "build_plan",
    "filter_files",
    "normalise_directory",
]

KESTRAIGNORE = ".kestraignore"
_SKIPPED_SUFFIXES = (".git", ".gitignore", ".gitkeep")


class WriteAction(StrEnum):
    """What a :class:`Write` does to the instance."""

    PUT_FLOW = "put_flow"
    DELETE_FLOW = "delete_flow"
    WRITE_FILE = "write_file"
    DELETE_FILE = "delete_file"


@dataclass(frozen=True)
class Write:
    """One change of the instance.

    ``row`` is the index of the diff row it belongs to (its revision is filled in by the apply).
    """

    action: WriteAction
    row: int = -1
    source: str | None = None
    namespace: str | None = None
    key: str | None = None
    content: bytes | None = None


@dataclass
class SyncPlan:
    """Everything a sync will do, computed before doing any of it.

    ``memory`` is what will be remembered once the plan is applied (its commit, rows and index
    are filled in then); ``unchanged`` says nothing moved since the remembered sync.
    """

    commit: str | None
    rows: list[Row]
    writes: list[Write] = field(default_factory=list)
    memory: SyncMemory = field(default_factory=lambda: SyncMemory(""))
    drifted: list[str] = field(default_factory=list)
    unchanged: bool = False
    #: no change: the diff file's lines and their count (SyncTask.quick_unchanged)
    quick_rows: tuple[bytes, int] | None = None
    #: O(changed): ``rows`` are the changed rows only, spliced into the remembered ones
    delta: RowsDelta | None = None
    ignore: str | None = None  # the blob of the Git folder's .kestraignore (remembered)

    @property
    def changes(self) -> int:
        """How many writes the apply makes."""
        return len(self.writes)

    @property
    def writes_flows(self) -> bool:
        """Whether the apply stores a flow (the instance then validates it)."""
        return any(write.action is WriteAction.PUT_FLOW for write in self.writes)


@dataclass
class GitTree:
    """The files to sync: relative path -> an id, and how to read each one.

    From Git (``read_git``) the ids are blob ids read from the repository cache; ``from_folder``
    builds the same view over a local folder (``kestra-git deploy``).
    """

    commit: str | None
    directory: str
    files: dict[str, str]
    reader: Callable[[str], bytes]
    ignore: str | None = None  # the blob of the folder's .kestraignore (from Git)

    def read(self, relative: str) -> bytes:
        """Content of one file of the tree."""
        return self.reader(self.files[relative])

    @classmethod
    def from_folder(cls, folder: Path) -> GitTree:
        """Every file under ``folder`` (``.kestraignore`` and skip rules applied, dot-folders
        such as ``.git`` or ``.github`` left out); rows' ``gitPath`` start with ``folder``."""
        listed = {
            path.relative_to(folder).as_posix(): str(path)
            for path in sorted(folder.rglob("*"))
            if path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(folder).parts[:-1])
        }
        label = folder.as_posix().rstrip("/")
        return cls(None, label, *filter_files(listed, lambda p: Path(p).read_bytes()))

    def git_path(self, relative: str) -> str:
        """``gitPath`` of a row: the task's ``gitDirectory`` joined with the file's path."""
        return f"{self.directory}/{relative}" if self.directory else relative

    def row_path(self, relative: str) -> str:
        """``gitPath`` of a file that gets a row; a file name that is not UTF-8 could be
        neither stored nor reported, so it stops the plan before anything is written."""
        git_path = self.git_path(relative)
        try:
            git_path.encode("utf-8")
        except UnicodeEncodeError:
            shown = git_path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            problem = FlowProblem(
                shown,
                None,
                "the file name is not UTF-8; rename it with UTF-8 characters, or exclude it in "
                ".kestraignore",
            )
            raise FlowFileError([problem]) from None
        return git_path


def filter_files(
    listed: dict[str, str], reader: Callable[[str], bytes]
) -> tuple[dict[str, str], Callable[[str], bytes]]:
    """Drop the root ``.kestraignore`` (and what it ignores) and ``.git*`` files."""
    files = dict(listed)
    ignore_id = files.pop(KESTRAIGNORE, None)
    if ignore_id is not None:
        import pathspec  # only a repository with a .kestraignore pays for it

        lines = reader(ignore_id).decode("utf-8", "replace").splitlines()
        spec = pathspec.GitIgnoreSpec.from_lines(lines)
        files = {path: ident for path, ident in files.items() if not spec.match_file(path)}
    files = {path: ident for path, ident in files.items() if not path.endswith(_SKIPPED_SUFFIXES)}
    return files, reader


#: A diff row and the write that makes it true (None when nothing needs writing).
Entry = tuple[Row, "Write | None"]


def build_plan(
    commit: str | None, entries: list[Entry], scope: str, drifted: list[str] | None = None
) -> SyncPlan:
    """Sort the rows in Kestra's order (by ``gitPath``, deletions first) and tie each write to
    its row's final position."""
    entries = sorted(entries, key=lambda e: (e[0].git_path is not None, e[0].git_path or ""))
    writes = [
        Write(write.action, index, write.source, write.namespace, write.key, write.content)
        for index, (_, write) in enumerate(entries)
        if write is not None
    ]  # the constructor, not dataclasses.replace: a sync may hold 100,000 writes
    rows = [row for row, _ in entries]
    return SyncPlan(commit, rows, writes, SyncMemory(scope), drifted or [])


def normalise_directory(directory: str) -> str:
    text = directory.strip().strip("/")
    if text in ("", "."):
        return ""
    parts = [part for part in PurePosixPath(text).parts if part != "."]
    if ".." in parts:
        raise ConfigError(f"gitDirectory '{directory}' must stay inside the repository")
    return "/".join(parts)


def _write(instance: Instance, write: Write) -> int | None:
    if write.action == WriteAction.PUT_FLOW:
        assert write.source is not None
        return instance.put_flow(write.source).revision
    assert write.namespace is not None and write.key is not None
    if write.action == WriteAction.DELETE_FLOW:
        instance.delete_flow(write.namespace, write.key)
    elif write.action == WriteAction.WRITE_FILE:
        assert write.content is not None
        instance.write_file(write.namespace, write.key, write.content)
    else:
        instance.delete_file(write.namespace, write.key)
    return None
