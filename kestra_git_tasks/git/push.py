"""Commit and push without a work tree, and never report a push that did not land.

:meth:`Pusher.push_changes` runs, up to ``attempts`` times:

1. one connection learns the remote's refs; the branch tip is fetched into the repository
   cache (a missing branch starts from the default branch's tip, by the rule of
   :mod:`kestra_git_tasks.git.remote`; an empty remote from nothing);
2. the caller's ``changes`` callback sees that tip's files and says which paths to write or
   delete; the new tree is built in memory from the tip's tree;
3. nothing changed: no commit, no push. Otherwise a commit is made on the tip and pushed
   without force;
4. the remote branch is read again: success only when it points at our commit.

Every path written is checked by :func:`~kestra_git_tasks.git.tree.check_path`: a path with a
``.git``, ``..`` or empty component fails the push before anything is written.

A push refused because the branch moved meanwhile (another writer) starts the next attempt
from the new tip; a push refused for any other reason (a server hook) raises
:class:`~kestra_git_tasks.errors.PushRejectedError` with the server's message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pygit2
from pygit2.enums import FileMode

from kestra_git_tasks.errors import GitError, GitRefNotFoundError, PushRejectedError
from kestra_git_tasks.git.cache import CACHE_REF_PREFIX, RepoCache, scrub_fetch_head
from kestra_git_tasks.git.push_result import DiffRow, Identity, PushResult
from kestra_git_tasks.git.remote import Connection, name_list
from kestra_git_tasks.git.transport import (
    AuthCallbacks,
    Credentials,
    TransportOptions,
    apply_process_wide_settings,
    network_errors,
    resolve_credentials,
)
from kestra_git_tasks.git.tree import check_path, iter_entries, walk_tree
from kestra_git_tasks.git.urls import storage_url
from kestra_git_tasks.progress import ProgressCallback

__all__ = ["DiffRow", "Identity", "PushResult", "Pusher", "TreeView"]

PUSH_REF_PREFIX = "refs/kestra-git/push/"


class TreeView:
    """Read access to the files of the tip a push builds on (empty for a new repository)."""

    def __init__(self, repo: pygit2.Repository, tree: pygit2.Tree | None) -> None:
        self._repo = repo
        self._tree = tree

    def files(self, directory: str) -> dict[str, str]:
        """``{path relative to directory: blob id}`` of every file under ``directory``."""
        if self._tree is None:
            return {}
        node: pygit2.Object = self._tree
        if directory:
            try:
                node = self._tree[directory]
            except KeyError:
                return {}
        if not isinstance(node, pygit2.Tree):
            return {}
        return walk_tree(self._repo, node, at=f"{directory}/" if directory else "")

    @property
    def tree_id(self) -> str | None:
        """The id of the tip's tree (None for a new repository)."""
        return None if self._tree is None else str(self._tree.id)

    def gitlinks(self) -> dict[str, str]:
        """``{path: commit sha}`` of the tip's submodules (gitlinks)."""
        if self._tree is None:
            return {}
        return {
            path: str(entry.id)
            for path, entry in iter_entries(self._repo, self._tree)
            if entry.filemode == FileMode.COMMIT
        }

    def read(self, blob_id: str) -> bytes:
        """Content of a blob listed by :meth:`files`."""
        blob = self._repo[pygit2.Oid(hex=blob_id)]
        assert isinstance(blob, pygit2.Blob)
        return bytes(blob.data)


#: Given the tip's files, ``{repository path: new content, or None to delete}``.
ChangesCallback = Callable[[TreeView], dict[str, bytes | None]]


class _PushCallbacks(AuthCallbacks):
    def __init__(
        self,
        url: str,
        credentials: Credentials,
        options: TransportOptions,
        progress: ProgressCallback | None = None,
    ) -> None:
        super().__init__(url, credentials, options, progress)
        self.rejections: dict[str, str] = {}
        self.messages: list[str] = []

    def push_update_reference(self, refname: str, message: str | None) -> None:
        if message:
            self.rejections[refname] = message

    def sideband_progress(self, string: str) -> None:
        self.messages.append(string)


