"""A local cache of remote repositories, read without a work tree.

One bare repository per remote URL lives under the cache root, in a folder named after a hash
of the URL without its password. Nothing about the remote is stored in the repository's config:
fetches go through an anonymous remote, so neither the URL nor any credential lands in
``config``. Fetched branches are kept as ``refs/remotes/cache/<branch>``.

Layout (``<key>``: a hash of the URL without its userinfo)::

    <root>/<key>.git/    bare repository (``description`` holds the redacted URL)
    <root>/<key>.lock    flock(2) lock file serialising writers across processes

Readers (:meth:`RepoCache.list_tree`, :meth:`RepoCache.read_blob`) take no lock: Git objects
are immutable and new packs appear atomically. Writers of a cached repository other than this
module (push) take :meth:`RepoCache.lock` and open it with :meth:`RepoCache.repository`.

Nothing secret is stored: the URL written to ``description`` and ``FETCH_HEAD`` is
:func:`~kestra_git_tasks.git.transport.storage_url` (no user part, password or query string).
Trees are listed by :func:`~kestra_git_tasks.git.tree.walk_tree`, which refuses unsafe paths
(``..``, ``.git``...).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

import pygit2

from kestra_git_tasks.errors import ConfigError, GitDirectoryNotFoundError, GitRefNotFoundError
from kestra_git_tasks.git.remote import Connection, check_branch_name, missing_branch_message
from kestra_git_tasks.git.smart_http import advertised_refs, proxy_may_apply
from kestra_git_tasks.git.transport import (
    Credentials,
    TransportOptions,
    resolve_credentials,
)
from kestra_git_tasks.git.tree import TreeDiffer, walk_tree
from kestra_git_tasks.git.urls import redact_url, storage_url
from kestra_git_tasks.progress import ProgressCallback

__all__ = ["CACHE_REF_PREFIX", "RepoCache", "scrub_fetch_head"]

CACHE_REF_PREFIX = "refs/remotes/cache/"
_SUBMODULE_REFS = "refs/kestra-submodule/"
_BLOB = pygit2.enums.ObjectType.BLOB


class RepoCache:
    """Bare repositories caching remote branches, one per remote URL, under ``root``.

    Parameters:
        root: folder holding the cached repositories; created when missing.

    Every network method makes one connection: a ref advertisement (``ls-remote``) and, for
    :meth:`fetch_branch`, a fetch over the same connection only when the branch moved.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._repos: dict[Path, pygit2.Repository] = {}
        self._repos_lock = threading.Lock()

    # -- layout ---------------------------------------------------------------------------------

    def key_for(self, url: str) -> str:
        """The cache key of ``url``: a hash of the URL without its userinfo, so the URL with or
        without ``user[:password]@`` maps to the same cached repository."""
        return hashlib.sha256(_without_userinfo(url).encode("utf-8")).hexdigest()[:32]

    def path_for(self, url: str) -> Path:
        """Folder of the bare repository caching ``url`` (it may not exist yet)."""
        return self.root / f"{self.key_for(url)}.git"

    # -- network --------------------------------------------------------------------------------

    def fetch_branch(
        self,
        url: str,
        branch: str,
        credentials: Credentials | None = None,
        options: TransportOptions | None = None,
        depth: int | None = 1,
        progress: ProgressCallback | None = None,
    ) -> str:
        """Bring ``branch`` of ``url`` into the cache and return its commit sha.

        Only that branch is fetched (refspec ``+refs/heads/<branch>:refs/remotes/cache/<branch>``),
        with ``depth`` commits of history (None: all of it). When the cached ref already equals
        the remote's, or the commit is already in the cache, nothing is downloaded: the cost is
        one ref advertisement. ``depth`` only shapes a download: a cache that already holds the
        commit (e.g. from an earlier shallow fetch) is not deepened. ``progress`` receives the
        download's ``fetch`` events.

        Raises:
            GitRefNotFoundError: the branch does not exist on the remote.
            GitAuthError, GitNetworkError, GitError: see :mod:`kestra_git_tasks.git`.
        """
        check_branch_name(branch)
        if depth is not None and depth < 1:
            raise ConfigError(f"`depth` must be at least 1 (or None for all history), got {depth}.")
        clean_url, creds = resolve_credentials(url, credentials)
        repo = self.repository(clean_url)
        ref_name = f"{CACHE_REF_PREFIX}{branch}"
        options = options or TransportOptions()
        ref, advertised = repo.references.get(ref_name), {}
        if ref is not None:  # a branch seen before: one request tells whether it moved
            advertised = self._advertised(repo, clean_url, creds, options)
            if advertised.get(f"refs/heads/{branch}") == str(ref.target):
                return str(ref.target)
        with self.lock(clean_url):
            # the origin just answered our credentials itself: libgit2 may send them up front
            remote = Connection.open(repo, clean_url, creds, options, preemptive=bool(advertised))
            target = remote.refs.branch(branch)
            if target is None:
                raise GitRefNotFoundError(missing_branch_message(branch, clean_url, remote.refs))
            current = repo.references.get(ref_name)
            if current is not None and current.target == target:
                return str(target)
            if target not in repo:
                remote.fetch([f"+refs/heads/{branch}:{ref_name}"], depth, progress)
                scrub_fetch_head(Path(repo.path), clean_url)
                remote.require_commit(repo, target, f"branch '{branch}'")
            repo.references.create(ref_name, target, force=True)
            return str(target)

    def fetch_commit(
        self,
        url: str,
        sha: str,
        credentials: Credentials | None = None,
        options: TransportOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> bool:
        """Bring commit ``sha`` of ``url`` into the cache (a submodule's gitlink commit).

        Nothing is downloaded when the cache holds it already. Else one connection: the
        advertised ref pointing at it is fetched one commit deep; when none does, every branch
        and tag is fetched with its history (into ``refs/kestra-submodule/``, apart from the
        branches of :meth:`fetch_branch`), as ``git submodule update`` falls back to. Returns
        whether the commit is in the cache afterwards.
        """
        clean_url, creds = resolve_credentials(url, credentials)
        repo = self.repository(clean_url)
        oid = pygit2.Oid(hex=sha)
        if oid in repo:
            return True
        with self.lock(clean_url):
            remote = Connection.open(repo, clean_url, creds, options or TransportOptions())
            tips = [n for n, h in remote.refs.heads.items() if h.oid == oid and n != "HEAD"]
            if tips:
                remote.fetch([f"+{tips[0]}:{_SUBMODULE_REFS}tip"], 1, progress)
            else:
                refspecs = [f"+refs/heads/*:{_SUBMODULE_REFS}heads/*"]
                refspecs.append(f"+refs/tags/*:{_SUBMODULE_REFS}tags/*")
                remote.fetch(refspecs, None, progress)
            scrub_fetch_head(Path(repo.path), clean_url)
            if oid in repo:
                repo.references.create(f"{_SUBMODULE_REFS}commits/{sha}", oid, force=True)
            return oid in repo

    def remote_head(
        self,
        url: str,
        branch: str,
        credentials: Credentials | None = None,
        options: TransportOptions | None = None,
    ) -> str | None:
        """The commit ``branch`` of ``url`` points at, None when there is no such branch: one
        ref advertisement, nothing fetched, nothing written (no lock taken)."""
        check_branch_name(branch)
        clean_url, creds = resolve_credentials(url, credentials)
        repo = self.repository(clean_url)
        options = options or TransportOptions()
        advertised = self._advertised(repo, clean_url, creds, options)
        if advertised:
            return advertised.get(f"refs/heads/{branch}")
        head = Connection.open(repo, clean_url, creds, options).refs.branch(branch)
        return None if head is None else str(head)

    @staticmethod
    def _advertised(
        repo: pygit2.Repository, url: str, creds: Credentials, options: TransportOptions
    ) -> dict[str, str]:
        """The refs through :mod:`.smart_http`'s one request; ``{}`` when it does not apply
        (then libgit2 asks, as it always did)."""
        if proxy_may_apply(options, any(_is_proxy_key(entry.name) for entry in repo.config)):
            return {}
        return advertised_refs(url, creds, options) or {}

    # -- reading --------------------------------------------------------------------------------

    def list_tree(
        self, url: str, commit_sha: str, directory: str, skipped: list[str] | None = None
    ) -> dict[str, str] | None:
        """Every file under ``directory`` in commit ``commit_sha``, recursively.

        Returns ``{path relative to directory (posix): blob sha}`` sorted by path, or None when
        ``directory`` does not exist in the commit. ``""``, ``"."`` and ``"/"`` mean the root.
        Regular and executable files are listed, and symbolic links resolved inside the commit
        (``git/tree.walk_tree``): one that leaves it is skipped, with a sentence in ``skipped``.
        Submodules are not listed.

        Raises:
            GitDirectoryNotFoundError: ``directory`` exists but is a file. The message is
                Kestra's: "The path '<directory>' exists but is a file, not a directory. Sync
                tasks require a directory to process files."
            GitRefNotFoundError: the commit is not in the cache (fetch it first).
            GitError: the tree holds an unsafe path (``..``, ``.git``...), named in the message.
        """
        repo = self._existing_repository(url)
        tree = self._commit(repo, url, commit_sha).tree
        parts = _directory_parts(directory)
        node: pygit2.Object = tree
        if parts:
            try:
                node = tree["/".join(parts)]
            except KeyError:
                return None
        if isinstance(node, pygit2.Blob):
            raise GitDirectoryNotFoundError(
                f"The path '{directory}' exists but is a file, not a directory. "
                "Sync tasks require a directory to process files."
            )
        if not isinstance(node, pygit2.Tree):  # a submodule (gitlink)
            raise GitDirectoryNotFoundError(
                f"The path '{directory}' is a submodule, not a directory: sync tasks read "
                "directories of the repository itself."
            )
        at = "".join(f"{part}/" for part in parts)
        return dict(sorted(walk_tree(repo, node, at=at, root=tree, skipped=skipped).items()))

    def read_blob(self, url: str, sha: str) -> bytes:
        """The content of blob ``sha`` from the cache of ``url``."""
        return self._odb_reader(url)(sha)

    def blob_reader(
        self, url: str, owners: Mapping[str, str] | None = None
    ) -> Callable[[str], bytes]:
        """:meth:`read_blob` for many blobs: each blob is read from the cache of ``url``, or of
        the URL ``owners`` maps it to (a submodule's). Each cache's repository is found and
        checked once, on its first blob; then a blob is one object-database read (no object
        built), refused the same way when it is missing or not a blob."""
        readers: dict[str, Callable[[str], bytes]] = {}

        def read(sha: str) -> bytes:
            owner = owners.get(sha, url) if owners else url
            reader = readers.get(owner)
            if reader is None:
                reader = readers[owner] = self._odb_reader(owner)
            return reader(sha)

        return read

    def _odb_reader(self, url: str) -> Callable[[str], bytes]:
        odb = self._existing_repository(url).odb
        shown = storage_url(url)

        def read(sha: str) -> bytes:
            try:
                kind, data = odb.read(sha)[:2]
            except (KeyError, ValueError, TypeError, pygit2.GitError):
                kind, data = None, b""
            if kind != _BLOB:
                raise GitRefNotFoundError(
                    f"Blob {sha} is not in the cache of {shown}: list the tree of a "
                    "fetched commit to get blob ids."
                )
            return data

        return read

    # -- internals ------------------------------------------------------------------------------

    def _existing_repository(self, url: str) -> pygit2.Repository:
        clean_url, _ = resolve_credentials(url, None)
        if not (self.path_for(clean_url) / "HEAD").exists():
            raise GitRefNotFoundError(
                f"Nothing is cached for {storage_url(clean_url)}: call fetch_branch() before "
                "reading."
            )
        return self.repository(clean_url)

    def _commit(self, repo: pygit2.Repository, url: str, sha: str) -> pygit2.Commit:
        obj = _lookup(repo, sha)
        if isinstance(obj, pygit2.Tag):
            obj = _lookup(repo, str(obj.target))
        if not isinstance(obj, pygit2.Commit):
            raise GitRefNotFoundError(
                f"Commit {sha} is not in the cache of {storage_url(url)}: fetch the branch that "
                "holds it first."
            )
        return obj

    def repository(self, url: str) -> pygit2.Repository:
        """Open (creating it if needed) the bare repository caching ``url``.

        Callers that write to it take :meth:`lock` first; one handle per repository is kept.
        """
        clean_url, _ = resolve_credentials(url, None)
        path = self.path_for(clean_url)
        with self._repos_lock:
            repo = self._repos.get(path)
            if repo is not None:
                return repo
        if not (path / "HEAD").exists():
            self.root.mkdir(parents=True, exist_ok=True)
            with self.lock(clean_url):
                if not (path / "HEAD").exists():
                    _create_bare(path, clean_url)
        repo = pygit2.Repository(str(path))
        with self._repos_lock:
            return self._repos.setdefault(path, repo)

    @contextlib.contextmanager
    def lock(self, url: str) -> Iterator[None]:
        """Exclusive lock on the repository caching ``url``, across threads and processes.

        Not reentrant: a thread holding it must not take it again.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        lock_path = self.root / f"{self.key_for(url)}.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def tree_differ(self, url: str) -> TreeDiffer:
        """What changed between two cached commits of ``url``, folder by folder, by blob ids
        (``git/tree.TreeDiffer``: a sync's O(changed) path)."""
        return TreeDiffer(self._existing_repository(url))


def _create_bare(path: Path, clean_url: str) -> None:
    """Create the bare repository atomically: build it aside, then rename it into place."""
    staging = path.with_name(f"{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(staging, ignore_errors=True)
    pygit2.init_repository(str(staging), bare=True)
    (staging / "description").write_text(f"kestra-git-tasks cache of {storage_url(clean_url)}\n")
    try:
        staging.rename(path)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (path / "HEAD").exists():
            raise


def _without_userinfo(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_url(url)
    if not parts.netloc or "@" not in parts.netloc:
        return redact_url(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _lookup(repo: pygit2.Repository, sha: str) -> pygit2.Object | None:
    try:
        return repo.get(sha)
    except (ValueError, pygit2.GitError):
        return None


def _directory_parts(directory: str) -> list[str]:
    return [p for p in PurePosixPath(directory.strip()).parts if p not in {"/", "."}]


def scrub_fetch_head(git_dir: Path, clean_url: str) -> None:
    """Write ``FETCH_HEAD`` again with :func:`storage_url` in place of ``clean_url`` (libgit2
    records the URL it fetched from, query string included)."""
    shown = storage_url(clean_url)
    fetch_head = git_dir / "FETCH_HEAD"
    if shown == clean_url or not fetch_head.is_file():
        return
    text = fetch_head.read_text(encoding="utf-8", errors="surrogateescape")
    fetch_head.write_text(
        text.replace(clean_url, shown), encoding="utf-8", errors="surrogateescape"
    )


def _is_proxy_key(name: str) -> bool:
    """``http.proxy`` or ``http.<url>.proxy``: git configuration libgit2 takes a proxy from."""
    return name.lower().startswith("http.") and name.lower().endswith(".proxy")
