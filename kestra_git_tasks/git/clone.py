"""Clone a remote repository into a work tree (Kestra's ``Clone`` task), with pygit2.

One code path serves an empty and a non-empty target folder alike: ``init`` the folder, add
``origin`` (URL without credentials), connect once to read the advertised refs, fetch what is
needed, then check out. Files already in the folder are kept; a file of the repository replaces
a file of the same path.

::

    result = clone_repository(url, folder, credentials=creds, branch="main", depth=1)
    result.commit, result.branch          # checked-out sha, branch (None when detached)

What is checked out, in order of precedence:

- ``commit`` (full or abbreviated SHA): full history of the fetched branches (and tags), HEAD
  detached at the commit;
- ``tag``: full history, an annotated tag peeled to its commit, HEAD detached;
- ``branch``, else the remote's default branch (the rule of :mod:`kestra_git_tasks.git.remote`:
  its HEAD, then ``main``, then ``master``): ``depth`` commits of history, a local branch
  tracking ``origin/<branch>``.

Nothing secret is written: ``origin``'s URL and ``FETCH_HEAD`` hold
:func:`~kestra_git_tasks.git.transport.storage_url` (no user part, password or query string),
and a URL too malformed to split its credentials out is refused before anything is written. A
tree with an unsafe path (``..``, ``.git``...) is refused before the checkout writes a file.

Errors: ``ConfigError`` (invalid combination or name), ``GitRefNotFoundError`` (the branch, tag
or commit does not exist, naming it), ``GitAuthError``, ``GitNetworkError``, ``GitError``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import CheckoutStrategy

from kestra_git_tasks.errors import ConfigError, GitError, GitRefNotFoundError
from kestra_git_tasks.git.cache import scrub_fetch_head
from kestra_git_tasks.git.gitconfig import apply_git_config
from kestra_git_tasks.git.remote import Advertised, Connection, missing_branch_message, name_list
from kestra_git_tasks.git.submodules import update_submodules
from kestra_git_tasks.git.transport import (
    Credentials,
    TransportOptions,
    resolve_credentials,
)
from kestra_git_tasks.git.tree import iter_entries
from kestra_git_tasks.git.urls import storage_url
from kestra_git_tasks.progress import ProgressCallback

__all__ = ["CloneResult", "clone_repository"]

#: ``log(level, message)``: where the clone reports what it does (levels as in Kestra).
LogFunction = Callable[[str, str], None]

_REMOTE = "origin"
_SHA = re.compile(r"[0-9a-fA-F]{4,40}")
_ALL_HEADS = f"+refs/heads/*:refs/remotes/{_REMOTE}/*"
_ALL_TAGS = "+refs/tags/*:refs/tags/*"


@dataclass(frozen=True)
class CloneResult:
    """What a clone checked out.

    ``commit`` is None only for an empty remote; ``branch`` is None when HEAD is detached
    (a ``commit`` or ``tag`` was asked for).
    """

    directory: Path
    commit: str | None
    branch: str | None
    tag: str | None
    shallow: bool


def check_clone_options(
    *,
    branch: str | None,
    commit: str | None,
    tag: str | None,
    all_branches: bool,
    no_tags: bool,
    depth: int | None,
) -> None:
    """Raise :class:`ConfigError` for a combination Kestra refuses, or an invalid value."""
    if not all_branches and not branch:
        raise ConfigError(
            "Invalid clone configuration: when `cloneAllBranches` is false, `branch` must be set."
        )
    if tag and no_tags and not commit:
        raise ConfigError("Invalid clone configuration: `tag` cannot be used with `noTags: true`.")
    if depth is not None and depth < 1:
        raise ConfigError(f"`depth` must be at least 1, got {depth}.")
    if branch and not pygit2.reference_is_valid_name(f"refs/heads/{branch}"):
        raise ConfigError(f"`branch` '{branch}' is not a valid Git branch name.")
    if tag and not pygit2.reference_is_valid_name(f"refs/tags/{tag}"):
        raise ConfigError(f"`tag` '{tag}' is not a valid Git tag name.")
    if commit and not _SHA.fullmatch(commit.strip()):
        raise ConfigError(
            f"`commit` '{commit}' is not a commit SHA: give 4 to 40 hexadecimal digits."
        )


def clone_repository(
    url: str,
    directory: Path,
    *,
    credentials: Credentials | None = None,
    options: TransportOptions | None = None,
    branch: str | None = None,
    depth: int | None = 1,
    commit: str | None = None,
    tag: str | None = None,
    all_branches: bool = True,
    no_tags: bool = False,
    submodules: bool = False,
    allow_local_submodules: bool = False,
    git_config: Mapping[str, Any] | None = None,
    log: LogFunction | None = None,
    progress: ProgressCallback | None = None,
) -> CloneResult:
    """Clone ``url`` into ``directory`` (created if missing, may already hold files).

    ``depth`` (None: all history) applies to branch clones only; ``commit`` and ``tag`` fetch the
    full history. ``all_branches=False`` fetches ``branch`` alone. ``no_tags`` fetches no tags.
    ``submodules`` initialises and updates submodules recursively (see
    :func:`~kestra_git_tasks.git.submodules.update_submodules`; ``allow_local_submodules`` lets
    them use ``file://`` URLs and paths). ``git_config`` (``section.name: value``) is written
    into the new repository's config. ``progress`` receives the transfer's ``fetch`` events.
    """
    check_clone_options(
        branch=branch, commit=commit, tag=tag, all_branches=all_branches, no_tags=no_tags,
        depth=depth,
    )  # fmt: skip
    say = log or _silent
    options = options or TransportOptions()
    clean_url, creds = resolve_credentials(url, credentials)
    repo = pygit2.init_repository(str(_folder(Path(directory))))
    try:
        single = branch if not all_branches else None
        _set_origin(repo, clean_url, single, no_tags)
        if git_config:
            apply_git_config(repo, git_config, say)
        remote = Connection.open(repo, clean_url, creds, options, remote=repo.remotes[_REMOTE])
        detached = bool(commit or tag)
        target_branch = _target_branch(remote.refs, clean_url, branch, single, commit, tag)
        if target_branch is None and not detached:
            say("WARN", f"{storage_url(clean_url)} is an empty repository: nothing to check out")
            return CloneResult(Path(directory), None, None, None, shallow=False)
        refspecs = [_branch_refspec(single)] if single else [_ALL_HEADS]
        if not no_tags:
            refspecs.append(_ALL_TAGS)
        remote.fetch(refspecs, None if detached else depth, progress)
        result = _check_out(
            repo, Path(directory), remote.refs, clean_url, commit, tag, target_branch, no_tags
        )
        if submodules:
            update_submodules(repo, clean_url, creds, options, allow_local_submodules, say)
        return result
    finally:
        _forget_url(repo, clean_url)
        repo.free()


def _folder(directory: Path) -> Path:
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"Cannot clone into '{directory}': it is a file, not a folder.")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _target_branch(
    refs: Advertised,
    url: str,
    branch: str | None,
    single: str | None,
    commit: str | None,
    tag: str | None,
) -> str | None:
    """The branch to check out (or, detached, to fetch alone); None for an empty remote.

    Raises :class:`GitRefNotFoundError` for a missing branch or tag, or no default branch.
    """
    detached = bool(commit or tag)
    if tag and not commit and f"refs/tags/{tag}" not in refs.heads:
        raise GitRefNotFoundError(_missing_tag_message(tag, url, refs))
    if branch is None and not detached:
        if not refs.branches():
            return None
        branch = refs.default_branch()
        if branch is None:
            raise GitRefNotFoundError(
                "Cannot determine the default branch. Please specify the 'branch' property "
                f"explicitly. {storage_url(url)} has no HEAD, 'main' or 'master' branch; "
                f"existing branches: {name_list(refs.branches())}."
            )
    # A missing branch only matters when it is checked out or the only branch fetched.
    if branch and refs.branch(branch) is None and (single or not detached):
        raise GitRefNotFoundError(missing_branch_message(branch, url, refs))
    return branch


def _check_out(
    repo: pygit2.Repository,
    directory: Path,
    refs: Advertised,
    url: str,
    commit: str | None,
    tag: str | None,
    branch: str | None,
    no_tags: bool,
) -> CloneResult:
    """Check out ``commit``, else ``tag``, else ``branch`` (fetched already)."""
    if commit:
        single = branch if repo.remotes[_REMOTE].fetch_refspecs != [_ALL_HEADS] else None
        target = _resolve_commit(repo, commit, url, single, no_tags)
        _checkout_detached(repo, target)
        return CloneResult(directory, str(target.id), None, None, shallow=False)
    if tag:
        target = _resolve_tag(repo, tag, url)
        _checkout_detached(repo, target)
        return CloneResult(directory, str(target.id), None, tag, shallow=False)
    assert branch is not None
    sha = _checkout_branch(repo, branch, refs)
    return CloneResult(directory, sha, branch, None, repo.is_shallow)


def _forget_url(repo: pygit2.Repository, clean_url: str) -> None:
    """``origin``'s URL and ``FETCH_HEAD`` without what may carry a token (the query)."""
    shown = storage_url(clean_url)
    if shown != clean_url and _REMOTE in repo.remotes.names():
        repo.remotes.set_url(_REMOTE, shown)
    scrub_fetch_head(Path(repo.path), clean_url)


# -- steps ----------------------------------------------------------------------------------


def _set_origin(
    repo: pygit2.Repository, clean_url: str, single_branch: str | None, no_tags: bool
) -> None:
    """``origin`` with the URL without credentials, the clone's fetch refspec, ``tagOpt``."""
    fetch = _branch_refspec(single_branch) if single_branch else _ALL_HEADS
    if _REMOTE in repo.remotes.names():
        repo.remotes.delete(_REMOTE)
    repo.remotes.create(_REMOTE, clean_url, fetch)
    if no_tags:
        repo.config[f"remote.{_REMOTE}.tagopt"] = "--no-tags"


def _branch_refspec(branch: str | None) -> str:
    return f"+refs/heads/{branch}:refs/remotes/{_REMOTE}/{branch}"


def _checkout_branch(repo: pygit2.Repository, branch: str, refs: Advertised) -> str:
    """Local ``branch`` at ``origin/<branch>``, tracking it, checked out (HEAD attached)."""
    remote_ref = repo.references.get(f"refs/remotes/{_REMOTE}/{branch}")
    if remote_ref is None:
        raise GitError(
            f"The fetch did not bring branch '{branch}' (it may have been deleted meanwhile); "
            "retry."
        )
    commit = repo[remote_ref.target]
    assert isinstance(commit, pygit2.Commit)
    local = repo.branches.local.create(branch, commit, force=True)
    local.upstream = repo.branches.remote[f"{_REMOTE}/{branch}"]
    _checkout_tree(repo, commit)
    repo.set_head(local.name)
    head = refs.heads.get("HEAD")
    default = head.symref_target if head is not None else None
    if default and repo.references.get(f"refs/remotes/{_REMOTE}/{_short(default)}"):
        repo.references.create(
            f"refs/remotes/{_REMOTE}/HEAD", f"refs/remotes/{_REMOTE}/{_short(default)}", force=True
        )
    return str(commit.id)


def _checkout_detached(repo: pygit2.Repository, commit: pygit2.Commit) -> None:
    _checkout_tree(repo, commit)
    repo.set_head(commit.id)


def _checkout_tree(repo: pygit2.Repository, commit: pygit2.Commit) -> None:
    """Work tree and index to ``commit``; files of the same path are replaced, others kept.

    The whole tree is read first: an unsafe path (``..``, ``.git``...) fails the clone before
    any file is written.
    """
    for _ in iter_entries(repo, commit.tree):
        pass
    try:
        repo.checkout_tree(commit, strategy=CheckoutStrategy.FORCE)  # type: ignore[no-untyped-call]
    except pygit2.GitError as exc:  # libgit2 refuses unsafe paths and .gitmodules entries too
        raise GitError(
            f"Cannot check out commit {commit.id}: {exc}. The repository holds a path or a "
            "submodule (.gitmodules) that would leave the clone folder; fix it in the repository."
        ) from exc


def _resolve_commit(
    repo: pygit2.Repository, sha: str, url: str, single: str | None, no_tags: bool
) -> pygit2.Commit:
    text = sha.strip()
    try:
        found = repo.get(text)
    except pygit2.AmbiguousError:
        raise GitRefNotFoundError(
            f"Cannot resolve commit SHA '{text}': the abbreviation matches several objects "
            f"in {storage_url(url)}; give more digits of `commit`."
        ) from None
    except (ValueError, pygit2.GitError):
        found = None
    if found is not None:
        try:
            return found.peel(pygit2.Commit)
        except (ValueError, pygit2.GitError):  # a tree or blob id
            pass
    scope = f"branch '{single}'" if single else "any branch"
    if not no_tags:
        scope += " or tag"
    raise GitRefNotFoundError(
        f"Cannot resolve commit SHA '{text}': no commit reachable from {scope} of "
        f"{storage_url(url)} has it. Check `commit`."
    )


def _resolve_tag(repo: pygit2.Repository, tag: str, url: str) -> pygit2.Commit:
    ref = repo.references.get(f"refs/tags/{tag}")
    if ref is None:
        raise GitRefNotFoundError(
            f"Cannot resolve tag '{tag}': the fetch from {storage_url(url)} did not bring it; "
            "retry."
        )
    target = repo[ref.target]
    try:
        return target.peel(pygit2.Commit)
    except (ValueError, pygit2.GitError) as exc:
        raise GitRefNotFoundError(
            f"Cannot resolve tag '{tag}': it does not point to a commit ({exc})."
        ) from exc


# -- messages ---------------------------------------------------------------------------------


def _missing_tag_message(tag: str, url: str, refs: Advertised) -> str:
    return (
        f"Cannot resolve tag '{tag}': it does not exist in {storage_url(url)}. Existing tags: "
        f"{name_list(refs.tags())}. Check `tag`."
    )


def _short(ref: str) -> str:
    return ref.removeprefix("refs/heads/")


def _silent(level: str, message: str) -> None:
    """The default ``log``: say nothing."""
