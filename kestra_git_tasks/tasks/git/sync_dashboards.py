"""``io.kestra.plugin.git.SyncDashboards``: Git is the source of truth for dashboards.

Every file under ``gitDirectory`` (recursively, ``.kestraignore`` applied) is a dashboard YAML
keyed by its ``id``; the whole plan is made (every file parsed, duplicates refused) before the
first write, and the writes are one all-or-nothing batch. A dashboard whose source equals the
instance's (line endings and ``updated:`` lines aside) is left as it is; with ``delete`` the
instance's dashboards that Git no longer has are deleted (never all of them from an empty Git
side, unless ``allowEmpty``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ...errors import FlowFileError, FlowProblem, InstanceError
from ...instance.base import DashboardRecord, dashboard_id
from .._base import Output as TaskOutput
from ._sync import SyncPlan, SyncTask

if TYPE_CHECKING:
    from ...context import RunContext
    from ...instance.base import Instance

__all__ = ["SyncDashboards", "comparable", "without_updated"]

_UPDATED_LINE = re.compile(r"^updated:.*(?:\r?\n|$)", re.MULTILINE)


def without_updated(source: str) -> str:
    """A dashboard source without its top-level ``updated:`` lines (the instance's)."""
    return _UPDATED_LINE.sub("", source)


def comparable(source: str) -> str:
    """A dashboard source as Kestra compares it: no ``updated:`` lines, LF, trimmed."""
    return without_updated(source).replace("\r\n", "\n").strip()


class SyncDashboards(SyncTask):
    """Sync dashboards from Git to the instance.

    Every file under `gitDirectory` is a dashboard (its YAML `id` is its key): new ones are
    created, changed ones replaced, and with `delete: true` dashboards no longer in Git are
    deleted. Nothing is written until every file was read; then all writes happen or none.

    Examples:

    Keep the instance's dashboards equal to the `_dashboards` folder of the repository:

    ```yaml
    id: sync_dashboards
    namespace: system
    tasks:
      - id: git
        type: io.kestra.plugin.git.SyncDashboards
        url: https://github.com/kestra-io/dashboards
        branch: main
        gitDirectory: _dashboards
        username: git_username
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
        delete: true
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.git.SyncDashboards"

    git_directory: str = Field(
        default="_dashboards", description="Folder of the repository holding the dashboards."
    )

    class Output(TaskOutput):
        """Outputs of SyncDashboards."""

        dashboards: list[dict[str, Any]] = Field(
            description="Diff rows `{gitPath, syncState, dashboardId, revision}` (ADDED, "
            "UPDATED, UNCHANGED, DELETED), deletions (no `gitPath`) first."
        )
        diff_file: str = Field(description="The same rows as a JSON Lines file.")
        commit_id: str | None = Field(description="The commit that was synced.")

    def _run(self, ctx: RunContext) -> Output:
        instance = ctx.require_instance()
        cache, commit = self.fetch(ctx)
        tree = self.read_git(cache, commit, self.git_directory, ctx)
        wanted: dict[str, tuple[str, str]] = {}  # id -> (gitPath, source)
        problems: list[FlowProblem] = []
        for relative in sorted(tree.files):
            git_path = tree.row_path(relative)
            try:
                source = tree.read(relative).decode("utf-8")
                key = dashboard_id(source)
            except (UnicodeDecodeError, InstanceError) as exc:
                problems.append(FlowProblem(git_path, None, f"not a dashboard: {exc}"))
                continue
            if key in wanted:
                problems.append(
                    FlowProblem(git_path, None, f"dashboard id '{key}' is also in {wanted[key][0]}")
                )
            wanted[key] = (git_path, source)
        if problems:
            raise FlowFileError(problems)
        existing = {record.id: record for record in instance.list_dashboards()}
        rows, writes, deletes = _plan(wanted, existing, self.delete)
        self.check_empty_guard(len(wanted), len(deletes), "the dashboards")
        if not self.dry_run and (writes or deletes):
            rows = self._apply(instance, rows, writes, deletes)
        ctx.info(f"{'would change' if self.dry_run else 'changed'}: {len(writes) + len(deletes)}")
        diff_file = ctx.output_dir / f"{ctx.task_id or 'sync'}-dashboards.jsonl"
        diff_file.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        return self.Output(dashboards=rows, diff_file=str(diff_file), commit_id=commit)

    @staticmethod
    def _apply(
        instance: Instance, rows: list[dict[str, Any]], writes: dict[str, str], deletes: list[str]
    ) -> list[dict[str, Any]]:
        revisions: dict[str, int] = {}
        with instance.batch():
            for key in deletes:
                instance.delete_dashboard(key)
            for key, source in writes.items():
                revisions[key] = instance.put_dashboard(source).revision
        return [
            {**row, "revision": revisions.get(row["dashboardId"], row["revision"])} for row in rows
        ]

    # SyncTask's plan/state hooks: dashboards are planned and applied by _run above.
    def plan(self, ctx: RunContext) -> SyncPlan:  # pragma: no cover - not used
        raise NotImplementedError

    def make_output(self, rows: list[dict[str, Any]], plan: SyncPlan, diff_file: Path) -> Any:
        raise NotImplementedError  # pragma: no cover - not used

    def index_after(self, ctx: RunContext) -> dict[str, Any]:
        return {}  # pragma: no cover - not used


def _plan(
    wanted: dict[str, tuple[str, str]], existing: dict[str, DashboardRecord], delete: bool
) -> tuple[list[dict[str, Any]], dict[str, str], list[str]]:
    """Rows (deletions first, then by gitPath), the sources to write by id, the ids to delete."""
    rows: list[dict[str, Any]] = []
    writes: dict[str, str] = {}
    deletes = sorted(set(existing) - set(wanted)) if delete else []
    for key in deletes:
        rows.append(_row(None, "DELETED", key, existing[key].revision))
    for key, (git_path, source) in sorted(wanted.items(), key=lambda item: item[1][0]):
        current = existing.get(key)
        if current is not None and comparable(current.source) == comparable(source):
            rows.append(_row(git_path, "UNCHANGED", key, current.revision))
            continue
        state = "ADDED" if current is None else "UPDATED"
        revision = 1 if current is None else current.revision + 1
        rows.append(_row(git_path, state, key, revision))
        writes[key] = source
    return rows, writes, deletes


def _row(git_path: str | None, state: str, key: str, revision: int) -> dict[str, Any]:
    return {"gitPath": git_path, "syncState": state, "dashboardId": key, "revision": revision}
