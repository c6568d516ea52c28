"""``io.kestra.plugin.git.PushNamespaceFiles``: commit and push namespace files to Git."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ...errors import NotFoundError
from ...ids import NAMESPACE_PATTERN
from .._base import Output as TaskOutput
from .._base import typed_output
from ._push import Globs, PushTask

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["PushNamespaceFiles", "path_matches"]


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    if pattern.startswith("regex:"):
        return re.compile(pattern[len("regex:") :])
    glob = pattern.removeprefix("glob:")
    if re.match(r"\w", glob) or "/" not in glob:
        # Kestra prepends **/ to a pattern starting with a word character; a pattern without
        # any folder (`*`, `*.py`) also matches at any depth, so the documented `files: "*"`
        # means every file
        glob = "**/" + glob
    out, i = [], 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "{":
            end = glob.find("}", i)
            if end > i:
                options = glob[i + 1 : end].split(",")
                out.append("(?:" + "|".join(re.escape(o) for o in options) + ")")
                i = end + 1
                continue
            out.append(re.escape(char))
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


def path_matches(pattern: str, path: str) -> bool:
    """Kestra's namespace-file matching: ``glob:`` (default) or ``regex:``; a pattern starting
    with a word character, or naming no folder, matches at any depth (``second*`` matches
    ``a/second.txt``, ``*`` matches every file)."""
    relative = path.lstrip("/")
    return bool(_compile(pattern).fullmatch(relative))


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
        pattern=NAMESPACE_PATTERN.pattern,
    )
    files: Globs = Field(
        default=None,
        description="Globs (`glob:` default, or `regex:`) on the files' paths; all when unset.",
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
        return wanted

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
