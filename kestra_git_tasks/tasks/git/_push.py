"""``PushTask``: instance -> Git. Collect, build the tree on the branch tip, commit only if it
changed, push, and report success only once the remote branch points at our commit.

The Git work (fetching the tip, building the tree in memory, pushing, retrying when the branch
moved, verifying) is :class:`kestra_git_tasks.git.push.Pusher`'s; a push task only says which
files it wants under ``gitDirectory`` and which may be deleted.
"""

from __future__ import annotations

import functools
import json
import re
from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from urllib.parse import quote, urlsplit

from pydantic import BeforeValidator, Field

from ...errors import ConfigError
from ...git.gitconfig import converts_crlf, crlf_to_lf
from ...git.push_result import Identity, PushResult
from .._base import Output as TaskOutput
from .._base import secret_value
from ._kestra_api import KestraApiTask
from ._patches import Change, write_patch
from ._push_state import PushMemory
from ._sync import KESTRAIGNORE, normalise_directory

if TYPE_CHECKING:
    import pathspec

    from ...context import RunContext
    from ...git.push import TreeView
    from ._push_submodules import SubmoduleGuard

__all__ = ["Globs", "PushTask", "commit_url", "java_glob_matches", "parse_globs"]

DEFAULT_IDENTITY = Identity("kestra-git", "kestra-git@localhost")


