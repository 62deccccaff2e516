"""CRM API calls per 1,000 submissions and submission -> CRM latency, against the loopback doubles.

For each CRM: a real `connector worker` process; one warm-up submission (sign-in, describe); a burst of
1,000 webhooks from 1,000 new people, then the same 1,000 people again (repeat visitors, whose first touch
must be read before it is kept); then single submissions on an idle system, one at a time (p50/p95).
Usage: python bench/crm_calls.py [--database-url postgresql://...] [--redis-url redis://...] [--singles 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from connector.config import load_settings  # noqa: E402
from connector.store.migrate import upgrade  # noqa: E402
from connector.store.models import CrmWrite  # noqa: E402
from tests.doubles.hubspot_double import HubSpotDouble  # noqa: E402
from tests.doubles.salesforce_double import SalesforceDouble  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"
URL = "/webhooks/forms/generic"


def start_double(crm: str):  # type: ignore[no-untyped-def]
    """The double with every field the example mappings write, as `connector crm setup` leaves it."""
    from connector.mapping import load_mappings

    mappings = load_mappings(ROOT / "mappings")
    if crm == "hubspot":
        double = HubSpotDouble().start()
        for target in mappings.get("hubspot", "contacts").targets():
            if target not in double.properties["contacts"]:
                double.add_property("contacts", target)
        env = {
            "CONNECTOR_CRM__HUBSPOT__HOST": double.url,
            "CONNECTOR_CRM__HUBSPOT__TOKEN_ENV": "BENCH_HUBSPOT_TOKEN",
            "BENCH_HUBSPOT_TOKEN": double.token,
        }
        return double, env
    double = SalesforceDouble().start()
    for obj in ("Lead", "Contact"):
        for rule in mappings.get("salesforce", obj).all_rules():
            if rule.target not in double.fields[obj]:
                is_time = any(t.name == "iso_datetime" for t in rule.transforms)
                double.add_field(obj, rule.target, "datetime" if is_time else "string", 0 if is_time else 255)
    env = {
        "CONNECTOR_CRM__SALESFORCE__LOGIN_URL": double.url,
        "CONNECTOR_CRM__SALESFORCE__CA_FILE": double.ca_file,
        "CONNECTOR_CRM__SALESFORCE__CLIENT_ID_ENV": "BENCH_SF_ID",
        "CONNECTOR_CRM__SALESFORCE__CLIENT_SECRET_ENV": "BENCH_SF_SECRET",
        "BENCH_SF_ID": double.client_id,
        "BENCH_SF_SECRET": double.client_secret,
    }
    return double, env


def body(run: str, n: int, visit: str) -> dict[str, str]:
    return {
        "email": f"lead{n}-{run}@example.com",
        "first_name": "Bench",
        "last_name": f"Lead{n}",
        "company": "Acme",
        "event_id": f"{run}-{visit}-{n}",
        "first_utm_source": "chatgpt.com",
        "first_utm_medium": "referral",
        "latest_utm_source": visit,
        "oppref": f"opp-{n}",
    }


def post_burst(app, bodies: list[dict[str, str]], threads: int = 4) -> None:  # type: ignore[no-untyped-def]
    """Post the webhooks from several client threads, so they arrive faster than one worker drains them."""

    def post(chunk: list[dict[str, str]]) -> None:
        client = app.test_client()
        for item in chunk:
            assert client.post(URL, json=item, headers={"X-Connector-Token": TOKEN}).status_code == 200

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, [bodies[i::threads] for i in range(threads)]))


def written(ctx) -> int:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return session.scalar(
            select(func.count()).select_from(CrmWrite).where(CrmWrite.status.in_(("written", "failed")))
        )


def wait_written(ctx, count: int, timeout: float) -> float:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if written(ctx) >= count:
            return time.monotonic()
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {count} CRM writes ({written(ctx)} done)")


def bench_crm(crm: str, args: argparse.Namespace, base_env: dict[str, str], tmp: Path) -> dict[str, object]:
    from connector.app import create_app

    double, crm_env = start_double(crm)
    env = {
        **base_env,
        **crm_env,
        "CONNECTOR_CRM__PROVIDER": crm,
        "CONNECTOR_CRM__MAPPINGS_PATH": str(ROOT / "mappings"),
        "CONNECTOR_JOBS__QUEUE": f"bench-crm-{uuid.uuid4().hex[:8]}",
        "CONNECTOR_DATA_DIR": str(tmp / crm),
    }
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    settings = load_settings(environ=env)
    app = create_app(settings)
    ctx = app.extensions["connector"]
    upgrade(ctx.engine)
    client = app.test_client()
    auth = {"X-Connector-Token": TOKEN}
    run = uuid.uuid4().hex[:6]
    log = open(tmp / f"worker-{crm}.log", "wb")  # noqa: SIM115 - the worker writes to it until stopped
    worker = subprocess.Popen(
        [sys.executable, "-m", "connector", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
    )
    try:
        base = written(ctx)
        client.post(URL, json={**body(run, -1, "warmup")}, headers=auth)
        wait_written(ctx, base + 1, 60)
        warmup_calls = double.calls["total"]
        results: dict[str, object] = {"warm-up calls": warmup_calls}
        for visit in ("new", "repeat"):
            before = double.calls["total"]
            started = time.monotonic()
            post_burst(app, [body(run, n, visit) for n in range(1000)])
            posted = time.monotonic()
            done = wait_written(ctx, base + 1 + (1000 if visit == "new" else 2000), 300)
            results[f"{visit}: calls"] = double.calls["total"] - before
            results[f"{visit}: wall s"] = round(done - started, 1)
            results[f"{visit}: intake s"] = round(posted - started, 1)
        latencies = []
        count = written(ctx)
        for n in range(args.singles):
            time.sleep(0.3)  # idle: nothing queued, nothing pending
            started = time.monotonic()
            client.post(URL, json=body(run, 5000 + n, "single"), headers=auth)
            count += 1
            latencies.append(wait_written(ctx, count, 30) - started)
        latencies.sort()
        results["single p50 s"] = round(statistics.median(latencies), 2)
        results["single p95 s"] = round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 2)
        results["calls by endpoint"] = {k: v for k, v in double.calls.items() if k != "total"}
        with ctx.sessions() as session:
            failed = session.scalar(
                select(func.count()).select_from(CrmWrite).where(CrmWrite.status == "failed")
            )
        results["failed writes"] = failed
        return results
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
        ctx.queue.empty()
        ctx.close()
        double.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""), help="default: $REDIS_URL")
    parser.add_argument("--log-dir", default="", help="keep the worker logs (INFO level) in this directory")
    parser.add_argument("--singles", type=int, default=12, help="single submissions for the latency figure")
    parser.add_argument("--crm", choices=("hubspot", "salesforce"), action="append", help="default: both")
    args = parser.parse_args()
    if not args.redis_url:
        raise SystemExit("set REDIS_URL (or --redis-url): the worker process and this script share one Redis")
    os.environ["CONNECTOR_GENERIC_SECRET"] = TOKEN
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    base_env.update(
        {
            "REDIS_URL": args.redis_url,
            "CONNECTOR_GENERIC_SECRET": TOKEN,
            "CONNECTOR_LOG_LEVEL": "INFO" if args.log_dir else "WARNING",
            "CONNECTOR_LOG_FORMAT": "text",
            # API calls and latency are the subject here, not fsync: durability as for a process crash
            "CONNECTOR_SQLITE_SYNCHRONOUS": "NORMAL",
            "PYTHONPATH": str(ROOT),
        }
    )
    base_env.pop("DATABASE_URL", None)
    with tempfile.TemporaryDirectory() as tmp:
        for crm in args.crm or ["hubspot", "salesforce"]:
            results = bench_crm(crm, args, base_env, Path(args.log_dir or tmp))
            print(f"\n{crm}")
            for key, value in results.items():
                print(f"  {key:<20} {value}")
            for visit in ("new", "repeat"):
                calls = results[f"{visit}: calls"]
                print(f"  => {visit} people: {calls} API calls per 1,000 submissions (target <= 10)")
            print(f"  => idle single submission -> CRM p95 {results['single p95 s']}s (target < 2s)")


if __name__ == "__main__":
    main()
