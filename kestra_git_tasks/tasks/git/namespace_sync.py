"""``io.kestra.plugin.git.NamespaceSync``: one namespace, both directions."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from ...ids import NAMESPACE_FIELD
from ._two_way_task import Lister, TwoWayTask

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["NamespaceSync"]


class NamespaceSync(TwoWayTask):
    """Sync one namespace's flows and namespace files with Git, in either direction.

    The repository holds `<gitDirectory>/<namespace>/flows/<id>.yaml` (`.yml` is read too) and
    `<gitDirectory>/<namespace>/files/<path>`; child namespaces are not synced. With
    `sourceOfTruth: KESTRA` (the default) the instance's flows (without `revision:` lines) and
    files are committed to `branch` in one commit, only when something changed; other files of
    the repository are never touched. With `sourceOfTruth: GIT` the branch is applied to the
    instance, all or nothing, after every flow was checked: a flow must declare the namespace
    of its folder and the id of its file name. `whenMissingInSource` says what happens to items
    the source of truth lacks (DELETE, KEEP, FAIL); `protectedNamespaces` are never deleted
    from. `dryRun` reports the diff and changes nothing.

    Examples:

    Sync a namespace using Git as the source of truth (destructive):

    ```yaml
    id: git_namespace_sync
    namespace: company.ops
    tasks:
      - id: sync
        type: io.kestra.plugin.git.NamespaceSync
        namespace: company.ops
        sourceOfTruth: GIT
        whenMissingInSource: DELETE
        protectedNamespaces:
          - system
        url: https://github.com/fdelbrayelle/plugin-git-qa
        username: fdelbrayelle
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
        branch: main
        gitDirectory: kestra
    ```

    Sync a namespace using Kestra as the source of truth (additive):

    ```yaml
    id: kestra_namespace_sync
    namespace: company.ops
    tasks:
      - id: sync
        type: io.kestra.plugin.git.NamespaceSync
        namespace: company.ops
        sourceOfTruth: KESTRA
        whenMissingInSource: KEEP
        protectedNamespaces:
          - system
        url: https://github.com/fdelbrayelle/plugin-git-qa
        username: fdelbrayelle
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
        branch: dev
        onInvalidSyntax: WARN
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.git.NamespaceSync"

    namespace: str = Field(
        description="The namespace to sync (its children are not).",
        pattern=NAMESPACE_FIELD,
    )

    def scope(self, ctx: RunContext) -> str:
        return f"namespace {self.namespace}"

    def git_namespaces(self, lister: Lister, directory: str) -> dict[str, dict[str, str]]:
        folder = f"{directory}/{self.namespace}" if directory else self.namespace
        return {self.namespace: lister(folder)}

    def instance_namespaces(self, ctx: RunContext) -> list[str]:
        return [self.namespace]

    def default_commit_message(self) -> str:
        return "Namespace sync from Kestra"
