"""Who the server is: the SSH host key checked against known_hosts, the TLS certificate
checked against ``trustedCaPemPath``, per operation, with nothing changed process-wide.

pygit2 hands its Python ``certificate_check`` callback ``None`` instead of the certificate, so
this module re-registers pygit2's C callback (``_certificate_check_cb``, cffi ``def_extern``)
with :func:`_bridge`: for a callbacks object that has a ``check_certificate`` method (ours,
:class:`~kestra_git_tasks.git.transport.AuthCallbacks`) the bridge decodes the certificate
(:class:`SshHostKey` or :class:`TlsCertificate`) and asks that method; a refusal
(:class:`GitNetworkError`) is kept as the callbacks' ``refusal`` and libgit2 fails the call
with a certificate error, which ``network_errors`` turns into the refusal; any other callbacks
object gets pygit2's own behaviour unchanged. libgit2 calls the callback on every SSH
connection and every HTTPS connection, before any credential is sent.

* SSH (:func:`check_host_key`): the key must be listed for the host (and port) in the
  known_hosts files of the operation; unknown, changed and revoked keys are refused with the
  key's SHA256 fingerprint and ``kestra-git known-hosts add HOST[:PORT]``. The opt-out
  (``accept_any_host_key``) accepts every key.
* TLS (:func:`check_tls`): what libgit2's OpenSSL trusts (the system CAs) is accepted; else,
  with ``trusted_ca_pem_path``, the leaf certificate must chain to a CA of that file and name
  the host (``cryptography``'s verifier); else it is refused naming ``trustedCaPemPath``.

libgit2's ``git_cert_hostkey`` is larger than pygit2's declaration of it: the raw key and its
length are read at their offsets in libgit2 >= 1.2's layout, and checked against the SHA-256
libgit2 computed, so a different layout refuses the connection instead of misreading it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2
import pygit2.callbacks as _pygit2_callbacks
from pygit2._libgit2 import ffi
from pygit2._libgit2 import lib as C

from kestra_git_tasks.errors import ConfigError, GitNetworkError
from kestra_git_tasks.git.known_hosts import HostKey, Verdict, check, host_field

if TYPE_CHECKING:  # cryptography is imported by the one check that needs it (trustedCaPemPath)
    from cryptography import x509

__all__ = [
    "SshHostKey",
    "TlsCertificate",
    "check_host_key",
    "check_tls",
    "scan_host_key",
    "trust_command",
]

# git_cert_hostkey (libgit2 >= 1.2): parent (int), type (int), md5[16], sha1[20], sha256[32],
# raw_type (int), then const char *hostkey and size_t hostkey_len.
_SSH_TYPE_OFFSET = 4
_SHA256_OFFSET = 44
_HOSTKEY_OFFSET = 80
_CERT_SSH_SHA256 = 4
_CERT_SSH_RAW = 8


@dataclass(frozen=True)
class SshHostKey:
    key: HostKey | None  # None: libgit2 did not give the raw key


@dataclass(frozen=True)
class TlsCertificate:
    der: bytes


Certificate = SshHostKey | TlsCertificate | None


def trust_command(host: str, port: int) -> str:
    """The command that records ``host``'s key after showing it."""
    target = host if port == 22 else f"{host}:{port}"
    return f"kestra-git known-hosts add {target}"


def check_host_key(
    cert: SshHostKey, host: str, port: int, paths: tuple[Path, ...], accept_any: bool
) -> None:
    """Raise :class:`GitNetworkError` unless the host key is known for ``host``:``port``."""
    if accept_any:
        return
    where = host_field(host, port)
    if cert.key is None:
        raise GitNetworkError(
            f"SSH host key of {where} cannot be checked: this libgit2 does not give the raw key. "
            "Upgrade pygit2."
        )
    key = cert.key
    verdict = check(paths, host, port, key)
    if verdict is Verdict.MATCH:
        return
    files = ", ".join(f"'{p}'" for p in paths) or "none"
    shown = f"{key.key_type} {key.fingerprint}"
    if verdict is Verdict.REVOKED:
        raise GitNetworkError(
            f"SSH host key of {where} ({shown}) is marked @revoked in known_hosts ({files}): "
            "refusing to connect."
        )
    if verdict is Verdict.CHANGED:
        raise GitNetworkError(
            f"SSH host key of {where} has CHANGED: it now offers {shown}, which known_hosts "
            f"({files}) does not list. Someone may be intercepting the connection. If the "
            f"server's key really changed (check with its administrators), remove the old "
            f"line for {where} and run `{trust_command(host, port)}`."
        )
    raise GitNetworkError(
        f"SSH host key of {where} is unknown: it offers {shown}, and known_hosts ({files}) "
        f"has no {key.key_type} key for it. Check that fingerprint with the server's "
        f"administrators (GitHub and GitLab publish theirs), then run "
        f"`{trust_command(host, port)}`, or name a known_hosts file with "
        "KESTRA_GIT_KNOWN_HOSTS."
    )


