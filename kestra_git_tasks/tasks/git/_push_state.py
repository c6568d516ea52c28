"""What the last push of a task remembers, so a push with nothing to do is O(1).

A push has nothing to do when neither side moved since the last successful one: the instance's
change stamp of the pushed scope (``Instance.change_stamp``: bumped by every write of a flow or
file of the scope, by anyone) still equals the remembered one, and the branch still points at
the commit that push left (the commit it pushed, or the tip it found already up to date). Then
the task answers "no changes" after one ref advertisement and one stamp read, without
collecting the instance's flows or files and without fetching or building a tree.

The memory is ``<home>/push-state/<key>.json`` (``{"stamp", "head"}``); the key hashes the
task's type, URL without credentials, configuration (secrets left out), the scope and the
running flow (``_sync.memory_key``, shared with the sync memory). It is written only after a
push that succeeded on an existing branch, and never on a dry run; the stamp is read before
the instance is collected, so a write during the push makes the next run do the full push. An
instance without stamps (a Kestra server) never uses it. Written to a unique temporary file and
moved into place.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ._sync import memory_key

if TYPE_CHECKING:
    from ...context import RunContext
    from ._push import PushTask

__all__ = ["PushMemory"]


@dataclass(frozen=True)
class PushMemory:
    """The instance's stamp and the branch's commit after the last successful push."""

    stamp: str
    head: str

    @staticmethod
    def path(task: PushTask, ctx: RunContext, scope: str) -> Path:
        return ctx.home / "push-state" / f"{memory_key(task, ctx, scope)}.json"

    @classmethod
    def load(cls, path: Path) -> PushMemory | None:
        """The memory at ``path``; None when there is none or it is unreadable."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            stamp, head = data["stamp"], data["head"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not (isinstance(stamp, str) and isinstance(head, str)):
            return None
        return cls(stamp, head)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"stamp": self.stamp, "head": self.head}, out)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
