"""The story of one event_id: receipts, submission, CRM writes, conversions, the CRM stage changes it led
to, and the journal, in order."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from connector.bookings.story import booking_stories, render_booking
from connector.conversions.story import conversion_stories, render_conversion
from connector.store.models import Conversion, CrmWrite, JournalEntry, Receipt, StageChange, Submission
from connector.timeutil import as_utc


def event_story(session: Session, key: str) -> dict[str, Any] | None:
    """Everything the ledger knows about an event_id (or a receipt id given as `receipt:N`)."""
    if key.startswith("receipt:") and key[8:].isdigit():
        receipts = list(session.scalars(select(Receipt).where(Receipt.id == int(key[8:]))))
    else:
        receipts = list(session.scalars(receipts_under(key)))
    receipt_ids = [r.id for r in receipts]
    event_ids = {key, *(r.event_id for r in receipts if r.event_id)}
    submissions = list(session.scalars(submissions_of(receipt_ids, event_ids)))
    submission_ids = [s.id for s in submissions]
    conversions = list(session.scalars(conversions_of(submission_ids, event_ids)))
    # A conversion under an id no submission carries (a booking released under a derived id): its submission
    # is part of the story too.
    named = {c.submission_id for c in conversions if c.submission_id is not None} - set(submission_ids)
    if named:
        submissions += session.scalars(
            select(Submission).where(Submission.id.in_(named)).order_by(Submission.id)
        )
        submission_ids = [s.id for s in submissions]
    crm_writes = list(session.scalars(crm_writes_of(submission_ids, event_ids)))
    # A booking released without its beacon went out under a derived id: its conversion names the lead.
    leads = {*submission_ids, *(c.submission_id for c in conversions if c.trigger == "submission")}
    bookings = booking_stories(session, event_ids, receipt_ids, {i for i in leads if i is not None})
    journal = list(session.scalars(journal_of(receipt_ids, event_ids)))
    # A stage change is attributed to the lead's event id; a booking's conversion may carry another.
    stage_changes = list(
        session.scalars(stage_changes_of(event_ids | {c.event_id for c in conversions if c.event_id}))
    )
    if not (receipts or submissions or bookings or conversions or journal):
        return None
    timeline: list[dict[str, Any]] = [
        {
            "at": _iso(r.received_at),
            "kind": "received",
            "message": f"{r.source} webhook stored",
            "details": {},
        }
        for r in receipts
    ]
    timeline += [
        {"at": _iso(j.at), "kind": j.kind, "message": j.message, "details": j.details} for j in journal
    ]
    timeline.sort(key=lambda entry: entry["at"] or "")
    return {
        "event_id": key,
        "receipts": [_receipt(r) for r in receipts],
        "submissions": [_submission(s) for s in submissions],
        "bookings": bookings,
        "crm_writes": [
            _row(
                w,
                "crm",
                "object_type",
                "crm_object_id",
                "status",
                "outcome",
                "fields_written",
                "attempts",
                "last_error",
                "updated_at",
            )
            for w in crm_writes
        ],
        "conversions": conversion_stories(session, conversions),
        "stage_changes": [
            _row(
                c,
                "id",
                "crm",
                "object_type",
                "record_id",
                "pipeline",
                "stage",
                "entered_at",
                "via",
                "status",
                "rule",
                "event_id",
                "last_error",
            )
            for c in stage_changes
        ],
        "timeline": timeline,
    }


def receipts_under(event_id: str) -> Select[Receipt]:
    """The receipts that carried `event_id`, oldest first."""
    return select(Receipt).where(Receipt.event_id == event_id).order_by(Receipt.id)


def submissions_of(receipt_ids: Collection[int], event_ids: Collection[str]) -> Select[Submission]:
    """The story's submissions: those of its receipts or under its event ids (indexed lookups, no scan)."""
    return select(Submission).where(
        or_(Submission.receipt_id.in_(receipt_ids), Submission.event_id.in_(event_ids))
    )


def conversions_of(submission_ids: Collection[int], event_ids: Collection[str]) -> Select[Conversion]:
    """The story's conversions: those of its submissions or under its event ids."""
    return select(Conversion).where(
        or_(Conversion.submission_id.in_(submission_ids), Conversion.event_id.in_(event_ids))
    )


