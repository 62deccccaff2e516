"""The local record of a submission: one row per receipt, whatever the retries; one lead per form event_id."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.intake.submission import Submission
from connector.journal import record
from connector.store.fit import fit_value
from connector.store.models import FormEventClaim, Receipt
from connector.store.models import Submission as SubmissionRow
from connector.store.upsert import insert_new
from connector.timeutil import as_utc, utcnow

NO_SUBMISSION_YET = "connector.no_submission_yet"
"""session.info key: ids of receipts the caller's transaction found without a submission row (their
rows locked by its fence), so `save_submission` inserts without a SELECT each."""


PREPARED = "connector.prepared_submissions"
"""session.info key: receipt id -> its `Prepared` (connector.intake.prepared), taken by its processing."""


@dataclass(frozen=True)
class Prepared:
    """What the batch job found for one form receipt before its processing."""

    submission: Submission
    """The parsed submission with its channels classified."""
    holder: int | None
    """The receipt whose lead this event_id already is (this one is its duplicate), else None."""
    row: SubmissionRow | None
    """Its newly inserted submission row (persistent in the session); None for a duplicate, or when a
    row from an earlier attempt exists (`save_submission` then refreshes it)."""


def take_prepared(session: Session, receipt_id: int) -> Prepared | None:
    """What was prepared for this receipt in this transaction (once), else None."""
    prepared = session.info.get(PREPARED)
    return prepared.pop(receipt_id, None) if prepared else None


def note_receipts_without_submission(session: Session, receipt_ids: list[int]) -> None:
    """One SELECT for a batch of receipts (after their fence): which ones have no submission row yet."""
    with session.no_autoflush:
        have = set(
            session.scalars(select(SubmissionRow.receipt_id).where(SubmissionRow.receipt_id.in_(receipt_ids)))
        )
    session.info[NO_SUBMISSION_YET] = set(receipt_ids) - have


def save_submission(
    session: Session, receipt: Receipt, submission: Submission, inserted: SubmissionRow | None = None
) -> SubmissionRow:
    """Insert or refresh the submission row for this receipt (one per receipt, whatever the retries);
    `inserted` is the row the batch job already inserted for it (connector.intake.prepared)."""
    if inserted is not None:
        _journal_saved(session, receipt, submission, inserted)
        return inserted
    fresh = session.info.get(NO_SUBMISSION_YET, set())
    if receipt.id in fresh:
        fresh.discard(receipt.id)  # a second save of it in this transaction finds the row
        row = None
    else:
        row = session.scalar(select(SubmissionRow).where(SubmissionRow.receipt_id == receipt.id))
    if row is None:
        row = SubmissionRow(receipt_id=receipt.id)
        session.add(row)
    fill_submission_row(row, receipt, submission)
    session.flush()
    _journal_saved(session, receipt, submission, row)
    return row


def fill_submission_row(row: SubmissionRow, receipt: Receipt, submission: Submission) -> SubmissionRow:
    """Set what the submission says on its row (new or kept from an earlier attempt)."""
    row.source = submission.source
    row.kind = submission.kind
    row.form_id = submission.form_id
    row.event_id = submission.event_id
    row.email = submission.contact.email
    row.contact = submission.contact.to_dict()
    row.attribution = submission.attribution.to_dict()
    row.meta = submission.meta
    row.submitted_at = submission.submitted_at or as_utc(receipt.received_at)
    return row


def _journal_saved(session: Session, receipt: Receipt, submission: Submission, row: SubmissionRow) -> None:
    record(
        session,
        "submission",
        f"{submission.kind} from {submission.source} kept as the local record",
        receipt=receipt,
        details={"submission_id": row.id, "email": bool(submission.contact.email)},
    )


def claim_form_event(session: Session, receipt: Receipt, submission: Submission) -> int | None:
    """Take the submission's event_id for this receipt, in the caller's transaction; return the receipt that
    already holds it when that is another one (this submission is then its duplicate), else None.

    The claim is a primary key: of two transactions inserting the same event_id, the second waits for the
    first and then finds its row, so concurrent deliveries by two workers still make one lead. Only form
    submissions claim; a replay of the holder finds its own claim.
    """
    if submission.kind != "form" or not submission.event_id:
        return None
    with session.no_autoflush:  # Core statements on the claims table: pending journal lines can wait
        return _claim_form_event(session, receipt, submission, submission.event_id)


def _claim_form_event(
    session: Session, receipt: Receipt, submission: Submission, event_id: str
) -> int | None:
    taken = session.scalar(
        insert_new(
            session,
            FormEventClaim,
            ["event_id"],
            event_id=event_id,
            receipt_id=receipt.id,
            source=submission.source,
            created_at=utcnow(),
        ).returning(FormEventClaim.receipt_id)
    )
    if taken is not None:  # the first claim of this event_id: no second round trip to read it back
        return None
    holder = session.scalar(
        select(FormEventClaim.receipt_id).where(
            FormEventClaim.event_id == fit_value(FormEventClaim, "event_id", event_id)
        )
    )
    return holder if holder is not None and holder != receipt.id else None


def record_duplicate_event(
    session: Session, receipt: Receipt, submission: Submission, holder_id: int
) -> None:
    """Journal that this receipt's submission is the lead another receipt already kept."""
    holder = session.get(Receipt, holder_id)
    via = f" ({holder.source})" if holder is not None else ""
    record(
        session,
        "duplicate",
        f"{submission.kind} from {submission.source} is a duplicate of receipt #{holder_id}{via}: "
        f"event_id {submission.event_id} is already a lead; no CRM write, no conversion",
        receipt=receipt,
        details={"duplicate_of_receipt": holder_id, "event_id": submission.event_id},
    )
