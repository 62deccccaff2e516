"""Flat at 1,000,000 rows: intake, the conversions sender, `events show` and /metrics on a small ledger
and a large one (prefilled in bulk by bench/scale_prefill.py, with the Conversions API requests that
carried the conversions), measured interleaved, as large/small ratios.

Each ratio is a cost ratio (time per unit on the large ledger over the small one; 1.0: no slower), the
median of the per-round ratios. Goal: <= 1.1 for each.
Usage: python bench/scale.py [--database-url postgresql://...] [--redis-url redis://...] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, make_url, select, text  # noqa: E402

from bench.conversions import API_KEY, MAIN_PIXEL, insert_events  # noqa: E402
from bench.intake import TOKEN, free_port, request_factory, wait_up  # noqa: E402
from bench.loadgen import run_load  # noqa: E402
from bench.scale_prefill import event_id, prefill, requests  # noqa: E402
from connector.config import load_settings  # noqa: E402
from connector.context import Context  # noqa: E402
from connector.jobs.conversions import enqueue_conversions_send  # noqa: E402
from connector.store.migrate import upgrade  # noqa: E402
from connector.store.models import Conversion, ConversionStatus  # noqa: E402
from connector.story import event_story  # noqa: E402
from tests.doubles.openai_double import OpenAIDouble  # noqa: E402

WAITING = (ConversionStatus.PENDING, ConversionStatus.SENDING)


@dataclass
class Ledger:
    """One ledger under test: its database, its web server, its conversions worker, its samples."""

    name: str
    rows: int
    env: dict[str, str]
    ctx: Context
    port: int = 0
    procs: list[subprocess.Popen] = field(default_factory=list)
    samples: dict[str, list[float]] = field(default_factory=dict)

    def sample(self, measure: str, value: float) -> None:
        self.samples.setdefault(measure, []).append(value)


def base_env(data_dir: Path, database_url: str, redis_url: str, double_url: str, run: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(
        CONNECTOR_DATA_DIR=str(data_dir),
        CONNECTOR_GENERIC_SECRET=TOKEN,
        CONNECTOR_LOG_LEVEL="WARNING",
        CONNECTOR_JOBS__QUEUE=f"scale-send-{run}",
        CONNECTOR_JOBS__SWEEP_INTERVAL_SECONDS="0",  # the prefill's history is settled; nothing to sweep
        CONNECTOR_CONVERSIONS__ENABLED="true",
        CONNECTOR_CONVERSIONS__ENDPOINT=double_url,
        CONNECTOR_CONVERSIONS__PIXELS__MAIN__PIXEL_ID=MAIN_PIXEL,
        OPENAI_CONVERSIONS_API_KEY=API_KEY,
        PYTHONPATH=str(ROOT),
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def create_database(server_url: str, name: str) -> str:
    url = make_url(server_url).set(drivername="postgresql+psycopg")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    admin = create_engine(
        make_url(server_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def start(ledger: Ledger, processes: int) -> None:
    """`connector serve` (intake on a queue no worker reads) and `connector worker` (the sender)."""
    ledger.port = free_port()
    serve_env = {**ledger.env, "CONNECTOR_JOBS__QUEUE": ledger.env["CONNECTOR_JOBS__QUEUE"] + "-intake"}
    command = [sys.executable, "-m", "connector"]
    serve = [*command, "serve", "--port", str(ledger.port), "--processes", str(processes)]
    ledger.procs.append(subprocess.Popen(serve, cwd=ROOT, env=serve_env))
    ledger.procs.append(subprocess.Popen([*command, "worker"], cwd=ROOT, env=ledger.env))
    wait_up(ledger.port)


def measure_intake(ledger: Ledger, seconds: float, connections: int) -> None:
    result = run_load("127.0.0.1", ledger.port, request_factory(ledger.port), connections, seconds)
    ledger.sample("intake accepted/s", result.ok / result.elapsed)


def measure_sender(ledger: Ledger, events: int, timeout: float = 120) -> None:
    """Waiting conversions for the main pixel, one kick, until none of them waits: events/s."""
    ctx = ledger.ctx
    with ctx.sessions() as session:
        first = (session.scalar(select(func.max(Conversion.id))) or 0) + 1
    insert_events(ctx, MAIN_PIXEL, events)
    started = time.perf_counter()
    enqueue_conversions_send(ctx, MAIN_PIXEL, delay=0)
    deadline = time.monotonic() + timeout
    while True:
        with ctx.sessions() as session:
            left = session.scalar(
                select(func.count()).where(Conversion.id >= first, Conversion.status.in_(WAITING))
            )
        if not left:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"{ledger.name}: {left} conversions still waiting after {timeout}s")
        time.sleep(0.02)
    ledger.sample("sender events/s", events / (time.perf_counter() - started))


def measure_events_show(ledger: Ledger) -> None:
    """The CLI as a user runs it (process start included), and the story's queries alone."""
    key = event_id(ledger.rows // 2)
    started = time.perf_counter()
    shown = subprocess.run(
        [sys.executable, "-m", "connector", "events", "show", key],
        cwd=ROOT,
        env=ledger.env,
        capture_output=True,
        text=True,
        check=True,
    )
    ledger.sample("events show s", time.perf_counter() - started)
    if key not in shown.stdout:
        raise SystemExit(f"{ledger.name}: events show {key} did not tell its story:\n{shown.stdout}")
    with ledger.ctx.sessions() as session:
        started = time.perf_counter()
        event_story(session, key)
        ledger.sample("story queries ms", (time.perf_counter() - started) * 1000)


def measure_metrics(ledger: Ledger, scrapes: int = 20) -> None:
    times = []
    with httpx.Client(timeout=30) as client:
        for _ in range(scrapes):
            started = time.perf_counter()
            client.get(f"http://127.0.0.1:{ledger.port}/metrics").raise_for_status()
            times.append(time.perf_counter() - started)
    ledger.sample("metrics scrape ms", statistics.median(times) * 1000)


RATES = ("intake accepted/s", "sender events/s")


def report(small: Ledger, large: Ledger) -> bool:
    """Median of the per-round cost ratios (large/small time per unit); True when each is <= 1.1."""
    print(f"\n{'measure':<20} {'small':>10} {'large':>10} {'cost ratio':>11}  per round")
    met = True
    for measure, values in small.samples.items():
        pairs = list(zip(values, large.samples[measure], strict=True))
        ratios = [(s / g if measure in RATES else g / s) for s, g in pairs]
        ratio = statistics.median(ratios)
        met &= ratio <= 1.1
        print(
            f"{measure:<20} {statistics.median(values):10.2f} "
            f"{statistics.median(large.samples[measure]):10.2f} {ratio:11.2f}  "
            + " ".join(f"{r:.2f}" for r in ratios)
        )
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (two databases are made)")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", ""), help="default: $REDIS_URL or embedded"
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="receipts, submissions, conversions")
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3, help="intake load per round")
    parser.add_argument("--events", type=int, default=3000, help="conversions sent per round")
    parser.add_argument("--processes", type=int, default=2, help="gunicorn processes")
    parser.add_argument(
        "--database-prefix", default="connector_scale", help="name prefix of the databases this run creates"
    )
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix="connector-bench-scale-"))
    double = OpenAIDouble(api_key=API_KEY, user_format="list").start()
    databases: list[str] = []
    ledgers: list[Ledger] = []
    database = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite (synchronous=FULL)"
    print(f"cores: {os.cpu_count()}  database: {database}  rows: {args.rows:,} vs {args.small:,}")
    try:
        for name, rows in (("small", args.small), ("large", args.rows)):
            url = ""
            if args.database_url:
                databases.append(f"{args.database_prefix}_{name}_{run}")
                url = create_database(args.database_url, databases[-1])
            env = base_env(tmp / name, url, args.redis_url, double.url, f"{run}-{name}")
            ctx = Context(load_settings(environ=env))
            upgrade(ctx.engine)
            started = time.perf_counter()
            prefill(ctx.engine, rows)
            print(
                f"{name}: {rows:,} receipts, submissions and conversions, {requests(rows):,} requests"
                f" in {time.perf_counter() - started:.0f}s"
            )
            ledgers.append(Ledger(name, rows, env, ctx))
        for ledger in ledgers:
            start(ledger, args.processes)
        time.sleep(2)  # the workers import and start listening
        for ledger in ledgers:  # warm-up: imports, pools, the OS page cache for the indexes read
            run_load("127.0.0.1", ledger.port, request_factory(ledger.port), 4, 1.0)
            measure_sender(ledger, 200)
            measure_events_show(ledger)
            measure_metrics(ledger, 2)
            ledger.samples.clear()
        for n in range(args.rounds):
            order = ledgers if n % 2 == 0 else ledgers[::-1]  # A B, B A: drift hits both alike
            for ledger in order:
                measure_intake(ledger, args.seconds, 16)
            for ledger in order:
                measure_sender(ledger, args.events)
            for ledger in order:
                measure_events_show(ledger)
            for ledger in order:
                measure_metrics(ledger)
        met = report(*ledgers)
        print(f"goal (<= 1.1 each): {'met' if met else 'NOT met'}")
    finally:
        for ledger in ledgers:
            for proc in ledger.procs:
                proc.send_signal(signal.SIGTERM)
            for proc in ledger.procs:
                proc.wait(timeout=30)
            intake = load_settings(
                environ={
                    **ledger.env,
                    "CONNECTOR_JOBS__QUEUE": ledger.env["CONNECTOR_JOBS__QUEUE"] + "-intake",
                }
            )
            intake_ctx = Context(intake)
            intake_ctx.queue.empty()
            intake_ctx.close()
            ledger.ctx.queue.empty()
            ledger.ctx.close()
        for name in databases:
            drop_database(args.database_url, name)
        double.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
