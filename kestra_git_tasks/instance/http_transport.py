"""Transport settings of the Kestra API client (httpx), the same ones the Git tasks use:
``trustedCaPemPath`` (trusted with the system's CAs, for this client only), the proxy from an
environment mapping (``https_proxy``/``http_proxy``, honouring ``no_proxy``), and ``noProxy``.

:func:`client_options` returns the ``httpx.Client`` keyword arguments. With ``environ=None``
httpx reads the process environment itself (the CLI); a task passes its run's environment,
so what a task does never depends on ``os.environ``.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import ConfigError

__all__ = ["client_options", "tls_hint"]


def client_options(
    url: str,
    *,
    trusted_ca_pem_path: str | None = None,
    no_proxy: bool = False,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``verify``, ``trust_env`` and ``proxy`` for an ``httpx.Client`` talking to ``url``."""
    options: dict[str, Any] = {}
    if trusted_ca_pem_path:
        options["verify"] = _context(trusted_ca_pem_path)
    if no_proxy:
        options["trust_env"] = False
    elif environ is not None:
        options["trust_env"] = False
        options["proxy"] = _proxy_for(httpx.URL(url), environ)
    return options


def _context(ca_path: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=ca_path)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"`trustedCaPemPath` '{ca_path}' could not be loaded as PEM certificates ({exc}): "
            "give the path of a PEM file holding the CA certificate(s) to trust."
        ) from exc
    return context


def _proxy_for(url: httpx.URL, environ: Mapping[str, str]) -> str | None:
    proxies: dict[str, str] = {}
    for name in sorted(environ, key=str.islower):  # lower-case names win, as in curl
        if name.lower().endswith("_proxy") and environ[name]:
            proxies[name[:-6].lower()] = environ[name]
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if "no" in proxies and bypass(url.host, proxies):
        return None
    return proxies.get(url.scheme)


def tls_hint(exc: Exception) -> str:
    """A hint naming ``trustedCaPemPath`` when ``exc`` is a certificate failure, else ''."""
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return (
            "; the server's TLS certificate is not trusted: if it comes from a private CA, set "
            "`trustedCaPemPath` to the CA's PEM file"
        )
    return ""
