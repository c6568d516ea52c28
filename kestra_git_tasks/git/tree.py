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
    files = walk_tree(repo, sub, at="_flows/", root=commit.tree, skipped=notes)  # links followed
    for path, entry in iter_entries(repo, tree):   # every non-tree entry (links, submodules too)
        ...
    check_path("_files/x.txt")               # raises GitError for "x/.git/HEAD", "../x", ...
    TreeDiffer(repo).changes(old, new, "_flows")  # {"a.yml": new blob, "b.yml": None}: by ids
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pygit2
from pygit2.enums import FileMode

from kestra_git_tasks.errors import GitError, GitRefNotFoundError
from kestra_git_tasks.paths import unsafe_reason

__all__ = [
    "BLOB_MODES",
    "TreeDiffer",
    "check_path",
    "iter_entries",
    "unsafe_reason",
    "walk_tree",
]

#: how many symbolic links one path may go through (Linux's limit for a path lookup)
MAX_LINK_HOPS = 40

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
            _refuse_unsafe(name, at + path)
        if entry.filemode == FileMode.TREE:
            subtree = repo[entry.id]
            assert isinstance(subtree, pygit2.Tree)
            yield from iter_entries(repo, subtree, f"{path}/", at=at)
        else:
            yield path, entry


def _refuse_unsafe(name: str, where: str) -> None:
    """Raise :class:`GitError` naming ``where`` when the entry ``name`` is unsafe."""
    reason = unsafe_reason(name)
    if reason is not None:
        raise GitError(
            f"The repository holds an unsafe path {where!r} ({reason}): refusing to read "
            "it. Git itself never writes such entries: the repository was crafted or is "
            "corrupt; remove that entry."
        )


def walk_tree(
    repo: pygit2.Repository,
    tree: pygit2.Tree,
    *,
    at: str = "",
    root: pygit2.Tree | None = None,
    skipped: list[str] | None = None,
) -> dict[str, str]:
    """``{posix path: blob sha}`` of every regular or executable file under ``tree`` (which
    sits at ``at``, e.g. ``_flows/``, in the repository; paths are relative to it).

    Submodules are left out. Symbolic links are left out too, unless ``root`` (the commit's
    whole tree) is given: then a link is resolved inside ``root``, as a checkout would on disk
    but never reading the disk: a link to a file lists the target's blob under the link's path,
    a link to a folder lists the folder's files under it. A link whose target is absolute,
    leaves the repository, does not exist, is not UTF-8, or goes round in a loop is skipped, and
    a sentence naming it is appended to ``skipped``. Raises :class:`GitError` for an unsafe
    entry (see :func:`iter_entries`).
    """
    if root is None:
        return {
            path: str(entry.id)
            for path, entry in iter_entries(repo, tree, at=at)
            if entry.filemode in BLOB_MODES
        }
    walker = _LinkWalker(repo, root, [] if skipped is None else skipped)
    walker.walk(tree, at, "", (str(tree.id),))
    return walker.files


@dataclass
class _LinkWalker:
    """Lists a tree, following symbolic links inside ``root`` (see :func:`walk_tree`)."""

    repo: pygit2.Repository
    root: pygit2.Tree
    skipped: list[str]
    files: dict[str, str] = field(default_factory=dict)

    def walk(self, tree: pygit2.Tree, at: str, prefix: str, trees: tuple[str, ...]) -> None:
        """``trees``: the ids of the folders being listed, outermost first (a loop guard)."""
        for path, entry in iter_entries(self.repo, tree, prefix, at=at):
            if entry.filemode in BLOB_MODES:
                self.files[path] = str(entry.id)
            elif entry.filemode == FileMode.LINK:
                self.link(at, path, entry, trees)

    def link(self, at: str, path: str, entry: pygit2.Object, trees: tuple[str, ...]) -> None:
        where = at + path
        target, problem = self.resolve(where, entry, 0)
        if isinstance(target, pygit2.Tree) and str(target.id) in trees:
            problem = "it points at a folder that holds it (a loop)"
        if problem is not None or target is None:
            self.skipped.append(f"skipped the symbolic link '{where}': {problem}")
        elif isinstance(target, pygit2.Blob):
            self.files[path] = str(target.id)
        elif isinstance(target, pygit2.Tree):
            self.walk(target, at, f"{path}/", (*trees, str(target.id)))
        else:
            self.skipped.append(f"skipped the symbolic link '{where}': it points at a submodule")

    def resolve(
        self, where: str, entry: pygit2.Object, hops: int
    ) -> tuple[pygit2.Object | None, str | None]:
        """The object the link at ``where`` points to, or a reason it is skipped."""
        blob = self.repo[entry.id]
        assert isinstance(blob, pygit2.Blob)
        try:
            text = blob.data.decode("utf-8")
        except UnicodeDecodeError:
            return None, "its target is not UTF-8"
        if text.startswith("/") or "\0" in text:
            return None, f"it points at the absolute path '{text}', outside the repository"
        parts = where.split("/")[:-1]
        for part in text.split("/"):
            if part == "..":
                if not parts:
                    return None, f"its target '{text}' leaves the repository"
                parts.pop()
            elif part not in ("", "."):
                parts.append(part)
        return self.lookup(parts, text, hops)

    def lookup(
        self, parts: list[str], text: str, hops: int
    ) -> tuple[pygit2.Object | None, str | None]:
        """Walk ``parts`` from the root, following links met on the way."""
        node: pygit2.Object = self.root
        for index, part in enumerate(parts):
            if not isinstance(node, pygit2.Tree) or part not in node:
                return None, f"its target '{text}' does not exist in the repository"
            entry = node[part]
            if entry.filemode == FileMode.LINK:
                if hops >= MAX_LINK_HOPS:
                    return None, f"more than {MAX_LINK_HOPS} links in a row (a loop)"
                resolved, problem = self.resolve("/".join(parts[: index + 1]), entry, hops + 1)
                if resolved is None:
                    return None, problem
                node = resolved
            else:
                node = self.repo[entry.id]
        return node, None


