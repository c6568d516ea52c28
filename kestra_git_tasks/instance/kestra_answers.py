"""What a Kestra server's answers say: error bodies, validation problems, timestamps.

Pure functions over httpx responses and decoded JSON, used by :mod:`.kestra_http` (the client)
and the modules built on it; nothing here sends a request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

__all__ = ["api_message", "embedded_messages", "problem_lines", "safe_json", "timestamp"]


def api_message(response: httpx.Response) -> str:
    """What the server said in an error body, as one line (empty when it said nothing)."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())
        return text[:300] + ("..." if len(text) > 300 else "")
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    for value in (body.get("message"), body.get("detail") or body.get("title")):
        if isinstance(value, str) and value and value not in parts:
            parts.append(value)
    parts += [m for m in embedded_messages(body) if not any(m in part for part in parts)]
    return "; ".join(parts)


def embedded_messages(body: Any) -> list[str]:
    """``_embedded.errors[].message`` of a Micronaut JsonError body."""
    embedded = body.get("_embedded") if isinstance(body, dict) else None
    errors = embedded.get("errors") if isinstance(embedded, dict) else None
    return [
        error["message"]
        for error in (errors if isinstance(errors, list) else [])
        if isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]
    ]


def safe_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def problem_lines(constraints: Any) -> list[str]:
    """A ``constraints`` string (null when valid) as a list of problems."""
    if not constraints:
        return []
    return [line.strip() for line in str(constraints).splitlines() if line.strip()]


def timestamp(value: Any) -> datetime:
    """An ISO-8601 string or epoch milliseconds as an aware datetime (now when absent)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return datetime.now(UTC)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.now(UTC)