def parse_globs(value: Any) -> list[str] | None:
    """Kestra's glob property: a list, a JSON list in a string, or one glob; None means all."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                return [value]
            if isinstance(parsed, list):
                return [str(item) for item in parsed]
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    raise ValueError("must be a glob or a list of globs")


#: Kestra's glob property: a list, a JSON list in a string, or one glob (None: everything).
Globs = Annotated[
    list[str] | None, BeforeValidator(parse_globs, json_schema_input_type=list[str] | str | None)
]


#: Hosts whose commit page URL is known: host -> the path segment before the commit id.
_COMMIT_PAGES = {
    "github.com": "commit",
    "gitlab.com": "commit",
    "bitbucket.org": "commits",
    "codeberg.org": "commit",
    "gitea.com": "commit",
}


_DOUBLE_STAR_IN_NAME = re.compile(r"^(?P<left>.*?)\*\*(?P<right>.*)$")


@functools.lru_cache(maxsize=512)
def _java_to_wcmatch(glob: str) -> str:
    """Java's ``**`` inside a name (``**.py``, ``a**``) crosses folders; wcmatch's ``**`` does
    only as a whole name: ``L**R`` becomes ``{L*R,L*/**/*R}`` (the same paths)."""
    parts = []
    for part in glob.split("/"):
        match = _DOUBLE_STAR_IN_NAME.match(part)
        if part != "**" and match:
            left, right = match["left"], _java_to_wcmatch(match["right"])
            part = f"{{{left}*{right},{left}*/**/*{right}}}"
        parts.append(part)
    return "/".join(parts)


def java_glob_matches(pattern: str, path: str) -> bool:
    """Whether ``path`` matches ``pattern`` as Java's ``PathMatcher`` says (Kestra's engine).

    ``regex:`` is a full-match regular expression; ``glob:`` (the default) is Java's glob:
    ``*`` and ``?`` stay in a folder, ``**`` crosses folders, ``{a,b}`` alternates, ``[a-z]``
    and ``[!a]`` are classes, and the whole path must match (a path starting with ``/``, as
    namespace files do, is only matched by a pattern starting with ``/`` or ``**``).
    """
    if pattern.startswith("regex:"):
        try:
            return re.fullmatch(pattern[len("regex:") :], path) is not None
        except re.error as exc:
            raise ConfigError(f"invalid regular expression in glob '{pattern}': {exc}") from exc
    glob = pattern.removeprefix("glob:")
    if path.startswith("/"):
        if glob.startswith("/"):
            glob = glob[1:]
        elif not glob.startswith("**"):
            return False  # Java: `*`, `?`, a name or a class never matches the leading `/`
        path = path[1:]
    elif glob.startswith("**/") and "/" not in path:
        return False  # Java's `**/` is `.*/`: it needs a `/` (wcmatch's matches no folder too)
    from wcmatch import glob as wcglob  # loaded when a glob is matched, not with the task

    flags = wcglob.GLOBSTAR | wcglob.BRACE | wcglob.DOTGLOB | wcglob.CASE
    return bool(wcglob.globmatch(path, _java_to_wcmatch(glob), flags=flags))


def commit_url(url: str, commit_id: str, branch: str) -> str | None:
    """Web URL of a commit on GitHub, GitLab, Bitbucket, Codeberg, Gitea or Azure DevOps (HTTP
    or SSH remote); None for any other host, whose page layout is unknown."""
    ssh = re.match(r"^(?:ssh://)?[\w.-]+@(?:ssh\.)?([\w.-]+)[:/](?:v\d+/)?(.+)$", url)
    scheme = "https"
    if ssh and "://" not in url.split("@", 1)[0].replace("ssh://", ""):
        host, path = ssh.group(1), ssh.group(2)
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        scheme = parts.scheme
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        path = parts.path.lstrip("/")
    path = path.removesuffix("/").removesuffix(".git")
    if "dev.azure.com" in host or "visualstudio.com" in host:
        if "/_git/" not in f"/{path}":
            head, _, last = path.rpartition("/")
            path = f"{head}/_git/{last}" if head else f"_git/{last}"
        ref = quote(f"refs/heads/{branch}", safe="")
        return f"{scheme}://{host}/{path}/commit/{commit_id}?refName={ref}"
    page = _COMMIT_PAGES.get(host.lower().removeprefix("www."))
    return f"{scheme}://{host}/{path}/{page}/{commit_id}" if page else None


class PushTask(KestraApiTask):
    """Shared properties and pipeline of the instance -> Git tasks."""

    rows_output: ClassVar[str] = "rows"

    branch: str = Field(
        default="main",
        description="Branch to push to; created from the default branch's tip when missing.",
    )
    commit_message: str | None = Field(
        default=None, description="Commit message; Kestra's default names the namespace."
    )
    author_name: str | None = Field(
        default=None, description="Commit author name; falls back to `username`."
    )
    author_email: str | None = Field(default=None, description="Commit author e-mail.")
    delete: bool = Field(
        default=True,
        description="Delete files under `gitDirectory` whose flow or file no longer exists in "
        "the instance (only those matching the globs, when globs are given).",
    )
    allow_empty: bool = Field(
        default=False,
        description="Allow `delete` to remove every file in scope when the instance has "
        "nothing to push (an empty or misspelt source namespace, or globs that match nothing). "
        "Off by default: an empty source is more often a mistake than an intent.",
    )
    dry_run: bool = Field(
        default=False, description="Compute and report the diff rows; no commit, no push."
    )
    push_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="How many times to rebuild the commit on the new tip and push again when "
        "the branch moved meanwhile.",
    )

    class Output(TaskOutput):
        """Outputs shared by the push tasks (plus the rows, named per task)."""

        commit_id: str | None = Field(description="The commit pushed; null when nothing changed.")
        commit_url: str | None = Field(
            alias="commitURL",
            description="Web URL of the commit (GitHub, GitLab, Bitbucket, Azure).",
        )
        diff_file: str = Field(description="The diff rows as a JSON Lines file.")

    # -- to implement --------------------------------------------------------------------------
    @abstractmethod
    def git_directory_value(self) -> str:
        """The folder of the repository the task writes to."""

    @abstractmethod
    def collect(self, ctx: RunContext) -> dict[str, bytes]:
        """Wanted files, by path relative to ``gitDirectory``."""

    @abstractmethod
    def may_delete(self, relative: str) -> bool:
        """Whether a file under ``gitDirectory`` absent from the instance may be deleted."""

    @abstractmethod
    def source(self, ctx: RunContext) -> str:
        """The namespace pushed."""

    @abstractmethod
    def default_commit_message(self, ctx: RunContext) -> str:
        """Kestra's default commit message."""

    @abstractmethod
    def make_output(self, base: dict[str, Any], rows: list[dict[str, str]]) -> TaskOutput:
        """The task's Output."""

    def nothing_to_push(self, ctx: RunContext) -> None:
        """Called when the instance has nothing to push (PushNamespaceFiles may raise)."""

    def change_stamp(self, ctx: RunContext) -> str | None:
        """The instance's change stamp of what :meth:`collect` reads; None (the default, and
        on a Kestra server): every push collects and compares (see :mod:`._push_state`)."""
        return None

    # -- the pipeline --------------------------------------------------------------------------
    def run(self, ctx: RunContext) -> TaskOutput:
        with self.kestra_scope(ctx):
            return self._run(ctx)

    def _run(self, ctx: RunContext) -> TaskOutput:
        self.register_secrets(ctx)
        self.warn_unapplied(ctx, {"user.name": "", "user.email": "", "core.autocrlf": ""})
        directory = normalise_directory(self.git_directory_value())
        stamp = None if self.dry_run else self.change_stamp(ctx)  # read before collecting
        memory_path = PushMemory.path(self, ctx, self.source(ctx)) if stamp else None
        if memory_path is not None and self._nothing_moved(ctx, memory_path, stamp):
            ctx.log("DEBUG", "instance and branch unchanged since the last push")
            return self._report(ctx, PushResult(None, [], None, False, 1), {})
        wanted = self.collect(ctx)
        if converts_crlf(self.git_config):  # as upstream's `git add` with core.autocrlf
            wanted = {path: crlf_to_lf(content) for path, content in wanted.items()}
        if not wanted:
            self.nothing_to_push(ctx)
        from ...git.push import Pusher
        from ._push_submodules import SubmoduleGuard

        author, committer = self.identities()
        seen: dict[str, Any] = {}
        result = Pusher(self.repo_cache(ctx)).push_changes(
            self.url,
            self.branch,
            self._changes(
                directory, wanted, self.source(ctx), seen, SubmoduleGuard(self, ctx, directory)
            ),
            message=self.commit_message or self.default_commit_message(ctx),
            author=author,
            committer=committer,
            credentials=self.credentials(),
            options=self.transport_options(ctx),
            attempts=self.push_attempts,
            dry_run=self.dry_run,
            progress=ctx.progress_callback(),
        )
        head = result.commit_id or result.base_commit
        if memory_path is not None and stamp and head and not result.created_branch:
            PushMemory(stamp, head).save(memory_path)  # dry runs have no memory_path
        return self._report(ctx, result, seen)

    def _nothing_moved(self, ctx: RunContext, path: Path, stamp: str | None) -> bool:
        """The stamp is the remembered one and the branch still at the remembered commit (a
        ref advertisement is made only when the stamp matches)."""
        memory = PushMemory.load(path)
        if memory is None or memory.stamp != stamp:
            return False
        head = self.repo_cache(ctx).remote_head(
            self.url, self.branch, self.credentials(), self.transport_options(ctx)
        )
        return head == memory.head

    def identities(self) -> tuple[Identity, Identity]:
        """Author and committer: ``authorName`` (else ``gitConfig``'s ``user.name``, else
        ``username``) and ``authorEmail`` (else ``user.email``) when both resolve, else a
        neutral default identity for both. ``gitConfig`` is the repository configuration a
        commit reads its identity from, as in upstream's clone."""
        config = {str(k).lower(): v for k, v in (self.git_config or {}).items()}

        def text(value: Any) -> str | None:  # blank is unset, as in gitConfig
            return str(value).strip() or None if value is not None else None

        name = text(self.author_name) or text(config.get("user.name"))
        name = name or text(secret_value(self.username))
        email = text(self.author_email) or text(config.get("user.email"))
        if name and email:
            person = Identity(name, email)
            return person, person
        return DEFAULT_IDENTITY, DEFAULT_IDENTITY

    def _changes(
        self,
        directory: str,
        wanted: dict[str, bytes],
        source: str,
        seen: dict[str, Any],
        guard: SubmoduleGuard | None = None,
    ) -> Callable[[TreeView], dict[str, bytes | None]]:
        """The edits on the tip's tree: every wanted file, and with ``delete`` every file in
        scope that the instance no longer has. Refuses (ConfigError) to delete everything in
        scope from an empty source without ``allowEmpty``, and to drop any file that would not
        be a diff row (a file where a folder must go, or a folder where a file must go).
        ``seen`` keeps the last tip's view and edits, for the patch."""
        prefix = f"{directory}/" if directory else ""

        def changes(view: TreeView) -> dict[str, bytes | None]:
            existing = view.files(directory)
            spec = _ignore_spec(view, existing, wanted)
            result: dict[str, bytes | None] = {
                prefix + relative: content
                for relative, content in wanted.items()
                if spec is None or relative == KESTRAIGNORE or not spec.match_file(relative)
            }
            if self.delete:
                for relative in existing:
                    if relative in wanted or relative == KESTRAIGNORE:
                        continue
                    if spec is not None and spec.match_file(relative):
                        continue
                    if self.may_delete(relative):
                        result[prefix + relative] = None
            deletions = sum(1 for content in result.values() if content is None)
            if not wanted and deletions and not self.allow_empty:
                raise ConfigError(
                    f"refusing to delete all {deletions} file(s) in scope under '{directory}' "
                    f"of branch '{self.branch}': namespace {source} has nothing to push (is it "
                    "empty or misspelt?). If that is what you want, set allowEmpty: true."
                )
            _refuse_replaced_files(view, directory, existing, result)
            if guard is not None:
                guard.check(view, wanted, result)
            seen["view"], seen["edits"] = view, result
            return result

        return changes

    def _report(self, ctx: RunContext, result: PushResult, seen: dict[str, Any]) -> TaskOutput:
        rows = [row.to_dict() for row in result.rows]
        verb = "would delete" if self.dry_run else "deleted"
        for path in result.deleted:
            ctx.warn(f"{verb} {path} from branch '{self.branch}'")
        if self.dry_run:
            ctx.info(f"dry run: {len(rows)} file(s) would change on branch '{self.branch}'")
        elif result.commit_id is None:
            ctx.info("No changes to commit. Skipping push.")
        else:
            retried = f" after {result.attempts} attempts" if result.attempts > 1 else ""
            created = " (new branch)" if result.created_branch else ""
            ctx.info(
                f"pushed {result.commit_id[:12]} to '{self.branch}'{created}{retried}: "
                f"{len(rows)} file(s) changed"
            )
        diff_file = ctx.output_dir / f"{ctx.task_id or 'push'}-{self.rows_output}.jsonl"
        with diff_file.open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row) + "\n")
        if ctx.patches:
            write_patch(diff_file, _push_changes(result, seen), ctx.mask)
        url = commit_url(self.url, result.commit_id, self.branch) if result.commit_id else None
        return self.make_output(
            {"commit_id": result.commit_id, "commit_url": url, "diff_file": str(diff_file)}, rows
        )


