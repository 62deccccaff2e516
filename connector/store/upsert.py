"""INSERT ... ON CONFLICT DO NOTHING in the dialect in use: how every ledger row is stored at most once."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.store.fit import fit_values

Insert = postgresql.Insert | sqlite.Insert


def insert_ignoring_conflicts(dialect: str, table: Any, index_elements: list[str] | None = None) -> Insert:
    """An INSERT into `table` that skips rows conflicting on `index_elements` (any unique key if None)."""
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return builder(table).on_conflict_do_nothing(index_elements=index_elements)


def insert_new(
    session: Session, model: Any, index_elements: list[str] | None = None, **values: Any
) -> Insert:
    """`insert_ignoring_conflicts` of one row of `model`, its values fitted to their columns, for the
    dialect of `session`'s connection."""
    fitted, _cut = fit_values(model, values)
    return insert_ignoring_conflicts(session.get_bind().dialect.name, model, index_elements).values(**fitted)
