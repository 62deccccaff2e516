"""CRM-write rows in the ledger: queue one per submission, claim them for a batch, record each outcome.

Life of a row: pending -> sending -> written | failed; a batch that could not be sent goes back to pending.
Rows are leased (`connector.queue.ledgers.CRM_WRITES`): every outcome is written only where the row still
holds the claim's token, so a result is recorded once whatever the retries, and a worker that lost its
lease cannot overwrite the result of the one that took over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.context import Context
from connector.crm.base import CrmError, PermanentError, UpsertResult
from connector.journal import record
from connector.queue.defaults import job_lease_seconds
from connector.queue.ledgers import CRM_WRITES
from connector.store.models import CrmWrite, Receipt, Submission, WriteStatus
from connector.timeutil import as_utc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimedWrite:
    """A claimed row with what the adapter needs: the submission's values and where to journal."""

    id: int
    token: str
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


def queue_crm_write(ctx: Context, session: Session, receipt: Receipt, row: Submission) -> CrmWrite | None:
    """Add the pending write for this submission in the caller's transaction (None: no CRM, no mapping)."""
    if not ctx.crm_enabled:
        return None
    crm = ctx.settings.crm.provider
    mapping = ctx.mappings.for_submission(crm, row.source, row.form_id)
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
        submission_id=row.id,
        event_id=row.event_id,
        crm=crm,
        object_type=mapping.object,
        status=WriteStatus.PENDING,
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
    """(id, created_at) of the oldest ready writes (due, or left by a dead worker) above `after_id`."""
    with ctx.sessions() as session:
        # Per half of `ready` (status index ranges): one OR read the table's written history in id order.
        rows = CRM_WRITES.ready_rows(
            session, (CrmWrite.id, CrmWrite.created_at), CrmWrite.id > after_id, limit=limit
        )
    return [(r.id, as_utc(r.created_at)) for r in rows]


def overdue_write(ctx: Context) -> bool:
    """Is any write waiting past its time with nobody holding it (for the sweeper)?"""
    with ctx.sessions() as session:
        return CRM_WRITES.has_overdue(session, ctx.settings.jobs.sweep_grace_seconds)


def seconds_until_next_write(ctx: Context) -> float | None:
    """When the next write becomes ready (0: now; None: none waits), for the flush's own follow-up."""
    with ctx.sessions() as session:
        return CRM_WRITES.seconds_until_ready(session)


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
    """Lease these ready rows for one batch; returns only the rows this call took."""
    with ctx.sessions.begin() as session:
        claimed = CRM_WRITES.claim(session, job_lease_seconds(ctx.settings), ids=ids)
        taken = claimed.ids
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
                claimed.token,
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


def release(ctx: Context, writes: list[ClaimedWrite], error: CrmError, retry_in: float) -> None:
    """The batch could not be sent: back to pending, untouched attempts (the records were never judged)."""
    message = f"{type(error).__name__}: {error}"[:4000]
    with ctx.sessions.begin() as session:
        for token in {w.token for w in writes}:
            ids = [w.id for w in writes if w.token == token]
            CRM_WRITES.release(session, token, ids, retry_in, last_error=message)
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
            attempts = w.attempts + 1
            retry_in: float | None = None
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
                    retry_in = float(getattr(error, "delay", None) or 30.0)
                    retry_delays.append(retry_in)
                message = f"{w.crm} {w.object_type} {'will retry' if retry else 'rejected'}: {error}"
                kind = "crm-retry" if retry else "crm-failed"
            values["attempts"] = attempts
            if retry_in is not None:
                done = CRM_WRITES.release(session, w.token, [w.id], retry_in, **values)
            else:
                done = CRM_WRITES.finish(session, w.token, [w.id], **values)
            if not done:
                log.warning("crm_write_id=%s event_id=%s: lease lost, result discarded", w.id, w.event_id)
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
