"""``io.kestra.plugin.git.PushDashboards``: commit and push the instance's dashboards."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ...flowfile import is_flow_file
from .._base import Output as TaskOutput
from ._push import Globs, PushTask
from .sync_dashboards import without_updated

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["PushDashboards"]


class PushDashboards(PushTask):
    """Commit and push dashboards from the instance to Git.

    Writes each dashboard matching `dashboards` (globs on ids; all by default) to
    `<gitDirectory>/<id>.yml` without its `updated:` lines, in one commit made only when
    something changed; with `delete` (the default) dashboard files whose dashboard is gone (and
    that match the globs) are removed. Kestra names the diff output `flows`; so does this task.

    Examples:

    Push every dashboard to the `main` branch each night:

    ```yaml
    id: push_dashboards
    namespace: system
    tasks:
      - id: push
        type: io.kestra.plugin.git.PushDashboards
        url: https://github.com/kestra-io/dashboards
        branch: main
        username: git_username
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
    triggers:
      - id: nightly
        type: io.kestra.plugin.core.trigger.Schedule
        cron: "0 1 * * *"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.git.PushDashboards"
    rows_output: ClassVar[str] = "dashboards"

    dashboards: Globs = Field(
        default=None, description="Globs on dashboard ids (a list, a JSON list, or one glob)."
    )
    git_directory: str = Field(
        default="_dashboards", description="Folder of the repository the dashboards go to."
    )

    class Output(PushTask.Output):
        """Outputs of PushDashboards."""

        flows: list[dict[str, str]] = Field(
            description="Diff rows `{file, additions, deletions, changes}` (Kestra's name)."
        )

    def git_directory_value(self) -> str:
        return self.git_directory

    def source(self, ctx: RunContext) -> str:
        return "the dashboards"

    def default_commit_message(self, ctx: RunContext) -> str:
        return f"Add dashboards from flow: {ctx.flow.id}"

    def make_output(self, base: dict[str, Any], rows: list[dict[str, str]]) -> TaskOutput:
        return self.Output(**base, flows=rows)

    def _matches(self, key: str) -> bool:
        return self.dashboards is None or any(fnmatch.fnmatchcase(key, g) for g in self.dashboards)

    def collect(self, ctx: RunContext) -> dict[str, bytes]:
        return {
            f"{record.id}.yml": without_updated(record.source).encode("utf-8")
            for record in ctx.require_instance().list_dashboards()
            if self._matches(record.id)
        }

    def may_delete(self, relative: str) -> bool:
        """Only ``<id>.yml``/``.yaml`` at the top of ``gitDirectory`` matching the globs."""
        if "/" in relative or not is_flow_file(relative):
            return False
        return self._matches(relative.rsplit(".", 1)[0])
