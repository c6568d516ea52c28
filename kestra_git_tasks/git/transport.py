"""How we talk to a Git remote: credentials, transport options, callbacks and error mapping.

URLs themselves (taking credentials out, what may be stored) are :mod:`kestra_git_tasks.git.urls`.
This module is the single place that translates pygit2/libgit2 failures into the library's
:mod:`kestra_git_tasks.errors` (always ``raise ... from exc``), and the single place that touches
libgit2's process-wide settings (:func:`apply_process_wide_settings`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import pygit2
from pygit2.enums import CredentialType

from kestra_git_tasks.errors import (
    ConfigError,
    GitAuthError,
    GitError,
    GitNetworkError,
)
from kestra_git_tasks.git.urls import origin_of, split_url_credentials, storage_url
from kestra_git_tasks.progress import ProgressCallback, ProgressEvent

__all__ = [
    "Credentials",
    "TransportOptions",
    "apply_process_wide_settings",
    "resolve_credentials",
]

_MASK = "******"

# libgit2 error classes (git_error_t) that pygit2 exposes as ``GitError.error_class``.
_ERROR_CLASS_OS = 2
_ERROR_CLASS_NET = 12
_ERROR_CLASS_SSL = 16
_ERROR_CLASS_SSH = 23
_ERROR_CLASS_HTTP = 34

_HTTP_HINT = "check `username` and `password` (a personal access token goes in `password`)"
_SSH_HINT = (
    "check `privateKey` (the PEM content, not a file path) and `passphrase`, and that the "
    "public key is registered with the server"
)


@dataclass(frozen=True)
class Credentials:
    """What to authenticate with. HTTP(S) uses username + password (a personal access token goes
    in ``password``); SSH uses ``private_key`` (PEM content) and its optional ``passphrase``.

    The repr never shows the password, the private key or the passphrase.
    """

    username: str | None = None
    password: str | None = None
    private_key: str | None = None
    passphrase: str | None = None

    def __repr__(self) -> str:
        def masked(value: str | None) -> str:
            return "None" if value is None else repr(_MASK)

        return (
            f"Credentials(username={self.username!r}, password={masked(self.password)}, "
            f"private_key={masked(self.private_key)}, passphrase={masked(self.passphrase)})"
        )

    __str__ = __repr__

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values, for masking them out of messages."""
        values = (self.password, self.private_key, self.passphrase)
        return tuple(v for v in values if v)

    @property
    def is_empty(self) -> bool:
        return not (self.username or self.password or self.private_key)


@dataclass(frozen=True)
class TransportOptions:
    """Network settings for one operation (Kestra's ``connectTimeout``, ``readTimeout``,
    ``noProxy`` and ``trustedCaPemPath``).

    ``no_proxy=False`` lets libgit2 auto-detect a proxy (``http.proxy`` config, then the
    ``https_proxy``/``http_proxy`` environment variables, honouring ``no_proxy``).
    """

    connect_timeout_ms: int = 10000
    read_timeout_ms: int = 60000
    no_proxy: bool = False
    trusted_ca_pem_path: str | None = None

    def __post_init__(self) -> None:
        for name in ("connect_timeout_ms", "read_timeout_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(
                    f"`{name}` must be a positive number of milliseconds, got {value!r}."
                )

    @property
    def proxy(self) -> Literal[True] | None:
        """The ``proxy=`` argument for pygit2: None disables proxies, True auto-detects."""
        return None if self.no_proxy else True


def resolve_credentials(url: str, credentials: Credentials | None) -> tuple[str, Credentials]:
    """The URL to hand to libgit2 (never with a password, nor an ``http(s)`` user, in it) and
    the credentials to use.

    Credentials embedded in the URL are moved out of it; explicit ``credentials`` win over them.
    A user written in the URL without a password is sent with an empty password (a token given
    as the user).
    """
    clean_url, url_user, url_password = split_url_credentials(url)
    given = credentials or Credentials()
    if given.password is None and given.private_key is None:
        if url_password is not None:
            given = replace(given, username=given.username or url_user, password=url_password)
        elif url_user is not None and "@" not in clean_url and not given.username:
            given = replace(given, username=url_user, password="")
    return clean_url, given


_settings_lock = threading.Lock()
_loaded_ca_paths: set[str] = set()


