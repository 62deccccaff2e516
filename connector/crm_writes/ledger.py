"""CRM-write rows in the ledger: queue one per submission, claim them for a batch, record each outcome.

Life of a row: pending -> sending -> written | failed; a batch that could not be sent goes back to pending.
Every outcome update is fenced on status = sending, so a result is recorded once whatever the retries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connector.config import Settings
from connector.context import Context
from connector.crm.base import CrmError, PermanentError, UpsertResult
from connector.crm.configured import crm_enabled, crm_mappings
from connector.journal import record
from connector.store.models import CrmWrite, Receipt, Submission
from connector.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)


class WriteStatus:
    """Life of a CRM write: pending -> sending -> written, or failed (rejected for good)."""

    PENDING = "pending"
    SENDING = "sending"
    WRITTEN = "written"
    FAILED = "failed"


@dataclass(frozen=True)
class ClaimedWrite:
    """A claimed row with what the adapter needs: the submission's values and where to journal."""

    id: int
    crm: str
    object_type: str
    attempts: int
    last_error: str | None
    event_id: str | None
    receipt_id: int
    submission_id: int
    email: str | None
    source: str
    form_id: str | None
    contact: dict[str, Any]
    attribution: dict[str, Any]


def queue_crm_write(
    settings: Settings, session: Session, receipt: Receipt, row: Submission
) -> CrmWrite | None:
    """Add the pending write for this submission in the caller's transaction (None: no CRM, no mapping)."""
    if not crm_enabled(settings):
        return None
    crm = settings.crm.provider
    mapping = crm_mappings(settings).for_submission(crm, row.source, row.form_id)
    if mapping is None:
        record(
            session, "crm", f"no {crm} write mapping applies to this submission: not sent", receipt=receipt
        )
        return None
    existing = session.scalar(
        select(CrmWrite).where(
            CrmWrite.submission_id == row.id, CrmWrite.crm == crm, CrmWrite.object_type == mapping.object
        )
    )
    if existing is not None:  # the receipt job ran again: the write is already queued (or done)
        return existing
    write = CrmWrite(
        submission_id=row.id, event_id=row.event_id, crm=crm, object_type=mapping.object, status="pending"
    )
    session.add(write)
    session.flush()
    record(
        session,
        "crm",
        f"{crm} {mapping.object} write queued ({mapping.path.name})",
        receipt=receipt,
        details={"crm_write_id": write.id},
    )
    return write


def pending_writes(ctx: Context, limit: int, after_id: int = 0) -> list[tuple[int, datetime]]:
    """(id, created_at) of the oldest pending writes with an id above `after_id`."""
    with ctx.sessions() as session:
        rows = session.execute(
            select(CrmWrite.id, CrmWrite.created_at)
            .where(CrmWrite.status == WriteStatus.PENDING, CrmWrite.id > after_id)
            .order_by(CrmWrite.id)
            .limit(limit)
        ).all()
    return [(r.id, as_utc(r.created_at)) for r in rows]


def count_by_status(ctx: Context) -> dict[str, int]:
    with ctx.sessions() as session:
        rows = session.execute(select(CrmWrite.status, func.count()).group_by(CrmWrite.status)).all()
    return {status: n for status, n in rows}


def earlier_writes(ctx: Context, crm: str, object_type: str, emails: set[str]) -> dict[str, dict[str, Any]]:
    """Lowercased email -> the fields our earlier successful writes put on that person, oldest first.

    Compared as stored and lowercased (the indexed column, no function scan): an email typed with other
    capitals counts as unseen, which costs a read (or a failed create), never a wrong write.
    """
    wanted = sorted(emails | {e.strip().lower() for e in emails})
    if not wanted:
        return {}
    with ctx.sessions() as session:
        rows = session.execute(
            select(Submission.email, CrmWrite.fields_written)
            .join(CrmWrite, CrmWrite.submission_id == Submission.id)
            .where(
                CrmWrite.crm == crm,
                CrmWrite.object_type == object_type,
                CrmWrite.status == WriteStatus.WRITTEN,
                Submission.email.in_(wanted),
            )
            .order_by(CrmWrite.id)
        ).all()
    found: dict[str, dict[str, Any]] = {}
    for email, written in rows:
        found.setdefault(email.strip().lower(), {}).update(written or {})
    return found


