"""What a failed Git operation means: pygit2/libgit2 errors translated into ours.

:func:`map_git_error` turns a ``pygit2.GitError`` from a network operation into a
:class:`~kestra_git_tasks.errors.GitError` subclass whose message names the URL (never its
credentials: they are scrubbed from libgit2's text) and the property that fixes it. The caller
raises the result ``from`` the pygit2 exception, which stays as ``__cause__``
(:func:`kestra_git_tasks.git.transport.network_errors` does this for every network step).
"""

from __future__ import annotations

import re

import pygit2

from kestra_git_tasks.errors import GitAuthError, GitError, GitNetworkError
from kestra_git_tasks.git.urls import storage_url

__all__ = ["HTTP_HINT", "SSH_HINT", "map_git_error"]

_MASK = "******"

# libgit2 error classes (git_error_t) that pygit2 exposes as ``GitError.error_class``.
_ERROR_CLASS_OS = 2
_ERROR_CLASS_NET = 12
_ERROR_CLASS_SSL = 16
_ERROR_CLASS_SSH = 23
_ERROR_CLASS_HTTP = 34

HTTP_HINT = "check `username` and `password` (a personal access token goes in `password`)"
SSH_HINT = (
    "check `privateKey` (the PEM content, not a file path) and `passphrase`, and that the "
    "public key is registered with the server"
)


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, _MASK)
    return text


def _is_local(url: str) -> bool:
    """A ``file://`` URL or a bare path (not ``scheme://`` nor scp-like ``user@host:path``)."""
    if url.lower().startswith("file://"):
        return True
    return "://" not in url and not re.match(r"^[^/@]+@[^/:]+:", url)


def _local_message(url: str, where: str, detail: str) -> str:
    if not url.lower().startswith("file://"):
        return (
            f"'{where}' is not a URL ({detail}): write a local repository as "
            f"file:///absolute/path, or give an http(s):// or ssh:// URL."
        )
    return (
        f"Cannot open the local repository {where} ({detail}): check that the path exists, "
        f"is absolute, and is a Git repository (bare or with a working tree)."
    )


def map_git_error(
    exc: pygit2.GitError, *, url: str, action: str, secrets: tuple[str, ...] = ()
) -> GitError:
    """Translate a pygit2 exception from a network operation into one of ours.

    The message names the URL (without password) and says how to fix the problem; the caller
    raises the result ``from exc`` so the pygit2 exception stays as ``__cause__``.
    """
    where = storage_url(url)
    detail = _scrub(str(exc), secrets)
    lowered = detail.lower()
    error_class = getattr(exc, "error_class", None)

    if _is_local(url):  # no host, port or proxy to check: the path is the only suspect
        return GitError(_local_message(url, where, detail))
    if "cannot redirect" in lowered:
        return GitError(
            f"{where} redirected to another location that libgit2 refuses to follow ({detail}). "
            "Put the repository's final URL in `url`."
        )
    if "proxy" in lowered:
        return GitNetworkError(
            f"The proxy refused or failed the connection to {where} ({detail}): check the "
            "proxy settings (`http.proxy`, `https_proxy`/`http_proxy`, `no_proxy`), or set "
            "`noProxy: true` to connect directly."
        )
    if isinstance(exc, pygit2.AuthError):
        return GitAuthError(
            f"{where} requires authentication that was not provided ({detail}): {HTTP_HINT}, "
            f"or `privateKey` for SSH."
        )
    if isinstance(exc, pygit2.CertificateError) or error_class == _ERROR_CLASS_SSL:
        return GitNetworkError(
            f"TLS failure talking to {where}: {detail}. If the server uses a private or "
            f"self-signed certificate authority, set `trustedCaPemPath` to its PEM file; check "
            f"that the URL's scheme (http/https) and port are right."
        )
    return _network_error(where, detail, lowered, error_class, action)


def _network_error(
    where: str, detail: str, lowered: str, error_class: int | None, action: str
) -> GitError:
    """The error for a failure that is not about redirects, proxies, auth or TLS."""
    if "timed out" in lowered or "timeout" in lowered:
        return GitNetworkError(
            f"Timed out talking to {where} ({detail}): check that the host is reachable, or "
            f"raise `connectTimeout` / `readTimeout`."
        )
    if "resolve" in lowered and "address" in lowered:
        return GitNetworkError(
            f"Cannot resolve the host of {where} ({detail}): check the host name in `url`, "
            f"and DNS or proxy settings (`noProxy`)."
        )
    if error_class in (_ERROR_CLASS_NET, _ERROR_CLASS_OS) or "failed to connect" in lowered:
        return GitNetworkError(
            f"Cannot connect to {where} ({detail}): check the host and port in `url`, that the "
            f"server is up, and the proxy settings (`noProxy`)."
        )
    if error_class == _ERROR_CLASS_SSH:
        return _ssh_error(where, detail, lowered)
    if error_class == _ERROR_CLASS_HTTP or "http status" in lowered:
        return _http_status_error(where, detail)
    if "authentication" in lowered:
        return GitAuthError(f"Authentication to {where} failed ({detail}): {HTTP_HINT}.")
    return GitError(f"Git {action} failed for {where}: {detail}")


def _ssh_error(where: str, detail: str, lowered: str) -> GitError:
    if "passphrase" in lowered or "private key" in lowered:
        return GitAuthError(
            f"The SSH private key for {where} cannot be used ({detail}): check `privateKey` "
            "(the key's content: OpenSSH or PEM, ed25519, ECDSA or RSA) and, when the key is "
            "encrypted, `passphrase`."
        )
    if "auth" in lowered:
        return GitAuthError(f"SSH authentication to {where} failed ({detail}): {SSH_HINT}.")
    return GitNetworkError(f"SSH connection to {where} failed ({detail}).")


def _http_status_error(where: str, detail: str) -> GitError:
    status = detail.rsplit(":", 1)[-1].strip()
    if status in {"401", "403"}:
        return GitAuthError(
            f"{where} refused access (HTTP {status}): {HTTP_HINT}, and that the account may "
            f"read the repository."
        )
    if status == "404":
        return GitError(
            f"No Git repository at {where} (HTTP 404): check `url` (and, for a private "
            f"repository, the credentials)."
        )
    if status.startswith("5"):
        return GitNetworkError(
            f"{where} answered with a server error (HTTP {status}): retry later."
        )
    return GitError(f"{where} answered unexpectedly ({detail}).")
