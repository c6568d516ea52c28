"""Benchmark PushFlows against the git CLI committing and pushing the same content.

Run by hand (never in CI), from the repository root::

    python -m bench.push --flows 1000 10000 --runs 5 --json bench/results/push.json

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
- the same sequence in-process (``bench/_worker.py``): ``task.run(ctx)`` alone.

Every push is verified on the remote (``bench/_remote.py``: the tree equals the one the git
CLI pushed; no commit on no-change; one commit changing one file on one-change). The harness
(``bench/_harness.py``) prints the table, writes the JSON and profiles the misses.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import fast_import, flow_path, flow_yaml
from ._harness import Family, Sequence, Suite, Target, main, measure_command, run_worker
from ._remote import BRANCH, Checker, PushSetup, head_of

if TYPE_CHECKING:
    from ._harness import Bench, Outcome, Sample

NOCHANGE_REQUESTS = 1
SOURCE_NAMESPACE = "bench"
FLOWS_DIR = "_flows"
MESSAGE = f"Add flows from {SOURCE_NAMESPACE} namespace"  # PushFlows' default message
PUSH_FLOWS = Family(
    "push",
    "PushFlows",
    "io.kestra.plugin.git.PushFlows",
    "push",
    "bench_push_flows",
    "flows",
    {
        "sourceNamespace": SOURCE_NAMESPACE,
        "includeChildNamespaces": True,
        "gitDirectory": FLOWS_DIR,
    },
)
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


def flow_source(index: int, total: int, note: str = "initial version") -> str:
    """Flow ``index`` of ``total``: bench/_common.py's flow, in namespace ``bench.<folder>``;
    PushFlows writes it to bench/_common.py's ``flow_path(index)``."""
    return flow_yaml(index, total, note, root=SOURCE_NAMESPACE)


def changed_index(run: int, total: int) -> int:
    """The flow changed by the one-change step of run ``run`` (same one for git and PushFlows)."""
    return ((run + 1) * 7919) % total


def _write_sources(path: Path, sources: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sources), encoding="utf-8")
    return path


# -- baseline: the git CLI -----------------------------------------------------------------------


def _commit_and_push(bench: Bench, clone: Path, log: str) -> dict[str, Sample]:
    """git add -A, git commit, git push in ``clone``, each measured."""
    env = {**bench.env, **GIT_CLI_ENV}
    commands = {
        "add": [bench.git, "add", "-A"],
        "commit": [bench.git, "commit", "-q", "-m", MESSAGE],
        "push": [bench.git, "push", "-q", "origin", BRANCH],
    }
    logs = bench.tmp / "logs"
    return {
        name: measure_command(bench, args, logs / f"{log}-{name}.log", env=env, cwd=clone)
        for name, args in commands.items()
    }


def _sum(parts: Mapping[str, Sample]) -> Sample:
    return {
        "wall_s": sum(p["wall_s"] for p in parts.values()),
        "rss_mb": max(p["rss_mb"] for p in parts.values()),
        "http_requests": sum(p["http_requests"] for p in parts.values()),
        "requests": [r for p in parts.values() for r in p["requests"]],
        "parts_s": {name: p["wall_s"] for name, p in parts.items()},
    }


# -- PushFlows -----------------------------------------------------------------------------------


class _PushSequence(Sequence):
    """A fresh copy of the N instance pushing to a fresh remote; the one-change step follows a
    new revision of one flow in the instance. The remote is checked after each step."""

    def __init__(self, suite: PushSuite, bench: Bench, setup: PushSetup, run: int, tag: str):
        super().__init__(bench, tag, f"{tag}.git")
        self.setup, self.run = setup, run
        self.remote = suite.new_remote(bench, self.repo)
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.copytree(setup.home, self.home)
        self.checker = Checker(bench, setup, self.remote, tag)

    def before(self, step: str) -> None:
        if step != "onechange":
            return
        n = self.setup.n
        logs = self.bench.tmp / "logs"
        source = flow_source(changed_index(self.run, n), n, note=f"changed in run {self.run}")
        sources = _write_sources(logs / f"{self.tag}-change-source.json", [source])
        run_worker(
            self.bench,
            "change",
            logs / f"{self.tag}-change.log",
            *("--home", str(self.home), "--sources", str(sources)),
        )

    def check(self, step: str, outcome: Outcome) -> None:
        if step == "first":
            self.checker.first(outcome.commit, outcome.row_count)
        elif step == "nochange":
            self.checker.nochange(outcome.commit, outcome.row_count)
        else:
            path = flow_path(changed_index(self.run, self.setup.n))
            known = self.setup.onechange_trees.get(self.run)
            self.checker.onechange(
                path, known, outcome.commit, outcome.rows_head, outcome.row_count
            )

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.remote, ignore_errors=True)


