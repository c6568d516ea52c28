"""The Kestra API client gets the Git tasks' transport settings: a private CA trusted through
``trustedCaPemPath``, the proxy from the run's environment (tinyproxy), ``noProxy``."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from pki import make_pki
from proxy import TinyProxy
from pytest_httpserver import HTTPServer

from kestra_git_tasks.errors import ConfigError, KestraApiError
from kestra_git_tasks.instance.kestra_http import KestraApi


@pytest.fixture
def kestra_https(tmp_path: Path) -> Iterator[tuple[HTTPServer, Path]]:
    ca, cert, key = make_pki(tmp_path / "pki")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.expect_request("/api/v1/main/flows/distinct-namespaces").respond_with_json(["dev"])
    server.start()
    try:
        yield server, ca
    finally:
        server.clear()
        server.stop()


def _api(server: HTTPServer, **options: object) -> KestraApi:
    return KestraApi(f"https://127.0.0.1:{server.port}", retries=0, **options)  # type: ignore[arg-type]


def test_kestra_server_with_private_ca_is_trusted_only_with_trusted_ca_pem_path(
    kestra_https: tuple[HTTPServer, Path],
) -> None:
    server, ca = kestra_https

    assert _api(server, trusted_ca_pem_path=str(ca)).distinct_namespaces() == ["dev"]
    with pytest.raises(KestraApiError, match="trustedCaPemPath"):
        _api(server).distinct_namespaces()


def test_unreadable_ca_file_is_a_config_error_naming_the_property(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="trustedCaPemPath"):
        KestraApi("https://127.0.0.1:1", trusted_ca_pem_path=str(tmp_path / "ca.pem"))


def test_kestra_api_uses_the_run_environment_proxy_unless_no_proxy(
    kestra_https: tuple[HTTPServer, Path], tmp_path: Path
) -> None:
    if TinyProxy.available():
        pytest.skip("no tinyproxy installed (scripts/setup installs it)")
    server, ca = kestra_https
    with TinyProxy(tmp_path / "proxy") as proxy:
        environ = {"https_proxy": proxy.url}
        _api(server, trusted_ca_pem_path=str(ca), environ=environ).distinct_namespaces()
        assert proxy.connects() == [f"127.0.0.1:{server.port}"]

        _api(
            server, trusted_ca_pem_path=str(ca), environ=environ, no_proxy=True
        ).distinct_namespaces()
        bypass = {**environ, "no_proxy": "127.0.0.1"}
        _api(server, trusted_ca_pem_path=str(ca), environ=bypass).distinct_namespaces()
        assert proxy.connects() == [f"127.0.0.1:{server.port}"]
