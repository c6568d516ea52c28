"""The HTTP application (starlette): health, Kestra's webhook URLs, Basic auth, body limits.

Routes: ``GET /health``; ``GET|POST|PUT /api/v1/[{tenant}/]executions/webhook/{namespace}/
{flowId}/{key}`` (Kestra's URLs, with and without the tenant segment), plus what
:mod:`.api` and :mod:`.page` add. With Basic auth configured every route needs it except the
keyed webhook URLs (Kestra's open URLs). An unknown flow and a wrong key answer the same 404 and
start nothing; a body over ``ServerConfig.max_body`` bytes is refused with 413.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import re

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .kestra_json import job_json
from .pool import Job, PoolClosedError
from .runtime import KestraGitServer
from .webhooks import github_signature_ok, match_webhook, trigger_variables, webhook_trigger

__all__ = ["create_app", "read_body", "wait_for"]

_OPEN_PATH = re.compile(r"^/api/v1/(?:[^/]+/)?executions/webhook/[^/]+/[^/]+/[^/]+/?$")
_NOT_FOUND = {"message": "Not Found: webhook not found"}


class BasicAuthMiddleware:
    """HTTP Basic on every path but the keyed webhooks; credentials compared in constant time."""

    def __init__(self, app: ASGIApp, user: str, password: str) -> None:
        self.app = app
        self._expected = f"{user}:{password}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _OPEN_PATH.match(scope["path"]) or self._ok(scope):
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"message": "Unauthorized"},
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="kestra-git", charset="UTF-8"'},
        )
        await response(scope, receive, send)

    def _ok(self, scope: Scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, value = header.partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            given = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self._expected)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (before reading it all)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise HTTPException(413, f"request body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _server(request: Request) -> KestraGitServer:
    server: KestraGitServer = request.app.state.server
    return server


async def health(request: Request) -> Response:
    server = _server(request)
    return JSONResponse(
        {
            "status": "UP",
            "flows": len(server.catalog.entries()),
            "active": len(server.pool.active()),
        }
    )


async def webhook(request: Request) -> Response:
    server = _server(request)
    params = request.path_params
    tenant = params.get("tenant", server.config.tenant)
    entry = server.catalog.get(params["namespace"], params["flow_id"])
    if tenant != server.config.tenant or entry is None:
        return JSONResponse(_NOT_FOUND, status_code=404)
    body = await read_body(request, server.config.max_body)
    matched = match_webhook(entry, params["key"], server.config)
    if matched is None:
        return JSONResponse(_NOT_FOUND, status_code=404)
    if entry.flow is None or entry.flow.disabled:
        why = "Cannot execute a disabled flow" if entry.flow else "Cannot execute an invalid flow"
        return JSONResponse({"message": why}, status_code=409)
    signature = request.headers.get("x-hub-signature-256")
    if not github_signature_ok(server.config, signature, body):
        return JSONResponse({"message": "X-Hub-Signature-256 does not match"}, status_code=403)
    trigger_id, hook = matched
    variables = trigger_variables(body, request.headers.items(), request.query_params.multi_items())
    try:
        job = server.pool.submit(
            entry.flow,
            trigger=webhook_trigger(trigger_id, variables),
            concurrency=entry.concurrency,
        )
    except PoolClosedError as exc:
        return JSONResponse({"message": str(exc)}, status_code=503)
    if not hook.wait:
        return JSONResponse(job_json(job, server.config.tenant))
    await wait_for(job)
    failed = job.state not in ("SUCCESS", "WARNING")
    if hook.return_outputs:
        outputs = job.record.outputs if job.record else {}
        if hook.response_content_type == "text/plain":
            return PlainTextResponse(str(outputs), status_code=500 if failed else 200)
        return JSONResponse(outputs, status_code=500 if failed else 200)
    return JSONResponse(job_json(job, server.config.tenant), status_code=500 if failed else 200)


async def wait_for(job: Job) -> None:
    """Wait, without blocking the event loop, until ``job`` has ended."""
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()

    def settle() -> None:
        if not ended.done():
            ended.set_result(None)

    def wake(_job: Job) -> None:
        loop.call_soon_threadsafe(settle)

    job.on_done(wake)
    await ended


def _webhook_routes() -> list[Route]:
    tail = "executions/webhook/{namespace}/{flow_id}/{key}"
    methods = ["GET", "POST", "PUT"]
    return [
        Route(f"/api/v1/{tail}", webhook, methods=methods),
        Route(f"/api/v1/{{tenant}}/{tail}", webhook, methods=methods),
    ]


def create_app(server: KestraGitServer) -> ASGIApp:
    """The ASGI application serving ``server``."""
    from .api import api_routes
    from .page import page_routes

    routes = [Route("/health", health), *_webhook_routes(), *api_routes(), *page_routes()]
    app = Starlette(routes=routes)
    app.state.server = server
    if server.config.basic_auth is not None:
        user, password = server.config.basic_auth
        return BasicAuthMiddleware(app, user, password)
    return app
