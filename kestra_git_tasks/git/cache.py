"""A local cache of remote repositories, read without a work tree.

One bare repository per remote URL lives under the cache root, in a folder named after a hash
of the URL without its password. Nothing about the remote is stored in the repository's config:
fetches go through an anonymous remote, so neither the URL nor any credential lands in
``config``. Fetched branches are kept as ``refs/remotes/cache/<branch>``.

Layout (``<key>``: a hash of the URL without its userinfo)::

    <root>/<key>.git/    bare repository (``description`` holds the redacted URL)
    <root>/<key>.lock    flock(2) lock file serialising writers across processes

Readers (:meth:`RepoCache.list_tree`, :meth:`RepoCache.read_blob`) take no lock: Git objects
are immutable and new packs appear atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

import pygit2
from pygit2.enums import FileMode

from kestra_git_tasks.errors import (
    ConfigError,
    GitDirectoryNotFoundError,
    GitError,
    GitRefNotFoundError,
)
from kestra_git_tasks.git.transport import (
    AuthCallbacks,
    Credentials,
    TransportOptions,
    apply_process_wide_settings,
    network_errors,
    redact_url,
    resolve_credentials,
)

__all__ = ["RepoCache"]

CACHE_REF_PREFIX = "refs/remotes/cache/"
_BLOB_MODES = {FileMode.BLOB, FileMode.BLOB_EXECUTABLE}


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

    def ls_remote(
        self,
        url: str,
        credentials: Credentials | None = None,
        options: TransportOptions | None = None,
    ) -> dict[str, str]:
        """All refs the remote advertises, ``{ref name: commit sha}`` (one round trip).

        ``HEAD`` is included when advertised; see :meth:`default_branch` for its target.
        """
        heads = self._list_heads(url, credentials, options)
        return {head.name: str(head.oid) for head in heads if head.name}

    def remote_head(
        self,
        url: str,
        branch: str,
        credentials: Credentials | None = None,
        options: TransportOptions | None = None,
    ) -> str | None:
        """Commit sha of ``refs/heads/<branch>`` on the remote, None if the branch is missing."""
        _check_branch_name(branch)
        return self.ls_remote(url, credentials, options).get(f"refs/heads/{branch}")

    def default_branch(
        self,
        url: str,
        credentials: Credentials | None = None,
        options: TransportOptions | None = None,
    ) -> str | None:
        """Name of the branch the remote's HEAD points to, None for an empty repository.

        Uses the ``symref`` the server advertises; without one, the branch whose commit equals
        HEAD's (preferring ``main``, then ``master``).
        """
        heads = self._list_heads(url, credentials, options)
        by_name = {h.name: h for h in heads if h.name}
        head = by_name.get("HEAD")
        if head is None:
            return None
        target = head.symref_target
        if target and target.startswith("refs/heads/"):
            return target.removeprefix("refs/heads/")
        candidates = sorted(
            name.removeprefix("refs/heads/")
            for name, h in by_name.items()
            if name.startswith("refs/heads/") and h.oid == head.oid
        )
        for preferred in ("main", "master"):
            if preferred in candidates:
                return preferred
        return candidates[0] if candidates else None

    def fetch_branch(
        self,
        url: str,
        branch: str,
        credentials: Credentials | None = None,
        options: TransportOptions | None = None,
        depth: int | None = 1,
    ) -> str:
        """Bring ``branch`` of ``url`` into the cache and return its commit sha.

        Only that branch is fetched (refspec ``+refs/heads/<branch>:refs/remotes/cache/<branch>``),
        with ``depth`` commits of history (None: all of it). When the cached ref already equals
        the remote's, or the commit is already in the cache, nothing is downloaded: the cost is
        one ref advertisement. ``depth`` only shapes a download: a cache that already holds the
        commit (e.g. from an earlier shallow fetch) is not deepened.

        Raises:
            GitRefNotFoundError: the branch does not exist on the remote.
            GitAuthError, GitNetworkError, GitError: see :mod:`kestra_git_tasks.git`.
        """
        _check_branch_name(branch)
        if depth is not None and depth < 1:
            raise ConfigError(f"`depth` must be at least 1 (or None for all history), got {depth}.")
        options = options or TransportOptions()
        clean_url, creds = resolve_credentials(url, credentials)
        repo = self._repository(clean_url)
        ref_name = f"{CACHE_REF_PREFIX}{branch}"
        with self._locked(clean_url):
            apply_process_wide_settings(options)
            remote = repo.remotes.create_anonymous(clean_url)
            callbacks = AuthCallbacks(clean_url, creds)
            with network_errors(clean_url, "ls-remote", creds):
                remote.connect(callbacks=callbacks, proxy=options.proxy)
                heads = remote.list_heads(connect=False)
            advertised = {h.name: h.oid for h in heads if h.name}
            target = advertised.get(f"refs/heads/{branch}")
            if target is None:
                raise GitRefNotFoundError(_missing_branch_message(branch, clean_url, advertised))

            current = repo.references.get(ref_name)
            if current is not None and current.target == target:
                return str(target)
            if target not in repo:
                with network_errors(clean_url, "fetch", creds):
                    remote.fetch(
                        [f"+refs/heads/{branch}:{ref_name}"],
                        callbacks=callbacks,
                        proxy=options.proxy,
                        # libgit2's local transport cannot fetch shallow; a local copy is cheap
                        depth=0 if is_local_url(clean_url) else depth or 0,
                    )
                if target not in repo:
                    raise GitError(
                        f"Fetching branch '{branch}' from {clean_url} did not bring its commit "
                        f"{target}: the branch may have moved during the fetch; retry."
                    )
            repo.references.create(ref_name, target, force=True)
            return str(target)

    # -- reading --------------------------------------------------------------------------------

    def cached_head(self, url: str, branch: str) -> str | None:
        """The commit sha the cache holds for ``branch`` of ``url`` (no network), or None."""
        clean_url, _ = resolve_credentials(url, None)
        path = self.path_for(clean_url)
        if not (path / "HEAD").exists():
            return None
        ref = self._repository(clean_url).references.get(f"{CACHE_REF_PREFIX}{branch}")
        return None if ref is None else str(ref.target)

    def list_tree(self, url: str, commit_sha: str, directory: str) -> dict[str, str] | None:
        """Every file under ``directory`` in commit ``commit_sha``, recursively.

        Returns ``{path relative to directory (posix): blob sha}`` sorted by path, or None when
        ``directory`` does not exist in the commit. ``""``, ``"."`` and ``"/"`` mean the root.
        Regular and executable files are listed; symbolic links and submodules are not.

        Raises:
            GitDirectoryNotFoundError: ``directory`` exists but is a file. The message is
                Kestra's: "The path '<directory>' exists but is a file, not a directory. Sync
                tasks require a directory to process files."
            GitRefNotFoundError: the commit is not in the cache (fetch it first).
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
        files: dict[str, str] = {}
        _walk(repo, node, PurePosixPath(), files)
        return dict(sorted(files.items()))

    def read_blob(self, url: str, sha: str) -> bytes:
        """The content of blob ``sha`` from the cache of ``url``."""
        repo = self._existing_repository(url)
        obj = _lookup(repo, sha)
        if not isinstance(obj, pygit2.Blob):
            raise GitRefNotFoundError(
                f"Blob {sha} is not in the cache of {redact_url(url)}: list the tree of a "
                "fetched commit to get blob ids."
            )
        return obj.data

    # -- internals ------------------------------------------------------------------------------

    def _list_heads(
        self,
        url: str,
        credentials: Credentials | None,
        options: TransportOptions | None,
    ) -> list[pygit2.remotes.RemoteHead]:
        options = options or TransportOptions()
        clean_url, creds = resolve_credentials(url, credentials)
        repo = self._repository(clean_url)
        apply_process_wide_settings(options)
        remote = repo.remotes.create_anonymous(clean_url)
        with network_errors(clean_url, "ls-remote", creds):
            return remote.list_heads(callbacks=AuthCallbacks(clean_url, creds), proxy=options.proxy)

    def _existing_repository(self, url: str) -> pygit2.Repository:
        clean_url, _ = resolve_credentials(url, None)
        if not (self.path_for(clean_url) / "HEAD").exists():
            raise GitRefNotFoundError(
                f"Nothing is cached for {clean_url}: call fetch_branch() before reading."
            )
        return self._repository(clean_url)

    def _commit(self, repo: pygit2.Repository, url: str, sha: str) -> pygit2.Commit:
        obj = _lookup(repo, sha)
        if isinstance(obj, pygit2.Tag):
            obj = _lookup(repo, str(obj.target))
        if not isinstance(obj, pygit2.Commit):
            raise GitRefNotFoundError(
                f"Commit {sha} is not in the cache of {redact_url(url)}: fetch the branch that "
                "holds it first."
            )
        return obj

    def _repository(self, clean_url: str) -> pygit2.Repository:
        """Open (creating it if needed) the bare repository caching ``clean_url``."""
        path = self.path_for(clean_url)
        with self._repos_lock:
            repo = self._repos.get(path)
            if repo is not None:
                return repo
        if not (path / "HEAD").exists():
            self.root.mkdir(parents=True, exist_ok=True)
            with self._locked(clean_url):
                if not (path / "HEAD").exists():
                    _create_bare(path, clean_url)
        repo = pygit2.Repository(str(path))
        with self._repos_lock:
            return self._repos.setdefault(path, repo)

    @contextlib.contextmanager
    def _locked(self, clean_url: str) -> Iterator[None]:
        """Exclusive lock on one cached repository, across threads and processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock_path = self.root / f"{self.key_for(clean_url)}.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def _create_bare(path: Path, clean_url: str) -> None:
    """Create the bare repository atomically: build it aside, then rename it into place."""
    staging = path.with_name(f"{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(staging, ignore_errors=True)
    pygit2.init_repository(str(staging), bare=True)
    (staging / "description").write_text(f"kestra-git-tasks cache of {redact_url(clean_url)}\n")
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


def _walk(
    repo: pygit2.Repository, tree: pygit2.Tree, prefix: PurePosixPath, out: dict[str, str]
) -> None:
    for entry in tree:
        name = entry.name or ""
        mode = entry.filemode
        if mode == FileMode.TREE:
            subtree = repo[entry.id]
            assert isinstance(subtree, pygit2.Tree)
            _walk(repo, subtree, prefix / name, out)
        elif mode in _BLOB_MODES:
            out[str(prefix / name)] = str(entry.id)


def _directory_parts(directory: str) -> list[str]:
    return [p for p in PurePosixPath(directory.strip()).parts if p not in {"/", "."}]


def _check_branch_name(branch: str) -> None:
    if not branch or not pygit2.reference_is_valid_name(f"refs/heads/{branch}"):
        raise ConfigError(f"`branch` '{branch}' is not a valid Git branch name.")


def _missing_branch_message(branch: str, url: str, advertised: dict[str, pygit2.Oid]) -> str:
    branches = sorted(
        n.removeprefix("refs/heads/") for n in advertised if n.startswith("refs/heads/")
    )
    shown = ", ".join(f"'{b}'" for b in branches[:10]) or "none"
    if len(branches) > 10:
        shown += f" and {len(branches) - 10} more"
    return (
        f"Branch '{branch}' does not exist in {url}. Existing branches: {shown}. "
        "Check `branch`, or push the branch first."
    )


def is_local_url(url: str) -> bool:
    """True for a repository reached through the file system (``file://`` or a path)."""
    return url.startswith(("file://", "/", "./", "../")) or ("://" not in url and ":" not in url)
