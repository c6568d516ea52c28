"""The benchmark harness: everything but the cases.

A driver (``bench/sync.py``, ``bench/push.py``) declares a :class:`Suite`: its task families,
targets, baselines (the git CLI, measured with :func:`measure_command`), how to set up one N,
and a :class:`Sequence` per family (what happens before each step, what each step must leave
behind). The harness does the rest, the same way for every driver: the library snapshot and
the children's environment, the test git server, the warm-up, the first -> no-change ->
one-change sequences as whole ``python -m kestra_git_tasks run`` processes and in-process
(``bench/_worker.py``; both in :mod:`bench._steps`), medians and ratios to the baselines,
profiles of the misses, the table and the JSON report (:mod:`bench._report`).
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from tests.gitserver import GitHttpServer

from . import _report
from ._common import REPO_ROOT, add_common_arguments, child_env, snapshot_library
from ._steps import (
    STEP_LABELS,
    USERNAME,
    Bench,
    Family,
    Outcome,
    Sample,
    Sequence,
    Target,
    check_exit,
    measure_command,
    run_sequence,
    run_worker,
)

__all__ = [
    "Bench",
    "Family",
    "Outcome",
    "Sample",
    "Sequence",
    "Suite",
    "Target",
    "check_exit",
    "main",
    "measure_command",
    "run_worker",
]

Samples = dict[str, dict[str, list[Sample]]]  # case -> "cli"/"inproc" -> samples
F = TypeVar("F")  # what a suite sets up for one N


class Suite(ABC, Generic[F]):
    """What a driver declares; see the module docstring."""

    name: str  # "sync": the command is python -m bench.<name>
    description: str
    families: tuple[Family, ...]
    targets: dict[str, Target]  # step -> target
    baseline_labels: dict[str, str]  # baseline key -> table label, in table order
    baseline_short: dict[str, str]  # baseline key -> the "vs" column
    tmp_contents = "server repositories, homes, clones"
    rss_max_column = False  # the table's "RSS max" column (row["rss_target_mb"])
    record_requests = False
    notes = ""  # printed under the table

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """The driver's own options."""

    @classmethod
    def check_arguments(cls, parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
        if args.runs < 1 or any(n < 1 for n in args.flows):
            parser.error("--runs and --flows must be positive")

    def start(self, bench: Bench) -> None:
        """Once, before the warm-up."""

    @abstractmethod
    def setup(self, bench: Bench, n: int) -> F:
        """The fixture of one N (repository, instance, ...)."""

    def warmup_setup(self, bench: Bench) -> F:
        return self.setup(bench, 20)

    def teardown(self, bench: Bench, fixture: F) -> None:
        """Remove the fixture of one N."""

    @abstractmethod
    def baselines(self, bench: Bench, fixture: F, run: int, tag: str) -> dict[str, Sample]:
        """The git CLI's cases of one run (``run`` -1: the untimed warm-up)."""

    @abstractmethod
    def sequence(self, bench: Bench, fixture: F, family: Family, run: int, tag: str) -> Sequence:
        """A fresh sequence of ``family``."""

    @abstractmethod
    def n_of(self, fixture: F) -> int:
        """The N a fixture was set up for."""

    def baseline_row(self, row: dict[str, Any], cli: list[Sample]) -> None:
        """Add the driver's keys to a baseline row."""

    def step_row(
        self, row: dict[str, Any], family: Family, cli: list[Sample], medians: dict[str, float]
    ) -> None:
        """Add the driver's keys to a step row (and adjust ``pass``)."""

    def why_failed(self, row: dict[str, Any]) -> str:
        """What missed, for the table's result column ("" to say FAIL alone)."""
        return ""

    def report_fields(self) -> dict[str, Any]:
        """Keys of the JSON report after ``runs``."""
        return {}

    @abstractmethod
    def report_targets(self) -> dict[str, Any]:
        """The JSON report's ``targets``."""


# -- one N ---------------------------------------------------------------------------------------


def measure(suite: Suite[F], bench: Bench, fixture: F, runs: int) -> Samples:
    """All cases of one N: ``{case: {"cli"/"inproc": [samples]}}``."""
    n = suite.n_of(fixture)
    suite.baselines(bench, fixture, -1, f"n{n}-warmup")  # page cache, server side
    samples: Samples = {}

    def add(case: str, kind: str, sample: Sample) -> None:
        samples.setdefault(case, {}).setdefault(kind, []).append(sample)

    for run in range(runs):
        t0 = time.perf_counter()
        for name, sample in suite.baselines(bench, fixture, run, f"n{n}-r{run}").items():
            add(name, "cli", sample)
        for family in suite.families:
            for inprocess in (False, True) if bench.inprocess else (False,):
                kind = "inproc" if inprocess else "cli"
                tag = f"n{n}-r{run}-{family.key}-{kind}"
                seq = suite.sequence(bench, fixture, family, run, tag)
                for step, sample in run_sequence(
                    bench, seq, family, inprocess=inprocess, tag=tag
                ).items():
                    add(f"{family.key}_{step}", kind, sample)
        print(f"N={n}: run {run + 1}/{runs} in {time.perf_counter() - t0:.1f} s", flush=True)
    return samples


def profile_misses(
    suite: Suite[F], bench: Bench, fixture: F, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """Profile, in-process, every step of this N that missed its target (``--profile-all``:
    every step); the ``.prof`` files go next to the JSON report, named after it."""
    args = suite.args
    n = suite.n_of(fixture)
    profiles: dict[str, Any] = {}
    snapshot = f"{bench.package.parent}/"  # the library's temporary folder: gone after the run
    for family in suite.families:
        steps = [
            r["step"]
            for r in rows
            if r["key"].startswith(f"{family.key}_") and "step" in r
            if args.profile_all or r["pass"] is False
        ]
        if not steps:
            continue
        name = f"{args.json.stem}-n{n}" + (f"-{family.key}" if len(suite.families) > 1 else "")
        paths = {step: args.json.parent / f"{name}-{step}.prof" for step in steps}
        tag = f"n{n}-profile-{family.key}"
        try:
            seq = suite.sequence(bench, fixture, family, args.runs, tag)
            run_sequence(bench, seq, family, inprocess=True, tag=tag, profile=paths)
        except RuntimeError as exc:
            bench.problems.append(f"profiling {tag}: {exc}")
            continue
        for step, path in paths.items():
            data = _report.top_functions(path, args.profile_top, snapshot)
            _report.print_profile(f"{family.label} {STEP_LABELS[step]}, N={n}", data)
            profiles[f"n{n}-{family.key}_{step}"] = data
    return profiles


def warm_up(suite: Suite[F], bench: Bench) -> None:
    """Untimed: compile byte code into the cache, import everything once, warm the server."""
    fixture = suite.warmup_setup(bench)
    suite.baselines(bench, fixture, 0, "warmup")
    for family in suite.families:
        for inprocess, kind in ((False, "cli"), (True, "inproc")):
            tag = f"warmup-{family.key}-{kind}"
            seq = suite.sequence(bench, fixture, family, 0, tag)
            run_sequence(bench, seq, family, inprocess=inprocess, tag=tag)
    suite.teardown(bench, fixture)
    bench.problems.clear()


# -- main ----------------------------------------------------------------------------------------


def parse_args(suite_class: type[Suite[Any]], argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=suite_class.description,
        epilog=f"Example: python -m bench.{suite_class.name} --flows 1000 10000 --runs 5",
    )
    add_common_arguments(parser, f"{suite_class.name}.json")
    suite_class.add_arguments(parser)
    args = parser.parse_args(argv)
    args.json = args.json.resolve()  # children run elsewhere; profiles are written next to it
    suite_class.check_arguments(parser, args)
    return args


def main(suite_class: type[Suite[Any]], argv: list[str] | None = None) -> int:
    """Run a suite's benchmark: 0, or 1 when a step failed or left something wrong."""
    args = parse_args(suite_class, argv)
    if shutil.which("git") is None:
        print("the git CLI is required", file=sys.stderr)
        return 2
    suite = suite_class(args)
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python", "-m", f"bench.{suite.name}", *given])
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f"kestra-git-bench-{suite.name}-", dir=args.tmp_dir))
    cwd, package, library, env = _library(args, tmp)
    password = secrets.token_hex(16)
    server = GitHttpServer(
        tmp / "srv", username=USERNAME, password=password, nodelay=args.server_nodelay
    )
    bench = Bench(tmp, env, server, password, not args.no_inprocess, cwd, package)
    bench.record_requests = suite.record_requests
    args.json.parent.mkdir(parents=True, exist_ok=True)
    info = _report.versions(env, library)
    info.update(tmp_filesystem=_report.filesystem(tmp), server_nodelay=str(args.server_nodelay))
    try:
        rows, profiles, problems = _measure_all(suite, bench)
    finally:
        server.close()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.perf_counter() - started
    print(f"\n{command}\nkestra_git_tasks: {library}")
    print(f"temporary files ({suite.tmp_contents}) on {info['tmp_filesystem']}")
    if not args.server_nodelay:
        print("test server answering WITHOUT TCP_NODELAY (--no-server-nodelay)")
    print(f"{args.runs} runs per case, medians; finished in {elapsed:.0f} s\n")
    _report.print_table(suite, rows)
    print("\n" + suite.notes)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    report = {
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "elapsed_s": elapsed,
        "runs": args.runs,
        **suite.report_fields(),
        "flows": args.flows,
        "versions": info,
        "targets": suite.report_targets(),
        "results": rows,
        "profiles": profiles,
        "problems": problems,
    }
    args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 1 if problems else 0


