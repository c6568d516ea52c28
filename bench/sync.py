"""Benchmark SyncFlows and SyncNamespaceFiles against the git CLI, over real smart HTTP.

Run by hand (never in CI), from the repository root::

    python -m bench.sync --flows 1000 10000 --files 500 --runs 5 --json bench/results/sync.json
    python -m bench.sync --flows 10000 100000 --runs 1     # the scale case (about 10 minutes)

For each N it generates a bare repository (N flows over 20 child-namespace folders of
``_flows/``, M namespace files of ~20 MB under ``_files/``), serves it with the tests' smart-HTTP
server (``tests/gitserver.py``, Basic auth, 127.0.0.1), and measures, ``--runs`` times each:

- baselines: ``git ls-remote URL refs/heads/main`` and
  ``git clone --depth 1 --single-branch --branch main URL DIR``;
- SyncFlows and SyncNamespaceFiles as whole ``python -m kestra_git_tasks run FLOW.yml`` processes:
  first sync into an empty home, no-change sync (same home), one-change sync (one flow or file
  committed to the remote in between);
- the same sequences in-process (``bench/_worker.py``): the time of ``task.run(ctx)`` alone, so
  the start-up cost of a process is visible.

The harness (``bench/_harness.py``) prints the table (median seconds, ratio to the baseline,
the in-process ratio, requests, peak RSS, pass/fail against issue 16's targets), writes it as
JSON and profiles the cases that miss a target (``--no-profile`` to skip). See
``bench/README.md``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._common import RepoSpec, commit_changes, create_repository
from ._harness import Family, Sequence, Suite, Target, main, measure_command

if TYPE_CHECKING:
    from ._harness import Bench, Outcome, Sample

#: Issue 16's goals. Peak RSS: N -> MB, the largest N not above the measured one applies.
RSS_TARGETS_MB = {10_000: 200.0, 100_000: 600.0}
#: A no-change SyncFlows in-process (``task.run``, what a server pays) / ls-remote, from N on.
INPROC_NOCHANGE_RATIO = 1.5
INPROC_NOCHANGE_FROM_N = 10_000
#: Requests the git server answers: no-change = the ref advertisement; one-change = + a fetch.
REQUEST_TARGETS = {"nochange": 1, "onechange": 2}


def rss_target(n: int) -> float | None:
    """The peak RSS goal at ``n`` flows (None below the smallest N the issue names)."""
    applying = [mb for from_n, mb in sorted(RSS_TARGETS_MB.items()) if n >= from_n]
    return applying[-1] if applying else None


@dataclass(frozen=True)
class _Change:
    """What the one-change commit of a family changes, and the row state it must give."""

    flow: bool  # a flow (else a small namespace file)
    state: str


FAMILIES = (
    Family(
        "flows",
        "SyncFlows",
        "io.kestra.plugin.git.SyncFlows",
        "sync",
        "bench_sync_flows",
        "flows",
        {"targetNamespace": "bench", "includeChildNamespaces": True, "gitDirectory": "_flows"},
    ),
    Family(
        "files",
        "SyncNamespaceFiles",
        "io.kestra.plugin.git.SyncNamespaceFiles",
        "sync",
        "bench_sync_files",
        "files",
        {"namespace": "bench", "gitDirectory": "_files"},
    ),
)
CHANGES = {"flows": _Change(True, "UPDATED"), "files": _Change(False, "OVERWRITTEN")}


class _SyncSequence(Sequence):
    """A fresh home syncing the N repository; the one-change step follows a commit of one
    file to it. Rows are checked by state: all ADDED, all UNCHANGED, one changed."""

    def __init__(self, bench: Bench, spec: RepoSpec, family: Family, tag: str) -> None:
        super().__init__(bench, tag, spec.path.name)
        self.spec, self.change = spec, CHANGES[family.key]

    def before(self, step: str) -> None:
        if step == "onechange":
            commit_changes(self.spec, self.bench.env, flow=self.change.flow)

    def check(self, step: str, outcome: Outcome) -> None:
        total = self.spec.flows if self.change.flow else len(self.spec.file_paths)
        want = {
            "first": {"ADDED": total},
            "nochange": {"UNCHANGED": total},
            "onechange": {"UNCHANGED": total - 1, self.change.state: 1},
        }[step]
        if outcome.counts != want:
            self.bench.problems.append(f"{self.tag} {step}: rows {outcome.counts}, expected {want}")


class SyncSuite(Suite[RepoSpec]):
    name = "sync"
    description = "Benchmark SyncFlows / SyncNamespaceFiles against git ls-remote and clone."
    families = FAMILIES
    targets = {
        "first": Target("clone", 2.0),
        "nochange": Target("ls_remote", 5.0),
        "onechange": Target("ls_remote", 8.0),
    }
    baseline_labels = {
        "ls_remote": "git ls-remote (baseline)",
        "clone": "git clone --depth 1 (baseline)",
        "clone_bare": "git clone --bare --depth 1 (info)",
    }
    baseline_short = {"ls_remote": "ls-remote", "clone": "clone"}
    tmp_contents = "server repository, homes, clones"
    rss_max_column = True
    notes = (
        "vs/ratio: median wall time of the whole process / median of the baseline (clone for "
        "first syncs, ls-remote otherwise). run() s: task.run(ctx) in-process; exec s: the "
        "CLI's execution (render + run + record); start s: wall - exec (interpreter, imports, "
        "instance open, exit); run() x: run() s / the same baseline (SyncFlows no-change: "
        f"<= {INPROC_NOCHANGE_RATIO}x from N = {INPROC_NOCHANGE_FROM_N}). req: HTTP requests "
        "the server answered (median), whole process / in-process; targets: no-change "
        f"{REQUEST_TARGETS['nochange']}, one-change {REQUEST_TARGETS['onechange']}. RSS: peak "
        "over runs, whole process / in-process; RSS max: the issue's goal. *: target assumed "
        "(the issue states it for SyncFlows only)."
    )

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--files", type=int, default=500, metavar="M", help="namespace files")
        parser.add_argument("--files-mb", type=float, default=20.0, help="their total size (MB)")

    @classmethod
    def check_arguments(cls, parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
        if args.runs < 1 or args.files < 1 or any(n < 1 for n in args.flows):
            parser.error("--runs, --files and --flows must be positive")

    def setup(self, bench: Bench, n: int) -> RepoSpec:
        started = time.perf_counter()
        path = bench.server.root / f"bench-{n}.git"
        spec = create_repository(path, n, self.args.files, self.args.files_mb, bench.env)
        print(
            f"N={n}: repository generated in {time.perf_counter() - started:.1f} s "
            f"({n} flows, {len(spec.file_paths)} files, {spec.total_file_bytes / 1e6:.1f} MB)",
            flush=True,
        )
        return spec

    def warmup_setup(self, bench: Bench) -> RepoSpec:
        return create_repository(bench.server.root / "warmup.git", 20, 5, 0.05, bench.env)

    def teardown(self, bench: Bench, fixture: RepoSpec) -> None:
        shutil.rmtree(fixture.path, ignore_errors=True)

    def n_of(self, fixture: RepoSpec) -> int:
        return fixture.flows

    def baselines(self, bench: Bench, fixture: RepoSpec, run: int, tag: str) -> dict[str, Sample]:
        """ls-remote, clone (the targets' baselines) and a bare clone (informational: the
        download alone, without writing a work tree)."""
        url = bench.server.authenticated_url_for(fixture.path.name)
        clone = [bench.git, "clone", "--depth", "1", "--single-branch", "--branch", "main"]
        clones = bench.tmp / "clones"
        commands = {
            "ls_remote": [bench.git, "ls-remote", url, "refs/heads/main"],
            "clone": [*clone, url, str(clones / f"{tag}-clone")],
            "clone_bare": [*clone, "--bare", url, str(clones / f"{tag}-bare")],
        }
        logs = bench.tmp / "logs"
        samples = {
            name: measure_command(bench, args, logs / f"{tag}-{name}.log")
            for name, args in commands.items()
        }
        shutil.rmtree(clones, ignore_errors=True)
        return samples

    def sequence(
        self, bench: Bench, fixture: RepoSpec, family: Family, run: int, tag: str
    ) -> _SyncSequence:
        return _SyncSequence(bench, fixture, family, tag)

    def step_row(
        self, row: dict[str, Any], family: Family, cli: list[Sample], medians: dict[str, float]
    ) -> None:
        goal = rss_target(row["n"])
        rss = [r for r in (row["peak_rss_mb"], row["inproc_peak_rss_mb"]) if r is not None]
        rss_ok = goal is None or max(rss) <= goal
        inproc_target = None
        if family.key == "flows" and row["step"] == "nochange":
            inproc_target = INPROC_NOCHANGE_RATIO if row["n"] >= INPROC_NOCHANGE_FROM_N else None
        inproc_ok = inproc_target is None or (
            row["inproc_ratio"] is not None and row["inproc_ratio"] <= inproc_target
        )
        req_target = REQUEST_TARGETS.get(row["step"])
        seen = [r for r in (row["http_requests"], row["inproc_http_requests"]) if r is not None]
        req_ok = req_target is None or max(seen) <= req_target
        row.update(
            family=family.key,
            target_assumed=family.key == "files" and row["step"] == "first",
            rss_target_mb=goal,
            rss_ok=rss_ok,
            inproc_target_ratio=inproc_target,
            inproc_ok=inproc_ok,
            req_target=req_target,
            req_ok=req_ok,
        )
        row["pass"] = bool(row["time_ok"]) and rss_ok and inproc_ok and req_ok

    def why_failed(self, row: dict[str, Any]) -> str:
        checks = ("time", row["time_ok"]), ("run()", row["inproc_ok"]), ("req", row["req_ok"])
        return "+".join(w for w, ok in (*checks, ("rss", row["rss_ok"])) if not ok)

    def report_fields(self) -> dict[str, Any]:
        return {"files": self.args.files, "files_mb": self.args.files_mb}

    def report_targets(self) -> dict[str, Any]:
        return {
            "first_vs_clone": self.targets["first"].ratio,
            "nochange_vs_ls_remote": self.targets["nochange"].ratio,
            "onechange_vs_ls_remote": self.targets["onechange"].ratio,
            "nochange_inprocess_vs_ls_remote": INPROC_NOCHANGE_RATIO,
            "nochange_inprocess_from_n": INPROC_NOCHANGE_FROM_N,
            "peak_rss_mb_from_n": {str(n): mb for n, mb in RSS_TARGETS_MB.items()},
            "http_requests": REQUEST_TARGETS,
        }


if __name__ == "__main__":
    sys.exit(main(SyncSuite))
