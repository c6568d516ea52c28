"""The two-way sync engine behind NamespaceSync and TenantSync.

One namespace is two snapshots: the Git side (``<gitDirectory>/<namespace>/flows/<id>.yaml``,
``.yml`` read too, and ``<gitDirectory>/<namespace>/files/<path>``) and the instance side (its
flows, ``revision:`` lines stripped, and its namespace files). :func:`plan_namespace` compares
them, key by key, and says for each difference what the source of truth makes of it:

* a :class:`DiffLine` (Kestra's ``{file, key, kind, action}``; UNCHANGED lines are not reported),
* with ``sourceOfTruth: GIT`` the instance :class:`~._sync.Write` that makes it true,
* with ``sourceOfTruth: KESTRA`` the Git edit (repository path -> bytes, or None to delete).

Rules, the same for both tasks:

* ``whenMissingInSource``: DELETE removes from the target side, KEEP leaves it, FAIL raises
  before anything is written, naming every missing key.
* A namespace in ``protectedNamespaces`` (or a child of one) is never deleted from, and the flow
  running the task is never deleted from the instance.
* A flow read from Git must declare the namespace of its folder and the id of its file name
  (a flow can never be written outside the namespace being synced); it is validated by the
  instance before anything is written. A flow that breaks either rule follows
  ``onInvalidSyntax``: FAIL raises (every problem, with its file), WARN or SKIP leave it out.
* Only the paths above are read or written: a README, or any other folder, is never touched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from ...errors import ConfigError, FlowFileError, FlowProblem
from ...flowfile import flow_identity, is_flow_file
from ...instance.base import namespace_matches
from ._sync import Write, WriteAction
from .push_flows import strip_revision

if TYPE_CHECKING:
    from ...context import RunContext
    from ...instance.base import Instance

__all__ = [
    "Action",
    "DiffLine",
    "GitSide",
    "InstanceSide",
    "Kind",
    "OnInvalidSyntax",
    "Options",
    "Plan",
    "SourceOfTruth",
    "WhenMissingInSource",
    "check_plan",
    "git_blob_id",
    "git_side",
    "instance_side",
    "plan_namespace",
    "report_invalid",
]

FLOWS_DIR, FILES_DIR = "flows", "files"


class SourceOfTruth(StrEnum):
    """Which side wins."""

    GIT = "GIT"
    KESTRA = "KESTRA"


class WhenMissingInSource(StrEnum):
    """What happens to an item the source side does not have."""

    DELETE = "DELETE"
    KEEP = "KEEP"
    FAIL = "FAIL"


class OnInvalidSyntax(StrEnum):
    """What happens to a flow from Git that is invalid (or claims another namespace or id)."""

    SKIP = "SKIP"
    WARN = "WARN"
    FAIL = "FAIL"


class Kind(StrEnum):
    """What a diff line is about."""

    FLOW = "FLOW"
    FILE = "FILE"
    DASHBOARD = "DASHBOARD"


class Action(StrEnum):
    """Kestra's diff actions (``_GIT``: Git is changed, ``_KES``: the instance is changed)."""

    ADDED = "ADDED"
    UPDATED_GIT = "UPDATED_GIT"
    UPDATED_KES = "UPDATED_KES"
    DELETED_GIT = "DELETED_GIT"
    DELETED_KES = "DELETED_KES"


@dataclass(frozen=True)
class DiffLine:
    """One change: ``file`` relative to ``gitDirectory``, ``key`` ``namespace:id|path``."""

    file: str
    key: str
    kind: Kind
    action: Action

    def to_dict(self) -> dict[str, str]:
        """Kestra's ``DiffLine``: ``{file, key, kind, action}``."""
        return {"file": self.file, "key": self.key, "kind": self.kind, "action": self.action}


@dataclass(frozen=True)
class Options:
    """The task properties the plan depends on."""

    source: SourceOfTruth
    missing: WhenMissingInSource
    protected: tuple[str, ...]
    on_invalid: OnInvalidSyntax
    running_flow: tuple[str, str]

    def is_protected(self, namespace: str) -> bool:
        """``namespace`` is protected or a child of a protected namespace."""
        return any(namespace_matches(namespace, p, include_children=True) for p in self.protected)


@dataclass
class GitSide:
    """One namespace in Git: flow id -> (path under ``gitDirectory``, blob id), and file path
    (relative to ``files/``) -> blob id; ``read`` gives a blob's content."""

    flows: dict[str, tuple[str, str]]
    files: dict[str, str]
    read: Callable[[str], bytes]
    duplicates: list[str] = field(default_factory=list)


@dataclass
class InstanceSide:
    """One namespace in the instance: flow id -> source (``revision:`` stripped), file path
    (relative, no leading ``/``) -> content."""

    flows: dict[str, str]
    files: dict[str, bytes]


