"""``io.kestra.plugin.core.flow.WorkingDirectory``: child tasks sharing one temporary folder."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from .._base import Output as TaskOutput
from .._workdir import (
    WorkdirFilesTask,
    collect_output_files,
    inject_namespace_files,
    parse_input_files,
    write_input_files,
)

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["WorkingDirectory"]

_CHILDREN = ("tasks", "errors", "finally")


class WorkingDirectory(WorkdirFilesTask):
    """Run tasks in one shared working directory.

    Creates a temporary folder, writes `inputFiles` (and `namespaceFiles`) into it, and runs
    `tasks` in order with that folder as their working directory, so a `git.Clone` result is
    visible to the script tasks that follow. When a task fails, `errors` run; `finally` always
    run. After the tasks, the files matching `outputFiles` are copied to the execution's output
    folder, and the temporary folder is removed, whatever happened.

    Examples:

    Kestra's Git Clone pattern: clone another team's repository, run a script from it, and
    use the value it prints in a later task:

    ```yaml
    id: git_python
    namespace: company.team
    tasks:
      - id: wdir
        type: io.kestra.plugin.core.flow.WorkingDirectory
        tasks:
          - id: clone_repository
            type: io.kestra.plugin.git.Clone
            url: https://github.com/kestra-io/examples
            branch: main
            username: git_username
            password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
          - id: python
            type: io.kestra.plugin.scripts.python.Commands
            taskRunner:
              type: io.kestra.plugin.core.runner.Process
            commands:
              - python scripts/etl_script.py
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "The script says {{ outputs.python.vars }}"
    ```

    Give the tasks an input file and keep the report they write:

    ```yaml
    id: report
    namespace: company.team
    tasks:
      - id: wdir
        type: io.kestra.plugin.core.flow.WorkingDirectory
        inputFiles:
          config.json: '{"rows": 10}'
        outputFiles:
          - "*.csv"
        tasks:
          - id: report
            type: io.kestra.plugin.scripts.shell.Commands
            commands:
              - cat config.json
              - echo "id,value" > report.csv
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.core.flow.WorkingDirectory"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.core.tasks.flows.WorkingDirectory",)
    child_task_fields: ClassVar[tuple[str, ...]] = _CHILDREN

    tasks: list[dict[str, Any]] = Field(
        min_length=1, description="Tasks to run, in order, in the shared working directory."
    )
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Tasks run (in the same folder) when one of `tasks` fails."
    )
    finally_: list[dict[str, Any]] | None = Field(
        default=None,
        alias="finally",
        description="Tasks always run (in the same folder) after `tasks` and `errors`.",
    )
    cache: dict[str, Any] | None = Field(
        default=None,
        description="Accepted for Kestra parity and ignored (with a warning): the folder is "
        "never cached between executions.",
    )

    class Output(TaskOutput):
        """Outputs of WorkingDirectory."""

        output_files: dict[str, str] = Field(
            description="Each file matched by `outputFiles`: relative path -> path of its copy "
            "in the execution's output folder."
        )

    @classmethod
    def check_properties(cls, properties: dict[str, Any]) -> list[tuple[str | None, str]]:
        """Kestra's checks: non-empty `tasks`, only runnable children, no `workerGroup`."""
        from ..registry import task_class

        problems = super().check_properties(properties)
        if isinstance(properties.get("tasks"), list) and not properties["tasks"]:
            problems.append(("tasks", "The 'tasks' property cannot be empty"))
        for key in _CHILDREN:
            children = properties.get(key)
            for child in children if isinstance(children, list) else []:
                if not isinstance(child, dict):
                    continue
                child_cls = task_class(str(child.get("type")))
                if child_cls is not None and child_cls.child_task_fields:
                    problems.append(
                        (
                            key,
                            "Only runnable tasks are allowed as children of a WorkingDirectory "
                            f"task ('{child.get('id')}' is a {child_cls.type})",
                        )
                    )
                if "workerGroup" in child:
                    problems.append(
                        (
                            key,
                            f"task '{child.get('id')}': no `workerGroup` on a child of a "
                            "WorkingDirectory (its tasks run on one worker)",
                        )
                    )
        return problems

    def run(self, ctx: RunContext) -> Output:
        folder = ctx.temp_dir("working-dir-")
        saved = ctx.working_dir
        ctx.working_dir = folder
        try:
            write_input_files(folder, parse_input_files(self.input_files))
            if self.namespace_files is not None:
                inject_namespace_files(ctx, folder, self.namespace_files)
            if self.cache is not None:
                ctx.warn("`cache` is not supported: the working directory starts empty")
            ctx.log("DEBUG", f"working directory: {folder}")
            try:
                ctx.run_children("tasks")
            except Exception:
                if self.errors:
                    ctx.run_children("errors")
                raise
            finally:
                if self.finally_:
                    ctx.run_children("finally")
            files: dict[str, str] = {}
            if self.output_files:
                destination = ctx.output_dir / (ctx.task_id or self.id)
                files = collect_output_files(folder, self.output_files, destination)
            return self.Output(output_files=files)
        finally:
            ctx.working_dir = saved
            shutil.rmtree(folder, ignore_errors=True)
