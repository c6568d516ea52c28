"""Kestra's REST API as this library uses it: the one module that imports httpx.

:class:`KestraApi` sends requests under the API base path (``/api/v1/{tenant}``, or ``/api/v1``
for servers before 0.23), with HTTP Basic or ``Authorization: Bearer`` credentials, connect and
read timeouts and retries, and turns Kestra's JSON and zip answers into our records. Every httpx
exception and every error status becomes one of ours (``raise ... from exc``), with the server's
message and never a credential:

* 401 / 403 -> :class:`~kestra_git_tasks.errors.KestraAuthError`;
* 422 on a flow save -> :class:`~kestra_git_tasks.errors.FlowValidationError`;
* other 4xx / 5xx -> :class:`~kestra_git_tasks.errors.KestraApiError` (``status_code`` set),
  carrying the server's message (Micronaut ``JsonError``: ``message`` and
  ``_embedded.errors[].message``; RFC 7807 ``detail`` / ``title`` on 2.0);
* unreachable server, timeout -> ``KestraApiError`` without status, naming the URL.

Retries: idempotent calls (GET, PUT, DELETE) are tried again, after 0.1 s, 0.2 s, 0.4 s...,
when the connection fails (refused, reset, connect timeout) or the server answers 502, 503 or
504. A POST is never repeated, nor is a call whose *read* timed out: the server may be doing the
work, and asking again only multiplies the wait.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from ..errors import (
    ConfigError,
    FlowValidationError,
    KestraApiError,
    KestraAuthError,
)
from ..flowfile import flow_identity, is_flow_file
from .base import FlowRecord
from .http_transport import client_options, tls_hint
from .kestra_answers import api_message, embedded_messages, problem_lines, safe_json, timestamp

__all__ = ["AUTH_HINT", "KestraApi", "api_message", "timestamp"]

#: How to fix a 401 / 403, in every KestraAuthError message.
AUTH_HINT = "check the credentials for this server (username and password, or API token)"
_RETRY_STATUSES = frozenset({502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
# Failures after which the request certainly did not reach the application.
_RETRY_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)
_YAML = {"Content-Type": "application/x-yaml"}
#: Page size of ``flows/search``: one page holds every flow of any sane namespace.
SEARCH_PAGE_SIZE = 10_000

Params = list[tuple[str, str | int | float | bool | None]]


class KestraApi:
    """The Kestra endpoints this library calls, over one ``httpx.Client``.

    ``url`` is the server root (``http://localhost:8080``, or a prefix behind a proxy);
    ``tenant=None`` omits the tenant segment (Kestra before 0.23). ``transport`` replaces the
    network (tests). Credentials are given to httpx only, never put in a message.
    ``trusted_ca_pem_path``, ``no_proxy`` and ``environ`` (where the proxy is read from; None:
    the process's) are the Git tasks' transport settings (:mod:`.http_transport`).
    """

    def __init__(
        self,
        url: str,
        *,
        tenant: str | None = "main",
        username: str | None = None,
        password: str | None = None,
        api_token: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.1,
        transport: httpx.BaseTransport | None = None,
        trusted_ca_pem_path: str | None = None,
        no_proxy: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if api_token and (username or password):
            raise ConfigError(
                "Cannot use both API Token authentication and HTTP Basic authentication; give "
                "either a token or a username and password"
            )
        if bool(username) != bool(password):
            raise ConfigError(
                "Both username and password are required for HTTP Basic authentication"
            )
        try:
            root = httpx.URL(url.strip().rstrip("/"))
        except httpx.InvalidURL as exc:
            raise ConfigError(f"invalid Kestra server URL: {exc}") from exc
        #: The server root as shown in messages (any credentials in the URL removed).
        self.url = str(root.copy_with(userinfo=b""))
        if root.scheme not in ("http", "https") or not root.host:
            raise ConfigError(
                f"invalid Kestra server URL {self.url!r}: expected http(s)://host[:port]"
            )
        if root.userinfo and not (username or api_token):
            username, password = root.username, root.password
        self.base_path = "/api/v1" + (f"/{_segment(tenant)}" if tenant else "")
        self.retries = max(0, retries)
        self.backoff = backoff
        self.read_timeout = read_timeout
        # no "Accept: application/json": Micronaut matches it against what a route produces,
        # and file contents and exports are application/octet-stream
        headers = {}
        if api_token:
            headers["Authorization"] = f"Bearer {api_token}"
        self._client = httpx.Client(
            base_url=self.url + self.base_path,
            auth=httpx.BasicAuth(username, password) if username and password else None,
            headers=headers,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            transport=transport,
            **client_options(
                self.url,
                trusted_ca_pem_path=trusted_ca_pem_path,
                no_proxy=no_proxy,
                environ=environ,
            ),
        )

    def close(self) -> None:
        """Close the connections. Safe to call twice."""
        self._client.close()

    # -- flows ---------------------------------------------------------------------------------
    def search_flows(self, namespace: str) -> list[dict[str, Any]]:
        """Flow objects (no source) of ``namespace`` and its children: ``flows/search``."""
        path, found, page = "/flows/search", [], 1
        while True:
            params = [*_scope(namespace), ("size", SEARCH_PAGE_SIZE), ("page", page)]
            data = self._json("GET", path, params=params)
            results = data.get("results") if isinstance(data, dict) else None
            if not isinstance(results, list):
                raise self._unexpected(path, '{"results": [...], "total": N}')
            found += [item for item in results if _is_flow(item)]
            total = data.get("total")
            if len(results) < SEARCH_PAGE_SIZE or (isinstance(total, int) and len(found) >= total):
                return found
            page += 1

    def export_flows(self, namespace: str) -> dict[tuple[str, str], str]:
        """``(namespace, id)`` -> source of every flow of one ``flows/export/by-query`` zip."""
        path = "/flows/export/by-query"
        response = self.send("GET", path, params=_scope(namespace))
        sources: dict[tuple[str, str], str] = {}
        try:
            with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                for entry in archive.infolist():
                    if entry.is_dir() or not is_flow_file(entry.filename.lower()):
                        continue
                    source = archive.read(entry).decode("utf-8", "replace")
                    identity = flow_identity(source)
                    if identity is not None:
                        sources[identity] = source
        except (zipfile.BadZipFile, OSError) as exc:
            raise self._unexpected(path, "a zip of flow sources") from exc
        return sources

    def get_flow(self, namespace: str, flow_id: str) -> FlowRecord | None:
        """The latest revision with its source (``?source=true``), or None on 404."""
        path = _flow_path(namespace, flow_id)
        data = self._json("GET", path, params=[("source", "true")], allow=(404,))
        return None if data is None else self.flow(data, path)

    def flow_revisions(self, namespace: str, flow_id: str) -> list[FlowRecord]:
        """Every revision, deleted ones included (``allowDelete=true``); [] on 404."""
        path = _flow_path(namespace, flow_id) + "/revisions"
        data = self._json("GET", path, params=[("allowDelete", "true")], allow=(404,))
        if not isinstance(data, list | None):
            raise self._unexpected(path, "a list of flow revisions")
        return sorted((self.flow(item, path) for item in data or []), key=lambda r: r.revision)

    def distinct_namespaces(self) -> list[str]:
        """``flows/distinct-namespaces``: namespaces holding flows."""
        path = "/flows/distinct-namespaces"
        data = self._json("GET", path)
        if not isinstance(data, list):
            raise self._unexpected(path, "a list of namespaces")
        return sorted({name for name in data if isinstance(name, str) and name})

    def validate(self, sources: list[str]) -> list[list[str]]:
        """One ``flows/validate`` request: the problems of each flow Kestra split the body in."""
        path = "/flows/validate"
        body = "\n---\n".join(sources).encode("utf-8")
        data = self._json("POST", path, content=body, headers=_YAML)
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise self._unexpected(path, "a list of {index, constraints}")
        ordered = sorted(enumerate(data), key=lambda pair: pair[1].get("index", pair[0]))
        return [problem_lines(item.get("constraints")) for _, item in ordered]

    def save_flow(
        self, source: str, identity: tuple[str, str] | None, exists: bool | None = None
    ) -> FlowRecord:
        """``PUT`` the flow (unless known to be new), then ``POST`` it when the PUT says 404.

        422 raises FlowValidationError with the server's message and constraints.
        """
        body = source.encode("utf-8")
        response: httpx.Response | None = None
        if identity is not None and exists is not False:
            path = _flow_path(*identity)
            response = self.send("PUT", path, content=body, headers=_YAML, allow=(404, 422))
        if response is None or response.status_code == 404:
            path = "/flows"
            response = self.send("POST", path, content=body, headers=_YAML, allow=(422,))
        if response.status_code == 422:
            flow = f"flow {identity[0]}/{identity[1]}" if identity else "flow"
            message = api_message(response) or "invalid"
            raise FlowValidationError(
                f"Kestra refused {flow}: {message}",
                constraints=embedded_messages(safe_json(response)) or [message],
            )
        return self.flow(self._read_json(response, path), path, source)

    def delete_flow(self, namespace: str, flow_id: str) -> bool:
        """``DELETE``: True on success, False when the server has no such flow (404)."""
        response = self.send("DELETE", _flow_path(namespace, flow_id), allow=(404,))
        return response.status_code != 404

    # -- namespace files -----------------------------------------------------------------------
    def list_directory(self, namespace: str, directory: str) -> list[dict[str, Any]] | None:
        """``files/directory`` entries ``{fileName, type, ...}``; None for a missing directory.

        The root always exists (Kestra creates it on demand): a 404 there is an error.
        """
        path = _files_path(namespace) + "/directory"
        params: Params = [("path", directory)] if directory != "/" else []
        allow = (404,) if directory != "/" else ()
        data = self._json("GET", path, params=params, allow=allow)
        if data is None:
            return None
        if not isinstance(data, list):
            raise self._unexpected(path, "a list of {fileName, type}")
        return [entry for entry in data if isinstance(entry, dict)]

    def read_file(self, namespace: str, path: str, revision: int | None = None) -> bytes | None:
        """The file's content (of ``revision``, Kestra 1.2+), or None when it does not exist."""
        params: Params = [("path", path)]
        if revision:
            params.append(("revision", revision))
        response = self.send("GET", _files_path(namespace), params=params, allow=(404,))
        return None if response.status_code == 404 else response.content

    def file_revisions(self, namespace: str, path: str) -> list[int]:
        """``files/revisions`` (Kestra 1.2+): the file's revision numbers; [] on 404."""
        where = _files_path(namespace) + "/revisions"
        data = self._json("GET", where, params=[("path", path)], allow=(404,))
        if not isinstance(data, list | None):
            raise self._unexpected(where, "a list of {revision}")
        found = (item.get("revision") for item in data or [] if isinstance(item, dict))
        return sorted(number for number in found if isinstance(number, int))

    def upload_file(self, namespace: str, path: str, content: bytes) -> None:
        """``POST`` multipart part ``fileContent`` to ``path`` (created or overwritten)."""
        name = path.rsplit("/", 1)[-1]
        if name.lower().endswith(".zip"):  # Kestra would extract it at the namespace root
            name += ".content"
        parts = {"fileContent": (name, content, "application/octet-stream")}
        self.send("POST", _files_path(namespace), params=[("path", path)], files=parts)

    def delete_file(self, namespace: str, path: str) -> None:
        """``DELETE`` the file (Kestra also removes the parents it leaves empty)."""
        self.send("DELETE", _files_path(namespace), params=[("path", path)])

    # -- plumbing ------------------------------------------------------------------------------
    def where(self, path: str) -> str:
        """The full URL of ``path`` (below the base path), for messages."""
        return f"{self.url}{self.base_path}{path}"

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        content: bytes | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        allow: Collection[int] = (),
    ) -> httpx.Response:
        """Send one request, retrying when that is safe, and return the response.

        A status >= 400 raises our error unless it is in ``allow`` (404 where "absent" is an
        answer).
        """
        attempts = self.retries + 1 if method in _IDEMPOTENT else 1
        query = "&".join(f"{key}={value}" for key, value in params or ())
        what = f"{method} {self.where(path)}" + (f"?{query}" if query else "")
        response: httpx.Response | None = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._client.request(
                    method, path, params=params, content=content, files=files, headers=headers
                )
            except _RETRY_ERRORS as exc:
                if attempt + 1 < attempts:
                    continue
                raise KestraApiError(
                    f"{what}: cannot reach the Kestra server ({_describe(exc)}); check the "
                    f"server URL and that the server is running{tls_hint(exc)}"
                ) from exc
            except httpx.TimeoutException as exc:
                raise KestraApiError(
                    f"{what}: the Kestra server did not answer within {self.read_timeout:g} s "
                    f"({_describe(exc)}); raise the read timeout if it is just slow"
                ) from exc
            except httpx.HTTPError as exc:
                raise KestraApiError(f"{what}: request failed ({_describe(exc)})") from exc
            if response.status_code not in _RETRY_STATUSES or attempt + 1 == attempts:
                break
        assert response is not None
        if response.status_code >= 400 and response.status_code not in allow:
            raise self.error(response, what)
        return response

    def error(self, response: httpx.Response, what: str) -> KestraApiError:
        """Our error for an error ``response`` to ``what`` (``METHOD URL``)."""
        status = response.status_code
        message = api_message(response)
        text = f"{what}: Kestra answered {status} {response.reason_phrase}"
        text += f": {message}" if message else ""
        if status in (401, 403):
            return KestraAuthError(f"{text}; {AUTH_HINT}", status_code=status)
        if status == 404:
            text += " (check the server URL, and the tenant: servers before 0.23 have none)"
        return KestraApiError(text, status_code=status)

    def _json(self, method: str, path: str, *, allow: Collection[int] = (), **kw: Any) -> Any:
        """The JSON body of a request's answer; None when its status is in ``allow``."""
        response = self.send(method, path, allow=allow, **kw)
        return None if response.status_code in allow else self._read_json(response, path)

    def _read_json(self, response: httpx.Response, path: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise self._unexpected(path, "a JSON body") from exc

    def flow(self, data: Any, path: str, source: str | None = None) -> FlowRecord:
        """A FlowRecord from a Flow / FlowWithSource object (``source`` when it has none)."""
        if not _is_flow(data) or not isinstance(data.get("revision"), int):
            raise self._unexpected(path, "a flow with id, namespace and revision")
        text = data.get("source")
        return FlowRecord(
            data["namespace"],
            data["id"],
            data["revision"],
            text if isinstance(text, str) else source or "",
            timestamp(data.get("updated")),
            bool(data.get("deleted", False)),
            data.get("draft") is True,
        )

    def _unexpected(self, path: str, expected: str) -> KestraApiError:
        return KestraApiError(
            f"{self.where(path)}: unexpected answer from the Kestra server (expected "
            f"{expected}); is the URL a Kestra server of a supported version?"
        )


def _segment(value: str) -> str:
    """``value`` as one path segment (tenant, namespace, flow id), percent-encoded."""
    return quote(value, safe="")


def _flow_path(namespace: str, flow_id: str) -> str:
    return f"/flows/{_segment(namespace)}/{_segment(flow_id)}"


def _files_path(namespace: str) -> str:
    return f"/namespaces/{_segment(namespace)}/files"


def _scope(namespace: str) -> Params:
    """The namespace filter in both forms, flat (before 1.x) and ``filters[...]`` (1.x+); both
    mean "the namespace and its children"."""
    return [("namespace", namespace), ("filters[namespace][PREFIX]", namespace)]


def _is_flow(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("id"), str)
        and isinstance(item.get("namespace"), str)
    )


def _describe(exc: httpx.HTTPError) -> str:
    """The httpx exception as ``Type: message`` (httpx messages hold no credentials)."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
