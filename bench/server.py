"""Benchmark ``kestra-git server``: webhook throughput and latency, and idle CPU.

Run by hand (never in CI), from the repository root::

    python -m bench.server --rate 200 --seconds 10 --json bench/results/server.json

Two cases, each against a real server (``python -m kestra_git_tasks server --port 0``) in a
fresh home under ``--tmp-dir``:

- webhooks: one Log flow with a Webhook trigger (``wait: false``) whose key is the seed's
  ``{{ secret('WEBHOOK_KEY') }}`` (``SECRET_WEBHOOK_KEY`` in the server's environment);
  requests are sent at ``--rate`` per second for ``--seconds`` seconds (open loop) over
  ``--connections`` keep-alive connections, by a lean HTTP/1.1 client (its own cost must not
  show as the server's).
  Reported: requests accepted per second; p50/p95/p99/max of the accept latency (request
  written -> answer read), of the client's send lag (when the request was due -> written), of
  request -> execution start and -> execution end (dates the instance recorded); how many
  accepted executions are missing or not SUCCESS (must be 0); the CPU used meanwhile by the
  server, its workers, the client and the rest of the machine. ``--trace`` adds the server's own
  timing (``KESTRA_GIT_SERVER_TRACE``); ``--pause-workers`` measures with no execution running.
- idle: ``--idle-flows`` flows, each with a Schedule trigger that fires once a year; once
  started and settled, the server's CPU time over ``--idle-seconds`` seconds (from
  ``/proc/<pid>/stat``), as a percentage of one core.

The goals (issue 11): p99 accept under 20 ms at 200 requests/s, zero lost, idle CPU under 1 %.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
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
LOG_FLOW = """
id: bench_log
namespace: bench
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.body }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('WEBHOOK_KEY') }}"
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

    def __init__(self, home: Path, workers: int, trace: Path | None = None) -> None:
        command = [sys.executable, "-m", "kestra_git_tasks", "server", "--port", "0"]
        command += ["--home", str(home), "--workers", str(workers)]
        env = dict(os.environ)
        env["SECRET_WEBHOOK_KEY"] = base64.b64encode(KEY.encode()).decode()  # as the seed's
        if trace is not None:
            env["KESTRA_GIT_SERVER_TRACE"] = str(trace)
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "listening on " not in line:
            raise SystemExit(f"the server did not start: {line!r}")
        self.url = line.strip().split("listening on ", 1)[1]

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.process.pid)

    def workers(self) -> list[int]:
        """The process ids of the server's workers (its children)."""
        found: list[int] = []
        for children in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            found += [int(pid) for pid in children.read_text().split()]
        return found

    def signal_workers(self, number: int) -> None:
        for pid in self.workers():
            os.kill(pid, number)

    def cpu_snapshot(self) -> dict[str, float]:
        """CPU seconds so far: the server, its workers, this client, the whole machine."""
        with open("/proc/stat") as file:
            ticks = [int(v) for v in file.readline().split()[1:]]
        busy = sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)  # minus idle, iowait
        return {
            "server": self.cpu_seconds(),
            "workers": sum(_cpu_seconds(pid) for pid in self.workers()),
            "client": time.process_time(),
            "machine": busy / os.sysconf("SC_CLK_TCK"),
        }

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class _Connection:
    """One keep-alive HTTP/1.1 connection: a lean client, so its own cost stays small."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, host: str, path: str, body: bytes, seq: int) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nX-Bench-Seq: {seq}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return int(lines[0].split()[1]), await self.reader.readexactly(length)


async def _send(url: str, rate: float, seconds: float, connections: int) -> list[dict[str, Any]]:
    """Open loop: request ``n`` is due at ``begin + n / rate``; each records when it was due
    (``due``), when its bytes were written (``sent``) and when its answer was read (``done``),
    all ``time.monotonic()``. ``sent - due`` is the client's own lag (a busy client, or no free
    connection); the accept latency is ``done - sent``."""
    host, _, port = url.removeprefix("http://").rpartition(":")
    free: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(_Connection(*await asyncio.open_connection(host, int(port))))
    path = f"/api/v1/main/executions/webhook/bench/bench_log/{KEY}"
    sent: list[dict[str, Any]] = []

    async def one(number: int, due: float) -> None:
        connection = await free.get()
        began = time.monotonic()
        try:
            status, raw = await connection.post(
                f"{host}:{port}", path, str(number).encode(), number
            )
            body = json.loads(raw)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            status, body = 0, {"error": str(exc)}
        done = time.monotonic()
        free.put_nowait(connection)
        sent.append(
            {
                "seq": number,
                "due": due,
                "sent": began,
                "done": done,
                "status": status,
                "id": body.get("id"),
            }
        )

    tasks = []
    begin = time.monotonic()
    for number in range(int(rate * seconds)):
        due = begin + number / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(number, due)))
    await asyncio.gather(*tasks)
    while not free.empty():
        free.get_nowait().writer.close()
    return sent


def _stats(name: str, values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of ``values`` (seconds) in milliseconds."""
    ms = [value * 1000 for value in values]
    stats = {f"{name}_ms_p{int(f * 100)}": percentile(ms, f) for f in (0.50, 0.95, 0.99)}
    stats[f"{name}_ms_max"] = max(ms, default=float("nan"))
    return stats


