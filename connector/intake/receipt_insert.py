"""The group commit's INSERT: new receipts in one statement, known delivery keys skipped, ids returned.

Spelled once per placeholder style and number of rows, and run as the driver's own SQL: SQLAlchemy's compiled
multi-row insert spends more CPU per row than the commit does. The values still go through the columns'
own type processors (dates, JSON), so they are stored exactly as SQLAlchemy would store them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Dialect, Row

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


def insert_new_receipts(connection: Connection, rows: list[dict[str, Any]]) -> list[Row[Any]]:
    """Insert `rows` (fitted to their columns) unless their (source, delivery_key) is known; the inserted
    rows' (id, source, delivery_key), in no particular order."""
    dialect = connection.dialect
    processors = _processors(dialect)
    params = [
        value if process is None else process(value)
        for row in rows
        for value, process in zip([row[name] for name in COLUMNS], processors, strict=True)
    ]
    sql = _statement(dialect.paramstyle, len(rows))
    return list(connection.exec_driver_sql(sql, tuple(params)).all())


@functools.lru_cache(maxsize=8)  # per engine's dialect (its JSON serializer); a process has one or two
def _processors(dialect: Dialect) -> list[Callable[[Any], Any] | None]:
    table = Receipt.__table__
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in COLUMNS]


@functools.cache
def _statement(paramstyle: str, rows: int) -> str:
    mark = PLACEHOLDERS[paramstyle]
    row = "(" + ", ".join([mark] * len(COLUMNS)) + ")"
    return (
        f"INSERT INTO {Receipt.__tablename__} ({', '.join(COLUMNS)}) "
        f"VALUES {', '.join([row] * rows)} "
        "ON CONFLICT (source, delivery_key) DO NOTHING RETURNING id, source, delivery_key"
    )
