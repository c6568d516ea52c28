"""The refs of an ``http(s)`` remote in one request, credentials sent up front.

libgit2 sends its first request without credentials and answers the server's 401 with them, so
learning a branch head costs two requests. :func:`advertised_refs` makes the one request
itself: ``GET <url>/info/refs?service=git-upload-pack`` with ``Authorization: Basic`` from the
start, and reads the smart-HTTP ref advertisement (pkt-lines). A no-change sync or push needs
nothing more.

It is a fast path, never a second set of rules: whenever it cannot answer exactly as libgit2
would, it answers None and the caller asks libgit2 (:class:`~.remote.Connection`), whose
errors and messages are the package's. None when:

* the URL is not ``http``/``https``, or there are no username and password (libgit2's first
  request is then the only one anyway);
* a proxy may apply (``noProxy`` unset and a proxy variable in the environment or
  ``http.proxy`` in the git configuration), or ``trustedCaPemPath`` is set (libgit2's
  certificate rules of :mod:`.certcheck` apply there);
* anything but ``200`` with an upload-pack advertisement comes back: a redirect is never
  followed, so the credentials only ever reach the origin of ``url`` itself (a redirect to
  another origin is libgit2's, with its origin checks); a 401 lets libgit2 report the refusal;
* the connection, TLS (system CAs, host name checked) or the parsing fails, or a timeout
  (``connectTimeout``/``readTimeout``) passes.

The POST of a fetch (:func:`post_upload_pack`, for :mod:`.upload_pack`) follows the same rules:
it goes to the same origin, with the same credentials up front, never follows a redirect, and
answers None (libgit2 then fetches) on anything but ``200`` with an upload-pack result.

No error of this module is shown to anyone, so none can carry a secret.
"""

from __future__ import annotations

import base64
import http.client
import os
import ssl
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from kestra_git_tasks.git.transport import Credentials, TransportOptions

__all__ = [
    "Advertisement",
    "advertised_refs",
    "advertisement",
    "post_upload_pack",
    "proxy_may_apply",
]

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")
_CONTENT_TYPE = "application/x-git-upload-pack-advertisement"
_RESULT_TYPE = "application/x-git-upload-pack-result"
_MAX_BYTES = 64 * 1024 * 1024


def proxy_may_apply(options: TransportOptions, git_config_proxy: bool) -> bool:
    """Whether libgit2 could use a proxy for this operation (``gitConfig``'s ``http.proxy``
    included)."""
    if options.no_proxy:
        return False
    if options.proxy_url:
        return True
    names = [*_PROXY_VARIABLES, *(n.upper() for n in _PROXY_VARIABLES)]
    return git_config_proxy or any(os.environ.get(name) for name in names)


@dataclass(frozen=True)
class Advertisement:
    """What ``info/refs`` said: ``{ref name: sha}`` and the capabilities after the first ref."""

    refs: dict[str, str]
    capabilities: frozenset[str]


def advertised_refs(
    url: str, credentials: Credentials, options: TransportOptions
) -> dict[str, str] | None:
    """``{ref name: sha}`` advertised by ``url`` (``HEAD`` included when sent), or None when
    this fast path does not apply or did not get a clean answer (see the module docstring).
    ``url`` holds no credentials (``resolve_credentials`` took them out)."""
    found = advertisement(url, credentials, options)
    return None if found is None else found.refs


def advertisement(
    url: str, credentials: Credentials, options: TransportOptions
) -> Advertisement | None:
    """:func:`advertised_refs` with the server's capabilities."""
    parts = _applies(url, credentials, options)
    if parts is None:
        return None
    path = parts.path.rstrip("/") + "/info/refs?service=git-upload-pack"
    try:
        body = _request(parts, path, credentials, options, None, _CONTENT_TYPE, _MAX_BYTES)
    except (OSError, http.client.HTTPException, ValueError):
        return None
    return None if body is None else _parse_advertisement(body)


