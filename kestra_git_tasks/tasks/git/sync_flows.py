"""``io.kestra.plugin.git.SyncFlows``: Git is the source of truth for a namespace's flows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ...errors import ConfigError, FlowFileError, FlowValidationError
from ...ids import NAMESPACE_PATTERN
from ...instance.base import FlowRecord, Instance, namespace_matches
from ...yamlio import LineDict, load_yaml, top_level_identity
from .._base import Output as TaskOutput
from ._sync import Entry, GitTree, SyncPlan, SyncState, SyncTask, Write, build_plan, unchanged_rows

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["SyncFlows", "next_revision", "prepare_flow", "rewrite_namespace"]

FLOW_SUFFIXES = (".yml", ".yaml")
SYSTEM_NAMESPACE = "system"


def prepare_flow(source: str, namespace: str) -> tuple[str, tuple[str, str] | None]:
    """``source`` with its top-level ``namespace:`` set to ``namespace``, and the flow's
    ``(namespace, id)`` when it can be read; the YAML is parsed once.

    Only the flow's own key is touched (found by parsing, so ``namespace:  x`` and quoted values
    work too); indented keys of subflow tasks or triggers are left alone. A source that does not
    parse, or has no top-level ``namespace``, is returned unchanged: validation reports it.
    """
    quick = top_level_identity(source)
    if quick is not None:  # plain `id:` / `namespace:` lines: rewrite without parsing
        _, quick_id, start, end = quick
        comment = re.search(r"\s+#.*$", source[start:end])
        new_line = f"namespace: {namespace}{comment.group(0) if comment else ''}"
        return source[:start] + new_line + source[end:], (namespace, quick_id)
    try:
        document = load_yaml(source)
    except FlowFileError:
        return source, None
    if not isinstance(document, LineDict):
        return source, None
    flow_id, declared = document.get("id"), document.get("namespace")
    if "namespace" not in document:
        return source, None
    line_number = document.key_lines["namespace"]
    lines = source.splitlines(keepends=True)
    old = lines[line_number - 1]
    if not old.startswith("namespace:") or old.rstrip("\r\n").rstrip().endswith((":", "|", ">")):
        # a flow or block style we do not rewrite by text; validation decides
        valid = isinstance(flow_id, str) and isinstance(declared, str)
        return source, (str(declared), str(flow_id)) if valid else None
    ending = old[len(old.rstrip("\r\n")) :]
    comment = re.search(r"\s+#.*$", old.rstrip("\r\n"))
    lines[line_number - 1] = f"namespace: {namespace}{comment.group(0) if comment else ''}{ending}"
    identity = (namespace, flow_id) if isinstance(flow_id, str) else None
    return "".join(lines), identity


def rewrite_namespace(source: str, namespace: str) -> str:
    """``source`` with its top-level ``namespace:`` line set to ``namespace`` (see
    :func:`prepare_flow`)."""
    return prepare_flow(source, namespace)[0]


def _delete_entry(record: FlowRecord) -> Entry:
    row = {
        "gitPath": None,
        "syncState": SyncState.DELETED.value,
        "flowId": record.id,
        "namespace": record.namespace,
        "revision": record.revision,
    }
    return row, Write("delete_flow", namespace=record.namespace, key=record.id)


def next_revision(instance: Instance, namespace: str, flow_id: str) -> int:
    """The revision a save of a new or changed flow gets: deleted revisions count too."""
    revisions = instance.flow_revisions(namespace, flow_id)
    return revisions[-1].revision + 1 if revisions else 1


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
        pattern=NAMESPACE_PATTERN.pattern,
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

    # -- plan ----------------------------------------------------------------------------------
    def plan(self, ctx: RunContext) -> SyncPlan:
        instance = ctx.require_instance()
        cache, commit = self.fetch(ctx)
        scope = self.target_namespace
        state = self.load_state(ctx, scope)
        index = instance.flow_index(scope, include_children=self.include_child_namespaces)
        if state.get("commit") == commit and state.get("index") == index:
            ctx.info(f"branch '{self.branch}' still at {commit[:12]} and instance unchanged")
            rows = unchanged_rows(state.get("rows", []))
            return SyncPlan(commit, rows, state={"scope": scope, "unchanged": True})
        tree = self.read_git(cache, commit, self.git_directory, ctx)
        previous = state.get("blobs")
        if state.get("clean") and state.get("index") == index and isinstance(previous, dict):
            plan = self._replan(ctx, tree, state, previous)
        else:
            plan = self.plan_from_tree(ctx, tree, state)
        plan.state.update(index=index, blobs=tree.files)
        return plan

    def _replan(
        self, ctx: RunContext, tree: GitTree, state: dict[str, Any], previous: dict[str, str]
    ) -> SyncPlan:
        """The plan when only some files moved since the last sync, whose result the instance
        still holds unchanged: only the files that changed are read, parsed and validated.

        Gives the same rows as :meth:`plan_from_tree` (tests compare both on histories).
        """
        instance = ctx.require_instance()
        changed = {rel for rel, blob in tree.files.items() if previous.get(rel) != blob}
        gone_files = set(previous) - set(tree.files)
        ctx.log("DEBUG", f"{len(changed)} changed and {len(gone_files)} removed file(s) in Git")
        prior_rows = {r["gitPath"]: r for r in state.get("rows", []) if r.get("gitPath")}
        kept: dict[str, dict[str, Any]] = {}  # uid -> row of a file that did not change
        for relative in tree.files.keys() - changed:
            row = prior_rows.get(tree.git_path(relative))
            if row is not None:
                kept[f"{row['namespace']}/{row['flowId']}"] = row
        subset = GitTree(
            tree.commit, tree.directory, {r: tree.files[r] for r in changed}, tree.reader
        )
        candidates = self._git_flows(ctx, subset)
        git_flows, protected = self._valid_flows(ctx, candidates, instance)
        for uid, (git_path, _) in git_flows.items():
            if uid in kept:
                raise ConfigError(
                    f"{git_path} and {kept[uid]['gitPath']} both declare flow {uid}; keep one "
                    "of them (a flow is identified by its namespace and id, not its file name)"
                )
        existing = {}
        for uid in git_flows:
            namespace, flow_id = uid.split("/", 1)
            record = instance.get_flow(namespace, flow_id)
            if record is not None:
                existing[uid] = record
        entries: list[Entry] = [
            ({**row, "syncState": SyncState.UNCHANGED.value}, None) for row in kept.values()
        ]
        drifted: list[str] = []
        entries += self._flow_entries(ctx, git_flows, existing, state, drifted)
        if self.delete:
            before = {
                f"{row['namespace']}/{row['flowId']}"
                for path, row in prior_rows.items()
                if path[len(tree.directory) + 1 if tree.directory else 0 :] in changed | gone_files
            }
            gone = sorted(before - set(git_flows) - set(kept))
            records = []
            for uid in gone:
                record = instance.get_flow(*uid.split("/", 1))
                if record is not None and self._may_delete(ctx, record, uid, protected):
                    records.append(record)
            total = len(git_flows) + len(kept)
            self.check_empty_guard(total, len(records), f"namespace {self.target_namespace}")
            entries += [_delete_entry(record) for record in records]
        plan = build_plan(tree.commit, entries, self.target_namespace, drifted)
        plan.state["clean"] = not protected and not drifted
        return plan

    def plan_from_tree(self, ctx: RunContext, tree: GitTree, state: dict[str, Any]) -> SyncPlan:
        """The plan for a listed Git tree (no network from here on)."""
        instance = ctx.require_instance()
        candidates = self._git_flows(ctx, tree)
        git_flows, protected = self._valid_flows(ctx, candidates, instance)
        existing = {
            f"{record.namespace}/{record.id}": record
            for record in instance.list_flows(
                self.target_namespace, include_children=self.include_child_namespaces
            )
        }
        drifted: list[str] = []
        entries = self._flow_entries(ctx, git_flows, existing, state, drifted)
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
        plan.state["clean"] = not protected and not drifted
        return plan

    def _valid_flows(
        self,
        ctx: RunContext,
        candidates: list[tuple[str, str, tuple[str, str] | None]],
        instance: Instance,
    ) -> tuple[dict[str, tuple[str, str]], set[str]]:
        """Validate every candidate in one go: ``uid -> (gitPath, source)`` of the valid ones,
        and the uids of invalid flows skipped under ``ignoreInvalidFlows`` (never deleted)."""
        problems = instance.validate_flows([source for _, source, _ in candidates])
        git_flows: dict[str, tuple[str, str]] = {}
        protected: set[str] = set()
        invalid: list[str] = []
        for (git_path, source, identity), flow_problems in zip(candidates, problems, strict=True):
            uid = f"{identity[0]}/{identity[1]}" if identity else None
            if flow_problems:
                message = f"Invalid flow imported from Git ({git_path}): {'; '.join(flow_problems)}"
                if not self.ignore_invalid_flows:
                    invalid.append(message)
                    continue
                ctx.warn(message)
                if uid:
                    protected.add(uid)
                continue
            assert uid is not None  # a valid flow has an id and a namespace
            if uid in git_flows:
                raise ConfigError(
                    f"{git_path} and {git_flows[uid][0]} both declare flow {uid}; keep one of "
                    "them (a flow is identified by its namespace and id, not its file name)"
                )
            git_flows[uid] = (git_path, source)
        if invalid:
            more = f" (and {len(invalid) - 1} more invalid flow(s))" if len(invalid) > 1 else ""
            raise FlowValidationError(invalid[0] + more, constraints=invalid)
        return git_flows, protected

    def _flow_entries(
        self,
        ctx: RunContext,
        git_flows: dict[str, tuple[str, str]],
        existing: dict[str, FlowRecord],
        state: dict[str, Any],
        drifted: list[str],
    ) -> list[Entry]:
        """A row (and the write, if any) for each Git flow; drifted flows are appended."""
        instance = ctx.require_instance()
        synced: dict[str, int] = state.get("index", {})
        entries: list[Entry] = []
        for uid, (git_path, source) in git_flows.items():
            namespace, flow_id = uid.split("/", 1)
            current = existing.get(uid)
            row = {
                "gitPath": git_path,
                "syncState": SyncState.ADDED.value,
                "flowId": flow_id,
                "namespace": namespace,
                "revision": 1,
            }
            if current is None and self.dry_run:  # the apply reports the real revision
                row["revision"] = next_revision(instance, namespace, flow_id)
            if current is not None and current.source == source:
                row.update(syncState=SyncState.UNCHANGED.value, revision=current.revision)
                entries.append((row, None))
                continue
            if current is not None:
                row.update(syncState=SyncState.UPDATED.value, revision=current.revision + 1)
                if uid in synced and synced[uid] != current.revision:
                    drifted.append(uid)
                    ctx.warn(
                        f"flow {uid} was edited in the instance since the last sync (revision "
                        f"{current.revision}, the sync wrote {synced[uid]}); Git wins, revision "
                        f"{current.revision} stays in the flow's history"
                    )
            entries.append((row, Write("put_flow", source=source)))
        return entries

    def _git_flows(
        self, ctx: RunContext, tree: GitTree
    ) -> list[tuple[str, str, tuple[str, str] | None]]:
        """``(gitPath, source with its namespace rewritten, identity)`` of every flow file."""
        flows = []
        for relative in sorted(tree.files, key=lambda p: (p.count("/"), p)):
            folder, _, name = relative.rpartition("/")
            if folder and not self.include_child_namespaces:
                continue
            git_path = tree.git_path(relative)
            if not name.endswith(FLOW_SUFFIXES):
                ctx.log("DEBUG", f"skipped {git_path}: only .yml and .yaml files are flows")
                continue
            raw = tree.read(relative)
            try:
                source = raw.decode("utf-8")
            except UnicodeDecodeError:
                source = raw.decode("utf-8", "replace")
            namespace = self.target_namespace + ("." + folder.replace("/", ".") if folder else "")
            flows.append((git_path, *prepare_flow(source, namespace)))
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
    def index_after(self, ctx: RunContext) -> dict[str, Any]:
        return ctx.require_instance().flow_index(
            self.target_namespace, include_children=self.include_child_namespaces
        )

    def make_output(self, rows: list[dict[str, Any]], plan: SyncPlan, diff_file: Path) -> Output:
        return self.Output(
            flows=rows, diff_file=str(diff_file), commit_id=plan.commit, drifted=plan.drifted
        )