class PushSuite(Suite[PushSetup]):
    name = "push"
    description = "Benchmark PushFlows against git add+commit+push and git ls-remote."
    families = (PUSH_FLOWS,)
    #: step -> target; the issue gives none for one-change.
    targets = {
        "first": Target("git_first", 1.5),
        "nochange": Target("ls_remote", 2.0),
        "onechange": Target("git_onechange", None),
    }
    baseline_labels = {
        "git_clone": "git clone (info)",
        "git_write": "  write N files (info)",
        "git_add": "  git add -A",
        "git_commit": "  git commit",
        "git_push": "  git push",
        "git_first": "git add+commit+push (baseline)",
        "ls_remote": "git ls-remote (baseline)",
        "git_onechange": "git one-change add+commit+push",
    }
    baseline_short = {
        "git_first": "git a+c+p",
        "ls_remote": "ls-remote",
        "git_onechange": "git 1-chg",
    }
    tmp_contents = "remotes, homes, clones"
    record_requests = True
    notes = (
        "vs/ratio: median wall time of the whole PushFlows process / median of the baseline: "
        "git add -A + git commit + git push (git a+c+p) for the first push, git ls-remote for "
        "no-change, the same three commands after one changed file (git 1-chg) for one-change "
        "(no target in the issue: info). Indented rows: the parts of git a+c+p; writing the "
        "files is not in it. run() s: task.run(ctx) in-process; exec s: the CLI's execution "
        "(render + run + record); start s: wall - exec; run() x: run() s / the same baseline. "
        "req: HTTP requests the server answered (median), whole process / in-process; a "
        f"no-change push must make {NOCHANGE_REQUESTS}. RSS: peak over runs, whole process / "
        "in-process (no target in the issue)."
    )
    template_remote: Path  # bare repository: one README commit on main
    initial_commit: str

    def start(self, bench: Bench) -> None:
        """The empty remote every push starts from: a bare repository with one README commit."""
        path = bench.tmp / "templates" / "remote.git"
        init = [bench.git, "init", "--quiet", "--bare", f"--initial-branch={BRANCH}", str(path)]
        subprocess.run(init, env=bench.env, check=True)
        readme = [("README.md", b"# Benchmark remote generated by bench/push.py\n")]
        fast_import(path, readme, "Initial commit", 1_700_000_000, has_parent=False, env=bench.env)
        self.template_remote = path
        self.initial_commit = head_of(path)[0]

    def new_remote(self, bench: Bench, name: str) -> Path:
        """A fresh copy of the template remote, served as ``name``."""
        path = Path(bench.server.root) / name
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(self.template_remote, path, symlinks=True)
        return path

    def setup(self, bench: Bench, n: int) -> PushSetup:
        """The template home holding ``n`` flows, and the files they make."""
        home = bench.tmp / "templates" / f"home-n{n}"
        shutil.rmtree(home, ignore_errors=True)
        logs = bench.tmp / "logs"
        sources = [flow_source(i, n) for i in range(n)]
        listed = _write_sources(logs / f"setup-n{n}-sources.json", sources)
        result = run_worker(
            bench, "setup", logs / f"setup-n{n}.log", "--home", str(home), "--sources", str(listed)
        )
        leftovers = [p.name for p in home.iterdir() if p.name != "instance.db"]
        if leftovers:  # a WAL left behind would make copies of the home inconsistent
            raise RuntimeError(f"the template home holds more than instance.db: {leftovers}")
        files = {flow_path(i): source.encode("utf-8") for i, source in enumerate(sources)}
        print(f"N={n}: instance filled in {result['seconds']:.1f} s (put_flow x {n})", flush=True)
        return PushSetup(n, home, files, FLOWS_DIR, self.initial_commit)

    def teardown(self, bench: Bench, fixture: PushSetup) -> None:
        shutil.rmtree(fixture.home, ignore_errors=True)

    def n_of(self, fixture: PushSetup) -> int:
        return fixture.n

    def baselines(self, bench: Bench, fixture: PushSetup, run: int, tag: str) -> dict[str, Sample]:
        """clone (info) -> write the files -> add+commit+push -> ls-remote -> one change pushed.

        Sets ``fixture.first_tree`` / ``fixture.onechange_trees[run]``, the references
        PushFlows' trees are compared with."""
        name = f"{tag}-git.git"
        remote = self.new_remote(bench, name)
        url = bench.server.authenticated_url_for(name)
        clone = bench.tmp / "clones" / tag
        logs = bench.tmp / "logs"
        samples: dict[str, Sample] = {}
        check = Checker(bench, fixture, remote, f"{tag} git")
        try:
            clone_args = [bench.git, "clone", "-q", "--branch", BRANCH, url, str(clone)]
            samples["git_clone"] = measure_command(bench, clone_args, logs / f"{tag}-clone.log")
            started = time.perf_counter()
            for folder in sorted({str(Path(path).parent) for path in fixture.files}):
                (clone / folder).mkdir(parents=True, exist_ok=True)
            for path, data in fixture.files.items():
                (clone / path).write_bytes(data)
            samples["git_write"] = {"wall_s": time.perf_counter() - started}
            parts = _commit_and_push(bench, clone, f"{tag}-first")
            samples.update({f"git_{part}": sample for part, sample in parts.items()})
            samples["git_first"] = _sum(parts)
            check.first(reference=True)
            ls_remote = [bench.git, "ls-remote", url, f"refs/heads/{BRANCH}"]
            samples["ls_remote"] = measure_command(bench, ls_remote, logs / f"{tag}-ls-remote.log")
            index = changed_index(run, fixture.n)
            data = flow_source(index, fixture.n, note=f"changed in run {run}").encode("utf-8")
            (clone / flow_path(index)).write_bytes(data)
            samples["git_onechange"] = _sum(_commit_and_push(bench, clone, f"{tag}-onechange"))
            fixture.onechange_trees[run] = check.onechange(flow_path(index))
        finally:
            shutil.rmtree(clone, ignore_errors=True)
            shutil.rmtree(remote, ignore_errors=True)
        return samples

    def sequence(
        self, bench: Bench, fixture: PushSetup, family: Family, run: int, tag: str
    ) -> _PushSequence:
        return _PushSequence(self, bench, fixture, run, tag)

    def baseline_row(self, row: dict[str, Any], cli: list[Sample]) -> None:
        label = row["case"].replace("N files", f"{row['n']} files")
        row.update(case=label.strip(), label=label, requests_run1=cli[0].get("requests"))
        if "parts_s" in cli[0]:
            row["parts_median_s"] = {
                part: statistics.median([s["parts_s"][part] for s in cli])
                for part in cli[0]["parts_s"]
            }

    def step_row(
        self, row: dict[str, Any], family: Family, cli: list[Sample], medians: dict[str, float]
    ) -> None:
        inproc = row["inproc_samples"]
        row.update(
            label=row["case"],
            ratio_vs_ls_remote=row["median_s"] / medians["ls_remote"],
            ratio_vs_git_first=row["median_s"] / medians["git_first"],
            requests_run1=cli[0].get("requests"),
            inproc_median_s=statistics.median([s["wall_s"] for s in inproc]) if inproc else None,
        )
        # issue 16: a no-change push is one request (the ref advertisement), whole process or not
        req_target = NOCHANGE_REQUESTS if row["step"] == "nochange" else None
        seen = [r for r in (row["http_requests"], row["inproc_http_requests"]) if r is not None]
        row.update(req_target=req_target, req_ok=req_target is None or max(seen) <= req_target)
        if not row["req_ok"]:
            row["pass"] = False

    def why_failed(self, row: dict[str, Any]) -> str:
        return "+".join(w for w, ok in (("time", row["time_ok"]), ("req", row["req_ok"])) if not ok)

    def report_targets(self) -> dict[str, Any]:
        return {
            "first_vs_git_add_commit_push": self.targets["first"].ratio,
            "nochange_vs_ls_remote": self.targets["nochange"].ratio,
            "nochange_http_requests": NOCHANGE_REQUESTS,
        }


if __name__ == "__main__":
    sys.exit(main(PushSuite))
