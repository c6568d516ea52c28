"""TenantSync's dashboards: ``<gitDirectory>/_global/dashboards/<id>.yaml`` both ways.

The same matrix as flows (:mod:`._two_way`), keyed by dashboard id: a Git file's YAML ``id``
must be its file name (else ``onInvalidSyntax``), sources are compared without ``updated:``
lines and line-ending differences, and what the instance writes to Git has no ``updated:``
lines. Dashboards belong to no namespace: ``protectedNamespaces`` does not cover them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import InstanceError
from ...flowfile import is_flow_file
from ...instance.base import dashboard_id
from ._two_way import Action, DiffLine, Kind, Options, Plan, SourceOfTruth, report_invalid
from .sync_dashboards import comparable, without_updated

if TYPE_CHECKING:
    from collections.abc import Callable

    from ...context import RunContext

__all__ = ["DASHBOARDS_DIR", "plan_dashboards"]

DASHBOARDS_DIR = "_global/dashboards"


def plan_dashboards(
    listed: dict[str, str],
    read: Callable[[str], bytes],
    instance: dict[str, str],
    options: Options,
    ctx: RunContext,
) -> Plan:
    """Compare Git's dashboards (path under ``_global/dashboards`` -> blob) with the
    instance's (id -> source)."""
    plan = Plan()
    git = {
        name.rsplit(".", 1)[0]: (f"{DASHBOARDS_DIR}/{name}", blob)
        for name, blob in sorted(listed.items())
        if "/" not in name and is_flow_file(name)
    }
    to_git = options.source == SourceOfTruth.KESTRA
    plan.source_items = len(instance) if to_git else len(git)
    for key in sorted(set(git) | set(instance)):
        path = git[key][0] if key in git else f"{DASHBOARDS_DIR}/{key}.yaml"
        text = read(git[key][1]).decode("utf-8", "replace") if key in git else None
        current = instance.get(key)
        if text is not None and current is not None:
            if comparable(text) == comparable(current):
                continue
            action = Action.UPDATED_GIT if to_git else Action.UPDATED_KES
        elif (text is None) == to_git:
            action = Action.ADDED
        else:
            _missing(plan, DiffLine(path, key, Kind.DASHBOARD, Action.ADDED), options)
            continue
        if to_git:
            assert current is not None
            plan.edits[path] = without_updated(current).encode("utf-8")
        elif not _valid(plan, text or "", path, key, options, ctx):
            continue
        else:
            plan.dashboards[key] = text
        plan.lines.append(DiffLine(path, key, Kind.DASHBOARD, action))
    return plan


def _missing(plan: Plan, line: DiffLine, options: Options) -> None:
    side = "KESTRA" if options.source == SourceOfTruth.KESTRA else "Git"
    if options.missing == "KEEP":
        return
    if options.missing == "FAIL":
        plan.missing.append(f"{line.kind} {line.key} (missing in {side}, {line.file})")
        return
    if options.source == SourceOfTruth.GIT:
        plan.dashboards[line.key] = None
        plan.lines.append(DiffLine(line.file, line.key, line.kind, Action.DELETED_KES))
    else:
        plan.edits[line.file] = None
        plan.lines.append(DiffLine(line.file, line.key, line.kind, Action.DELETED_GIT))
    plan.deletions += 1


def _valid(plan: Plan, source: str, path: str, key: str, options: Options, ctx: RunContext) -> bool:
    try:
        declared = dashboard_id(source)
        problem = (
            None if declared == key else f"it declares id '{declared}'; name it {declared}.yaml"
        )
    except InstanceError as exc:
        problem = str(exc)
    if problem is None:
        return True
    report_invalid(plan, f"DASHBOARD {key}", path, problem, options, ctx)
    return False
