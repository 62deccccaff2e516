"""Webhook -> real worker process -> ledger, including Redis outages and workers killed mid-job."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from datetime import timedelta

import pytest
import redis
from rq import Queue, Worker
from rq.job import Job, JobStatus
from sqlalchemy import create_engine, func, select, text, update

from bench.outage import RedisServer
from connector.app import create_app
from connector.jobs.receipts import enqueue_receipt, receipt_job_id
from connector.store.models import JournalEntry, Receipt, Submission
from tests.conftest import TOKEN, wait_for

URL = "/webhooks/forms/generic"
AUTH = {"X-Connector-Token": TOKEN}


def lead(n: int) -> dict:
    return {
        "email": f"lead{n}@example.com",
        "event_id": f"evt-{n}",
        "latest_utm_source": "chatgpt.com",
        "oppref": f"op{n}",
    }


def status_of(ctx, receipt_id: int) -> str:
    with ctx.sessions() as session:
        return session.scalar(select(Receipt.status).where(Receipt.id == receipt_id))


def count(ctx, model, *where) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def processed_journal_lines(ctx, receipt_id: int) -> int:
    return count(ctx, JournalEntry, JournalEntry.receipt_id == receipt_id, JournalEntry.kind == "processed")


def test_webhook_is_processed_by_a_real_worker(client, ctx, processes):
    ids = [client.post(URL, json=lead(n), headers=AUTH).get_json()["receipt_id"] for n in range(5)]
    processes.start("worker", name="worker")
    wait_for(lambda: all(status_of(ctx, i) == "processed" for i in ids), message="five receipts processed")
    with ctx.sessions() as session:
        rows = list(session.scalars(select(Submission).order_by(Submission.id)))
    assert [r.event_id for r in rows] == [f"evt-{n}" for n in range(5)]
    assert rows[0].email == "lead0@example.com"
    assert rows[0].attribution == {
        "latest_utm_source": "chatgpt.com",
        "oppref": "op0",
        "event_id": "evt-0",
        "latest_channel": "openai_ads",  # classified on the server: the form carried no channel
        "latest_ai_source": "openai_ads",  # oppref: a paid OpenAI click
    }
    assert rows[0].submitted_at is not None
    assert all(processed_journal_lines(ctx, i) == 1 for i in ids)


def test_redelivered_job_does_not_process_twice(client, ctx, processes):
    receipt_id = client.post(URL, json=lead(1), headers=AUTH).get_json()["receipt_id"]
    processes.start("worker", name="worker")
    wait_for(lambda: status_of(ctx, receipt_id) == "processed", message="receipt processed")
    enqueue_receipt(ctx, receipt_id, job_id="receipt-again")  # e.g. an operator or a bug enqueues it again
    wait_for(
        lambda: Job.fetch("receipt-again", connection=ctx.redis).get_status() == JobStatus.FINISHED,
        message="second job finished",
    )
    assert Job.fetch("receipt-again", connection=ctx.redis).return_value() == "skipped"
    assert count(ctx, Submission) == 1
    assert processed_journal_lines(ctx, receipt_id) == 1


def test_redis_down_during_intake_loses_nothing(ctx, processes, tmp_path):
    own = RedisServer(tmp_path)
    own.start()
    app = create_app(ctx.settings, redis_url=own.url)
    web = app.test_client()
    before = web.post(URL, json=lead(0), headers=AUTH).get_json()
    assert before["queued"] is True
    own.stop()
    during = [web.post(URL, json=lead(n), headers=AUTH) for n in range(1, 4)]
    assert [r.status_code for r in during] == [200, 200, 200]
    assert [r.get_json()["queued"] for r in during] == [False, False, False]
    own.start()  # Redis is back, empty: the job queued before the outage is gone too
    processes.env["REDIS_URL"] = own.url
    try:
        processes.with_sweeper().start("worker", name="worker")  # only the sweeper knows the stranded ones
        ids = [before["receipt_id"], *(r.get_json()["receipt_id"] for r in during)]
        wait_for(
            lambda: all(status_of(ctx, i) == "processed" for i in ids), timeout=30, message="all processed"
        )
        assert count(ctx, Submission) == 4
    finally:
        processes.stop_all()
        own.stop()


def _lock_database(database_url: str, table: str, locked: threading.Event, release: threading.Event) -> None:
    """Hold a write lock so the worker blocks inside its job (whole file for SQLite, one table for PostgreSQL)."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        locked.set()
        release.wait(60)
        connection.rollback()
    engine.dispose()


