"""One group commit, many requests: each gets its own answer, and no row can fail its neighbours."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from concurrent.futures import Future

from sqlalchemy import func, select, text

from connector.intake.host_lock import lock_path
from connector.intake.ledger import ReceiptWriter, StoreTimeout
from connector.store.models import JournalEntry, Receipt
from connector.timeutil import utcnow
from tests.conftest import TOKEN
from tests.intake.helpers import run_jobs, submissions

URL = "/webhooks/forms/generic"
AUTH = {"X-Connector-Token": TOKEN}


def values(key: str, event_id: str | None = None) -> dict:
    return {
        "source": "generic",
        "delivery_key": key,
        "event_id": event_id,
        "received_at": utcnow(),
        "content_type": "application/json",
        "headers": {},
        "body": b"{}",
        "status": "received",
        "attempts": 0,
        "duplicates": 0,
    }


def write(ctx, *rows: dict) -> list:  # type: ignore[no-untyped-def]
    writer = ReceiptWriter(ctx)  # the batch written as its leading request would, without the waiting
    return writer._write([(row, Future()) for row in rows])


def test_two_copies_in_one_commit_are_one_receipt_and_one_duplicate(ctx):
    first, copy, other = write(ctx, values("event:a", "a"), values("event:a", "a"), values("event:b", "b"))
    assert not first.duplicate and not other.duplicate and first.id != other.id
    assert copy.duplicate and copy.id == first.id
    with ctx.sessions() as session:
        stored = session.scalars(select(Receipt).order_by(Receipt.id)).all()
    assert [(r.delivery_key, r.duplicates) for r in stored] == [("event:a", 1), ("event:b", 0)]


def test_a_redelivery_and_its_copy_in_one_commit_are_both_duplicates(ctx):
    [original] = write(ctx, values("event:a", "a"))
    again, again_copy, new = write(ctx, values("event:a", "a"), values("event:a", "a"), values("event:c"))
    assert again.duplicate and again_copy.duplicate and again.id == again_copy.id == original.id
    assert not new.duplicate


def test_an_over_long_event_id_is_cut_to_fit_and_the_lead_is_kept(client, ctx):
    event_id = "e" * 300
    response = client.post(URL, json={"email": "long@example.com", "event_id": event_id}, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "accepted"
    with ctx.sessions() as session:
        [receipt] = session.scalars(select(Receipt)).all()
        notes = session.scalars(
            select(JournalEntry.message).where(JournalEntry.receipt_id == receipt.id)
        ).all()
    assert len(receipt.event_id) == 255 and len(receipt.delivery_key) <= 255
    assert any("cut to fit" in n and "event_id" in n for n in notes), notes
    assert run_jobs(ctx) == ["processed"]
    [lead] = submissions(ctx)
    assert lead.email == "long@example.com" and len(lead.event_id) <= 255
    again = client.post(URL, json={"email": "long@example.com", "event_id": event_id}, headers=AUTH)
    assert again.get_json()["status"] == "duplicate", "the shortened key still deduplicates"
    other = client.post(URL, json={"email": "o@example.com", "event_id": "e" * 299 + "f"}, headers=AUTH)
    assert other.get_json()["status"] == "accepted", "and still tells two long ids apart"


def test_concurrent_webhooks_with_copies_all_get_their_own_answer(app, ctx):
    answers: list[tuple[int, str, str]] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        event_id = f"evt-{n // 2}" if n < 40 else f"evt-{n}"  # the first 40 arrive twice each
        body = {"email": f"p{n}@example.com", "event_id": event_id if n < 60 else "x" * 400 + str(n)}
        response = app.test_client().post(URL, json=body, headers=AUTH)
        with lock:
            answers.append((response.status_code, response.get_json()["status"], event_id))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(80)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _, _ in answers} == {200}
    assert sorted(kind for _, kind, _ in answers).count("duplicate") == 20
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Receipt)) == 60


@contextlib.contextmanager
def commits_held(ctx):  # type: ignore[no-untyped-def]
    """Keep the group commit from committing: SQLite's intake lock file, PostgreSQL's receipts table."""
    if ctx.engine.dialect.name == "sqlite":
        fd = os.open(lock_path(ctx.engine, ctx.settings.data_path), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    else:
        with ctx.engine.connect() as connection, connection.begin():
            connection.execute(text("LOCK TABLE receipts IN EXCLUSIVE MODE"))
            yield


def test_a_request_that_gives_up_waiting_is_withdrawn_and_the_next_is_still_served(ctx):
    writer = ReceiptWriter(ctx)
    outcomes: dict[str, object] = {}

    def store(key: str, timeout: float) -> None:
        try:
            outcomes[key] = writer.store(values(key), timeout)
        except StoreTimeout as exc:
            outcomes[key] = exc

    with commits_held(ctx):
        leader = threading.Thread(target=store, args=("event:leader", 30))
        leader.start()
        time.sleep(0.3)  # the leader is committing (held), so the next request waits behind it
        store("event:gave-up", 0.3)
        assert isinstance(outcomes["event:gave-up"], StoreTimeout)
    leader.join(10)
    assert not outcomes["event:leader"].duplicate  # type: ignore[attr-defined]
    store("event:after", 5)
    assert not outcomes["event:after"].duplicate  # type: ignore[attr-defined]
    with ctx.sessions() as session:
        keys = session.scalars(select(Receipt.delivery_key).order_by(Receipt.id)).all()
    assert keys == ["event:leader", "event:after"], "the request that answered 503 was not stored behind it"
