"""Kestra's key-value store of a namespace, on either backend.

Contract: :func:`kv_store` returns a :class:`KeyValueStore` for an instance: the ``kv`` table of
the embedded SQLite instance, or Kestra's KV API (``/api/v1/{tenant}/namespaces/{ns}/kv/{key}``)
through the :class:`~kestra_git_tasks.instance.kestra.KestraInstance`'s API client (no change
to that class). Values are JSON values
(a string, a number, a boolean, a list, a map). Keys follow Kestra's rule (letters, digits,
``.``, ``_``, ``-``; at most 255 characters); anything else is refused with an
:class:`~kestra_git_tasks.errors.InstanceError` before it is stored. A missing key reads as
None; :func:`missing_key` is Kestra's message for ``kv()`` with ``errorOnMissing``.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from ..errors import InstanceError, NotFoundError
from ._sqlite import Database, now_text

if TYPE_CHECKING:
    from .kestra_http import KestraApi

__all__ = ["KeyValueStore", "check_key", "kv_store", "missing_key"]

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


class KeyValueStore(Protocol):
    """The KV store of an instance."""

    def kv_get(self, namespace: str, key: str) -> Any | None: ...

    def kv_set(self, namespace: str, key: str, value: Any) -> None: ...

    def kv_list(self, namespace: str) -> list[str]: ...

    def kv_delete(self, namespace: str, key: str) -> bool: ...


def check_key(namespace: str, key: str) -> None:
    """Refuse a key or namespace Kestra would refuse, naming it and the rule."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InstanceError(
            f"KV key {key!r} is not valid: use letters, digits, '.', '_' and '-', starting with "
            "a letter or a digit, at most 255 characters"
        )
    if not namespace or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", namespace):
        raise InstanceError(f"KV namespace {namespace!r} is not a valid namespace")


def missing_key(namespace: str, key: str) -> NotFoundError:
    """Kestra's error for a missing key read with ``errorOnMissing``."""
    return NotFoundError(f"The key '{key}' does not exist in the namespace '{namespace}'.")


class _SqliteKV:
    def __init__(self, database: Database) -> None:
        self._db = database

    def kv_get(self, namespace: str, key: str) -> Any | None:
        check_key(namespace, key)
        rows = self._db._query(
            "SELECT value FROM kv WHERE namespace = ? AND key = ?", (namespace, key)
        )
        return json.loads(rows[0]["value"]) if rows else None

    def kv_set(self, namespace: str, key: str, value: Any) -> None:
        check_key(namespace, key)
        text = json.dumps(value, ensure_ascii=False)
        with self._db.batch():
            self._db._query(
                "INSERT INTO kv (namespace, key, value, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, "
                "updated = excluded.updated",
                (namespace, key, text, now_text()),
            )

    def kv_list(self, namespace: str) -> list[str]:
        rows = self._db._query("SELECT key FROM kv WHERE namespace = ? ORDER BY key", (namespace,))
        return [row["key"] for row in rows]

    def kv_delete(self, namespace: str, key: str) -> bool:
        check_key(namespace, key)
        with self._db.batch():
            found = self._db._query(
                "SELECT 1 FROM kv WHERE namespace = ? AND key = ?", (namespace, key)
            )
            self._db._query("DELETE FROM kv WHERE namespace = ? AND key = ?", (namespace, key))
        return bool(found)


class _HttpKV:
    """Kestra's KV API through the instance's :class:`~.kestra_http.KestraApi`."""

    def __init__(self, api: KestraApi) -> None:
        self._api = api

    @staticmethod
    def _path(namespace: str, key: str = "") -> str:
        base = f"/namespaces/{quote(namespace, safe='')}/kv"
        return f"{base}/{quote(key, safe='')}" if key else base

    def kv_get(self, namespace: str, key: str) -> Any | None:
        check_key(namespace, key)
        path = self._path(namespace, key)
        body = self._api._json("GET", path, allow=(404,))
        if body is None:
            return None
        return body.get("value") if isinstance(body, dict) else body

    def kv_set(self, namespace: str, key: str, value: Any) -> None:
        check_key(namespace, key)
        content = json.dumps(value, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        self._api.send("PUT", self._path(namespace, key), content=content, headers=headers)

    def kv_list(self, namespace: str) -> list[str]:
        body = self._api._json("GET", self._path(namespace), allow=(404,)) or []
        return sorted(str(item["key"]) for item in body if isinstance(item, dict) and "key" in item)

    def kv_delete(self, namespace: str, key: str) -> bool:
        check_key(namespace, key)
        response = self._api.send("DELETE", self._path(namespace, key), allow=(404,))
        return response.status_code != 404


def kv_store(instance: object) -> KeyValueStore:
    """The KV store of ``instance`` (embedded or Kestra server)."""
    from .kestra import KestraInstance

    if isinstance(instance, Database):
        return _SqliteKV(instance)
    if isinstance(instance, KestraInstance):
        return _HttpKV(instance._api)
    raise InstanceError(
        f"{type(instance).__name__} has no key-value store; use the embedded instance or a "
        "Kestra server"
    )
