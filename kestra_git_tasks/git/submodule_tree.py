"""Submodule content of a commit, read from the repository cache without a work tree.

What ``cloneSubmodules: true`` gives a sync: the files a checkout with submodules would hold
under ``gitDirectory``, from the object database only. For each gitlink (a tree entry of mode
``160000``) under the directory, or holding it:

1. its URL is read from the ``.gitmodules`` of the synced commit (the entry whose ``path`` is
   the gitlink's) and checked by :func:`~kestra_git_tasks.git.submodules.check_submodule`, the
   rules Clone applies (``http``, ``https``, ``ssh`` only; ``file://`` and paths only when the
   operator sets ``KESTRA_GIT_ALLOW_LOCAL_SUBMODULES``; no name or path that escapes); a
   relative URL resolves against the parent's URL, as Git does;
2. the gitlink's commit is fetched into the cache of that URL
   (:meth:`~kestra_git_tasks.git.cache.RepoCache.fetch_commit`), with the task's credentials
   only when the URL is on the origin of the task's ``url``
   (:func:`~kestra_git_tasks.git.submodules.submodule_credentials`), else with none but those
   written in its own URL;
3. its tree is listed by :func:`~kestra_git_tasks.git.tree.walk_tree` under the gitlink's path.

Nested submodules are followed the same way, at most :data:`MAX_DEPTH` levels deep (deeper
ones raise). A gitlink without a ``.gitmodules`` entry, or whose commit the server does not
have, raises :class:`~kestra_git_tasks.errors.GitRefNotFoundError` naming its path and URL.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
from pygit2.enums import FileMode

from kestra_git_tasks.errors import GitError, GitRefNotFoundError
from kestra_git_tasks.git.cache import RepoCache
from kestra_git_tasks.git.submodules import check_submodule, submodule_credentials
from kestra_git_tasks.git.transport import Credentials, TransportOptions, resolve_credentials
from kestra_git_tasks.git.tree import iter_entries
from kestra_git_tasks.git.urls import storage_url

__all__ = ["MAX_DEPTH", "SubmoduleFiles", "list_submodule_files"]

#: How many levels of submodules inside submodules are followed.
MAX_DEPTH = 5

_INCLUDE = re.compile(r"^\s*\[\s*include", re.IGNORECASE | re.MULTILINE)


@dataclass
class SubmoduleFiles:
    """Files found in submodules: ``{path relative to the directory: blob sha}``, which cached
    URL holds each blob, and whether the directory itself lies inside a submodule (then
    ``files`` is the whole listing, ``found`` saying whether the directory exists there)."""

    files: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    inside: bool = False
    found: bool = True


@dataclass
class _Reader:
    cache: RepoCache
    owner_url: str
    credentials: Credentials
    options: TransportOptions
    allow_local: bool
    say: Callable[[str, str], None]
    skipped: list[str]
    held: str | None = None
    result: SubmoduleFiles = field(default_factory=SubmoduleFiles)

    def read(self, url: str, sha: str, directory: str, at: str, depth: int) -> None:
        """List the submodules of commit (or tree) ``sha`` of ``url`` (cached) that concern
        ``directory``; ``at`` is where that repository sits under the task's directory."""
        repo = self.cache.repository(url)
        tree = repo[pygit2.Oid(hex=sha)]
        if isinstance(tree, pygit2.Commit):
            tree = tree.tree
        assert isinstance(tree, pygit2.Tree)
        links = [
            (path, str(entry.id))
            for path, entry in iter_entries(repo, tree)
            if entry.filemode == FileMode.COMMIT
        ]
        if not links:
            return
        modules = _gitmodules(repo, tree)
        prefix = f"{directory}/" if directory else ""
        for path, link_sha in links:
            if directory and (directory == path or directory.startswith(f"{path}/")):
                rest = directory[len(path) + 1 :]
                self.result.inside = True
                self.enter(url, modules, path, link_sha, rest, at, depth)
            elif path.startswith(prefix):
                self.enter(url, modules, path, link_sha, "", at + path[len(prefix) :] + "/", depth)

    def enter(
        self,
        url: str,
        modules: dict[str, tuple[str, str]],
        path: str,
        sha: str,
        directory: str,
        at: str,
        depth: int,
    ) -> None:
        """Fetch the submodule at ``path`` and list ``directory`` of it under ``at``."""
        if not modules.get(path, ("", ""))[1]:
            raise GitRefNotFoundError(
                f"The submodule at '{path}' of {storage_url(url)} has no URL in .gitmodules: "
                "add its [submodule] entry, or remove the gitlink (or set cloneSubmodules: false)."
            )
        name, raw_url = modules[path]
        sub_url = check_submodule(name, path, raw_url, url, self.allow_local)
        if depth >= MAX_DEPTH:
            raise GitError(
                f"Refusing the submodule at '{path}' ({storage_url(sub_url)}): submodules nest "
                f"more than {MAX_DEPTH} levels deep; flatten them or set cloneSubmodules: false."
            )
        clean, creds = submodule_credentials(sub_url, self.owner_url, self.credentials)
        self.say("INFO", f"Reading submodule '{path}' from '{storage_url(clean)}' at {sha[:12]}")
        if clean == self.held and pygit2.Oid(hex=sha) not in self.cache.repository(clean):
            found = False  # its own repository, whose lock the caller holds: never refetched
        else:
            found = self.cache.fetch_commit(clean, sha, creds, self.options)
        if not found:
            raise GitRefNotFoundError(
                f"The submodule at '{path}' points at commit {sha}, which {storage_url(clean)} "
                "does not have (was it pushed?). Push that commit to the submodule's repository "
                "or update the gitlink (or set cloneSubmodules: false)."
            )
        listed = self.cache.list_tree(clean, sha, directory, self.skipped)
        if listed is None:
            self.result.found = False
            return
        for relative, blob in listed.items():
            self.result.files[at + relative] = blob
            self.result.owners[blob] = clean
        self.read(clean, sha, directory, at, depth + 1)


