"""``SyncTask``: Git -> instance, as a plan and then an all-or-nothing apply.

The pipeline shared by SyncFlows and SyncNamespaceFiles:

1. **read Git**: learn the branch head (one round trip when nothing moved), fetch only what is
   missing into the runner's repository cache, list ``gitDirectory`` straight from the object
   database (no work tree), drop what ``.kestraignore`` and Kestra's skip rules exclude;
2. **plan** (pure): compare with the instance and produce every diff row, with its state,
   and the list of writes; every flow is validated here, before the first write;
3. **apply**: the writes, in one batch (one transaction on the embedded instance);
4. write the rows as JSON Lines in the execution's folder and remember what was synced, so the
   next run can tell that nothing changed without reading a single file.

**No change** costs one request and O(1) instance reads: commit and change stamp
(``Instance.change_stamp``) against a small head file (:meth:`SyncTask.quick_unchanged`). The
apply reads the stamp in its batch before and after the writes and remembers the second only if
the first is the plan's, with the index computed (:meth:`SyncTask.index_from_rows`), not read.
Without stamps (a Kestra server) the index is compared.

``dryRun`` is steps 1-2 and 4 without 3: one code path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from abc import abstractmethod
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ...errors import ConfigError, GitDirectoryNotFoundError
from ...git import redact_url
from ...validated import remembering
from ._gc import fewer_collections
from ._kestra_api import KestraApiTask
from ._patches import sync_changes, write_patch
from ._sync_plan import (
    KESTRAIGNORE,
    Entry,
    GitTree,
    SyncPlan,
    Write,
    WriteAction,
    _write,
    build_plan,
    filter_files,
    normalise_directory,
)
from ._sync_rows import (
    FileRow,
    FlowRow,
    QuickMemory,
    Row,
    SyncMemory,
    SyncRows,
    SyncState,
    rows_as_list,
)

if TYPE_CHECKING:
    from ...context import RunContext
    from ...git import RepoCache
    from ...git.submodule_tree import SubmoduleFiles

__all__ = [
    "KESTRAIGNORE",
    "Entry",
    "FileRow",
    "FlowRow",
    "GitTree",
    "Row",
    "RowType",
    "SyncMemory",
    "SyncPlan",
    "SyncRows",
    "SyncState",
    "SyncTask",
    "Write",
    "WriteAction",
    "build_plan",
    "filter_files",
    "normalise_directory",
    "rows_as_list",
]

#: The row class of a sync task.
RowType = type[FlowRow] | type[FileRow]
# Properties that cannot change a plan (or must never be written to disk).
_NOT_IN_STATE_KEY = frozenset(
    {
        "id",
        "description",
        "username",
        "password",
        "private_key",
        "passphrase",
        "dry_run",
        "url",
        "connect_timeout",
        "read_timeout",
        "no_proxy",
        "trusted_ca_pem_path",
    }
)
_AS_COMMITTED = (
    "a sync reads files as they are committed, as upstream's does (Kestra applies gitConfig "
    "after its checkout)"
)
#: gitConfig keys a sync explains (``http.proxy`` is applied by every Git task).
_SYNC_GIT_CONFIG = {
    "core.autocrlf": _AS_COMMITTED,
    "core.eol": _AS_COMMITTED,
    "user.name": "a sync makes no commit",
    "user.email": "a sync makes no commit",
}


class SyncTask(KestraApiTask):
    """Shared properties and pipeline of the Git -> instance tasks."""

    #: Output field holding the rows (``flows`` / ``files``), and their type.
    rows_output: ClassVar[str] = "rows"
    row_type: ClassVar[RowType] = FlowRow

    branch: str = Field(default="main", description="Branch to read; it must exist.")
    delete: bool = Field(
        default=False,
        description="Delete from the instance what is in scope but no longer in Git. Never "
        "deleted: the flow running the task, the `system` namespace unless it is the explicit "
        "target, and everything when Git holds nothing (see `allowEmpty`).",
    )
    dry_run: bool = Field(
        default=False, description="Compute and report the rows without changing anything."
    )
    fail_on_missing_directory: bool = Field(
        default=True,
        description="Fail when `gitDirectory` does not exist in the branch; when false a missing "
        "directory counts as empty.",
    )
    allow_empty: bool = Field(
        default=False,
        description="Allow `delete` to remove everything in scope when the Git side is empty "
        "(an empty or missing directory). Off by default: an emptied directory is more often a "
        "mistake than an intent.",
    )

    # -- the pipeline --------------------------------------------------------------------------
    def fetch(self, ctx: RunContext) -> tuple[RepoCache, str]:
        """Bring the branch into the cache; one round trip when it has not moved."""
        self.register_secrets(ctx)
        cache = self.repo_cache(ctx)
        commit = cache.fetch_branch(
            self.url,
            self.branch,
            self.credentials(),
            self.transport_options(ctx),
            progress=ctx.progress_callback(),
        )
        return cache, commit

    def read_git(self, cache: RepoCache, commit: str, directory: str, ctx: RunContext) -> GitTree:
        """List ``directory`` at ``commit`` without ``.kestraignore``'d and skipped files."""
        directory = normalise_directory(directory)
        self.warn_unapplied(ctx, _SYNC_GIT_CONFIG)
        skipped: list[str] = []  # symbolic links that leave the repository
        subs = self.read_submodules(cache, commit, directory, ctx, skipped)
        if subs is not None and subs.inside:  # gitDirectory lies inside a submodule
            listed = subs.files if subs.found else None
        else:
            listed = cache.list_tree(self.url, commit, directory, skipped)
            if listed is not None and subs is not None and subs.files:
                listed = dict(sorted({**listed, **subs.files}.items()))
        for message in skipped:
            ctx.warn(message)
        if listed is None:
            if self.fail_on_missing_directory:
                raise GitDirectoryNotFoundError(
                    f"The directory '{directory}' was not found in the git repository. Verify "
                    f"if the path exists in the specified branch '{self.branch}'. (Set "
                    "failOnMissingDirectory: false to treat it as empty.)"
                )
            ctx.warn(f"directory '{directory}' not found in branch '{self.branch}': empty")
            listed = {}
        owners = subs.owners if subs is not None else {}
        files, reader = filter_files(listed, cache.blob_reader(self.url, owners))
        ctx.report("plan", 0, len(files))
        return GitTree(commit, directory, files, reader, listed.get(KESTRAIGNORE))

    def read_submodules(
        self, cache: RepoCache, commit: str, directory: str, ctx: RunContext, skipped: list[str]
    ) -> SubmoduleFiles | None:
        """With ``cloneSubmodules``, the files submodules add under ``directory`` (fetched
        into the cache at their gitlink commits, see ``git/submodule_tree.py``); else None."""
        if not self.clone_submodules:
            return None
        from ...git.submodule_tree import list_submodule_files
        from ...git.submodules import LOCAL_SUBMODULES_ENV

        return list_submodule_files(
            cache,
            self.url,
            commit,
            directory,
            self.credentials(),
            self.transport_options(ctx, warn=False),
            allow_local=ctx.environ.get(LOCAL_SUBMODULES_ENV, "").strip().lower()
            in {"1", "true", "yes"},
            log=ctx.log,
            skipped=skipped,
        )

    @abstractmethod
    def plan(self, ctx: RunContext) -> SyncPlan:
        """Compare Git with the instance; change nothing."""

    def apply(self, ctx: RunContext, plan: SyncPlan) -> list[Row]:
        """Make the plan's writes, all or nothing; return the rows with final revisions."""
        instance = ctx.require_instance()
        rows = list(plan.rows)
        if not plan.writes:
            return rows
        ctx.info(f"applying {plan.changes} change(s)")
        # the instance validates each flow it stores: the plan has just validated (and
        # remembered) these very sources, so the second check is a lookup, not a parse
        remembered = remembering(ctx.home) if plan.writes_flows else contextlib.nullcontext()
        with remembered, instance.batch():
            # another writer between the plan and this batch makes the stamp unusable
            stamped = plan.memory.stamp is not None and self.stamp(ctx) == plan.memory.stamp
            for done, write in enumerate(plan.writes):
                ctx.report("apply", done, plan.changes)
                revision = _write(instance, write)
                row = rows[write.row]
                if revision is not None and isinstance(row, FlowRow) and row.revision != revision:
                    rows[write.row] = replace(row, revision=revision)
            plan.memory.stamp = self.stamp(ctx) if stamped else None
        ctx.report("apply", plan.changes, plan.changes)
        return rows

    def run(self, ctx: RunContext) -> Any:
        with self.kestra_scope(ctx), fewer_collections():
            return self._run(ctx)

    def _run(self, ctx: RunContext) -> Any:
        plan = self.plan(ctx)
        diff_file = ctx.output_dir / f"{ctx.task_id or 'sync'}-{self.rows_output}.jsonl"
        if plan.quick_rows is not None:
            return self._quick_output(ctx, plan, plan.quick_rows, diff_file)
        if ctx.patches:  # the old side is read before the apply changes it
            changes = sync_changes(ctx.require_instance(), plan.rows, plan.writes)
            write_patch(diff_file, changes, ctx.mask)
        rows = plan.rows if self.dry_run else self.apply(ctx, plan)
        if plan.delta is not None:
            return self._delta_output(ctx, plan, rows, diff_file)
        counts = _count(rows)
        verb = "would change" if self.dry_run else "changed"
        ctx.info(f"{verb}: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
        dicts = [row.to_dict() for row in rows]
        diff_file.write_text("".join(_ROW_JSON(row) + "\n" for row in dicts), encoding="utf-8")
        if not self.dry_run and not plan.unchanged:
            self.save_state(ctx, plan, rows)
        return self.make_output(dicts, plan, diff_file)

    def _quick_output(
        self, ctx: RunContext, plan: SyncPlan, quick: tuple[bytes, int], diff_file: Path
    ) -> Any:
        """The full path's diff file, patch, message and output, without parsing a row: the
        output's rows are :class:`SyncRows`, parsed when something reads them."""
        if ctx.patches:
            write_patch(diff_file, [], ctx.mask)
        lines, count = quick
        rows = SyncRows(lines, count)  # the count the head names: the rows are not read
        verb = "would change" if self.dry_run else "changed"
        ctx.info(f"{verb}: {count} {SyncState.UNCHANGED.value}" if count else f"{verb}: 0 nothing")
        diff_file.write_bytes(lines)
        output = self.make_output([], plan, diff_file)
        if output is not None:  # the rows are our own, read back: not validated one by one
            setattr(output, self.rows_output, rows)
        return output

    def _delta_output(
        self, ctx: RunContext, plan: SyncPlan, rows: list[Row], diff_file: Path
    ) -> Any:
        """The output of an O(changed) plan: the remembered rows with the changed ones in
        place (``_sync_delta.py``), as the full path's diff file, message and output."""
        assert plan.delta is not None
        lines, counts = plan.delta.splice(rows)
        counts = counts or {"nothing": 0}
        verb = "would change" if self.dry_run else "changed"
        ctx.info(f"{verb}: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
        diff_file.write_bytes(lines)
        if not self.dry_run:
            plan.delta.save(ctx, plan, rows)
        output = self.make_output([], plan, diff_file)
        if output is not None:
            setattr(output, self.rows_output, SyncRows(lines, sum(counts.values())))
        return output

    def quick_unchanged(
        self, ctx: RunContext, scope: str, commit: str, stamp: str | None
    ) -> SyncPlan | None:
        """The no-change plan from the head file (:class:`QuickMemory`), not the memory; None
        when the commit or stamp differs or anything is missing (then plan as usual)."""
        quick = QuickMemory.rows_if_unchanged(self.state_path(ctx, scope), commit, stamp)
        if quick is None:
            return None
        ctx.info(f"branch '{self.branch}' still at {commit[:12]} and instance unchanged")
        memory = SyncMemory(scope, commit, stamp=stamp)
        return SyncPlan(commit, [], memory=memory, unchanged=True, quick_rows=quick)

    @abstractmethod
    def make_output(self, rows: list[dict[str, Any]], plan: SyncPlan, diff_file: Path) -> Any:
        """The task's Output from the final rows (as Kestra's dicts)."""

    # -- guards --------------------------------------------------------------------------------
    def check_empty_guard(self, git_count: int, deletes: int, scope: str) -> None:
        """Refuse to delete everything in scope when Git is empty, unless ``allowEmpty``."""
        if self.delete and git_count == 0 and deletes > 0 and not self.allow_empty:
            raise ConfigError(
                f"refusing to delete all {deletes} item(s) of {scope}: the Git side is empty "
                f"(branch '{self.branch}'). If that is what you want, set allowEmpty: true."
            )

    # -- memory of the last sync ---------------------------------------------------------------
    def state_path(self, ctx: RunContext, scope: str) -> Path:
        """Where this task's last sync of ``scope`` is remembered.

        The key covers everything that can change the plan for the same commit and instance:
        the task's configuration (which properties were written explicitly included, as
        guards depend on it) and the flow running the task (it is never deleted).
        """
        return ctx.home / "sync-state" / f"{memory_key(self, ctx, scope)}.json"

    def load_state(self, ctx: RunContext, scope: str) -> SyncMemory:
        """What the last successful sync of this task and scope applied (empty when none)."""
        return SyncMemory.load(self.state_path(ctx, scope), scope, self.row_type)

    def save_state(self, ctx: RunContext, plan: SyncPlan, rows: list[Row]) -> None:
        """Remember what was synced (commit, rows, instance index, stamp) for the next run."""
        if not plan.memory.scope:
            return
        # the index read by the plan is still right when the apply wrote nothing; with a
        # stamp the apply proved nobody else wrote, so the plan's index plus our writes is
        index = plan.memory.index if not plan.writes else None
        if index is None and plan.memory.stamp is not None:
            index = self.index_from_rows(plan, rows)
        memory = replace(
            plan.memory,
            commit=plan.commit,
            rows=rows,
            index=index if index is not None else self.index_after(ctx),
        )
        self.remember(ctx, plan, memory)

    def remember(self, ctx: RunContext, plan: SyncPlan, memory: SyncMemory) -> None:
        """Keep ``memory`` for the next run (a JSON file; SyncFlows: a keyed store)."""
        memory.save(self.state_path(ctx, memory.scope))

    @abstractmethod
    def index_after(self, ctx: RunContext) -> dict[str, Any]:
        """A cheap fingerprint of the instance side in scope, compared on the next run."""

    def stamp(self, ctx: RunContext) -> str | None:
        return None  # the instance's change stamp of the scope; None: compare index_after

    def index_from_rows(self, plan: SyncPlan, rows: list[Row]) -> dict[str, Any] | None:
        """``index_after`` from the plan's index and the applied rows; None: read it."""
        return None


def memory_key(task: KestraApiTask, ctx: RunContext, scope: str) -> str:
    """The name of what a sync or push task remembers of ``scope``: a hash of the task type,
    its URL without credentials, the scope, its configuration (and which properties were
    written explicitly) and the flow running it."""
    config = task.model_dump(mode="json", exclude=set(_NOT_IN_STATE_KEY))
    key_source = json.dumps(
        [
            type(task).type,
            redact_url(task.url),
            scope,
            config,
            sorted(task.model_fields_set - _NOT_IN_STATE_KEY),
            f"{ctx.flow.namespace}/{ctx.flow.id}",
        ],
        sort_keys=True,
    )
    return hashlib.sha256(key_source.encode()).hexdigest()[:32]


#: ``json.dumps(row, ensure_ascii=False)`` without building an encoder for every row
_ROW_JSON = json.JSONEncoder(ensure_ascii=False).encode


def _count(rows: list[Row]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.sync_state.value] = counts.get(row.sync_state.value, 0) + 1
    return counts or {"nothing": 0}
