"""Keyset pagination for console lists (newest first by a unique, indexed id): constant time on any page,
where OFFSET would read every row before the page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import request, url_for
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

PER_PAGE = 50


@dataclass(frozen=True)
class Page:
    items: Sequence[Any]
    newer_url: str | None
    older_url: str | None


def newest_first(
    session: Session, query: Select[Any], id_column: InstrumentedAttribute[int], per_page: int = PER_PAGE
) -> Page:
    """One page of `query` ordered by `id_column` descending, from the request's `before`/`after` ids;
    the links keep the request's other query arguments (filters)."""
    before = _int_arg("before")
    after = _int_arg("after")
    if after is not None:
        rows = list(
            session.scalars(query.where(id_column > after).order_by(id_column.asc()).limit(per_page + 1))
        )
        more_newer = len(rows) > per_page
        rows = rows[:per_page][::-1]
        more_older = bool(rows)  # we came from an older page
    else:
        if before is not None:
            query = query.where(id_column < before)
        rows = list(session.scalars(query.order_by(id_column.desc()).limit(per_page + 1)))
        more_older = len(rows) > per_page
        rows = rows[:per_page]
        more_newer = before is not None and bool(rows)
    key = id_column.key
    newer = _link(after=getattr(rows[0], key)) if rows and more_newer else None
    older = _link(before=getattr(rows[-1], key)) if rows and more_older else None
    return Page(rows, newer, older)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


def _link(**cursor: int) -> str:
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k not in ("before", "after")}
    args.update(request.view_args or {})
    args.update(cursor)
    assert request.endpoint is not None
    return url_for(request.endpoint, **args)