class _Moved(Exception):
    """The remote branch moved between our read and our push."""


class Pusher:
    """Pushes commits built from the repository cache to one remote branch."""

    def __init__(self, cache: RepoCache) -> None:
        self.cache = cache

    def push_changes(
        self,
        url: str,
        branch: str,
        changes: ChangesCallback,
        *,
        message: str,
        author: Identity,
        committer: Identity,
        credentials: Credentials | None = None,
        options: TransportOptions | None = None,
        attempts: int = 3,
        dry_run: bool = False,
        progress: ProgressCallback | None = None,
    ) -> PushResult:
        """Commit ``changes`` on the tip of ``branch`` and push; see the module docstring.
        ``progress`` receives the tip's download (``fetch``) and the upload (``push``)."""
        options = options or TransportOptions()
        clean_url, creds = resolve_credentials(url, credentials)
        repo = self.cache.repository(clean_url)
        last_reason = ""
        for attempt in range(1, max(1, attempts) + 1):
            with self.cache.lock(clean_url):
                tip, source_branch = self._fetch_tip(
                    repo, clean_url, branch, creds, options, progress
                )
                base_commit = repo[tip] if tip is not None else None
                assert base_commit is None or isinstance(base_commit, pygit2.Commit)
                base_tree = base_commit.tree if base_commit is not None else None
                edits, existing = _edits(repo, base_tree, changes(TreeView(repo, base_tree)))
                rows = _diff_rows(repo, existing, edits)
                created = source_branch != branch
                result = PushResult(None, rows, str(tip) if tip else None, created, attempt)
                result.deleted = sorted(path for path, content in edits.items() if content is None)
                if dry_run or not edits:
                    return result
                tree_id = _build_tree(repo, base_tree, edits)
                commit_id = repo.create_commit(
                    None,
                    pygit2.Signature(author.name, author.email),
                    pygit2.Signature(committer.name, committer.email),
                    message,
                    tree_id,
                    [tip] if tip is not None else [],
                )
                try:
                    self._push(repo, clean_url, branch, commit_id, tip, creds, options, progress)
                except _Moved as moved:
                    last_reason = str(moved)
                    continue
                result.commit_id = str(commit_id)
                return result
        raise PushRejectedError(
            f"Could not push to branch '{branch}' of {storage_url(clean_url)}: it kept moving "
            f"while we pushed ({attempts} attempts; last: {last_reason}). Retry later.",
            server_message=last_reason,
        )

    # -- steps ---------------------------------------------------------------------------------
    def _fetch_tip(
        self,
        repo: pygit2.Repository,
        url: str,
        branch: str,
        creds: Credentials,
        options: TransportOptions,
        progress: ProgressCallback | None = None,
    ) -> tuple[pygit2.Oid | None, str | None]:
        """The commit to build on and the branch it comes from (None, None: empty remote)."""
        remote = Connection.open(repo, url, creds, options)
        source = branch
        if remote.refs.branch(branch) is None:
            default = remote.refs.default_branch()
            if default is None and not remote.refs.branches():
                return None, None
            if default is None:
                raise GitRefNotFoundError(
                    f"Cannot create branch '{branch}' in {storage_url(url)}: it has no HEAD, "
                    f"'main' or 'master' branch to start from; existing branches: "
                    f"{name_list(remote.refs.branches())}. Push to an existing `branch`."
                )
            source = default
        target = remote.refs.branch(source)
        assert target is not None
        if target not in repo:
            remote.fetch(
                [f"+refs/heads/{source}:{CACHE_REF_PREFIX}{source}"], depth=1, progress=progress
            )
            scrub_fetch_head(Path(repo.path), url)
            remote.require_commit(repo, target, f"branch '{source}'")
        return target, source

    def _push(
        self,
        repo: pygit2.Repository,
        url: str,
        branch: str,
        commit_id: pygit2.Oid,
        expected: pygit2.Oid | None,
        creds: Credentials,
        options: TransportOptions,
        progress: ProgressCallback | None = None,
    ) -> None:
        local_ref = f"{PUSH_REF_PREFIX}{branch}"
        remote_ref = f"refs/heads/{branch}"
        repo.references.create(local_ref, commit_id, force=True)
        remote = repo.remotes.create_anonymous(url)
        callbacks = _PushCallbacks(url, creds, options, progress)
        apply_process_wide_settings(options)
        try:
            with network_errors(url, "push", creds, callbacks):
                remote.push([f"{local_ref}:{remote_ref}"], callbacks=callbacks, proxy=options.proxy)
        except GitError as exc:
            # libgit2 refuses, client-side, to push over commits it has not seen: the branch
            # moved since we read it. Anything else is a real failure.
            if _remote_tip(repo, url, branch, creds, options) != expected:
                raise _Moved(str(exc)) from exc
            raise
        finally:
            repo.references.delete(local_ref)
        now = _remote_tip(repo, url, branch, creds, options)
        if remote_ref in callbacks.rejections:
            reason = callbacks.rejections[remote_ref]
            if now != expected and now != commit_id:
                raise _Moved(reason)
            server = "".join(callbacks.messages).strip()
            raise PushRejectedError(
                f"{storage_url(url)} refused the push to '{branch}': {reason}"
                + (f" ({_one_line(server)})" if server else ""),
                server_message=server or reason,
            )
        if now != commit_id:
            raise _Moved(f"after the push the branch points at {now}, not {commit_id}")


