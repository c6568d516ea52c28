"""Clone a remote repository into a work tree (Kestra's ``Clone`` task), with pygit2.

One code path serves an empty and a non-empty target folder alike: ``init`` the folder, add
``origin`` (URL without password), connect once to read the advertised refs, fetch what is
needed, then check out. Files already in the folder are kept; a file of the repository replaces
a file of the same path.

::

    result = clone_repository(url, folder, credentials=creds, branch="main", depth=1)
    result.commit, result.branch          # checked-out sha, branch (None when detached)

What is checked out, in order of precedence:

- ``commit`` (full or abbreviated SHA): full history of the fetched branches (and tags), HEAD
  detached at the commit;
- ``tag``: full history, an annotated tag peeled to its commit, HEAD detached;
- ``branch``, else the remote's default branch (its HEAD, then ``main``, then ``master``):
  ``depth`` commits of history, a local branch tracking ``origin/<branch>``.

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
from kestra_git_tasks.git.cache import is_local_url
from kestra_git_tasks.git.gitconfig import apply_git_config
from kestra_git_tasks.git.transport import (
    AuthCallbacks,
    Credentials,
    TransportOptions,
    apply_process_wide_settings,
    network_errors,
    redact_url,
    resolve_credentials,
)

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
    git_config: Mapping[str, Any] | None = None,
    log: LogFunction | None = None,
) -> CloneResult:
    """Clone ``url`` into ``directory`` (created if missing, may already hold files).

    ``depth`` (None: all history) applies to branch clones only; ``commit`` and ``tag`` fetch the
    full history. ``all_branches=False`` fetches ``branch`` alone. ``no_tags`` fetches no tags.
    ``submodules`` initialises and updates submodules recursively with the same credentials.
    ``git_config`` (``section.name: value``) is written into the new repository's config.
    """
    check_clone_options(
        branch=branch,
        commit=commit,
        tag=tag,
        all_branches=all_branches,
        no_tags=no_tags,
        depth=depth,
    )
    say = log or _silent
    options = options or TransportOptions()
    clean_url, creds = resolve_credentials(url, credentials)
    apply_process_wide_settings(options)
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"Cannot clone into '{directory}': it is a file, not a folder.")
    directory.mkdir(parents=True, exist_ok=True)
    repo = pygit2.init_repository(str(directory))
    try:
        single = branch if not all_branches else None
        _set_origin(repo, clean_url, single, no_tags)
        if git_config:
            apply_git_config(repo, git_config, say)
        remote = repo.remotes[_REMOTE]
        callbacks = AuthCallbacks(clean_url, creds)
        with network_errors(clean_url, "ls-remote", creds):
            remote.connect(callbacks=callbacks, proxy=options.proxy)
            advertised = {h.name: h for h in remote.list_heads(connect=False) if h.name}
        heads = [name for name in advertised if name.startswith("refs/heads/")]

        detached = bool(commit or tag)
        target_branch = branch
        if not detached and target_branch is None:
            if not heads:
                say("WARN", f"{redact_url(clean_url)} is an empty repository: nothing to check out")
                return CloneResult(directory, None, None, None, shallow=False)
            target_branch = _default_branch(advertised, clean_url)
        # A missing branch only matters when it is checked out or the only branch fetched.
        missing = target_branch and f"refs/heads/{target_branch}" not in advertised
        if missing and (single or not detached):
            raise GitRefNotFoundError(_missing_branch_message(str(target_branch), clean_url, heads))
        if tag and not commit and f"refs/tags/{tag}" not in advertised:
            raise GitRefNotFoundError(_missing_tag_message(tag, clean_url, advertised))

        refspecs = [_branch_refspec(single)] if single else [_ALL_HEADS]
        if not no_tags:
            refspecs.append(_ALL_TAGS)
        fetch_depth = 0 if detached or depth is None or is_local_url(clean_url) else depth
        with network_errors(clean_url, "fetch", creds):
            remote.fetch(refspecs, callbacks=callbacks, proxy=options.proxy, depth=fetch_depth)

        if commit:
            target = _resolve_commit(repo, commit, clean_url, single, no_tags)
            _checkout_detached(repo, target)
            checked_out = CloneResult(directory, str(target.id), None, None, shallow=False)
        elif tag:
            target = _resolve_tag(repo, tag, clean_url)
            _checkout_detached(repo, target)
            checked_out = CloneResult(directory, str(target.id), None, tag, shallow=False)
        else:
            assert target_branch is not None
            sha = _checkout_branch(repo, target_branch, advertised)
            checked_out = CloneResult(directory, sha, target_branch, None, repo.is_shallow)
        if submodules:
            update_submodules(repo, creds, options, say)
        return checked_out
    finally:
        repo.free()


def update_submodules(
    repo: pygit2.Repository,
    credentials: Credentials,
    options: TransportOptions,
    log: LogFunction | None = None,
) -> None:
    """Initialise and update every submodule of ``repo``, recursively, with ``credentials``.

    Relative submodule URLs resolve against ``origin``'s URL. Each submodule gets its own
    credentials callback, so a rejected password fails at once.
    """
    say = log or _silent
    for submodule in repo.submodules:
        name = submodule.name
        sub_url = submodule.url or ""
        where = redact_url(sub_url)
        sub_clean, sub_creds = resolve_credentials(sub_url, credentials)
        say("INFO", f"Updating submodule '{submodule.path}' from '{where}'")
        apply_process_wide_settings(options)
        with network_errors(sub_clean or sub_url, "submodule update", sub_creds):
            repo.submodules.update(
                [name], init=True, callbacks=AuthCallbacks(sub_clean or sub_url, sub_creds)
            )
        sub_repo = submodule.open()
        try:
            if sub_repo.submodules:
                update_submodules(sub_repo, credentials, options, say)
        finally:
            sub_repo.free()


# -- steps ----------------------------------------------------------------------------------


def _set_origin(
    repo: pygit2.Repository, clean_url: str, single_branch: str | None, no_tags: bool
) -> None:
    """``origin`` with the URL without password, the fetch refspec of the clone, ``tagOpt``."""
    fetch = _branch_refspec(single_branch) if single_branch else _ALL_HEADS
    if _REMOTE in repo.remotes.names():
        repo.remotes.delete(_REMOTE)
    repo.remotes.create(_REMOTE, redact_url(clean_url), fetch)
    if no_tags:
        repo.config[f"remote.{_REMOTE}.tagopt"] = "--no-tags"


def _branch_refspec(branch: str | None) -> str:
    return f"+refs/heads/{branch}:refs/remotes/{_REMOTE}/{branch}"


def _default_branch(advertised: dict[str, pygit2.remotes.RemoteHead], url: str) -> str:
    """The remote's HEAD branch, else ``main``, else ``master``."""
    head = advertised.get("HEAD")
    if head is not None:
        target = head.symref_target
        if target and target.startswith("refs/heads/") and target in advertised:
            return target.removeprefix("refs/heads/")
        same = sorted(
            name.removeprefix("refs/heads/")
            for name, h in advertised.items()
            if name.startswith("refs/heads/") and h.oid == head.oid
        )
        for candidate in ("main", "master", *same):
            if candidate in same:
                return candidate
    for candidate in ("main", "master"):
        if f"refs/heads/{candidate}" in advertised:
            return candidate
    heads = [n for n in advertised if n.startswith("refs/heads/")]
    raise GitRefNotFoundError(
        "Cannot determine the default branch. Please specify the 'branch' property explicitly. "
        f"{redact_url(url)} has no HEAD, 'main' or 'master' branch; existing branches: "
        f"{_names(heads, 'refs/heads/')}."
    )


