"""Talking to one remote: connect, list its refs, fetch, and the rules read from the list.

Every network read of the package goes through :class:`Connection`: one connection learns the
advertised refs (``ls-remote``) and, when needed, fetches over it. The cache, push and clone use
it; nothing else calls pygit2's ``connect``/``list_heads``/``fetch``.

::

    with_remote = Connection.open(repo, clean_url, creds, options)   # one ref advertisement
    sha = with_remote.refs.branch("main")                               # Oid or None
    with_remote.fetch(["+refs/heads/main:refs/remotes/cache/main"], depth=1)

**The default branch** (:meth:`Advertised.default_branch`), one rule for every caller:

1. the branch the remote's ``HEAD`` points to (the ``symref`` the server advertises), when that
   branch is advertised;
2. else, when ``HEAD`` is advertised (without a usable symref: old servers), the branch at
   ``HEAD``'s commit, preferring ``main``, then ``master``, then the first by name;
3. else ``main``, else ``master``;
4. else None: an empty remote, or one whose default cannot be told. Clone then asks for
   ``branch``; push refuses to create a branch from it (an empty remote starts from nothing).

A missing branch is reported by :func:`missing_branch_message`, naming the existing branches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pygit2

from kestra_git_tasks.errors import ConfigError, GitError, GitRefNotFoundError
from kestra_git_tasks.git.quick_head import CACHE_REF_PREFIX
from kestra_git_tasks.git.transport import (
    AuthCallbacks,
    Credentials,
    TransportOptions,
    apply_process_wide_settings,
    network_errors,
)
from kestra_git_tasks.git.urls import scrub_fetch_head, storage_url
from kestra_git_tasks.progress import ProgressCallback

__all__ = [
    "Advertised",
    "Connection",
    "check_branch_name",
    "fetch_branch_with_libgit2",
    "is_local_url",
    "missing_branch_message",
    "name_list",
]

_HEADS = "refs/heads/"


@dataclass(frozen=True)
class Advertised:
    """The refs a remote advertised: ``{ref name: RemoteHead}`` (``HEAD`` included when sent)."""

    heads: Mapping[str, pygit2.remotes.RemoteHead]

    def branch(self, name: str) -> pygit2.Oid | None:
        """Commit of ``refs/heads/<name>``, None when the remote has no such branch."""
        head = self.heads.get(f"{_HEADS}{name}")
        return None if head is None else head.oid

    def branches(self) -> list[str]:
        """Names of the advertised branches (without ``refs/heads/``), sorted."""
        return sorted(n.removeprefix(_HEADS) for n in self.heads if n.startswith(_HEADS))

    def tags(self) -> list[str]:
        """Names of the advertised tags (without ``refs/tags/``; peeled entries left out)."""
        return sorted(
            n.removeprefix("refs/tags/")
            for n in self.heads
            if n.startswith("refs/tags/") and not n.endswith("^{}")
        )

    def default_branch(self) -> str | None:
        """The remote's default branch by the module's rule, None when it cannot be told."""
        head = self.heads.get("HEAD")
        if head is not None:
            target = head.symref_target
            if target and target.startswith(_HEADS) and target in self.heads:
                return target.removeprefix(_HEADS)
            same = [b for b in self.branches() if self.heads[_HEADS + b].oid == head.oid]
            for candidate in ("main", "master", *same):
                if candidate in same:
                    return candidate
        for candidate in ("main", "master"):
            if f"{_HEADS}{candidate}" in self.heads:
                return candidate
        return None


class Connection:
    """One connection to ``url`` through ``remote`` (anonymous unless given), its refs listed.

    Build it with :meth:`open`. The credentials callback answers each credential type once and
    only for the origin of ``url`` (see :class:`~kestra_git_tasks.git.transport.AuthCallbacks`).
    """

    def __init__(
        self,
        remote: pygit2.Remote,
        url: str,
        credentials: Credentials,
        options: TransportOptions,
        refs: Advertised,
        preemptive: bool = False,
    ) -> None:
        self.preemptive = preemptive
        self.remote = remote
        self.url = url
        self.credentials = credentials
        self.options = options
        self.refs = refs

    @classmethod
    def open(
        cls,
        repo: pygit2.Repository,
        url: str,
        credentials: Credentials,
        options: TransportOptions,
        *,
        remote: pygit2.Remote | None = None,
        preemptive: bool = False,
    ) -> Connection:
        """Connect to ``url`` (a URL without password) and read its ref advertisement.

        ``preemptive``: send the credentials with the first request (see
        :class:`~kestra_git_tasks.git.transport.AuthCallbacks` for who may ask)."""
        apply_process_wide_settings(options)
        remote = remote or repo.remotes.create_anonymous(url)
        callbacks = AuthCallbacks(url, credentials, options, preemptive=preemptive)
        with network_errors(url, "ls-remote", credentials, callbacks):
            remote.connect(callbacks=callbacks, proxy=options.proxy)
            heads = remote.list_heads(connect=False)
        refs = Advertised({h.name: h for h in heads if h.name})
        return cls(remote, url, credentials, options, refs, preemptive)

    def fetch(
        self, refspecs: list[str], depth: int | None, progress: ProgressCallback | None = None
    ) -> None:
        """Fetch ``refspecs`` with ``depth`` commits of history (None or 0: all of it).

        libgit2's local transport cannot fetch shallow: a local remote is fetched whole.
        ``progress`` receives the transfer's ``fetch`` events.
        """
        shallow = 0 if depth is None or is_local_url(self.url) else depth
        callbacks = AuthCallbacks(
            self.url, self.credentials, self.options, progress, preemptive=self.preemptive
        )
        with network_errors(self.url, "fetch", self.credentials, callbacks):
            self.remote.fetch(
                refspecs,
                message=f"fetch {storage_url(self.url)}",  # the reflog's, else the full URL
                callbacks=callbacks,
                proxy=self.options.proxy,
                depth=shallow,
            )

    def require_commit(self, repo: pygit2.Repository, oid: pygit2.Oid, what: str) -> None:
        """Raise :class:`GitError` when the fetch did not bring ``oid`` (``what`` moved)."""
        if oid not in repo:
            raise GitError(
                f"Fetching {what} from {storage_url(self.url)} did not bring its commit {oid}: "
                "it may have moved during the fetch; retry."
            )


def fetch_branch_with_libgit2(
    repo: pygit2.Repository,
    clean_url: str,
    creds: Credentials,
    options: TransportOptions,
    branch: str,
    depth: int | None,
    progress: ProgressCallback | None,
    preemptive: bool,
) -> str:
    """``RepoCache.fetch_branch`` through libgit2 (the caller holds the cache's lock): its own
    advertisement, then a fetch of ``refs/remotes/cache/<branch>`` when the commit is missing.

    Raises:
        GitRefNotFoundError: the remote has no such branch.
    """
    ref_name = f"{CACHE_REF_PREFIX}{branch}"
    remote = Connection.open(repo, clean_url, creds, options, preemptive=preemptive)
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


def check_branch_name(branch: str) -> None:
    """Raise :class:`ConfigError` unless ``branch`` is a valid Git branch name."""
    if not branch or not pygit2.reference_is_valid_name(f"{_HEADS}{branch}"):
        raise ConfigError(f"`branch` '{branch}' is not a valid Git branch name.")


def missing_branch_message(branch: str, url: str, refs: Advertised) -> str:
    """The one message for a branch the remote does not have, naming the ones it has."""
    return (
        f"Branch '{branch}' does not exist in {storage_url(url)}. Existing branches: "
        f"{name_list(refs.branches())}. Check `branch`, or push the branch first."
    )


def name_list(names: list[str]) -> str:
    """``'a', 'b'`` for a message: the first ten names, then how many more; ``none``."""
    shown = ", ".join(f"'{n}'" for n in names[:10]) or "none"
    if len(names) > 10:
        shown += f" and {len(names) - 10} more"
    return shown


def is_local_url(url: str) -> bool:
    """True for a repository reached through the file system (``file://`` or a path)."""
    return url.startswith(("file://", "/", "./", "../")) or ("://" not in url and ":" not in url)