def crm_writes_of(submission_ids: Collection[int], event_ids: Collection[str]) -> Select[CrmWrite]:
    """The story's CRM writes: those of its submissions or under its event ids."""
    return select(CrmWrite).where(
        or_(CrmWrite.submission_id.in_(submission_ids), CrmWrite.event_id.in_(event_ids))
    )


def journal_of(receipt_ids: Collection[int], event_ids: Collection[str]) -> Select[JournalEntry]:
    """The story's journal lines, oldest first."""
    return (
        select(JournalEntry)
        .where(or_(JournalEntry.receipt_id.in_(receipt_ids), JournalEntry.event_id.in_(event_ids)))
        .order_by(JournalEntry.at, JournalEntry.id)
    )


STAGE_CHANGES_SHOWN = 200
"""Most stage changes one story lists (a deal moved back and forth for years), oldest first."""


def stage_changes_of(event_ids: Collection[str]) -> Select[StageChange]:
    """The CRM stage changes attributed to these event ids, or that produced them, oldest first."""
    return (
        select(StageChange)
        .where(or_(StageChange.attributed_event_id.in_(event_ids), StageChange.event_id.in_(event_ids)))
        .order_by(StageChange.entered_at, StageChange.id)
        .limit(STAGE_CHANGES_SHOWN)
    )


def _receipt(r: Receipt) -> dict[str, Any]:
    return {
        "id": r.id,
        "source": r.source,
        "delivery_key": r.delivery_key,
        "received_at": _iso(r.received_at),
        "status": r.status,
        "attempts": r.attempts,
        "duplicates": r.duplicates,
        "last_error": r.last_error,
        "body_bytes": len(r.body or b""),
    }


def _submission(s: Submission) -> dict[str, Any]:
    return {
        "id": s.id,
        "source": s.source,
        "kind": s.kind,
        "form_id": s.form_id,
        "submitted_at": _iso(s.submitted_at),
        "contact": s.contact,
        "attribution": s.attribution,
    }


def _row(obj: Any, *names: str) -> dict[str, Any]:
    return {name: _iso(v) if hasattr(v := getattr(obj, name), "isoformat") else v for name in names}


def _iso(value: Any) -> str | None:
    moment = as_utc(value)
    return moment.isoformat() if moment is not None else None


def _crm_write_lines(w: dict[str, Any]) -> list[str]:
    outcome = f" ({w['outcome']})" if w["outcome"] else ""
    lines = [
        f"CRM write {w['crm']} {w['object_type']} record {w['crm_object_id'] or '-'}: {w['status']}{outcome} "
        f"after {w['attempts']} attempt(s)"
    ]
    for name, value in (w["fields_written"] or {}).items():
        lines.append(f"  {name:<22} {value}")
    if w["last_error"]:
        lines.append(f"  {'last error' if w['status'] != 'failed' else 'error'}: {w['last_error']}")
    return lines


def render_text(story: dict[str, Any]) -> str:
    """A readable account of the story for the terminal."""
    lines = [f"Event {story['event_id']}", ""]
    for r in story["receipts"]:
        lines.append(
            f"Receipt #{r['id']} from {r['source']} at {r['received_at']}: {r['status']} after "
            f"{r['attempts']} attempt(s); {r['duplicates']} duplicate deliveries; key {r['delivery_key']}"
        )
        if r["last_error"]:
            lines.append(f"  last error: {r['last_error']}")
    for s in story["submissions"]:
        who = s["contact"].get("email", "(no email)")
        lines.append(f"Submission #{s['id']} ({s['kind']}, form {s['form_id'] or '-'}) by {who}")
        for name, value in s["attribution"].items():
            lines.append(f"  {name:<22} {value}")
    for b in story["bookings"]:
        lines += render_booking(b)
    for w in story["crm_writes"]:
        lines += _crm_write_lines(w)
    for c in story["conversions"]:
        lines += render_conversion(c)
    for c in story["stage_changes"]:
        lines.append(
            f"Stage change {c['crm']} {c['object_type']} {c['record_id']} entered {c['stage']} at "
            f"{c['entered_at']} (via {c['via']}): {c['status']}"
            + (f", rule {c['rule']}" if c["rule"] else "")
        )
        if c["last_error"]:
            lines.append(f"  last error: {c['last_error']}")
    lines += ["", "Timeline:"]
    lines += [f"  {t['at']}  {t['kind']:<11} {t['message']}" for t in story["timeline"]]
    return "\n".join(lines)
