"""Dashboards on a Kestra server: ``/api/v1/{tenant}/dashboards``.

Kestra's dashboards are tenant-wide YAML documents keyed by their ``id``: ``GET dashboards``
(paged search, without sources), ``GET dashboards/{id}`` (with ``sourceCode``), ``POST
dashboards`` (YAML body: create, or replace the one with that id), ``DELETE dashboards/{id}``.
:class:`~.kestra.KestraInstance` delegates to these functions (and wraps writes in its batch).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from ..errors import KestraApiError
from .base import DashboardRecord
from .kestra_http import KestraApi, timestamp

__all__ = ["delete_dashboard", "get_dashboard", "list_dashboards", "put_dashboard"]

_PAGE = 200
_YAML = {"Content-Type": "application/x-yaml"}


def _unexpected(api: KestraApi, path: str, expected: str) -> KestraApiError:
    return KestraApiError(
        f"{api.where(path)}: unexpected answer from the Kestra server (expected {expected})"
    )


def _body(api: KestraApi, response: httpx.Response, path: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise _unexpected(api, path, "a JSON body") from exc


def _record(api: KestraApi, data: Any, path: str) -> DashboardRecord:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise _unexpected(api, path, "a dashboard with id and sourceCode")
    revision = data.get("revision")
    return DashboardRecord(
        data["id"],
        revision if isinstance(revision, int) else 1,
        str(data.get("sourceCode") or ""),
        timestamp(data.get("updated")),
    )


def get_dashboard(api: KestraApi, dashboard_id: str) -> DashboardRecord | None:
    """The dashboard with its source, or None (404)."""
    path = f"/dashboards/{quote(dashboard_id, safe='')}"
    response = api.send("GET", path, allow=(404,))
    if response.status_code == 404:
        return None
    return _record(api, _body(api, response, path), path)


def list_dashboards(api: KestraApi) -> list[DashboardRecord]:
    """Every dashboard (pages of 200), each read for its source, sorted by id."""
    ids: list[str] = []
    page = 1
    while True:
        response = api.send("GET", "/dashboards", params=[("page", page), ("size", _PAGE)])
        data = _body(api, response, "/dashboards")
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise _unexpected(api, "/dashboards", "a page of results")
        ids += [str(item["id"]) for item in results if isinstance(item, dict) and "id" in item]
        if len(results) < _PAGE:
            break
        page += 1
    records = [get_dashboard(api, dashboard_id) for dashboard_id in sorted(set(ids))]
    return [record for record in records if record is not None]


def put_dashboard(api: KestraApi, source: str) -> DashboardRecord:
    """Create or replace (``POST``) the dashboard ``source`` declares."""
    response = api.send("POST", "/dashboards", content=source.encode("utf-8"), headers=_YAML)
    return _record(api, _body(api, response, "/dashboards"), "/dashboards")


def delete_dashboard(api: KestraApi, dashboard_id: str) -> bool:
    """``DELETE``; False when the server has no such dashboard."""
    path = f"/dashboards/{quote(dashboard_id, safe='')}"
    return api.send("DELETE", path, allow=(404,)).status_code != 404
