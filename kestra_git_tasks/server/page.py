"""The status page: ``GET /`` and ``GET /executions/{id}``, server-rendered with Jinja2.

No JavaScript: the pages refresh themselves (``<meta http-equiv="refresh">``). ``/`` lists the
flows with their triggers and when each schedule fires next, the recent executions (state,
duration, trigger) and the last commit each Git task synced or pushed; an execution's page has
its logs (masked when written) and the sync/push rows its tasks wrote. Every value is escaped;
no flow source, trigger body or header is shown.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import DictLoader, Environment, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ..errors import NotFoundError
from ..flow import validate_source
from ..instance.base import ExecutionRecord
from ..instance.local import LocalInstance
from ..triggers import Schedule
from .runtime import KestraGitServer

__all__ = ["page_routes"]

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_ROWS = 1000
_local = threading.local()

_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{{ refresh }}">
<title>{% block title %}kestra-git server{% endblock %}</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3} code{font-size:13px}
.SUCCESS{color:#17702b}.FAILED,.KILLED{color:#b00020}.WARNING{color:#9a6700}
.RUNNING,.CREATED,.QUEUED{color:#0b5cad}.CANCELLED{color:#666}
</style></head><body>
<p><a href="/">kestra-git server</a> &middot; {{ now }}</p>
{% block body %}{% endblock %}
</body></html>"""

_INDEX = """{% extends "base" %}{% block body %}
<h1>Flows</h1>
<table id="flows"><tr><th>Flow</th><th>Revision</th><th>Triggers</th><th>Next fire</th></tr>
{% for f in flows %}<tr><td>{{ f.uid }}{% if f.problem %} <b class="FAILED">invalid</b>{% endif %}
{% if f.disabled %} (disabled){% endif %}</td><td>{{ f.revision }}</td>
<td>{% for t in f.triggers %}<div>{{ t.id }}: {{ t.kind }}
{% if t.cron %} <code>{{ t.cron }}</code>{% endif %}</div>{% endfor %}</td>
<td>{% for t in f.triggers %}{% if t.next %}<div>{{ t.next }}</div>{% endif %}{% endfor %}</td></tr>
{% else %}<tr><td colspan="4">No flow in the instance yet.</td></tr>{% endfor %}
</table>
<h1>Git</h1>
<table id="git"><tr><th>Flow</th><th>Task</th><th>Last commit</th><th>Execution</th></tr>
{% for g in git %}<tr><td>{{ g.flow }}</td><td>{{ g.task }}</td><td><code>{{ g.commit }}</code></td>
<td><a href="/executions/{{ g.execution }}">{{ g.date }}</a></td></tr>
{% else %}<tr><td colspan="4">No Git task has run yet.</td></tr>{% endfor %}
</table>
<h1>Recent executions</h1>
<table id="executions"><tr><th>Execution</th><th>Flow</th><th>State</th><th>Started</th>
<th>Duration</th><th>Trigger</th></tr>
{% for e in executions %}<tr><td><a href="/executions/{{ e.id }}">{{ e.id }}</a></td>
<td>{{ e.flow }}</td><td class="{{ e.state }}">{{ e.state }}</td><td>{{ e.start }}</td>
<td>{{ e.duration }}</td><td>{{ e.trigger }}</td></tr>
{% else %}<tr><td colspan="6">No execution yet.</td></tr>{% endfor %}
</table>{% endblock %}"""

_EXECUTION = """{% extends "base" %}{% block title %}{{ e.id }}{% endblock %}{% block body %}
<h1>Execution {{ e.id }}</h1>
<table id="summary">
<tr><th>Flow</th><td>{{ e.flow }} (revision {{ e.revision }})</td></tr>
<tr><th>State</th><td class="{{ e.state }}">{{ e.state }}</td></tr>
<tr><th>Started</th><td>{{ e.start }}</td></tr><tr><th>Duration</th><td>{{ e.duration }}</td></tr>
<tr><th>Trigger</th><td>{{ e.trigger }}</td></tr>
{% if e.error %}<tr><th>Error</th><td><pre>{{ e.error }}</pre></td></tr>{% endif %}
</table>
<h2>Logs</h2>
<table id="logs"><tr><th>Time</th><th>Level</th><th>Task</th><th>Message</th></tr>
{% for log in logs %}<tr><td>{{ log.timestamp.strftime("%H:%M:%S") }}</td>
<td class="{{ 'FAILED' if log.level == 'ERROR' else '' }}">{{ log.level }}</td>
<td>{{ log.task_id or "" }}</td><td><pre>{{ log.message }}</pre></td></tr>
{% endfor %}</table>
{% for name, rows in row_files %}<h2>{{ name }}</h2>
<table class="rows"><tr>{% for k in rows.columns %}<th>{{ k }}</th>{% endfor %}</tr>
{% for row in rows.lines %}<tr>
{% for k in rows.columns %}<td>{{ row.get(k, "") }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endfor %}
{% endblock %}"""