def claim(ctx: Context, ids: list[int]) -> list[ClaimedWrite]:
    """Atomically move these pending rows to sending; returns only the rows this call took."""
    with ctx.sessions.begin() as session:
        taken = (
            session.execute(
                update(CrmWrite)
                .where(CrmWrite.id.in_(ids), CrmWrite.status == WriteStatus.PENDING)
                .values(status=WriteStatus.SENDING, updated_at=utcnow())
                .returning(CrmWrite.id)
            )
            .scalars()
            .all()
        )
        if not taken:
            return []
        rows = session.execute(
            select(CrmWrite, Submission)
            .join(Submission, Submission.id == CrmWrite.submission_id)
            .where(CrmWrite.id.in_(taken))
            .order_by(CrmWrite.id)
        ).all()
        return [
            ClaimedWrite(
                w.id,
                w.crm,
                w.object_type,
                w.attempts,
                w.last_error,
                w.event_id,
                s.receipt_id,
                s.id,
                s.email,
                s.source,
                s.form_id,
                dict(s.contact or {}),
                dict(s.attribution or {}),
            )
            for w, s in rows
        ]


def reclaim_abandoned(ctx: Context, lease_seconds: int) -> int:
    """Rows left in sending by a worker that died go back to pending."""
    cutoff = utcnow() - timedelta(seconds=lease_seconds)
    with ctx.sessions.begin() as session:
        count = session.execute(
            update(CrmWrite)
            .where(CrmWrite.status == WriteStatus.SENDING, CrmWrite.updated_at < cutoff)
            .values(status=WriteStatus.PENDING)
        ).rowcount
    if count:
        log.warning("%s crm write(s) abandoned by a dead worker are pending again", count)
    return count


def release(ctx: Context, writes: list[ClaimedWrite], error: CrmError, retry_in: float) -> None:
    """The batch could not be sent: back to pending, untouched attempts (the records were never judged)."""
    message = f"{type(error).__name__}: {error}"[:4000]
    with ctx.sessions.begin() as session:
        session.execute(
            update(CrmWrite)
            .where(CrmWrite.id.in_([w.id for w in writes]), CrmWrite.status == WriteStatus.SENDING)
            .values(status=WriteStatus.PENDING, last_error=message)
        )
        for w in writes:
            if w.last_error != message:  # one journal line per distinct problem, not per retry
                record(
                    session,
                    "crm-retry",
                    f"{w.crm} {w.object_type} not written: {message[:300]}; kept pending, retry in {retry_in:g}s",
                    receipt_id=w.receipt_id,
                    event_id=w.event_id,
                    details={"crm_write_id": w.id},
                )


def _outcome(result: UpsertResult) -> str:
    if result.created:
        return "created"
    note = result.note.lower()
    if "duplicate" in note or "rule" in note:
        return "updated (duplicate rule)"
    if "records match" in note:
        return "updated (multiple match)"
    if "409" in note:
        return "updated (existing id)"
    return "updated"


def record_results(
    ctx: Context, writes: list[ClaimedWrite], results: list[UpsertResult], max_attempts: int
) -> list[float]:
    """Store each record's outcome (fenced on sending); returns the delays asked by per-record retries."""
    by_key = {r.key: r for r in results}
    retry_delays: list[float] = []
    with ctx.sessions.begin() as session:
        for w in writes:
            result = by_key.get(str(w.id)) or UpsertResult(
                str(w.id), error=PermanentError("no result", "NO_RESULT")
            )
            where = (CrmWrite.id == w.id) & (CrmWrite.status == WriteStatus.SENDING)
            attempts = w.attempts + 1
            if result.ok:
                outcome = _outcome(result)
                values: dict[str, Any] = {
                    "status": WriteStatus.WRITTEN,
                    "crm_object_id": result.record_id,
                    "outcome": outcome,
                    "fields_written": dict(result.written),
                    "last_error": None,
                }
                message = (
                    f"{w.crm} {w.object_type} {result.record_id} {outcome}: {len(result.written)} field(s)"
                )
                message += f"; {result.note}" if result.note else ""
                kind = "crm"
            else:
                error = result.error
                retry = not isinstance(error, PermanentError) and attempts < max_attempts
                values = {
                    "status": WriteStatus.PENDING if retry else WriteStatus.FAILED,
                    "outcome": None if retry else "rejected",
                    "last_error": f"{type(error).__name__}: {error}"[:4000],
                }
                if retry:
                    retry_delays.append(float(getattr(error, "delay", 30.0)))
                message = f"{w.crm} {w.object_type} {'will retry' if retry else 'rejected'}: {error}"
                kind = "crm-retry" if retry else "crm-failed"
            values["attempts"] = attempts
            done = session.execute(update(CrmWrite).where(where).values(**values)).rowcount
            if not done:
                log.warning(
                    "crm_write_id=%s event_id=%s: result discarded, row no longer sending", w.id, w.event_id
                )
                continue
            record(
                session,
                kind,
                message[:1000],
                receipt_id=w.receipt_id,
                event_id=w.event_id,
                details={
                    "crm_write_id": w.id,
                    "record_id": result.record_id,
                    "fields": sorted(result.written),
                },
            )
    return retry_delays