def _checkout_branch(
    repo: pygit2.Repository, branch: str, advertised: dict[str, pygit2.remotes.RemoteHead]
) -> str:
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
    head = advertised.get("HEAD")
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
    """Work tree and index to ``commit``; files of the same path are replaced, others kept."""
    repo.checkout_tree(commit, strategy=CheckoutStrategy.FORCE)  # type: ignore[no-untyped-call]


def _resolve_commit(
    repo: pygit2.Repository, sha: str, url: str, single: str | None, no_tags: bool
) -> pygit2.Commit:
    text = sha.strip()
    try:
        found = repo.get(text)
    except pygit2.AmbiguousError:
        raise GitRefNotFoundError(
            f"Cannot resolve commit SHA '{text}': the abbreviation matches several objects "
            f"in {redact_url(url)}; give more digits of `commit`."
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
        f"{redact_url(url)} has it. Check `commit`."
    )


def _resolve_tag(repo: pygit2.Repository, tag: str, url: str) -> pygit2.Commit:
    ref = repo.references.get(f"refs/tags/{tag}")
    if ref is None:
        raise GitRefNotFoundError(
            f"Cannot resolve tag '{tag}': the fetch from {redact_url(url)} did not bring it; retry."
        )
    target = repo[ref.target]
    try:
        return target.peel(pygit2.Commit)
    except (ValueError, pygit2.GitError) as exc:
        raise GitRefNotFoundError(
            f"Cannot resolve tag '{tag}': it does not point to a commit ({exc})."
        ) from exc


# -- messages ---------------------------------------------------------------------------------


def _missing_branch_message(branch: str, url: str, heads: list[str]) -> str:
    return (
        f"Branch '{branch}' does not exist in {redact_url(url)}. Existing branches: "
        f"{_names(heads, 'refs/heads/')}. Check `branch`."
    )


def _missing_tag_message(
    tag: str, url: str, advertised: dict[str, pygit2.remotes.RemoteHead]
) -> str:
    tags = [n for n in advertised if n.startswith("refs/tags/") and not n.endswith("^{}")]
    return (
        f"Cannot resolve tag '{tag}': it does not exist in {redact_url(url)}. Existing tags: "
        f"{_names(tags, 'refs/tags/')}. Check `tag`."
    )


def _names(refs: list[str], prefix: str) -> str:
    names = sorted(r.removeprefix(prefix) for r in refs)
    shown = ", ".join(f"'{n}'" for n in names[:10]) or "none"
    if len(names) > 10:
        shown += f" and {len(names) - 10} more"
    return shown


def _short(ref: str) -> str:
    return ref.removeprefix("refs/heads/")


def _silent(level: str, message: str) -> None:
    """The default ``log``: say nothing."""
