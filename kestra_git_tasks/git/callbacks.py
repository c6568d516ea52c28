"""The pygit2 side of a network operation: the callbacks that answer credentials once per type
and only for the origin of ``url``, check who the server is (:mod:`.certcheck`) and report
progress; :func:`network_errors`, where pygit2/libgit2 failures become the library's errors
(messages in :mod:`.failures`); a submodule updated with the operation's proxy setting.

The credentials and options these take are :mod:`.transport`'s, which imports no pygit2: a
sync that finds its branch unchanged never loads this module.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager

import pygit2
from pygit2.enums import CredentialType

from kestra_git_tasks.errors import GitAuthError, GitError, GitNetworkError
from kestra_git_tasks.git import certcheck
from kestra_git_tasks.git.failures import HTTP_HINT, SSH_HINT, map_git_error
from kestra_git_tasks.git.transport import Credentials, TransportOptions
from kestra_git_tasks.git.urls import origin_of, storage_url
from kestra_git_tasks.progress import ProgressCallback, ProgressEvent

__all__ = ["AuthCallbacks", "network_errors", "update_submodule"]


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

    ``preemptive=True`` sends ``Authorization: Basic`` with every request of an ``http(s)``
    operation (no 401 round trip first). libgit2 would send that header after a redirect too,
    so only a caller that has just seen the origin of ``url`` answer the same request itself,
    without a redirect (:mod:`~kestra_git_tasks.git.smart_http`), may ask for it: a redirect
    could then only come from the origin that already holds the credentials.
    """

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        options: TransportOptions | None = None,
        progress: ProgressCallback | None = None,
        *,
        preemptive: bool = False,
    ) -> None:
        super().__init__()
        self._preemptive = preemptive
        self._url = url
        self._credentials = credentials
        self._options = options or TransportOptions()
        self._answered: set[CredentialType] = set()
        self._progress = progress
        #: Why the server's host key or certificate was refused (set by :mod:`certcheck`).
        self.refusal: GitError | None = None

    def check_certificate(self, cert: certcheck.Certificate, valid: bool, host: str) -> None:
        """Called by libgit2 (through :mod:`certcheck`) on every SSH and HTTPS connection."""
        options = self._options
        if isinstance(cert, certcheck.TlsCertificate):
            certcheck.check_tls(cert, valid, host, options.trusted_ca_pem_path)
        elif isinstance(cert, certcheck.SshHostKey):
            scheme, url_host, port = origin_of(self._url)
            same_host = url_host == host.lower() and scheme == "ssh"
            certcheck.check_host_key(
                cert,
                host,
                (port or 22) if same_host else 22,
                options.known_hosts_paths(),
                options.accept_any_host_key,
            )
        elif not valid:
            raise GitNetworkError(f"{host} presented a certificate that cannot be checked.")

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

    def custom_headers(self) -> list[str] | None:
        creds = self._credentials
        if not self._preemptive or origin_of(self._url)[0] not in ("http", "https"):
            return None
        if not creds.username or creds.password is None:
            return None
        token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        return [f"Authorization: Basic {token}"]

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
                f"{where} rejected the credentials: {HTTP_HINT}.",
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
            self._once(CredentialType.SSH_MEMORY, f"{where} rejected the SSH key: {SSH_HINT}.")
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


@contextmanager
def network_errors(
    url: str,
    action: str,
    credentials: Credentials | None = None,
    callbacks: AuthCallbacks | None = None,
) -> Iterator[None]:
    """Run a network operation, translating pygit2 errors (our own errors pass through); a
    host key or certificate refused by ``callbacks`` is raised as that refusal."""
    try:
        yield
    except GitError:
        raise
    except pygit2.GitError as exc:
        if callbacks is not None and callbacks.refusal is not None:
            raise callbacks.refusal from exc
        raise map_git_error(
            exc, url=url, action=action, secrets=credentials.secrets if credentials else ()
        ) from exc


def update_submodule(
    submodule: pygit2.Submodule, callbacks: AuthCallbacks, options: TransportOptions
) -> None:
    """pygit2's ``Submodule.update(init=True)`` with the operation's proxy setting: pygit2 has
    no argument for it, and libgit2's default for a submodule is no proxy at all."""
    from pygit2._libgit2 import ffi
    from pygit2._libgit2 import lib as C
    from pygit2.callbacks import git_fetch_options

    opts = ffi.new("git_submodule_update_options *")
    C.git_submodule_update_options_init(opts, C.GIT_SUBMODULE_UPDATE_OPTIONS_VERSION)
    opts.fetch_opts.proxy_opts.type = C.GIT_PROXY_NONE if options.no_proxy else C.GIT_PROXY_AUTO
    with git_fetch_options(callbacks, opts=opts.fetch_opts) as payload:
        err = C.git_submodule_update(submodule._subm, 1, opts)
        payload.check_error(err)