def test_worker_killed_mid_job_completes_after_restart_exactly_once(ctx, processes, database_url):
    processes.env["CONNECTOR_JOBS__JOB_TIMEOUT_SECONDS"] = "30"
    processes.with_sweeper()  # the abandoned lease is found by the sweeper: the recovery this test is about
    first = processes.start("worker", name="first")
    wait_for(lambda: Worker.count(queue=ctx.queue) > 0, message="first worker listening")
    with ctx.sessions.begin() as session:
        receipt = Receipt(
            source="generic",
            delivery_key="k:7",
            body=json.dumps(lead(7)).encode(),
            content_type="application/json",
        )
        session.add(receipt)
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_lock_database, args=(database_url, "submissions", locked, release))
    holder.start()
    assert locked.wait(10)
    try:
        enqueue_receipt(ctx, receipt.id)
        wait_for(
            lambda: (
                Job.fetch(receipt_job_id(receipt.id), connection=ctx.redis).get_status() == JobStatus.STARTED
            ),
            message="job started",
        )
        if ctx.engine.dialect.name == "postgresql":
            # PostgreSQL: the claim went through; the worker is stuck writing the submission.
            wait_for(lambda: status_of(ctx, receipt.id) == "processing", message="receipt claimed")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        release.set()
        holder.join()
    assert count(ctx, Submission) == 0
    _expire_claim(ctx, receipt.id)
    processes.start("worker", name="second")
    wait_for(lambda: status_of(ctx, receipt.id) == "processed", timeout=40, message="processed after restart")
    assert count(ctx, Submission) == 1
    assert processed_journal_lines(ctx, receipt.id) == 1


def _expire_claim(ctx, receipt_id: int) -> None:
    """Time passes: the dead worker's lease and its job's start move an hour into the past."""
    from datetime import timedelta

    from connector.timeutil import utcnow

    past = utcnow() - timedelta(hours=1)
    with ctx.sessions.begin() as session:
        session.execute(
            update(Receipt)
            .where(Receipt.id == receipt_id, Receipt.lease_until.is_not(None))
            .values(lease_until=past)
        )
    job = Job.fetch(receipt_job_id(receipt_id), connection=ctx.redis)
    job.started_at = past.replace(tzinfo=None)
    job.save()


