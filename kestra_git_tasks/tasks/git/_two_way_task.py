"""``TwoWayTask``: the properties and the pipeline NamespaceSync and TenantSync share.

* ``sourceOfTruth: GIT``: the branch is fetched into the repository cache, every namespace in
  scope is planned (:mod:`._two_way`), every check runs (invalid flows, ``FAIL``, the empty
  guard), and only then the instance writes happen in one ``instance.batch()``: all or nothing.
* ``sourceOfTruth: KESTRA``: the instance side is read once; ``git.push.Pusher`` hands
  the branch tip's files to the plan, which returns exactly the edits; one commit is made
  only when the tree changed, pushed without force, retried on a moved branch and verified.
* ``dryRun``: the same plan, nothing written, no commit.

The outputs are Kestra's: ``diff`` holds the DiffLine rows (``{file, key, kind, action}``),
except after a real KESTRA -> Git push, where it holds the pushed commit's rows
(``{file, additions, deletions, changes}``, numbers); ``commitId``/``commitURL`` name the commit.
"""

from __future__ import annotations

import dataclasses
import json
from abc import abstractmethod
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ...git.push import Identity, Pusher, TreeView
from ...ids import NAMESPACE_PATTERN
from .._base import Output as TaskOutput
from .._base import secret_value
from ._kestra_api import KestraApiTask
from ._push import DEFAULT_IDENTITY, commit_url
from ._sync_plan import _write, normalise_directory
from ._two_way import (
    OnInvalidSyntax,
    Options,
    Plan,
    SourceOfTruth,
    WhenMissingInSource,
    check_plan,
    git_side,
    instance_side,
    plan_namespace,
)
from ._two_way_dashboards import DASHBOARDS_DIR, plan_dashboards

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["TwoWayTask"]

#: Lists the files under a folder of the repository (path relative to it -> blob id).
Lister = Callable[[str], dict[str, str]]


