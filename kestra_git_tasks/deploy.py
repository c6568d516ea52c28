"""The CI/CD pattern: deploy a folder of flows to a namespace, as a plan then an apply.

It is SyncFlows with a local folder instead of a Git branch: the same validation before the
first write, the same rows, the same all-or-nothing apply and the same delete guards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .context import RunContext
from .instance.base import Instance, LogRecord
from .tasks.git._sync import GitTree
from .tasks.git.sync_flows import SyncFlows

__all__ = ["deploy_folder"]


def deploy_folder(
    directory: Path,
    namespace: str,
    instance: Instance,
    *,
    home: Path,
    include_child_namespaces: bool = False,
    delete: bool = False,
    allow_empty: bool = False,
    dry_run: bool = False,
    log_sinks: Sequence[Callable[[LogRecord], None]] = (),
) -> list[dict[str, Any]]:
    """Make ``namespace`` hold the flows of ``directory``; return the diff rows.

    Parameters:
        directory: folder of flow files (``.yml``/``.yaml``; a root ``.kestraignore`` applies).
        namespace: target namespace; sub-folders map to child namespaces when
            ``include_child_namespaces``.
        instance: the embedded instance or a Kestra server.
        delete: also delete flows in scope that the folder no longer has.
        dry_run: plan only.
        log_sinks: called with every log line of the deploy (warnings included), as they come.
    """
    task = SyncFlows(
        id="deploy",
        url=directory.resolve().as_uri(),
        target_namespace=namespace,
        include_child_namespaces=include_child_namespaces,
        delete=delete,
        allow_empty=allow_empty,
        dry_run=dry_run,
    )
    ctx = RunContext.create(instance=instance, home=home, flow_id="deploy", namespace="cli")
    ctx.task_id = "deploy"
    ctx.sinks.extend(log_sinks)
    plan = task.plan_from_tree(ctx, GitTree.from_folder(directory))
    return [row.to_dict() for row in (plan.rows if dry_run else task.apply(ctx, plan))]
