"""A subset of Kestra's executions and flows API, over the server's instance.

Routes (each also without the ``{tenant}`` segment; another tenant than the server's is 404):

- ``POST /api/v1/{tenant}/executions/{namespace}/{flowId}``: start an execution; inputs are the
  form fields (multipart or urlencoded), checked by type before anything runs (422 with the
  problem); ``?wait=true`` answers once it has ended. Returns the execution.
- ``GET /api/v1/{tenant}/executions/{id}``: one execution (queued, running or recorded).
- ``GET /api/v1/{tenant}/executions/search``: ``namespace``, ``flowId``, ``state``, ``page``,
  ``size``; newest first, as ``{"results": [...], "total": n}``.
- ``GET /api/v1/{tenant}/flows/search``: ``namespace`` (and its children), ``q`` (in the id).

Database reads run in starlette's thread pool, each thread with its own connection.
"""

from __future__ import annotations

import threading
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import ConfigError, NotFoundError
from ..flow import validate_source
from ..instance.base import namespace_matches
from ..instance.local import LocalInstance
from .kestra_json import execution_json, flow_json, job_json
from .pool import PoolClosedError
from .runtime import KestraGitServer

__all__ = ["api_routes"]

_local = threading.local()
_NOT_FOUND = {"message": "Not Found"}


def _server(request: Request) -> KestraGitServer:
    server: KestraGitServer = request.app.state.server
    return server


def _instance(server: KestraGitServer) -> LocalInstance:
    instance: LocalInstance | None = getattr(_local, "instance", None)
    if instance is None or instance.home != server.config.home:
        instance = LocalInstance(server.config.home, validator=validate_source)
        _local.instance = instance
    return instance


def _tenant_ok(request: Request) -> bool:
    tenant: str = _server(request).config.tenant
    return str(request.path_params.get("tenant", tenant)) == tenant


def _int(request: Request, name: str, default: int, top: int) -> int:
    text = request.query_params.get(name, str(default))
    if not text.isdigit() or not 1 <= int(text) <= top:
        raise ConfigError(f"query parameter '{name}' must be an integer from 1 to {top}")
    return int(text)


async def start_execution(request: Request) -> Response:
    from ..runner import coerce_inputs
    from .app import read_body, wait_for

    server = _server(request)
    params = request.path_params
    entry = server.catalog.get(params["namespace"], params["flow_id"])
    if not _tenant_ok(request) or entry is None:
        return JSONResponse(_NOT_FOUND, status_code=404)
    if entry.flow is None or entry.flow.disabled:
        why = "Cannot execute a disabled flow" if entry.flow else "Cannot execute an invalid flow"
        return JSONResponse({"message": why}, status_code=409)
    request._body = await read_body(request, server.config.max_body)
    form = await request.form()
    inputs: dict[str, Any] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            return JSONResponse({"message": f"input '{name}': files are not supported"}, 422)
        inputs[name] = value
    try:
        coerce_inputs(entry.flow, inputs)
        job = server.pool.submit(
            entry.flow, inputs=inputs, trigger=None, concurrency=entry.concurrency
        )
    except PoolClosedError as exc:
        return JSONResponse({"message": str(exc)}, status_code=503)
    except ConfigError as exc:
        return JSONResponse({"message": str(exc)}, status_code=422)
    if request.query_params.get("wait", "").lower() == "true":
        await wait_for(job)
    return JSONResponse(job_json(job, server.config.tenant))


def get_execution(request: Request) -> Response:
    server = _server(request)
    execution_id = request.path_params["execution_id"]
    if not _tenant_ok(request):
        return JSONResponse(_NOT_FOUND, status_code=404)
    job = server.pool.get(execution_id)
    if job is not None:
        return JSONResponse(job_json(job, server.config.tenant))
    try:
        record = _instance(server).get_execution(execution_id)
    except NotFoundError:
        return JSONResponse(_NOT_FOUND, status_code=404)
    return JSONResponse(execution_json(record, server.config.tenant))


def search_executions(request: Request) -> Response:
    server = _server(request)
    if not _tenant_ok(request):
        return JSONResponse(_NOT_FOUND, status_code=404)
    query = request.query_params
    try:
        page, size = _int(request, "page", 1, 10_000), _int(request, "size", 25, 1000)
    except ConfigError as exc:
        return JSONResponse({"message": str(exc)}, status_code=400)
    namespace, flow_id, state = query.get("namespace"), query.get("flowId"), query.get("state")
    waiting = [
        job_json(job, server.config.tenant)
        for job in server.pool.active()
        if job.state in ("CREATED", "QUEUED")
        and (namespace is None or job.flow.namespace == namespace)
        and (flow_id is None or job.flow.id == flow_id)
    ]
    records = _instance(server).list_executions(namespace, flow_id, limit=page * size + 1000)
    rows = waiting + [execution_json(r, server.config.tenant) for r in records]
    if state is not None:
        rows = [row for row in rows if row["state"]["current"] == state.upper()]
    return JSONResponse({"results": rows[(page - 1) * size : page * size], "total": len(rows)})


def search_flows(request: Request) -> Response:
    server = _server(request)
    if not _tenant_ok(request):
        return JSONResponse(_NOT_FOUND, status_code=404)
    namespace, text = request.query_params.get("namespace"), request.query_params.get("q", "")
    rows = [
        flow_json(entry, server.config.tenant)
        for entry in server.catalog.entries()
        if (namespace is None or namespace_matches(entry.namespace, namespace, True))
        and text.lower() in entry.id.lower()
    ]
    return JSONResponse({"results": rows, "total": len(rows)})


def api_routes() -> list[Route]:
    routes: list[Route] = []
    for prefix in ("/api/v1", "/api/v1/{tenant}"):
        routes += [
            Route(f"{prefix}/executions/search", search_executions, methods=["GET"]),
            Route(f"{prefix}/flows/search", search_flows, methods=["GET"]),
            Route(f"{prefix}/executions/{{execution_id}}", get_execution, methods=["GET"]),
            Route(
                f"{prefix}/executions/{{namespace}}/{{flow_id}}", start_execution, methods=["POST"]
            ),
        ]
    return routes
