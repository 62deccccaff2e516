"""The batch job's form receipts, prepared together: their event claims in one INSERT and the new leads'
submission rows in one flush (one INSERT on PostgreSQL), where each receipt alone costs two round trips.

Each receipt is then processed as before (`SubmissionSource.process`), in batch order, and finds what
was prepared for it: whether its event_id is another receipt's lead, and its row. Two receipts of one
event_id in a batch behave as they would one after the other: the first is the lead, the second its
duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.intake.base import Delivery, Source, SubmissionSource
from connector.intake.classification import with_channels
from connector.intake.records import NO_SUBMISSION_YET, PREPARED, Prepared, fill_submission_row
from connector.intake.submission import Submission
from connector.store.fit import fit_value, fit_values
from connector.store.models import FormEventClaim, Receipt
from connector.store.models import Submission as SubmissionRow
from connector.store.upsert import insert_ignoring_conflicts
from connector.timeutil import utcnow


def prepared_alike(source: Source[Any]) -> bool:
    """Whether `source` processes its receipts with `SubmissionSource.process` itself (which takes what
    was prepared); others (bookings, beacons, CRM sources) process theirs as ever."""
    return isinstance(source, SubmissionSource) and type(source).process is SubmissionSource.process


def prepare_run(session: Session, items: Sequence[tuple[Receipt, tuple[Source[Any], Delivery]]]) -> int:
    """Prepare the leading run of `items` whose sources are `prepared_alike`; returns its length.

    Only a run of consecutive ones: a receipt of another source between them is processed before the
    next run's claims and rows are written, as it was when every receipt wrote its own."""
    run: list[tuple[Receipt, Submission]] = []
    for receipt, (source, parsed) in items:
        if not prepared_alike(source):
            break
        run.append((receipt, with_channels(parsed)))  # type: ignore[arg-type]
    if not run:
        return 0
    holders = _claim_events(session, run)
    fresh = session.info.get(NO_SUBMISSION_YET, set())
    new = [(r, s) for r, s in run if holders.get(r.id) is None and r.id in fresh]
    rows = _insert_rows(session, new)
    fresh.difference_update(rows)
    prepared = session.info.setdefault(PREPARED, {})
    for receipt, submission in run:
        prepared[receipt.id] = Prepared(submission, holders.get(receipt.id), rows.get(receipt.id))
    return len(run)


def _claim_events(session: Session, run: list[tuple[Receipt, Submission]]) -> dict[int, int | None]:
    """Receipt id -> the receipt holding its event_id when that is another one, for every form
    submission of the run with an event_id; the first of the run to name an unclaimed event_id takes it."""
    keys: dict[int, str] = {}
    first: dict[str, int] = {}
    rows = []
    now = utcnow()
    for receipt, submission in run:
        if submission.kind != "form" or not submission.event_id:
            continue
        key = keys[receipt.id] = fit_value(FormEventClaim, "event_id", submission.event_id)
        if key not in first:
            first[key] = receipt.id
            values = {
                "event_id": key,
                "receipt_id": receipt.id,
                "source": submission.source,
                "created_at": now,
            }
            rows.append(fit_values(FormEventClaim, values)[0])
    if not rows:
        return {}
    rows.sort(key=lambda row: row["event_id"])  # one lock order for every worker: no deadlock between two
    with session.no_autoflush:  # Core statements on the claims table: pending journal lines can wait
        dialect = session.get_bind().dialect.name
        claims = FormEventClaim.__table__
        statement = insert_ignoring_conflicts(dialect, claims, ["event_id"]).returning(claims.c.event_id)
        taken = set(session.scalars(statement, rows))  # one statement: executemany's multi-row VALUES
        holder = {key: first[key] for key in taken}
        held = [key for key in first if key not in taken]
        if held:
            found = select(FormEventClaim.event_id, FormEventClaim.receipt_id)
            holder.update(session.execute(found.where(FormEventClaim.event_id.in_(held))).all())
    result: dict[int, int | None] = {}
    for receipt_id, key in keys.items():
        other = holder.get(key)
        result[receipt_id] = other if other is not None and other != receipt_id else None
    return result


def _insert_rows(session: Session, new: list[tuple[Receipt, Submission]]) -> dict[int, SubmissionRow]:
    """Add the submission rows of receipts that have none and flush them together: the ORM writes them
    in one INSERT (its multi-row VALUES ... RETURNING), with every hook of a row's insert."""
    rows = {r.id: fill_submission_row(SubmissionRow(receipt_id=r.id), r, s) for r, s in new}
    if rows:
        session.add_all(rows.values())
        session.flush()
    return rows
