"""``io.kestra.plugin.git.Clone``: clone a repository into the working directory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field
from pydantic.config import JsonDict

from ...errors import ConfigError
from ...git import CloneResult, check_clone_options, clone_repository
from ...git.submodules import LOCAL_SUBMODULES_ENV
from ...git.urls import storage_url
from .._base import Output as TaskOutput
from ._base import GitTask
from ._kestra_api import KestraAuth

if TYPE_CHECKING:
    from ...context import RunContext

__all__ = ["Clone"]

_CLONE: JsonDict = {"group": "clone"}


class Clone(GitTask):
    """Clone a Git repository into the working directory.

    Clones `url` into `directory` (a folder of the working directory; its root by default).
    Inside a `WorkingDirectory` the next tasks see the clone and can run its code: that is
    Kestra's Git Clone pattern (see the `WorkingDirectory` page for the full flow). Outside
    one, the clone goes to a new temporary folder, given by the `directory` output and removed
    when the execution ends.

    Without `branch`, `commit` or `tag` the remote's default branch is checked out (its HEAD,
    else `main`, else `master`), with `depth` commits of history. `commit` and `tag` fetch the
    full history and leave HEAD detached. A folder that already holds files (for example a
    `WorkingDirectory`'s `inputFiles`) is cloned into in place: its files are kept, and a file
    of the repository replaces a file of the same path. Credentials are never written into
    the clone's `.git/config`.

    Examples:

    Clone the main branch of a public repository:

    ```yaml
    id: clone_repository
    namespace: company.team
    tasks:
      - id: clone
        type: io.kestra.plugin.git.Clone
        url: https://github.com/kestra-io/examples
        branch: main
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "Cloned into {{ outputs.clone.directory }}"
    ```

    Clone a private repository at a tag, with its submodules, into a sub-folder:

    ```yaml
    id: clone_release
    namespace: company.team
    tasks:
      - id: clone
        type: io.kestra.plugin.git.Clone
        url: https://github.com/my-org/private-repo
        username: git_username
        password: "{{ secret('GITHUB_ACCESS_TOKEN') }}"
        tag: v1.2.0
        cloneSubmodules: true
        directory: release
    ```
    """

    type: ClassVar[str] = "io.kestra.plugin.git.Clone"

    directory: str | None = Field(
        default=None,
        description="Folder to clone into, relative to the working directory (its root when "
        "unset). Outside a `WorkingDirectory` the working directory is a new temporary folder.",
        json_schema_extra=_CLONE,
    )
    branch: str | None = Field(
        default=None,
        description="Branch to check out; the remote's default branch (HEAD, else `main`, else "
        "`master`) when unset. Ignored when `commit` or `tag` is set, except that with "
        "`cloneAllBranches: false` it is the only branch fetched.",
        json_schema_extra=_CLONE,
    )
    depth: int = Field(
        default=1,
        ge=1,
        description="Number of commits of history to fetch (a shallow clone). Ignored when "
        "`commit` or `tag` is set: those fetch the full history.",
        json_schema_extra=_CLONE,
    )
    commit: str | None = Field(
        default=None,
        description="Commit to check out (full or abbreviated SHA), with a detached HEAD. Takes "
        "precedence over `tag` and `branch`.",
        json_schema_extra=_CLONE,
    )
    tag: str | None = Field(
        default=None,
        description="Tag to check out, with a detached HEAD; an annotated tag is peeled to its "
        "commit. Takes precedence over `branch`.",
        json_schema_extra=_CLONE,
    )
    clone_all_branches: bool = Field(
        default=True,
        description="Fetch every branch; `false` fetches `branch` only (and then `branch` is "
        "required).",
        json_schema_extra=_CLONE,
    )
    no_tags: bool = Field(
        default=False,
        description="Fetch no tags (and record `tagOpt = --no-tags` for later fetches). Cannot "
        "be combined with `tag`.",
        json_schema_extra=_CLONE,
    )
    clone_submodules: bool | None = Field(
        default=None,
        description="Also initialise and update the submodules, recursively, with the same "
        "credentials for those on the server of `url` (others get none). Relative submodule "
        "URLs resolve against `url`; `file://` URLs and paths are refused (see differences).",
        json_schema_extra=_CLONE,
    )
    git_config: dict[str, Any] | None = Field(
        default=None,
        description="Git configuration written into the clone's `.git/config` before fetching: "
        "keys `section.name` or `section.subsection.name`, a null or blank value unsets the "
        "key, a list sets one value per item.",
        json_schema_extra=_CLONE,
    )

    kestra_url: str | None = Field(
        default=None,
        description="Accepted for Kestra parity (upstream's Clone shares the property with the "
        "sync and push tasks); a clone does not talk to Kestra.",
        json_schema_extra={"group": "kestra"},
    )
    auth: KestraAuth | None = Field(
        default=None,
        description="Accepted for Kestra parity, with Kestra's rules (`username` with "
        "`password`, not with `apiToken`); a clone does not talk to Kestra.",
        json_schema_extra={"group": "kestra"},
    )

    class Output(TaskOutput):
        """Outputs of Clone."""

        directory: str = Field(description="Absolute path of the clone's work tree.")

    def run(self, ctx: RunContext) -> Output:
        check_clone_options(
            branch=self.branch,
            commit=self.commit,
            tag=self.tag,
            all_branches=self.clone_all_branches,
            no_tags=self.no_tags,
            depth=self.depth,
        )
        self.register_secrets(ctx)
        target = self._target(ctx)
        if self.commit and self.tag:
            ctx.warn(f"`commit` is set: `tag` '{self.tag}' is ignored")
        ctx.info(f"Start cloning from '{storage_url(self.url)}' into {target}")
        result = clone_repository(
            self.url,
            target,
            credentials=self.credentials(),
            options=self.transport_options(ctx),
            branch=self.branch,
            depth=self.depth,
            commit=self.commit,
            tag=self.tag,
            all_branches=self.clone_all_branches,
            no_tags=self.no_tags,
            submodules=bool(self.clone_submodules),
            allow_local_submodules=_env_flag(ctx.environ, LOCAL_SUBMODULES_ENV),
            git_config=self.git_config,
            log=ctx.log,
            progress=ctx.progress_callback(),
        )
        ctx.info(_describe(result))
        return self.Output(directory=str(result.directory))

    def _target(self, ctx: RunContext) -> Path:
        base = ctx.working_dir
        if base is None:
            base = ctx.temporary_directory("clone-")
            ctx.log("DEBUG", f"no working directory: cloning into the new folder {base}")
        if not self.directory or not self.directory.strip():
            return base.resolve()
        relative = Path(self.directory.strip())
        target = (base / relative).resolve()
        if relative.is_absolute() or not target.is_relative_to(base.resolve()):
            raise ConfigError(
                f"`directory` '{self.directory}' must be a relative path inside the working "
                "directory (no absolute path, no '..' leaving it)."
            )
        return target


def _env_flag(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() in {"1", "true", "yes"}


def _describe(result: CloneResult) -> str:
    if result.commit is None:
        return f"Cloned an empty repository into {result.directory}"
    if result.branch is not None:
        depth = " (shallow)" if result.shallow else ""
        return f"Checked out branch '{result.branch}' at {result.commit[:12]}{depth}"
    if result.tag is not None:
        return f"Checked out tag '{result.tag}' at {result.commit[:12]} (detached HEAD)"
    return f"Checked out commit {result.commit[:12]} (detached HEAD)"