def apply_process_wide_settings(options: TransportOptions) -> None:
    """Apply the settings libgit2 only has process-wide. This is the ONLY function that does.

    - Timeouts: libgit2 keeps one connect timeout and one read timeout for the whole process
      (``GIT_OPT_SET_SERVER_CONNECT_TIMEOUT`` / ``GIT_OPT_SET_SERVER_TIMEOUT``). They are set
      right before each network operation, so concurrent operations *in the same process* with
      different timeouts use whichever was set last.
    - ``trusted_ca_pem_path``: the CA bundle is loaded into libgit2's TLS context
      (``GIT_OPT_SET_SSL_CERT_LOCATIONS``). OpenSSL adds it to the certificates already trusted
      (the system ones stay trusted), and it cannot be unloaded: once a bundle has been used,
      it stays trusted by every later operation of this process.

    The proxy is *not* process-wide: it is passed per operation (:attr:`TransportOptions.proxy`).
    """
    with _settings_lock:
        pygit2.settings.server_connect_timeout = options.connect_timeout_ms
        pygit2.settings.server_timeout = options.read_timeout_ms
        ca_path = options.trusted_ca_pem_path
        if ca_path and ca_path not in _loaded_ca_paths:
            if not Path(ca_path).is_file():
                raise ConfigError(
                    f"`trustedCaPemPath` '{ca_path}' is not a readable file: give the path of a "
                    "PEM file holding the CA certificate(s) to trust."
                )
            try:
                pygit2.settings.set_ssl_cert_locations(ca_path, None)
            except pygit2.GitError as exc:
                raise ConfigError(
                    f"`trustedCaPemPath` '{ca_path}' could not be loaded as PEM certificates: {exc}"
                ) from exc
            _loaded_ca_paths.add(ca_path)


class AuthCallbacks(pygit2.RemoteCallbacks):
    """pygit2 callbacks that answer a credentials request once per credential type, and only
    for the origin (scheme, host, port) of the configured ``url``.

    libgit2 asks again (up to 15 times) when the server rejects what it got; the second request
    for the same type therefore means "rejected", and raises :class:`GitAuthError` at once.
    libgit2 follows a redirect of the first request (also to another server) and then asks for
    credentials naming the URL it was redirected to: a request from another origin raises
    :class:`GitError` naming it, and nothing is sent. An exception raised in a pygit2 callback
    reaches the caller of the network operation unchanged.

    ``progress`` (optional) receives libgit2's transfer progress as ``fetch`` and ``push``
    events (:class:`~kestra_git_tasks.progress.ProgressEvent`).
    """

    def __init__(
        self, url: str, credentials: Credentials, progress: ProgressCallback | None = None
    ) -> None:
        super().__init__()
        self._url = url
        self._credentials = credentials
        self._answered: set[CredentialType] = set()
        self._progress = progress

    def transfer_progress(self, stats: pygit2.remotes.TransferProgress) -> None:
        if self._progress is not None:
            self._progress(
                ProgressEvent(
                    "fetch", stats.received_objects, stats.total_objects, stats.received_bytes
                )
            )

    def push_transfer_progress(
        self, objects_pushed: int, total_objects: int, bytes_pushed: int
    ) -> None:
        if self._progress is not None:
            self._progress(ProgressEvent("push", objects_pushed, total_objects, bytes_pushed))

    def credentials(
        self,
        url: str,
        username_from_url: str | None,
        allowed_types: CredentialType,
    ) -> pygit2.Username | pygit2.UserPass | pygit2.Keypair:
        creds = self._credentials
        where = storage_url(url or self._url)
        if url and origin_of(url) != origin_of(self._url):
            raise GitError(
                f"{where} asks for credentials, but they are only sent to the server of `url` "
                f"({storage_url(self._url)}): refusing to send them to another origin (another "
                "scheme, host or port; reached through a redirect or a submodule). Put the "
                "repository's final URL in `url`, or make the other repository public."
            )

        if allowed_types & CredentialType.USERPASS_PLAINTEXT and (creds.username or creds.password):
            self._once(
                CredentialType.USERPASS_PLAINTEXT,
                f"{where} rejected the credentials: {_HTTP_HINT}.",
            )
            username = creds.username or username_from_url
            if not username:
                raise GitAuthError(
                    f"{where} asks for credentials and `password` is set but `username` is not: "
                    "set `username` too (with a personal access token any non-empty username "
                    "works)."
                )
            if creds.password is None:
                raise GitAuthError(
                    f"{where} asks for credentials and `username` is set but `password` is not: "
                    f"set `password` (a personal access token goes in `password`)."
                )
            return pygit2.UserPass(username, creds.password)

        ssh_user = username_from_url or creds.username or "git"
        if allowed_types & CredentialType.USERNAME and creds.private_key:
            self._once(CredentialType.USERNAME, f"{where} rejected the SSH user '{ssh_user}'.")
            return pygit2.Username(ssh_user)
        if allowed_types & CredentialType.SSH_MEMORY and creds.private_key:
            self._once(CredentialType.SSH_MEMORY, f"{where} rejected the SSH key: {_SSH_HINT}.")
            return pygit2.KeypairFromMemory(
                ssh_user, None, creds.private_key, creds.passphrase or ""
            )

        raise GitAuthError(_missing_credentials_message(where, allowed_types, creds))

    def _once(self, kind: CredentialType, rejected_message: str) -> None:
        if kind in self._answered:
            raise GitAuthError(f"Authentication failed: {rejected_message}")
        self._answered.add(kind)


