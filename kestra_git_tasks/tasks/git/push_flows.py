"""``io.kestra.plugin.git.PushFlows``: commit and push the instance's flows to Git."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ...flowfile import child_namespace, is_flow_file, rewrite_namespaces
from ...ids import FLOW_ID_PATTERN, NAMESPACE_FIELD, NAMESPACE_PATTERN
from .._base import Output as TaskOutput
from .._base import typed_output
from ._push import Globs, PushTask, java_glob_matches

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["PushFlows", "strip_revision"]

_REVISION_LINE = re.compile(r"^revision:[ \t]*\d+[ \t]*(?:\r?\n|$)", re.MULTILINE)


def strip_revision(source: str) -> str:
    """``source`` without top-level ``revision: N`` lines (the instance owns revisions)."""
    return _REVISION_LINE.sub("", source)


class PushFlows(PushTask):
    """Commit and push flows from the instance to Git.

    Exports the flows of `sourceNamespace` (and its child namespaces with
    `includeChildNamespaces`) to `<gitDirectory>/<child namespace path>/<flowId>.yml`, with
    `revision:` lines removed and the namespace rewritten to `targetNamespace` when set. The
    commit is made on the branch's tip only when something changed, and the task reports
    success only once the remote branch points at it; if the branch moved meanwhile, the commit
    is rebuilt on the new tip and pushed again. With `delete` (the default), flow files whose
    flow no longer exists are removed.

    Examples:

    Push the `dev` namespace's flows to the `kestra` branch every hour, as `prod` flows:

    ```yaml
    id: push_to_git
    namespace: system
    tasks:
      - id: commit_and_push
        type: io.kestra.plugin.git.PushFlows
        url: https://github.com/kestra-io/scripts
        sourceNamespace: dev
        targetNamespace: prod
        flows: "*"
        branch: kestra
        username: github_username
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
        commitMessage: add flows from dev
    triggers:
      - id: schedule
        type: io.kestra.plugin.core.trigger.Schedule
        cron: "0 * * * *"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.git.PushFlows"
    rows_output: ClassVar[str] = "flows"

    source_namespace: str | None = Field(
        default=None,
        description="Namespace to export; defaults to the namespace of the flow running the "
        "task (`{{ flow.namespace }}`).",
        pattern=NAMESPACE_FIELD,
    )
    target_namespace: str | None = Field(
        default=None,
        description="Rewrite `sourceNamespace` (and its children) to this namespace in the "
        "pushed sources.",
        pattern=NAMESPACE_FIELD,
    )
    flows: Globs = Field(
        default=None,
        description="Globs on flow ids (a list, a JSON list, or one glob); all flows when unset. "
        "Java's `glob:` (the default: `*`, `?`, `**`, `{a,b}`, `[a-z]`) or `regex:`.",
    )
    include_child_namespaces: bool = Field(
        default=False,
        description="Also push child namespaces, into sub-folders named after them.",
    )
    git_directory: str = Field(
        default="_flows", description="Folder of the repository the flows are written to."
    )

    class Output(PushTask.Output):
        """Outputs of PushFlows."""

        flows: list[dict[str, str]] = Field(
            description="Diff rows `{file, additions, deletions, changes}` (strings, as Kestra)."
        )

    def run(self, ctx: RunContext) -> Output:
        """Run the task; the outputs are this task's ``Output``."""
        return typed_output(super().run(ctx), PushFlows.Output)

    def source(self, ctx: RunContext) -> str:
        """The namespace exported."""
        return self.source_namespace or ctx.flow.namespace

    def git_directory_value(self) -> str:
        return self.git_directory

    def collect(self, ctx: RunContext) -> dict[str, bytes]:
        namespace = self.source(ctx)
        records = ctx.require_instance().list_flows(
            namespace, include_children=self.include_child_namespaces
        )
        wanted: dict[str, bytes] = {}
        for record in records:
            if record.draft:  # Kestra's PushFlows never exports a draft
                ctx.log("DEBUG", f"skipped the draft flow {record.namespace}/{record.id}")
                continue
            if self.flows is not None and not any(
                java_glob_matches(glob, record.id) for glob in self.flows
            ):
                continue
            suffix = record.namespace[len(namespace) + 1 :] if record.namespace != namespace else ""
            folder = suffix.replace(".", "/") + "/" if suffix else ""
            source = strip_revision(record.source)
            if self.target_namespace:
                source = rewrite_namespaces(source, namespace, self.target_namespace)
            wanted[f"{folder}{record.id}.yml"] = source.encode("utf-8")
        if not wanted:
            ctx.info(f"no flow of {namespace} matches; only deletions (if any) are pushed")
        return wanted

    def change_stamp(self, ctx: RunContext) -> str | None:
        return ctx.require_instance().change_stamp(
            "flow", self.source(ctx), include_children=self.include_child_namespaces
        )

    def may_delete(self, relative: str) -> bool:
        """Only a flow file PushFlows could have written: ``<child folders>/<flow id>.yml``
        (or ``.yaml``) whose folders name a namespace in scope, matching the globs."""
        folder, _, name = relative.rpartition("/")
        if folder and not self.include_child_namespaces:
            return False  # child-namespace folders are out of scope
        if not is_flow_file(name):
            return False  # only flow files are ours to delete; a README stays
        stem = name.rsplit(".", 1)[0]
        if not FLOW_ID_PATTERN.fullmatch(stem):
            return False
        if folder and not NAMESPACE_PATTERN.fullmatch(child_namespace("x", folder)):
            return False
        if self.flows is None:
            return True
        return any(
            java_glob_matches(glob, candidate)
            for glob in self.flows
            for candidate in (relative, name, stem)
        )

    def default_commit_message(self, ctx: RunContext) -> str:
        return f"Add flows from {self.source(ctx)} namespace"

    def make_output(self, base: dict[str, Any], rows: list[dict[str, str]]) -> TaskOutput:
        return self.Output(**base, flows=rows)