_ENV = Environment(
    loader=DictLoader({"base": _BASE, "index": _INDEX, "execution": _EXECUTION}),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def _instance(server: KestraGitServer) -> LocalInstance:
    instance: LocalInstance | None = getattr(_local, "instance", None)
    if instance is None or instance.home != server.config.home:
        instance = LocalInstance(server.config.home, validator=validate_source)
        _local.instance = instance
    return instance


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def _summary(record: ExecutionRecord) -> dict[str, Any]:
    end = record.end_date
    duration = f"{(end - record.start_date).total_seconds():.1f} s" if end else "running"
    trigger = record.trigger or {}
    return {
        "id": record.id,
        "flow": f"{record.namespace}/{record.flow_id}",
        "revision": record.flow_revision,
        "state": record.state,
        "start": _when(record.start_date),
        "duration": duration,
        "trigger": trigger.get("id", "API / kestra-git run") if trigger else "API / kestra-git run",
        "error": record.error,
    }


def _flows(server: KestraGitServer, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for entry in server.catalog.entries():
        triggers = []
        for spec in entry.flow.triggers if entry.flow else []:
            kind = spec.type_name.rsplit(".", 1)[-1]
            schedule = dict(entry.schedules).get(spec.id)
            item: dict[str, Any] = {"id": spec.id, "kind": kind, "cron": None, "next": None}
            if spec.cls is Schedule:
                item["cron"] = spec.properties.get("cron")
            if schedule is not None and not (entry.flow and entry.flow.disabled):
                item["next"] = _when(server.scheduler.next_fire(entry, schedule, now))
            triggers.append(item)
        rows.append(
            {
                "uid": entry.uid,
                "revision": entry.revision,
                "problem": entry.problem,
                "disabled": bool(entry.flow and entry.flow.disabled),
                "triggers": triggers,
            }
        )
    return rows


def _git(records: list[ExecutionRecord]) -> list[dict[str, Any]]:
    """The last commit each Git task synced or pushed (from ``outputs.<task>.commitId``)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:  # newest first
        if record.state not in ("SUCCESS", "WARNING"):
            continue
        for task_id, output in record.outputs.items():
            commit = output.get("commitId") if isinstance(output, dict) else None
            key = (f"{record.namespace}/{record.flow_id}", task_id)
            if commit and key not in seen:
                seen[key] = {
                    "flow": key[0],
                    "task": task_id,
                    "commit": str(commit)[:12],
                    "execution": record.id,
                    "date": _when(record.end_date),
                }
    return sorted(seen.values(), key=lambda row: (row["flow"], row["task"]))


def index(request: Request) -> Response:
    server: KestraGitServer = request.app.state.server
    now = datetime.now(UTC)
    records = _instance(server).list_executions(limit=200)
    html = _ENV.get_template("index").render(
        refresh=5,
        now=_when(now),
        flows=_flows(server, now),
        git=_git(records),
        executions=[_summary(record) for record in records[:50]],
    )
    return HTMLResponse(html)


def _row_files(home: Path, execution_id: str) -> list[tuple[str, dict[str, Any]]]:
    folder = home / "executions" / execution_id
    found = []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        items: list[dict[str, Any]] = []
        with path.open(encoding="utf-8", errors="replace") as file:
            for line in file:
                if len(items) >= _MAX_ROWS:
                    break
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict):
                    items.append(row)
        keys = list(dict.fromkeys(key for row in items for key in row))
        found.append((path.stem, {"columns": keys, "lines": items}))
    return found


def execution_page(request: Request) -> Response:
    server: KestraGitServer = request.app.state.server
    execution_id = request.path_params["execution_id"]
    if not _ID.match(execution_id):
        return HTMLResponse("<p>No such execution.</p>", status_code=404)
    try:
        record = _instance(server).get_execution(execution_id)
    except NotFoundError:
        return HTMLResponse("<p>No such execution.</p>", status_code=404)
    html = _ENV.get_template("execution").render(
        refresh=3 if record.end_date is None else 30,
        now=_when(datetime.now(UTC)),
        e=_summary(record),
        logs=record.logs,
        row_files=_row_files(server.config.home, record.id),
    )
    return HTMLResponse(html)


def page_routes() -> list[Route]:
    return [
        Route("/", index, methods=["GET"]),
        Route("/executions/{execution_id}", execution_page, methods=["GET"]),
    ]
