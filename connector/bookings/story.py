"""The bookings part of `connector events show`: each booking, whether its beacon joined, its hold and release."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from connector.bookings.facts import BOOKING_KEYS
from connector.bookings.release import JOURNAL_KEY
from connector.store.models import Booking, Conversion, JournalEntry, Receipt, Submission
from connector.timeutil import as_utc


def booking_stories(
    session: Session,
    event_ids: Collection[str],
    receipt_ids: Collection[int],
    submission_ids: Collection[int],
) -> list[dict[str, Any]]:
    """Every booking linked to these ids, oldest first, with its lead's hold and release."""
    rows = list(session.scalars(bookings_of(event_ids, receipt_ids, submission_ids)))
    beacons = _received_at(session, [r.beacon_receipt_id for r in rows if r.beacon_receipt_id])
    leads = {s.id: s for s in _leads(session, {r.submission_id for r in rows if r.submission_id})}
    return [_booking(r, beacons, leads.get(r.submission_id or 0), session) for r in rows]


def bookings_of(
    event_ids: Collection[str], receipt_ids: Collection[int], submission_ids: Collection[int]
) -> Select[Booking]:
    """Bookings under these event ids, webhook or beacon receipts, or leads (each column indexed)."""
    return (
        select(Booking)
        .where(
            or_(
                Booking.event_id.in_(event_ids),
                Booking.receipt_id.in_(receipt_ids),
                Booking.beacon_receipt_id.in_(receipt_ids),
                Booking.submission_id.in_(submission_ids),
            )
        )
        .order_by(Booking.id)
    )


def _booking(
    row: Booking, beacons: dict[int, Any], lead: Submission | None, session: Session
) -> dict[str, Any]:
    return {
        "id": row.id,
        "provider": row.provider,
        "key_field": BOOKING_KEYS.get(row.provider, "key"),
        "booking_key": row.booking_key,
        "status": row.status,
        "event_id": row.event_id,
        "beacon_joined": row.beacon_receipt_id is not None and row.submission_id is not None,
        "beacon_receipt_id": row.beacon_receipt_id,
        "beacon_received_at": _iso(beacons.get(row.beacon_receipt_id or 0)),
        "webhook_receipt_id": row.receipt_id,
        "submission_id": row.submission_id,
        "rescheduled_to": row.rescheduled_to,
        "canceled_at": _iso(row.canceled_at),
        "cancel_reason": row.cancel_reason,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        "release": _release(session, lead) if lead is not None else None,
    }


def _release(session: Session, lead: Submission) -> dict[str, Any]:
    """Held (waiting for the beacon), released (when, under which id) or never held."""
    marks = {
        entry.details[JOURNAL_KEY]: entry
        for entry in session.scalars(release_marks(lead.receipt_id))
        if isinstance(entry.details, dict) and entry.details.get(JOURNAL_KEY)
    }
    held, released = marks.get("held"), marks.get("released")
    sent_as = session.scalars(lead_conversion(lead.id)).first()
    state = "held" if lead.held_since is not None else "released" if held or released else "not_held"
    story: dict[str, Any] = dict.fromkeys(("held_at", "release_due", "released_at", "released_with"))
    if held is not None:
        grace = held.details.get("grace_seconds") or 0
        story.update(held_at=_iso(held.at), release_due=_iso(as_utc(held.at) + timedelta(seconds=grace)))
    if released is not None:
        with_beacon = bool(released.details.get("event_id"))
        story.update(released_at=_iso(released.at), released_with="beacon" if with_beacon else "derived_id")
    # The conversion row has the id OpenAI got; without one (conversions off) the lead's id at release.
    at_release = released.details.get("event_id") if released is not None else None
    fallback = lead.event_id if state == "not_held" else at_release
    return {"state": state, **story, "event_id": sent_as or fallback}


def lead_conversion(submission_id: int) -> Select[str]:
    """The event id the lead's own conversion went out under (its first)."""
    return (
        select(Conversion.event_id)
        .where(Conversion.submission_id == submission_id, Conversion.trigger == "submission")
        .order_by(Conversion.id)
        .limit(1)
    )


def release_marks(receipt_id: int) -> Select[JournalEntry]:
    """The booking journal lines of a lead's receipt (its hold and release marks among them)."""
    return (
        select(JournalEntry)
        .where(JournalEntry.receipt_id == receipt_id, JournalEntry.kind == "booking")
        .order_by(JournalEntry.id)
    )


def _received_at(session: Session, receipt_ids: list[int]) -> dict[int, Any]:
    if not receipt_ids:
        return {}
    return dict(
        session.execute(select(Receipt.id, Receipt.received_at).where(Receipt.id.in_(receipt_ids))).all()
    )


def _leads(session: Session, ids: set[int]) -> list[Submission]:
    return list(session.scalars(select(Submission).where(Submission.id.in_(ids)))) if ids else []


def render_booking(b: dict[str, Any]) -> list[str]:
    """Readable lines for one booking: key and state, beacon, webhook, hold and release."""
    lines = [f"Booking {b['provider']} {b['key_field']} {b['booking_key']}: {b['status']}"]
    if b["beacon_receipt_id"] is None:
        lines.append("  beacon: none received")
    else:
        joined = "joined" if b["beacon_joined"] else "received, waiting for the webhook"
        lines.append(
            f"  beacon: {joined} (receipt #{b['beacon_receipt_id']} at {b['beacon_received_at']}), "
            f"event_id {b['event_id']}"
        )
    if b["webhook_receipt_id"] is not None:
        lines.append(f"  webhook: receipt #{b['webhook_receipt_id']} -> submission #{b['submission_id']}")
    if b["release"] is not None:
        lines.append(f"  release: {_release_line(b['release'])}")
    if b["rescheduled_to"]:
        lines.append(f"  rescheduled to {b['rescheduled_to']}")
    if b["canceled_at"] and b["status"] == "canceled":
        reason = f": {b['cancel_reason']}" if b["cancel_reason"] else ""
        lines.append(f"  canceled at {b['canceled_at']}{reason}")
    return lines


def _release_line(r: dict[str, Any]) -> str:
    if r["state"] == "not_held":
        return f"not held; conversion and CRM write recorded at once (event_id {r['event_id'] or '-'})"
    held = f"held at {r['held_at']} until the beacon joins or {r['release_due']}"
    if r["state"] == "held":
        return held + "; still waiting"
    how = (
        "with the beacon's event_id" if r.get("released_with") == "beacon" else "without a beacon, derived id"
    )
    return f"{held}; released at {r['released_at']} {how} {r['event_id'] or '-'}"


def _iso(value: Any) -> str | None:
    return as_utc(value).isoformat() if value is not None else None