@dataclass
class Plan:
    """What the sync does: the diff lines; the instance writes (GIT: flows and files, and
    dashboards by id, None to delete) or the Git edits (KESTRA); how many items the source
    side holds and how many deletions the plan makes."""

    lines: list[DiffLine] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    edits: dict[str, bytes | None] = field(default_factory=dict)
    dashboards: dict[str, str | None] = field(default_factory=dict)
    problems: list[FlowProblem] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    source_items: int = 0
    deletions: int = 0

    def extend(self, other: Plan) -> None:
        """Add another namespace's plan to this one."""
        self.lines += other.lines
        self.writes += other.writes
        self.edits.update(other.edits)
        self.dashboards.update(other.dashboards)
        self.problems += other.problems
        self.missing += other.missing
        self.source_items += other.source_items
        self.deletions += other.deletions


def git_blob_id(content: bytes) -> str:
    """The id Git gives a blob of ``content`` (compares files without reading Git's copy)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def git_side(listed: dict[str, str], namespace: str, read: Callable[[str], bytes]) -> GitSide:
    """The Git side of ``namespace`` from the files of its folder (path relative to
    ``<gitDirectory>/<namespace>`` -> blob id). Flows are the direct children of ``flows/``
    with a flow suffix; a flow id present twice (``a.yml`` and ``a.yaml``) is recorded in
    ``duplicates``."""
    side = GitSide({}, {}, read)
    for relative, blob in sorted(listed.items()):
        folder, _, name = relative.partition("/")
        if folder == FLOWS_DIR and "/" not in name and is_flow_file(name):
            flow_id = name.rsplit(".", 1)[0]
            if flow_id in side.flows:
                side.duplicates.append(f"{namespace}/{relative}")
            side.flows[flow_id] = (f"{namespace}/{relative}", blob)
        elif folder == FILES_DIR and name:
            side.files[name] = blob
    return side


def instance_side(instance: Instance, namespace: str) -> InstanceSide:
    """Flows and files of exactly ``namespace`` (no children) as the instance holds them."""
    flows = {
        record.id: strip_revision(record.source)
        for record in instance.list_flows(namespace)
        if record.namespace == namespace
    }
    files = {
        record.path.lstrip("/"): instance.read_file(namespace, record.path)
        for record in instance.list_files(namespace)
        if record.namespace == namespace
    }
    return InstanceSide(flows, files)


def _updated(options: Options) -> Action:
    return Action.UPDATED_KES if options.source == SourceOfTruth.GIT else Action.UPDATED_GIT


def _normalised(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def plan_namespace(
    namespace: str, git: GitSide, kestra: InstanceSide, options: Options, ctx: RunContext
) -> Plan:
    """Compare both sides of ``namespace``; see the module docstring. Changes nothing."""
    plan = Plan()
    if git.duplicates:
        message = "the flow id is also in another file (.yml and .yaml); keep one"
        plan.problems += [FlowProblem(path, None, message) for path in git.duplicates]
    git_is_source = options.source == SourceOfTruth.GIT
    plan.source_items = (
        len(git.flows) + len(git.files) if git_is_source else len(kestra.flows) + len(kestra.files)
    )
    _plan_flows(plan, namespace, git, kestra, options, ctx)
    _plan_files(plan, namespace, git, kestra, options, ctx)
    return plan


def _plan_flows(
    plan: Plan,
    namespace: str,
    git: GitSide,
    kestra: InstanceSide,
    options: Options,
    ctx: RunContext,
) -> None:
    for flow_id in sorted(set(git.flows) | set(kestra.flows)):
        key = f"{namespace}:{flow_id}"
        in_git = git.flows.get(flow_id)
        in_kestra = kestra.flows.get(flow_id)
        path = in_git[0] if in_git else f"{namespace}/{FLOWS_DIR}/{flow_id}.yaml"
        git_text = git.read(in_git[1]).decode("utf-8", "replace") if in_git else None
        if git_text is not None and in_kestra is not None:
            if _normalised(git_text) == _normalised(in_kestra):
                continue
            action = _updated(options)
        elif (in_git is not None) == (options.source == SourceOfTruth.GIT):
            action = Action.ADDED
        else:
            _missing(plan, DiffLine(path, key, Kind.FLOW, Action.ADDED), namespace, options, ctx)
            continue
        line = DiffLine(path, key, Kind.FLOW, action)
        if options.source == SourceOfTruth.KESTRA:
            assert in_kestra is not None
            plan.lines.append(line)
            plan.edits[path] = in_kestra.encode("utf-8")
        else:
            assert in_git is not None
            source = _git_flow(plan, git.read(in_git[1]), path, namespace, flow_id, options, ctx)
            if source is not None:
                plan.lines.append(line)
                plan.writes.append(Write(WriteAction.PUT_FLOW, source=source))


def _plan_files(
    plan: Plan,
    namespace: str,
    git: GitSide,
    kestra: InstanceSide,
    options: Options,
    ctx: RunContext,
) -> None:
    for relative in sorted(set(git.files) | set(kestra.files)):
        key = f"{namespace}:{relative}"
        path = f"{namespace}/{FILES_DIR}/{relative}"
        blob = git.files.get(relative)
        content = kestra.files.get(relative)
        if blob is not None and content is not None:
            if git_blob_id(content) == blob:
                continue
            action = _updated(options)
        elif (blob is not None) == (options.source == SourceOfTruth.GIT):
            action = Action.ADDED
        else:
            _missing(plan, DiffLine(path, key, Kind.FILE, Action.ADDED), namespace, options, ctx)
            continue
        plan.lines.append(DiffLine(path, key, Kind.FILE, action))
        if options.source == SourceOfTruth.KESTRA:
            plan.edits[path] = content
        else:
            assert blob is not None
            plan.writes.append(
                Write(
                    WriteAction.WRITE_FILE,
                    namespace=namespace,
                    key="/" + relative,
                    content=git.read(blob),
                )
            )


def _missing(plan: Plan, line: DiffLine, namespace: str, options: Options, ctx: RunContext) -> None:
    """An item only the target side has: ``whenMissingInSource`` decides."""
    side = "KESTRA" if options.source == SourceOfTruth.KESTRA else "Git"
    if options.missing == WhenMissingInSource.KEEP:
        return
    if options.missing == WhenMissingInSource.FAIL:
        plan.missing.append(f"{line.kind} {line.key} (missing in {side}, {line.file})")
        return
    if options.is_protected(namespace):
        ctx.warn(f"Protected namespace, skipping delete for {line.kind} {line.key}")
        return
    flow_id = line.key.partition(":")[2]
    if options.source == SourceOfTruth.GIT:
        if line.kind == Kind.FLOW and (namespace, flow_id) == options.running_flow:
            ctx.info(f"kept {line.key}: it is the flow running this task")
            return
        action = WriteAction.DELETE_FLOW if line.kind == Kind.FLOW else WriteAction.DELETE_FILE
        key = flow_id if line.kind == Kind.FLOW else "/" + flow_id
        plan.writes.append(Write(action, namespace=namespace, key=key))
        plan.lines.append(DiffLine(line.file, line.key, line.kind, Action.DELETED_KES))
    else:
        plan.edits[line.file] = None
        plan.lines.append(DiffLine(line.file, line.key, line.kind, Action.DELETED_GIT))
    plan.deletions += 1


def _git_flow(
    plan: Plan,
    data: bytes,
    path: str,
    namespace: str,
    flow_id: str,
    options: Options,
    ctx: RunContext,
) -> str | None:
    """The source of a flow from Git when it may be written to the instance, else None (and
    the problem recorded for FAIL, or logged for WARN/SKIP)."""
    problem = None
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError:
        source, problem = "", "the file is not UTF-8 text"
    identity = flow_identity(source) if problem is None else None
    if problem is None and identity is None:
        problem = "it has no readable top-level 'id' and 'namespace'"
    elif identity is not None and identity[0] != namespace:
        problem = (
            f"it declares namespace '{identity[0]}' but lies in the folder of namespace "
            f"'{namespace}'; move the file to '{identity[0]}/flows/' or set "
            f"'namespace: {namespace}'"
        )
    elif identity is not None and identity[1] != flow_id:
        problem = f"it declares id '{identity[1]}'; name the file '{identity[1]}.yaml'"
    if problem is None:
        found = ctx.require_instance().validate_flows([source])[0]
        problem = "; ".join(found) if found else None
    if problem is None:
        return source
    report_invalid(plan, f"FLOW {namespace}:{flow_id}", path, problem, options, ctx)
    return None


def report_invalid(
    plan: Plan, what: str, path: str, problem: str, options: Options, ctx: RunContext
) -> None:
    """``onInvalidSyntax`` for an item from Git: FAIL records the problem (raised by
    :func:`check_plan`), WARN logs a warning, SKIP an info line; the item is left out."""
    if options.on_invalid == OnInvalidSyntax.FAIL:
        plan.problems.append(FlowProblem(path, None, f"Invalid syntax for {what}: {problem}"))
    elif options.on_invalid == OnInvalidSyntax.WARN:
        ctx.warn(f"{what} couldn't be synced due to invalid syntax: {problem}")
    else:
        ctx.info(f"Skipping invalid {what}")


def check_plan(plan: Plan, options: Options, allow_empty: bool, scope: str) -> None:
    """Raise, before anything is written, for invalid flows (FAIL), missing items (FAIL) and
    for deleting everything from an empty source side (unless ``allowEmpty``)."""
    if plan.problems:
        raise FlowFileError(plan.problems)
    if plan.missing:
        shown = "; ".join(plan.missing[:20]) + (" ..." if len(plan.missing) > 20 else "")
        raise ConfigError(
            f"Sync failed: {len(plan.missing)} item(s) of {scope} missing in the source of truth "
            f"({options.source}): {shown}. Nothing was changed. Add them to the source, or set "
            "whenMissingInSource: KEEP (leave them) or DELETE (remove them)."
        )
    if plan.source_items == 0 and plan.deletions and not allow_empty:
        side = "Git" if options.source == SourceOfTruth.GIT else "the instance"
        raise ConfigError(
            f"refusing to delete all {plan.deletions} item(s) of {scope}: {side} holds nothing "
            "for it (is the folder, branch or namespace misspelt?). If that is what you want, "
            "set allowEmpty: true."
        )
