"""Benchmark PushFlows against the git CLI committing and pushing the same content.

Run by hand (never in CI), from the repository root::

    python bench/push.py --flows 1000 10000 --runs 5 --json bench/results/push.json

For each N it fills an embedded instance with N flows over 20 child namespaces ``bench.*``
(bench/_common.py's flows, ``LocalInstance.put_flow`` in one ``batch()``), and an empty remote (a
bare repository holding one README commit) served by the tests' smart-HTTP server
(``tests/gitserver.py``, Basic auth, 127.0.0.1). Then, ``--runs`` times each, on fresh copies:

- baseline: a fresh remote is cloned with the git CLI (reported apart), the files PushFlows
  would write (``_flows/<child path>/<id>.yml``, same bytes) are written to the work tree, and
  ``git add -A``, ``git commit``, ``git push`` are timed; then ``git ls-remote``, and one flow
  changed, added, committed and pushed (the one-change comparison);
- PushFlows (``sourceNamespace: bench``, ``includeChildNamespaces: true``) as whole
  ``python -m kestra_git_tasks run FLOW.yml`` processes, to another fresh remote from a fresh
  home: first push, no-change push, one-flow-changed push (the flow changed in the instance
  between the two runs);
- the same sequence in-process (``bench/_push_worker.py``): ``task.run(ctx)`` alone.

Every push is verified on the remote (the tree equals the one the git CLI pushed; no commit on
no-change; one commit changing one file on one-change). It prints a table (medians, ratios to
the baselines, peak RSS, pass/fail against the issue's targets) and writes it as JSON; cases
missing a target are then profiled in-process with cProfile. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
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

import pygit2  # noqa: E402
from _common import (  # noqa: E402
    REPO_ROOT,
    _fast_import,
    add_common_arguments,
    child_env,
    run_measured,
    snapshot_library,
)
from _push_worker import (  # noqa: E402
    FLOWS_DIR,
    SOURCE_NAMESPACE,
    changed_index,
    flow_repo_path,
    flow_source,
)
from sync import (  # noqa: E402
    _check,
    _filesystem,
    _fmt,
    _median,
    _versions,
    print_profile,
    top_functions,
)

sys.path.insert(0, str(REPO_ROOT / "tests"))
from gitserver import GitHttpServer  # type: ignore[import-not-found]  # noqa: E402

WORKER = Path(__file__).resolve().with_name("_push_worker.py")
USERNAME = "bench"
BRANCH = "main"
MESSAGE = f"Add flows from {SOURCE_NAMESPACE} namespace"  # PushFlows' default message
STEPS = ("first", "nochange", "onechange")
STEP_LABELS = {"first": "first", "nochange": "no-change", "onechange": "one-change"}
#: step -> (baseline, max ratio or None): the issue's targets (none given for one-change).
TARGETS: dict[str, tuple[str, float | None]] = {
    "first": ("git_first", 1.5),
    "nochange": ("ls_remote", 2.0),
    "onechange": ("git_onechange", None),
}
#: baseline rows, in table order: key -> label.
BASELINE_LABELS = {
    "git_clone": "git clone (info)",
    "git_write": "  write N files (info)",
    "git_add": "  git add -A",
    "git_commit": "  git commit",
    "git_push": "  git push",
    "git_first": "git add+commit+push (baseline)",
    "ls_remote": "git ls-remote (baseline)",
    "git_onechange": "git one-change add+commit+push",
}
BASELINE_SHORT = {"git_first": "git a+c+p", "ls_remote": "ls-remote", "git_onechange": "git 1-chg"}
#: the git CLI's identity and no automatic gc (a detached `gc --auto` after `git add` of more
#: than 6,700 loose objects would run during the next measurements).
GIT_CLI_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_COUNT": "2",
    "GIT_CONFIG_KEY_0": "gc.auto",
    "GIT_CONFIG_VALUE_0": "0",
    "GIT_CONFIG_KEY_1": "maintenance.auto",
    "GIT_CONFIG_VALUE_1": "false",
}


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
    template_remote: Path = field(init=False)  # bare repository: one README commit on main
    initial_commit: str = field(init=False)
    problems: list[str] = field(default_factory=list)

    @property
    def git(self) -> str:
        return shutil.which("git") or "git"

    @property
    def git_env(self) -> dict[str, str]:
        return {**self.env, **GIT_CLI_ENV}


@dataclass
class Setup:
    """One N: the instance template, the expected files and the trees the git CLI pushed."""

    n: int
    home: Path  # template home: the instance with the N flows, nothing else
    files: dict[str, bytes]  # what PushFlows must write: repository path -> content
    first_tree: str | None = None  # tree of the first push (set by the git baseline)
    onechange_trees: dict[int, str] = field(default_factory=dict)  # run -> one-change tree


# -- fixtures ------------------------------------------------------------------------------------


def create_template_remote(bench: Bench) -> None:
    """The empty remote every push starts from: a bare repository with one README commit."""
    path = bench.tmp / "templates" / "remote.git"
    subprocess.run(
        [bench.git, "init", "--quiet", "--bare", f"--initial-branch={BRANCH}", str(path)],
        env=bench.env,
        check=True,
    )
    readme = [("README.md", b"# Benchmark remote generated by bench/push.py\n")]
    _fast_import(path, readme, "Initial commit", 1_700_000_000, has_parent=False, env=bench.env)
    bench.template_remote = path
    bench.initial_commit = head_of(path)[0]


def new_remote(bench: Bench, name: str) -> Path:
    """A fresh copy of the template remote, served as ``name``."""
    path = Path(bench.server.root) / name
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(bench.template_remote, path, symlinks=True)
    return path


def worker(bench: Bench, mode: str, log: Path, *args: str) -> dict[str, Any]:
    """Run ``_push_worker.py MODE`` untimed (instance setup and changes); its JSON result."""
    out = log.with_suffix(".json")
    command = [sys.executable, str(WORKER), mode, "--out", str(out), *args]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        done = subprocess.run(
            command, stdout=sink, stderr=subprocess.STDOUT, env=bench.env, cwd=bench.cwd
        )
    _check(done.returncode, log, f"worker {mode}")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def prepare(bench: Bench, n: int) -> Setup:
    """The template home holding ``n`` flows, and the files they make."""
    home = bench.tmp / "templates" / f"home-n{n}"
    shutil.rmtree(home, ignore_errors=True)
    log = bench.tmp / "logs" / f"setup-n{n}.log"
    result = worker(bench, "setup", log, "--home", str(home), "--flows", str(n))
    leftovers = [p.name for p in home.iterdir() if p.name != "instance.db"]
    if leftovers:  # a WAL left behind would make copies of the home inconsistent
        raise RuntimeError(f"the template home holds more than instance.db: {leftovers}")
    files = {flow_repo_path(i): flow_source(i, n).encode("utf-8") for i in range(n)}
    print(f"N={n}: instance filled in {result['seconds']:.1f} s (put_flow x {n})", flush=True)
    return Setup(n, home, files)


# -- the remote ----------------------------------------------------------------------------------


def head_of(path: Path) -> tuple[str, list[str], str]:
    """(commit, parents, tree) of ``main`` in the bare repository ``path``."""
    repo = pygit2.Repository(str(path))
    commit = repo[repo.references[f"refs/heads/{BRANCH}"].target]
    assert isinstance(commit, pygit2.Commit)
    return str(commit.id), [str(p) for p in commit.parent_ids], str(commit.tree_id)


def count_files(path: Path, directory: str) -> int:
    """Files under ``directory`` in ``main``'s tree."""
    repo = pygit2.Repository(str(path))
    commit = repo[repo.references[f"refs/heads/{BRANCH}"].target]
    assert isinstance(commit, pygit2.Commit)
    try:
        node = commit.tree[directory]
    except KeyError:
        return 0
    if not isinstance(node, pygit2.Tree):
        return 1
    total = 0
    stack = [node]
    while stack:
        tree = stack.pop()
        assert isinstance(tree, pygit2.Tree)
        for entry in tree:
            if isinstance(entry, pygit2.Tree):
                stack.append(entry)
            else:
                total += 1
    return total


