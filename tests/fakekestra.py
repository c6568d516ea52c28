"""A stateful fake Kestra server for tests, served by pytest-httpserver.

It keeps flows (every revision) and namespace files (every revision) in memory and answers the
REST API the way Kestra does (``reference/kestra-core.md`` section 2), so tests assert the state
left behind, not the calls made::

    fake = FakeKestra().install(httpserver)       # tenant "main", Basic admin@kestra.io / Admin1234
    with KestraInstance(fake.url, username=fake.username, password=fake.password) as instance:
        instance.put_flow("id: a\\nnamespace: dev\\ntasks: ...")
    assert fake.live_flows() == {("dev", "a"): "id: a\\n..."}
    assert fake.count("POST", "/flows") == 1

What it serves, under ``/api/v1/main`` (or ``/api/v1`` with ``tenant=None``, Kestra before 0.23;
with a tenant, ``/api/v1/<route>`` is aliased to ``main`` as OSS 0.23+ does, and another tenant
gets 400 ``Tenant must be 'main' for OSS version``):

* flows: ``GET flows/search`` (``namespace=`` and ``filters[namespace][OP]=``, paged),
  ``GET flows/export/by-query`` (zip of ``<namespace>-<id>.yml``), ``GET
  flows/distinct-namespaces``, ``POST flows/validate`` (body split on ``\\n+---``, one
  ``{index, constraints, ...}`` per flow, constraints null when valid), ``POST flows``
  (``application/x-yaml``; 422 when it exists or is invalid), ``GET|PUT|DELETE
  flows/{ns}/{id}`` (PUT: 404 when absent, identical source keeps the revision; DELETE writes a
  deleted revision, 204), ``GET flows/{ns}/{id}/revisions`` (``allowDelete``), ``GET
  flows/{ns}`` (exact namespace);
* namespace files: ``GET|POST|DELETE namespaces/{ns}/files`` (multipart part ``fileContent``;
  a ``.zip`` upload is extracted at the root; ``/_flows/<name>.yml`` imports a flow),
  ``GET|POST files/directory``, ``GET files/revisions``, ``GET files/stats``; deleting the last
  file of a directory removes the directories left empty;
* 401 (``WWW-Authenticate: Basic realm=Kestra``) without valid credentials: Basic
  ``username``/``password`` and, when ``api_token`` is set, ``Authorization: Bearer``;
* errors as Micronaut ``JsonError`` bodies (``message``, ``_embedded.errors[].message``).

Flows are judged with :func:`kestra_git_tasks.flow.validate_source`. Counters and failure
injection: :attr:`requests`, :meth:`count`, :meth:`reset`, :meth:`fail_write`,
:meth:`fail_requests`, :attr:`delay`. Taken from Kestra's controllers where the reference is
silent: ``flows/{ns}/{id}/revisions`` hides deleted revisions unless ``allowDelete=true``; PUT and
DELETE of a missing flow answer 404 without a body. Guesses: deleting a missing file answers 200;
every upload makes a new file revision, even of identical content; a 401 has no body.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from kestra_git_tasks.errors import FlowFileError
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.yamlio import load_yaml

__all__ = ["DEFAULT_PASSWORD", "DEFAULT_USERNAME", "FakeKestra", "FileRevision", "FlowRevision"]

DEFAULT_USERNAME = "admin@kestra.io"
DEFAULT_PASSWORD = "Admin1234"
_NS = r"(?P<namespace>[^/]+)"
_FLOW = rf"/flows/{_NS}/(?P<flow_id>[^/]+)"
_FILES = rf"/namespaces/{_NS}/files"
# (method, path regex, handler name, is a write)
_ROUTES: list[tuple[str, str, str, bool]] = [
    ("GET", r"/flows/search", "search", False),
    ("GET", r"/flows/distinct-namespaces", "distinct_namespaces", False),
    ("GET", r"/flows/export/by-query", "export", False),
    ("POST", r"/flows/validate", "validate", False),
    ("POST", r"/flows", "create_flow", True),
    ("GET", _FLOW + "/revisions", "flow_revisions", False),
    ("GET", _FLOW, "get_flow", False),
    ("PUT", _FLOW, "update_flow", True),
    ("DELETE", _FLOW, "delete_flow", True),
    ("GET", rf"/flows/{_NS}", "namespace_flows", False),
    ("GET", _FILES + "/directory", "list_directory", False),
    ("POST", _FILES + "/directory", "create_directory", True),
    ("GET", _FILES + "/revisions", "file_revisions", False),
    ("GET", _FILES + "/stats", "file_stats", False),
    ("GET", _FILES, "get_file", False),
    ("POST", _FILES, "upload_file", True),
    ("DELETE", _FILES, "delete_file", True),
    ("GET", r"/dashboards", "search_dashboards", False),
    ("POST", r"/dashboards", "save_dashboard", True),
    ("GET", r"/dashboards/(?P<dashboard_id>[^/]+)", "get_dashboard", False),
    ("DELETE", r"/dashboards/(?P<dashboard_id>[^/]+)", "delete_dashboard", True),
]


class _HttpError(Exception):
    def __init__(self, status: int, message: str = "", errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors


@dataclass(frozen=True)
class FlowRevision:
    """One stored revision of a flow (``deleted`` revisions keep the last source)."""

    namespace: str
    id: str
    revision: int
    source: str
    deleted: bool = False
    draft: bool = False

    @cached_property
    def model(self) -> dict[str, Any]:
        try:
            document = load_yaml(self.source, "")
        except FlowFileError:
            return {}
        return dict(document) if isinstance(document, dict) else {}

    def to_json(self, *, source: bool = True) -> dict[str, Any]:
        """The Flow (``source=False``) or FlowWithSource JSON object Kestra returns."""
        data = {k: v for k, v in self.model.items() if k not in ("revision", "deleted", "source")}
        data.update(id=self.id, namespace=self.namespace, revision=self.revision)
        data["deleted"] = self.deleted
        if self.draft:
            data["draft"] = True
        if source:
            data["source"] = self.source
        return data


@dataclass(frozen=True)
class FileRevision:
    """One stored revision of a namespace file; ``content`` is None for a deletion."""

    revision: int
    content: bytes | None
    created: int = field(default_factory=lambda: int(time.time() * 1000))


@dataclass
class _Failure:
    remaining: int
    status: int
    method: str | None
    path_contains: str | None


class FakeKestra:
    """In-memory Kestra flows and namespace files behind its REST API (see the module doc)."""

    def __init__(
        self,
        *,
        tenant: str | None = "main",
        username: str | None = DEFAULT_USERNAME,
        password: str | None = DEFAULT_PASSWORD,
        api_token: str | None = None,
        alias_tenant: bool = True,
    ) -> None:
        self.tenant, self.alias_tenant = tenant, alias_tenant
        self.username, self.password, self.api_token = username, password, api_token
        self.url = ""
        #: (namespace, id) -> every revision, oldest first.
        self.flows: dict[tuple[str, str], list[FlowRevision]] = {}
        #: (namespace, path) -> every revision of the file, oldest first.
        self.file_revisions: dict[tuple[str, str], list[FileRevision]] = {}
        #: dashboard id -> (revision, source) of every live dashboard.
        self.dashboards: dict[str, tuple[int, str]] = {}
        #: Directories created explicitly (others exist because files are in them).
        self.directories: set[tuple[str, str]] = set()
        #: (method, path) of every request received, in order.
        self.requests: list[tuple[str, str]] = []
        #: Seconds to wait before answering each request (timeout tests).
        self.delay = 0.0
        self._lock = threading.RLock()
        self._writes = 0
        self._write_failures: dict[int, int] = {}
        self._failures: list[_Failure] = []
        self._routes = [(m, re.compile(p), getattr(self, f"_{h}"), w) for m, p, h, w in _ROUTES]

    def install(self, httpserver: HTTPServer) -> FakeKestra:
        """Serve every ``/api/`` request of ``httpserver``; sets :attr:`url`."""
        httpserver.expect_request(re.compile(r"^/api/")).respond_with_handler(self.handle)
        self.url = httpserver.url_for("/").rstrip("/")
        return self

    # -- state for assertions, and seeding without HTTP ---------------------------------------
    def live_flows(self) -> dict[tuple[str, str], str]:
        """(namespace, id) -> source of every flow whose latest revision is not deleted."""
        return {key: revs[-1].source for key, revs in self.flows.items() if not revs[-1].deleted}

    @property
    def files(self) -> dict[tuple[str, str], bytes]:
        """(namespace, path) -> content of every file that exists."""
        return {
            key: revs[-1].content
            for key, revs in self.file_revisions.items()
            if revs[-1].content is not None
        }

    def add_flow(self, source: str, *, draft: bool = False) -> FlowRevision:
        """Store ``source`` as Kestra's create/update would (not validated, not counted);
        ``draft``: as Kestra's "save as draft" does."""
        with self._lock:
            identity = _identity(source)
            assert identity is not None, "a seeded flow needs an id and a namespace"
            saved = self._save(*identity, source)
            if draft:
                saved = dataclasses.replace(saved, draft=True)
                self.flows[identity][-1] = saved
            return saved

    def add_file(self, namespace: str, path: str, content: bytes) -> None:
        """Store a file as an upload would (not counted)."""
        with self._lock:
            self._put_file(namespace, path, content)

    # -- counters and failure injection -------------------------------------------------------
    def count(self, method: str | None = None, path_contains: str | None = None) -> int:
        """How many requests were received, optionally of one method / with a path part."""
        return sum(
            1
            for m, path in self.requests
            if (method is None or m == method) and (path_contains is None or path_contains in path)
        )

    def reset(self) -> None:
        """Forget the requests received so far (state and injected failures stay)."""
        with self._lock:
            self.requests.clear()

    def fail_write(self, n: int = 1, status: int = 500) -> None:
        """Make the ``n``-th write request from now (POST/PUT/DELETE of a flow, a file or a
        directory) answer ``status`` without changing anything."""
        with self._lock:
            self._write_failures[self._writes + n] = status

    def fail_requests(
        self,
        times: int,
        status: int = 503,
        *,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Make the next ``times`` matching requests answer ``status`` (changing nothing)."""
        with self._lock:
            self._failures.append(_Failure(times, status, method, path_contains))

    # -- dispatch ------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        """The pytest-httpserver handler."""
        with self._lock:
            self.requests.append((request.method, request.path))
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            try:
                return self._dispatch(request)
            except _HttpError as error:
                if not error.message:
                    return Response(status=error.status)
                return _json_error(error.status, error.message, request.path, error.errors)

    def _dispatch(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response(status=401, headers={"WWW-Authenticate": "Basic realm=Kestra"})
        route = self._resolve(request)
        handler, params, write = route
        for failure in self._failures:
            if (
                failure.remaining
                and (failure.method in (None, request.method))
                and (failure.path_contains is None or failure.path_contains in request.path)
            ):
                failure.remaining -= 1
                raise _HttpError(failure.status, f"injected failure {failure.status}")
        if write:
            self._writes += 1
            status = self._write_failures.pop(self._writes, None)
            if status is not None:
                raise _HttpError(
                    status, f"Internal Server Error: injected failure of write {self._writes}"
                )
        return handler(request, **params)

    def _resolve(self, request: Request) -> tuple[Callable[..., Response], dict[str, str], bool]:
        match = re.fullmatch(r"/api/v1(/.*)?", request.path)
        rest = (match.group(1) or "") if match else None
        if rest is None:
            raise _HttpError(404, "Not Found", ["Page Not Found"])
        if self.tenant is not None:
            prefix = f"/{self.tenant}/"
            if rest.startswith(prefix):
                rest = rest[len(prefix) - 1 :]
            elif not (self.alias_tenant and self._routed(rest)):  # TenantAliasingRooter
                other = "/" + rest[1:].partition("/")[2]
                if self._routed(other):
                    raise _HttpError(400, "Tenant must be 'main' for OSS version")
                raise _HttpError(404, "Not Found", ["Page Not Found"])
        allowed = False
        for method, pattern, handler, write in self._routes:
            found = pattern.fullmatch(rest)
            if found:
                allowed = True
                if method == request.method:
                    return handler, found.groupdict(), write
        if allowed:
            raise _HttpError(405, "Method Not Allowed")
        raise _HttpError(404, "Not Found", ["Page Not Found"])

    def _routed(self, path: str) -> bool:
        return any(pattern.fullmatch(path) for _, pattern, _, _ in self._routes)

    def _authorized(self, request: Request) -> bool:
        if self.username is None and self.api_token is None:
            return True
        header = request.headers.get("Authorization", "")
        if self.api_token is not None and header == f"Bearer {self.api_token}":
            return True
        auth = request.authorization
        return (
            self.username is not None
            and auth is not None
            and auth.type == "basic"
            and auth.username == self.username
            and auth.password == self.password
        )

    # -- flows ---------------------------------------------------------------------------------
    def _latest(self, namespace: str, flow_id: str) -> FlowRevision | None:
        revisions = self.flows.get((namespace, flow_id))
        return revisions[-1] if revisions else None

    def _live(self) -> list[FlowRevision]:
        return sorted(
            (revs[-1] for revs in self.flows.values() if not revs[-1].deleted),
            key=lambda f: (f.namespace, f.id),
        )

    def _save(self, namespace: str, flow_id: str, source: str) -> FlowRevision:
        """Kestra's repository save: identical live source keeps its revision, else +1."""
        latest = self._latest(namespace, flow_id)
        if latest is not None and not latest.deleted and latest.source == source:
            return latest
        revision = FlowRevision(namespace, flow_id, latest.revision + 1 if latest else 1, source)
        self.flows.setdefault((namespace, flow_id), []).append(revision)
        return revision

    def _filtered(self, request: Request) -> list[FlowRevision]:
        """Live flows matching the ``namespace`` / ``filters[namespace][OP]`` parameters."""
        tests: list[Callable[[str], bool]] = []
        for key, value in request.args.items(multi=True):
            op = "PREFIX" if key == "namespace" else None
            found = re.fullmatch(r"filters\[namespace\]\[([A-Z_]+)\]", key)
            op = found.group(1) if found else op
            if op is None:
                continue
            tests.append(_namespace_test(op, value))
        return [flow for flow in self._live() if all(test(flow.namespace) for test in tests)]

    def _search(self, request: Request) -> Response:
        try:
            page, size = int(request.args.get("page", 1)), int(request.args.get("size", 10))
        except ValueError as exc:
            raise _HttpError(400, f"Bad Request: {exc}") from exc
        if page < 1 or size < 1:
            raise _HttpError(422, "Invalid entity: page and size must be at least 1")
        flows = self._filtered(request)
        chosen = flows[(page - 1) * size : page * size]
        return _json({"results": [f.to_json(source=False) for f in chosen], "total": len(flows)})

    def _distinct_namespaces(self, request: Request) -> Response:
        query = request.args.get("q") or ""
        return _json(sorted({f.namespace for f in self._live() if query in f.namespace}))

    def _export(self, request: Request) -> Response:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for flow in self._filtered(request):
                archive.writestr(f"{flow.namespace}-{flow.id}.yml", flow.source)
        headers = {"Content-Disposition": 'attachment; filename="flows.zip"'}
        return Response(buffer.getvalue(), mimetype="application/octet-stream", headers=headers)

    def _validate(self, request: Request) -> Response:
        results: list[dict[str, Any]] = []
        for index, piece in enumerate(_java_split(request.get_data(as_text=True).strip())):
            problems = validate_source(piece)
            identity = _identity(piece)
            results.append(
                {
                    "index": index,
                    "flow": identity[1] if identity else None,
                    "namespace": identity[0] if identity else None,
                    "constraints": "\n".join(problems) or None,
                    "outdated": False,
                    "deprecationPaths": [],
                    "warnings": [],
                    "infos": [],
                }
            )
        return _json(results)

    def _checked_source(self, request: Request) -> tuple[str, str, str]:
        if request.mimetype != "application/x-yaml":
            raise _HttpError(415, f"Unsupported Media Type: {request.mimetype}")
        source = request.get_data(as_text=True)
        problems = validate_source(source)
        identity = _identity(source)
        if problems or identity is None:
            problems = problems or ["id: must not be null"]
            raise _HttpError(422, "Invalid entity: " + ", ".join(problems), problems)
        return identity[0], identity[1], source

    def _create_flow(self, request: Request) -> Response:
        namespace, flow_id, source = self._checked_source(request)
        latest = self._latest(namespace, flow_id)
        if latest is not None and not latest.deleted:
            message = "flow.id: Flow id already exists"
            raise _HttpError(422, f"Invalid entity: {message}", [message])
        return _json(self._save(namespace, flow_id, source).to_json())

    def _update_flow(self, request: Request, namespace: str, flow_id: str) -> Response:
        latest = self._latest(namespace, flow_id)
        if latest is None or latest.deleted:
            raise _HttpError(404)  # HttpResponse.status(NOT_FOUND): no body
        new_namespace, new_id, source = self._checked_source(request)
        for problem, wrong in (
            ("flow.id: Illegal flow id update", new_id != flow_id),
            ("flow.namespace: Illegal namespace update", new_namespace != namespace),
        ):
            if wrong:
                raise _HttpError(422, f"Invalid entity: {problem}", [problem])
        return _json(self._save(namespace, flow_id, source).to_json())

    def _delete_flow(self, request: Request, namespace: str, flow_id: str) -> Response:
        latest = self._latest(namespace, flow_id)
        if latest is None or latest.deleted:
            raise _HttpError(404)
        deleted = FlowRevision(namespace, flow_id, latest.revision + 1, latest.source, True)
        self.flows[(namespace, flow_id)].append(deleted)
        return Response(status=204)

    def _get_flow(self, request: Request, namespace: str, flow_id: str) -> Response:
        revisions = self.flows.get((namespace, flow_id), [])
        wanted = request.args.get("revision", type=int)
        chosen = [r for r in revisions if r.revision == wanted] if wanted else revisions[-1:]
        allow_deleted = request.args.get("allowDeleted") == "true"
        if not chosen or (chosen[0].deleted and not allow_deleted):
            raise _HttpError(404, "Not Found", ["Page Not Found"])  # the controller's null
        return _json(chosen[0].to_json(source=request.args.get("source") == "true"))

    def _flow_revisions(self, request: Request, namespace: str, flow_id: str) -> Response:
        allow_delete = request.args.get("allowDelete") == "true"
        revisions = self.flows.get((namespace, flow_id), [])
        return _json([r.to_json() for r in revisions if allow_delete or not r.deleted])

    def _namespace_flows(self, request: Request, namespace: str) -> Response:
        return _json([f.to_json(source=False) for f in self._live() if f.namespace == namespace])

    # -- dashboards: tenant-wide YAML keyed by id; POST creates or replaces ------------------
    def _search_dashboards(self, request: Request) -> Response:
        page = request.args.get("page", 1, type=int)
        size = request.args.get("size", 10, type=int)
        ids = sorted(self.dashboards)
        chosen = ids[(page - 1) * size : page * size]
        results = [{"id": key, "title": key, "revision": self.dashboards[key][0]} for key in chosen]
        return _json({"results": results, "total": len(ids)})

    def _dashboard_json(self, key: str) -> dict[str, Any]:
        revision, source = self.dashboards[key]
        return {"id": key, "title": key, "revision": revision, "sourceCode": source}

    def _save_dashboard(self, request: Request) -> Response:
        if request.mimetype != "application/x-yaml":
            raise _HttpError(415, f"Unsupported Media Type: {request.mimetype}")
        source = request.get_data(as_text=True)
        try:
            document = load_yaml(source, "")
        except FlowFileError as exc:
            raise _HttpError(422, f"Invalid entity: {exc}", [str(exc)]) from None
        key = document.get("id") if isinstance(document, dict) else None
        if not isinstance(key, str) or not key:
            raise _HttpError(422, "Invalid entity: id: must not be null", ["id: must not be null"])
        revision, previous = self.dashboards.get(key, (0, None))
        if previous != source:
            self.dashboards[key] = (revision + 1, source)
        return _json(self._dashboard_json(key))

    def _get_dashboard(self, request: Request, dashboard_id: str) -> Response:
        if dashboard_id not in self.dashboards:
            raise _HttpError(404, "Not Found", ["Page Not Found"])
        return _json(self._dashboard_json(dashboard_id))

    def _delete_dashboard(self, request: Request, dashboard_id: str) -> Response:
        if self.dashboards.pop(dashboard_id, None) is None:
            raise _HttpError(404, "Not Found", ["Page Not Found"])
        return Response(status=204)

    # -- namespace files -----------------------------------------------------------------------
    def _content(self, namespace: str, path: str) -> bytes | None:
        revisions = self.file_revisions.get((namespace, path))
        return revisions[-1].content if revisions else None

    def _put_file(self, namespace: str, path: str, content: bytes | None) -> None:
        revisions = self.file_revisions.setdefault((namespace, path), [])
        revisions.append(FileRevision(len(revisions) + 1, content))

    def _is_dir(self, namespace: str, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return (
            path == "/"
            or (namespace, path) in self.directories
            or any(ns == namespace and p.startswith(prefix) for ns, p in self.files)
            or any(ns == namespace and p.startswith(prefix) for ns, p in self.directories)
        )

    def _children(self, namespace: str, directory: str) -> dict[str, str]:
        """name -> "File" / "Directory" of the directory's direct children."""
        prefix = directory.rstrip("/") + "/"
        children: dict[str, str] = {}
        for paths, is_file in ((self.files, True), (self.directories, False)):
            for ns, path in paths:
                if ns == namespace and path.startswith(prefix) and path != prefix:
                    name, _, deeper = path[len(prefix) :].partition("/")
                    children[name] = "File" if is_file and not deeper else "Directory"
        return children

    def _attributes(self, namespace: str, path: str, name: str, kind: str) -> dict[str, Any]:
        revisions = self.file_revisions.get((namespace, path), [])
        content = self._content(namespace, path) if kind == "File" else None
        return {
            "fileName": name,
            "lastModifiedTime": revisions[-1].created if revisions else 0,
            "creationTime": revisions[0].created if revisions else 0,
            "type": kind,
            "size": len(content) if content is not None else 0,
            "metadata": {},
        }

    def _list_directory(self, request: Request, namespace: str) -> Response:
        directory = _optional_path(request) or "/"
        if directory == "/":
            self.directories.add((namespace, "/"))  # the root is created on demand
        elif not self._is_dir(namespace, directory):
            raise _HttpError(404, f"Directory not found: {directory}")
        children = self._children(namespace, directory)
        base = directory.rstrip("/")
        return _json(
            [
                self._attributes(namespace, f"{base}/{name}", name, kind)
                for name, kind in sorted(children.items())
            ]
        )

    def _create_directory(self, request: Request, namespace: str) -> Response:
        self.directories.add((namespace, _optional_path(request) or "/"))
        return Response(status=200)

    def _file_revisions(self, request: Request, namespace: str) -> Response:
        path = _file_path(request)
        revisions = self.file_revisions.get((namespace, path), [])
        if not revisions or revisions[-1].content is None:
            raise _HttpError(404, f"File not found: {path}")
        return _json([{"revision": r.revision} for r in revisions])

    def _file_stats(self, request: Request, namespace: str) -> Response:
        path = _optional_path(request) or "/"
        if self._content(namespace, path) is not None:
            kind = "File"
        elif self._is_dir(namespace, path):
            kind = "Directory"
        else:
            raise _HttpError(404, f"File not found: {path}")
        return _json(self._attributes(namespace, path, path.rsplit("/", 1)[-1], kind))

    def _get_file(self, request: Request, namespace: str) -> Response:
        path = _file_path(request)
        revisions = self.file_revisions.get((namespace, path), [])
        wanted = request.args.get("revision", type=int)
        chosen = [r for r in revisions if r.revision == wanted] if wanted else revisions[-1:]
        if not chosen or chosen[0].content is None:
            raise _HttpError(404, f"File not found: {path}")
        return Response(chosen[0].content, mimetype="application/octet-stream")

    def _upload_file(self, request: Request, namespace: str) -> Response:
        path = _file_path(request, guard=False)
        upload = request.files.get("fileContent")
        if upload is None:
            raise _HttpError(
                400, "Required argument [CompletedFileUpload fileContent] not specified"
            )
        content = upload.read()
        if (upload.filename or "").lower().endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                for entry in archive.infolist():
                    if not entry.is_dir():
                        self._put_file(namespace, "/" + entry.filename, archive.read(entry))
            return Response(status=200)
        if re.fullmatch(r"/_flows/.*", path):  # importing a flow
            if len(path.split("/")) != 3:
                raise _HttpError(422, f"Illegal argument: Invalid flow file path: {path}")
            source = re.sub(
                r"(?m)^namespace: .*$", f"namespace: {namespace}", content.decode(), count=1
            )
            problems = validate_source(source)
            identity = _identity(source)
            if problems or identity is None:
                raise _HttpError(422, "Invalid entity: " + ", ".join(problems), problems)
            self._save(*identity, source)
            return Response(status=200)
        _guard(path)
        if any(len(part) > 255 for part in path.split("/")):
            message = "A file or folder name exceeds the maximum length of 255 characters."
            raise _HttpError(422, f"Illegal argument: {message}")
        self._put_file(namespace, path, content)
        return Response(status=200)

    def _delete_file(self, request: Request, namespace: str) -> Response:
        path = _file_path(request)
        prefix = path.rstrip("/") + "/"
        for ns, file in list(self.files):
            if ns == namespace and (file == path or file.startswith(prefix)):
                self._put_file(ns, file, None)
        self.directories -= {
            (ns, d)
            for ns, d in self.directories
            if ns == namespace and (d == path or d.startswith(prefix))
        }
        parent = path.rsplit("/", 1)[0]
        while parent and not self._children(namespace, parent):  # no empty "zombie" folders
            self.directories.discard((namespace, parent))
            parent = parent.rsplit("/", 1)[0]
        return Response(status=200)


def _identity(source: str) -> tuple[str, str] | None:
    try:
        document = load_yaml(source, "")
    except FlowFileError:
        return None
    if not isinstance(document, dict):
        return None
    namespace, flow_id = document.get("namespace"), document.get("id")
    if isinstance(namespace, str) and isinstance(flow_id, str):
        return namespace, flow_id
    return None


def _namespace_test(op: str, value: str) -> Callable[[str], bool]:
    """The jdbc repository's namespace conditions (PREFIX: ``= X OR ILIKE 'X.%'``)."""
    tests: dict[str, Callable[[str], bool]] = {
        "PREFIX": lambda ns: ns == value or ns.lower().startswith(value.lower() + "."),
        "EQUALS": lambda ns: ns == value,
        "NOT_EQUALS": lambda ns: ns != value,
        "STARTS_WITH": lambda ns: ns.startswith(value),
        "ENDS_WITH": lambda ns: ns.endswith(value),
        "CONTAINS": lambda ns: value in ns,
    }
    if op not in tests:
        raise _HttpError(400, f"Bad Request: unsupported operation {op} on field namespace")
    return tests[op]


def _java_split(body: str) -> list[str]:
    """``body.split("\\\\n+---\\\\n*?")`` as Java does it: trailing empty pieces dropped."""
    pieces = re.split(r"\n+---\n*?", body)
    while len(pieces) > 1 and pieces[-1] == "":
        pieces.pop()
    return pieces


def _file_path(request: Request, *, guard: bool = True) -> str:
    """The required ``path`` query value, with a leading ``/``."""
    path = _optional_path(request, guard=guard)
    if path is None:
        raise _HttpError(400, "Required QueryValue [path] not specified")
    return path


def _optional_path(request: Request, *, guard: bool = True) -> str | None:
    path = request.args.get("path")
    if not path:
        return None
    path = path if path.startswith("/") else "/" + path
    if guard:
        _guard(path)
    return path


def _guard(path: str) -> None:
    if re.fullmatch(r"/_flows(/.*)?", path):
        raise _HttpError(422, f"Illegal argument: Forbidden path: {path}")


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, default=str), status=status, mimetype="application/json")


def _json_error(status: int, message: str, path: str, errors: list[str] | None) -> Response:
    """A Micronaut JsonError body."""
    body = {
        "message": message,
        "_links": {"self": {"href": path, "templated": False}},
        "_embedded": {"errors": [{"message": m} for m in (errors or [message])]},
    }
    return _json(body, status)