def _push_changes(result: PushResult, seen: dict[str, Any]) -> list[Change]:
    """The old (the tip's) and new content of each diff row of a push."""
    view: TreeView | None = seen.get("view")
    edits: dict[str, bytes | None] = seen.get("edits", {})
    tip = view.files("") if view is not None else {}
    changes = []
    for row in result.rows:
        blob = tip.get(row.file)
        old = view.read(blob) if view is not None and blob is not None else None
        changes.append(Change(row.file, old, edits.get(row.file)))
    return changes


def _ignore_spec(
    view: TreeView, existing: dict[str, str], wanted: dict[str, bytes]
) -> pathspec.GitIgnoreSpec | None:
    """The ``.kestraignore`` in force: the pushed one, else the one in Git, else None."""
    if KESTRAIGNORE in wanted:
        text = wanted[KESTRAIGNORE]
    elif KESTRAIGNORE in existing:
        text = view.read(existing[KESTRAIGNORE])
    else:
        return None
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(text.decode("utf-8", "replace").splitlines())


def _refuse_replaced_files(
    view: TreeView, directory: str, existing: dict[str, str], result: dict[str, bytes | None]
) -> None:
    """Raise when a written file needs a path that another file (or folder) holds: Git would
    drop the other one without it being a diff row. A conflicting file that is itself being
    deleted is refused too: the deletion and the write could not both be rows of one tree edit.
    """
    written = sorted(path for path, content in result.items() if content is not None)
    if not written:
        return
    prefix = f"{directory}/" if directory else ""
    after = {prefix + relative for relative in existing} | set(written)
    if directory and not existing:  # gitDirectory (or a parent of it) may be a file
        top = view.files("")
        parts = directory.split("/")
        for parent in ("/".join(parts[: i + 1]) for i in range(len(parts))):
            if parent in top:
                raise _replaced(written[0], parent)
    folders = {path[:i] for path in after for i, char in enumerate(path) if char == "/"}
    for path in written:
        for i, char in enumerate(path):
            if char == "/" and path[:i] in after:
                raise _replaced(path, path[:i])
        if path in folders:
            inside = min(other for other in after if other.startswith(path + "/"))
            raise ConfigError(
                f"cannot write {path}: the branch has a folder of that name holding '{inside}', "
                "and pushing would replace it; move or delete it in Git first"
            )


def _replaced(path: str, file: str) -> ConfigError:
    return ConfigError(
        f"cannot write {path}: the branch has a file '{file}' where that folder must be, and "
        f"pushing would replace it; move or delete '{file}' in Git first"
    )