def webhook_case(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    home = tmp / "webhooks"
    with LocalInstance(home) as instance:
        instance.put_flow(LOG_FLOW)
    trace = args.trace.resolve() if args.trace else None
    if trace is not None:
        trace.unlink(missing_ok=True)
    server = Server(home, args.workers, trace=trace)
    try:
        if args.pause_workers:
            server.signal_workers(signal.SIGSTOP)
        to_wall = time.time() - time.monotonic()
        started, cpu_before = time.monotonic(), server.cpu_snapshot()
        sent = asyncio.run(_send(server.url, args.rate, args.seconds, args.connections))
        send_s = time.monotonic() - started
        cpu = {k: v - cpu_before[k] for k, v in server.cpu_snapshot().items()}
        ours = cpu["server"] + cpu["workers"] + cpu["client"]
        if args.pause_workers:
            server.signal_workers(signal.SIGCONT)
        accepted = [item for item in sent if item["status"] == 200 and item["id"]]
        records = _wait_all(home, [item["id"] for item in accepted], timeout=args.seconds * 20 + 60)
    finally:
        server.stop()
    to_start, to_end, not_success = [], [], 0
    for item in accepted:
        record = records.get(item["id"])
        if record is None:
            continue
        wall = datetime.fromtimestamp(to_wall + item["sent"], UTC)
        to_start.append((record.start_date - wall).total_seconds())
        if record.end_date is not None:
            to_end.append((record.end_date - wall).total_seconds())
        not_success += record.state != "SUCCESS"
    report: dict[str, Any] = {
        "requests": len(sent),
        "accepted": len(accepted),
        "refused": len(sent) - len(accepted),
        "lost": len(accepted) - len(records),
        "not_success": not_success,
        "accepted_per_s": len(accepted) / send_s,
        **_stats("accept", [item["done"] - item["sent"] for item in sent]),
        **_stats("send_lag", [item["sent"] - item["due"] for item in sent]),
        **_stats("start", to_start),
        **_stats("end", to_end),
        # while sending, in % of one core; "others": the rest of the machine (not this bench)
        "cpu_percent": {k: round(100 * v / send_s, 1) for k, v in cpu.items()}
        | {"others": round(100 * (cpu["machine"] - ours) / send_s, 1)},
    }
    if trace is not None:
        report["trace"] = trace_report(sent, trace)
    return report


def trace_report(sent: list[dict[str, Any]], path: Path) -> dict[str, Any]:
    """Split each accept latency with the server's own stamps (``KESTRA_GIT_SERVER_TRACE``):
    ``to_app`` (client write -> the application is called: loopback, the event loop's delay,
    HTTP parsing), ``app`` (in the application, until the answer is handed to the transport),
    ``from_app`` (-> the client has read it); and the event loop's late wake-ups."""
    spans: dict[str, dict[str, Any]] = {}
    lags: list[float] = []
    lag_cpu: list[float] = []
    lag_runq: list[float] = []
    for line in path.read_text().splitlines():
        item = json.loads(line)
        if "lag" in item:
            lags.append(item["lag"] * 1000)
            lag_cpu.append(item.get("cpu", 0.0) * 1000)
            lag_runq.append(item.get("runq", 0.0) * 1000)
        elif item.get("seq"):
            spans[item["seq"]] = item
    joined = [(item, spans[str(item["seq"])]) for item in sent if str(item["seq"]) in spans]
    joined.sort(key=lambda pair: pair[0]["done"] - pair[0]["sent"])
    return {
        "traced": len(joined),
        "all": _parts(joined),
        "slowest_1pct": _parts(joined[int(len(joined) * 0.99) :]),
        "loop_late_wakeups": len(lags),
        "loop_late_ms_p50": percentile(lags, 0.5),
        "loop_late_ms_max": max(lags, default=0.0),
        "loop_late_ms_total": sum(lags),
        "loop_late_cpu_ms_total": sum(lag_cpu),
        "loop_late_runq_ms_total": sum(lag_runq),
    }


def _parts(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, float]:
    """Medians of the parts of the accept latency of ``pairs`` (client item, server span)."""
    columns = {
        "to_app": [s["in"] - c["sent"] for c, s in pairs],
        "app": [s["out"] - s["in"] for c, s in pairs],
        "app_cpu": [s["cpu"] for c, s in pairs],
        "app_runq": [s["runq"] for c, s in pairs],
        "from_app": [c["done"] - s["out"] for c, s in pairs],
    }
    return {
        f"{name}_ms_p50": percentile([v * 1000 for v in vs], 0.5) for name, vs in columns.items()
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


def _print(values: dict[str, Any], indent: str) -> None:
    for key, value in values.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print(value, indent + "  ")
        elif isinstance(value, float):
            print(f"{indent}{key:<22} {value:,.2f}")
        else:
            print(f"{indent}{key:<22} {value}")


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
    parser.add_argument(
        "--trace", type=Path, default=None, help="server timing file; splits the accept latency"
    )
    parser.add_argument(
        "--pause-workers", action="store_true", help="SIGSTOP the workers while sending"
    )
    parser.add_argument("--no-idle", action="store_true", help="skip the idle CPU case")
    parser.add_argument("--json", type=Path, default=Path("bench/results/server.json"))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the server on the way out
    with tempfile.TemporaryDirectory(dir=args.tmp_dir, prefix="bench-server-") as folder:
        webhooks = webhook_case(Path(folder), args)
        idle = None if args.no_idle else idle_case(Path(folder), args)
    report = {
        "date": datetime.now(UTC).isoformat(),
        "args": vars(args) | {"tmp_dir": str(args.tmp_dir), "json": str(args.json)},
        "webhooks": webhooks,
        "idle": idle,
    }
    print(f"webhooks at {args.rate:g}/s for {args.seconds:g} s ({args.workers} workers):")
    _print(webhooks, "  ")
    if idle is not None:
        print(
            f"idle: {idle['flows']} scheduled flows, {idle['cpu_percent']:.2f} % CPU "
            f"over {idle['seconds']:.0f} s"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"report: {args.json}")


if __name__ == "__main__":
    main()
