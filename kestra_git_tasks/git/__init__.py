"""The Git layer: the only package of kestra-git-tasks that imports pygit2 (only in the modules
that use it: a module's public names below are imported on first use).

Sync tasks read flows and files from a remote branch without a work tree::

    cache = RepoCache(home / "repos")
    creds = Credentials(username="me", password=token)
    sha = cache.fetch_branch(url, "main", creds)            # one ls-remote when unchanged
    files = cache.list_tree(url, sha, "_flows")             # {"a.yml": blob_sha, ...} or None
    source = cache.read_blob(url, files["a.yml"])

``clone_repository(url, folder, ...)`` makes a work tree (the ``Clone`` task): branch, depth,
commit, tag, single branch, no tags, submodules, into an empty or a non-empty folder.

Modules: ``cache`` (RepoCache), ``clone``, ``push`` (Pusher), ``remote`` (one connection, its
refs, the default-branch rule), ``tree`` (the one tree walker and the unsafe-path rule),
``submodules`` (transports and credentials of submodules), ``transport`` (credentials,
callbacks, error mapping), ``urls`` (credentials out of URLs, what may be stored), ``gitconfig``.

Errors (all from :mod:`kestra_git_tasks.errors`, the pygit2 exception kept as ``__cause__``):

- ``GitAuthError``: credentials missing, or rejected (after one attempt, not libgit2's 15);
- ``GitNetworkError``: unknown host, refused connection, timeout, TLS failure;
- ``GitRefNotFoundError``: the branch (or a commit or blob read from the cache) is absent;
- ``GitDirectoryNotFoundError``: ``list_tree`` was given a path that is a file;
- ``GitError``: anything else (e.g. no repository at the URL);
- ``ConfigError``: an invalid branch name, depth, timeout or ``trustedCaPemPath``.

No message, cache file or ``.git/config`` ever holds a password: a password (or an ``http(s)``
user) embedded in a URL is moved into the credentials, and what is stored or shown is the URL
without user part or query string. Credentials are only ever sent to the origin (scheme, host,
port) of the URL they were given for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kestra_git_tasks.git.cache import RepoCache
    from kestra_git_tasks.git.clone import CloneResult, check_clone_options, clone_repository
    from kestra_git_tasks.git.known_hosts import INSECURE_HOST_KEY_ENV
    from kestra_git_tasks.git.known_hosts import default_paths as default_known_hosts
    from kestra_git_tasks.git.transport import (
        Credentials,
        TransportOptions,
        apply_process_wide_settings,
    )
    from kestra_git_tasks.git.urls import redact_url

__all__ = [
    "INSECURE_HOST_KEY_ENV",
    "CloneResult",
    "Credentials",
    "RepoCache",
    "TransportOptions",
    "apply_process_wide_settings",
    "check_clone_options",
    "clone_repository",
    "default_known_hosts",
    "redact_url",
]

#: Each public name and ``module:attribute`` it is, imported on first use (PEP 562): importing
#: the package, or a module of it that needs no pygit2 (``transport``, ``urls``...), loads no
#: pygit2.
_LAZY = {
    "INSECURE_HOST_KEY_ENV": "known_hosts:INSECURE_HOST_KEY_ENV",
    "CloneResult": "clone:CloneResult",
    "Credentials": "transport:Credentials",
    "RepoCache": "cache:RepoCache",
    "TransportOptions": "transport:TransportOptions",
    "apply_process_wide_settings": "transport:apply_process_wide_settings",
    "check_clone_options": "clone:check_clone_options",
    "clone_repository": "clone:clone_repository",
    "default_known_hosts": "known_hosts:default_paths",
    "redact_url": "urls:redact_url",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attribute = _LAZY[name].partition(":")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
