"""Script tasks run on the host: ``io.kestra.plugin.scripts.shell.Commands`` and
``io.kestra.plugin.scripts.python.Commands``.

Kestra runs these in a Docker container by default; here they always run as processes of the
host (Kestra's ``io.kestra.plugin.core.runner.Process`` task runner), in the working directory.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field
from pydantic.config import JsonDict

from ...errors import ConfigError, TaskFailedError
from .._base import Output as TaskOutput
from .._base import typed_output
from .._workdir import (
    WorkdirFilesTask,
    collect_output_files,
    inject_namespace_files,
    parse_input_files,
    write_input_files,
)
from ._process import ProcessResult, parse_duration, run_process

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["ProcessTask", "PythonCommands", "ScriptCommands", "ShellCommands", "python_prepare"]

PROCESS_RUNNER = "io.kestra.plugin.core.runner.Process"
_PROCESS_TYPES = {PROCESS_RUNNER, "io.kestra.core.models.tasks.runners.types.ProcessTaskRunner"}
_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "ash"}
_STDERR_TAIL = 10
_RUN: JsonDict = {"group": "runner"}


class ProcessTask(WorkdirFilesTask):
    """Base of the script tasks: run :meth:`command_lines` with ``interpreter`` in the working
    folder (``Commands`` run their ``commands``, ``Script`` its ``script``)."""

    before_commands: list[str] | None = Field(
        default=None, description="Commands run first, in the same script."
    )
    env: dict[str, str] | None = Field(
        default=None,
        description="Environment variables added to the host's (variables named `SECRET_*` "
        "are never passed on).",
    )
    interpreter: list[str] = Field(
        default=["/bin/sh", "-c"],
        min_length=1,
        description="Program and arguments the script is given to, as the last argument.",
    )
    fail_fast: bool = Field(
        default=True,
        description="Stop at the first failing command (`set -e`, for POSIX shell interpreters).",
    )
    task_runner: dict[str, Any] | None = Field(
        default=None,
        description=f"Where the commands run. Only `type: {PROCESS_RUNNER}` (processes of "
        "this host, the default here) is supported; a Docker or other container runner is "
        "refused.",
        json_schema_extra=_RUN,
    )
    runner: Literal["PROCESS", "DOCKER"] | None = Field(
        default=None,
        description="Deprecated form of `taskRunner`; only `PROCESS` is supported.",
        json_schema_extra=_RUN,
    )
    container_image: str | None = Field(
        default=None,
        description="Accepted for Kestra parity and ignored: no container is started.",
        json_schema_extra=_RUN,
    )
    warning_on_std_err: bool | None = Field(
        default=None,
        description="Deprecated in Kestra and ignored: the exit code alone decides the state.",
    )

    class Output(TaskOutput):
        """Outputs of a script task."""

        exit_code: int = Field(description="Exit code of the script (0 on success).")
        vars: dict[str, Any] = Field(
            description='Values printed on a line as `::{"outputs":{"name":value}}::`.'
        )
        output_files: dict[str, str] = Field(
            description="Each file matched by `outputFiles`: relative path -> path of its copy "
            "in the execution's output folder."
        )
        std_out_line_count: int = Field(description="Number of lines written to stdout.")
        std_err_line_count: int = Field(description="Number of lines written to stderr.")

    # -- hooks for the subclasses ---------------------------------------------------------------
    def command_lines(self, tools: Path) -> list[str]:
        """The lines run after ``beforeCommands`` (``tools`` is a scratch folder)."""
        raise NotImplementedError

    def prepare(self, ctx: RunContext, env: dict[str, str], tools: Path) -> None:
        """Adjust the environment before the run (``tools`` is a scratch folder)."""

    # -- running -------------------------------------------------------------------------------
    def run(self, ctx: RunContext) -> Output:
        self._check_runner(ctx)
        timeout_s = parse_duration(self.timeout) if self.timeout else None
        owned = ctx.working_dir is None
        folder = ctx.temp_dir("commands-") if owned else ctx.working_dir
        assert folder is not None
        tools = Path(tempfile.mkdtemp(prefix="kestra-git-tools-"))
        try:
            write_input_files(folder, parse_input_files(self.input_files))
            if self.namespace_files is not None:
                inject_namespace_files(ctx, folder, self.namespace_files)
            env = self._environment(ctx)
            self.prepare(ctx, env, tools)
            outputs: dict[str, Any] = {}
            result = run_process(
                [*self.interpreter, self._script(tools)],
                cwd=folder,
                env=env,
                on_line=lambda stream, line: self._on_line(ctx, stream, line, outputs),
                timeout_s=timeout_s,
            )
            self._raise_on_failure(result, timeout_s)
            files: dict[str, str] = {}
            if self.output_files:
                destination = ctx.output_dir / (ctx.task_id or self.id)
                files = collect_output_files(folder, self.output_files, destination)
            return self.Output(
                exit_code=result.exit_code,
                vars=outputs,
                output_files=files,
                std_out_line_count=result.stdout_lines,
                std_err_line_count=result.stderr_lines,
            )
        finally:
            shutil.rmtree(tools, ignore_errors=True)
            if owned:
                shutil.rmtree(folder, ignore_errors=True)

    def _check_runner(self, ctx: RunContext) -> None:
        runner_type = str((self.task_runner or {}).get("type", PROCESS_RUNNER))
        if runner_type not in _PROCESS_TYPES or self.runner == "DOCKER":
            shown = "runner: DOCKER" if self.runner == "DOCKER" else runner_type
            raise ConfigError(
                f"task runner '{shown}' is not supported: kestra-git runs commands on this "
                f"host and does not run containers. Use `taskRunner: {{type: {PROCESS_RUNNER}}}` "
                "and install what the commands need on the host."
            )
        if self.container_image:
            ctx.log("DEBUG", f"containerImage '{self.container_image}' ignored: no container")

    def _environment(self, ctx: RunContext) -> dict[str, str]:
        env = {k: v for k, v in ctx.environ.items() if not k.upper().startswith("SECRET_")}
        env.update(self.env or {})
        return env

    def _script(self, tools: Path) -> str:
        lines = [*(self.before_commands or []), *self.command_lines(tools)]
        if self.fail_fast and Path(self.interpreter[0]).name in _SHELLS:
            lines.insert(0, "set -e")
        return "\n".join(lines)

    def _on_line(self, ctx: RunContext, stream: str, line: str, outputs: dict[str, Any]) -> None:
        if _parse_output_line(ctx, line, outputs):
            return
        ctx.log("INFO" if stream == "stdout" else "ERROR", line)

    def _raise_on_failure(self, result: ProcessResult, timeout_s: float | None) -> None:
        tail = list(result.stderr_tail)[-_STDERR_TAIL:]
        shown = ("; last lines of stderr:\n" + "\n".join(tail)) if tail else ""
        if result.timed_out:
            raise TaskFailedError(
                f"Command timed out after {self.timeout} ({timeout_s:g} s): the process and its "
                f"children were killed. Raise `timeout` or make the commands faster.{shown}"
            )
        if result.exit_code != 0:
            raise TaskFailedError(f"Command failed with exit code {result.exit_code}{shown}")


class ScriptCommands(ProcessTask):
    """Base of the Commands tasks: run ``commands`` with ``interpreter`` in the working folder."""

    commands: list[str] = Field(
        min_length=1, description="Commands to run, one per line of the script."
    )

    def command_lines(self, tools: Path) -> list[str]:
        """The ``commands``."""
        return list(self.commands)


class PythonProcess(ProcessTask):
    """Base of the Python tasks (Commands and Script): Kestra's Python options, and ``python``/
    ``python3`` on PATH running the interpreter that runs kestra-git."""

    dependencies: list[str] | None = Field(
        default=None,
        description="Python packages the task needs. Not installed automatically: a "
        "warning lists them.",
        json_schema_extra=_RUN,
    )
    python_version: str | None = Field(
        default=None,
        description="Accepted for Kestra parity and ignored: the host's Python runs.",
        json_schema_extra=_RUN,
    )
    package_manager: str | None = Field(
        default=None, description="Accepted for Kestra parity and ignored.", json_schema_extra=_RUN
    )
    dependency_cache_enabled: bool | None = Field(
        default=None, description="Accepted for Kestra parity and ignored.", json_schema_extra=_RUN
    )

    def prepare(self, ctx: RunContext, env: dict[str, str], tools: Path) -> None:
        """``python``/``python3`` on PATH run ``sys.executable``; unbuffered output."""
        python_prepare(ctx, env, tools, self.dependencies)


class ShellCommands(ScriptCommands):
    """Run shell commands on the host.

    The commands (after `beforeCommands`) are joined into one script run by `interpreter`
    (`/bin/sh -c`) in the working directory: the folder of the enclosing `WorkingDirectory`, or
    a temporary folder removed afterwards. Output lines are logged (stdout at INFO, stderr at
    ERROR, secrets masked); a line `::{"outputs":{...}}::` sets `vars`. A non-zero exit or an
    expired `timeout` fails the task; on timeout the command and all its child processes are
    killed. Commands run as processes of the host, never in a container.

    Examples:

    Run commands and pass a value to the next task:

    ```yaml
    id: shell_commands
    namespace: company.team
    tasks:
      - id: shell
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        timeout: PT5M
        env:
          GREETING: hello
        commands:
          - echo "$GREETING from $(pwd)"
          - echo '::{"outputs":{"count":3}}::'
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "count is {{ outputs.shell.vars.count }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.scripts.shell.Commands"

    class Output(ScriptCommands.Output):
        """Outputs of shell Commands."""

    def run(self, ctx: RunContext) -> Output:
        """Run the commands; the outputs are this task's ``Output``."""
        return typed_output(super().run(ctx), ShellCommands.Output)


class PythonCommands(ScriptCommands, PythonProcess):
    """Run Python commands on the host.

    Like the shell `Commands` (the commands are shell lines, run by `interpreter`), with
    `python` and `python3` resolving to the Python interpreter running kestra-git; call another
    interpreter by its path to use it. `dependencies` are not installed (no network at run
    time): install them in that environment beforehand, or add a `pip install` line to
    `beforeCommands`. Output is unbuffered so log lines arrive as they are printed.

    Examples:

    Run a script given inline; a later task reads the value it prints:

    ```yaml
    id: python_commands
    namespace: company.team
    tasks:
      - id: python
        type: io.kestra.plugin.scripts.python.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        inputFiles:
          main.py: |
            import json
            rows = 42
            print("::" + json.dumps({"outputs": {"rows": rows}}) + "::")
        commands:
          - python main.py
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "{{ outputs.python.vars.rows }} rows"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.scripts.python.Commands"

    class Output(ScriptCommands.Output):
        """Outputs of Python Commands."""

    def run(self, ctx: RunContext) -> Output:
        """Run the commands; the outputs are this task's ``Output``."""
        return typed_output(super().run(ctx), PythonCommands.Output)


