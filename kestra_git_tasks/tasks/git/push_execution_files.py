"""``io.kestra.plugin.git.PushExecutionFiles``: commit and push files of the current execution.

Which files, in Kestra's order of priority:

1. ``filesMap``: destination name (relative to ``gitDirectory``) -> a file of this execution
   (an ``outputFiles`` path of an earlier task, or a file of the working folder);
2. ``files`` globs: the working folder's files matching them (inside a WorkingDirectory), else
   the ``outputFiles`` of earlier tasks whose name matches;
3. neither: every ``outputFiles`` entry of every earlier task.

A source must lie inside this execution's folder or the working folder: a path elsewhere
(``/etc/passwd``, another execution's files) is refused, naming the key. Deletions stay in
scope: with ``files`` (and ``delete``, the default) files of ``gitDirectory`` matching the globs
that this run does not push are deleted; with ``filesMap`` or no selection nothing is deleted,
so archives accumulate run after run.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ...errors import ConfigError
from .._base import Output as TaskOutput
from ._push import Globs, PushTask
from .push_namespace_files import path_matches

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["PushExecutionFiles"]


class PushExecutionFiles(PushTask):
    """Commit and push files produced by the current execution to Git.

    Pushes the files named by `filesMap` (destination -> an `outputFiles` path of an earlier
    task), or matched by `files` (working-folder files, else earlier tasks' `outputFiles` by
    name), or every output file of the execution, to `<gitDirectory>/<name>` in one commit,
    made only when something changed. With `errorOnMissing` an empty selection fails the task.

    Examples:

    Push output files generated from a task to Git:

    ```yaml
    id: push_exec_files
    namespace: company.team
    tasks:
      - id: generate
        type: io.kestra.plugin.scripts.shell.Commands
        outputFiles:
          - report.txt
        commands:
          - echo "Analysis done" > report.txt
      - id: push
        type: io.kestra.plugin.git.PushExecutionFiles
        files:
          - "*.txt"
        gitDirectory: analytics
        url: https://github.com/company/data-pipeline
        username: git_user
        password: "{{ secret('GITHUB_TOKEN') }}"
        branch: data-reports
        commitMessage: "Add reports of {{ execution.id }}"
    ```

    Push and rename execution outputs using filesMap:

    ```yaml
    id: push_with_map
    namespace: company.logs
    tasks:
      - id: generate
        type: io.kestra.plugin.scripts.shell.Commands
        outputFiles:
          - run.log
        commands:
          - echo "Run completed at $(date)" > run.log
      - id: push
        type: io.kestra.plugin.git.PushExecutionFiles
        filesMap:
          "run-{{ execution.id }}.log": "{{ outputs.generate.outputFiles['run.log'] }}"
        gitDirectory: logs
        url: https://github.com/company/log-archive
        username: git_user
        password: "{{ secret('GITHUB_TOKEN') }}"
        branch: logs
        commitMessage: "Archive log for run {{ execution.id }}"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.git.PushExecutionFiles"
    rows_output: ClassVar[str] = "files"

    files: Globs = Field(
        default=None,
        description="Globs of the files to push: working-folder files, else earlier tasks' "
        "`outputFiles` names (a list, a JSON list, or one glob).",
    )
    files_map: dict[str, str] | None = Field(
        default=None,
        description="Destination name (relative to `gitDirectory`) -> a file of this execution "
        "(e.g. `{{ outputs.task.outputFiles['a.csv'] }}`); a map or a JSON map.",
    )
    git_directory: str = Field(
        default="_outputs", description="Folder of the repository the files are written to."
    )
    error_on_missing: bool = Field(
        default=False,
        description="Fail when nothing is selected; when false a warning is logged and nothing "
        "is pushed.",
    )

    class Output(PushTask.Output):
        """Outputs of PushExecutionFiles."""

        files: list[dict[str, str]] = Field(
            description="Diff rows `{file, additions, deletions, changes}` (strings, as Kestra)."
        )

    def git_directory_value(self) -> str:
        return self.git_directory

    def source(self, ctx: RunContext) -> str:
        return ctx.flow.namespace

    def default_commit_message(self, ctx: RunContext) -> str:
        return f"Add files from execution {ctx.execution_id}"

    def make_output(self, base: dict[str, Any], rows: list[dict[str, str]]) -> TaskOutput:
        return self.Output(**base, files=rows)

    def may_delete(self, relative: str) -> bool:
        """Only with ``files`` globs, and only files matching them."""
        return self.files_map is None and self.files is not None and _matches(self.files, relative)

    def collect(self, ctx: RunContext) -> dict[str, bytes]:
        if self.files_map is not None:
            chosen = {
                str(ctx.render(name, where="filesMap key")): _source(ctx, value, name)
                for name, value in self.files_map.items()
            }
        elif self.files:
            chosen = self._working_files(ctx) or {
                name: _source(ctx, value, name)
                for name, value in _output_files(ctx).items()
                if _matches(self.files, name)
            }
        else:
            chosen = {name: _source(ctx, value, name) for name, value in _output_files(ctx).items()}
            if chosen:
                ctx.info(
                    "No files or filesMap provided - pushing all execution output files instead."
                )
            elif self.error_on_missing:
                raise ConfigError(
                    "No output files found in this execution. Give the earlier tasks "
                    "`outputFiles`, or set errorOnMissing: false."
                )
        if not chosen:
            if self.error_on_missing:
                raise ConfigError(
                    f"No files matched the provided patterns: {self.files or self.files_map}. "
                    "Check the globs against the working folder and the `outputFiles` names."
                )
            ctx.warn("No files, filesMap, or outputFiles found - skipping push.")
        return {_destination(name): path.read_bytes() for name, path in sorted(chosen.items())}

    def _working_files(self, ctx: RunContext) -> dict[str, Path]:
        folder = ctx.working_dir
        if folder is None or self.files is None:
            return {}
        root = folder.resolve()
        globs = self.files
        return {
            path.relative_to(root).as_posix(): path
            for path in sorted(root.rglob("*"))
            if path.is_file()
            and not path.is_symlink()
            and _matches(globs, path.relative_to(root).as_posix())
        }


def _matches(globs: list[str], name: str) -> bool:
    return any(path_matches(glob, name) or fnmatch.fnmatchcase(name, glob) for glob in globs)


def _output_files(ctx: RunContext) -> dict[str, str]:
    """Every ``outputFiles`` entry of the earlier tasks (a later task wins a name clash)."""
    found: dict[str, str] = {}
    for output in ctx.outputs.values():
        files = output.get("outputFiles") if isinstance(output, dict) else None
        if isinstance(files, dict):
            found.update({str(k): str(v) for k, v in files.items()})
    return found


def _destination(name: str) -> str:
    """A destination name, refused when it would leave ``gitDirectory``."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or any(part in ("", ".", "..") for part in path.parts):
        raise ConfigError(
            f"filesMap key {name!r}: a destination must be a relative path inside gitDirectory "
            "(no leading '/', no '..')"
        )
    return path.as_posix()


def _source(ctx: RunContext, value: str, name: str) -> Path:
    """The file ``value`` names, when it belongs to this execution."""
    text = value.removeprefix("file://")
    path = Path(text).resolve()
    roots = [ctx.output_dir.resolve()]
    if ctx.working_dir is not None:
        roots.append(ctx.working_dir.resolve())
    if not any(path.is_relative_to(root) for root in roots):
        raise ConfigError(
            f"file for {name!r} ({value}) is not a file of this execution: give an "
            "`outputFiles` path of an earlier task (e.g. {{ outputs.task.outputFiles['x'] }})"
        )
    if not path.is_file():
        raise ConfigError(f"file for {name!r} ({value}) does not exist")
    return path
