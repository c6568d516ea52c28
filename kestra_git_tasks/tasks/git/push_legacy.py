"""``io.kestra.plugin.git.Push`` (deprecated in Kestra): commit input files, namespace files and
the namespace's flows, in one commit.

Runs as Kestra's does, on our pusher (commit only when something changed, rebuilt and retried
when the branch moved, verified), with a warning naming the replacements:

* with ``url``: the branch becomes exactly what this run writes (Kestra removes every tracked
  file and adds back what it wrote): ``inputFiles``, ``namespaceFiles`` of the flow's namespace
  and the flows as ``<flows.gitDirectory>/<namespace>.<id>.yml`` (``revision:`` stripped),
  restricted to ``addFilesPattern``;
* without ``url``: the repository an earlier ``Clone`` left in the working folder
  (``directory``) is pushed to its ``origin``: the files written there (the same three kinds
  are written into it first) under ``addFilesPattern`` are committed on the branch.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ...errors import ConfigError, GitError
from ...git.push import Identity, Pusher, TreeView
from ...git.tree import check_path
from ...git.urls import redact_url
from ...git.worktree import origin_url
from .._base import Output as TaskOutput
from .._base import secret_value
from .._workdir import NamespaceFiles, parse_input_files, path_inside, write_input_files
from ._kestra_api import KestraApiTask
from ._push import DEFAULT_IDENTITY, commit_url
from .push_flows import strip_revision

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["Push"]

_NESTED = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class FlowFiles(BaseModel):
    """Kestra's ``flows`` of Push: which flows of the flow's namespace are written."""

    model_config = _NESTED

    enabled: bool = Field(default=True, description="Write the namespace's flows.")
    child_namespaces: bool = Field(default=True, description="Include child namespaces.")
    git_directory: str = Field(default="_flows", description="Folder the flows go to.")


class Author(BaseModel):
    """Commit author: `name` and `email` (the name falls back to `username`)."""

    model_config = _NESTED

    name: str | None = Field(default=None, description="Author name.")
    email: str | None = Field(default=None, description="Author e-mail.")


class Push(KestraApiTask):
    """Commit and push files, namespace files and flows to Git (deprecated).

    Kestra deprecated this task for PushFlows, PushNamespaceFiles and PushExecutionFiles; it
    still runs here, with a warning. With `url` the branch is set to exactly the files this run
    writes (`inputFiles`, `namespaceFiles`, and the flows as `_flows/<namespace>.<id>.yml`),
    restricted to `addFilesPattern`; without `url` the repository cloned earlier into the
    working folder is pushed to its origin.

    Examples:

    Push flows and namespace files every 15 minutes:

    ```yaml
    id: push_to_git
    namespace: company.team
    tasks:
      - id: commit_and_push
        type: io.kestra.plugin.git.Push
        namespaceFiles:
          enabled: true
        flows:
          enabled: true
        url: https://github.com/kestra-io/scripts
        branch: kestra
        username: git_username
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
        commitMessage: "add flows and scripts {{ now() }}"
    triggers:
      - id: schedule_push
        type: io.kestra.plugin.core.trigger.Schedule
        cron: "*/15 * * * *"
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.git.Push"

    url: str | None = Field(  # type: ignore[assignment]
        default=None,
        description="Repository URL; without it the repository in the working folder (an "
        "earlier Clone) is pushed to its origin.",
    )
    directory: str | None = Field(
        default=None, description="Folder of the working folder holding the repository."
    )
    branch: str = Field(description="Branch to push to; created when missing.")
    commit_message: str = Field(description="Commit message.")
    namespace_files: NamespaceFiles | None = Field(
        default=None, description="Namespace files of the flow's namespace to commit."
    )
    flows: FlowFiles = Field(
        default_factory=FlowFiles,
        description="Flows of the flow's namespace to commit: `enabled` (true), "
        "`childNamespaces` (true), `gitDirectory` (`_flows`).",
    )
    input_files: dict[str, str] | str | None = Field(
        default=None, description="Files to commit: path -> content (or that map as JSON)."
    )
    add_files_pattern: list[str] = Field(
        default_factory=lambda: ["."],
        description="Paths to commit (folders recursively; not globs); `.` is everything.",
    )
    author: Author | None = Field(default=None, description="Commit author.")
    allow_empty: bool = Field(
        default=False,
        description="With `url`, allow a run that writes nothing to empty the branch (Kestra "
        "removes every file the run does not write). Off by default.",
    )

    class Output(TaskOutput):
        """Output of Push."""

        commit_id: str | None = Field(description="The commit pushed; null when none.")

    def run(self, ctx: RunContext) -> Output:
        with self.kestra_scope(ctx):
            return self._run(ctx)

    def _run(self, ctx: RunContext) -> Output:
        ctx.warn(
            "io.kestra.plugin.git.Push is deprecated: use io.kestra.plugin.git.PushFlows, "
            "PushNamespaceFiles or PushExecutionFiles instead"
        )
        folder, url = self._repository(ctx)
        self.register_secrets(ctx)
        self._write(ctx, folder)
        wanted = self._selected(folder)
        ctx.info(f"Pushing to {redact_url(url)}/tree/{self.branch}")
        mirror = self.url is not None

        def changes(view: TreeView) -> dict[str, bytes | None]:
            edits: dict[str, bytes | None] = dict.fromkeys(view.files(""), None) if mirror else {}
            if edits and not wanted and not self.allow_empty:
                raise ConfigError(
                    f"refusing to delete all {len(edits)} file(s) of branch '{self.branch}': "
                    "this run writes nothing (no input file, namespace file or flow under "
                    "addFilesPattern). If that is what you want, set allowEmpty: true."
                )
            edits.update(wanted)
            return edits

        author = self._identity()
        result = Pusher(self.repo_cache(ctx)).push_changes(
            url,
            self.branch,
            changes,
            message=self.commit_message,
            author=author,
            committer=author,
            credentials=self.credentials(),
            options=self.transport_options(ctx),
        )
        if result.commit_id is None:
            ctx.info("No changes to commit. Skipping push.")
        else:
            shown = commit_url(url, result.commit_id, self.branch) or result.commit_id
            ctx.info(f"pushed {shown}")
        return self.Output(commit_id=result.commit_id)

    def register_secrets(self, ctx: RunContext) -> None:
        """As every Git task, plus the URL of the working folder's origin when ``url`` is
        unset (``Clone`` never stores credentials there)."""
        if self.url is not None:
            super().register_secrets(ctx)
            return
        for value in (self.password, self.private_key, self.passphrase):
            plain = secret_value(value)
            if plain:
                ctx.masker.add(plain)

    def _repository(self, ctx: RunContext) -> tuple[Path, str]:
        """Where the files are written, and the URL pushed to."""
        if self.url is not None:
            return ctx.temporary_directory("push-"), self.url
        base = ctx.working_dir
        if base is None:
            raise ConfigError(
                "Push without `url` pushes the repository an earlier Clone left in the working "
                "folder: run it inside a WorkingDirectory after a Clone, or set `url`."
            )
        folder = path_inside(base, self.directory, "`directory`") if self.directory else base
        url = origin_url(folder)
        if url is None:
            raise ConfigError(
                f"no Git repository with an origin in {folder}: clone it first (Clone with the "
                "same `directory`), or set `url`."
            )
        return folder, url

    def _write(self, ctx: RunContext, folder: Path) -> None:
        """Input files, namespace files and flows, written into ``folder``."""
        inputs = parse_input_files(self.input_files)
        for name in inputs:
            _check(name, "inputFiles")
        write_input_files(folder, inputs)
        if self.namespace_files is not None and self.namespace_files.enabled:
            self._write_namespace_files(ctx, folder, self.namespace_files)
        if self.flows.enabled:
            namespace = ctx.flow.namespace
            target = path_inside(folder, self.flows.git_directory, "`flows.gitDirectory`")
            records = ctx.require_instance().list_flows(
                namespace, include_children=self.flows.child_namespaces
            )
            for record in records:
                target.mkdir(parents=True, exist_ok=True)
                path = target / f"{record.namespace}.{record.id}.yml"
                path.write_text(strip_revision(record.source), encoding="utf-8")

    def _write_namespace_files(self, ctx: RunContext, folder: Path, spec: NamespaceFiles) -> None:
        """The flow's namespace files selected by ``include``/``exclude``, every path checked
        before the first is written (a ``.git`` one would rewrite the clone's own files)."""
        instance = ctx.require_instance()
        namespace = ctx.flow.namespace
        chosen = [
            record.path.lstrip("/")
            for record in instance.list_files(namespace)
            if _wanted(record.path.lstrip("/"), spec.include, spec.exclude)
        ]
        for relative in chosen:
            _check(relative, "namespace file")
        for relative in chosen:
            target = path_inside(folder, relative, "namespace file")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(instance.read_file(namespace, "/" + relative))

    def _selected(self, folder: Path) -> dict[str, bytes]:
        """Files of ``folder`` under ``addFilesPattern`` (``.git`` and links left out)."""
        patterns = [_pattern(p) for p in self.add_files_pattern]
        chosen: dict[str, bytes] = {}
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder).as_posix()
            if ".git" in PurePosixPath(relative).parts or path.is_symlink() or not path.is_file():
                continue
            if any(p == "" or relative == p or relative.startswith(p + "/") for p in patterns):
                chosen[relative] = path.read_bytes()
        return chosen

    def _identity(self) -> Identity:
        """Kestra's rule: `author.name` + `author.email`, else `username` + `author.email`."""
        email = self.author.email if self.author else None
        name = (self.author.name if self.author else None) or secret_value(self.username)
        if email and name:
            return Identity(name, email)
        return DEFAULT_IDENTITY


def _wanted(path: str, include: list[str] | None, exclude: list[str] | None) -> bool:
    if include and not any(fnmatch.fnmatch(path, pattern) for pattern in include):
        return False
    return not (exclude and any(fnmatch.fnmatch(path, pattern) for pattern in exclude))


def _check(relative: str, what: str) -> None:
    """Refuse a path with a ``.git``, ``..`` or empty component before anything is written."""
    try:
        check_path(relative.strip().strip("/") or relative)
    except GitError as exc:
        raise ConfigError(f"{what} '{relative}': {exc}") from None


def _pattern(value: str) -> str:
    """An ``addFilesPattern`` entry as a relative path (``.`` and ``./`` mean everything)."""
    parts = [part for part in PurePosixPath(value.strip()).parts if part != "."]
    if PurePosixPath(value.strip()).is_absolute() or ".." in parts:
        raise ConfigError(f"addFilesPattern '{value}' must be a path inside the repository")
    return "/".join(parts)