def python_prepare(
    ctx: RunContext, env: dict[str, str], tools: Path, dependencies: list[str] | None
) -> None:
    """``python``/``python3`` on PATH run ``sys.executable``; unbuffered output; a warning
    lists ``dependencies`` (never installed)."""
    if dependencies:
        ctx.warn(
            "dependencies are not installed automatically (commands run on this host): "
            f"{', '.join(dependencies)}. Install them in the Python environment of "
            f"{sys.executable}, or add a `pip install` line to `beforeCommands`."
        )
    for name in ("python", "python3"):
        shim = tools / name
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
        shim.chmod(0o755)
    env["PATH"] = os.pathsep.join([str(tools), env.get("PATH", os.defpath)])
    env.setdefault("PYTHONUNBUFFERED", "1")


def _parse_output_line(ctx: RunContext, line: str, outputs: dict[str, Any]) -> bool:
    """Handle a ``::{...}::`` line (outputs, logs, metrics); False for an ordinary line."""
    text = line.strip()
    if not (text.startswith("::{") and text.endswith("}::")):
        return False
    try:
        data = json.loads(text[2:-2])
    except json.JSONDecodeError:
        return False
    if not isinstance(data, dict):
        return False
    if isinstance(data.get("outputs"), dict):
        outputs.update(data["outputs"])
    for entry in data.get("logs") or []:
        if isinstance(entry, dict) and "message" in entry:
            ctx.log(str(entry.get("level", "INFO")), str(entry["message"]))
    for metric in data.get("metrics") or []:
        ctx.log("DEBUG", f"metric: {json.dumps(metric)}")
    return True