def list_submodule_files(
    cache: RepoCache,
    url: str,
    commit: str,
    directory: str,
    credentials: Credentials,
    options: TransportOptions,
    *,
    allow_local: bool = False,
    log: Callable[[str, str], None] | None = None,
    skipped: list[str] | None = None,
    held: str | None = None,
) -> SubmoduleFiles:
    """The files the submodules of ``commit`` (cached for ``url``) add under ``directory``;
    ``commit`` may be a tree id. ``held``: a URL whose cache lock the caller holds (a push).

    ``url`` is the task's URL without credentials; ``credentials`` are the task's. Symbolic
    links inside a submodule are resolved in its own tree (a sentence per skipped link is
    appended to ``skipped``).

    Raises:
        GitError: a refused submodule URL, name or path, or nesting deeper than MAX_DEPTH.
        GitRefNotFoundError: a gitlink without a URL, or whose commit its server lacks.
    """
    clean_url, creds = resolve_credentials(url, credentials)
    held = resolve_credentials(held, None)[0] if held else None
    reader = _Reader(
        cache, clean_url, creds, options, allow_local,
        log or (lambda level, message: None), [] if skipped is None else skipped, held,
    )  # fmt: skip
    reader.read(clean_url, commit, directory, "", 0)
    return reader.result


def _gitmodules(repo: pygit2.Repository, tree: pygit2.Tree) -> dict[str, tuple[str, str]]:
    """``{path: (name, url)}`` from the tree's ``.gitmodules`` (empty when there is none)."""
    if ".gitmodules" not in tree:
        return {}
    blob = repo[tree[".gitmodules"].id]
    if not isinstance(blob, pygit2.Blob):
        return {}
    if _INCLUDE.search(blob.data.decode("utf-8", "replace")):
        raise GitError(
            f"Refusing the .gitmodules file of commit {tree.id}: it includes another "
            "configuration file ([include]), which would read the runner's disk. Remove it."
        )
    with tempfile.TemporaryDirectory(prefix="kestra-git-modules-") as folder:
        source = Path(folder) / "gitmodules"
        source.write_bytes(blob.data)
        try:
            entries = {e.name: e.value or "" for e in pygit2.Config(str(source))}
        except (pygit2.GitError, ValueError) as exc:
            raise GitError(
                f"The .gitmodules file of commit {tree.id} cannot be read: {exc}. Fix its syntax."
            ) from exc
    names: dict[str, dict[str, str]] = {}
    for key, value in entries.items():
        section, _, rest = key.partition(".")
        name, _, option = rest.rpartition(".")
        if section == "submodule" and name and option in ("path", "url"):
            names.setdefault(name, {})[option] = value
    return {
        values["path"]: (name, values.get("url", ""))
        for name, values in names.items()
        if "path" in values
    }
