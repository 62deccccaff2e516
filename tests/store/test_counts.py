"""The counts /metrics reads (ledger_counts, kept by triggers) equal counting the ledger itself: receipts and
conversions by status, Conversions API requests by answer and HTTP status."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from connector.conversions.dispatch import LOST
from connector.conversions.outcomes import IN_FLIGHT
from connector.store.counts import fold, ledger_counts
from connector.store.models import Conversion, ConversionRequest, LedgerCount, Receipt
from connector.timeutil import utcnow


def receipt(n: int, status: str = "received") -> dict:
    return {
        "source": "generic",
        "delivery_key": f"k{n}",
        "received_at": utcnow(),
        "content_type": "application/json",
        "headers": {},
        "status": status,
        "attempts": 0,
        "duplicates": 0,
    }


def conversion(n: int, event_type: str = "lead_created", custom: str = "") -> dict:
    return {
        "pixel_id": "px",
        "event_type": event_type,
        "custom_event_name": custom,
        "event_id": f"e{n}",
        "payload": {},
        "status": "pending",
        "attempts": 0,
        "trigger": "submission",
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }


def counted(session) -> dict[str, dict[tuple[str, str, str], int]]:  # type: ignore[no-untyped-def]
    """What a GROUP BY over each table says (the answer ledger_counts must give)."""
    receipts = session.execute(select(Receipt.status, func.count()).group_by(Receipt.status))
    conversions = session.execute(
        select(Conversion.status, Conversion.event_type, Conversion.custom_event_name, func.count()).group_by(
            Conversion.status, Conversion.event_type, Conversion.custom_event_name
        )
    )
    return {
        "receipts": {(s, "", ""): n for s, n in receipts},
        "conversions": {(s, e, c): n for s, e, c, n in conversions},
    }


def request(token: str, code: int | None = None, error: str | None = None) -> dict:
    return {"pixel_id": "px", "attempt_token": token, "status_code": code, "error": error, "event_ids": []}


def requests_counted(session) -> dict[tuple[str, str, str], int]:  # type: ignore[no-untyped-def]
    """The requests by answer and HTTP status, from the rows themselves (what the metric used to group)."""
    found: dict[tuple[str, str, str], int] = {}
    for code, error in session.execute(select(ConversionRequest.status_code, ConversionRequest.error)):
        if error == IN_FLIGHT:
            answer = "in_flight"
        elif code is not None:
            answer = "answered"
        else:
            answer = "no_response" if error == LOST else "network_error"
        key = (answer, "" if code is None else str(code), "")
        found[key] = found.get(key, 0) + 1
    return found


def kept(session) -> dict[str, dict[tuple[str, str, str], int]]:  # type: ignore[no-untyped-def]
    return {ledger: ledger_counts(session, ledger) for ledger in ("receipts", "conversions")}


def test_counts_follow_inserts_status_changes_and_deletes(ctx) -> None:
    with ctx.sessions.begin() as session:
        session.execute(insert(Receipt), [receipt(n) for n in range(10)])  # one multi-row statement
        session.execute(insert(Conversion), [conversion(n) for n in range(6)])
        session.execute(insert(Conversion).values(conversion(99, "custom", "Demo booked")))
    with ctx.sessions.begin() as session:
        session.execute(
            update(Receipt).where(Receipt.delivery_key.in_(["k1", "k2", "k3"])).values(status="processed")
        )
        session.execute(update(Receipt).where(Receipt.delivery_key == "k4").values(status="failed"))
        session.execute(update(Receipt).values(attempts=1))  # no status change: no count changes
        session.execute(update(Conversion).where(Conversion.event_id.in_(["e0", "e1"])).values(status="sent"))
        session.execute(
            update(Conversion).where(Conversion.event_id == "e99").values(custom_event_name="Call")
        )
        session.execute(delete(Receipt).where(Receipt.delivery_key.in_(["k5", "k6"])))
        session.execute(delete(Conversion).where(Conversion.event_id == "e5"))
    with ctx.sessions.begin() as session:
        expected = counted(session)
        assert kept(session) == expected
        assert expected["receipts"] == {
            ("received", "", ""): 4,
            ("processed", "", ""): 3,
            ("failed", "", ""): 1,
        }
        assert expected["conversions"][("pending", "custom", "Call")] == 1
        fold(session)
    with ctx.sessions() as session:
        assert kept(session) == expected
        if ctx.engine.dialect.name == "postgresql":  # folded: one row per key, none from a transaction
            assert session.scalar(select(func.count()).where(LedgerCount.shard != 0)) == 0


def test_request_counts_follow_sends_answers_lost_workers_and_erasure(ctx) -> None:
    """Each write the sender makes to conversion_requests, in its own transaction as the sender does."""
    with ctx.sessions.begin() as session:  # three claims: each writes its request in flight
        session.execute(insert(ConversionRequest), [request(t, error=IN_FLIGHT) for t in ("a", "b", "c")])
    with ctx.sessions.begin() as session:  # "a" answered: the in-flight row replaced by the exchanges made
        session.execute(
            delete(ConversionRequest).where(
                ConversionRequest.attempt_token == "a", ConversionRequest.error == IN_FLIGHT
            )
        )
        session.execute(
            insert(ConversionRequest),
            [request("a", 200), request("a", 400), request("a", 503), request("a", error="ConnectError")],
        )
    with ctx.sessions.begin() as session:  # "b"'s worker died: its events claimed again
        session.execute(
            update(ConversionRequest)
            .where(ConversionRequest.attempt_token == "b", ConversionRequest.error == IN_FLIGHT)
            .values(error=LOST)
        )
        session.execute(update(ConversionRequest).values(body=None))  # erasure: no count changes
        session.execute(insert(ConversionRequest).values(request("probe", 401)))  # a probe's exchange
    with ctx.sessions.begin() as session:
        expected = requests_counted(session)
        assert ledger_counts(session, "requests") == expected
        assert expected == {
            ("in_flight", "", ""): 1,
            ("answered", "200", ""): 1,
            ("answered", "400", ""): 1,
            ("answered", "401", ""): 1,
            ("answered", "503", ""): 1,
            ("network_error", "", ""): 1,
            ("no_response", "", ""): 1,
        }
        fold(session)
    with ctx.sessions() as session:
        assert ledger_counts(session, "requests") == expected


def test_a_status_emptied_is_absent_like_in_a_group_by(ctx) -> None:
    with ctx.sessions.begin() as session:
        session.execute(insert(Receipt).values(receipt(1)))
    with ctx.sessions.begin() as session:
        session.execute(update(Receipt).values(status="processed"))
    with ctx.sessions.begin() as session:
        fold(session)
        assert ledger_counts(session, "receipts") == {("processed", "", ""): 1}


def test_migration_counts_the_rows_already_stored(settings) -> None:
    from connector.store.db import make_engine
    from connector.store.migrate import upgrade

    engine = make_engine(settings)
    upgrade(engine, "0007")
    with engine.begin() as connection:
        connection.execute(insert(Receipt.__table__), [receipt(n, "processed") for n in range(4)])
        connection.execute(insert(Receipt.__table__).values(receipt(9, "failed")))
    upgrade(engine)
    with Session(engine) as session:
        assert ledger_counts(session, "receipts") == {("processed", "", ""): 4, ("failed", "", ""): 1}
    engine.dispose()


def test_migration_counts_the_requests_already_stored(settings) -> None:
    from connector.store.db import make_engine
    from connector.store.migrate import upgrade

    engine = make_engine(settings)
    upgrade(engine, "0014")
    with engine.begin() as connection:
        connection.execute(
            insert(ConversionRequest.__table__),
            [request("a", 200), request("a", 200), request("b", error=LOST), request("c", error=IN_FLIGHT)],
        )
    upgrade(engine)
    with Session(engine) as session:
        assert ledger_counts(session, "requests") == {
            ("answered", "200", ""): 2,
            ("no_response", "", ""): 1,
            ("in_flight", "", ""): 1,
        }
        session.execute(insert(ConversionRequest).values(request("d", 200)))  # and the triggers keep them
        fold(session)
        assert ledger_counts(session, "requests")[("answered", "200", "")] == 3
    engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_writers_never_wait_on_a_shared_count(ctx) -> None:
    """Two open transactions changing the same status counts: neither waits for the other's commit."""
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("TEST_DATABASE_URL not set")
    with ctx.sessions.begin() as session:
        session.execute(insert(Receipt), [receipt(n) for n in range(2)])
    first, second = ctx.engine.connect(), ctx.engine.connect()
    try:
        with first.begin(), second.begin():
            for connection, key in ((first, "k0"), (second, "k1")):
                connection.execute(text("SET LOCAL lock_timeout = '2s'"))
                connection.execute(
                    update(Receipt).where(Receipt.delivery_key == key).values(status="processed")
                )
                connection.execute(insert(Receipt).values(receipt(int(key[1:]) + 10)))
    finally:
        first.close()
        second.close()
    with ctx.sessions() as session:
        assert ledger_counts(session, "receipts") == {("received", "", ""): 2, ("processed", "", ""): 2}