def changed_paths(path: Path, old: str, new: str) -> list[tuple[str, str]]:
    """``(status, path)`` of every file that differs between commits ``old`` and ``new``."""
    repo = pygit2.Repository(str(path))
    diff = repo.diff(old, new)
    return [(delta.status_char(), delta.new_file.path) for delta in diff.deltas]


class Checker:
    """Verifies what a step left on the remote; problems go to ``bench.problems``."""

    def __init__(self, bench: Bench, setup: Setup, remote: Path, what: str) -> None:
        self.bench, self.setup, self.remote, self.what = bench, setup, remote, what
        self.head = bench.initial_commit

    def problem(self, text: str) -> None:
        self.bench.problems.append(f"{self.what}: {text}")

    def first(self, commit: str | None = None, rows: int | None = None) -> str:
        """N files under _flows/ in one commit on the initial one; returns its tree."""
        head, parents, tree = head_of(self.remote)
        n = self.setup.n
        if parents != [self.bench.initial_commit]:
            self.problem(f"first push: head {head[:12]} has parents {parents}")
        files = count_files(self.remote, FLOWS_DIR)
        if files != n:
            self.problem(f"first push: {files} files under {FLOWS_DIR}/, expected {n}")
        if count_files(self.remote, "README.md") != 1:
            self.problem("first push: README.md is gone")
        if self.setup.first_tree is not None and tree != self.setup.first_tree:
            self.problem(f"first push: tree {tree[:12]} != the git CLI's {self.setup.first_tree}")
        self._output(commit, head, rows, n)
        self.head = head
        return tree

    def nochange(self, commit: str | None, rows: int | None) -> None:
        head = head_of(self.remote)[0]
        if head != self.head:
            self.problem(f"no-change push moved the branch: {self.head[:12]} -> {head[:12]}")
        if commit is not None or rows:
            self.problem(f"no-change push reported commit {commit} and {rows} rows")

    def onechange(
        self, run: int, commit: str | None = None, rows: list[dict[str, Any]] | None = None
    ) -> str:
        """One commit on the previous head changing the changed flow's file; returns its tree."""
        head, parents, tree = head_of(self.remote)
        path = flow_repo_path(changed_index(run, self.setup.n))
        if parents != [self.head]:
            self.problem(f"one-change push: head {head[:12]} has parents {parents}")
        changed = changed_paths(self.remote, self.head, head)
        if changed != [("M", path)]:
            self.problem(f"one-change push changed {changed[:5]}, expected [('M', {path!r})]")
        known = self.setup.onechange_trees.get(run)
        if known is not None and tree != known:
            self.problem(f"one-change push: tree {tree[:12]} != the git CLI's {known[:12]}")
        if rows is not None and [r.get("file") for r in rows] != [path]:
            self.problem(f"one-change push reported rows {rows[:3]}")
        self._output(commit, head, None if rows is None else len(rows), 1)
        self.head = head
        return tree

    def _output(self, commit: str | None, head: str, rows: int | None, want: int) -> None:
        if commit is not None and commit != head:
            self.problem(f"reported commit {commit[:12]}, the remote has {head[:12]}")
        if rows is not None and rows != want:
            self.problem(f"{rows} diff rows reported, expected {want}")


