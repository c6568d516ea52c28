"""``io.kestra.plugin.git.SyncNamespaceFiles``: Git is the source of truth for namespace files."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_serializer

from ...ids import NAMESPACE_FIELD
from ...instance.base import namespace_matches
from .._base import Output as TaskOutput
from .._base import typed_output
from ._sync import (
    Entry,
    FileRow,
    RowType,
    SyncPlan,
    SyncState,
    SyncTask,
    Write,
    WriteAction,
    build_plan,
    rows_as_list,
)
from .sync_flows import SYSTEM_NAMESPACE

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["SyncNamespaceFiles", "kestra_path"]


def kestra_path(namespace: str, path: str) -> str:
    """Kestra's ``kestraPath`` of a namespace file: ``/<namespace as folders>/_files/<path>``."""
    return f"/{namespace.replace('.', '/')}/_files/{path.lstrip('/')}"


class SyncNamespaceFiles(SyncTask):
    """Sync namespace files from Git to the instance.

    Every file under `gitDirectory` (recursively, any extension) becomes the namespace file of
    the same relative path in `namespace`; a file whose content differs is overwritten (a new
    revision, the old one kept), and with `delete: true` namespace files no longer in Git are
    deleted. A root `.kestraignore` (gitignore syntax) excludes paths. The writes happen all or
    nothing after the whole plan is known.

    Examples:

    Keep the `prod` namespace's files equal to the `_files` folder of the repository:

    ```yaml
    id: sync_files_from_git
    namespace: system
    tasks:
      - id: git
        type: io.kestra.plugin.git.SyncNamespaceFiles
        namespace: prod
        gitDirectory: _files
        url: https://github.com/kestra-io/flows
        branch: main
        username: git_username
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
        delete: true
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.git.SyncNamespaceFiles"
    rows_output: ClassVar[str] = "files"
    row_type: ClassVar[RowType] = FileRow

    namespace: str | None = Field(
        default=None,
        description="Namespace the files are written to; defaults to the namespace of the flow "
        "running the task (`{{ flow.namespace }}`).",
        pattern=NAMESPACE_FIELD,
    )
    git_directory: str = Field(
        default="_files", description="Folder of the repository holding the files."
    )

    class Output(TaskOutput):
        """Outputs of SyncNamespaceFiles."""

        files: list[dict[str, Any]] = Field(
            description="Diff rows `{gitPath, syncState, kestraPath}`, sorted by `gitPath`, "
            "deletions (no `gitPath`) first."
        )
        diff_file: str = Field(description="The same rows as a JSON Lines file.")
        commit_id: str | None = Field(description="The commit that was synced.")

        @field_serializer("files")
        def _files_as_list(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
            return rows_as_list(rows)  # a no-change run's rows are parsed here (SyncRows)

    def run(self, ctx: RunContext) -> Output:
        """Run the task; the outputs are this task's ``Output``."""
        return typed_output(super().run(ctx), SyncNamespaceFiles.Output)

    def target(self, ctx: RunContext) -> str:
        """The namespace written to."""
        return self.namespace or ctx.flow.namespace

    def plan(self, ctx: RunContext) -> SyncPlan:
        instance = ctx.require_instance()
        namespace = self.target(ctx)
        cache, commit = self.fetch(ctx)
        stamp = self.stamp(ctx)
        quick = self.quick_unchanged(ctx, namespace, commit, stamp)
        if quick is not None:
            return quick
        memory = self.load_state(ctx, namespace)
        if memory.commit == commit and (
            stamp == memory.stamp if stamp is not None else memory.index == self.index_after(ctx)
        ):
            ctx.info(f"branch '{self.branch}' still at {commit[:12]} and instance unchanged")
            return SyncPlan(commit, memory.unchanged_rows(), memory=memory, unchanged=True)
        tree = self.read_git(cache, commit, self.git_directory, ctx)
        existing = {record.path: record for record in instance.list_files(namespace)}
        entries: list[Entry] = []
        for relative in sorted(tree.files, key=lambda p: (p.count("/"), p)):
            path = "/" + relative
            git_path = tree.row_path(relative)
            content = tree.read(relative)
            current = existing.get(path)
            state = SyncState.ADDED if current is None else SyncState.OVERWRITTEN
            if current is not None and current.sha256 == hashlib.sha256(content).hexdigest():
                state = SyncState.UNCHANGED
            row = FileRow(git_path, state, kestra_path(namespace, relative))
            write = Write(WriteAction.WRITE_FILE, namespace=namespace, key=path, content=content)
            entries.append((row, None if state == SyncState.UNCHANGED else write))
        if self.delete:
            in_git = {"/" + relative for relative in tree.files}
            deletes = [path for path in sorted(existing) if path not in in_git]
            if deletes and self._system_guarded(namespace):
                ctx.info(
                    f"kept {len(deletes)} file(s) of {namespace}: the system namespace is only "
                    "changed when it is set explicitly as `namespace`"
                )
                deletes = []
            self.check_empty_guard(len(tree.files), len(deletes), f"namespace {namespace}")
            for path in deletes:
                row = FileRow(None, SyncState.DELETED, kestra_path(namespace, path))
                delete = Write(WriteAction.DELETE_FILE, namespace=namespace, key=path)
                entries.append((row, delete))
        plan = build_plan(commit, entries, namespace)
        plan.memory.stamp = stamp
        return plan

    def _system_guarded(self, namespace: str) -> bool:
        explicit = "namespace" in self.model_fields_set and self.namespace is not None
        return namespace_matches(namespace, SYSTEM_NAMESPACE, True) and not explicit

    def index_after(self, ctx: RunContext) -> dict[str, Any]:
        files = ctx.require_instance().list_files(self.target(ctx))
        return {record.path: [record.revision, record.sha256] for record in files}

    def stamp(self, ctx: RunContext) -> str | None:
        return ctx.require_instance().change_stamp("file", self.target(ctx))

    def index_from_rows(self, plan: SyncPlan, rows: list[Any]) -> dict[str, Any] | None:
        return {}  # with a stamp, the no-change check never compares the index

    def make_output(self, rows: list[dict[str, Any]], plan: SyncPlan, diff_file: Path) -> Output:
        return self.Output(files=rows, diff_file=str(diff_file), commit_id=plan.commit)
