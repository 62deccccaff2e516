"""Every stored value fits its column, on SQLite and PostgreSQL: an over-long value never fails a write."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Integer, LargeBinary, String, Text, select, text
from sqlalchemy.orm import Session

from connector.store.fit import DIGEST_CHARS, limits, shorten
from connector.store.models import Base
from connector.timeutil import utcnow

MODELS = sorted(Base.registry.mappers, key=lambda m: m.class_.__tablename__)


def filler(column: Any, n: int) -> Any:
    """A value of the column's type; text columns get one longer than the column."""
    kind = column.type
    if isinstance(kind, String) and kind.length:
        return f"{column.name}-{n}-" + "x" * (kind.length + 40)
    if isinstance(kind, (Text, String)):
        return f"{column.name}-{n}"
    if isinstance(kind, (Integer, BigInteger)):
        return n
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, DateTime):
        return utcnow()
    if isinstance(kind, LargeBinary):
        return b"{}"
    if isinstance(kind, JSON):
        return {}
    raise AssertionError(f"no filler for {column.name}: {kind!r}")


@pytest.fixture
def session(ctx):  # type: ignore[no-untyped-def]
    """A session whose foreign keys are not enforced: each table is written on its own here."""
    with ctx.engine.connect() as connection:
        raw = connection.connection.driver_connection
        sqlite = ctx.engine.dialect.name == "sqlite"
        if sqlite:  # outside any transaction, or SQLite ignores it
            raw.execute("PRAGMA foreign_keys = OFF")
        else:  # undone with the transaction
            connection.execute(text("SET session_replication_role = replica"))
        with Session(bind=connection) as session:
            yield session
            session.rollback()
        if sqlite:
            raw.execute("PRAGMA foreign_keys = ON")


@pytest.mark.parametrize("mapper", MODELS, ids=lambda m: m.class_.__tablename__)
def test_every_text_column_takes_an_over_long_value(session, mapper):  # type: ignore[no-untyped-def]
    model = mapper.class_
    table = model.__table__
    rows = []
    for n in (1, 2):  # two rows whose long values share their first characters
        values = {c.key: filler(c, n) for c in table.columns if not (c.primary_key and c.autoincrement is True)}
        values = {k: v for k, v in values.items() if not (k == "id" and isinstance(v, int))}
        rows.append(model(**values))
    session.add_all(rows)
    session.flush()  # PostgreSQL refuses a VARCHAR overflow; this must not raise
    for name, (length, keyed) in limits(model).items():
        stored = [getattr(row, name) for row in rows]
        # None: a column the model derives on write (the submissions' report columns) has no source here
        assert all(v is None or len(v) <= length for v in stored), (table.name, name)
        if keyed:
            assert stored[0] != stored[1], f"{table.name}.{name}: two keys became one"
    key = [c for c in table.primary_key.columns][0]
    assert session.scalars(select(key)).all()


def test_a_shortened_key_keeps_a_digest_of_the_whole_value():
    a, b = "k" * 300 + "a", "k" * 300 + "b"
    assert len(shorten(a, 255, keyed=True)) == 255
    assert shorten(a, 255, keyed=True) != shorten(b, 255, keyed=True)
    assert shorten(a, 255, keyed=True) == shorten(a, 255, keyed=True)
    assert shorten(a, 255, keyed=False) == a[:255]
    assert shorten("short", 255, keyed=True) == "short"
    assert len(shorten(a, 255, keyed=True).rsplit("~", 1)[1]) == DIGEST_CHARS


def test_the_dates_of_the_filler_are_aware():
    assert isinstance(filler(type("C", (), {"type": DateTime(), "name": "at"})(), 1), datetime)
