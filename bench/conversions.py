"""Conversions sender: 10,000 ledger events through a real `connector worker` into the OpenAI double.

Prints HTTP requests made for 10,000 events (target: at most 11), events/s, and the requests needed to
isolate one bad event in a batch of 1,000 (target: at most 20).
Usage: python bench/conversions.py [--database-url postgresql://...] [--redis-url redis://...] [--events N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from connector.config import load_settings  # noqa: E402
from connector.context import Context  # noqa: E402
from connector.conversions.ledger import insert_conversion  # noqa: E402
from connector.events.hashing import hash_email  # noqa: E402
from connector.jobs.conversions import enqueue_conversions_send  # noqa: E402
from connector.store.migrate import upgrade  # noqa: E402
from connector.store.models import Conversion, ConversionStatus  # noqa: E402
from tests.doubles.openai_double import OpenAIDouble  # noqa: E402

API_KEY = "bench-conversions-key"
MAIN_PIXEL = "px_bench_main"
BAD_PIXEL = "px_bench_bisect"


def event_payload(event_id: str, now_ms: int, n: int, scalar: bool = False) -> dict:
    user = (
        {"email_sha256": hash_email(f"lead{n}@example.com")}
        if scalar
        else {"emails_sha256": [hash_email(f"lead{n}@example.com")]}
    )
    return {
        "id": event_id,
        "type": "lead_created",
        "timestamp_ms": now_ms - 60_000,
        "action_source": "web",
        "source_url": "https://example.com/demo",
        "oppref": "b3BwcmVmLWV4YW1wbGU=",
        "user": user,
        "data": {"type": "customer_action"},
    }


def insert_events(ctx: Context, pixel_id: str, count: int, bad_index: int | None = None) -> None:
    """Waiting conversions, as the pipeline records them (same ledger API, same unique key)."""
    now_ms = int(time.time() * 1000)
    run = uuid.uuid4().hex[:6]
    with ctx.sessions.begin() as session:
        for n in range(count):
            event_id = f"bench-{run}-{n}"
            insert_conversion(
                session,
                {
                    "pixel_id": pixel_id,
                    "event_type": "lead_created",
                    "custom_event_name": "",
                    "event_id": event_id,
                    "timestamp_ms": now_ms - 60_000,
                    "status": ConversionStatus.PENDING,
                    "payload": event_payload(event_id, now_ms, n, scalar=n == bad_index),
                },
            )


def waiting(ctx: Context, pixel_id: str) -> int:
    with ctx.sessions() as session:
        return session.scalar(
            select(func.count())
            .select_from(Conversion)
            .where(
                Conversion.pixel_id == pixel_id,
                Conversion.status.in_((ConversionStatus.PENDING, ConversionStatus.SENDING)),
            )
        )


def count_status(ctx: Context, pixel_id: str, status: str) -> int:
    with ctx.sessions() as session:
        return session.scalar(
            select(func.count())
            .select_from(Conversion)
            .where(Conversion.pixel_id == pixel_id, Conversion.status == status)
        )


def drain(ctx: Context, double: OpenAIDouble, pixel_id: str, timeout: float = 100) -> tuple[float, int]:
    """Kick the pixel's sender and wait until nothing waits; (seconds, requests made for this pixel)."""
    before = sum(1 for entry in double.log if entry.get("pid") == pixel_id)
    started = time.perf_counter()
    enqueue_conversions_send(ctx, pixel_id, delay=0)
    deadline = time.monotonic() + timeout
    while waiting(ctx, pixel_id):
        if time.monotonic() > deadline:
            raise SystemExit(f"pixel {pixel_id}: still {waiting(ctx, pixel_id)} waiting after {timeout}s")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    return elapsed, sum(1 for entry in double.log if entry.get("pid") == pixel_id) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary data dir")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", ""), help="default: $REDIS_URL or embedded"
    )
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="connector-bench-conv-"))
    double = OpenAIDouble(api_key=API_KEY, user_format="list").start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(
        CONNECTOR_DATA_DIR=str(data_dir),
        CONNECTOR_LOG_LEVEL="WARNING",
        CONNECTOR_JOBS__QUEUE=f"bench-{uuid.uuid4().hex[:6]}",
        CONNECTOR_CONVERSIONS__ENABLED="true",
        CONNECTOR_CONVERSIONS__ENDPOINT=double.url,
        CONNECTOR_CONVERSIONS__PIXELS__MAIN__PIXEL_ID=MAIN_PIXEL,
        CONNECTOR_CONVERSIONS__PIXELS__BISECT__PIXEL_ID=BAD_PIXEL,
        CONNECTOR_CONVERSIONS__PIXELS__BISECT__SOURCES='["bench/bisect"]',
        OPENAI_CONVERSIONS_API_KEY=API_KEY,
        PYTHONPATH=str(ROOT),
    )
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    settings = load_settings(environ=env)
    ctx = Context(settings)
    upgrade(ctx.engine)
    database = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite (synchronous=FULL)"
    print(
        f"cores: {os.cpu_count()}  database: {database}  redis: {'external' if args.redis_url else 'embedded'}"
    )
    worker = None
    try:
        t0 = time.perf_counter()
        insert_events(ctx, MAIN_PIXEL, args.events)
        insert_events(ctx, BAD_PIXEL, 1000, bad_index=613)
        print(
            f"ledger: {args.events:,} + 1,000 waiting conversions inserted in {time.perf_counter() - t0:.1f}s"
        )
        worker = subprocess.Popen([sys.executable, "-m", "connector", "worker"], cwd=ROOT, env=env)
        time.sleep(1.5)  # the worker process imports, migrates (nothing to do) and starts listening

        elapsed, requests = drain(ctx, double, MAIN_PIXEL)
        sent = count_status(ctx, MAIN_PIXEL, ConversionStatus.SENT)
        accepted = sum(1 for key in double.accepted if key[0] == MAIN_PIXEL)
        print(
            f"\n{args.events:,} events: {requests} HTTP requests (target <= 11), {elapsed:.1f}s, "
            f"{sent / elapsed:,.0f} events/s"
        )
        print(f"  ledger sent: {sent:,}  unique events accepted by the double: {accepted:,}")

        _, bisect_requests = drain(ctx, double, BAD_PIXEL)
        failed = count_status(ctx, BAD_PIXEL, ConversionStatus.FAILED)
        good = count_status(ctx, BAD_PIXEL, ConversionStatus.SENT)
        print(
            f"1 bad event in a batch of 1,000: {bisect_requests} requests to isolate it (target <= 20); "
            f"failed {failed}, sent {good}"
        )
        ok = requests <= 11 and bisect_requests <= 20 and sent == args.events == accepted and failed == 1
        print(f"targets: {'met' if ok else 'NOT met'}")
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        ctx.close()
        double.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
