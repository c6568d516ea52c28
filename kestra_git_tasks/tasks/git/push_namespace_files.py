"""``io.kestra.plugin.git.PushNamespaceFiles``: commit and push namespace files to Git."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ...errors import NotFoundError
from ...ids import NAMESPACE_FIELD
from .._base import Output as TaskOutput
from .._base import typed_output
from ._push import Globs, PushTask, java_glob_matches

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["PushNamespaceFiles", "path_matches"]


def path_matches(pattern: str, path: str) -> bool:
    """Kestra's namespace-file matching (``PathMatcherPredicate``) on a path with its leading
    ``/``: ``glob:`` (default, Java's glob) or ``regex:``; a pattern starting with a word
    character gets ``**/`` first, so ``second*`` matches ``/a/second.txt``; ``*`` alone means
    every file (in Java it matches none: paths start with ``/``)."""
    if pattern in ("*", "glob:*"):
        pattern = "**"  # every file, as the seed example expects (docs/differences.md)
    elif not pattern.startswith(("glob:", "regex:")) and re.match(r"\w", pattern):
        pattern = "**/" + pattern
    return java_glob_matches(pattern, "/" + path.lstrip("/"))


class PushNamespaceFiles(PushTask):
    """Commit and push namespace files from the instance to Git.

    Writes the files of `namespace` matching `files` to `<gitDirectory>/<path>`, keeping their
    folders, and pushes one commit when something changed (rebuilt on the new tip if the branch
    moved meanwhile). With `delete` (the default), files under `gitDirectory` that no longer
    exist in the namespace are removed (only those matching `files`, when given).

    Examples:

    Push the `dev` namespace's files to the `dev` branch every 15 minutes:

    ```yaml
    id: push_files_to_git
    namespace: system
    tasks:
      - id: commit_and_push
        type: io.kestra.plugin.git.PushNamespaceFiles
        namespace: dev
        files: "*"
        gitDirectory: _files
        url: https://github.com/kestra-io/scripts
        username: git_username
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
        branch: dev
        commitMessage: "add namespace files"
    triggers:
      - id: schedule_push_to_git
        type: io.kestra.plugin.core.trigger.Schedule
        cron: "*/15 * * * *"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.git.PushNamespaceFiles"
    rows_output: ClassVar[str] = "files"

    namespace: str | None = Field(
        default=None,
        description="Namespace whose files are pushed; defaults to the namespace of the flow "
        "running the task (`{{ flow.namespace }}`).",
        pattern=NAMESPACE_FIELD,
    )
    files: Globs = Field(
        default=None,
        description="Globs (`glob:` default, or `regex:`) on the files' paths, which start with "
        "`/`: Java's glob (`**` any depth, `{a,b}`, `[a-z]`); a pattern starting with a letter "
        "matches at any depth, `*` alone means every file. All files when unset.",
    )
    git_directory: str = Field(
        default="_files", description="Folder of the repository the files are written to."
    )
    error_on_missing: bool = Field(
        default=False, description="Fail when no namespace file matches `files`."
    )

    class Output(PushTask.Output):
        """Outputs of PushNamespaceFiles."""

        files: list[dict[str, str]] = Field(
            description="Diff rows `{file, additions, deletions, changes}` (strings, as Kestra)."
        )

    def run(self, ctx: RunContext) -> Output:
        """Run the task; the outputs are this task's ``Output``."""
        return typed_output(super().run(ctx), PushNamespaceFiles.Output)

    def source(self, ctx: RunContext) -> str:
        """The namespace pushed."""
        return self.namespace or ctx.flow.namespace

    def git_directory_value(self) -> str:
        return self.git_directory

    def collect(self, ctx: RunContext) -> dict[str, bytes]:
        instance = ctx.require_instance()
        namespace = self.source(ctx)
        wanted: dict[str, bytes] = {}
        for record in instance.list_files(namespace):
            if self.files is not None and not any(
                path_matches(glob, record.path) for glob in self.files
            ):
                continue
            wanted[record.path.lstrip("/")] = instance.read_file(namespace, record.path)
        for glob in self.files or ():
            if glob.startswith(("*", "?", "[", "{")) and not glob.startswith(("**", "*/")):
                ctx.warn(
                    f"files glob '{glob}' never matches: namespace file paths start with '/' "
                    f"and Kestra's Java glob keeps '*' in a folder; write '**/{glob}' (any "
                    f"depth) or '/{glob}' (top folder)"
                )
        return wanted

    def change_stamp(self, ctx: RunContext) -> str | None:
        return ctx.require_instance().change_stamp("file", self.source(ctx))

    def nothing_to_push(self, ctx: RunContext) -> None:
        if self.error_on_missing:
            raise NotFoundError(
                "No Namespace Files matched the provided 'files' parameter to commit."
            )
        ctx.info(f"no file of {self.source(ctx)} matches; only deletions (if any) are pushed")

    def may_delete(self, relative: str) -> bool:
        if self.files is None:
            return True
        name = relative.rsplit("/", 1)[-1]
        stem = name.rsplit(".", 1)[0]
        return any(
            path_matches(glob, candidate)
            for glob in self.files
            for candidate in (relative, name, stem)
        )

    def default_commit_message(self, ctx: RunContext) -> str:
        return f"Add files from {self.source(ctx)} namespace"

    def make_output(self, base: dict[str, Any], rows: list[dict[str, str]]) -> TaskOutput:
        return self.Output(**base, files=rows)