# -- baseline: the git CLI -----------------------------------------------------------------------


def requests_seen(bench: Bench) -> list[str]:
    """The requests the server answered since the last reset, one short line each."""
    return [
        f"{r.method} {r.endpoint}"
        + (f" ({r.service})" if r.service and r.service not in r.endpoint else "")
        + f" {r.status}"
        for r in bench.server.requests
    ]


def _measure(bench: Bench, args: list[str], log: Path, cwd: Path) -> dict[str, Any]:
    bench.server.requests.reset()
    result = run_measured(args, env=bench.git_env, log=log, cwd=cwd)
    requests = requests_seen(bench)
    _check(result.returncode, log, " ".join(args[:3]))
    return {
        "wall_s": result.seconds,
        "rss_mb": result.max_rss_mb,
        "http_requests": len(requests),
        "requests": requests,
    }


def _commit_and_push(bench: Bench, clone: Path, log: str) -> dict[str, dict[str, Any]]:
    logs = bench.tmp / "logs"
    return {
        "add": _measure(bench, [bench.git, "add", "-A"], logs / f"{log}-add.log", clone),
        "commit": _measure(
            bench, [bench.git, "commit", "-q", "-m", MESSAGE], logs / f"{log}-commit.log", clone
        ),
        "push": _measure(
            bench, [bench.git, "push", "-q", "origin", BRANCH], logs / f"{log}-push.log", clone
        ),
    }


