"""Counts that stop at a cap, and the first row id of a time window, so no page counts a whole table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from connector.timeutil import as_utc

COUNT_CAP = 100_000
"""Where a page's counts stop (shown as "100,000+"): counting further costs time and tells nobody more."""


def bounded_count(session: Session, ids: Select[Any], cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many rows `ids` (a select of one column) returns, up to `cap`; True when there are more."""
    found = session.scalar(select(func.count()).select_from(ids.limit(cap + 1).subquery())) or 0
    return min(found, cap), found > cap


def first_id_since(
    session: Session,
    id_column: InstrumentedAttribute[int],
    at_column: InstrumentedAttribute[Any],
    since: datetime,
) -> int | None:
    """The smallest id whose row was stamped at or after `since` (None: no such row), by bisecting ids.

    Rows are stamped as they are inserted, so ids grow with time: a time window becomes an id range that
    the existing (..., id) indexes answer, with no index on the timestamp and about 20 primary-key reads.
    """

    def first_from(at_least: int) -> tuple[int, datetime | None]:
        row = session.execute(
            select(id_column, at_column).where(id_column >= at_least).order_by(id_column).limit(1)
        ).one()
        return row[0], as_utc(row[1])

    # Two statements: SQLite answers min() or max() from the index alone, not both in one.
    low = session.scalar(select(func.min(id_column)))
    best = session.scalar(select(func.max(id_column)))
    if low is None or best is None:
        return None
    last_at = first_from(best)[1]
    if last_at is None or last_at < since:
        return None
    high = best - 1
    while low <= high:
        middle = (low + high) // 2
        row_id, at = first_from(middle)
        if row_id > high:  # no row between middle and high
            high = middle - 1
        elif at is None or at < since:
            low = row_id + 1
        else:
            best, high = row_id, middle - 1
    return int(best)