class TwoWayTask(KestraApiTask):
    """Shared properties and pipeline of NamespaceSync and TenantSync."""

    #: Also sync the tenant's dashboards (``_global/dashboards``): TenantSync.
    with_dashboards: ClassVar[bool] = False

    branch: str = Field(
        description="Branch to sync (no `origin/` or `refs/heads/` prefix). With "
        "`sourceOfTruth: GIT` it must exist; with KESTRA it is created from the default "
        "branch when missing."
    )
    git_directory: str | None = Field(
        default=None,
        description="Folder of the repository holding `<namespace>/flows` and "
        "`<namespace>/files`; the repository root when unset. A dotted namespace is one folder "
        "literally named `company.team`.",
    )
    source_of_truth: SourceOfTruth = Field(
        default=SourceOfTruth.KESTRA,
        description="KESTRA pushes the instance's state to Git; GIT applies Git's state to the "
        "instance.",
    )
    when_missing_in_source: WhenMissingInSource = Field(
        default=WhenMissingInSource.DELETE,
        description="An item the source of truth does not have: DELETE removes it from the "
        "other side, KEEP leaves it, FAIL stops the run before anything changes and names it.",
    )
    protected_namespaces: list[str] = Field(
        default_factory=lambda: ["system"],
        description="Namespaces (and their children) nothing is ever deleted from, on either side.",
    )
    on_invalid_syntax: OnInvalidSyntax = Field(
        default=OnInvalidSyntax.FAIL,
        description="A flow from Git that is invalid, or whose `namespace`/`id` do not match "
        "its folder and file name: FAIL stops the run before anything changes, WARN logs a "
        "warning and leaves it out, SKIP leaves it out.",
    )
    dry_run: bool = Field(
        default=False, description="Compute the diff without changing the instance or Git."
    )
    commit_message: str | None = Field(default=None, description="Commit message.")
    author_name: str | None = Field(
        default=None, description="Commit author name; falls back to `username`."
    )
    author_email: str | None = Field(default=None, description="Commit author e-mail.")
    allow_empty: bool = Field(
        default=False,
        description="Allow DELETE to remove everything in scope when the source of truth holds "
        "nothing for it. Off by default: an empty side is more often a mistake (a misspelt "
        "folder, branch or namespace) than an intent.",
    )
    push_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="How many times to rebuild the commit on the new tip and push again when "
        "the branch moved meanwhile.",
    )

    class Output(TaskOutput):
        """Outputs of the two-way syncs."""

        diff: list[dict[str, Any]] = Field(
            description="DiffLine rows `{file, key, kind, action}` (UNCHANGED left out); after "
            "a KESTRA -> Git push, the commit's rows `{file, additions, deletions, changes}`."
        )
        diff_file: str = Field(description="The same rows as a JSON Lines file.")
        commit_id: str | None = Field(description="The commit pushed; null when none.")
        commit_url: str | None = Field(
            alias="commitURL", description="Web URL of the commit pushed; null when none."
        )

    # -- to implement --------------------------------------------------------------------------
    @abstractmethod
    def scope(self, ctx: RunContext) -> str:
        """What the task syncs, for messages (``namespace dev``, ``the tenant``)."""

    @abstractmethod
    def git_namespaces(self, lister: Lister, directory: str) -> dict[str, dict[str, str]]:
        """Namespace -> its files in Git (relative to ``<directory>/<namespace>``)."""

    @abstractmethod
    def instance_namespaces(self, ctx: RunContext) -> list[str]:
        """The namespaces of the instance in scope."""

    @abstractmethod
    def default_commit_message(self) -> str:
        """Kestra's default commit message."""

    # -- the pipeline --------------------------------------------------------------------------
    def run(self, ctx: RunContext) -> Output:
        with self.kestra_scope(ctx):
            return self._run(ctx)

    def options(self, ctx: RunContext) -> Options:
        return Options(
            self.source_of_truth,
            self.when_missing_in_source,
            tuple(self.protected_namespaces),
            self.on_invalid_syntax,
            (ctx.flow.namespace, ctx.flow.id),
        )

    def namespaces(self, ctx: RunContext, in_git: dict[str, dict[str, str]]) -> list[str]:
        """Namespaces planned: the instance's, plus Git's when Git is the source of truth."""
        names = set(self.instance_namespaces(ctx))
        if self.source_of_truth == SourceOfTruth.GIT:
            names |= {name for name in in_git if NAMESPACE_PATTERN.fullmatch(name)}
        return sorted(names)

    def _run(self, ctx: RunContext) -> Output:
        self.register_secrets(ctx)
        ctx.info(f"Now syncing {self.scope(ctx)} ({self.source_of_truth} is the source of truth)")
        directory = normalise_directory(self.git_directory or "")
        commit_id = None
        if self.source_of_truth == SourceOfTruth.GIT:
            plan = self._from_git(ctx, directory)
            rows = [line.to_dict() for line in plan.lines]
        else:
            plan, commit_id, rows = self._to_git(ctx, directory)
        verb = "would change" if self.dry_run else "changed"
        ctx.info(f"{verb}: {len(plan.lines)} item(s)")
        diff_file = ctx.output_dir / f"{ctx.task_id or 'sync'}-diff.jsonl"
        diff_file.write_text(
            "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
        )
        url = commit_url(self.url, commit_id, self.branch) if commit_id else None
        return self.Output(diff=rows, diff_file=str(diff_file), commit_id=commit_id, commit_url=url)

    def _from_git(self, ctx: RunContext, directory: str) -> Plan:
        """Plan Git -> instance over every namespace in scope, check, then apply (unless dry)."""
        cache = self.repo_cache(ctx)
        commit = cache.fetch_branch(
            self.url, self.branch, self.credentials(), self.transport_options(ctx)
        )
        url = self.url

        def lister(folder: str) -> dict[str, str]:
            return cache.list_tree(url, commit, folder) or {}

        in_git = self.git_namespaces(lister, directory)
        instance = ctx.require_instance()
        options = self.options(ctx)
        plan = Plan()
        read = partial(cache.read_blob, url)
        for namespace in self.namespaces(ctx, in_git):
            side = git_side(in_git.get(namespace, {}), namespace, read)
            kestra = instance_side(instance, namespace)
            plan.extend(plan_namespace(namespace, side, kestra, options, ctx))
        if self.with_dashboards:
            listed = lister(_join(directory, DASHBOARDS_DIR))
            ours = {record.id: record.source for record in instance.list_dashboards()}
            plan.extend(plan_dashboards(listed, read, ours, options, ctx))
        check_plan(plan, options, self.allow_empty, self.scope(ctx))
        if (plan.writes or plan.dashboards) and not self.dry_run:
            changes = len(plan.writes) + len(plan.dashboards)
            ctx.info(f"applying {changes} change(s) from commit {commit[:12]}")
            with instance.batch():
                for write in plan.writes:
                    _write(instance, write)
                for key, source in plan.dashboards.items():
                    if source is None:
                        instance.delete_dashboard(key)
                    else:
                        instance.put_dashboard(source)
        return plan

    def _to_git(
        self, ctx: RunContext, directory: str
    ) -> tuple[Plan, str | None, list[dict[str, Any]]]:
        """Plan instance -> Git on each tip the pusher offers; commit and push the edits."""
        instance = ctx.require_instance()
        options = self.options(ctx)
        kestra = {name: instance_side(instance, name) for name in self.instance_namespaces(ctx)}
        ours = (
            {record.id: record.source for record in instance.list_dashboards()}
            if self.with_dashboards
            else {}
        )
        prefix = f"{directory}/" if directory else ""
        planned: list[Plan] = []

        def changes(view: TreeView) -> dict[str, bytes | None]:
            in_git = self.git_namespaces(view.files, directory)
            plan = Plan()
            for namespace in sorted(kestra):
                side = git_side(in_git.get(namespace, {}), namespace, view.read)
                plan.extend(plan_namespace(namespace, side, kestra[namespace], options, ctx))
            if self.with_dashboards:
                listed = view.files(_join(directory, DASHBOARDS_DIR))
                plan.extend(plan_dashboards(listed, view.read, ours, options, ctx))
            check_plan(plan, options, self.allow_empty, self.scope(ctx))
            planned.append(plan)
            return {prefix + path: content for path, content in plan.edits.items()}

        author, committer = self.identities()
        result = Pusher(self.repo_cache(ctx)).push_changes(
            self.url,
            self.branch,
            changes,
            message=self.commit_message or self.default_commit_message(),
            author=author,
            committer=committer,
            credentials=self.credentials(),
            options=self.transport_options(ctx),
            attempts=self.push_attempts,
            dry_run=self.dry_run,
        )
        plan = planned[-1]
        if self.dry_run or result.commit_id is None:
            if not self.dry_run:
                ctx.info("No changes to commit.")
            return plan, None, [line.to_dict() for line in plan.lines]
        ctx.info(f"pushed {result.commit_id[:12]} to '{self.branch}'")
        rows: list[dict[str, Any]] = [dataclasses.asdict(row) for row in result.rows]
        return plan, result.commit_id, rows

    def identities(self) -> tuple[Identity, Identity]:
        """``authorName`` (else ``username``) and ``authorEmail`` when both resolve, else a
        neutral default identity."""
        name = self.author_name or secret_value(self.username)
        if name and self.author_email:
            person = Identity(name, self.author_email)
            return person, person
        return DEFAULT_IDENTITY, DEFAULT_IDENTITY


def _join(directory: str, folder: str) -> str:
    return f"{directory}/{folder}" if directory else folder