def _sum(parts: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "wall_s": sum(p["wall_s"] for p in parts.values()),
        "rss_mb": max(p["rss_mb"] for p in parts.values()),
        "http_requests": sum(p["http_requests"] for p in parts.values()),
        "requests": [r for p in parts.values() for r in p["requests"]],
        "parts_s": {name: p["wall_s"] for name, p in parts.items()},
    }


def run_baseline(bench: Bench, setup: Setup, run: int, tag: str) -> dict[str, dict[str, Any]]:
    """clone (info) -> write the files -> add+commit+push -> ls-remote -> one change pushed.

    Sets ``setup.first_tree`` / ``setup.onechange_trees[run]``, the references PushFlows'
    trees are compared with."""
    name = f"{tag}-git.git"
    remote = new_remote(bench, name)
    url = bench.server.authenticated_url_for(name)
    clone = bench.tmp / "clones" / tag
    logs = bench.tmp / "logs"
    samples: dict[str, dict[str, Any]] = {}
    check = Checker(bench, setup, remote, f"{tag} git")
    try:
        clone_args = [bench.git, "clone", "-q", "--branch", BRANCH, url, str(clone)]
        samples["git_clone"] = _measure(bench, clone_args, logs / f"{tag}-clone.log", bench.cwd)

        started = time.perf_counter()
        folders = {str(Path(path).parent) for path in setup.files}
        for folder in sorted(folders):
            (clone / folder).mkdir(parents=True, exist_ok=True)
        for path, data in setup.files.items():
            (clone / path).write_bytes(data)
        samples["git_write"] = {"wall_s": time.perf_counter() - started}

        parts = _commit_and_push(bench, clone, f"{tag}-first")
        for part, sample in parts.items():
            samples[f"git_{part}"] = sample
        samples["git_first"] = _sum(parts)
        tree = check.first()
        if setup.first_tree is None:
            setup.first_tree = tree
        elif tree != setup.first_tree:
            check.problem(f"the git CLI pushed tree {tree[:12]}, earlier {setup.first_tree[:12]}")

        ls_remote = [bench.git, "ls-remote", url, f"refs/heads/{BRANCH}"]
        samples["ls_remote"] = _measure(bench, ls_remote, logs / f"{tag}-ls-remote.log", bench.cwd)

        index = changed_index(run, setup.n)
        data = flow_source(index, setup.n, note=f"changed in run {run}").encode("utf-8")
        (clone / flow_repo_path(index)).write_bytes(data)
        samples["git_onechange"] = _sum(_commit_and_push(bench, clone, f"{tag}-onechange"))
        setup.onechange_trees[run] = check.onechange(run)
    finally:
        shutil.rmtree(clone, ignore_errors=True)
        shutil.rmtree(remote, ignore_errors=True)
    return samples


