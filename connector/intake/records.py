"""The local record of a submission: one row per receipt, whatever the retries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.intake.submission import Submission
from connector.journal import record
from connector.store.models import Receipt
from connector.store.models import Submission as SubmissionRow
from connector.timeutil import as_utc


def save_submission(session: Session, receipt: Receipt, submission: Submission) -> SubmissionRow:
    """Insert or refresh the submission row for this receipt (one per receipt, whatever the retries)."""
    row = session.scalar(select(SubmissionRow).where(SubmissionRow.receipt_id == receipt.id))
    if row is None:
        row = SubmissionRow(receipt_id=receipt.id)
        session.add(row)
    row.source = submission.source
    row.kind = submission.kind
    row.form_id = submission.form_id
    row.event_id = submission.event_id
    row.email = submission.contact.email
    row.contact = submission.contact.to_dict()
    row.attribution = submission.attribution.to_dict()
    row.meta = submission.meta
    row.submitted_at = submission.submitted_at or as_utc(receipt.received_at)
    session.flush()
    record(
        session,
        "submission",
        f"{submission.kind} from {submission.source} kept as the local record",
        receipt=receipt,
        details={"submission_id": row.id, "email": bool(submission.contact.email)},
    )
    return row
