"""The status counts /metrics reads (ledger_counts, kept by triggers) equal counting the ledger itself."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from connector.store.counts import fold, ledger_counts
from connector.store.models import Conversion, LedgerCount, Receipt
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
