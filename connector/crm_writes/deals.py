"""Deal attributions written: find each record's person, plan its fields by the mapping, batch the writes.

Per batch of records (200 Salesforce, 100 HubSpot): one read of their current values, the person lookup
in the CRM only for records no stage change attributed (contact roles and converted Leads, or deal
associations), one batch update. Rows are leased (`connector.queue.ledgers.DEAL_ATTRIBUTIONS`): an
outcome is written only where the row still holds the claim's token. The job is `connector.jobs.deals`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from connector.context import Context
from connector.crm.base import CrmError, PermanentError
from connector.journal import record
from connector.mapping import Mapping, plan_writes
from connector.queue.defaults import job_lease_seconds
from connector.queue.ledgers import DEAL_ATTRIBUTIONS
from connector.stages.lookup import Person, attribution_fields, existing, from_ledger, related_people
from connector.store.models import DealAttribution, DealAttributionStatus, Submission

log = logging.getLogger(__name__)

Status = DealAttributionStatus


@dataclass
class DealPlan:
    """What one claimed row becomes: its fields to write, or a final outcome without a call."""

    row: DealAttribution
    status: str = Status.PENDING
    message: str = ""
    journey: list[Submission] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def latest(self) -> Submission | None:
        return self.journey[-1] if self.journey else None


def claim(ctx: Context, limit: int) -> tuple[str, list[DealAttribution]]:
    """Lease up to `limit` ready rows with a fresh token, committed before any CRM call."""
    with ctx.sessions.begin() as session:
        claimed = DEAL_ATTRIBUTIONS.claim(session, job_lease_seconds(ctx.settings), limit=limit)
        if not claimed.ids:
            return claimed.token, []
        rows = list(
            session.scalars(
                select(DealAttribution)
                .where(DealAttribution.id.in_(claimed.ids))
                .order_by(DealAttribution.id)
            )
        )
        session.expunge_all()
    return claimed.token, rows


def seconds_until_next_deal(ctx: Context) -> float | None:
    """When the next row becomes ready (0: now; None: none waits)."""
    with ctx.sessions() as session:
        return DEAL_ATTRIBUTIONS.seconds_until_ready(session)


def overdue_deal(ctx: Context) -> bool:
    """Is any row waiting past its time with nobody holding it (for the sweeper)?"""
    with ctx.sessions() as session:
        return DEAL_ATTRIBUTIONS.has_overdue(session, ctx.settings.jobs.sweep_grace_seconds)


def write_batch(ctx: Context, token: str, rows: list[DealAttribution]) -> list[float]:
    """Plan and write one claimed batch, object by object; returns the delays per-record retries ask.

    A failure of a whole call (retryable, rate limited, auth) raises: the caller releases the batch.
    """
    delays: list[float] = []
    groups: dict[tuple[str, str], list[DealAttribution]] = {}
    for row in rows:
        groups.setdefault((row.crm, row.object_type), []).append(row)
    for (crm, obj), group in groups.items():
        mapping = ctx.mappings.get(crm, obj)
        if ctx.settings.crm.provider != crm:
            message = f"crm.provider is {ctx.settings.crm.provider!r}: {crm} records cannot be written"
            plans = [DealPlan(r, Status.FAILED, message) for r in group]
        elif mapping is None or not mapping.writes or not mapping.for_deals:
            plans = [DealPlan(r, Status.NO_MAPPING, f"no mapping writes {crm} {obj}") for r in group]
        else:
            try:
                plans = plan_batch(ctx, mapping, group)
            except PermanentError as exc:
                plans = [DealPlan(r, Status.FAILED, f"{type(exc).__name__}: {exc}") for r in group]
        updates = {p.row.record_id: p.fields for p in plans if p.status == Status.PENDING}
        errors = ctx.crm.update_records(obj, updates) if updates else {}
        delays += record_outcomes(ctx, token, plans, errors)
    return delays


def plan_batch(ctx: Context, mapping: Mapping, rows: Sequence[DealAttribution]) -> list[DealPlan]:
    """Read the records, find their people (our ledger first, the CRM's links for the rest), plan."""
    adapter, crm, obj = ctx.crm, mapping.crm, mapping.object
    schema = adapter.describe(obj)
    attr = existing(adapter, obj, attribution_fields(ctx.mappings, crm, obj))
    targets = [t for t in mapping.fields_to_read() if schema.get(t) is not None]
    ids = list(dict.fromkeys(r.record_id for r in rows))
    records = adapter.read_records(obj, ids, sorted({*targets, *attr.values()}))
    with ctx.sessions() as session:
        people: dict[str, list[Person]] = {
            rid: [Person(f"the {obj} itself", rid, {k: v.get(t) for k, t in attr.items()})]
            for rid, v in records.items()
        }
        for row in rows:
            if row.record_id in people and row.person_id:
                people[row.record_id].append(Person(f"converted lead {row.person_id}", row.person_id))
            if row.record_id in people and row.event_id:
                people[row.record_id].append(Person("the stage change", "", {"event_id": row.event_id}))
        found = from_ledger(session, crm, people)
        unknown = [rid for rid, a in found.items() if a.submission_id is None]
        if unknown:
            for rid, related in related_people(adapter, ctx.mappings, crm, obj, unknown).items():
                people[rid].extend(related)
            found |= from_ledger(session, crm, {rid: people[rid] for rid in unknown})
        journeys = _journeys(session, {a.submission_id for a in found.values() if a.submission_id})
        session.expunge_all()
    lengths = schema.lengths()
    plans = []
    for row in rows:
        plan = DealPlan(row)
        plans.append(plan)
        current = records.get(row.record_id)
        submission_id = found[row.record_id].submission_id if current is not None else None
        if current is None:
            plan.status, plan.message = Status.DELETED, f"{obj} {row.record_id} no longer exists in {crm}"
            continue
        if submission_id is None:
            plan.status = Status.UNATTRIBUTED
            plan.message = (
                "no person of ours on the record, its people or our ledger; a later stage change looks again"
            )
            continue
        plan.journey = journeys[submission_id]
        latest = plan.journey[-1]
        if row.fields_written and row.submission_id == latest.id:
            plan.status, plan.message = Status.WRITTEN, "already written from this submission; unchanged"
            continue
        plan.fields = plan_writes(
            mapping, touches(plan.journey), latest.contact, latest.source, latest.form_id, current, lengths
        )
        if not plan.fields:
            plan.status = Status.WRITTEN
            plan.message = "nothing to write: every field is set already (once / if_empty)"
    return plans


def _journeys(session: Session, submission_ids: set[int]) -> dict[int, list[Submission]]:
    """Submission id -> every submission of that person (same email), oldest first; one query."""
    if not submission_ids:
        return {}
    found = list(session.scalars(select(Submission).where(Submission.id.in_(submission_ids))))
    emails = {s.email.strip().lower() for s in found if s.email}
    clauses = [Submission.id.in_(submission_ids)]
    if emails:
        clauses.append(func.lower(Submission.email).in_(emails))
    every = list(session.scalars(select(Submission).where(or_(*clauses)).order_by(Submission.id)))
    by_email: dict[str, list[Submission]] = {}
    for s in every:
        if s.email:
            by_email.setdefault(s.email.strip().lower(), []).append(s)
    return {s.id: by_email.get((s.email or "").strip().lower()) or [s] for s in found}


def touches(journey: list[Submission]) -> dict[str, Any]:
    """The person's attribution: the latest submission's, with the first touch of the earliest one that
    recorded a first touch (kept whole: never a mix of two visits) and the latest oppref seen."""
    latest = journey[-1]
    values: dict[str, Any] = dict(latest.attribution or {})
    first = next((s for s in journey if any(k.startswith("first_") for k in s.attribution or {})), None)
    if first is not None:
        values = {k: v for k, v in values.items() if not k.startswith("first_")}
        values |= {k: v for k, v in (first.attribution or {}).items() if k.startswith("first_")}
    if latest.event_id:
        values["event_id"] = latest.event_id
    if not values.get("oppref"):
        values["oppref"] = next(
            (s.attribution["oppref"] for s in reversed(journey) if (s.attribution or {}).get("oppref")), None
        )
    return values


def record_outcomes(
    ctx: Context, token: str, plans: list[DealPlan], errors: dict[str, CrmError | None]
) -> list[float]:
    """Store each row's outcome (fenced on its claim) with a journal line; returns per-record retry delays."""
    max_attempts = ctx.settings.jobs.max_attempts
    delays: list[float] = []
    with ctx.sessions.begin() as session:
        for plan in plans:
            row, latest = plan.row, plan.latest
            what = f"{row.crm} {row.object_type} {row.record_id}"
            values: dict[str, Any] = {"status": plan.status, "last_error": plan.message or None}
            retry_in: float | None = None
            if latest is not None:
                values |= {"submission_id": latest.id, "event_id": latest.event_id or row.event_id}
            if plan.status == Status.PENDING:  # sent: the CRM judged it
                error = errors.get(row.record_id, PermanentError("no result", "NO_RESULT"))
                values["attempts"] = row.attempts + 1
                if error is None:
                    values |= {
                        "status": Status.WRITTEN,
                        "fields_written": {**(row.fields_written or {}), **plan.fields},
                        "last_error": None,
                    }
                    plan.message = (
                        f"attribution written: {len(plan.fields)} field(s) ({_summary(plan.fields)})"
                    )
                elif not isinstance(error, PermanentError) and row.attempts + 1 < max_attempts:
                    retry_in = float(getattr(error, "delay", None) or 30.0)
                    values["last_error"] = f"{type(error).__name__}: {error}"[:4000]
                    plan.message = f"attribution not written: {error}; retry in {retry_in:g}s"
                else:
                    values |= {
                        "status": Status.FAILED,
                        "last_error": f"{type(error).__name__}: {error}"[:4000],
                    }
                    plan.message = f"attribution rejected: {error}"
            if retry_in is not None:
                delays.append(retry_in)
                done = DEAL_ATTRIBUTIONS.release(session, token, [row.id], retry_in, **values)
            else:
                done = DEAL_ATTRIBUTIONS.finish(session, token, [row.id], **values)
            if not done:
                log.warning("deal attribution %s (%s): lease lost, result discarded", row.id, what)
                continue
            if plan.message == "already written from this submission; unchanged":
                continue  # a stage change of a known record: nothing happened worth a journal line
            record(
                session,
                "deal",
                f"{what}: {plan.message}"[:1000],
                receipt_id=latest.receipt_id if latest is not None else row.receipt_id,
                event_id=values.get("event_id") or row.event_id,
                details={
                    "deal_attribution_id": row.id,
                    "record_id": row.record_id,
                    "status": values["status"],
                    "fields": sorted(plan.fields),
                },
            )
            log.info("deal attribution %s %s: %s", row.id, what, plan.message)
    return delays


def release(ctx: Context, token: str, rows: list[DealAttribution], error: CrmError, delay: float) -> None:
    """The batch could not be sent: back to pending, attempts untouched (the CRM judged no record)."""
    message = f"{type(error).__name__}: {error}"[:4000]
    with ctx.sessions.begin() as session:
        DEAL_ATTRIBUTIONS.release(session, token, [r.id for r in rows], delay, last_error=message)
        for row in rows:
            if row.last_error != message:  # one journal line per distinct problem, not per retry
                record(
                    session,
                    "deal",
                    f"{row.crm} {row.object_type} {row.record_id}: attribution not written: "
                    f"{message[:300]}; kept pending, retry in {delay:g}s",
                    receipt_id=row.receipt_id,
                    event_id=row.event_id,
                    details={"deal_attribution_id": row.id},
                )


def _summary(fields: dict[str, str]) -> str:
    shown = [f"{k}={v}" for k, v in fields.items() if "ai_source" in k.lower() or "channel" in k.lower()]
    return ", ".join(shown[:4]) or ", ".join(sorted(fields)[:4])
