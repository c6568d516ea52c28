"""Child process of the benchmarks: fill an instance, change one flow, or time one task run.

Started by the drivers (not meant to be run by hand), as a script so that it imports the
``kestra_git_tasks`` under test (``PYTHONPATH``) and nothing of the checkout::

    python bench/_worker.py setup --home HOME --sources SOURCES.json --out OUT.json
    python bench/_worker.py change --home HOME --sources SOURCE.json --out OUT.json
    python bench/_worker.py run --home HOME --type TYPE --properties JSON --task-id ID \\
        --flow-id FLOW --url URL --username U --rows-key KEY --out OUT.json [--profile P]

- ``setup``: the flow sources listed in ``--sources`` (a JSON list of strings) into a new
  embedded instance, in one ``batch()``.
- ``change``: the same for one new revision of a flow (a list of one source).
- ``run``: the task ``--type`` (a public class of ``kestra_git_tasks``, by its short name) with
  ``url``/``branch: main``/``username``/``password`` and ``--properties``, built as the CLI builds
  it (``LocalInstance(home, validator=validate_source)``, then ``RunContext``). Only
  ``task.run(ctx)`` is timed (and, with ``--profile PATH``, run under cProfile), warm: every
  module of the Git layer and the tasks is imported first, as a long-running server has them
  (the package imports them lazily). The password comes from ``BENCH_GIT_PASSWORD``.

The result (phase timings, :func:`summarise_output` of the task's output, peak RSS, the library
file imported) is written as JSON to ``--out``. Nothing here imports ``kestra_git_tasks`` at
module level: the drivers import :func:`summarise_output` from this module.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["summarise_output"]

#: rows kept verbatim in a summary (the checks look at the rows of one-change steps only)
HEAD_ROWS = 5


def summarise_output(output: dict[str, Any], rows_key: str) -> dict[str, Any]:
    """What the drivers check in a task's output: its commit, its rows' count, their count by
    ``syncState`` (sync tasks) and the first rows."""
    rows: list[dict[str, Any]] = output.get(rows_key) or []
    states = Counter(str(row["syncState"]) for row in rows if "syncState" in row)
    return {
        "commit": output.get("commitId"),
        "row_count": len(rows),
        "counts": dict(states),
        "rows_head": rows[:HEAD_ROWS],
    }


def _put_flows(args: argparse.Namespace) -> dict[str, Any]:
    from kestra_git_tasks import LocalInstance, validate_source

    sources: list[str] = json.loads(args.sources.read_text(encoding="utf-8"))
    start = time.perf_counter()
    with LocalInstance(args.home, validator=validate_source) as instance, instance.batch():
        for source in sources:
            instance.put_flow(source)
    return {"seconds": time.perf_counter() - start, "flows": len(sources)}


def _warm() -> None:
    """Import every module of the Git layer and the tasks (pygit2 with them) before timing:
    the package loads them lazily, on first use, and ``run()`` is timed as a long-running
    process (``kestra-git server``) pays it, with its modules loaded (counted in import_s)."""
    import importlib
    import pkgutil

    import kestra_git_tasks.git
    import kestra_git_tasks.tasks

    for package in (kestra_git_tasks.git, kestra_git_tasks.tasks):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(info.name)


def _run(args: argparse.Namespace) -> dict[str, Any]:
    import cProfile

    t_import = time.perf_counter()
    import kestra_git_tasks
    from kestra_git_tasks import LocalInstance, RunContext, validate_source

    _warm()

    t_setup = time.perf_counter()
    password = os.environ["BENCH_GIT_PASSWORD"]
    task_class = getattr(kestra_git_tasks, args.type.rsplit(".", 1)[-1])
    task = task_class.model_validate(
        {
            "id": args.task_id,
            "url": args.url,
            "branch": "main",
            "username": args.username,
            "password": password,
            **json.loads(args.properties),
        }
    )
    with LocalInstance(args.home, validator=validate_source) as instance:
        ctx = RunContext.create(
            instance=instance,
            secrets={"GIT_PASSWORD": password},
            flow_id=args.flow_id,
            namespace="system",
            home=args.home,
        )
        ctx.task_id, ctx.task_type = args.task_id, task.type
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
    return {
        "import_s": t_setup - t_import,
        "setup_s": t_run - t_setup,
        "run_s": t_output - t_run,
        "to_dict_s": t_end - t_output,
        **summarise_output(data, args.rows_key),
        "profiled": args.profile is not None,
        "library_file": kestra_git_tasks.__file__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("setup", "change", "run"))
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sources", type=Path)
    for option in ("type", "properties", "task-id", "flow-id", "url", "username", "rows-key"):
        parser.add_argument(f"--{option}", default="")
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    result = _run(args) if args.mode == "run" else _put_flows(args)
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    args.out.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
