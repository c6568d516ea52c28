"""``io.kestra.plugin.git.SyncFlows``: Git is the source of truth for a namespace's flows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_serializer

from ...errors import FlowValidationError
from ...flow import source_warnings
from ...flowfile import child_namespace, is_flow_file
from ...ids import NAMESPACE_FIELD
from ...instance.base import FlowRecord, Instance, namespace_matches
from ...sync_store import StoreError
from ...validated import remembering
from .._base import Output as TaskOutput
from .._base import typed_output
from ._flow_memory import forget_flow_memory, load_flow_memory, save_flow_memory
from ._sync import (
    Entry,
    FlowRow,
    GitTree,
    SyncMemory,
    SyncPlan,
    SyncState,
    SyncTask,
    Write,
    WriteAction,
    build_plan,
    normalise_directory,
    rows_as_list,
)
from ._sync_flow_files import _CHUNK, _Candidate, _delete_entry, _duplicate, _GitFile, next_revision

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["SyncFlows", "next_revision"]

SYSTEM_NAMESPACE = "system"


class SyncFlows(SyncTask):
    """Sync flows from Git to the instance.

    Reads the flows under `gitDirectory` on `branch` and makes the instance match them:
    each flow is saved into `targetNamespace` (sub-folders map to child namespaces with
    `includeChildNamespaces`), and with `delete: true` flows in scope that are no longer in Git
    are deleted. The whole plan is computed and every flow validated before the first write,
    and the writes happen all or nothing. Only `.yml` / `.yaml` files are flows; a root
    `.kestraignore` (gitignore syntax) excludes paths. Each flow's top-level `namespace:` is
    rewritten to where it lands. A flow edited in the instance since the last sync is reported
    in `drifted` and overwritten; its previous revision stays in the instance's history.

    Examples:

    Sync every flow of a repository into `git` and its child namespaces, every minute:

    ```yaml
    id: sync_from_git
    namespace: system
    tasks:
      - id: git
        type: io.kestra.plugin.git.SyncFlows
        url: https://github.com/kestra-io/scripts
        branch: main
        username: git_username
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
        targetNamespace: git
        includeChildNamespaces: true
        gitDirectory: flows
        delete: true
    triggers:
      - id: schedule
        type: io.kestra.plugin.core.trigger.Schedule
        cron: "*/1 * * * *"
    ```

    See what a sync would change, without changing anything:

    ```yaml
    id: sync_dry_run
    namespace: system
    tasks:
      - id: plan
        type: io.kestra.plugin.git.SyncFlows
        url: https://github.com/kestra-io/scripts
        targetNamespace: prod
        dryRun: true
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.git.SyncFlows"
    rows_output: ClassVar[str] = "flows"

    target_namespace: str = Field(
        description="Namespace the flows are written to; also the scope of `delete`.",
        pattern=NAMESPACE_FIELD,
    )
    git_directory: str = Field(
        default="_flows", description="Folder of the repository holding the flows."
    )
    include_child_namespaces: bool = Field(
        default=False,
        description="Also sync sub-folders, each into the child namespace of the same path "
        "(`a/b/f.yml` -> `<targetNamespace>.a.b`); `delete` then covers child namespaces too.",
    )
    ignore_invalid_flows: bool = Field(
        default=False,
        description="Skip invalid flows with a warning instead of failing the sync. A skipped "
        "flow is never deleted from the instance.",
    )

    class Output(TaskOutput):
        """Outputs of SyncFlows."""

        flows: list[dict[str, Any]] = Field(
            description="Diff rows `{gitPath, syncState, flowId, namespace, revision}`, sorted "
            "by `gitPath`, deletions (no `gitPath`) first."
        )
        diff_file: str = Field(description="The same rows as a JSON Lines file.")
        commit_id: str | None = Field(description="The commit that was synced.")
        drifted: list[str] = Field(
            description="`namespace/id` of flows edited in the instance since the last sync."
        )

        @field_serializer("flows")
        def _flows_as_list(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
            return rows_as_list(rows)  # a no-change run's rows are parsed here (SyncRows)

    # -- plan ----------------------------------------------------------------------------------
    def run(self, ctx: RunContext) -> Output:
        """Run the task; the outputs are this task's ``Output``."""
        return typed_output(super().run(ctx), SyncFlows.Output)

    def plan(self, ctx: RunContext) -> SyncPlan:
        instance = ctx.require_instance()
        cache, commit = self.fetch(ctx)
        scope = self.target_namespace
        stamp = self.stamp(ctx)
        quick = self.quick_unchanged(ctx, scope, commit, stamp)
        if quick is not None:
            return quick
        from ._sync_delta import plan_delta  # not loaded by a no-change run

        delta = plan_delta(self, ctx, cache, commit, stamp)  # O(changed), when it can be
        if delta is not None:
            return delta
        memory = self.load_state(ctx, scope)
        if stamp is not None and stamp == memory.stamp and memory.index is not None:
            index = memory.index  # nothing in scope was written since: O(1), no index read
        else:
            index = instance.flow_index(scope, include_children=self.include_child_namespaces)
        if memory.commit == commit and memory.index == index:
            ctx.info(f"branch '{self.branch}' still at {commit[:12]} and instance unchanged")
            return SyncPlan(commit, memory.unchanged_rows(), memory=memory, unchanged=True)
        tree = self.read_git(cache, commit, self.git_directory, ctx)
        if memory.clean and memory.index == index and memory.blobs is not None:
            plan = self._replan(ctx, tree, memory, memory.blobs)
        else:
            plan = self.plan_from_tree(ctx, tree, memory)
        plan.memory.index, plan.memory.blobs, plan.memory.stamp = index, tree.files, stamp
        plan.ignore = tree.ignore
        return plan

    def _replan(
        self, ctx: RunContext, tree: GitTree, memory: SyncMemory, previous: dict[str, str]
    ) -> SyncPlan:
        """The plan when only some files moved since the last sync, whose result the instance
        still holds unchanged: only the files that changed are read, parsed and validated.

        Gives the same rows as :meth:`plan_from_tree` (tests compare both on histories).
        """
        instance = ctx.require_instance()
        changed = {rel for rel, blob in tree.files.items() if previous.get(rel) != blob}
        gone_files = set(previous) - set(tree.files)
        ctx.log("DEBUG", f"{len(changed)} changed and {len(gone_files)} removed file(s) in Git")
        prior_rows = {
            row.git_path: row
            for row in memory.rows
            if isinstance(row, FlowRow) and row.git_path is not None
        }
        kept: dict[str, FlowRow] = {}  # uid -> row of a file that did not change
        for relative in tree.files.keys() - changed:
            row = prior_rows.get(tree.git_path(relative))
            if row is not None:
                kept[row.uid] = row
        subset = GitTree(
            tree.commit, tree.directory, {r: tree.files[r] for r in changed}, tree.reader
        )
        git_flows, protected = self._valid_flows(ctx, self._git_flows(ctx, subset), instance)
        for uid, (git_path, _) in git_flows.items():
            if uid in kept:
                raise _duplicate(git_path, str(kept[uid].git_path), uid)
        existing = {}
        for uid in git_flows:
            record = instance.get_flow(*uid.split("/", 1))
            if record is not None:
                existing[uid] = record
        entries: list[Entry] = [
            (row.with_state(SyncState.UNCHANGED), None) for row in kept.values()
        ]
        drifted: list[str] = []
        entries += self._flow_entries(ctx, git_flows, existing, memory, drifted)
        if self.delete:
            skip = len(tree.directory) + 1 if tree.directory else 0
            before = {
                row.uid for path, row in prior_rows.items() if path[skip:] in changed | gone_files
            }
            records = []
            for uid in sorted(before - set(git_flows) - set(kept)):
                record = instance.get_flow(*uid.split("/", 1))
                if record is not None and self._may_delete(ctx, record, uid, protected):
                    records.append(record)
            total = len(git_flows) + len(kept)
            self.check_empty_guard(total, len(records), f"namespace {self.target_namespace}")
            entries += [_delete_entry(record) for record in records]
        plan = build_plan(tree.commit, entries, self.target_namespace, drifted)
        plan.memory.clean = not protected and not drifted
        return plan

    def plan_from_tree(
        self, ctx: RunContext, tree: GitTree, memory: SyncMemory | None = None
    ) -> SyncPlan:
        """The plan for a listed Git tree (no network from here on)."""
        instance = ctx.require_instance()
        memory = memory or SyncMemory(self.target_namespace)
        git_flows, protected = self._valid_flows(ctx, self._git_flows(ctx, tree), instance)
        existing = {
            f"{record.namespace}/{record.id}": record
            for record in instance.list_flows(
                self.target_namespace, include_children=self.include_child_namespaces
            )
        }
        drifted: list[str] = []
        entries = self._flow_entries(ctx, git_flows, existing, memory, drifted)
        if self.delete:
            deletes = [
                record
                for uid, record in sorted(existing.items())
                if uid not in git_flows and self._may_delete(ctx, record, uid, protected)
            ]
            self.check_empty_guard(
                len(git_flows), len(deletes), f"namespace {self.target_namespace}"
            )
            entries += [_delete_entry(record) for record in deletes]
        plan = build_plan(tree.commit, entries, self.target_namespace, drifted)
        plan.memory.clean = not protected and not drifted
        return plan

    def _prepared(
        self, files: list[_GitFile], instance: Instance
    ) -> tuple[list[_Candidate], dict[int, list[str]]]:
        """Each file's namespace set (:func:`prepare_flow`) and its problems, by ``id()`` of its
        candidate (a candidate with a ``problem`` has none: it is not validated).

        Validated first, then prepared: the instance's validator parses each flow once, and a
        local one hands that parse to :func:`prepare_flow`'s identity check. A flow whose
        namespace line is not a plain one is validated again once prepared. The files go in
        chunks, so that what is remembered between the two steps stays bounded.
        """
        candidates: list[_Candidate] = []
        problems: dict[int, list[str]] = {}
        for first in range(0, len(files), _CHUNK):
            chunk = files[first : first + _CHUNK]
            shortcuts = [file.shortcut() for file in chunk]
            guesses = [  # each source as it is most likely stored
                shortcut or file.source
                for file, shortcut in zip(chunk, shortcuts, strict=True)
                if not file.problem
            ]
            found = dict(zip(guesses, instance.validate_flows(guesses), strict=True))
            again: list[_Candidate] = []
            for file, shortcut in zip(chunk, shortcuts, strict=True):
                candidate = file.candidate(shortcut)
                candidates.append(candidate)
                if candidate.problem is not None:
                    continue
                if candidate.source in found:
                    problems[id(candidate)] = found[candidate.source]
                else:
                    again.append(candidate)
            answers = instance.validate_flows([c.source for c in again]) if again else []
            problems.update(zip(map(id, again), answers, strict=True))
        return candidates, problems

    def _valid_flows(
        self, ctx: RunContext, files: list[_GitFile], instance: Instance
    ) -> tuple[dict[str, tuple[str, str]], set[str]]:
        """Validate every flow file: ``uid -> (gitPath, source)`` of the valid ones, and the
        uids of invalid flows skipped under ``ignoreInvalidFlows`` (never deleted)."""
        with remembering(ctx.home):  # sources found valid before are not parsed again
            candidates, problems = self._prepared(files, instance)
        git_flows: dict[str, tuple[str, str]] = {}
        protected: set[str] = set()
        invalid: list[str] = []
        for candidate in candidates:
            found = [candidate.problem] if candidate.problem else problems[id(candidate)]
            if not found and candidate.identity is None:
                found = ["the flow has no readable top-level id and namespace"]
            uid = "/".join(candidate.identity) if candidate.identity else None
            if found:
                message = (
                    f"Invalid flow imported from Git ({candidate.git_path}): {'; '.join(found)}"
                )
                if not self.ignore_invalid_flows:
                    invalid.append(message)
                    continue
                ctx.warn(message)
                if uid:
                    protected.add(uid)
                continue
            assert uid is not None
            if uid in git_flows:
                raise _duplicate(candidate.git_path, git_flows[uid][0], uid)
            for warning in source_warnings(candidate.source):  # types of custom plugins
                ctx.warn(f"{candidate.git_path}: {warning}")
            git_flows[uid] = (candidate.git_path, candidate.source)
        if invalid:
            more = f" (and {len(invalid) - 1} more invalid flow(s))" if len(invalid) > 1 else ""
            raise FlowValidationError(invalid[0] + more, constraints=invalid)
        return git_flows, protected

    def _flow_entries(
        self,
        ctx: RunContext,
        git_flows: dict[str, tuple[str, str]],
        existing: dict[str, FlowRecord],
        memory: SyncMemory,
        drifted: list[str],
    ) -> list[Entry]:
        """A row (and the write, if any) for each Git flow; drifted flows are appended."""
        instance = ctx.require_instance()
        synced: dict[str, int] = memory.index or {}
        entries: list[Entry] = []
        for uid, (git_path, source) in git_flows.items():
            namespace, flow_id = uid.split("/", 1)
            current = existing.get(uid)
            if current is not None and current.source == source:
                row = FlowRow(git_path, SyncState.UNCHANGED, flow_id, namespace, current.revision)
                entries.append((row, None))
                continue
            if current is None:
                # the apply reports the real revision; a dry run projects it
                revision = next_revision(instance, namespace, flow_id) if self.dry_run else 1
                row = FlowRow(git_path, SyncState.ADDED, flow_id, namespace, revision)
            else:
                row = FlowRow(git_path, SyncState.UPDATED, flow_id, namespace, current.revision + 1)
                if uid in synced and synced[uid] != current.revision:
                    drifted.append(uid)
                    ctx.warn(
                        f"flow {uid} was edited in the instance since the last sync (revision "
                        f"{current.revision}, the sync wrote {synced[uid]}); Git wins, revision "
                        f"{current.revision} stays in the flow's history"
                    )
            entries.append((row, Write(WriteAction.PUT_FLOW, source=source)))
        return entries

    def _git_flows(self, ctx: RunContext, tree: GitTree) -> list[_GitFile]:
        """Every flow file in scope, read, with the namespace it lands in."""
        flows = []
        for relative in sorted(tree.files, key=lambda p: (p.count("/"), p)):
            folder, _, name = relative.rpartition("/")
            if folder and not self.include_child_namespaces:
                continue
            if not is_flow_file(name):
                ctx.log(
                    "DEBUG",
                    f"skipped {tree.git_path(relative)}: only .yml and .yaml files are flows",
                )
                continue
            git_path = tree.row_path(relative)
            raw = tree.read(relative)
            try:
                source = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problem = f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"
                flows.append(_GitFile(git_path, "", "", problem))
                continue
            flows.append(_GitFile(git_path, source, child_namespace(self.target_namespace, folder)))
        return flows

    def _may_delete(
        self, ctx: RunContext, record: FlowRecord, uid: str, protected: set[str]
    ) -> bool:
        if record.namespace == ctx.flow.namespace and record.id == ctx.flow.id:
            ctx.info(f"kept {uid}: it is the flow running this sync")
            return False
        if uid in protected:
            ctx.info(f"kept {uid}: its Git file is invalid and was skipped")
            return False
        if namespace_matches(record.namespace, SYSTEM_NAMESPACE, True) and not namespace_matches(
            self.target_namespace, SYSTEM_NAMESPACE, True
        ):
            ctx.info(f"kept {uid}: the system namespace is only changed when it is the target")
            return False
        return True

    # -- output and state ----------------------------------------------------------------------
    def load_state(self, ctx: RunContext, scope: str) -> SyncMemory:
        return load_flow_memory(self.state_path(ctx, scope), scope)

    def remember(self, ctx: RunContext, plan: SyncPlan, memory: SyncMemory) -> None:
        """The keyed store (``_flow_memory.py``), with what the O(changed) path needs: the
        folder's ``.kestraignore`` and whether it holds links (then it is never taken)."""
        links = self.clone_submodules or memory.commit is None
        if not links:
            directory = normalise_directory(self.git_directory)
            differ = self.repo_cache(ctx).tree_differ(self.url)
            links = differ.holds_links(str(memory.commit), directory)
        path = self.state_path(ctx, memory.scope)
        try:
            save_flow_memory(path, memory, links=links, ignore=plan.ignore)
        except StoreError as exc:
            ctx.warn(f"could not remember this sync ({exc}); the next sync plans from scratch")
            forget_flow_memory(path)

    def index_after(self, ctx: RunContext) -> dict[str, Any]:
        return ctx.require_instance().flow_index(
            self.target_namespace, include_children=self.include_child_namespaces
        )

    def stamp(self, ctx: RunContext) -> str | None:
        return ctx.require_instance().change_stamp(
            "flow", self.target_namespace, include_children=self.include_child_namespaces
        )

    def index_from_rows(self, plan: SyncPlan, rows: list[Any]) -> dict[str, Any] | None:
        if plan.memory.index is None:
            return None
        index = dict(plan.memory.index)
        for write in plan.writes:
            row = rows[write.row]
            if write.action == WriteAction.PUT_FLOW:
                index[row.uid] = row.revision
            else:
                index.pop(row.uid, None)
        return index

    def make_output(self, rows: list[dict[str, Any]], plan: SyncPlan, diff_file: Path) -> Output:
        return self.Output(
            flows=rows, diff_file=str(diff_file), commit_id=plan.commit, drifted=plan.drifted
        )