def _library(args: argparse.Namespace, tmp: Path) -> tuple[Path, Path, str, dict[str, str]]:
    """The children's working folder, the package they must import, its description and
    their environment: the checkout (``--worktree``) or ``git archive`` of ``--rev``."""
    if args.worktree:
        cwd, package, library = REPO_ROOT, REPO_ROOT / "kestra_git_tasks", "work tree"
        env = child_env(tmp)
    else:
        sha = snapshot_library(args.rev, tmp / "src")
        cwd, package, library = tmp, tmp / "src" / "kestra_git_tasks", f"{args.rev} = {sha}"
        env = child_env(tmp, library=tmp / "src")
    print(f"measuring kestra_git_tasks: {library}", flush=True)
    return cwd, package, library, env


def _measure_all(
    suite: Suite[F], bench: Bench
) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """Warm up, then every N: rows, profiles and problems."""
    args = suite.args
    rows: list[dict[str, Any]] = []
    profiles: dict[str, Any] = {}
    problems: list[str] = []
    suite.start(bench)
    warm_up(suite, bench)
    for n in args.flows:
        fixture = suite.setup(bench, n)
        n_rows = _report.summarise(suite, n, measure(suite, bench, fixture, args.runs))
        rows += n_rows
        if not args.no_profile:
            profiles.update(profile_misses(suite, bench, fixture, n_rows))
        problems += bench.problems
        bench.problems.clear()
        suite.teardown(bench, fixture)
    problems += [f"git server error: {e.splitlines()[-1]}" for e in bench.server.errors]
    return rows, profiles, problems
