"""In-process timing of one sync: ``task.run(ctx)`` alone, in a fresh interpreter.

Started by ``bench/sync.py`` (not meant to be run by hand)::

    python bench/_sync_worker.py --task flows --url URL --username U --home HOME --out OUT.json

The password comes from ``BENCH_GIT_PASSWORD``. The instance and context are built as the CLI
builds them (``LocalInstance(home, validator=validate_source)``, then ``RunContext``); the
result (phase timings, diff-row counts, peak RSS) is written as JSON to ``--out``. With
``--profile PATH`` only ``task.run(ctx)`` runs under cProfile and the stats are dumped to PATH.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", choices=("flows", "files"), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()

    t_import = time.perf_counter()
    import kestra_git_tasks
    from kestra_git_tasks.context import RunContext
    from kestra_git_tasks.flow import validate_source
    from kestra_git_tasks.instance.local import LocalInstance
    from kestra_git_tasks.tasks.git.sync_flows import SyncFlows
    from kestra_git_tasks.tasks.git.sync_namespace_files import SyncNamespaceFiles

    t_setup = time.perf_counter()
    password = os.environ["BENCH_GIT_PASSWORD"]
    common: dict[str, Any] = {
        "id": "sync",
        "url": args.url,
        "branch": "main",
        "username": args.username,
        "password": password,
    }
    task: SyncFlows | SyncNamespaceFiles
    if args.task == "flows":
        task = SyncFlows.model_validate(
            {
                **common,
                "targetNamespace": "bench",
                "includeChildNamespaces": True,
                "gitDirectory": "_flows",
            }
        )
    else:
        task = SyncNamespaceFiles.model_validate(
            {**common, "namespace": "bench", "gitDirectory": "_files"}
        )
    with LocalInstance(args.home, validator=validate_source) as instance:
        ctx = RunContext.create(
            instance=instance,
            secrets={"GIT_PASSWORD": password},
            flow_id=f"bench_sync_{args.task}",
            namespace="system",
            home=args.home,
        )
        ctx.task_id, ctx.task_type = "sync", task.type
        t_run = time.perf_counter()
        if args.profile is not None:
            profiler = cProfile.Profile()
            output = profiler.runcall(task.run, ctx)
            profiler.dump_stats(str(args.profile))
        else:
            output = task.run(ctx)
        t_output = time.perf_counter()
        data = output.to_dict()
        t_end = time.perf_counter()

    rows = data["flows" if args.task == "flows" else "files"]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["syncState"]] = counts.get(row["syncState"], 0) + 1
    result = {
        "import_s": t_setup - t_import,
        "setup_s": t_run - t_setup,
        "run_s": t_output - t_run,
        "to_dict_s": t_end - t_output,
        "counts": counts,
        "commit": data.get("commitId"),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "profiled": args.profile is not None,
        "library_file": kestra_git_tasks.__file__,
    }
    args.out.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
