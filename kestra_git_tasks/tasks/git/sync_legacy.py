"""``io.kestra.plugin.git.Sync`` (deprecated in Kestra): flows of ``_flows`` and namespace
files, from Git into the namespace of the flow running the task.

Runs as Kestra's does, on our sync machinery: ``<gitDirectory>/_flows/*`` (not recursive) are
the flows, saved into the running flow's namespace; every other file of ``gitDirectory`` is a
namespace file under ``namespaceFilesDirectory``; flows and files of that scope missing from Git
are deleted (never the running flow; nothing at all when Git holds nothing, unless
``allowEmpty``). One plan, every flow validated, one all-or-nothing batch; Kestra's ``+``/``~``/
``-`` lines are logged. A warning names the replacements: SyncFlows and SyncNamespaceFiles.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ._sync import (
    Entry,
    FileRow,
    FlowRow,
    GitTree,
    Row,
    SyncPlan,
    SyncState,
    SyncTask,
    Write,
    WriteAction,
    build_plan,
    normalise_directory,
)
from .sync_flows import SyncFlows

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["Sync"]

FLOWS = "_flows"
_MARKS = {
    SyncState.ADDED: "+",
    SyncState.UPDATED: "~",
    SyncState.OVERWRITTEN: "~",
    SyncState.UNCHANGED: "~",
    SyncState.DELETED: "-",
}


class Sync(SyncTask):
    """Sync flows and namespace files from Git into the flow's namespace (deprecated).

    Kestra deprecated this task for SyncFlows and SyncNamespaceFiles; it still runs here, with
    a warning. Flows come from `<gitDirectory>/_flows/` (its direct children), every other file
    of `gitDirectory` becomes a namespace file under `namespaceFilesDirectory`, and what Git no
    longer has is deleted from that scope (never the flow running the task).

    Examples:

    Sync flows and namespace files of the flow's namespace every minute (dry run):

    ```yaml
    id: sync_from_git
    namespace: company.team
    tasks:
      - id: git
        type: io.kestra.plugin.git.Sync
        url: https://github.com/kestra-io/scripts
        branch: main
        username: git_username
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
        gitDirectory: your_git_dir
        namespaceFilesDirectory: your_namespace_files_location
        dryRun: true
    triggers:
      - id: every_minute
        type: io.kestra.plugin.core.trigger.Schedule
        cron: "*/1 * * * *"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.git.Sync"

    git_directory: str | None = Field(
        default=None,
        description="Folder of the repository to sync; `_flows` in it holds the flows. The "
        "repository root when unset.",
    )
    namespace_files_directory: str | None = Field(
        default=None,
        description="Folder of the namespace the files are written under; the root when unset.",
    )
    delete: bool = Field(
        default=True,
        description="Delete flows and files of the scope that Git no longer has (Kestra's "
        "Sync always does).",
    )

    def plan(self, ctx: RunContext) -> SyncPlan:
        ctx.warn(
            "io.kestra.plugin.git.Sync is deprecated: use io.kestra.plugin.git.SyncFlows and "
            "io.kestra.plugin.git.SyncNamespaceFiles instead"
        )
        cache, commit = self.fetch(ctx)
        tree = self.read_git(cache, commit, self.git_directory or "", ctx)
        entries = self._flow_entries(ctx, tree) + self._file_entries(ctx, tree)
        plan = build_plan(commit, entries, "")
        verb = "enabled, not performing" if self.dry_run else "disabled, performing"
        ctx.info(
            f"Dry run is {verb} following actions (- for deletions, + for creations, ~ for "
            "update or no modification):"
        )
        for row in plan.rows:
            ctx.info(f"{_MARKS[row.sync_state]} {_label(row)}")
        return plan

    def _flow_entries(self, ctx: RunContext, tree: GitTree) -> list[Entry]:
        flows = {rel: blob for rel, blob in tree.files.items() if _in_flows(rel)}
        if not flows and not any(rel.startswith(FLOWS + "/") for rel in tree.files):
            return []  # no _flows folder: flows are left alone, as in Kestra
        directory = tree.git_path(FLOWS)
        subset = GitTree(
            tree.commit,
            directory,
            {rel[len(FLOWS) + 1 :]: blob for rel, blob in flows.items()},
            tree.reader,
        )
        inner = SyncFlows(
            id=self.id,
            url=self.url,
            target_namespace=ctx.flow.namespace,
            git_directory=directory or FLOWS,
            delete=self.delete,
            dry_run=self.dry_run,
            allow_empty=self.allow_empty,
        )
        planned = inner.plan_from_tree(ctx, subset)
        writes = {write.row: write for write in planned.writes}
        return [(row, writes.get(index)) for index, row in enumerate(planned.rows)]

    def _file_entries(self, ctx: RunContext, tree: GitTree) -> list[Entry]:
        namespace = ctx.flow.namespace
        prefix = "/" + normalise_directory(self.namespace_files_directory or "")
        prefix = prefix.rstrip("/") + "/"
        files = {rel: blob for rel, blob in tree.files.items() if not _is_flow_path(rel)}
        existing = {
            r.path: r
            for r in ctx.require_instance().list_files(namespace)
            if r.path.startswith(prefix)
        }
        entries: list[Entry] = []
        for relative in sorted(files, key=lambda p: (p.count("/"), p)):
            path = prefix + relative
            content = tree.read(relative)
            current = existing.get(path)
            state = SyncState.ADDED if current is None else SyncState.OVERWRITTEN
            if current is not None and current.sha256 == hashlib.sha256(content).hexdigest():
                state = SyncState.UNCHANGED
            row = FileRow(tree.row_path(relative), state, path)
            write = Write(WriteAction.WRITE_FILE, namespace=namespace, key=path, content=content)
            entries.append((row, None if state == SyncState.UNCHANGED else write))
        if self.delete:
            gone = [path for path in sorted(existing) if path[len(prefix) :] not in files]
            self.check_empty_guard(len(files), len(gone), f"the files of namespace {namespace}")
            for path in gone:
                delete = Write(WriteAction.DELETE_FILE, namespace=namespace, key=path)
                entries.append((FileRow(None, SyncState.DELETED, path), delete))
        return entries

    def index_after(self, ctx: RunContext) -> dict[str, Any]:
        return {}

    def make_output(self, rows: list[dict[str, Any]], plan: SyncPlan, diff_file: Path) -> None:
        return None  # Kestra's Sync has no outputs


def _in_flows(relative: str) -> bool:
    folder, _, name = relative.rpartition("/")
    return folder == FLOWS and bool(name)


def _is_flow_path(relative: str) -> bool:
    return relative == FLOWS or relative.startswith(FLOWS + "/")


def _label(row: Row) -> str:
    if isinstance(row, FlowRow):
        return f"/{FLOWS}/{row.flow_id}.yml"
    return row.kestra_path
