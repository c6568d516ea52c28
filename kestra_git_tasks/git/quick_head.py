"""What a cached branch points at, and whether libgit2's configuration names a proxy, without
pygit2: the pieces :meth:`RepoCache.fetch_branch` and :meth:`RepoCache.remote_head` need to
answer "the branch has not moved" with :mod:`.smart_http`'s one GET and no pygit2 import (about
40 ms of a no-change ``kestra-git run``; pygit2 loads as soon as anything else is needed).

**The cached ref** is read from its loose file, ``<cache>/refs/remotes/cache/<branch>``, or
from ``packed-refs``; a symbolic ref, a malformed line or a branch name outside a conservative
spelling gives None (the caller then opens the repository with pygit2, as before).

**The proxy verdict.** Whether libgit2 could take a proxy from its configuration (``http.proxy``
or ``http.<url>.proxy`` at any level) is answered with pygit2 on the usual path, which then
calls :func:`record_verdict` with the files libgit2 reads for this repository (the system,
XDG, global and program-data files under pygit2's search paths; the repository's own
``config`` is added here). The verdict, ``<cache>/kestra-config-verdict.json``, holds each
file's inode, size and modification time in nanoseconds (or its absence) and the ``HOME`` and
``XDG_CONFIG_HOME`` that placed them. It is written only when no file contains the text
``proxy`` or ``include`` in any case (so no proxy key, and no included file left unwatched),
judged on the bytes read here between two equal ``stat`` calls, not on libgit2's cached
view. :func:`proxy_free` trusts it only while every file is exactly as recorded and both
variables are unchanged; anything else (no verdict, a damaged one, a touched file) sends the
caller down the pygit2 path, which records a fresh one. A verdict can only say "no proxy";
it never hides one.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from kestra_git_tasks.git.smart_http import proxy_may_apply
from kestra_git_tasks.git.transport import TransportOptions

__all__ = [
    "CACHE_REF_PREFIX",
    "VERDICT_FILE",
    "cached_target",
    "config_files",
    "is_proxy_key",
    "plain_branch",
    "proxy_free",
    "record_verdict",
    "shortcut_applies",
]

VERDICT_FILE = "kestra-config-verdict.json"
#: where the cache keeps each fetched branch (``RepoCache`` re-exports it)
CACHE_REF_PREFIX = "refs/remotes/cache/"
_SHA1 = re.compile(r"[0-9a-f]{40}")
#: a branch name this module reads a ref file for; anything else is left to pygit2
_PLAIN_BRANCH = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*")
_ENVIRONMENT = ("HOME", "XDG_CONFIG_HOME")


def shortcut_applies(git_dir: Path, options: TransportOptions) -> bool:
    """Whether this module may stand in for pygit2 for the cache ``git_dir``: pygit2 is not
    loaded yet (a program that loaded it may have changed its search paths), no proxy applies
    from the options or the environment, and the recorded verdict still holds."""
    if "pygit2" in sys.modules or proxy_may_apply(options, False):
        return False
    return proxy_free(git_dir)


def plain_branch(branch: str) -> bool:
    """A branch name spelt plainly enough to be judged here: letters, digits, ``_.-`` and
    ``/`` between non-empty parts, no part starting or ending with ``.`` or ending with
    ``.lock``, no ``..``. Every such name is valid for Git; others are left to pygit2."""
    if not _PLAIN_BRANCH.fullmatch(branch) or ".." in branch:
        return False
    return not any(part.endswith((".", ".lock")) for part in branch.split("/"))


def cached_target(git_dir: Path, branch: str) -> str | None:
    """The commit ``refs/remotes/cache/<branch>`` of the bare repository ``git_dir`` names;
    None when unknown here (no such ref, a symbolic ref, an unusual branch name)."""
    if not plain_branch(branch):
        return None
    name = CACHE_REF_PREFIX + branch
    try:
        text = (git_dir / name).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return _packed(git_dir, name)
    except (OSError, UnicodeError):
        return None
    return text if _SHA1.fullmatch(text) else None


def _packed(git_dir: Path, name: str) -> str | None:
    try:
        lines = (git_dir / "packed-refs").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeError):
        return None
    for line in lines:
        sha, _, ref = line.partition(" ")
        if ref == name and _SHA1.fullmatch(sha):
            return sha
    return None


def proxy_free(git_dir: Path) -> bool:
    """True only when the recorded verdict still holds (see the module docstring)."""
    try:
        data = json.loads((git_dir / VERDICT_FILE).read_text(encoding="utf-8"))
        environment, files = data["environment"], data["files"]
        if environment != {name: os.environ.get(name) for name in _ENVIRONMENT}:
            return False
        return bool(files) and all(_stat(Path(path)) == stat for path, stat in files)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def record_verdict(git_dir: Path, files: Iterable[Path]) -> None:
    """Record that no file libgit2 reads for ``git_dir`` (``files``, plus its ``config``)
    names a proxy; remove the verdict when that cannot be said (see the module docstring)."""
    verdict = git_dir / VERDICT_FILE
    stats: list[tuple[str, list[int] | None]] = []
    for path in [git_dir / "config", *files]:
        before = _stat(path)
        if before is not None and (not _plain(path) or _stat(path) != before):
            verdict.unlink(missing_ok=True)
            return
        stats.append((str(path), before))
    data = {"environment": {name: os.environ.get(name) for name in _ENVIRONMENT}, "files": stats}
    try:
        handle, temporary = tempfile.mkstemp(dir=git_dir, prefix=".verdict-")
    except OSError:
        return  # only the shortcut is lost
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(temporary, verdict)
    except OSError:
        Path(temporary).unlink(missing_ok=True)


def _stat(path: Path) -> list[int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return [found.st_ino, found.st_size, found.st_mtime_ns]


def _plain(path: Path) -> bool:
    """No ``proxy`` and no ``include`` anywhere in the file, in any case."""
    try:
        text = path.read_bytes().lower()
    except OSError:
        return False
    return b"proxy" not in text and b"include" not in text


def config_files() -> list[Path]:
    """The configuration files libgit2 reads besides a repository's own, from pygit2's search
    paths: system ``gitconfig``, XDG ``config``, global ``.gitconfig``, program data. (Called
    on the pygit2 path only: it imports pygit2.)"""
    import pygit2
    from pygit2.enums import ConfigLevel

    names = {
        ConfigLevel.SYSTEM: "gitconfig",
        ConfigLevel.XDG: "config",
        ConfigLevel.GLOBAL: ".gitconfig",
        ConfigLevel.PROGRAMDATA: "config",
    }
    files: list[Path] = []
    for level, name in names.items():
        search = pygit2.settings.search_path[level] or ""
        files += [Path(folder) / name for folder in search.split(os.pathsep) if folder]
    return files


def is_proxy_key(name: str) -> bool:
    """``http.proxy`` or ``http.<url>.proxy``: git configuration libgit2 takes a proxy from."""
    return name.lower().startswith("http.") and name.lower().endswith(".proxy")
