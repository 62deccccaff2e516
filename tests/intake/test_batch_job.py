"""Intake's batch job keeps its receipts in one transaction, yet each receipt's outcome is its own."""

from __future__ import annotations

import json

from sqlalchemy import event, select, update

from connector import context
from connector.jobs.receipts import TRANSACTION_RECEIPTS, process_receipts
from connector.store.models import FormEventClaim, JournalEntry, Receipt, Submission

URL = "/webhooks/forms/generic"


def store(ctx, source: str, key: str, body: dict | bytes) -> int:  # type: ignore[no-untyped-def]
    with ctx.sessions.begin() as session:
        receipt = Receipt(
            source=source,
            delivery_key=key,
            event_id=key,
            body=body if isinstance(body, bytes) else json.dumps(body).encode(),
            content_type="application/json",
        )
        session.add(receipt)
    return receipt.id


def lead(n: int) -> dict:
    return {"email": f"lead{n}@example.com", "event_id": f"evt-{n}", "latest_utm_source": "chatgpt.com"}


def journal(ctx, receipt_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return list(
            session.scalars(
                select(JournalEntry.kind)
                .where(JournalEntry.receipt_id == receipt_id)
                .order_by(JournalEntry.id)
            )
        )


def status(ctx, receipt_id: int) -> str:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return session.scalar(select(Receipt.status).where(Receipt.id == receipt_id))


def test_a_batch_is_kept_with_one_commit_for_all_its_receipts(ctx):
    context.install(ctx)
    ids = [store(ctx, "generic", f"k{n}", lead(n)) for n in range(10)]
    commits = []

    def count(_connection):  # type: ignore[no-untyped-def]
        commits.append(1)

    event.listen(ctx.engine, "commit", count)
    try:
        assert process_receipts(ids) == {"processed": 10}
    finally:
        event.remove(ctx.engine, "commit", count)
    assert len(commits) == 2, "one commit for the claims, one for what the ten receipts deliver"
    assert [status(ctx, i) for i in ids] == ["processed"] * 10
    assert all(journal(ctx, i) == ["processing", "submission", "processed"] for i in ids)
    with ctx.sessions() as session:
        assert session.scalar(select(Submission.email).where(Submission.receipt_id == ids[3])) == (
            "lead3@example.com"
        )


def test_a_failing_receipt_fails_alone_and_the_rest_of_its_batch_is_processed(ctx):
    context.install(ctx)
    ids = [store(ctx, "generic", f"k{n}", lead(n)) for n in range(3)]
    broken = store(ctx, "generic", "broken", b'{"email": ')
    retired = store(ctx, "retired_plugin", "retired", b"{}")
    ids += [store(ctx, "generic", f"k{n}", lead(n)) for n in range(3, 5)]
    outcomes = process_receipts([*ids[:3], broken, retired, *ids[3:]])
    assert outcomes == {"processed": 5, "failed": 1, "retry scheduled": 1}
    assert [status(ctx, i) for i in ids] == ["processed"] * 5
    assert all(journal(ctx, i) == ["processing", "submission", "processed"] for i in ids)
    assert status(ctx, broken) == "failed"
    assert journal(ctx, broken) == ["processing", "failed"], (
        "claimed once, failed once: no trace of the batch"
    )
    assert status(ctx, retired) == "retrying"
    assert journal(ctx, retired) == ["processing", "retry"]
    with ctx.sessions() as session:
        assert session.scalar(select(Receipt.attempts).where(Receipt.id == retired)) == 1


def test_two_copies_of_one_event_in_a_batch_make_one_lead(ctx):
    context.install(ctx)
    first = store(ctx, "generic", "a", lead(1))
    copy = store(ctx, "generic", "b", lead(1))  # another delivery of the same form event_id
    assert process_receipts([first, copy]) == {"processed": 2}
    with ctx.sessions() as session:
        assert session.scalars(select(Submission.receipt_id)).all() == [first]
        assert (
            session.scalar(select(FormEventClaim.receipt_id).where(FormEventClaim.event_id == "evt-1"))
            == first
        )
    assert journal(ctx, copy) == ["processing", "duplicate", "processed"]


def test_a_receipt_another_job_holds_is_skipped_and_a_processed_one_is_not_run_again(ctx):
    context.install(ctx)
    ids = [store(ctx, "generic", f"k{n}", lead(n)) for n in range(3)]
    assert process_receipts(ids[:1]) == {"processed": 1}
    assert process_receipts(ids) == {"skipped": 1, "processed": 2}
    assert journal(ctx, ids[0]) == ["processing", "submission", "processed"]


def test_a_lease_lost_in_the_batch_discards_only_that_receipts_result(ctx):
    """Another attempt took one receipt over between the claim and the commit: its result is not kept,
    the rest of the batch is."""
    context.install(ctx)
    ids = [store(ctx, "generic", f"k{n}", lead(n)) for n in range(3)]
    taken_over = ids[1]

    stolen = []

    def steal(_dbapi_connection, _record):  # type: ignore[no-untyped-def]
        if stolen:  # the first connection back is the claim's: its transaction is over
            return
        stolen.append(taken_over)
        with ctx.engine.begin() as other:  # another worker's claim of the same receipt
            other.execute(update(Receipt).where(Receipt.id == taken_over).values(attempt_token="other"))

    event.listen(ctx.engine, "checkin", steal)
    try:
        assert process_receipts(ids) == {"processed": 2, "lease lost": 1}
    finally:
        event.remove(ctx.engine, "checkin", steal)
    assert status(ctx, ids[0]) == status(ctx, ids[2]) == "processed"
    assert status(ctx, taken_over) == "processing"
    with ctx.sessions() as session:
        assert session.scalars(select(Submission.receipt_id).order_by(Submission.receipt_id)).all() == [
            ids[0],
            ids[2],
        ]


def test_a_large_batch_is_kept_in_transactions_of_bounded_size(ctx):
    context.install(ctx)
    ids = [store(ctx, "generic", f"k{n}", lead(n)) for n in range(TRANSACTION_RECEIPTS + 3)]
    assert process_receipts(ids) == {"processed": TRANSACTION_RECEIPTS + 3}
