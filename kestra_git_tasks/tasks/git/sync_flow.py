"""``io.kestra.plugin.git.SyncFlow``: save one flow file from Git into the instance."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from ...errors import FlowValidationError, GitDirectoryNotFoundError, NotFoundError
from ...flowfile import prepare_flow
from ...ids import NAMESPACE_FIELD
from ...instance.base import Instance
from .._base import Output as TaskOutput
from ._kestra_api import KestraApiTask
from .sync_flows import next_revision

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["SyncFlow"]


class SyncFlow(KestraApiTask):
    """Sync one flow from Git to the instance.

    Reads the file at `flowPath` on `branch`, sets its namespace to `targetNamespace`, validates
    it and saves it (an identical source keeps its revision). With `dryRun` it reports the
    revision the flow would get without saving it.

    Examples:

    Deploy one flow from the main branch to `prod`:

    ```yaml
    id: deploy_one_flow
    namespace: system
    tasks:
      - id: sync
        type: io.kestra.plugin.git.SyncFlow
        url: https://github.com/kestra-io/scripts
        branch: main
        flowPath: flows/etl.yml
        targetNamespace: prod
        username: git_username
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.git.SyncFlow"

    flow_path: str = Field(description="Path of the flow file in the repository.")
    target_namespace: str = Field(
        description="Namespace the flow is saved into (its `namespace:` is rewritten).",
        pattern=NAMESPACE_FIELD,
    )
    branch: str = Field(default="main", description="Branch to read; it must exist.")
    dry_run: bool = Field(
        default=False, description="Validate and report the revision without saving."
    )

    class Output(TaskOutput):
        """Outputs of SyncFlow."""

        flow_id: str = Field(description="Id of the flow.")
        namespace: str = Field(description="Namespace it was saved into.")
        revision: int = Field(description="Its revision (the projected one in a dry run).")

    def run(self, ctx: RunContext) -> Output:
        with self.kestra_scope(ctx):
            return self._run(ctx)

    def _run(self, ctx: RunContext) -> Output:
        instance = ctx.require_instance()
        self.register_secrets(ctx)
        cache = self.repo_cache(ctx)
        commit = cache.fetch_branch(
            self.url, self.branch, self.credentials(), self.transport_options(ctx)
        )
        path = PurePosixPath(self.flow_path.strip().lstrip("/"))
        folder = "" if str(path.parent) == "." else str(path.parent)
        try:
            listed = cache.list_tree(self.url, commit, folder)
        except GitDirectoryNotFoundError:  # a parent of flowPath is a file
            listed = None
        if listed is None or path.name not in listed:
            raise NotFoundError(
                f"Flow file not found at path: {self.flow_path} (branch '{self.branch}')"
            )
        raw = cache.read_blob(self.url, listed[path.name])
        source, identity = self._prepare(instance, raw)
        namespace, flow_id = identity
        if self.dry_run:
            current = instance.get_flow(namespace, flow_id)
            if current is not None and current.source == source:
                revision = current.revision
            else:
                revision = next_revision(instance, namespace, flow_id)
            ctx.info(f"dry run: {namespace}/{flow_id} would be at revision {revision}")
        else:
            revision = instance.put_flow(source).revision
            ctx.info(f"saved {namespace}/{flow_id} at revision {revision}")
        return self.Output(flow_id=flow_id, namespace=namespace, revision=revision)

    def _prepare(self, instance: Instance, raw: bytes) -> tuple[str, tuple[str, str]]:
        """The source to save, its namespace set to ``targetNamespace``, and its parsed
        identity; FlowValidationError when it is not a valid flow of that namespace."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"
            raise FlowValidationError(
                f"Flow validation failed: {self.flow_path}: {problem}", constraints=[problem]
            ) from None
        prepared = prepare_flow(text, self.target_namespace)
        if prepared.identity is None and not re.search(r"^id:[ \t]*\S", text, re.MULTILINE):
            raise FlowValidationError(f"Cannot parse flow id from YAML at path: {self.flow_path}")
        problems = [prepared.problem] if prepared.problem else []
        problems = problems or instance.validate_flows([prepared.source])[0]
        if problems or prepared.identity is None:
            problems = problems or ["the flow has no readable top-level id and namespace"]
            raise FlowValidationError(
                f"Flow validation failed: {self.flow_path}: {'; '.join(problems)}",
                constraints=problems,
            )
        return prepared.source, prepared.identity
