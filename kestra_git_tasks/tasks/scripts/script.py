"""Inline script tasks run on the host: ``io.kestra.plugin.scripts.shell.Script`` and
``io.kestra.plugin.scripts.python.Script``.

As in Kestra: the shell ``script`` is the one command given to ``interpreter`` (after
``beforeCommands``); the Python ``script`` is written to a ``.py`` file, behind Kestra's prelude
(``true``/``false``/``null`` as Python's ``True``/``False``/``None``), and run with ``python``.
Everything else (working folder, files, outputs, task runner) is the Commands tasks' (see
:mod:`.commands`): processes of the host, never a container.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from .._base import typed_output
from .commands import ProcessTask, PythonProcess

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["PythonScript", "ShellScript"]

#: Kestra's prelude: templates render booleans and null as JSON does.
PYTHON_PRELUDE = "true = True\nfalse = False\nnull = None\n"


class ShellScript(ProcessTask):
    """Run an inline shell script on the host.

    The `script` (after `beforeCommands`) is given to `interpreter` (`/bin/sh -c`) in the
    working directory: the folder of the enclosing `WorkingDirectory`, or a temporary folder
    removed afterwards. Output lines are logged, a line `::{"outputs":{...}}::` sets `vars`,
    `outputFiles` are kept; a non-zero exit or an expired `timeout` fails the task.

    Examples:

    Write a file and keep it as an output of the execution:

    ```yaml
    id: shell_script
    namespace: company.team
    tasks:
      - id: generate
        type: io.kestra.plugin.scripts.shell.Script
        outputFiles:
          - run.log
        script: |
          echo "Run completed at $(date)" > run.log
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "{{ outputs.generate.outputFiles['run.log'] }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.scripts.shell.Script"

    script: str = Field(min_length=1, description="The shell script to run.")

    class Output(ProcessTask.Output):
        """Outputs of a shell Script."""

    def run(self, ctx: RunContext) -> Output:
        """Run the script; the outputs are this task's ``Output``."""
        return typed_output(super().run(ctx), ShellScript.Output)

    def command_lines(self, tools: Path) -> list[str]:
        """The script itself."""
        return [self.script]


class PythonScript(PythonProcess):
    """Run an inline Python script on the host.

    The `script` is written to a `.py` file (behind Kestra's prelude `true = True`,
    `false = False`, `null = None`) and run with `python`, which is the Python interpreter
    running kestra-git, in the working directory. `dependencies` are not installed (no network
    at run time): a warning lists them. Output is unbuffered.

    Examples:

    Write a report the next task can read:

    ```yaml
    id: python_script
    namespace: company.team
    tasks:
      - id: generate
        type: io.kestra.plugin.scripts.python.Script
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        outputFiles:
          - report.txt
        script: |
          with open("report.txt", "w") as f:
              f.write("Analysis done")
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.scripts.python.Script"

    script: str = Field(min_length=1, description="The Python script to run.")

    class Output(ProcessTask.Output):
        """Outputs of a Python Script."""

    def run(self, ctx: RunContext) -> Output:
        """Run the script; the outputs are this task's ``Output``."""
        return typed_output(super().run(ctx), PythonScript.Output)

    def command_lines(self, tools: Path) -> list[str]:
        """``python <the script's file>``, the file written in the scratch folder."""
        path = tools / "script.py"
        path.write_text(PYTHON_PRELUDE + self.script, encoding="utf-8")
        return [f"python {shlex.quote(str(path))}"]
