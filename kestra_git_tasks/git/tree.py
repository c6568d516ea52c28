"""Reading trees straight from the object database, and the one rule for safe paths.

Every tree the package reads (sync's listing, push's base tree, the check before a clone's
checkout) is walked by :func:`walk_tree`, and every path the package writes into a tree (push)
is checked by :func:`check_path`. Both refuse, with a :class:`~kestra_git_tasks.errors.GitError`
naming the path:

- an empty name, ``.`` or ``..``, or a name holding ``/``, ``\\`` or a NUL byte (git itself never
  writes such tree entries; a crafted repository can, to escape the target folder);
- a ``.git`` component in any case (``.git``, ``.GIT``), including the spellings Windows and macOS
  file systems read as ``.git``: trailing dots or spaces (``.git.``), an NTFS stream
  (``.git::$INDEX_ALLOCATION``), the 8.3 short name ``git~1``, and ``.git`` with ignorable
  Unicode code points (``.g\\u200cit``).

::

    files = walk_tree(repo, tree)             # {"a/b.yml": blob sha}, regular and executable files
    for path, entry in iter_entries(repo, tree):   # every non-tree entry (links, submodules too)
        ...
    check_path("_files/x.txt")               # raises GitError for "x/.git/HEAD", "../x", ...
"""

from __future__ import annotations

from collections.abc import Iterator

import pygit2
from pygit2.enums import FileMode

from kestra_git_tasks.errors import GitError
from kestra_git_tasks.paths import unsafe_reason

__all__ = ["BLOB_MODES", "check_path", "iter_entries", "unsafe_reason", "walk_tree"]

BLOB_MODES = frozenset({FileMode.BLOB, FileMode.BLOB_EXECUTABLE})


def check_path(path: str) -> None:
    """Raise :class:`GitError` when ``path`` (posix, relative) has an unsafe component."""
    for part in path.split("/"):
        reason = unsafe_reason(part)
        if reason is not None:
            raise GitError(
                f"Refusing the path '{path}': {reason}. Such a path could overwrite Git's own "
                "files or leave the target folder; rename the file."
            )


def iter_entries(
    repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = "", *, at: str = ""
) -> Iterator[tuple[str, pygit2.Object]]:
    """Every entry of ``tree`` that is not itself a tree, recursively, as (posix path, entry).

    Paths start with ``prefix``; ``at`` is where ``tree`` sits in the repository (``dir/``),
    for messages only.

    Raises:
        GitError: an entry's name is unsafe (see the module docstring); the message names it.
    """
    for entry in tree:
        name = entry.name or ""
        path = f"{prefix}{name}"
        reason = unsafe_reason(name)
        if reason is not None:
            raise GitError(
                f"The repository holds an unsafe path {at + path!r} ({reason}): refusing to read "
                "it. Git itself never writes such entries: the repository was crafted or is "
                "corrupt; remove that entry."
            )
        if entry.filemode == FileMode.TREE:
            subtree = repo[entry.id]
            assert isinstance(subtree, pygit2.Tree)
            yield from iter_entries(repo, subtree, f"{path}/", at=at)
        else:
            yield path, entry


def walk_tree(repo: pygit2.Repository, tree: pygit2.Tree, *, at: str = "") -> dict[str, str]:
    """``{posix path: blob sha}`` of every regular or executable file under ``tree`` (which
    sits at ``at``, e.g. ``_flows/``, in the repository; paths are relative to it).

    Symbolic links and submodules are left out. Raises :class:`GitError` for an unsafe entry
    (see :func:`iter_entries`).
    """
    return {
        path: str(entry.id)
        for path, entry in iter_entries(repo, tree, at=at)
        if entry.filemode in BLOB_MODES
    }