def post_upload_pack(
    url: str, credentials: Credentials, options: TransportOptions, body: bytes, max_bytes: int
) -> bytes | None:
    """The answer of ``POST <url>/git-upload-pack`` to ``body``, under the rules of the
    advertisement's request; None when they do not apply, on any other answer, a failed
    connection, or an answer longer than ``max_bytes``."""
    parts = _applies(url, credentials, options)
    if parts is None:
        return None
    path = parts.path.rstrip("/") + "/git-upload-pack"
    try:
        return _request(parts, path, credentials, options, body, _RESULT_TYPE, max_bytes)
    except (OSError, http.client.HTTPException, ValueError):
        return None


def _applies(url: str, credentials: Credentials, options: TransportOptions) -> SplitResult | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        return None
    if parts.query or parts.fragment:
        return None  # libgit2's own handling of a query string is not reproduced
    if not credentials.username or credentials.password is None:
        return None
    if options.trusted_ca_pem_path:
        return None
    return parts


def _request(
    parts: SplitResult,
    path: str,
    credentials: Credentials,
    options: TransportOptions,
    body: bytes | None,
    content_type: str,
    max_bytes: int,
) -> bytes | None:
    """GET (``body`` None) or POST ``path`` on the origin of ``parts``, credentials up front;
    the body of a ``200`` of ``content_type`` (at most ``max_bytes``), else None."""
    token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
    timeout = options.connect_timeout_ms / 1000
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        connection = http.client.HTTPSConnection(
            str(parts.hostname), parts.port, timeout=timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=timeout)
    headers = {
        "Authorization": f"Basic {token}",
        "User-Agent": "git/2.0 (kestra-git-tasks)",
        "Accept": "*/*",
        "Pragma": "no-cache",
    }
    if body is not None:
        headers["Content-Type"] = "application/x-git-upload-pack-request"
        headers["Accept"] = _RESULT_TYPE
    try:
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(options.read_timeout_ms / 1000)
        connection.request("GET" if body is None else "POST", path, body=body, headers=headers)
        response = connection.getresponse()
        received_type = response.getheader("Content-Type", "")
        if response.status != 200 or received_type.split(";")[0].strip() != content_type:
            return None
        data = response.read(max_bytes + 1)
        return None if len(data) > max_bytes and body is not None else data[:max_bytes]
    finally:
        connection.close()


def _parse(body: bytes) -> dict[str, str] | None:
    """The refs of a v0 smart-HTTP advertisement; None when it is not one."""
    found = _parse_advertisement(body)
    return None if found is None else found.refs


def _parse_advertisement(body: bytes) -> Advertisement | None:
    """The refs and capabilities of a v0 smart-HTTP advertisement; None when it is not one."""
    lines = _pkt_lines(body)
    if lines is None or len(lines) < 2 or lines[0] != b"# service=git-upload-pack\n":
        return None
    if lines[1] is not None:
        return None
    refs: dict[str, str] = {}
    capabilities: frozenset[str] = frozenset()
    for index, line in enumerate(lines[2:]):
        if line is None:
            return Advertisement(refs, capabilities)
        text = line.rstrip(b"\n")
        if index == 0:
            text, _, listed = text.partition(b"\0")  # the capabilities follow the first ref
            capabilities = frozenset(listed.decode("utf-8", "replace").split())
            if text.endswith(b" capabilities^{}"):
                continue  # an empty repository
        sha, _, name = text.partition(b" ")
        if len(sha) not in (40, 64) or not name:
            return None
        refs[name.decode("utf-8", "replace")] = sha.decode("ascii")
    return None  # no flush-pkt at the end: cut short


def _pkt_lines(body: bytes) -> list[bytes | None] | None:
    lines: list[bytes | None] = []
    at = 0
    while at < len(body):
        try:
            size = int(body[at : at + 4], 16)
        except ValueError:
            return None
        if size == 0:
            lines.append(None)
            at += 4
            continue
        if size < 4 or at + size > len(body):
            return None
        lines.append(body[at + 4 : at + size])
        at += size
    return lines