def _missing_credentials_message(
    where: str, allowed_types: CredentialType, creds: Credentials
) -> str:
    if allowed_types & CredentialType.USERPASS_PLAINTEXT:
        if creds.private_key:
            return (
                f"{where} asks for a username and password but only `privateKey` is set: set "
                f"`username` and `password` (a personal access token goes in `password`), or "
                f"use the repository's SSH URL with the key."
            )
        return (
            f"{where} requires authentication but no credentials were given: set `username` and "
            f"`password` (a personal access token goes in `password`)."
        )
    return (
        f"{where} requires SSH authentication but no `privateKey` was given: set `privateKey` "
        f"(PEM content) and, if the key has one, `passphrase`."
    )


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, _MASK)
    return text


def map_git_error(
    exc: pygit2.GitError, *, url: str, action: str, credentials: Credentials | None = None
) -> GitError:
    """Translate a pygit2 exception from a network operation into one of ours.

    The message names the URL (without password) and says how to fix the problem; the caller
    raises the result ``from exc`` so the pygit2 exception stays as ``__cause__``.
    """
    where = storage_url(url)
    secrets = credentials.secrets if credentials else ()
    detail = _scrub(str(exc), secrets)
    lowered = detail.lower()
    error_class = getattr(exc, "error_class", None)

    if "cannot redirect" in lowered:
        return GitError(
            f"{where} redirected to another location that libgit2 refuses to follow ({detail}). "
            "Put the repository's final URL in `url`."
        )
    if isinstance(exc, pygit2.AuthError):
        return GitAuthError(
            f"{where} requires authentication that was not provided ({detail}): {_HTTP_HINT}, "
            f"or `privateKey` for SSH."
        )
    if isinstance(exc, pygit2.CertificateError) or error_class == _ERROR_CLASS_SSL:
        return GitNetworkError(
            f"TLS failure talking to {where}: {detail}. If the server uses a private or "
            f"self-signed certificate authority, set `trustedCaPemPath` to its PEM file; check "
            f"that the URL's scheme (http/https) and port are right."
        )
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
        if "auth" in lowered:
            return GitAuthError(f"SSH authentication to {where} failed ({detail}): {_SSH_HINT}.")
        return GitNetworkError(f"SSH connection to {where} failed ({detail}).")
    if error_class == _ERROR_CLASS_HTTP or "http status" in lowered:
        return _http_status_error(where, detail)
    if "authentication" in lowered:
        return GitAuthError(f"Authentication to {where} failed ({detail}): {_HTTP_HINT}.")
    return GitError(f"Git {action} failed for {where}: {detail}")


def _http_status_error(where: str, detail: str) -> GitError:
    status = detail.rsplit(":", 1)[-1].strip()
    if status in {"401", "403"}:
        return GitAuthError(
            f"{where} refused access (HTTP {status}): {_HTTP_HINT}, and that the account may "
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


@contextmanager
def network_errors(url: str, action: str, credentials: Credentials | None = None) -> Iterator[None]:
    """Run a network operation, translating pygit2 errors (our own errors pass through)."""
    try:
        yield
    except GitError:
        raise
    except pygit2.GitError as exc:
        raise map_git_error(exc, url=url, action=action, credentials=credentials) from exc
