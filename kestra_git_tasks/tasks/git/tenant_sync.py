"""``io.kestra.plugin.git.TenantSync``: every namespace of the instance, both directions."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ._two_way_task import Lister, TwoWayTask

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["TenantSync"]


class TenantSync(TwoWayTask):
    """Sync every namespace's flows and namespace files with Git, in either direction.

    The same engine and layout as NamespaceSync, over every namespace at once:
    `<gitDirectory>/<namespace>/flows/<id>.yaml` and `<gitDirectory>/<namespace>/files/<path>`.
    With `sourceOfTruth: KESTRA` (the default) every namespace of the instance is committed to
    `branch` in one commit (only when something changed); folders of namespaces the instance
    does not have are left alone. With `sourceOfTruth: GIT` every namespace folder of Git and
    every namespace of the instance is planned first, then applied in one all-or-nothing batch.
    `whenMissingInSource` and `protectedNamespaces` (default `system`) work as in NamespaceSync.
    The tenant's dashboards are synced too, as `<gitDirectory>/_global/dashboards/<id>.yaml`.

    Examples:

    Sync all namespaces of the tenant from Kestra to Git every day:

    ```yaml
    id: tenant_sync
    namespace: system
    tasks:
      - id: sync
        type: io.kestra.plugin.git.TenantSync
        sourceOfTruth: KESTRA
        whenMissingInSource: DELETE
        url: https://github.com/kestra-io/flows
        branch: main
        gitDirectory: tenant
        username: git_username
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
    triggers:
      - id: daily
        type: io.kestra.plugin.core.trigger.Schedule
        cron: "0 2 * * *"
    ```

    Restore a fresh instance from Git, keeping anything Git does not have:

    ```yaml
    id: tenant_restore
    namespace: system
    tasks:
      - id: restore
        type: io.kestra.plugin.git.TenantSync
        sourceOfTruth: GIT
        whenMissingInSource: KEEP
        url: https://github.com/kestra-io/flows
        branch: main
        gitDirectory: tenant
        username: git_username
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.git.TenantSync"
    with_dashboards: ClassVar[bool] = True

    def scope(self, ctx: RunContext) -> str:
        return "the tenant"

    def git_namespaces(self, lister: Lister, directory: str) -> dict[str, dict[str, str]]:
        grouped: dict[str, dict[str, str]] = {}
        for path, blob in lister(directory).items():
            namespace, slash, relative = path.partition("/")
            if slash:
                grouped.setdefault(namespace, {})[relative] = blob
        return grouped

    def instance_namespaces(self, ctx: RunContext) -> list[str]:
        return ctx.require_instance().list_namespaces()

    def default_commit_message(self) -> str:
        return "Tenant sync from Kestra"
