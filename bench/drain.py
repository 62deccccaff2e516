"""Worker drain rate after a burst: receipts processed per second by 1, 2 and 4 `connector worker` processes.

For each worker count: a fresh PostgreSQL database (or SQLite file), N webhooks stored through the real intake (the Flask
app in this process, several client threads, so group commits queue their batch jobs as in production)
while no worker runs, then the workers are started and the ledger is watched until every receipt is
processed. No CRM and no conversions are configured. Prints receipts/s (first to last processed) and the
scale-out ratio against one worker.
Usage: python bench/drain.py [--database-url postgresql://...|sqlite] [--redis-url redis://...] [--receipts 5000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench.outage import psql  # noqa: E402
from connector.config import load_settings  # noqa: E402
from connector.store.migrate import upgrade  # noqa: E402
from connector.store.models import Receipt, ReceiptStatus  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"
URL = "/webhooks/forms/generic"


def body(run: str, n: int) -> dict[str, str]:
    return {
        "email": f"lead{n}-{run}@example.com",
        "first_name": "Bench",
        "event_id": f"drain-{run}-{n}",
        "first_utm_source": "chatgpt.com",
        "first_utm_medium": "referral",
        "latest_utm_source": "chatgpt",
        "latest_utm_medium": "paid_ai",
        "oppref": "b3BwcmVmLWV4YW1wbGU=",
        "consent": "granted",
    }


def prefill(app, count: int, threads: int = 8) -> float:  # type: ignore[no-untyped-def]
    """Post `count` webhooks through the intake; returns the seconds it took."""
    run = uuid.uuid4().hex[:6]

    def post(numbers: range) -> None:
        client = app.test_client()
        for n in numbers:
            answer = client.post(URL, json=body(run, n), headers={"X-Connector-Token": TOKEN})
            assert answer.status_code == 200, answer.get_data(as_text=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, [range(i, count, threads) for i in range(threads)]))
    return time.perf_counter() - started


def processed(ctx) -> tuple[int, object, object]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return session.execute(
            select(func.count(), func.min(Receipt.processed_at), func.max(Receipt.processed_at)).where(
                Receipt.status == ReceiptStatus.PROCESSED
            )
        ).one()


def cpu_seconds(procs: list[subprocess.Popen], profiled: str) -> float:
    """CPU time the worker processes (and their RQ scheduler children) have used so far."""
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(proc.pid)
            for p in root.children(recursive=True) if profiled else [root, *root.children(recursive=True)]:
                times = p.cpu_times()
                total += times.user + times.system
    return total


def drain_once(workers: int, args: argparse.Namespace, base_env: dict[str, str], tmp: Path) -> dict:
    from connector.app import create_app

    database = f"{args.database_prefix}_{uuid.uuid4().hex[:8]}"
    sqlite = args.database_url.startswith("sqlite")
    if sqlite:
        database_url = f"sqlite:///{tmp / database}.db"
    else:
        psql(args.database_url, f"CREATE DATABASE {database}")
        database_url = urlunsplit(urlsplit(args.database_url)._replace(path=f"/{database}"))
    env = {
        **base_env,
        "DATABASE_URL": database_url,
        "CONNECTOR_JOBS__QUEUE": f"bench-drain-{uuid.uuid4().hex[:8]}",
        "CONNECTOR_DATA_DIR": str(tmp / f"data-{workers}"),
    }
    settings = load_settings(environ=env)
    app = create_app(settings)
    ctx = app.extensions["connector"]
    procs: list[subprocess.Popen] = []
    log = open(tmp / f"workers-{workers}.log", "wb")  # noqa: SIM115 - the workers write to it until stopped
    try:
        upgrade(ctx.engine)
        intake_s = prefill(app, args.receipts)
        started = time.perf_counter()
        command = [sys.executable, "-m", "connector", "worker"]
        procs = [
            subprocess.Popen(
                _profiled(command, args.profile, f"worker-{workers}-{n}") if args.profile else command,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=args.worker_tree or ROOT,
                env={**env, "PYTHONPATH": args.worker_tree} if args.worker_tree else env,
            )
            for n in range(workers)
        ]
        deadline = time.monotonic() + args.timeout
        cpu_at_start = None
        while (done := processed(ctx))[0] < args.receipts:
            if cpu_at_start is None and done[0]:
                cpu_at_start = cpu_seconds(procs, args.profile), done[0]
            if time.monotonic() > deadline:
                raise SystemExit(f"{workers} worker(s): {done[0]} of {args.receipts} processed in time")
            if any(p.poll() is not None for p in procs):
                log.flush()
                tail = (tmp / f"workers-{workers}.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"a worker exited:\n{tail}")
            time.sleep(0.1)
        wall = time.perf_counter() - started
        count, first, last = done
        cpu, counted = cpu_at_start or (0.0, 0)
        cpu_ms = (cpu_seconds(procs, args.profile) - cpu) / max(1, count - counted) * 1000
        span = (last - first).total_seconds()
        return {
            "workers": workers,
            "intake/s": args.receipts / intake_s,
            "receipts/s": (count - 1) / span if span > 0 else float("inf"),
            "wall s": wall,
            "cpu ms": cpu_ms,
        }
    finally:
        for proc in procs:  # under py-spy: stop the worker, and py-spy writes its profile
            targets = psutil.Process(proc.pid).children() if args.profile else [proc]
            for target in targets:
                target.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
        log.close()
        ctx.queue.empty()
        ctx.close()
        if not sqlite:
            psql(args.database_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def _profiled(command: list[str], directory: str, name: str) -> list[str]:
    """The command under py-spy (pip install py-spy), writing collapsed stacks per worker."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    out = str(Path(directory) / f"{name}.txt")
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    return [py_spy, "record", "--rate", "200", "--format", "raw", "-o", out, "--", *command]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server where this script may create and drop databases, or 'sqlite' (a file)",
    )
    parser.add_argument(
        "--database-prefix", default="connector_drain", help="name prefix of the databases this run creates"
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""), help="default: $REDIS_URL")
    parser.add_argument("--receipts", type=int, default=5000)
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure, comma-separated")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--worker-tree",
        default="",
        help="run the workers from this source tree (an A/B against another commit)",
    )
    parser.add_argument(
        "--profile", default="", help="run each worker under py-spy; collapsed stacks go here"
    )
    args = parser.parse_args()
    if not args.redis_url:
        raise SystemExit("set REDIS_URL (or --redis-url): the workers and this script share one Redis")
    signal.signal(
        signal.SIGTERM, lambda *_: sys.exit(143)
    )  # stopped: still stop the workers, drop the database
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    base_env.update(
        {
            "REDIS_URL": args.redis_url,
            "CONNECTOR_GENERIC_SECRET": TOKEN,
            "CONNECTOR_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    os.environ["CONNECTOR_GENERIC_SECRET"] = TOKEN
    tmp = Path(tempfile.mkdtemp(prefix="connector-drain-"))
    database = "SQLite" if args.database_url.startswith("sqlite") else "PostgreSQL"
    print(f"cores: {os.cpu_count()}  receipts per run: {args.receipts}  no CRM, no conversions  {database}\n")
    results = []
    try:
        for workers in (int(n) for n in args.workers.split(",")):
            result = drain_once(workers, args, base_env, tmp)
            results.append(result)
            print(
                f"{workers} worker(s): {result['receipts/s']:7.0f} receipts/s  "
                f"worker CPU {result['cpu ms']:.2f} ms/receipt  "
                f"(wall {result['wall s']:.1f} s with start-up; intake prefill {result['intake/s']:.0f}/s)",
                flush=True,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    one = next((r for r in results if r["workers"] == 1), None)
    if one:
        for result in results:
            if result["workers"] != 1:
                print(
                    f"scale-out {result['workers']} workers / 1: {result['receipts/s'] / one['receipts/s']:.2f}"
                )
        print(f"target (one worker >= 200 receipts/s): {'met' if one['receipts/s'] >= 200 else 'NOT met'}")


if __name__ == "__main__":
    main()
