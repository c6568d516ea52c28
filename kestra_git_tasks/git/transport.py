"""How we talk to a Git remote: credentials, transport options, callbacks and error mapping.

URLs themselves (taking credentials out, what may be stored) are :mod:`kestra_git_tasks.git.urls`.
:func:`network_errors` is where network operations translate pygit2/libgit2 failures into the
library's :mod:`kestra_git_tasks.errors` (always ``raise ... from exc``; the messages are
:mod:`kestra_git_tasks.git.failures`'), and this is the single place that touches
libgit2's process-wide settings (:func:`apply_process_wide_settings`: the timeouts, nothing
else). Who the server is (SSH host key, TLS certificate) is checked per operation by
:meth:`AuthCallbacks.check_certificate` through :mod:`kestra_git_tasks.git.certcheck`.

:class:`Credentials`, :class:`TransportOptions` and :func:`resolve_credentials` import no
pygit2; the callbacks, :func:`network_errors` and :func:`update_submodule` live in
:mod:`.callbacks` (pygit2) and are still importable from here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kestra_git_tasks.errors import ConfigError
from kestra_git_tasks.git.known_hosts import default_paths
from kestra_git_tasks.git.urls import split_url_credentials

if TYPE_CHECKING:
    from kestra_git_tasks.git.callbacks import AuthCallbacks as AuthCallbacks
    from kestra_git_tasks.git.callbacks import network_errors as network_errors
    from kestra_git_tasks.git.callbacks import update_submodule as update_submodule

__all__ = [
    "Credentials",
    "TransportOptions",
    "apply_process_wide_settings",
    "resolve_credentials",
]

#: Names of :mod:`.callbacks` (pygit2) this module still answers for, imported on first use.
_CALLBACKS = frozenset({"AuthCallbacks", "network_errors", "update_submodule"})

_MASK = "******"


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

    ``known_hosts``: the files SSH host keys are checked against (None: the defaults of
    :func:`~kestra_git_tasks.git.known_hosts.default_paths` for the user's home);
    ``accept_any_host_key`` turns that check off (Kestra's behaviour; the caller warns).
    """

    connect_timeout_ms: int = 10000
    read_timeout_ms: int = 60000
    no_proxy: bool = False
    trusted_ca_pem_path: str | None = None
    known_hosts: tuple[Path, ...] | None = None
    accept_any_host_key: bool = False
    proxy_url: str | None = None  # gitConfig's http.proxy, for this operation only

    def __post_init__(self) -> None:
        for name in ("connect_timeout_ms", "read_timeout_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(
                    f"`{name}` must be a positive number of milliseconds, got {value!r}."
                )

    def known_hosts_paths(self) -> tuple[Path, ...]:
        if self.known_hosts is not None:
            return self.known_hosts
        return default_paths(None, {"HOME": str(Path.home())})

    @property
    def proxy(self) -> Literal[True] | str | None:
        """The ``proxy=`` argument for pygit2: None disables proxies, a URL uses that proxy
        (``proxy_url``), True auto-detects."""
        if self.no_proxy:
            return None
        return self.proxy_url or True


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


def apply_process_wide_settings(options: TransportOptions) -> None:
    """Apply the settings libgit2 only has process-wide. This is the ONLY function that does.

    Timeouts: libgit2 keeps one connect timeout and one read timeout for the whole process
    (``GIT_OPT_SET_SERVER_CONNECT_TIMEOUT`` / ``GIT_OPT_SET_SERVER_TIMEOUT``). They are set
    right before each network operation, so concurrent operations *in the same process* with
    different timeouts use whichever was set last.

    ``trusted_ca_pem_path`` is *not* process-wide (libgit2's ``GIT_OPT_SET_SSL_CERT_LOCATIONS``
    would trust the file for every later operation and cannot be undone): it is checked per
    operation in :meth:`AuthCallbacks.check_certificate`. Nor is the proxy (passed per call).
    """
    ca_path = options.trusted_ca_pem_path
    if ca_path and not Path(ca_path).is_file():
        raise ConfigError(
            f"`trustedCaPemPath` '{ca_path}' is not a readable file: give the path of a "
            "PEM file holding the CA certificate(s) to trust."
        )
    import pygit2

    with _settings_lock:
        pygit2.settings.server_connect_timeout = options.connect_timeout_ms
        pygit2.settings.server_timeout = options.read_timeout_ms


def __getattr__(name: str) -> Any:
    if name in _CALLBACKS:
        from kestra_git_tasks.git import callbacks

        return getattr(callbacks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
