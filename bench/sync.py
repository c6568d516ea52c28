"""Benchmark SyncFlows and SyncNamespaceFiles against the git CLI, over real smart HTTP.

Run by hand (never in CI), from the repository root::

    python bench/sync.py --flows 1000 10000 --files 500 --runs 5 --json bench/results/sync.json

For each N it generates a bare repository (N flows over 20 child-namespace folders of
``_flows/``, M namespace files of ~20 MB under ``_files/``), serves it with the tests' smart-HTTP
server (``tests/gitserver.py``, Basic auth, 127.0.0.1), and measures, ``--runs`` times each:

- baselines: ``git ls-remote URL refs/heads/main`` and
  ``git clone --depth 1 --single-branch --branch main URL DIR``;
- SyncFlows and SyncNamespaceFiles as whole ``python -m kestra_git_tasks run FLOW.yml`` processes:
  first sync into an empty home, no-change sync (same home), one-change sync (one flow or file
  committed to the remote in between);
- the same sequences in-process (``bench/_sync_worker.py``): the time of ``task.run(ctx)``
  alone, so the start-up cost of a process is visible.

It prints a table (median seconds, ratio to the baseline, peak RSS, pass/fail against the
issue's targets) and writes it as JSON. Cases that miss a target are then profiled in-process
with cProfile (``--no-profile`` to skip). See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True  # importing tests/gitserver.py must not write into tests/
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    REPO_ROOT,
    RepoSpec,
    add_common_arguments,
    child_env,
    commit_changes,
    create_repository,
    run_measured,
    snapshot_library,
)

sys.path.insert(0, str(REPO_ROOT / "tests"))
from gitserver import GitHttpServer  # type: ignore[import-not-found]  # noqa: E402

WORKER = Path(__file__).resolve().with_name("_sync_worker.py")
USERNAME = "bench"
STEPS = ("first", "nochange", "onechange")
STEP_LABELS = {"first": "first", "nochange": "no-change", "onechange": "one-change"}
#: step -> (baseline, max ratio): the issue's targets.
TARGETS = {"first": ("clone", 1.5), "nochange": ("ls_remote", 2.0), "onechange": ("ls_remote", 3.0)}
RSS_TARGET_MB = 200.0
RSS_TARGET_FROM_N = 10_000
BASELINE_LABELS = {
    "ls_remote": "git ls-remote (baseline)",
    "clone": "git clone --depth 1 (baseline)",
    "clone_bare": "git clone --bare --depth 1 (info)",
}
BASELINE_SHORT = {"ls_remote": "ls-remote", "clone": "clone"}


@dataclass(frozen=True)
class Family:
    """One sync task under test."""

    key: str
    label: str
    type: str
    properties: str  # YAML lines of the task after url/credentials
    changes_flow: bool  # the one-change commit changes a flow (else a namespace file)
    changed_state: str


FAMILIES = (
    Family(
        "flows",
        "SyncFlows",
        "io.kestra.plugin.git.SyncFlows",
        "    targetNamespace: bench\n    includeChildNamespaces: true\n    gitDirectory: _flows\n",
        True,
        "UPDATED",
    ),
    Family(
        "files",
        "SyncNamespaceFiles",
        "io.kestra.plugin.git.SyncNamespaceFiles",
        "    namespace: bench\n    gitDirectory: _files\n",
        False,
        "OVERWRITTEN",
    ),
)


@dataclass
class Bench:
    """Everything a measurement needs: folders, environment, server, options."""

    tmp: Path
    env: dict[str, str]
    server: GitHttpServer
    password: str
    inprocess: bool
    cwd: Path  # working directory of every child (not the checkout when measuring a commit)
    package: Path  # the kestra_git_tasks folder the children must import
    problems: list[str] = field(default_factory=list)

    @property
    def git(self) -> str:
        return shutil.which("git") or "git"


# -- one measured sequence ---------------------------------------------------------------------


def flow_file(bench: Bench, family: Family, repo: str) -> Path:
    """The flow the CLI runs for ``family`` against ``repo`` (written once)."""
    path = bench.tmp / "flows" / f"{family.key}-{repo.removesuffix('.git')}.yml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"id: bench_sync_{family.key}\n"
            "namespace: system\n"
            "tasks:\n"
            "  - id: sync\n"
            f"    type: {family.type}\n"
            f"    url: {bench.server.url_for(repo)}\n"
            "    branch: main\n"
            f"    username: {USERNAME}\n"
            "    password: \"{{ secret('GIT_PASSWORD') }}\"\n" + family.properties,
            encoding="utf-8",
        )
    return path


def expected_counts(family: Family, step: str, spec: RepoSpec) -> dict[str, int]:
    total = spec.flows if family.changes_flow else len(spec.file_paths)
    if step == "first":
        return {"ADDED": total}
    if step == "nochange":
        return {"UNCHANGED": total}
    return {"UNCHANGED": total - 1, family.changed_state: 1}


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["syncState"]] = counts.get(row["syncState"], 0) + 1
    return counts


def last_execution(home: Path, family: Family) -> tuple[str, float, dict[str, int]]:
    """State, duration (RunContext created -> execution recorded) and row counts of the
    latest execution recorded in ``home``."""
    conn = sqlite3.connect(home / "instance.db")
    try:
        state, start, end, outputs = conn.execute(
            "SELECT state, start_date, end_date, outputs FROM executions "
            "ORDER BY start_date DESC LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    rows = json.loads(outputs).get("sync", {}).get(family.key, [])
    return state, seconds, _counts(rows)


def run_sequence(
    bench: Bench,
    spec: RepoSpec,
    family: Family,
    *,
    inprocess: bool,
    tag: str,
    profile: Mapping[str, Path] | None = None,
) -> dict[str, dict[str, Any]]:
    """first -> no-change -> (commit one change) -> one-change, in one fresh home.

    Whole CLI processes, or (``inprocess``) the worker timing ``task.run(ctx)``; ``profile``
    maps steps to the cProfile file of that step (worker only)."""
    home = bench.tmp / "homes" / tag
    logs = bench.tmp / "logs"
    repo = spec.path.name
    samples: dict[str, dict[str, Any]] = {}
    try:
        for step in STEPS:
            if step == "onechange":
                commit_changes(spec, bench.env, flow=family.changes_flow)
            log = logs / f"{tag}-{step}.log"
            if inprocess:
                out = logs / f"{tag}-{step}.json"
                args = [sys.executable, str(WORKER), "--task", family.key]
                args += ["--url", bench.server.url_for(repo), "--username", USERNAME]
                args += ["--home", str(home), "--out", str(out)]
                if profile and step in profile:
                    args += ["--profile", str(profile[step])]
                env = {**bench.env, "BENCH_GIT_PASSWORD": bench.password}
                bench.server.requests.reset()
                result = run_measured(args, env=env, log=log, cwd=bench.cwd)
                _check(result.returncode, log, f"{tag} {step}")
                worker = json.loads(out.read_text(encoding="utf-8"))
                counts = worker.pop("counts")
                imported = Path(worker.pop("library_file")).parent
                if imported != bench.package:
                    bench.problems.append(f"{tag} {step}: imported {imported}, not {bench.package}")
                sample = {
                    "wall_s": result.seconds,
                    "rss_mb": result.max_rss_mb,
                    "http_requests": len(bench.server.requests),
                    **worker,
                }
            else:
                args = [sys.executable, "-m", "kestra_git_tasks", "run"]
                args += [str(flow_file(bench, family, repo)), "--home", str(home)]
                args += ["--secret", f"GIT_PASSWORD={bench.password}"]
                bench.server.requests.reset()
                result = run_measured(args, env=bench.env, log=log, cwd=bench.cwd)
                _check(result.returncode, log, f"{tag} {step}")
                state, exec_s, counts = last_execution(home, family)
                if state != "SUCCESS":
                    bench.problems.append(f"{tag} {step}: execution ended {state}")
                sample = {
                    "wall_s": result.seconds,
                    "rss_mb": result.max_rss_mb,
                    "http_requests": len(bench.server.requests),
                    "exec_s": exec_s,
                    "startup_s": result.seconds - exec_s,
                    "outer_s": result.outer_seconds,
                }
            want = expected_counts(family, step, spec)
            if counts != want:
                bench.problems.append(f"{tag} {step}: rows {counts}, expected {want}")
            samples[step] = sample
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return samples


def _check(returncode: int, log: Path, what: str) -> None:
    if returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"{what} failed (exit {returncode}); end of its output:\n{tail}")


def run_baselines(bench: Bench, spec: RepoSpec, tag: str) -> dict[str, dict[str, Any]]:
    """The git CLI on the same URL: ls-remote, clone (the targets' baselines) and a bare clone
    (informational: the download alone, without writing a work tree)."""
    url = bench.server.authenticated_url_for(spec.path.name)
    clone = [bench.git, "clone", "--depth", "1", "--single-branch", "--branch", "main"]
    commands = {
        "ls_remote": [bench.git, "ls-remote", url, "refs/heads/main"],
        "clone": [*clone, url, str(bench.tmp / "clones" / f"{tag}-clone")],
        "clone_bare": [*clone, "--bare", url, str(bench.tmp / "clones" / f"{tag}-bare")],
    }
    samples: dict[str, dict[str, Any]] = {}
    for name, args in commands.items():
        log = bench.tmp / "logs" / f"{tag}-{name}.log"
        bench.server.requests.reset()
        result = run_measured(args, env=bench.env, log=log, cwd=bench.cwd)
        _check(result.returncode, log, f"{tag} {name}")
        samples[name] = {
            "wall_s": result.seconds,
            "rss_mb": result.max_rss_mb,
            "http_requests": len(bench.server.requests),
        }
    shutil.rmtree(bench.tmp / "clones", ignore_errors=True)
    return samples


# -- one N ---------------------------------------------------------------------------------------


def measure(bench: Bench, n: int, files: int, files_mb: float, runs: int) -> dict[str, Any]:
    """All cases for ``n`` flows: ``{"spec": ..., "samples": {case: {"cli"/"inproc": [...]}}}``."""
    started = time.perf_counter()
    spec = create_repository(bench.server.root / f"bench-{n}.git", n, files, files_mb, bench.env)
    print(
        f"N={n}: repository generated in {time.perf_counter() - started:.1f} s "
        f"({n} flows, {len(spec.file_paths)} files, {spec.total_file_bytes / 1e6:.1f} MB)",
        flush=True,
    )
    run_baselines(bench, spec, f"n{n}-warmup")  # page cache, server side
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def add(case: str, kind: str, sample: dict[str, Any]) -> None:
        samples.setdefault(case, {}).setdefault(kind, []).append(sample)

    for run in range(runs):
        t0 = time.perf_counter()
        for name, sample in run_baselines(bench, spec, f"n{n}-r{run}").items():
            add(name, "cli", sample)
        for family in FAMILIES:
            modes = (False, True) if bench.inprocess else (False,)
            for inprocess in modes:
                kind = "inproc" if inprocess else "cli"
                tag = f"n{n}-r{run}-{family.key}-{kind}"
                for step, sample in run_sequence(
                    bench, spec, family, inprocess=inprocess, tag=tag
                ).items():
                    add(f"{family.key}_{step}", kind, sample)
        print(f"N={n}: run {run + 1}/{runs} in {time.perf_counter() - t0:.1f} s", flush=True)
    return {"spec": spec, "samples": samples}


# -- summary -------------------------------------------------------------------------------------


def _median(samples: list[dict[str, Any]], key: str) -> float | None:
    values = [s[key] for s in samples if s.get(key) is not None]
    return statistics.median(values) if values else None


def summarise(n: int, samples: dict[str, dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Table rows for one N (baselines first)."""
    rows: list[dict[str, Any]] = []
    medians: dict[str, float] = {}
    for name, label in BASELINE_LABELS.items():
        cli = samples[name]["cli"]
        median = _median(cli, "wall_s")
        assert median is not None
        medians[name] = median
        rows.append(
            {
                "case": label,
                "key": name,
                "n": n,
                "median_s": median,
                "min_s": min(s["wall_s"] for s in cli),
                "max_s": max(s["wall_s"] for s in cli),
                "peak_rss_mb": max(s["rss_mb"] for s in cli),
                "http_requests": _median(cli, "http_requests"),
                "samples": cli,
            }
        )
    for family in FAMILIES:
        for step in STEPS:
            case = samples[f"{family.key}_{step}"]
            cli, inproc = case["cli"], case.get("inproc", [])
            baseline, max_ratio = TARGETS[step]
            median = _median(cli, "wall_s")
            assert median is not None
            ratio = median / medians[baseline]
            peak = max(s["rss_mb"] for s in cli)
            rss_target = RSS_TARGET_MB if n >= RSS_TARGET_FROM_N else None
            time_ok = ratio <= max_ratio
            rss_ok = rss_target is None or peak <= rss_target
            assumed = family.key == "files" and step == "first"
            rows.append(
                {
                    "case": f"{family.label} {STEP_LABELS[step]}",
                    "key": f"{family.key}_{step}",
                    "family": family.key,
                    "step": step,
                    "n": n,
                    "median_s": median,
                    "min_s": min(s["wall_s"] for s in cli),
                    "max_s": max(s["wall_s"] for s in cli),
                    "baseline": baseline,
                    "baseline_s": medians[baseline],
                    "ratio": ratio,
                    "target_ratio": max_ratio,
                    "target_assumed": assumed,
                    "time_ok": time_ok,
                    "peak_rss_mb": peak,
                    "http_requests": _median(cli, "http_requests"),
                    "rss_target_mb": rss_target,
                    "rss_ok": rss_ok,
                    "pass": time_ok and rss_ok,
                    "exec_s": _median(cli, "exec_s"),
                    "startup_s": _median(cli, "startup_s"),
                    "run_s": _median(inproc, "run_s"),
                    "inproc_import_s": _median(inproc, "import_s"),
                    "inproc_setup_s": _median(inproc, "setup_s"),
                    "inproc_to_dict_s": _median(inproc, "to_dict_s"),
                    "inproc_peak_rss_mb": max((s["rss_mb"] for s in inproc), default=None),
                    "samples": cli,
                    "inproc_samples": inproc,
                }
            )
    return rows


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list[dict[str, Any]]) -> None:
    headers = ["case", "N", "median s", "min-max s", "vs", "ratio", "target", "run() s"]
    headers += ["exec s", "start s", "req", "RSS MB", "RSS max", "result"]
    table: list[list[str]] = []
    for row in rows:
        if "step" not in row:
            table.append(
                [
                    *(row["case"], str(row["n"]), _fmt(row["median_s"])),
                    *(f"{row['min_s']:.3f}-{row['max_s']:.3f}", "", "", "", "", "", ""),
                    *(_fmt(row["http_requests"], "g"), _fmt(row["peak_rss_mb"], ".0f"), "", ""),
                ]
            )
            continue
        target = f"<={row['target_ratio']:g}x" + ("*" if row["target_assumed"] else "")
        result = "PASS" if row["pass"] else "FAIL"
        if not row["pass"]:
            why = [w for w, ok in (("time", row["time_ok"]), ("rss", row["rss_ok"])) if not ok]
            result += f" ({'+'.join(why)})"
        table.append(
            [
                row["case"],
                str(row["n"]),
                _fmt(row["median_s"]),
                f"{row['min_s']:.3f}-{row['max_s']:.3f}",
                BASELINE_SHORT[row["baseline"]],
                f"{row['ratio']:.2f}x",
                target,
                _fmt(row["run_s"]),
                _fmt(row["exec_s"]),
                _fmt(row["startup_s"]),
                _fmt(row["http_requests"], "g"),
                _fmt(row["peak_rss_mb"], ".0f"),
                _fmt(row["rss_target_mb"], ".0f"),
                result,
            ]
        )
    widths = [max(len(r[i]) for r in [headers, *table]) for i in range(len(headers))]
    numeric = {1, 2, 3, 5, 7, 8, 9, 10, 11, 12}
    for line in [headers, *table]:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        print("  ".join(cells).rstrip())