def test_permanent_failure_is_kept_and_replay_runs_it_again(ctx, processes):
    with ctx.sessions.begin() as session:
        receipt = Receipt(
            source="generic", delivery_key="manual:1", body=b'{"email": ', content_type="application/json"
        )
        session.add(receipt)
    enqueue_receipt(ctx, receipt.id)
    processes.start("worker", name="worker")
    wait_for(lambda: status_of(ctx, receipt.id) == "failed", message="receipt failed")
    with ctx.sessions() as session:
        failed = session.get(Receipt, receipt.id)
    assert failed.attempts == 1, "a malformed body is permanent: no retries"
    assert "malformed JSON" in failed.last_error
    # The operator repairs the stored body, then replays the dead letter.
    with ctx.sessions.begin() as session:
        session.execute(
            update(Receipt).where(Receipt.id == receipt.id).values(body=json.dumps(lead(9)).encode())
        )
    result = subprocess.run(
        [*processes_command(), "replay", "--receipt", str(receipt.id)],
        env=processes.env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "1 receipt(s) queued again" in result.stdout
    wait_for(lambda: status_of(ctx, receipt.id) == "processed", message="replayed receipt processed")
    assert count(ctx, Submission) == 1


def processes_command() -> list[str]:
    import sys

    return [sys.executable, "-m", "connector"]


@pytest.fixture(autouse=True)
def _show_logs_on_failure(request, processes):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(processes.logs())


def test_unexpected_errors_are_retried_on_the_backoff_schedule_then_failed(ctx, processes):
    """A receipt from a source this version no longer has raises in the job: RQ itself retries it on the
    backoff schedule (the sweeper is off), then it is a dead letter; the rest of its batch is processed."""
    processes.env["CONNECTOR_JOBS__MAX_ATTEMPTS"] = "3"
    processes.env["CONNECTOR_JOBS__BACKOFF_SECONDS"] = "[2, 3]"
    processes.env["CONNECTOR_JOBS__SWEEP_INTERVAL_SECONDS"] = "0"
    with ctx.sessions.begin() as session:
        before = Receipt(
            source="generic",
            delivery_key="r:0",
            body=json.dumps(lead(1)).encode(),
            content_type="application/json",
        )
        receipt = Receipt(
            source="retired_plugin", delivery_key="r:1", body=b"{}", content_type="application/json"
        )
        after = Receipt(
            source="generic",
            delivery_key="r:2",
            body=json.dumps(lead(2)).encode(),
            content_type="application/json",
        )
        session.add_all([before, receipt, after])
    from connector.intake.ledger import enqueue_receipts, new_batch_job_id

    assert enqueue_receipts(ctx, [before.id, receipt.id, after.id], new_batch_job_id())
    processes.start("worker", name="worker")
    wait_for(
        lambda: status_of(ctx, after.id) == "processed", message="the receipt after the failing one processed"
    )
    assert status_of(ctx, before.id) == "processed"
    wait_for(
        lambda: status_of(ctx, receipt.id) == "failed", timeout=40, message="receipt failed after retries"
    )
    with ctx.sessions() as session:
        failed = session.get(Receipt, receipt.id)
        journal = session.scalars(
            select(JournalEntry).where(JournalEntry.receipt_id == receipt.id).order_by(JournalEntry.id)
        ).all()
    assert failed.attempts == 3
    assert "no source named 'retired_plugin'" in failed.last_error
    kinds = [entry.kind for entry in journal]
    assert kinds == ["processing", "retry", "processing", "retry", "processing", "failed"]
    assert "deferred 2s" in journal[1].message and "deferred 3s" in journal[3].message
    # RQ's scheduler works in whole seconds, so a 2 s delay may end up to 1 s early, never immediately.
    assert (journal[2].at - journal[1].at).total_seconds() >= 1
    assert (journal[4].at - journal[3].at).total_seconds() >= 2


def test_a_killed_worker_leaves_no_scheduler_process_behind(ctx, processes):
    import psutil

    worker = processes.start("worker", name="worker")
    children = wait_for(lambda: psutil.Process(worker.pid).children(), message="RQ scheduler child started")
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"orphaned: {[p.cmdline() for p in alive]}"


def test_the_worker_outlives_a_redis_outage_and_resumes(ctx, processes, tmp_path):
    own = RedisServer(tmp_path)
    own.start()
    processes.env["REDIS_URL"] = own.url
    worker = processes.start("worker", name="worker")
    app = create_app(ctx.settings, redis_url=own.url)
    web = app.test_client()
    first = web.post(URL, json=lead(1), headers=AUTH).get_json()
    wait_for(
        lambda: status_of(ctx, first["receipt_id"]) == "processed", message="processed before the outage"
    )
    own.stop()
    try:
        time.sleep(8)  # RQ's loop fails wherever it is (dequeue, heartbeat, maintenance); the worker waits
        assert worker.poll() is None, "the worker exited during the outage:\n" + processes.logs()
        own.start()  # back, and empty (no persistence)
        second = web.post(URL, json=lead(2), headers=AUTH).get_json()
        assert second["queued"] is True
        wait_for(
            lambda: status_of(ctx, second["receipt_id"]) == "processed",
            timeout=40,
            message="processed after the outage, by the same worker process",
        )
        # RQ's scheduler process died with the connection: work scheduled for later (retries, backoffs)
        # runs again only once the worker has started it anew
        later = Queue(ctx.settings.jobs.queue, connection=redis.Redis.from_url(own.url))
        job = later.enqueue_in(timedelta(seconds=1), "time.time")
        wait_for(
            lambda: job.get_status(refresh=True) == "finished",
            timeout=40,
            message="a job scheduled after the outage ran: the scheduler is back",
        )
        assert worker.poll() is None
    finally:
        processes.stop_all()
        own.stop()


def test_work_needed_now_is_not_held_behind_a_run_scheduled_for_later(ctx):
    from connector.queue.enqueue import enqueue_once

    marker = f"connector:{ctx.settings.jobs.queue}:test-marker"
    func = "connector.jobs.stages.resolve_stage_changes"
    once = {"prefix": "test", "description": "test"}
    assert enqueue_once(ctx, marker, func, delay=120, **once)  # a retry far off
    assert not enqueue_once(ctx, marker, func, delay=200, **once), "later than the scheduled run: joins it"
    assert enqueue_once(ctx, marker, func, delay=0, **once), "needed now: an earlier run is queued"
    assert not enqueue_once(ctx, marker, func, delay=0, **once), "and work arriving next joins that one"
    assert ctx.queue.count == 1 and len(ctx.queue.scheduled_job_registry) == 1
    ctx.redis.delete(marker)
