"""The group commit's INSERT: new receipts in one statement, known delivery keys skipped, ids returned.

Spelled once per placeholder style and number of rows, and run as the driver's own SQL: SQLAlchemy's compiled
multi-row insert spends more CPU per row than the commit does. The values still go through the columns'
own type processors (dates, JSON), so they are stored exactly as SQLAlchemy would store them.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Dialect, Row
from sqlalchemy.exc import DBAPIError

from connector.store.models import Receipt

COLUMNS = (
    "source",
    "delivery_key",
    "event_id",
    "received_at",
    "content_type",
    "headers",
    "body",
    "status",
    "attempts",
    "duplicates",
    "job_id",
)
"""What every row of the insert sets (`ledger.receipt_values` and the batch's job id)."""

PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
"""The positional placeholder of each DBAPI paramstyle the supported drivers use."""

NUMBERED = "numbered"
"""PostgreSQL's own placeholders, $1, $2, ... (psycopg's raw cursor)."""


def insert_new_receipts(connection: Connection, rows: list[dict[str, Any]]) -> list[Row[Any]]:
    """Insert `rows` (fitted to their columns) unless their (source, delivery_key) is known; the inserted
    rows' (id, source, delivery_key), in no particular order."""
    sql = _statement(connection.dialect.paramstyle, len(rows))
    return list(connection.exec_driver_sql(sql, _params(connection.dialect, rows)).all())


def commit_new_receipts(connection: Connection, rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """`insert_new_receipts` as a transaction of its own: one statement on the driver's connection, which
    commits it as it runs (SQLAlchemy's execution and transaction steps cost about as much CPU as the
    statement). Each driver call under load hands the GIL to another thread and waits to get it back, so
    the batch makes as few as it can: on PostgreSQL one (the rows come back in one answer); on SQLite one
    too, without RETURNING, whose rows pysqlite steps through one call each (`_sqlite_ids`). A driver
    error is raised as SQLAlchemy would raise it, the connection (and the pool) invalidated when the
    database dropped it. `connection` must not be in a transaction, its driver connection in autocommit."""
    dialect = connection.dialect
    params = _params(dialect, rows)
    driver = connection.connection.driver_connection
    assert driver is not None, "an open connection has its driver's"
    cursor: Any  # the driver's cursor, a DBAPI cursor to SQLAlchemy
    sqlite = dialect.name == "sqlite"
    if dialect.driver == "psycopg":
        # Numbered placeholders, passed as they are: psycopg's own %s conversion parses a statement
        # of more than 50 parameters (a batch of five) anew on every call.
        from psycopg import RawCursor

        sql, cursor = _statement(NUMBERED, len(rows)), RawCursor(driver)
    else:
        sql, cursor = _statement(dialect.paramstyle, len(rows), returning=not sqlite), driver.cursor()
    try:
        cursor.execute(sql, params)
        if sqlite:
            return _sqlite_ids(cursor, rows)
        return [tuple(row) for row in cursor.fetchall()]
    except dialect.loaded_dbapi.Error as exc:
        dropped = dialect.is_disconnect(exc, driver, cursor)
        if dropped:  # as SQLAlchemy does: the pool's other connections are likely dropped too
            connection.invalidate(exc)
            connection.engine.dispose(close=False)
        raise DBAPIError.instance(
            sql,
            params,
            exc,
            dialect.loaded_dbapi.Error,
            hide_parameters=connection.engine.hide_parameters,  # a body's personal data stays out of logs
            connection_invalidated=dropped,
            dialect=dialect,
        ) from exc
    finally:
        with contextlib.suppress(dialect.loaded_dbapi.Error):
            cursor.close()


def _sqlite_ids(cursor: Any, rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """The (id, source, delivery_key) of the rows SQLite's INSERT just committed, without RETURNING. The
    statement held the write lock throughout, and a table without AUTOINCREMENT numbers each new row one
    past the largest id, in the order of the VALUES: its `rowcount` new rows hold the ids up to `lastrowid`.
    When every row went in, they are the rows in order; when some keys were known, the new ones are read
    back by that id range (a rare redelivery inside a batch, or of a key committed just before)."""
    inserted, last = cursor.rowcount, cursor.lastrowid
    if inserted <= 0:
        return []
    if inserted == len(rows):
        first = last - inserted + 1
        return [(first + n, row["source"], row["delivery_key"]) for n, row in enumerate(rows)]
    cursor.execute(
        f"SELECT id, source, delivery_key FROM {Receipt.__tablename__} WHERE id > ? AND id <= ?",
        (last - inserted, last),
    )
    return [tuple(row) for row in cursor.fetchall()]


def _params(dialect: Dialect, rows: list[dict[str, Any]]) -> tuple[Any, ...]:
    processors = _processors(dialect)
    return tuple(
        value if process is None else process(value)
        for row in rows
        for value, process in zip([row[name] for name in COLUMNS], processors, strict=True)
    )


@functools.lru_cache(maxsize=8)  # per engine's dialect (its JSON serializer); a process has one or two
def _processors(dialect: Dialect) -> list[Callable[[Any], Any] | None]:
    table = Receipt.__table__
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in COLUMNS]


@functools.cache
def _statement(paramstyle: str, rows: int, returning: bool = True) -> str:
    width = len(COLUMNS)
    marks = [f"${n + 1}" if paramstyle == NUMBERED else PLACEHOLDERS[paramstyle] for n in range(width * rows)]
    values = ", ".join("(" + ", ".join(marks[r * width : (r + 1) * width]) + ")" for r in range(rows))
    return (
        f"INSERT INTO {Receipt.__tablename__} ({', '.join(COLUMNS)}) "
        f"VALUES {values} "
        "ON CONFLICT (source, delivery_key) DO NOTHING"
        + (" RETURNING id, source, delivery_key" if returning else "")
    )