# -- profiles ------------------------------------------------------------------------------------


def _short(filename: str) -> str:
    if filename.startswith(str(REPO_ROOT)):
        return filename[len(str(REPO_ROOT)) + 1 :]
    marker = "site-packages/"
    if marker in filename:
        return filename.split(marker, 1)[1]
    if "/lib/python" in filename:
        return "stdlib/" + filename.rsplit("/", 1)[1]
    return filename


def top_functions(profile: Path, limit: int) -> dict[str, Any]:
    """The profile's total and its top functions by cumulative and by own time."""
    stats = pstats.Stats(str(profile))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total: float = stats.total_tt  # type: ignore[attr-defined]

    def entry(key: Any, value: Any) -> dict[str, Any]:
        filename, line, name = key
        _, ncalls, tottime, cumtime, _ = value
        where = "~" if filename == "~" else f"{_short(filename)}:{line}"
        return {
            "function": f"{name} ({where})",
            "ncalls": ncalls,
            "tottime_s": tottime,
            "cumtime_s": cumtime,
            "cum_share": cumtime / total if total else 0.0,
            "own_share": tottime / total if total else 0.0,
        }

    items = list(raw.items())
    by_cum = sorted(items, key=lambda kv: kv[1][3], reverse=True)[:limit]
    by_own = sorted(items, key=lambda kv: kv[1][2], reverse=True)[: max(10, limit // 2)]
    return {
        "file": str(profile),
        "total_s": total,
        "by_cumulative": [entry(k, v) for k, v in by_cum],
        "by_own_time": [entry(k, v) for k, v in by_own],
    }


def print_profile(title: str, data: dict[str, Any]) -> None:
    print(f"\n{title}: task.run(ctx) under cProfile = {data['total_s']:.2f} s ({data['file']})")
    for label, key, time_key, share_key in (
        ("top by cumulative time", "by_cumulative", "cumtime_s", "cum_share"),
        ("top by own time", "by_own_time", "tottime_s", "own_share"),
    ):
        print(f"  {label}:")
        for item in data[key]:
            print(
                f"    {item[time_key]:8.3f} s {100 * item[share_key]:5.1f}%  "
                f"{item['ncalls']:>8}  {item['function']}"
            )


def profile_misses(
    bench: Bench, spec: RepoSpec, rows: list[dict[str, Any]], out_dir: Path, limit: int
) -> dict[str, Any]:
    """Profile, in-process, every sync case of this N that missed a target."""
    profiles: dict[str, Any] = {}
    n = spec.flows
    for family in FAMILIES:
        missed = [r["step"] for r in rows if r.get("family") == family.key and not r["pass"]]
        if not missed:
            continue
        paths = {step: out_dir / f"sync-n{n}-{family.key}-{step}.prof" for step in missed}
        tag = f"n{n}-profile-{family.key}"
        try:
            run_sequence(bench, spec, family, inprocess=True, tag=tag, profile=paths)
        except RuntimeError as exc:
            bench.problems.append(f"profiling {tag}: {exc}")
            continue
        for step, path in paths.items():
            data = top_functions(path, limit)
            title = f"{family.label} {STEP_LABELS[step]}, N={n}"
            print_profile(title, data)
            profiles[f"n{n}-{family.key}_{step}"] = data
    return profiles


# -- main ----------------------------------------------------------------------------------------


def warm_up(bench: Bench) -> None:
    """Untimed: compile byte code into the cache, import everything once, warm the server."""
    spec = create_repository(bench.server.root / "warmup.git", 20, 5, 0.05, bench.env)
    run_baselines(bench, spec, "warmup")
    for family in FAMILIES:
        run_sequence(bench, spec, family, inprocess=False, tag=f"warmup-{family.key}-cli")
        run_sequence(bench, spec, family, inprocess=True, tag=f"warmup-{family.key}-inproc")
    bench.problems.clear()


def _versions(env: Mapping[str, str], library: str) -> dict[str, str]:
    import pygit2

    git = subprocess.run(
        ["git", "--version"], capture_output=True, text=True, env=dict(env), check=True
    ).stdout.strip()

    def git_out(*args: str) -> str:
        return subprocess.run(
            ["git", "--no-optional-locks", *args],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            check=False,
        ).stdout.strip()

    return {
        "library": library,
        "checkout_head": git_out("rev-parse", "HEAD"),
        "checkout_library_files_modified": " ".join(
            git_out("diff", "--name-only", "HEAD", "--", "kestra_git_tasks").split()
        ),
        "python": platform.python_version(),
        "git": git,
        "pygit2": str(getattr(pygit2, "__version__", "?")),
        "libgit2": pygit2.LIBGIT2_VERSION,
        "platform": platform.platform(),
        "cpus": str(len(os.sched_getaffinity(0))),
    }


def _filesystem(path: Path) -> str:
    """``fstype`` of the mount holding ``path`` (Linux), for the report."""
    best, fstype = "", "?"
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return fstype
    resolved = str(path.resolve())
    for line in mounts:
        fields = line.split()
        mount = fields[1] if len(fields) >= 3 else ""
        inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
        if mount and inside and len(mount) > len(best):
            best, fstype = fields[1], fields[2]
    return f"{fstype} ({best})"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark SyncFlows / SyncNamespaceFiles against git ls-remote and clone.",
        epilog="Example: python bench/sync.py --flows 1000 10000 --files 500 --runs 5",
    )
    add_common_arguments(parser, "sync.json")
    parser.add_argument("--files", type=int, default=500, metavar="M", help="namespace files")
    parser.add_argument("--files-mb", type=float, default=20.0, help="their total size (MB)")
    args = parser.parse_args(argv)
    args.json = args.json.resolve()  # children run elsewhere; profiles are written next to it
    if args.runs < 1 or args.files < 1 or any(n < 1 for n in args.flows):
        parser.error("--runs, --files and --flows must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("git") is None:
        print("the git CLI is required", file=sys.stderr)
        return 2
    command = " ".join(["python", "bench/sync.py", *(sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="kestra-git-bench-", dir=args.tmp_dir))
    if args.worktree:
        cwd, package, library = REPO_ROOT, REPO_ROOT / "kestra_git_tasks", "work tree"
        env = child_env(tmp)
    else:
        sha = snapshot_library(args.rev, tmp / "src")
        cwd, package, library = tmp, tmp / "src" / "kestra_git_tasks", f"{args.rev} = {sha}"
        env = child_env(tmp, library=tmp / "src")
    print(f"measuring kestra_git_tasks: {library}", flush=True)
    password = secrets.token_hex(16)
    server = GitHttpServer(tmp / "srv", username=USERNAME, password=password)
    bench = Bench(
        tmp, env, server, password, inprocess=not args.no_inprocess, cwd=cwd, package=package
    )
    out_dir: Path = args.json.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    profiles: dict[str, Any] = {}
    problems: list[str] = []
    versions = _versions(env, library)
    versions["tmp_filesystem"] = _filesystem(tmp)
    try:
        warm_up(bench)
        for n in args.flows:
            measured = measure(bench, n, args.files, args.files_mb, args.runs)
            n_rows = summarise(n, measured["samples"])
            rows += n_rows
            if not args.no_profile and any(not r.get("pass", True) for r in n_rows):
                profiles.update(
                    profile_misses(bench, measured["spec"], n_rows, out_dir, args.profile_top)
                )
            problems += bench.problems
            bench.problems.clear()
            shutil.rmtree(measured["spec"].path, ignore_errors=True)
        if bench.server.errors:
            problems += [f"git server error: {e.splitlines()[-1]}" for e in bench.server.errors]
    finally:
        server.close()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    elapsed = time.perf_counter() - started
    print(f"\n{command}\nkestra_git_tasks: {library}")
    print(f"temporary files (server repository, homes, clones) on {versions['tmp_filesystem']}")
    print(f"{args.runs} runs per case, medians; finished in {elapsed:.0f} s\n")
    print_table(rows)
    print(
        "\nvs/ratio: median wall time of the whole process / median of the baseline (clone for "
        "first syncs, ls-remote otherwise). run() s: task.run(ctx) in-process; exec s: the "
        "CLI's execution (render + run + record); start s: wall - exec (interpreter, imports, "
        "instance open, exit). req: HTTP requests the server answered (median). RSS: peak "
        "over runs. *: target assumed (the issue states it for SyncFlows only)."
    )
    for problem in problems:
        print(f"PROBLEM: {problem}")
    report = {
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "elapsed_s": elapsed,
        "runs": args.runs,
        "files": args.files,
        "files_mb": args.files_mb,
        "flows": args.flows,
        "versions": versions,
        "targets": {
            "first_vs_clone": TARGETS["first"][1],
            "nochange_vs_ls_remote": TARGETS["nochange"][1],
            "onechange_vs_ls_remote": TARGETS["onechange"][1],
            "peak_rss_mb": RSS_TARGET_MB,
            "peak_rss_from_n": RSS_TARGET_FROM_N,
        },
        "results": rows,
        "profiles": profiles,
        "problems": problems,
    }
    args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
