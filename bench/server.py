"""Benchmark ``kestra-git server``: webhook throughput and latency, and idle CPU.

Run by hand (never in CI), from the repository root::

    python -m bench.server --rate 200 --seconds 10 --json bench/results/server.json

Two cases, each against a real server (``python -m kestra_git_tasks server --port 0``) in a
fresh home under ``--tmp-dir``:

- webhooks: one Log flow with a Webhook trigger (``wait: false``); requests are sent at
  ``--rate`` per second for ``--seconds`` seconds over ``--connections`` keep-alive connections.
  Reported: requests accepted per second, p50/p99 of the accept latency (request sent -> 200
  received), of request -> execution start and of request -> execution end (dates the instance
  recorded), and how many accepted executions are missing or not SUCCESS (must be 0).
- idle: ``--idle-flows`` flows, each with a Schedule trigger that fires once a year; once
  started and settled, the server's CPU time over ``--idle-seconds`` seconds (from
  ``/proc/<pid>/stat``), as a percentage of one core.

The goals (issue 11): p99 accept under 20 ms at 200 requests/s, zero lost, idle CPU under 1 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from kestra_git_tasks.instance.local import LocalInstance

KEY = "bench-webhook-key-0001"
LOG_FLOW = f"""
id: bench_log
namespace: bench
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.body }}}}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: {KEY}
"""
ENDED = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"}


def scheduled_flow(index: int) -> str:
    return (
        f"id: idle_{index}\nnamespace: bench.idle\ntasks:\n  - id: log\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: never\ntriggers:\n"
        f"  - id: yearly\n    type: io.kestra.plugin.core.trigger.Schedule\n"
        f'    cron: "{index % 60} {index % 24} 1 1 *"\n'
    )


class Server:
    """A ``kestra-git server`` subprocess on a free port."""

    def __init__(self, home: Path, workers: int) -> None:
        command = [sys.executable, "-m", "kestra_git_tasks", "server", "--port", "0"]
        command += ["--home", str(home), "--workers", str(workers)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "listening on " not in line:
            raise SystemExit(f"the server did not start: {line!r}")
        self.url = line.strip().split("listening on ", 1)[1]

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.process.pid}/stat") as file:
            fields = file.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _send(url: str, rate: float, seconds: float, connections: int) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    sent: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def one(number: int) -> None:
            wall = datetime.now(UTC)
            start = time.perf_counter()
            try:
                response = await client.post(
                    f"/api/v1/main/executions/webhook/bench/bench_log/{KEY}", content=str(number)
                )
                status, body = response.status_code, response.json()
            except (httpx.HTTPError, ValueError) as exc:
                status, body = 0, {"error": str(exc)}
            sent.append(
                {
                    "wall": wall,
                    "accept_s": time.perf_counter() - start,
                    "status": status,
                    "id": body.get("id"),
                }
            )

        tasks = []
        begin = time.perf_counter()
        total = int(rate * seconds)
        for number in range(total):
            delay = begin + number / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(number)))
        await asyncio.gather(*tasks)
    return sent


def webhook_case(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    home = tmp / "webhooks"
    with LocalInstance(home) as instance:
        instance.put_flow(LOG_FLOW)
    server = Server(home, args.workers)
    try:
        started = time.perf_counter()
        sent = asyncio.run(_send(server.url, args.rate, args.seconds, args.connections))
        send_s = time.perf_counter() - started
        accepted = [item for item in sent if item["status"] == 200 and item["id"]]
        records = _wait_all(home, [item["id"] for item in accepted], timeout=args.seconds * 20 + 60)
    finally:
        server.stop()
    to_start, to_end, not_success = [], [], 0
    for item in accepted:
        record = records.get(item["id"])
        if record is None:
            continue
        to_start.append((record.start_date - item["wall"]).total_seconds())
        if record.end_date is not None:
            to_end.append((record.end_date - item["wall"]).total_seconds())
        not_success += record.state != "SUCCESS"
    accept_ms = [item["accept_s"] * 1000 for item in sent]
    return {
        "requests": len(sent),
        "accepted": len(accepted),
        "refused": len(sent) - len(accepted),
        "lost": len(accepted) - len(records),
        "not_success": not_success,
        "accepted_per_s": len(accepted) / send_s,
        "accept_ms_p50": percentile(accept_ms, 0.50),
        "accept_ms_p99": percentile(accept_ms, 0.99),
        "start_ms_p50": percentile([v * 1000 for v in to_start], 0.50),
        "start_ms_p99": percentile([v * 1000 for v in to_start], 0.99),
        "end_ms_p50": percentile([v * 1000 for v in to_end], 0.50),
        "end_ms_p99": percentile([v * 1000 for v in to_end], 0.99),
    }


def _wait_all(home: Path, ids: list[str], timeout: float) -> dict[str, Any]:
    wanted = set(ids)
    deadline = time.monotonic() + timeout
    with LocalInstance(home) as instance:
        while True:
            rows = instance.list_executions("bench", "bench_log", limit=len(wanted) + 100)
            found = {r.id: r for r in rows if r.id in wanted and r.state in ENDED}
            if len(found) == len(wanted) or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


def idle_case(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    home = tmp / "idle"
    with LocalInstance(home) as instance, instance.batch():
        for index in range(args.idle_flows):
            instance.put_flow(scheduled_flow(index))
    server = Server(home, args.workers)
    try:
        time.sleep(args.settle)
        before, wall = server.cpu_seconds(), time.perf_counter()
        time.sleep(args.idle_seconds)
        used = server.cpu_seconds() - before
        elapsed = time.perf_counter() - wall
        with httpx.Client(base_url=server.url) as client:
            served = client.get("/health").json()["flows"]
    finally:
        server.stop()
    return {"flows": served, "seconds": elapsed, "cpu_s": used, "cpu_percent": 100 * used / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=200.0, help="webhook requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to send")
    parser.add_argument("--connections", type=int, default=16, help="client connections")
    parser.add_argument("--workers", type=int, default=2, help="the server's --workers")
    parser.add_argument("--idle-flows", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before measuring idle")
    parser.add_argument("--tmp-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=Path("bench/results/server.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.tmp_dir, prefix="bench-server-") as folder:
        webhooks = webhook_case(Path(folder), args)
        idle = idle_case(Path(folder), args)
    report = {
        "date": datetime.now(UTC).isoformat(),
        "args": vars(args) | {"tmp_dir": str(args.tmp_dir), "json": str(args.json)},
        "webhooks": webhooks,
        "idle": idle,
    }
    print(f"webhooks at {args.rate:g}/s for {args.seconds:g} s ({args.workers} workers):")
    for key, value in webhooks.items():
        print(f"  {key:<16} {value:,.2f}" if isinstance(value, float) else f"  {key:<16} {value}")
    print(
        f"idle: {idle['flows']} scheduled flows, {idle['cpu_percent']:.2f} % CPU "
        f"over {idle['seconds']:.0f} s"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"report: {args.json}")


if __name__ == "__main__":
    main()
