"""Child process of ``bench/push.py``: fill an instance, change one flow, or time one push.

Started by ``bench/push.py`` (not meant to be run by hand)::

    python bench/_push_worker.py setup --home HOME --flows N --out OUT.json
    python bench/_push_worker.py change --home HOME --flows N --index I --note TEXT --out OUT.json
    python bench/_push_worker.py run --home HOME --url URL --username U --out OUT.json [--profile P]

- ``setup``: N flows (:func:`flow_source`) into a new embedded instance, one ``batch()``.
- ``change``: a new revision of flow ``I`` (its description names ``--note``).
- ``run``: PushFlows (``sourceNamespace: bench``, ``includeChildNamespaces: true``) built as the
  CLI builds it (``LocalInstance(home, validator=validate_source)``, then ``RunContext``); only
  ``task.run(ctx)`` is timed (and, with ``--profile PATH``, run under cProfile). The password
  comes from ``BENCH_GIT_PASSWORD``.

The result (timings, row count, commit, peak RSS, the library file imported) is written as JSON
to ``--out``. The flow generator lives here, without importing ``kestra_git_tasks`` at module
level, so ``bench/push.py`` shares it (the baseline writes the very same bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

__all__ = ["FLOWS_DIR", "SOURCE_NAMESPACE", "changed_index", "flow_repo_path", "flow_source"]

SOURCE_NAMESPACE = "bench"
FLOWS_DIR = "_flows"


def flow_source(index: int, total: int, note: str = "initial version") -> str:
    """Flow ``index`` of ``total``: bench/_common.py's flow, in the child namespace
    ``bench.<folder>`` instead of ``company.<folder>``."""
    from _common import flow_yaml

    text = flow_yaml(index, total, note)
    head, sep, rest = text.partition("\nnamespace: company.")
    assert sep, "bench/_common.py's flow_yaml changed shape"
    return f"{head}\nnamespace: {SOURCE_NAMESPACE}.{rest}"


def flow_repo_path(index: int) -> str:
    """Where PushFlows writes flow ``index``: ``_flows/<child namespace path>/<id>.yml``
    (bench/_common.py's layout: the folder is the namespace suffix, dots as slashes)."""
    from _common import flow_path

    return flow_path(index)


def changed_index(run: int, total: int) -> int:
    """The flow changed by the one-change step of run ``run`` (same one for git and PushFlows)."""
    return ((run + 1) * 7919) % total


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup(args: argparse.Namespace) -> dict[str, Any]:
    from kestra_git_tasks.flow import validate_source
    from kestra_git_tasks.instance.local import LocalInstance

    start = time.perf_counter()
    with LocalInstance(args.home, validator=validate_source) as instance, instance.batch():
        for index in range(args.flows):
            instance.put_flow(flow_source(index, args.flows))
    return {"seconds": time.perf_counter() - start}


def change(args: argparse.Namespace) -> dict[str, Any]:
    from kestra_git_tasks.flow import validate_source
    from kestra_git_tasks.instance.local import LocalInstance

    with LocalInstance(args.home, validator=validate_source) as instance:
        record = instance.put_flow(flow_source(args.index, args.flows, note=args.note))
    return {"namespace": record.namespace, "id": record.id, "revision": record.revision}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import cProfile

    t_import = time.perf_counter()
    import kestra_git_tasks
    from kestra_git_tasks.context import RunContext
    from kestra_git_tasks.flow import validate_source
    from kestra_git_tasks.instance.local import LocalInstance
    from kestra_git_tasks.tasks.git.push_flows import PushFlows

    t_setup = time.perf_counter()
    password = os.environ["BENCH_GIT_PASSWORD"]
    task = PushFlows.model_validate(
        {
            "id": "push",
            "url": args.url,
            "branch": "main",
            "username": args.username,
            "password": password,
            "sourceNamespace": SOURCE_NAMESPACE,
            "includeChildNamespaces": True,
            "gitDirectory": FLOWS_DIR,
        }
    )
    with LocalInstance(args.home, validator=validate_source) as instance:
        ctx = RunContext.create(
            instance=instance,
            secrets={"GIT_PASSWORD": password},
            flow_id="bench_push_flows",
            namespace="system",
            home=args.home,
        )
        ctx.task_id, ctx.task_type = "push", task.type
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
        "rows": data["flows"],
        "commit": data.get("commitId"),
        "profiled": args.profile is not None,
        "library_file": kestra_git_tasks.__file__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("setup", "change", "run"))
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--flows", type=int, default=0)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--note", default="changed")
    parser.add_argument("--url", default="")
    parser.add_argument("--username", default="")
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    result = {"setup": setup, "change": change, "run": run}[args.mode](args)
    result["max_rss_mb"] = _rss_mb()
    args.out.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
