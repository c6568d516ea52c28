"""Submodules of a clone: which URLs they may use, which credentials they get.

A repository's ``.gitmodules`` is content written by whoever can push to it, so a clone does
not let it choose where the runner reads from, nor who receives the credentials:

- **Transports**: a submodule may use ``http``, ``https`` and ``ssh`` (``ssh://`` or scp-like
  ``git@host:path``), the network transports a parent uses. ``file://`` URLs and paths would
  read the runner's own disk: refused unless ``allow_local`` (the ``Clone`` task sets it from
  the ``KESTRA_GIT_ALLOW_LOCAL_SUBMODULES`` environment variable, an operator's choice). Any
  other transport (``ext::``, ``fd::``, ``git://``...) is refused.
- **Credentials**: a submodule on the origin (scheme, host, port) of the clone's ``url`` gets
  the clone's credentials; one on another origin gets none (only a user and password written in
  its own URL). A redirect to another origin gets none either (see ``AuthCallbacks``).
- **Names and paths**: a submodule whose name or path has an unsafe component (``..``,
  ``.git``...) is refused, as a tree entry would be (:func:`~kestra_git_tasks.git.tree.check_path`).

Relative URLs (``../lib.git``) resolve against the parent's URL, as Git does.
"""

from __future__ import annotations

from collections.abc import Callable
from posixpath import normpath
from urllib.parse import urlsplit, urlunsplit

import pygit2

from kestra_git_tasks.errors import GitError
from kestra_git_tasks.git.transport import (
    AuthCallbacks,
    Credentials,
    TransportOptions,
    apply_process_wide_settings,
    network_errors,
    resolve_credentials,
    update_submodule,
)
from kestra_git_tasks.git.tree import check_path
from kestra_git_tasks.git.urls import origin_of, storage_url

__all__ = [
    "LOCAL_SUBMODULES_ENV",
    "check_submodule",
    "resolve_submodule_url",
    "submodule_credentials",
    "update_submodules",
]

#: The environment variable with which an operator lets submodules use local URLs.
LOCAL_SUBMODULES_ENV = "KESTRA_GIT_ALLOW_LOCAL_SUBMODULES"

_NETWORK_SCHEMES = frozenset({"http", "https", "ssh"})


def update_submodules(
    repo: pygit2.Repository,
    parent_url: str,
    credentials: Credentials,
    options: TransportOptions,
    allow_local: bool = False,
    log: Callable[[str, str], None] | None = None,
    *,
    credentials_url: str | None = None,
) -> None:
    """Initialise and update every submodule of ``repo``, recursively.

    ``parent_url`` (without credentials) is the URL relative submodule URLs resolve against;
    ``credentials`` belong to the origin of ``credentials_url`` (default: ``parent_url``).

    Raises:
        GitError: a refused transport, name or path (the message names the submodule).
    """
    say = log or (lambda level, message: None)
    owner_url = credentials_url or parent_url
    for submodule in _submodules(repo, parent_url):
        where = _checked(submodule, parent_url, allow_local)
        sub_url, sub_creds = resolve_credentials(where, None)
        callbacks = AuthCallbacks(sub_url, sub_creds, options)  # its own URL credentials
        if origin_of(sub_url) == origin_of(owner_url) or sub_creds.is_empty:
            # the clone's credentials, answered for their own origin only
            callbacks, sub_creds = AuthCallbacks(owner_url, credentials, options), credentials
        say("INFO", f"Updating submodule '{submodule.path}' from '{storage_url(sub_url)}'")
        apply_process_wide_settings(options)
        with network_errors(sub_url, "submodule update", sub_creds, callbacks):
            update_submodule(submodule, callbacks, options)
        sub_repo = submodule.open()
        try:
            if sub_repo.submodules:
                update_submodules(
                    sub_repo, sub_url, credentials, options, allow_local, say,
                    credentials_url=owner_url,
                )  # fmt: skip
        finally:
            sub_repo.free()


def _submodules(repo: pygit2.Repository, parent_url: str) -> list[pygit2.Submodule]:
    """The submodules of ``repo``; libgit2 refuses some names and paths (``../x``) itself."""
    try:
        return list(repo.submodules)
    except (pygit2.GitError, ValueError) as exc:
        raise GitError(
            f"Refusing the submodules of {storage_url(parent_url)}: {exc}. A submodule's name and "
            "path must stay inside the repository; fix .gitmodules."
        ) from exc


def _checked(submodule: pygit2.Submodule, parent_url: str, allow_local: bool) -> str:
    """The submodule's absolute URL, after the name, path and transport checks."""
    return check_submodule(
        submodule.name or "", submodule.path or "", submodule.url or "", parent_url, allow_local
    )


def check_submodule(name: str, path: str, url: str, parent_url: str, allow_local: bool) -> str:
    """The absolute URL of the submodule ``name`` at ``path`` (``url`` as ``.gitmodules`` says
    it), after the name, path and transport checks of the module docstring.

    Raises:
        GitError: a refused name, path or transport; the message names the submodule.
    """
    label = f"submodule '{name}'"
    try:
        check_path(name)
        check_path(path)
    except GitError as exc:
        raise GitError(f"Refusing {label} of .gitmodules: {exc}") from None
    url = resolve_submodule_url(url, parent_url)
    scheme = _scheme(url)
    if scheme in _NETWORK_SCHEMES or (scheme == "file" and allow_local):
        return url
    shown = storage_url(url)
    if scheme == "file":
        raise GitError(
            f"Refusing {label}: its URL '{shown}' reads the runner's own disk. Use an http(s) "
            f"or ssh URL, or let the operator set {LOCAL_SUBMODULES_ENV}=true."
        )
    raise GitError(
        f"Refusing {label}: its URL '{shown}' uses the '{scheme}' transport; submodules may "
        "use http, https or ssh."
    )


def resolve_submodule_url(url: str, parent_url: str) -> str:
    """``url`` made absolute: ``./x`` and ``../x`` are relative to ``parent_url``, as in Git."""
    if not url.startswith(("./", "../")):
        return url
    if "://" in parent_url:
        parts = urlsplit(parent_url)
        path = normpath(f"{parts.path.rstrip('/')}/{url}")
        return urlunsplit(parts._replace(path=path if path.startswith("/") else f"/{path}"))
    host, sep, path = parent_url.partition(":")
    if sep and "/" not in host:  # scp-like git@host:org/repo.git
        return f"{host}:{normpath(path.rstrip('/') + '/' + url)}"
    return normpath(f"{parent_url.rstrip('/')}/{url}")


def _scheme(url: str) -> str:
    """``http``, ``https``, ``ssh`` (scp-like too), ``file`` (paths too), or another name."""
    if "::" in url.partition("/")[0]:
        return url.partition("::")[0].lower() or "unknown"  # ext::cmd, fd::0
    if "://" in url:
        return url.partition("://")[0].lower()
    head = url.partition("/")[0]
    if ":" in head and len(head.partition(":")[0]) > 1:
        return "ssh"  # scp-like; "C:" would be a Windows drive
    return "file"


def submodule_credentials(
    url: str, owner_url: str, credentials: Credentials
) -> tuple[str, Credentials]:
    """The submodule URL without its userinfo, and the credentials a fetch of it may answer
    with: the task's ``credentials`` when it is on the origin of ``owner_url`` (the task's
    ``url``), else only those written in its own URL (none for most)."""
    sub_url, sub_creds = resolve_credentials(url, None)
    if origin_of(sub_url) == origin_of(owner_url):
        return sub_url, credentials
    return sub_url, sub_creds