class TreeDiffer:
    """What changed under one folder between two commits of a repository, by blob ids, reading
    only the subtrees whose ids differ (a one-file change reads one tree per level).

    Answers with plain strings, for the sync's O(changed) path (``tasks/git/_sync_delta.py``):
    a commit that is not in the repository raises :class:`GitError`.
    """

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo

    def changes(self, old: str, new: str, directory: str) -> dict[str, str | None] | None:
        """``{path relative to directory: new blob id, or None when gone}`` of the regular and
        executable files that differ; None when blob ids cannot tell (the directory is not a
        folder in one of the commits, or a symbolic link or submodule differs: a listing that
        resolves links must be made). Raises :class:`GitError` for an unsafe path among the
        changes."""
        parts = [part for part in directory.split("/") if part]
        before, after = self._folder(old, parts), self._folder(new, parts)
        if before is None or after is None:
            return None
        changed: dict[str, str | None] = {}
        at = "".join(f"{part}/" for part in parts)
        if not self._compare(before.id, after.id, "", at, changed):
            return None
        return changed

    def holds_links(self, commit: str, directory: str) -> bool:
        """Whether the folder at ``commit`` holds a symbolic link or a submodule anywhere
        (True too when it is not a folder): then :meth:`changes` cannot be trusted from it."""
        tree = self._folder(commit, [part for part in directory.split("/") if part])
        if tree is None:
            return True
        pending = [tree]
        while pending:
            for entry in pending.pop():
                if entry.filemode == FileMode.TREE:
                    subtree = self.repo[entry.id]
                    assert isinstance(subtree, pygit2.Tree)
                    pending.append(subtree)
                elif entry.filemode not in BLOB_MODES:
                    return True
        return False

    def _folder(self, commit: str, parts: list[str]) -> pygit2.Tree | None:
        try:
            obj = self.repo[commit]
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise GitRefNotFoundError(f"commit {commit} is not in the repository cache") from exc
        if not isinstance(obj, pygit2.Commit):
            raise GitRefNotFoundError(f"{commit} is not a commit of the repository cache")
        node: pygit2.Object = obj.tree
        for part in parts:
            if not isinstance(node, pygit2.Tree) or part not in node:
                return None
            node = self.repo[node[part].id]
        return node if isinstance(node, pygit2.Tree) else None

    def _compare(
        self, before: pygit2.Oid, after: pygit2.Oid, prefix: str, at: str, changed: Changes
    ) -> bool:
        """Fill ``changed`` for two versions of one folder; False: not by blob ids. The two
        tree objects are compared as bytes, entry by entry: only the entries that differ are
        decoded, and only the subtrees among them are read."""
        was, now = self._raw_entries(before), self._raw_entries(after)
        sides: dict[str, list[tuple[int, pygit2.Oid, bool]]] = {}
        for entry in was ^ now:
            nul = entry.index(b"\0")
            raw_mode, raw_name = entry[:nul].split(b" ", 1)
            name = raw_name.decode("utf-8", "surrogateescape")  # as pygit2 names entries
            oid = pygit2.Oid(raw=entry[nul + 1 :])
            sides.setdefault(name, []).append((_mode(raw_mode), oid, entry in was))
        for name, pair in sorted(sides.items()):
            path = f"{prefix}{name}"
            _refuse_unsafe(name, at + path)
            if len(pair) == 2 and pair[0][0] == pair[1][0] == FileMode.TREE:
                older, newer = sorted(pair, key=lambda side: not side[2])
                if not self._compare(older[1], newer[1], f"{path}/", at, changed):
                    return False
                continue
            for filemode, blob, gone in sorted(pair, key=lambda side: not side[2]):  # gone first
                if not self._record(filemode, blob, path, at, changed, gone=gone):
                    return False
        return True

    def _raw_entries(self, oid: pygit2.Oid) -> set[bytes]:
        """The entries of a tree object, each as its bytes (``<mode> <name>\\0<id>``)."""
        data = self.repo.odb.read(oid)[1]
        entries, position = set(), 0
        while position < len(data):
            end = data.index(b"\0", position) + 21
            entries.add(data[position:end])
            position = end
        return entries

    def _record(
        self, mode: int, oid: pygit2.Oid, path: str, at: str, changed: Changes, *, gone: bool
    ) -> bool:
        """The files of one side of an entry (a file, or a folder listed whole) as changed;
        a path both gone and added keeps its new blob. False for a link or a submodule."""
        files: list[tuple[str, int, pygit2.Oid]] = [(path, mode, oid)]
        if mode == FileMode.TREE:
            subtree = self.repo[oid]
            assert isinstance(subtree, pygit2.Tree)
            listed = iter_entries(self.repo, subtree, f"{path}/", at=at)
            files = [(inner, entry.filemode, entry.id) for inner, entry in listed]
        for inner, filemode, blob in files:
            if filemode not in BLOB_MODES:
                return False
            if gone:
                changed.setdefault(inner, None)
            else:
                changed[inner] = str(blob)
        return True


#: the files a diff found changed: relative path -> new blob id, None when gone
Changes = dict[str, str | None]


def _mode(text: bytes) -> int:
    """A tree entry's mode as libgit2 reads it (``100664`` is a regular file, as in git)."""
    mode = int(text, 8)
    if mode & 0o170000 == 0o100000:
        return int(FileMode.BLOB_EXECUTABLE if mode & 0o100 else FileMode.BLOB)
    return mode
