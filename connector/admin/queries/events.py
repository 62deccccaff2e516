"""The Events page: find an event by event_id, email, CRM record id or oppref, and list the latest ones.

What the ledger lets us search, each by an index: receipt, submission and conversion event ids; the email as
stored (intake trims and lowercases it; the ledger keeps no hash of it, so a SHA-256 is not searchable); the
record ids CRM writes were given and stage changes name; the submission's `oppref` (an expression index).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import literal_column, select
from sqlalchemy.orm import Session

from connector.store.models import Conversion, CrmWrite, Receipt, StageChange, Submission
from connector.timeutil import as_utc

RESULTS = 50
"""Most matches one search shows."""

PAGE = 50
"""Receipts per page of the latest-events list."""


@dataclass(frozen=True)
class Match:
    """One row of the results: the story it opens and why it matched."""

    key: str
    """What /admin/events/<key> opens: the event_id, or `receipt:N` for a receipt without one."""
    matched: str
    source: str
    at: datetime | None
    summary: str


def oppref_of(column: Any) -> Any:
    """`attribution ->> 'oppref'`, written exactly as the expression index ix_submissions_oppref is."""
    return column.op("->>")(literal_column("'oppref'"))


def kind_of_query(query: str) -> str:
    """What a search string is taken for: `receipt` (receipt:N), `email` (has an @), or `id`."""
    if query.startswith("receipt:") and query[8:].isdigit():
        return "receipt"
    return "email" if "@" in query else "id"


def search(session: Session, query: str, limit: int = RESULTS) -> list[Match]:
    """Every story the query names, newest first within each way it matched, one row per story."""
    query = query.strip()
    if not query:
        return []
    kind = kind_of_query(query)
    if kind == "receipt":
        found = _receipts(session, Receipt.id == int(query[8:]), "receipt id", limit)
    elif kind == "email":
        found = _submissions(session, Submission.email == query.lower(), "email", limit)
    else:
        found = [
            *_receipts(session, Receipt.event_id == query, "event id", limit),
            *_submissions(session, Submission.event_id == query, "event id", limit),
            *_conversions(session, query, limit),
            *_crm_records(session, query, limit),
            *_stage_changes(session, query, limit),
            *_submissions(session, oppref_of(Submission.attribution) == query, "oppref", limit),
        ]
    unique: dict[str, Match] = {}
    for match in found:
        unique.setdefault(match.key, match)
    return list(unique.values())[:limit]


def latest(
    session: Session, before_id: int | None = None, limit: int = PAGE
) -> tuple[list[Match], int | None]:
    """The latest receipts (newest first) below `before_id`, and the id to continue from (None: the end)."""
    condition = Receipt.id < before_id if before_id else Receipt.id.is_not(None)
    rows = session.execute(
        select(Receipt.id, Receipt.event_id, Receipt.source, Receipt.received_at, Receipt.status)
        .where(condition)
        .order_by(Receipt.id.desc())
        .limit(limit + 1)
    ).all()
    matches = [_receipt_match(r, "") for r in rows[:limit]]
    return matches, (rows[limit - 1].id if len(rows) > limit else None)


def _receipt_match(r: Any, matched: str) -> Match:
    return Match(r.event_id or f"receipt:{r.id}", matched, r.source, as_utc(r.received_at), r.status)


def _receipts(session: Session, condition: Any, matched: str, limit: int) -> list[Match]:
    rows = session.execute(
        select(Receipt.id, Receipt.event_id, Receipt.source, Receipt.received_at, Receipt.status)
        .where(condition)
        .order_by(Receipt.id.desc())
        .limit(limit)
    ).all()
    return [_receipt_match(r, matched) for r in rows]


def _submissions(session: Session, condition: Any, matched: str, limit: int) -> list[Match]:
    rows = session.execute(
        select(
            Submission.receipt_id,
            Submission.event_id,
            Submission.source,
            Submission.submitted_at,
            Submission.kind,
            Submission.form_id,
        )
        .where(condition)
        .order_by(Submission.id.desc())
        .limit(limit)
    ).all()
    return [
        Match(
            r.event_id or f"receipt:{r.receipt_id}",
            matched,
            r.source,
            as_utc(r.submitted_at),
            f"{r.kind} {r.form_id}" if r.form_id else r.kind,
        )
        for r in rows
    ]


def _conversions(session: Session, event_id: str, limit: int) -> list[Match]:
    rows = session.execute(
        select(Conversion.event_id, Conversion.event_type, Conversion.status, Conversion.created_at)
        .where(Conversion.event_id == event_id)
        .order_by(Conversion.id.desc())
        .limit(limit)
    ).all()
    return [
        Match(r.event_id, "conversion id", "conversion", as_utc(r.created_at), f"{r.event_type} {r.status}")
        for r in rows
    ]


def _crm_records(session: Session, record_id: str, limit: int) -> list[Match]:
    rows = session.execute(
        select(
            CrmWrite.event_id,
            Submission.receipt_id,
            CrmWrite.crm,
            CrmWrite.object_type,
            CrmWrite.status,
            CrmWrite.updated_at,
        )
        .join(Submission, Submission.id == CrmWrite.submission_id)
        .where(CrmWrite.crm_object_id == record_id)
        .order_by(CrmWrite.id.desc())
        .limit(limit)
    ).all()
    return [
        Match(
            r.event_id or f"receipt:{r.receipt_id}",
            "CRM record",
            r.crm,
            as_utc(r.updated_at),
            f"{r.object_type} {r.status}",
        )
        for r in rows
    ]


def _stage_changes(session: Session, record_id: str, limit: int) -> list[Match]:
    rows = session.execute(
        select(
            StageChange.attributed_event_id,
            StageChange.event_id,
            StageChange.receipt_id,
            StageChange.crm,
            StageChange.object_type,
            StageChange.stage,
            StageChange.status,
            StageChange.entered_at,
        )
        .where(StageChange.record_id == record_id)
        .order_by(StageChange.id.desc())
        .limit(limit)
    ).all()
    matches = []
    for r in rows:
        key = r.attributed_event_id or r.event_id or (f"receipt:{r.receipt_id}" if r.receipt_id else None)
        if key:
            summary = f"{r.object_type} entered {r.stage}: {r.status}"
            matches.append(Match(key, "CRM record", r.crm, as_utc(r.entered_at), summary))
    return matches
