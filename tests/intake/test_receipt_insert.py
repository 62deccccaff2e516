"""The group commit's driver-level INSERT and its one-command enqueue, on both databases and a real RQ."""

from __future__ import annotations

import contextlib

import pytest
from rq import SimpleWorker
from rq.job import Job, JobStatus
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from connector.intake.receipt_insert import commit_new_receipts, insert_new_receipts
from connector.queue.push import push
from connector.store.models import Receipt
from connector.timeutil import utcnow


def row(key: str, **changes) -> dict:  # type: ignore[no-untyped-def]
    return {
        "source": "generic",
        "delivery_key": key,
        "event_id": f"evt-{key}",
        "received_at": utcnow(),
        "content_type": "application/json",
        "headers": {"user-agent": "ünïcode/1.0", "x-delivery-id": key},
        "body": b'{"email": "a@example.com"}\x00\xff',
        "status": "received",
        "attempts": 0,
        "duplicates": 0,
        "job_id": "intake-test-1",
        **changes,
    }


def test_new_rows_come_back_with_their_ids_and_read_as_sqlalchemy_stored_them(ctx):
    rows = [row("a"), row("b", event_id=None, headers={})]
    with ctx.engine.begin() as connection:
        inserted = insert_new_receipts(connection, rows)
    with ctx.sessions() as session:
        stored = {r.delivery_key: r for r in session.scalars(select(Receipt))}
    assert {(r.source, r.delivery_key): r.id for r in inserted} == {
        ("generic", key): stored[key].id for key in ("a", "b")
    }
    for given in rows:
        kept = stored[given["delivery_key"]]
        for name in ("event_id", "content_type", "headers", "body", "status", "attempts", "job_id"):
            assert getattr(kept, name) == given[name], name
        assert kept.received_at.replace(tzinfo=None) == given["received_at"].replace(tzinfo=None)


def test_a_known_delivery_key_comes_back_as_no_row_and_leaves_the_stored_one_alone(ctx):
    with ctx.engine.begin() as connection:
        [first] = insert_new_receipts(connection, [row("a")])
    with ctx.engine.begin() as connection:
        again = insert_new_receipts(connection, [row("a", body=b"other"), row("c")])
    assert [r.delivery_key for r in again] == ["c"]
    with ctx.sessions() as session:
        assert session.get(Receipt, first.id).body == row("a")["body"]


@contextlib.contextmanager
def autocommit(ctx):  # type: ignore[no-untyped-def]
    """A connection as the group commit holds it: its driver commits each statement."""
    with ctx.engine.connect() as connection:
        if ctx.engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


def stored_ids(ctx) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return {r.delivery_key: r.id for r in session.scalars(select(Receipt))}


def test_a_committed_batch_answers_each_new_row_with_the_id_it_was_stored_under(ctx):
    with autocommit(ctx) as connection:
        first = commit_new_receipts(connection, [row("a"), row("b"), row("c")])
        # known keys among new ones, first and last: only the new ones come back, with their own ids
        second = commit_new_receipts(connection, [row("a"), row("d"), row("b"), row("e"), row("c")])
        third = commit_new_receipts(connection, [row("d"), row("e")])
    ids = stored_ids(ctx)
    assert sorted(first) == sorted((ids[key], "generic", key) for key in "abc")
    assert sorted(second) == sorted((ids[key], "generic", key) for key in "de")
    assert third == []
    assert len(ids) == 5


def test_a_committed_batch_is_durable_without_a_transaction_around_it(ctx):
    with autocommit(ctx) as connection:
        commit_new_receipts(connection, [row("a")])
        # the connection is still open and holds nothing: another one sees the row, and can write
        with ctx.engine.begin() as other:
            insert_new_receipts(other, [row("b")])
    assert set(stored_ids(ctx)) == {"a", "b"}


def test_a_pushed_job_is_the_job_rq_would_queue_and_an_rq_worker_runs_it(ctx):
    push(ctx, "operator.add", 2, 3, job_id="intake-test-push", description="add", failure_ttl=60)
    job = Job.fetch("intake-test-push", connection=ctx.redis)
    assert job.get_status() == JobStatus.QUEUED
    assert (job.func_name, job.args, job.description, job.origin) == (
        "operator.add",
        (2, 3),
        "add",
        ctx.queue.name,
    )
    assert (job.timeout, job.failure_ttl) == (ctx.settings.jobs.job_timeout_seconds, 60)
    assert job.enqueued_at is not None
    assert ctx.queue.job_ids == ["intake-test-push"]
    assert ctx.queue.name in [queue.name for queue in type(ctx.queue).all(connection=ctx.redis)]
    SimpleWorker([ctx.queue], connection=ctx.redis).work(burst=True)
    assert Job.fetch("intake-test-push", connection=ctx.redis).return_value() == 5


def test_each_pushed_job_carries_its_own_arguments_and_description(ctx):
    for n in range(3):
        push(ctx, "operator.add", n, 10, job_id=f"intake-test-{n}", description=f"add {n}", failure_ttl=60)
    jobs = [Job.fetch(f"intake-test-{n}", connection=ctx.redis) for n in range(3)]
    assert [(job.args, job.description) for job in jobs] == [((n, 10), f"add {n}") for n in range(3)]
    assert all(job.created_at is not None and job.enqueued_at is not None for job in jobs)
    SimpleWorker([ctx.queue], connection=ctx.redis).work(burst=True)
    results = [Job.fetch(f"intake-test-{n}", connection=ctx.redis).return_value() for n in range(3)]
    assert results == [10, 11, 12]


def test_a_push_survives_redis_forgetting_the_script_and_dropping_the_connection(ctx):
    push(ctx, "operator.add", 1, 1, job_id="intake-test-a", description="a", failure_ttl=60)
    ctx.redis.script_flush()  # as after a Redis restart: the script must be loaded again
    push(ctx, "operator.add", 2, 2, job_id="intake-test-b", description="b", failure_ttl=60)
    held = ctx.__dict__["pusher"].client
    ctx.redis.client_kill_filter(_id=held.client_id())  # the held connection dropped under it
    push(ctx, "operator.add", 3, 3, job_id="intake-test-c", description="c", failure_ttl=60)
    # both at once, as when Redis comes back from a restart
    ctx.redis.client_kill_filter(_id=held.client_id())
    ctx.redis.script_flush()
    push(ctx, "operator.add", 4, 4, job_id="intake-test-d", description="d", failure_ttl=60)
    assert ctx.queue.job_ids == ["intake-test-a", "intake-test-b", "intake-test-c", "intake-test-d"]


def test_a_commit_the_database_refuses_names_none_of_the_rows_values(ctx):
    person = b'{"email": "ada@example.com"}'
    with autocommit(ctx) as connection, pytest.raises(IntegrityError) as refused:
        commit_new_receipts(connection, [row("a", status=None, body=person)])
    assert "ada@example.com" not in str(refused.value), "a body's personal data would reach the log"
    assert "hidden" in str(refused.value)
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Receipt)) == 0
