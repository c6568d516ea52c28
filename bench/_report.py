"""The benchmarks' report: medians and ratios per case, the table, profiles, versions, JSON.

Rows are plain dicts (they go into the JSON report as they are). A baseline row has ``case``,
``key``, ``n``, ``median_s``, ``min_s``, ``max_s``, ``peak_rss_mb``, ``http_requests`` and its
``samples``; a step row also has ``step``, its ``baseline`` and ``ratio`` to it, the target and
``pass``, the CLI's ``exec_s``/``startup_s`` and the in-process medians (``run_s``, ...). The
suite adds its own keys through its ``baseline_row``/``step_row`` hooks.
"""

from __future__ import annotations

import os
import platform
import pstats
import statistics
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import REPO_ROOT
from ._steps import STEP_LABELS, STEPS

if TYPE_CHECKING:
    from ._harness import Samples, Suite
    from ._steps import Sample

__all__ = [
    "filesystem",
    "median",
    "print_profile",
    "print_table",
    "summarise",
    "top_functions",
    "versions",
]


def median(samples: list[Sample], key: str) -> float | None:
    values = [s[key] for s in samples if s.get(key) is not None]
    return statistics.median(values) if values else None


def _spread(cli: list[Sample]) -> dict[str, Any]:
    wall = median(cli, "wall_s")
    assert wall is not None
    return {
        "median_s": wall,
        "min_s": min(s["wall_s"] for s in cli),
        "max_s": max(s["wall_s"] for s in cli),
    }


def summarise(suite: Suite[Any], n: int, samples: Samples) -> list[dict[str, Any]]:
    """Table rows for one N: the baselines first, then every family's steps."""
    rows: list[dict[str, Any]] = []
    medians: dict[str, float] = {}
    for name, label in suite.baseline_labels.items():
        cli = samples[name]["cli"]
        rss = [s["rss_mb"] for s in cli if "rss_mb" in s]
        row = {"case": label, "key": name, "n": n, **_spread(cli)}
        row.update(
            peak_rss_mb=max(rss) if rss else None, http_requests=median(cli, "http_requests")
        )
        row["samples"] = cli
        medians[name] = row["median_s"]
        suite.baseline_row(row, cli)
        rows.append(row)
    for family in suite.families:
        for step in STEPS:
            case = samples[f"{family.key}_{step}"]
            cli, inproc = case["cli"], case.get("inproc", [])
            target = suite.targets[step]
            row = {"case": f"{family.label} {STEP_LABELS[step]}", "key": f"{family.key}_{step}"}
            row.update(step=step, n=n, **_spread(cli))
            ratio = row["median_s"] / medians[target.baseline]
            run_s = median(inproc, "run_s")
            time_ok = None if target.ratio is None else ratio <= target.ratio
            row.update(
                baseline=target.baseline,
                baseline_s=medians[target.baseline],
                ratio=ratio,
                target_ratio=target.ratio,
                time_ok=time_ok,
                peak_rss_mb=max(s["rss_mb"] for s in cli),
                http_requests=median(cli, "http_requests"),
                exec_s=median(cli, "exec_s"),
                startup_s=median(cli, "startup_s"),
                run_s=run_s,
                inproc_ratio=None if run_s is None else run_s / medians[target.baseline],
                inproc_http_requests=median(inproc, "http_requests"),
                inproc_import_s=median(inproc, "import_s"),
                inproc_setup_s=median(inproc, "setup_s"),
                inproc_to_dict_s=median(inproc, "to_dict_s"),
                inproc_peak_rss_mb=max((s["rss_mb"] for s in inproc), default=None),
                samples=cli,
                inproc_samples=inproc,
            )
            row["pass"] = time_ok
            suite.step_row(row, family, cli, medians)
            rows.append(row)
    return rows


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(suite: Suite[Any], rows: list[dict[str, Any]]) -> None:
    headers = ["case", "N", "median s", "min-max s", "vs", "ratio", "target", "run() s"]
    headers += ["run() x", "exec s", "start s", "req", "RSS MB"]
    headers += ["RSS max"] * suite.rss_max_column
    headers.append("result")
    table: list[list[str]] = []
    for row in rows:
        cells = [row.get("label", row["case"]), str(row["n"]), _fmt(row["median_s"])]
        cells.append(f"{row['min_s']:.3f}-{row['max_s']:.3f}")
        rss = [_fmt(row["peak_rss_mb"], ".0f")]
        if "step" not in row:
            cells += ["", "", "", "", "", "", "", _fmt(row["http_requests"], "g"), *rss]
            table.append(cells + [""] * suite.rss_max_column + [""])
            continue
        if row["target_ratio"] is None:
            target, result = "-", "info"
        else:
            target = f"<={row['target_ratio']:g}x" + ("*" if row.get("target_assumed") else "")
            why = "" if row["pass"] else suite.why_failed(row)
            result = ("PASS" if row["pass"] else "FAIL") + (f" ({why})" if why else "")
        cells += [suite.baseline_short[row["baseline"]], f"{row['ratio']:.2f}x", target]
        inproc = row.get("inproc_ratio")
        cells += [_fmt(row["run_s"]), "-" if inproc is None else f"{inproc:.2f}x"]
        cells += [_fmt(row[k]) for k in ("exec_s", "startup_s")]
        requests = _fmt(row["http_requests"], "g")
        if row.get("inproc_http_requests") is not None:
            requests += "/" + _fmt(row["inproc_http_requests"], "g")
        if row.get("inproc_peak_rss_mb") is not None:
            rss = [rss[0] + "/" + _fmt(row["inproc_peak_rss_mb"], ".0f")]
        cells += [requests, *rss]
        if suite.rss_max_column:
            cells.append(_fmt(row["rss_target_mb"], ".0f"))
        table.append([*cells, result])
    widths = [max(len(r[i]) for r in [headers, *table]) for i in range(len(headers))]
    text = {0, 4, 6, len(headers) - 1}  # the other columns are numbers: right-aligned
    for line in [headers, *table]:
        cells = [
            cell.ljust(widths[i]) if i in text else cell.rjust(widths[i])
            for i, cell in enumerate(line)
        ]
        print("  ".join(cells).rstrip())


# -- profiles ------------------------------------------------------------------------------------


def _short(filename: str, snapshot: str) -> str:
    for root in (snapshot, f"{REPO_ROOT}/"):
        if filename.startswith(root):
            return filename[len(root) :]
    marker = "site-packages/"
    if marker in filename:
        return filename.split(marker, 1)[1]
    if "/lib/python" in filename:
        return "stdlib/" + filename.rsplit("/", 1)[1]
    return filename


def top_functions(profile: Path, limit: int, snapshot: str) -> dict[str, Any]:
    """The profile's total and its top functions by cumulative and by own time (file names
    relative to ``snapshot``, the library's temporary folder, or the checkout)."""
    stats = pstats.Stats(str(profile))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total: float = stats.total_tt  # type: ignore[attr-defined]

    def entry(key: Any, value: Any) -> dict[str, Any]:
        filename, line, name = key
        _, ncalls, tottime, cumtime, _ = value
        where = "~" if filename == "~" else f"{_short(filename, snapshot)}:{line}"
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


# -- environment ---------------------------------------------------------------------------------


def versions(env: Mapping[str, str], library: str) -> dict[str, str]:
    """What was measured with what: the library, Python, git, pygit2/libgit2, the machine."""
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
        "libgit2": str(pygit2.LIBGIT2_VERSION),
        "platform": platform.platform(),
        "cpus": str(len(os.sched_getaffinity(0))),
    }


def filesystem(path: Path) -> str:
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
