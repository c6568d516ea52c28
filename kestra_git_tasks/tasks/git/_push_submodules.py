"""What a push does about submodules: it cannot commit into one, so it never tries.

Upstream's push clones the branch (with its submodules when ``cloneSubmodules`` is set), writes
the files into the work tree and runs ``git add``: a file written inside a submodule is not
added to the parent's commit (Git refuses a path "in submodule"), so it is silently not pushed.
Here a push writes no work tree, and says so instead:

- a file the push would write at or inside a submodule's path (a gitlink of the tip) is
  refused with a :class:`~kestra_git_tasks.errors.ConfigError` naming the file and the
  submodule, before anything is committed: pushing it would replace the submodule with a
  folder;
- with ``cloneSubmodules: true`` the comparison reads the submodule's content (fetched at its
  gitlink commit, by Clone's URL and credential rules, see ``git/submodule_tree.py``): a file
  identical to the one in the submodule is no change (no row), only a differing or new one is
  refused; a file of the submodule that the instance no longer has is not deleted (it cannot
  be), and a warning names it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from ...errors import ConfigError
from ...git.submodule_tree import list_submodule_files
from ...git.submodules import LOCAL_SUBMODULES_ENV

if TYPE_CHECKING:
    from ...context import RunContext
    from ...git.push import TreeView
    from ._push import PushTask

__all__ = ["SubmoduleGuard"]


class SubmoduleGuard:
    """Checks a push's edits against the submodules of the tip (see the module docstring)."""

    def __init__(self, task: PushTask, ctx: RunContext, directory: str) -> None:
        self.task = task
        self.ctx = ctx
        self.directory = directory
        self.warned: set[str] = set()

    def check(
        self, view: TreeView, wanted: dict[str, bytes], result: dict[str, bytes | None]
    ) -> None:
        """Drop from ``result`` the writes a submodule already holds (``cloneSubmodules``),
        and raise for any other write at or inside a submodule."""
        links = view.gitlinks()
        if not links:
            return
        inside = {}
        for path, content in result.items():
            link = _holder(path, links)
            if content is not None and link is not None:
                inside[path] = link
        if self.task.clone_submodules:
            self._compare(view, wanted, result, inside)
        if inside:
            path = min(inside)
            raise ConfigError(
                f"cannot write {path}: it is inside the submodule '{inside[path]}' of branch "
                f"'{self.task.branch}', and a push cannot commit into a submodule (only its "
                "gitlink). Push it to the submodule's own repository, or leave it out (globs, "
                ".kestraignore)."
            )

    def _compare(
        self,
        view: TreeView,
        wanted: dict[str, bytes],
        result: dict[str, bytes | None],
        inside: dict[str, str],
    ) -> None:
        if view.tree_id is None:
            return
        task, ctx = self.task, self.ctx
        subs = list_submodule_files(
            task.repo_cache(ctx),
            task.url,
            view.tree_id,
            self.directory,
            task.credentials(),
            task.transport_options(ctx, warn=False),
            allow_local=ctx.environ.get(LOCAL_SUBMODULES_ENV, "").strip().lower()
            in {"1", "true", "yes"},
            log=ctx.log,
            held=task.url,
        )
        prefix = f"{self.directory}/" if self.directory else ""
        for path in list(inside):
            content = result[path]
            blob = subs.files.get(path[len(prefix) :])
            if content is not None and blob == _blob_id(content):
                del result[path], inside[path]
        for relative in sorted(subs.files):
            if relative in wanted or not task.delete or not task.may_delete(relative):
                continue
            if relative not in self.warned:
                self.warned.add(relative)
                ctx.warn(
                    f"not deleted: {prefix}{relative} is inside a submodule, which a push "
                    "cannot change; delete it in the submodule's own repository"
                )


def _holder(path: str, links: dict[str, str]) -> str | None:
    """The gitlink at or above ``path``, if any."""
    parts = path.split("/")
    for end in range(1, len(parts) + 1):
        candidate = "/".join(parts[:end])
        if candidate in links:
            return candidate
    return None


def _blob_id(content: bytes) -> str:
    """Git's (SHA-1) blob id of ``content``."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()
