"""The report's grouped reads over the facts (connector.store.report_facts), by profile, not by group.

By lead date: one aggregate of the facts in range per profile, `sent` list (and bucket), whose leads are
the facts whose person's previous submission into the same group lies before the cell began. By won date,
and for opportunities, the few facts behind the records, one row each. Profiles are folded into the
query's groups afterwards (connector.report.build).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, null, or_, select, union_all
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from connector.report import sql
from connector.report.query import ReportQuery
from connector.store.models import ReportFact, ReportProfile
from connector.store.report_facts import lens_sides

F = ReportFact.__table__
P = ReportProfile.__table__
DAY = 86400


def profiles() -> Select[Any]:
    return select(P)


def _seconds(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def bucket_start(dialect: str, trend: str) -> ColumnElement[int]:
    """The epoch second the week (from Monday) or month of report_facts.at begins (UTC)."""
    if trend == "week":
        # 1970-01-01 was a Thursday: day + 3 counts from the Monday before it.
        return literal_column(f"((report_facts.at / {DAY}) - ((report_facts.at / {DAY}) + 3) % 7) * {DAY}")
    if dialect == "postgresql":
        return literal_column(
            "CAST(extract(epoch FROM date_trunc('month', to_timestamp(report_facts.at) AT TIME ZONE 'UTC'))"
            " AS BIGINT)"
        )
    return literal_column("CAST(strftime('%s', report_facts.at, 'unixepoch', 'start of month') AS INTEGER)")


def bucket_label(at: datetime | int, trend: str) -> str:
    """The bucket of a time (a datetime or epoch seconds), as its first day YYYY-MM-DD."""
    moment = datetime.fromtimestamp(at, UTC) if isinstance(at, int) else at.astimezone(UTC)
    day: date = moment.date()
    first = day - timedelta(days=day.weekday()) if trend == "week" else day.replace(day=1)
    return str(first)


def lead_facts(query: ReportQuery, dialect: str) -> Select[Any]:
    """Per profile, `sent` list (and bucket start): facts in the lead date range, and the leads among
    them on each side of the query's lens (l0, l1)."""
    start = _seconds(query.start)
    keys: list[Any] = [F.c.profile_id, F.c.sent]
    b = None
    if query.trend:
        b = bucket_start(dialect, query.trend)
        keys.append(b.label("b"))
    leads: list[Any] = []
    for n, side in enumerate((*lens_sides(query.by, query.touch), None)[:2]):
        if side is None:
            leads.append(literal_column("0").label(f"l{n}"))
            continue
        prev = F.c[side]
        before = [prev < start] if start is not None else []
        if b is not None:
            before.append(prev < b)
        first = or_(prev.is_(None), and_(*before)) if before else prev.is_(None)
        leads.append(func.sum(case((first, 1), else_=0)).label(f"l{n}"))
    where = _at_range(query)
    group = [F.c.profile_id, F.c.sent, *([b] if b is not None else [])]
    return select(*keys, func.count().label("n"), *leads).where(*where).group_by(*group)


def _at_range(query: ReportQuery) -> list[ColumnElement[bool]]:
    """Facts whose lead date is in the range."""
    start, end = _seconds(query.start), _seconds(query.end)
    return [
        *([F.c.at >= start] if start is not None else []),
        *([F.c.at < end] if end is not None else []),
    ]


def won_subquery(query: ReportQuery) -> Any:
    """Event id -> first won time in the range, of the records that entered an opportunity stage."""
    r = sql.records()
    return (
        select(r.c.event_id, func.min(r.c.won_at).label("won_at"))
        .where(r.c.won_at.isnot(None), *sql.in_range(r.c.won_at, query))
        .group_by(r.c.event_id)
        .subquery("w")
    )


def won_facts(query: ReportQuery) -> Select[Any]:
    """By won date: one row per fact of a submission behind a deal won in the range, at that win."""
    w = won_subquery(query)
    return select(F.c.profile_id, F.c.person_key, F.c.sent, w.c.won_at).select_from(
        F.join(w, w.c.event_id == F.c.event_id)
    )


def _lead_of(r: Any, dialect: str) -> ColumnElement[bool]:
    """A record's facts: those of its lead's event id. On SQLite the record's side is `+event_id`, which no
    index serves, so the plan walks the records and looks their facts up even without statistics (else it
    may walk a million facts and look a record up for each)."""
    event_id = r.c.event_id
    if dialect == "sqlite":
        event_id = UnaryExpression(event_id, operator=operators.custom_op("+"), type_=event_id.type)
    return F.c.event_id == event_id


def record_facts(query: ReportQuery, dialect: str) -> Select[Any]:
    """One row per (opportunity record, fact of a submission it is attributed to); by won date only the
    records won in the range."""
    r = sql.records()
    if query.date == "won":
        where = [r.c.won_at.isnot(None), *sql.in_range(r.c.won_at, query)]
    else:
        where = _at_range(query)
    return (
        select(
            F.c.profile_id,
            F.c.at,
            F.c.submission_id,
            r.c.crm,
            r.c.object_type,
            r.c.record_id,
            r.c.won_at,
            r.c.amount,
            r.c.currency,
        )
        .select_from(r.join(F, _lead_of(r, dialect)))
        .where(*where)
    )


def lead_records(query: ReportQuery, dialect: str) -> Any:
    """By lead date, in one statement over the records (grouped once): per profile (and bucket) the
    (opportunity record, fact) pairs of the facts in the range (`c` rows, n); then one `p` row per pair
    whose record was won or whose event id other facts carry too (`shared`: a record reaching a cell
    through several facts counts there once)."""
    r = sql.records()
    joined = r.join(F, _lead_of(r, dialect))
    b = bucket_start(dialect, query.trend) if query.trend else null()
    counts = (
        select(
            literal_column("'c'").label("kind"),
            F.c.profile_id,
            b.label("b"),
            func.count().label("n"),
            *(null().label(c) for c in ("crm", "object_type", "record_id", "at", "submission_id")),
            *(null().label(c) for c in ("won_at", "amount", "currency", "shared")),
        )
        .select_from(joined)
        .where(*_at_range(query))
        .group_by(F.c.profile_id, *([b] if query.trend else []))
    )
    other = F.alias("other")
    shared = (
        select(other.c.submission_id)
        .where(other.c.event_id == F.c.event_id, other.c.submission_id != F.c.submission_id)
        .exists()
    )
    pairs = (
        select(
            literal_column("'p'").label("kind"),
            F.c.profile_id,
            null().label("b"),
            literal_column("1").label("n"),
            r.c.crm,
            r.c.object_type,
            r.c.record_id,
            F.c.at,
            F.c.submission_id,
            r.c.won_at,
            r.c.amount,
            r.c.currency,
            case((shared, 1), else_=0).label("shared"),
        )
        .select_from(joined)
        .where(*_at_range(query), or_(r.c.won_at.isnot(None), shared))
    )
    return union_all(pairs, counts)  # the pairs first: a UNION's column types are its first SELECT's
