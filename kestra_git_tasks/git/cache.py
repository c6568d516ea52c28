"""A local cache of remote repositories, read without a work tree.

One bare repository per remote URL lives under the cache root, in a folder named after a hash
of the URL without its password. Nothing about the remote is stored in the repository's config:
fetches go through an anonymous remote, so neither the URL nor any credential lands in
``config``. Fetched branches are kept as ``refs/remotes/cache/<branch>``.

Layout (``<key>``: a hash of the URL without its userinfo)::

    <root>/<key>.git/    bare repository (``description`` holds the redacted URL;
                         ``kestra-config-verdict.json``: see :mod:`.quick_head`)
    <root>/<key>.lock    flock(2) lock file serialising writers across processes

A branch that has not moved is answered without pygit2 (imported inside the methods that
need it): :mod:`.quick_head` reads the cached ref and the recorded proxy verdict, and
:mod:`.smart_http` the remote head, in one GET.

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
from typing import TYPE_CHECKING

from kestra_git_tasks.errors import ConfigError, GitDirectoryNotFoundError, GitRefNotFoundError
from kestra_git_tasks.git.quick_head import (
    CACHE_REF_PREFIX,
    cached_target,
    config_files,
    is_proxy_key,
    plain_branch,
    record_verdict,
    shortcut_applies,
)
from kestra_git_tasks.git.smart_http import Advertisement, advertisement, proxy_may_apply
from kestra_git_tasks.git.transport import (
    Credentials,
    TransportOptions,
    resolve_credentials,
)
from kestra_git_tasks.git.urls import scrub_fetch_head, storage_url, without_userinfo
from kestra_git_tasks.progress import ProgressCallback

if TYPE_CHECKING:
    import pygit2

    from kestra_git_tasks.git.tree import TreeDiffer

__all__ = ["CACHE_REF_PREFIX", "RepoCache", "scrub_fetch_head"]

_SUBMODULE_REFS = "refs/kestra-submodule/"


class RepoCache:
    """Bare repositories caching remote branches, one per remote URL, under ``root``.

    Parameters:
        root: folder holding the cached repositories; created when missing.

    Every network method starts with one ref advertisement (``ls-remote``); :meth:`fetch_branch`
    adds a fetch only when the branch moved: over ``http(s)`` with credentials, one upload-pack
    POST of :mod:`.upload_pack` (two requests in all), else libgit2's fetch.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._repos: dict[Path, pygit2.Repository] = {}
        self._repos_lock = threading.Lock()

    # -- layout ---------------------------------------------------------------------------------

    def key_for(self, url: str) -> str:
        """The cache key of ``url``: a hash of the URL without its userinfo, so the URL with or
        without ``user[:password]@`` maps to the same cached repository."""
        return hashlib.sha256(without_userinfo(url).encode("utf-8")).hexdigest()[:32]

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

        With ``depth`` 1 over ``http(s)`` with credentials, the advertisement is one GET of
        :mod:`.smart_http` and the download one POST of :mod:`.upload_pack`; whenever that path
        does not apply or the server declines it, libgit2 connects and fetches as before.

        Raises:
            GitRefNotFoundError: the branch does not exist on the remote.
            GitAuthError, GitNetworkError, GitError: see :mod:`kestra_git_tasks.git`.
        """
        if depth is not None and depth < 1:
            raise ConfigError(f"`depth` must be at least 1 (or None for all history), got {depth}.")
        clean_url, creds = resolve_credentials(url, credentials)
        options = options or TransportOptions()
        quick = shortcut_applies(self.path_for(clean_url), options)
        cached = cached_target(self.path_for(clean_url), branch) if quick else None
        found = None if cached is None else advertisement(clean_url, creds, options)
        if found is not None and found.refs.get(f"refs/heads/{branch}") == cached:
            return found.refs[f"refs/heads/{branch}"]  # not moved: no pygit2, no lock
        from .remote import check_branch_name, fetch_branch_with_libgit2

        check_branch_name(branch)
        repo = self.repository(clean_url)
        ref_name = f"{CACHE_REF_PREFIX}{branch}"
        ref = repo.references.get(ref_name)
        if cached is None and (ref is not None or depth == 1):  # one request: where it is
            found = self._advertisement(repo, clean_url, creds, options)
        if ref is not None or depth == 1:
            head = found.refs.get(f"refs/heads/{branch}") if found else None
            if ref is not None and head == str(ref.target):
                return str(ref.target)
            fetched = found is not None and self._fetch_moved(  # one more brings it
                repo, clean_url, creds, options, branch, found, depth, progress
            )
            if fetched and head is not None:
                return head
        # the origin just answered our credentials itself: libgit2 may send them up front
        preemptive = bool(found and found.refs)
        with self.lock(clean_url):
            return fetch_branch_with_libgit2(
                repo, clean_url, creds, options, branch, depth, progress, preemptive
            )

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
        import pygit2

        from kestra_git_tasks.git.remote import Connection

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
        clean_url, creds = resolve_credentials(url, credentials)
        options = options or TransportOptions()
        if plain_branch(branch) and shortcut_applies(self.path_for(clean_url), options):
            found = advertisement(clean_url, creds, options)
        else:
            from kestra_git_tasks.git.remote import check_branch_name

            check_branch_name(branch)
            found = self._advertisement(self.repository(clean_url), clean_url, creds, options)
        if found and found.refs:
            return found.refs.get(f"refs/heads/{branch}")
        from kestra_git_tasks.git.remote import Connection

        remote = Connection.open(self.repository(clean_url), clean_url, creds, options)
        head = remote.refs.branch(branch)
        return None if head is None else str(head)

    @staticmethod
    def _advertisement(
        repo: pygit2.Repository, url: str, creds: Credentials, options: TransportOptions
    ) -> Advertisement | None:
        """The refs through :mod:`.smart_http`'s one request; None when it does not apply
        (then libgit2 asks, as it always did)."""
        record_verdict(Path(repo.path), config_files())
        if proxy_may_apply(options, any(is_proxy_key(entry.name) for entry in repo.config)):
            return None
        return advertisement(url, creds, options)

    def _fetch_moved(
        self,
        repo: pygit2.Repository,
        url: str,
        creds: Credentials,
        options: TransportOptions,
        branch: str,
        found: Advertisement,
        depth: int | None,
        progress: ProgressCallback | None = None,
    ) -> bool:
        """Move the cached ``branch`` to the head ``found`` advertises through
        :mod:`.upload_pack`'s one POST (none when the cache holds the commit); False when
        libgit2 should fetch instead (the branch is gone, or ``depth`` is not 1)."""
        import pygit2

        from kestra_git_tasks.git.upload_pack import fetch_shallow

        ref_name = f"{CACHE_REF_PREFIX}{branch}"
        head = found.refs.get(f"refs/heads/{branch}")
        if head is None or depth != 1:
            return False
        with self.lock(url):
            current = repo.references.get(ref_name)
            if current is None or str(current.target) != head:
                if pygit2.Oid(hex=head) not in repo and not fetch_shallow(
                    repo,
                    url,
                    creds,
                    options,
                    want=head,
                    have=None if current is None else str(current.target),
                    capabilities=found.capabilities,
                    branch=branch,
                    progress=progress,
                ):
                    return False
                repo.references.create(ref_name, head, force=True)
        return True

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
        import pygit2

        from kestra_git_tasks.git.tree import walk_tree

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
        import pygit2

        odb = self._existing_repository(url).odb
        shown = storage_url(url)

        def read(sha: str) -> bytes:
            try:
                kind, data = odb.read(sha)[:2]
            except (KeyError, ValueError, TypeError, pygit2.GitError):
                kind, data = None, b""
            if kind != pygit2.enums.ObjectType.BLOB:
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
        import pygit2

        try:
            obj = repo.get(sha)
            if isinstance(obj, pygit2.Tag):
                obj = repo.get(str(obj.target))
        except (ValueError, pygit2.GitError):
            obj = None
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
        import pygit2

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
        from kestra_git_tasks.git.tree import TreeDiffer

        return TreeDiffer(self._existing_repository(url))


def _create_bare(path: Path, clean_url: str) -> None:
    """Create the bare repository atomically: build it aside, then rename it into place."""
    import pygit2

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


def _directory_parts(directory: str) -> list[str]:
    return [p for p in PurePosixPath(directory.strip()).parts if p not in {"/", "."}]