# -- PushFlows -----------------------------------------------------------------------------------


def flow_file(bench: Bench, repo: str) -> Path:
    """The flow the CLI runs against ``repo``."""
    path = bench.tmp / "flows" / f"{repo.removesuffix('.git')}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "id: bench_push_flows\n"
        "namespace: system\n"
        "tasks:\n"
        "  - id: push\n"
        "    type: io.kestra.plugin.git.PushFlows\n"
        f"    url: {bench.server.url_for(repo)}\n"
        f"    branch: {BRANCH}\n"
        f"    username: {USERNAME}\n"
        "    password: \"{{ secret('GIT_PASSWORD') }}\"\n"
        f"    sourceNamespace: {SOURCE_NAMESPACE}\n"
        "    includeChildNamespaces: true\n"
        f"    gitDirectory: {FLOWS_DIR}\n",
        encoding="utf-8",
    )
    return path


def last_execution(home: Path) -> tuple[str, float, str | None, list[dict[str, Any]]]:
    """State, duration, commit and diff rows of the latest execution recorded in ``home``."""
    conn = sqlite3.connect(home / "instance.db")
    try:
        state, start, end, outputs = conn.execute(
            "SELECT state, start_date, end_date, outputs FROM executions "
            "ORDER BY start_date DESC LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    push = json.loads(outputs).get("push", {})
    return state, seconds, push.get("commitId"), push.get("flows", [])


def run_sequence(
    bench: Bench,
    setup: Setup,
    run: int,
    *,
    inprocess: bool,
    tag: str,
    profile: Mapping[str, Path] | None = None,
) -> dict[str, dict[str, Any]]:
    """first -> no-change -> (one flow changed in the instance) -> one-change, from a fresh
    home to a fresh remote. Whole CLI processes, or (``inprocess``) the worker timing
    ``task.run(ctx)``; ``profile`` maps steps to a cProfile file (worker only)."""
    repo = f"{tag}.git"
    remote = new_remote(bench, repo)
    home = bench.tmp / "homes" / tag
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(setup.home, home)
    logs = bench.tmp / "logs"
    check = Checker(bench, setup, remote, tag)
    samples: dict[str, dict[str, Any]] = {}
    try:
        for step in STEPS:
            if step == "onechange":
                index = changed_index(run, setup.n)
                worker(
                    bench,
                    "change",
                    logs / f"{tag}-change.log",
                    *("--home", str(home), "--flows", str(setup.n), "--index", str(index)),
                    *("--note", f"changed in run {run}"),
                )
            log = logs / f"{tag}-{step}.log"
            bench.server.requests.reset()
            if inprocess:
                out = logs / f"{tag}-{step}.json"
                args = [sys.executable, str(WORKER), "run", "--home", str(home), "--out", str(out)]
                args += ["--url", bench.server.url_for(repo), "--username", USERNAME]
                if profile and step in profile:
                    args += ["--profile", str(profile[step])]
                env = {**bench.env, "BENCH_GIT_PASSWORD": bench.password}
                result = run_measured(args, env=env, log=log, cwd=bench.cwd)
                requests = requests_seen(bench)
                _check(result.returncode, log, f"{tag} {step}")
                data = json.loads(out.read_text(encoding="utf-8"))
                commit, rows = data.pop("commit"), data.pop("rows")
                imported = Path(data.pop("library_file")).parent
                if imported != bench.package:
                    bench.problems.append(f"{tag} {step}: imported {imported}, not {bench.package}")
                sample = {
                    "wall_s": result.seconds,
                    "rss_mb": result.max_rss_mb,
                    "http_requests": len(requests),
                    "requests": requests,
                    **data,
                }
            else:
                args = [sys.executable, "-m", "kestra_git_tasks", "run"]
                args += [str(flow_file(bench, repo)), "--home", str(home)]
                args += ["--secret", f"GIT_PASSWORD={bench.password}"]
                result = run_measured(args, env=bench.env, log=log, cwd=bench.cwd)
                requests = requests_seen(bench)
                _check(result.returncode, log, f"{tag} {step}")
                state, exec_s, commit, rows = last_execution(home)
                if state != "SUCCESS":
                    bench.problems.append(f"{tag} {step}: execution ended {state}")
                sample = {
                    "wall_s": result.seconds,
                    "rss_mb": result.max_rss_mb,
                    "http_requests": len(requests),
                    "requests": requests,
                    "exec_s": exec_s,
                    "startup_s": result.seconds - exec_s,
                    "outer_s": result.outer_seconds,
                }
            if step == "first":
                check.first(commit, len(rows))
            elif step == "nochange":
                check.nochange(commit, len(rows))
            else:
                check.onechange(run, commit, rows)
            samples[step] = sample
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(remote, ignore_errors=True)
    return samples


# -- one N ---------------------------------------------------------------------------------------


def measure(bench: Bench, setup: Setup, runs: int) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """All cases of one N: ``{case: {"cli"/"inproc": [samples]}}``."""
    n = setup.n
    run_baseline(bench, setup, -1, f"n{n}-warmup")  # page cache; sets the reference tree
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {}

    def add(case: str, kind: str, sample: dict[str, Any]) -> None:
        samples.setdefault(case, {}).setdefault(kind, []).append(sample)

    for run in range(runs):
        t0 = time.perf_counter()
        for name, sample in run_baseline(bench, setup, run, f"n{n}-r{run}").items():
            add(name, "cli", sample)
        for inprocess in (False, True) if bench.inprocess else (False,):
            kind = "inproc" if inprocess else "cli"
            tag = f"n{n}-r{run}-{kind}"
            for step, sample in run_sequence(
                bench, setup, run, inprocess=inprocess, tag=tag
            ).items():
                add(f"push_{step}", kind, sample)
        print(f"N={n}: run {run + 1}/{runs} in {time.perf_counter() - t0:.1f} s", flush=True)
    return samples


# -- summary -------------------------------------------------------------------------------------


def summarise(n: int, samples: dict[str, dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Table rows for one N (baselines first)."""
    rows: list[dict[str, Any]] = []
    medians: dict[str, float] = {}
    for name, label in BASELINE_LABELS.items():
        cli = samples[name]["cli"]
        median = _median(cli, "wall_s")
        assert median is not None
        medians[name] = median
        rss = [s["rss_mb"] for s in cli if "rss_mb" in s]
        row = {
            "case": label.replace("N files", f"{n} files").strip(),
            "label": label.replace("N files", f"{n} files"),
            "key": name,
            "n": n,
            "median_s": median,
            "min_s": min(s["wall_s"] for s in cli),
            "max_s": max(s["wall_s"] for s in cli),
            "peak_rss_mb": max(rss) if rss else None,
            "http_requests": _median(cli, "http_requests"),
            "requests_run1": cli[0].get("requests"),
            "samples": cli,
        }
        if "parts_s" in cli[0]:
            row["parts_median_s"] = {
                part: statistics.median([s["parts_s"][part] for s in cli])
                for part in cli[0]["parts_s"]
            }
        rows.append(row)
    for step in STEPS:
        case = samples[f"push_{step}"]
        cli, inproc = case["cli"], case.get("inproc", [])
        baseline, max_ratio = TARGETS[step]
        median = _median(cli, "wall_s")
        assert median is not None
        ratio = median / medians[baseline]
        time_ok = None if max_ratio is None else ratio <= max_ratio
        rows.append(
            {
                "case": f"PushFlows {STEP_LABELS[step]}",
                "label": f"PushFlows {STEP_LABELS[step]}",
                "key": f"push_{step}",
                "step": step,
                "n": n,
                "median_s": median,
                "min_s": min(s["wall_s"] for s in cli),
                "max_s": max(s["wall_s"] for s in cli),
                "baseline": baseline,
                "baseline_s": medians[baseline],
                "ratio": ratio,
                "ratio_vs_ls_remote": median / medians["ls_remote"],
                "ratio_vs_git_first": median / medians["git_first"],
                "target_ratio": max_ratio,
                "time_ok": time_ok,
                "pass": time_ok,
                "peak_rss_mb": max(s["rss_mb"] for s in cli),
                "http_requests": _median(cli, "http_requests"),
                "requests_run1": cli[0].get("requests"),
                "exec_s": _median(cli, "exec_s"),
                "startup_s": _median(cli, "startup_s"),
                "run_s": _median(inproc, "run_s"),
                "inproc_median_s": _median(inproc, "wall_s"),
                "inproc_import_s": _median(inproc, "import_s"),
                "inproc_setup_s": _median(inproc, "setup_s"),
                "inproc_to_dict_s": _median(inproc, "to_dict_s"),
                "inproc_peak_rss_mb": max((s["rss_mb"] for s in inproc), default=None),
                "samples": cli,
                "inproc_samples": inproc,
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    headers = ["case", "N", "median s", "min-max s", "vs", "ratio", "target", "run() s"]
    headers += ["exec s", "start s", "req", "RSS MB", "result"]
    table: list[list[str]] = []
    for row in rows:
        spread = f"{row['min_s']:.3f}-{row['max_s']:.3f}"
        if "step" not in row:
            table.append(
                [
                    *(row["label"], str(row["n"]), _fmt(row["median_s"]), spread),
                    *("", "", "", "", "", ""),
                    *(_fmt(row["http_requests"], "g"), _fmt(row["peak_rss_mb"], ".0f"), ""),
                ]
            )
            continue
        if row["target_ratio"] is None:
            target, result = "-", "info"
        else:
            target = f"<={row['target_ratio']:g}x"
            result = "PASS" if row["pass"] else "FAIL"
        table.append(
            [
                row["label"],
                str(row["n"]),
                _fmt(row["median_s"]),
                spread,
                BASELINE_SHORT[row["baseline"]],
                f"{row['ratio']:.2f}x",
                target,
                _fmt(row["run_s"]),
                _fmt(row["exec_s"]),
                _fmt(row["startup_s"]),
                _fmt(row["http_requests"], "g"),
                _fmt(row["peak_rss_mb"], ".0f"),
                result,
            ]
        )
    widths = [max(len(r[i]) for r in [headers, *table]) for i in range(len(headers))]
    numeric = {1, 2, 3, 5, 7, 8, 9, 10, 11}
    for line in [headers, *table]:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        print("  ".join(cells).rstrip())


# -- profiles ------------------------------------------------------------------------------------


def profile_misses(
    bench: Bench,
    setup: Setup,
    rows: list[dict[str, Any]],
    out: Path,
    limit: int,
    run: int,
    every: bool = False,
) -> dict[str, Any]:
    """Profile, in-process, every PushFlows step of this N that missed its target (``every``:
    every step); the ``.prof`` files go next to the JSON report ``out``, named after it."""
    out_dir, prefix = out.parent, out.stem
    n = setup.n
    missed = [r["step"] for r in rows if "step" in r and (every or r["pass"] is False)]
    if not missed:
        return {}
    paths = {step: out_dir / f"{prefix}-n{n}-{step}.prof" for step in missed}
    tag = f"n{n}-profile"
    try:
        run_sequence(bench, setup, run, inprocess=True, tag=tag, profile=paths)
    except RuntimeError as exc:
        bench.problems.append(f"profiling {tag}: {exc}")
        return {}
    profiles: dict[str, Any] = {}
    snapshot = f"{bench.package.parent}/"  # the library's temporary folder: gone after the run
    for step, path in paths.items():
        data = top_functions(path, limit)
        for key in ("by_cumulative", "by_own_time"):
            for item in data[key]:
                item["function"] = item["function"].replace(snapshot, "")
        print_profile(f"PushFlows {STEP_LABELS[step]}, N={n}", data)
        profiles[f"n{n}-push_{step}"] = data
    return profiles


# -- main ----------------------------------------------------------------------------------------


def warm_up(bench: Bench) -> None:
    """Untimed: compile byte code into the cache, import everything once, warm the server."""
    setup = prepare(bench, 20)
    run_baseline(bench, setup, 0, "warmup")
    run_sequence(bench, setup, 0, inprocess=False, tag="warmup-cli")
    run_sequence(bench, setup, 0, inprocess=True, tag="warmup-inproc")
    shutil.rmtree(setup.home, ignore_errors=True)
    bench.problems.clear()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark PushFlows against git add+commit+push and git ls-remote.",
        epilog="Example: python bench/push.py --flows 1000 10000 --runs 5",
    )
    add_common_arguments(parser, "push.json")
    parser.add_argument(
        "--profile-all", action="store_true", help="profile every step, not only the misses"
    )
    parser.add_argument(
        "--server-nodelay",
        action="store_true",
        help="the test server answers with TCP_NODELAY (no ~40 ms Nagle/delayed-ACK stall after "
        "each answer, as a production server would); default: the server as the tests use it",
    )
    args = parser.parse_args(argv)
    args.json = args.json.resolve()  # children run elsewhere; profiles are written next to it
    if args.runs < 1 or any(n < 1 for n in args.flows):
        parser.error("--runs and --flows must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("git") is None:
        print("the git CLI is required", file=sys.stderr)
        return 2
    command = " ".join(["python", "bench/push.py", *(sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="kestra-git-bench-push-", dir=args.tmp_dir))
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
    if args.server_nodelay:
        # Answer with TCP_NODELAY: without it the test server's two writes per response (headers,
        # then body) wait ~40 ms for the client's delayed ACK, on every answer, for both clients.
        handler = server._server.RequestHandlerClass
        server._server.RequestHandlerClass = type(
            "NoDelayHandler", (handler,), {"disable_nagle_algorithm": True}
        )
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
    versions["server_nodelay"] = str(args.server_nodelay)
    try:
        create_template_remote(bench)
        warm_up(bench)
        for n in args.flows:
            setup = prepare(bench, n)
            n_rows = summarise(n, measure(bench, setup, args.runs))
            rows += n_rows
            if not args.no_profile:
                profiles.update(
                    profile_misses(
                        bench,
                        setup,
                        n_rows,
                        args.json,
                        args.profile_top,
                        args.runs,
                        every=args.profile_all,
                    )
                )
            problems += bench.problems
            bench.problems.clear()
            shutil.rmtree(setup.home, ignore_errors=True)
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
    print(f"temporary files (remotes, homes, clones) on {versions['tmp_filesystem']}")
    if args.server_nodelay:
        print("test server answering with TCP_NODELAY (--server-nodelay)")
    print(f"{args.runs} runs per case, medians; finished in {elapsed:.0f} s\n")
    print_table(rows)
    print(
        "\nvs/ratio: median wall time of the whole PushFlows process / median of the baseline: "
        "git add -A + git commit + git push (git a+c+p) for the first push, git ls-remote for "
        "no-change, the same three commands after one changed file (git 1-chg) for one-change "
        "(no target in the issue: info). Indented rows: the parts of git a+c+p; writing the "
        "files is not in it. run() s: task.run(ctx) in-process; exec s: the CLI's execution "
        "(render + run + record); start s: wall - exec. req: HTTP requests the server answered "
        "(median). RSS: peak over runs (no target in the issue)."
    )
    for problem in problems:
        print(f"PROBLEM: {problem}")
    report = {
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "elapsed_s": elapsed,
        "runs": args.runs,
        "flows": args.flows,
        "versions": versions,
        "targets": {
            "first_vs_git_add_commit_push": TARGETS["first"][1],
            "nochange_vs_ls_remote": TARGETS["nochange"][1],
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
