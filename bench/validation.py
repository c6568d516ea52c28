"""A first SyncFlows in-process, with validation cold and with the remembered sources of a
previous sync (``<home>/validated/``), over the tests' smart-HTTP git server.

Run from the repository root: ``python -m bench.validation [--flows 10000] [--runs 3]
[--profile PATH] [--parts]``. Each run syncs the generated repository into a new home (a first
sync); ``remembered`` runs get a copy of the ``validated/`` folder the first cold run left.
Each run is a forked process that imports the library afresh (its in-process caches start
empty). It prints wall and process CPU seconds of ``task.run(ctx)`` (medians) and microseconds
per flow; CPU time is what to compare on a busy machine. ``--profile`` writes a cProfile of
the last cold run.

``--parts`` measures instead, in a forked process each, the validator alone on the same generated
flows and what it is made of, in microseconds of process CPU a flow (median of ``--runs``):
libyaml's own parse (``raw_parse``: events counted in C, no Python object), PyYAML's events (one
Python object each: the least a Python build of the document costs), the plain document
(``load_yaml(lines=False)``), the checks on it, and ``validate_source`` (parse, checks, identity,
objects freed). Every flow is parsed once in a run (a new text each), as in a first sync.

To measure another commit, run it from an extracted tree (``python -m`` puts the current folder
first on ``sys.path``): ``git archive REV kestra_git_tasks bench tests | tar -x -C DIR``, then
``cd DIR && /path/to/.venv/bin/python -m bench.validation``.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import create_repository
from tests.gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME, GitHttpServer


def _first_sync(url: str, home: Path, profile: Path | None) -> tuple[float, float, int]:
    from kestra_git_tasks import LocalInstance, RunContext, SyncFlows, validate_source

    task = SyncFlows.model_validate(
        {
            "id": "sync",
            "url": url,
            "branch": "main",
            "username": DEFAULT_USERNAME,
            "password": DEFAULT_PASSWORD,
            "targetNamespace": "company",
            "includeChildNamespaces": True,
            "gitDirectory": "_flows",
            "delete": True,
        }
    )
    with LocalInstance(home, validator=validate_source) as instance:
        ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="s")
        ctx.task_id = "sync"
        wall, cpu = time.perf_counter(), time.process_time()
        if profile is not None:
            profiler = cProfile.Profile()
            output: Any = profiler.runcall(task.run, ctx)
            profiler.dump_stats(str(profile))
        else:
            output = task.run(ctx)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, len(output.flows)


def _in_child(url: str, home: Path, profile: Path | None) -> tuple[float, float, int]:
    """:func:`_first_sync` in a forked process that never imported the library: each run is a
    first run for its in-process caches too (the parent imports none of it)."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def child() -> None:
        sender.send(_first_sync(url, home, profile))

    process = context.Process(target=child)
    process.start()
    result: tuple[float, float, int] = receiver.recv()
    process.join()
    return result


def measure(flows: int, runs: int, folder: Path, profile: Path | None) -> dict[str, Any]:
    """Medians of cold and remembered first syncs."""
    env = {"PATH": os.environ["PATH"], "HOME": str(folder)}
    create_repository(folder / "repos" / "flows.git", flows, 0, 0.0, env)
    result: dict[str, Any] = {"flows": flows, "runs": runs}
    with GitHttpServer(folder / "repos") as server:
        url = server.url_for("flows.git")
        for case in ("cold", "remembered"):
            if case == "remembered" and not (folder / "cold-0" / "validated").is_dir():
                break  # code from before validation was remembered
            times = []
            for run in range(runs):
                home = folder / f"{case}-{run}"
                if case == "remembered":
                    shutil.copytree(folder / "cold-0" / "validated", home / "validated")
                last = profile if case == "cold" and run == runs - 1 else None
                wall, cpu, rows = _in_child(url, home, last)
                assert rows == flows, f"{rows} rows for {flows} flows"
                times.append((wall, cpu))
            wall = statistics.median(t[0] for t in times)
            cpu = statistics.median(t[1] for t in times)
            result[case] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
    return result


def _parts(flows: int) -> dict[str, float]:
    """Microseconds of process CPU a flow for each part of validation (see the module doc)."""
    import yaml
    from yaml.events import StreamEndEvent

    from bench._common import flow_yaml
    from kestra_git_tasks import flow
    from kestra_git_tasks.yamlio import load_yaml

    flow.validate_source(flow_yaml(0, 1, "imports and first-use caches"))
    texts = iter(
        [flow_yaml(index, flows, f"pass {step}") for index in range(flows)] for step in range(4)
    )

    def raw(text: str) -> None:
        yaml._yaml.CParser(text).raw_parse()

    def events(text: str) -> None:
        get = yaml._yaml.CParser(text).get_event
        while type(get()) is not StreamEndEvent:
            pass

    def timed(call: Any, items: list[Any]) -> float:
        start = time.process_time()
        for item in items:
            call(item)
        return (time.process_time() - start) / flows * 1e6

    result = {
        "libyaml raw_parse": timed(raw, next(texts)),
        "PyYAML events": timed(events, next(texts)),
        "load_yaml(lines=False)": timed(lambda text: load_yaml(text, lines=False), next(texts)),
    }
    documents = [load_yaml(text, lines=False) for text in next(texts)]
    result["checks"] = timed(
        lambda document: flow._check_document(flow._Checker(""), document), documents
    )
    texts = (batch for batch in [[flow_yaml(index, flows, "validate") for index in range(flows)]])
    result["validate_source"] = timed(flow.validate_source, next(texts))
    return result


def _parts_in_child(flows: int) -> dict[str, float]:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=lambda: sender.send(_parts(flows)))
    process.start()
    result: dict[str, float] = receiver.recv()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--parts", action="store_true", help="the validator alone, by part")
    args = parser.parse_args()
    if args.parts:
        runs = [_parts_in_child(args.flows) for _ in range(args.runs)]
        print(f"validation of {args.flows} flows, us/flow of process CPU, medians of {args.runs}")
        for name in runs[0]:
            print(f"  {name:24} {statistics.median(run[name] for run in runs):7.1f}")
        return
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as folder:
        result = measure(args.flows, args.runs, Path(folder), args.profile)
    print(f"first SyncFlows of {result['flows']} flows, task.run(), medians of {args.runs}")
    for case in ("cold", "remembered"):
        if case not in result:
            print(f"  {case:11} (this code keeps no validated/ folder)")
            continue
        wall, cpu = result[case]["wall_s"], result[case]["cpu_s"]
        per_flow = cpu / result["flows"] * 1e6
        print(f"  {case:11} wall {wall:7.3f} s  cpu {cpu:7.3f} s  ({per_flow:5.0f} us/flow cpu)")


if __name__ == "__main__":
    main()
