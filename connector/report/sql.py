"""The report's statements (SQLAlchemy Core, the same on SQLite and PostgreSQL).

The reads behind a cell's list, over the submissions' report columns: its submissions, its opportunity
records (report_records, linked to a lead by event id) and its conversions sent; the counts themselves
come from the facts (connector.report.tally). The "any AI touch" model is the union of a first-touch and a
latest-touch read, each limited to AI touches, so a submission counts once per value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    FromClause,
    Select,
    and_,
    func,
    literal_column,
    select,
    union,
    union_all,
)

from connector.report.query import NONE_LABEL, ReportQuery
from connector.store.models import Conversion, ConversionStatus, ReportRecord, Submission

S = Submission.__table__
C = Conversion.__table__
RR = ReportRecord.__table__


def records() -> FromClause:
    """One row per CRM record that entered an opportunity stage (report_records, kept by triggers for the
    stage names `ensure` made it agree with): its lead's event id, first won time, and the amount and
    currency of the won change that counts (the converted one, the amount sent, else the first)."""
    return RR.alias("r")


def in_range(column: Any, query: ReportQuery) -> list[ColumnElement[bool]]:
    conditions = []
    if query.start is not None:
        conditions.append(column >= query.start)
    if query.end is not None:
        conditions.append(column < query.end)
    return conditions


def bucket(dialect: str, column: Any, trend: str) -> ColumnElement[str]:
    """The Monday of the week, or the first of the month, of `column` as YYYY-MM-DD (UTC)."""
    # Literals, not bound parameters: PostgreSQL matches a GROUP BY expression to the selected one only
    # when both are the same text, and each bound parameter gets a number of its own.
    if dialect == "postgresql":
        unit: ColumnElement[str] = literal_column("'week'" if trend == "week" else "'month'")
        day = func.date_trunc(unit, func.timezone(literal_column("'UTC'"), column))
        return func.to_char(day, literal_column("'YYYY-MM-DD'"))
    if trend == "week":
        return func.date(column, literal_column("'weekday 0'"), literal_column("'-6 days'"))
    return func.strftime(literal_column("'%Y-%m-01'"), column)


def group_column(by: str, touch: str) -> Any:
    return S.c.form_id if by == "form" else S.c[f"{touch}_{by}"]


def is_ai(touch: str) -> ColumnElement[bool]:
    column = S.c[f"{touch}_ai_source"]
    return and_(column.isnot(None), column != "none")


@dataclass
class Variant:
    """One touch's read: the group value, the time that places a row in range and bucket, the FROM."""

    group: Any
    at: Any
    source: FromClause
    where: list[ColumnElement[bool]]


def variants(query: ReportQuery) -> list[Variant]:
    """One read for a first or latest touch model, two (one per touch, AI touches only) for `any`."""
    touches = ("first", "latest") if query.touch == "any" else (query.touch,)
    result = []
    for touch in touches:
        where = [is_ai(touch)] if query.touch == "any" else []
        if query.date == "lead":
            source, at = S, S.c.submitted_at
            where += in_range(S.c.submitted_at, query)
        else:  # the submissions behind a deal won in the range, placed at their first such win
            r = records()
            won = (
                select(r.c.event_id, func.min(r.c.won_at).label("won_at"))
                .where(r.c.won_at.isnot(None), *in_range(r.c.won_at, query))
                .group_by(r.c.event_id)
                .subquery("w")
            )
            source, at = S.join(won, won.c.event_id == S.c.event_id), won.c.won_at
        result.append(Variant(group_column(query.by, touch), at, source, where))
    return result


def cell_filter(
    variant: Variant, dialect: str, query: ReportQuery, group: str, at_bucket: str | None
) -> list:
    """Where a row of `variant` falls in the cell (group value, and bucket with a trend)."""
    conditions = [variant.group.is_(None) if group == NONE_LABEL else variant.group == group]
    if at_bucket is not None and query.trend:
        conditions.append(bucket(dialect, variant.at, query.trend) == at_bucket)
    return conditions


def _keys(variant: Variant, dialect: str, query: ReportQuery) -> list[Any]:
    keys = [variant.group.label("g")]
    if query.trend:
        keys.append(bucket(dialect, variant.at, query.trend).label("b"))
    return keys


def _combined(selects: Sequence[Select[Any]], distinct: bool) -> FromClause:
    if len(selects) == 1:
        return selects[0].subquery("t")
    return (union(*selects) if distinct else union_all(*selects)).subquery("t")


def record_columns(r: FromClause) -> list[Any]:
    return [
        r.c.crm,
        r.c.object_type,
        r.c.record_id,
        r.c.won_at,
        S.c.id.label("sid"),
        S.c.submitted_at,
        S.c.person_key,
        S.c.email,
        S.c.event_id,
        r.c.amount,
        r.c.currency,
    ]


def opportunities(
    query: ReportQuery,
    dialect: str,
    narrow: Callable[[Variant], list[Any]] | None = None,
) -> Select[Any] | CompoundSelect[Any]:
    """One row per (group, bucket, record, lead submission) for every opportunity record."""
    selects = []
    for v in variants(query):
        r = records()
        if query.date == "won":
            # The records won in the range themselves, placed at their win (joining them through the
            # range's won-subquery made SQLite scan every record once per lead).
            won = [r.c.won_at.isnot(None), *in_range(r.c.won_at, query)]
            v = Variant(v.group, r.c.won_at, S, [*v.where, *won])
        source = v.source.join(r, r.c.event_id == S.c.event_id)
        selects.append(
            select(*_keys(v, dialect, query), *record_columns(r))
            .select_from(source)
            .where(*v.where, *(narrow(v) if narrow else []))
        )
    return union_all(*selects) if len(selects) > 1 else selects[0]


def cell_submissions(
    query: ReportQuery, dialect: str, group: str, at_bucket: str | None, kind: str | None
) -> Select[Any]:
    """The submissions behind a leads / submissions / meetings cell, newest first."""
    selects = []
    for v in variants(query):
        where = [*v.where, *cell_filter(v, dialect, query, group, at_bucket)]
        if kind:
            where.append(S.c.kind == kind)
        selects.append(
            select(
                S.c.id.label("sid"),
                S.c.person_key,
                S.c.email,
                S.c.event_id,
                S.c.kind,
                S.c.source,
                S.c.submitted_at,
            )
            .select_from(v.source)
            .where(*where)
        )
    t = _combined(selects, distinct=True)
    return select(t).order_by(t.c.submitted_at.desc(), t.c.sid.desc())


def cell_conversions(query: ReportQuery, dialect: str, group: str, at_bucket: str | None) -> Select[Any]:
    """The conversions behind a conversions cell, newest first."""
    selects = [
        select(
            C.c.id.label("cid"),
            C.c.event_id.label("conversion_event_id"),
            C.c.event_type,
            C.c.custom_event_name,
            C.c.sent_at,
            S.c.id.label("sid"),
            S.c.person_key,
            S.c.email,
            S.c.event_id,
        )
        .select_from(v.source.join(C, C.c.submission_id == S.c.id))
        .where(
            *v.where, C.c.status == ConversionStatus.SENT, *cell_filter(v, dialect, query, group, at_bucket)
        )
        for v in variants(query)
    ]
    t = _combined(selects, distinct=True)
    return select(t).order_by(t.c.cid.desc())