def _remote_tip(
    repo: pygit2.Repository, url: str, branch: str, creds: Credentials, options: TransportOptions
) -> pygit2.Oid | None:
    return Connection.open(repo, url, creds, options).refs.branch(branch)


def _edits(
    repo: pygit2.Repository, base: pygit2.Tree | None, wanted: dict[str, bytes | None]
) -> tuple[dict[str, bytes | None], dict[str, str]]:
    """The part of ``wanted`` that changes ``base`` (content differing from the blob already
    there, compared by hash with nothing written; deletions of paths that exist), and the ids
    of ``base``'s files by path."""
    existing = walk_tree(repo, base) if base is not None else {}
    edits: dict[str, bytes | None] = {}
    for path, content in wanted.items():
        check_path(path)
        current = existing.get(path)
        if content is None:
            if current is not None:
                edits[path] = None
        elif current is None or current != str(pygit2.hash(content)):
            edits[path] = content
    return edits, existing


def _build_tree(
    repo: pygit2.Repository, base: pygit2.Tree | None, edits: dict[str, bytes | None]
) -> pygit2.Oid:
    index = pygit2.Index()
    if base is not None:
        index.read_tree(base)
    for path, content in sorted(edits.items()):
        if content is None:
            index.remove(path)
            continue
        index.add(pygit2.IndexEntry(path, repo.create_blob(content), FileMode.BLOB))
    return index.write_tree(repo)


def _diff_rows(
    repo: pygit2.Repository, existing: dict[str, str], edits: dict[str, bytes | None]
) -> list[DiffRow]:
    """Kestra's counting per file: per hunk, ``new - old`` lines go to additions (positive) or
    deletions (negative); a hunk that keeps its size counts its lines as changes."""
    rows = []
    for path, content in sorted(edits.items()):
        old_id = existing.get(path)
        if old_id is None:  # added: no patch needed
            rows.append(DiffRow(path, _count_lines(content or b""), 0, 0))
            continue
        if content is None:  # deleted
            rows.append(DiffRow(path, 0, _count_lines(bytes(_blob(repo, old_id).data)), 0))
            continue
        patch = pygit2.Patch.create_from(_blob(repo, old_id), content)
        additions = deletions = changes = 0
        for hunk in patch.hunks:
            change = hunk.new_lines - hunk.old_lines
            if change > 0:
                additions += change
            elif change < 0:
                deletions -= change
            else:
                changes += hunk.new_lines
        rows.append(DiffRow(path, additions, deletions, changes))
    return rows


def _blob(repo: pygit2.Repository, blob_id: str) -> pygit2.Blob:
    blob = repo[pygit2.Oid(hex=blob_id)]
    assert isinstance(blob, pygit2.Blob)
    return blob


def _count_lines(data: bytes) -> int:
    if not data or b"\0" in data[:8000]:  # empty or binary: git shows no lines
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
