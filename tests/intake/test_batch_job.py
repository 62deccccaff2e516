"""Intake's batch job keeps its receipts in one transaction, yet each receipt's outcome is its own."""

from __future__ import annotations

import json
from datetime import timedelta

from rq import SimpleWorker
from rq.job import Job, JobStatus
from rq.utils import utcformat
from sqlalchemy import event, select, update

from connector import context
from connector.intake.ledger import enqueue_receipts, new_batch_job_id
from connector.jobs.receipts import TRANSACTION_RECEIPTS, process_receipts, sweep_receipts
from connector.queue.defaults import job_lease_seconds
from connector.queue.push import push
from connector.queue.take import give_back, take_queued
from connector.store.models import FormEventClaim, JournalEntry, Receipt, Submission
from connector.timeutil import utcnow

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


def test_a_worker_takes_in_the_batch_jobs_queued_behind_one_and_each_finishes_with_its_own_outcomes(ctx):
    """After a burst, one batch job claims and keeps the receipts of the batch jobs waiting behind it with
    its own (one claim, one commit); every job still ends finished with its own receipts' outcomes, and a
    job of another kind behind them is left to run as ever."""
    context.install(ctx)
    sizes = [2, 3, 1]
    batches = [
        [store(ctx, "generic", f"k{b}-{n}", lead(10 * b + n)) for n in range(k)] for b, k in enumerate(sizes)
    ]
    job_ids = [new_batch_job_id() for _ in batches]
    for ids, job_id in zip(batches, job_ids, strict=True):
        assert enqueue_receipts(ctx, ids, job_id)
    push(ctx, "operator.add", 2, 3, job_id="other-add", description="add", failure_ttl=60)
    commits = []

    def count(_connection):  # type: ignore[no-untyped-def]
        commits.append(1)

    event.listen(ctx.engine, "commit", count)
    try:
        SimpleWorker([ctx.queue], connection=ctx.redis).work(burst=True)
    finally:
        event.remove(ctx.engine, "commit", count)
    assert len(commits) == 2, "one claim and one commit for the three batches' six receipts"
    for ids, job_id in zip(batches, job_ids, strict=True):
        job = Job.fetch(job_id, connection=ctx.redis)
        assert job.get_status() == JobStatus.FINISHED
        assert job.return_value() == {"processed": len(ids)}
        assert all(journal(ctx, i) == ["processing", "submission", "processed"] for i in ids)
    assert Job.fetch("other-add", connection=ctx.redis).return_value() == 5
    assert ctx.queue.count == 0


def test_taken_jobs_given_back_run_again_as_queued_jobs(ctx):
    """A taker that cannot do their work gives the jobs back to the head of the queue, in their order;
    a worker then runs them as any queued job."""
    context.install(ctx)
    batches = [[store(ctx, "generic", f"k{b}", lead(b))] for b in range(2)]
    job_ids = [new_batch_job_id() for _ in batches]
    for ids, job_id in zip(batches, job_ids, strict=True):
        enqueue_receipts(ctx, ids, job_id)
    taken = take_queued(ctx, "intake-", 5, "a-worker")
    assert [job.id for job in taken] == job_ids
    assert [job.args for job in taken] == [(ids,) for ids in batches]
    assert ctx.queue.count == 0
    assert all(Job.fetch(i, connection=ctx.redis).get_status() == JobStatus.STARTED for i in job_ids)
    give_back(ctx, taken)
    assert ctx.queue.job_ids == job_ids
    SimpleWorker([ctx.queue], connection=ctx.redis).work(burst=True)
    for ids, job_id in zip(batches, job_ids, strict=True):
        assert Job.fetch(job_id, connection=ctx.redis).return_value() == {"processed": 1}
        assert status(ctx, ids[0]) == "processed"


def test_jobs_a_dead_worker_had_taken_are_left_to_the_sweeper_once_their_lease_is_over(ctx):
    """A worker died holding a taken batch job: the job reads as started (alive) for the lease, so the
    sweeper leaves its receipts; once the lease is over the sweeper enqueues each receipt again, and a
    worker processes each exactly once."""
    context.install(ctx)
    ids = [store(ctx, "generic", f"k{n}", lead(n)) for n in range(2)]
    job_id = new_batch_job_id()
    with ctx.sessions.begin() as session:  # stored a while ago by a group commit that queued job_id
        stored_at = utcnow() - timedelta(minutes=5)
        session.execute(
            update(Receipt).where(Receipt.id.in_(ids)).values(job_id=job_id, received_at=stored_at)
        )
    enqueue_receipts(ctx, ids, job_id)
    [taken] = take_queued(ctx, "intake-", 5, "a-worker-that-dies")
    assert sweep_receipts(ctx) == 0, "taken within the lease: alive"
    lease = job_lease_seconds(ctx.settings)
    ctx.redis.hset(taken.key, "started_at", utcformat(utcnow() - timedelta(seconds=lease + 1)))
    assert sweep_receipts(ctx) == 2
    SimpleWorker([ctx.queue], connection=ctx.redis).work(burst=True)
    assert [status(ctx, i) for i in ids] == ["processed"] * 2
    assert all(journal(ctx, i) == ["processing", "submission", "processed"] for i in ids)
