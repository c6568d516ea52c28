"""HTTPS through a private CA (trusted per call, never process-wide) and an HTTP CONNECT proxy
(Debian's tinyproxy), against the real git HTTP server of tests/gitserver.py."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from gitserver import BareRemote, GitHttpServer
from proxy import TinyProxy

from kestra_git_tasks.errors import GitNetworkError
from kestra_git_tasks.git import RepoCache, TransportOptions, clone_repository
from kestra_git_tasks.git.push import Identity, Pusher


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(folder: Path) -> tuple[Path, Path, Path]:
    """A fresh CA and a server certificate for 127.0.0.1: (ca.pem, server.pem, server.key)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder().subject_name(_name("test CA")).issuer_name(_name("test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    leaf = (
        x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[GitHttpServer, Path]]:
    ca, cert, key = make_pki(tmp_path / "pki")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with GitHttpServer(tmp_path / "root", username=None, ssl_context=context) as server:
        yield server, ca


def test_private_ca_is_trusted_for_fetch_push_and_clone(
    https_server: tuple[GitHttpServer, Path], tmp_path: Path
) -> None:
    server, ca = https_server
    bare = BareRemote(server, "repo")
    sha = bare.commit({"a.yml": "x"})
    options = TransportOptions(trusted_ca_pem_path=str(ca))
    me = Identity("t", "t@example.com")

    assert RepoCache(tmp_path / "c1").fetch_branch(bare.url, "main", None, options) == sha
    result = Pusher(RepoCache(tmp_path / "c2")).push_changes(
        bare.url, "main", lambda view: {"b.yml": b"pushed"},
        message="m", author=me, committer=me, options=options,
    )  # fmt: skip
    clone_repository(bare.url, tmp_path / "clone", options=options)

    assert str(bare.repo.references["refs/heads/main"].target) == str(result.commit_id)
    assert (tmp_path / "clone" / "b.yml").read_text() == "pushed"


def test_trusting_a_ca_for_one_call_does_not_trust_it_for_the_next(
    https_server: tuple[GitHttpServer, Path], tmp_path: Path
) -> None:
    server, ca = https_server
    bare = BareRemote(server, "repo")
    bare.commit({"a.yml": "x"})
    RepoCache(tmp_path / "c1").fetch_branch(
        bare.url, "main", None, TransportOptions(trusted_ca_pem_path=str(ca))
    )

    with pytest.raises(GitNetworkError, match="trustedCaPemPath"):
        RepoCache(tmp_path / "c2").fetch_branch(bare.url, "main", None, TransportOptions())
    with pytest.raises(GitNetworkError, match="trustedCaPemPath"):
        clone_repository(bare.url, tmp_path / "clone", options=TransportOptions())


def test_wrong_ca_is_refused_naming_trusted_ca_pem_path(
    https_server: tuple[GitHttpServer, Path], tmp_path: Path
) -> None:
    server, _ = https_server
    other_ca, _, _ = make_pki(tmp_path / "other")
    bare = BareRemote(server, "repo")
    bare.commit({"a.yml": "x"})

    with pytest.raises(GitNetworkError, match=f"`trustedCaPemPath` '{other_ca}'"):
        RepoCache(tmp_path / "c").fetch_branch(
            bare.url, "main", None, TransportOptions(trusted_ca_pem_path=str(other_ca))
        )


@pytest.fixture
def tinyproxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TinyProxy]:
    reason = TinyProxy.available()
    if reason:
        pytest.skip(reason)  # scripts/setup installs it
    with TinyProxy(tmp_path / "proxy") as proxy:
        for name in ("no_proxy", "NO_PROXY", "HTTPS_PROXY", "HTTP_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("https_proxy", proxy.url)
        yield proxy


def test_https_proxy_carries_fetch_push_and_clone_unless_no_proxy(
    https_server: tuple[GitHttpServer, Path], tinyproxy: TinyProxy, tmp_path: Path
) -> None:
    server, ca = https_server
    bare = BareRemote(server, "repo")
    sha = bare.commit({"a.yml": "x"})
    target = f"127.0.0.1:{server.port}"
    proxied = TransportOptions(trusted_ca_pem_path=str(ca))
    direct = TransportOptions(trusted_ca_pem_path=str(ca), no_proxy=True)
    me = Identity("t", "t@example.com")

    assert RepoCache(tmp_path / "c1").fetch_branch(bare.url, "main", None, proxied) == sha
    Pusher(RepoCache(tmp_path / "c2")).push_changes(
        bare.url, "main", lambda view: {"b.yml": b"1"},
        message="m", author=me, committer=me, options=proxied,
    )  # fmt: skip
    clone_repository(bare.url, tmp_path / "clone", options=proxied)
    through = tinyproxy.connects()
    assert len(through) >= 3 and set(through) == {target}

    RepoCache(tmp_path / "c3").fetch_branch(bare.url, "main", None, direct)
    Pusher(RepoCache(tmp_path / "c4")).push_changes(
        bare.url, "main", lambda view: {"b.yml": b"2"},
        message="m", author=me, committer=me, options=direct,
    )  # fmt: skip
    clone_repository(bare.url, tmp_path / "clone2", options=direct)
    assert tinyproxy.connects() == through