def check_tls(cert: TlsCertificate, valid: bool, host: str, ca_path: str | None) -> None:
    """Raise :class:`GitNetworkError` unless the server's certificate is trusted for ``host``."""
    if valid:
        return
    if not ca_path:
        raise GitNetworkError(
            f"TLS certificate of {host} is not trusted by the system's certificate authorities. "
            "If the server uses a private or self-signed certificate authority, set "
            "`trustedCaPemPath` to its PEM file."
        )
    from cryptography import x509
    from cryptography.x509 import verification

    store = verification.Store(_load_cas(ca_path))
    subject: x509.verification.Subject
    try:
        subject = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        subject = x509.DNSName(host)
    verifier = (
        verification.PolicyBuilder()
        .store(store)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca().may_be_present(
                # Web PKI rules, except that a private CA may lack keyUsage (``openssl req
                # -x509`` omits it).
                x509.KeyUsage,
                verification.Criticality.AGNOSTIC,
                None,
            ),
            ee_policy=verification.ExtensionPolicy.webpki_defaults_ee(),
        )
        .time(datetime.now(UTC))
        .build_server_verifier(subject)
    )
    try:
        leaf = x509.load_der_x509_certificate(cert.der)
        verifier.verify(leaf, [])
    except (ValueError, verification.VerificationError) as exc:
        raise GitNetworkError(
            f"TLS certificate of {host} is not trusted: it does not chain to a certificate "
            f"authority of `trustedCaPemPath` '{ca_path}' for that host ({exc}). Check that "
            "the file holds the CA that issued the server's certificate, and the host name."
        ) from exc


def _load_cas(ca_path: str) -> list[x509.Certificate]:
    from cryptography import x509

    try:
        data = Path(ca_path).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"`trustedCaPemPath` '{ca_path}' is not a readable file ({exc.strerror}): give the "
            "path of a PEM file holding the CA certificate(s) to trust."
        ) from exc
    try:
        cas = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ConfigError(
            f"`trustedCaPemPath` '{ca_path}' could not be loaded as PEM certificates: {exc}"
        ) from exc
    return cas


def _decode(cert_i: Any) -> Certificate:
    kind = cert_i.cert_type
    if kind == C.GIT_CERT_X509:
        x509_cert = ffi.cast("git_cert_x509 *", cert_i)
        return TlsCertificate(bytes(ffi.buffer(x509_cert.data, x509_cert.len)))
    if kind != C.GIT_CERT_HOSTKEY_LIBSSH2:
        return None
    base = ffi.cast("unsigned char *", cert_i)
    flags = ffi.cast("int *", base + _SSH_TYPE_OFFSET)[0]
    if not flags & _CERT_SSH_RAW or not flags & _CERT_SSH_SHA256:
        return SshHostKey(None)
    pointer = ffi.cast("char **", base + _HOSTKEY_OFFSET)[0]
    size = ffi.cast("size_t *", base + _HOSTKEY_OFFSET + ffi.sizeof("void *"))[0]
    if pointer == ffi.NULL or not 0 < size < 65536:
        return SshHostKey(None)
    blob = bytes(ffi.buffer(pointer, size))
    if hashlib.sha256(blob).digest() != bytes(ffi.buffer(base + _SHA256_OFFSET, 32)):
        return SshHostKey(None)  # not the layout we expect: refuse rather than guess
    try:
        return SshHostKey(HostKey.from_blob(blob))
    except ValueError:
        return SshHostKey(None)


class _KeyScan(pygit2.RemoteCallbacks):
    """Keeps the host key libgit2 is shown, then stops the connection before authenticating."""

    def __init__(self) -> None:
        super().__init__()
        self.key: HostKey | None = None
        self.refusal: GitNetworkError | None = None

    def check_certificate(self, cert: Certificate, valid: bool, host: str) -> None:
        if isinstance(cert, SshHostKey):
            self.key = cert.key
        raise GitNetworkError("host key read; connection stopped")


def scan_host_key(host: str, port: int, timeout_ms: int = 10000) -> HostKey:
    """The SSH host key ``host``:``port`` offers to libgit2 (the same key type a later
    connection negotiates). Nothing is authenticated and nothing is written."""
    pygit2.settings.server_connect_timeout = timeout_ms
    scan = _KeyScan()
    with tempfile.TemporaryDirectory(prefix="kestra-git-scan-") as folder:
        repo = pygit2.init_repository(folder, bare=True)
        try:
            name = f"[{host}]" if ":" in host else host
            remote = repo.remotes.create_anonymous(f"ssh://git@{name}:{port}/scan")
            remote.connect(callbacks=scan)
        except pygit2.GitError as exc:
            if scan.key is None:
                raise GitNetworkError(
                    f"Cannot read the SSH host key of {host_field(host, port)} ({exc}): check "
                    "the host name and port, and that an SSH server listens there."
                ) from exc
        finally:
            repo.free()
    if scan.key is None:
        raise GitNetworkError(f"{host_field(host, port)} did not show an SSH host key.")
    return scan.key


_original: Callable[..., int] = _pygit2_callbacks._certificate_check_cb


def _bridge(cert_i: Any, valid: int, host: Any, handle: Any) -> int:
    data = ffi.from_handle(handle)
    checker = getattr(data, "check_certificate", None)
    if checker is None:
        return _original(cert_i, valid, host, handle)
    try:
        checker(_decode(cert_i), bool(valid), ffi.string(host).decode("utf-8", "replace"))
    except GitNetworkError as exc:  # refused: libgit2 fails the call, ``refusal`` says why
        data.refusal = exc
        return int(C.GIT_ECERTIFICATE)
    except BaseException as exc:  # handed to pygit2, which raises it after the call
        data._stored_exception = exc
        return int(C.GIT_EUSER)
    return 0


ffi.def_extern(name="_certificate_check_cb")(_bridge)
