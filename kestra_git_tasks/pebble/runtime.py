"""The template functions that need the running execution: ``kv()``, ``read()`` and the
``file*()`` functions.

Contract: :func:`run_functions` returns them bound to a
:class:`~kestra_git_tasks.context.RunContext` (the context puts them in the template
variables, next to ``secret()``).

* ``kv(key, namespace=None, errorOnMissing=True)`` reads the instance's KV store
  (:mod:`kestra_git_tasks.instance.kv`), in the flow's namespace unless told; a missing key is
  Kestra's error, or None with ``errorOnMissing=false``.
* ``fileExists(path)``, ``fileSize(path)``, ``fileEmpty(path)`` look at the same files.
* ``read(path)`` returns a text file: a file of the current execution (a path inside its output
  folder, as the tasks' file outputs give it) or else a namespace file of the flow's namespace.
  Nothing else on the machine is readable: any other path is looked up as a namespace file, and
  a failure is Kestra's ``Unable to read the file <path>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, KestraGitError, NotFoundError, TemplateError

if TYPE_CHECKING:
    from ..context import RunContext

__all__ = ["run_functions"]


def run_functions(ctx: RunContext) -> dict[str, Any]:
    """``kv`` and ``read`` for templates rendered in ``ctx``."""

    def kv(key: str, namespace: str | None = None, errorOnMissing: bool = True) -> Any:
        from ..instance.kv import kv_store, missing_key

        where = namespace or ctx.flow.namespace
        store = kv_store(_instance(ctx, "kv"))
        value = store.kv_get(where, str(key))
        if value is None and errorOnMissing:
            raise missing_key(where, str(key))
        return value

    def content(path: str) -> bytes:
        text = str(path)
        found = _execution_file(ctx, text)
        if found is None:
            found = _instance(ctx, "read").read_file(ctx.flow.namespace, text)
        return found

    def read(path: str) -> str:
        try:
            return content(path).decode("utf-8")
        except (KestraGitError, OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"Unable to read the file {path} ({exc})") from exc

    def file_size(path: str) -> int:
        try:
            return len(content(path))
        except (KestraGitError, OSError) as exc:
            raise TemplateError(f"Unable to read the file {path} ({exc})") from exc

    def file_exists(path: str) -> bool:
        try:
            content(path)
        except NotFoundError:
            return False
        except (KestraGitError, OSError) as exc:
            raise TemplateError(f"Unable to read the file {path} ({exc})") from exc
        return True

    return {
        "kv": kv,
        "read": read,
        "fileSize": file_size,
        "fileExists": file_exists,
        "fileEmpty": lambda path: file_size(path) == 0,
    }


def _instance(ctx: RunContext, function: str) -> Any:
    if ctx.instance is None:
        raise ConfigError(f"{function}() needs an instance (embedded or Kestra server)")
    return ctx.instance


def _execution_file(ctx: RunContext, text: str) -> bytes | None:
    """The content of ``text`` when it names a file of this execution, else None."""
    candidate = Path(text.removeprefix("file://"))
    if not candidate.is_absolute():
        return None
    folder = (ctx.home / "executions" / ctx.execution_id).resolve()
    resolved = candidate.resolve()
    if not resolved.is_relative_to(folder) or not resolved.is_file():
        return None
    return resolved.read_bytes()
