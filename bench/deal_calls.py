"""CRM API calls to write the attribution onto 1,000 opportunities or deals, against the loopback doubles.

For each CRM: N people our ledger wrote (Salesforce Leads converted into Opportunities with a contact role;
HubSpot contacts with an associated deal), then N deal-attribution rows as the stage resolver queues them,
written by the deal flush's batch function in this process. Two cases: "attributed" (the stage change
already named the person's event id, as for a change a stage rule converted) and "lookup" (a stage no rule
names: the flush finds the person through the CRM's links). One warm-up record first (sign-in, describe).
Usage: python bench/deal_calls.py [--n 1000] [--database-url postgresql://...] [--redis-url redis://...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench.crm_calls import start_double  # noqa: E402
from connector.config import load_settings  # noqa: E402
from connector.context import Context  # noqa: E402
from connector.crm_writes.deals import claim, write_batch  # noqa: E402
from connector.stages.deals import DealLearned, queue_deal_attribution  # noqa: E402
from connector.store.migrate import upgrade  # noqa: E402
from connector.store.models import CrmWrite, DealAttribution, Receipt, Submission  # noqa: E402
from connector.timeutil import utcnow  # noqa: E402


def add_deal_fields(crm: str, double: Any) -> None:
    """The fields the deal mappings write, as `connector crm setup` leaves them."""
    from connector.mapping import load_mappings

    mapping = load_mappings(ROOT / "mappings").get(crm, "Opportunity" if crm == "salesforce" else "deals")
    assert mapping is not None
    for rule in mapping.all_rules():
        is_time = any(t.name == "iso_datetime" for t in rule.transforms)
        if crm == "salesforce":
            double.add_field(
                "Opportunity", rule.target, "datetime" if is_time else "string", 0 if is_time else 255
            )
        else:
            double.add_property("deals", rule.target, "datetime" if is_time else "string")


def seed(ctx: Context, crm: str, double: Any, run: str, n: int) -> list[tuple[str, str]]:
    """N people in the double and in our ledger, each with a deal; (deal id, event id) each."""
    deals, rows = [], []
    now = utcnow()
    for i in range(n):
        email, event_id = f"deal{i}-{run}@example.com", f"{run}-{i}"
        if crm == "salesforce":
            person = double.add_record("Lead", Email=email, LastName=f"L{i}", Company="Acme")
            deal = double.convert_lead(person, amount=100 + i)
        else:
            person = double.add_contact(email=email)
            deal = double.add_deal([person], dealname=f"D{i}", amount=str(100 + i))
        deals.append((deal, event_id))
        rows.append((email, event_id, person))
    with ctx.sessions.begin() as session:
        for email, event_id, person in rows:
            receipt = Receipt(source="generic", delivery_key=event_id, event_id=event_id, status="processed")
            session.add(receipt)
            session.flush()
            submission = Submission(
                receipt_id=receipt.id,
                source="generic",
                event_id=event_id,
                email=email,
                contact={"email": email},
                attribution={
                    "first_utm_source": "chatgpt.com",
                    "first_ai_source": "chatgpt",
                    "first_channel": "ai_organic",
                    "latest_utm_source": "newsletter",
                    "latest_channel": "email",
                    "first_landing_page": "https://example.com/pricing",
                    "event_id": event_id,
                    "oppref": f"opp-{event_id}",
                },
                submitted_at=now,
            )
            session.add(submission)
            session.flush()
            obj = "Lead" if crm == "salesforce" else "contacts"
            session.add(
                CrmWrite(
                    submission_id=submission.id,
                    event_id=event_id,
                    crm=crm,
                    object_type=obj,
                    crm_object_id=person,
                    status="written",
                )
            )
    return deals


def queue(ctx: Context, crm: str, deals: list[tuple[str, str]], attributed: bool) -> None:
    obj = "Opportunity" if crm == "salesforce" else "deals"
    with ctx.sessions.begin() as session:
        for deal, event_id in deals:
            hint = event_id if attributed else None
            queue_deal_attribution(session, ctx.mappings, DealLearned(crm, obj, deal, "bench", hint))


def drain(ctx: Context) -> int:
    done = 0
    while True:
        token, rows = claim(ctx, ctx.crm.batch_size)
        if not rows:
            return done
        write_batch(ctx, token, rows)
        done += len(rows)


def written(ctx: Context) -> int:
    with ctx.sessions() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(DealAttribution).where(DealAttribution.status == "written")
            )
            or 0
        )


def bench_crm(crm: str, args: argparse.Namespace, tmp: Path) -> list[str]:
    double, crm_env = start_double(crm)
    add_deal_fields(crm, double)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")},
        **crm_env,
        "CONNECTOR_CRM__PROVIDER": crm,
        "CONNECTOR_CRM__MAPPINGS_PATH": str(ROOT / "mappings"),
        "CONNECTOR_JOBS__QUEUE": f"bench-deals-{uuid.uuid4().hex[:8]}",
        "CONNECTOR_DATA_DIR": str(tmp / crm),
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp / crm}.db",
    }
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    os.environ.update({k: v for k, v in crm_env.items() if k.startswith("BENCH_")})  # the adapter's secrets
    ctx = Context(load_settings(environ=env))
    upgrade(ctx.engine)
    lines = []
    try:
        run = uuid.uuid4().hex[:6]
        queue(ctx, crm, seed(ctx, crm, double, run + "w", 1), attributed=False)
        drain(ctx)  # warm-up: sign-in and describe, cached for the process
        for case, attributed in (("attributed", True), ("lookup", False)):
            deals = seed(ctx, crm, double, f"{run}{case[0]}", args.n)
            before, base = dict(double.calls), written(ctx)
            started = time.monotonic()
            queue(ctx, crm, deals, attributed)
            drain(ctx)
            elapsed = time.monotonic() - started
            ok = written(ctx) - base
            calls = {k: v - before.get(k, 0) for k, v in double.calls.items() if v - before.get(k, 0)}
            total = calls.pop("total", 0)
            detail = ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))
            lines.append(
                f"{crm:10s} {case:10s} {ok:5d}/{args.n} written  {total:3d} API calls ({detail})  {elapsed:.2f}s"
            )
    finally:
        ctx.close()
        double.stop()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for crm in ("salesforce", "hubspot"):
            for line in bench_crm(crm, args, Path(tmp)):
                print(line, flush=True)


if __name__ == "__main__":
    main()
