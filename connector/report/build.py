"""Run the report's reads and fold them into rows: one per group value (and trend bucket)."""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from connector.config import Settings
from connector.report import sql, tally
from connector.report.query import NONE_LABEL, Cell, ReportError, ReportQuery
from connector.store.report_facts import lens_sides, members, parse_sent
from connector.store.report_records import StageNames
from connector.store.report_records import ensure as ensure_records
from connector.timeutil import as_utc

LIST_LIMIT = 1000
"""Most entries one cell's list returns (newest first)."""


@dataclass
class Row:
    """The numbers of one group value (in one bucket when the report has a trend)."""

    group: str
    bucket: str | None = None
    leads: int = 0
    submissions: int = 0
    meetings: int = 0
    opportunities: int = 0
    won: int = 0
    won_amounts: dict[str, int] = field(default_factory=dict)
    """Currency -> won amount in minor units (deals whose won change carried an amount)."""
    conversions: dict[str, int] = field(default_factory=dict)
    """OpenAI event type (custom events: `custom:<name>`) -> conversions sent."""
    median_days_to_won: float | None = None
    days_to_won: list[float] = field(default_factory=list, repr=False)


@dataclass
class Report:
    query: ReportQuery
    rows: list[Row]

    @property
    def buckets(self) -> list[str]:
        return sorted({r.bucket for r in self.rows if r.bucket})


def _label(value: Any) -> str:
    return NONE_LABEL if value in (None, "") else str(value)


def _key(row: Any, query: ReportQuery) -> tuple[str, str | None]:
    return _label(row.g), (row.b if query.trend else None)


@contextmanager
def _connect(engine: Engine) -> Iterator[Connection]:
    """A read connection. On PostgreSQL, for this transaction only: no JIT, whose compiling cost the
    report's grouped reads more (0.1-0.3 s a statement at 1,000,000 submissions) than it saved; and index
    lookups priced as on an SSD, so the records won reach their leads through the event id index
    (80,000 lookups) instead of a walk over every submission (the opportunities read: 2.0 s -> 1.0 s);
    and no parallel workers, each of which grouped every record's stage changes again (5.0 s -> 2.4 s)."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL jit = off"))
            connection.execute(text("SET LOCAL random_page_cost = 1.1"))
            connection.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        yield connection


def _record_rows(engine: Engine, statement: Any, query: ReportQuery) -> list[Any]:
    """Opportunity rows, one per (cell, record): a record reached through two submissions of one cell
    counts once, with its earliest lead."""
    with _connect(engine) as connection:
        rows = connection.execute(statement).all()
    best: dict[tuple[Any, ...], Any] = {}
    for row in rows:
        key = (*_key(row, query), row.crm, row.object_type, row.record_id)
        if key not in best or as_utc(row.submitted_at) < as_utc(best[key].submitted_at):
            best[key] = row
    return list(best.values())


def _won_in_range(row: Any, query: ReportQuery) -> bool:
    if row.won_at is None:
        return False
    if query.date != "won":
        return True
    won_at = as_utc(row.won_at)
    return (query.start is None or won_at >= query.start) and (query.end is None or won_at < query.end)


def build_report(engine: Engine, settings: Settings, query: ReportQuery) -> Report:
    """The report for `query`, from the ledger alone: the facts per profile, then the records."""
    ensure_records(engine, StageNames.from_settings(settings))
    dialect = engine.dialect.name
    rows: dict[tuple[str, str | None], Row] = {}

    def row_for(key: tuple[str, str | None]) -> Row:
        if key not in rows:
            rows[key] = Row(*key)
        return rows[key]

    def count(row: Row, profile: Any, n: int, sent: str | None) -> None:
        if profile.kind == "form":
            row.submissions += n
        elif profile.kind == "booking":
            row.meetings += n
        for event_type, custom in parse_sent(sent):
            name = f"custom:{custom}" if event_type == "custom" else event_type
            row.conversions[name] = row.conversions.get(name, 0) + n

    with _connect(engine) as connection:
        profiles = {p.id: p for p in connection.execute(tally.profiles())}
        lenses = {i: members(dict(p._mapping), query.by, query.touch) for i, p in profiles.items()}
        sides = lens_sides(query.by, query.touch)
        if query.date == "lead":
            for found in connection.execute(tally.lead_facts(query, dialect)):
                at_bucket = tally.bucket_label(int(found.b), query.trend) if query.trend else None
                for side, value in lenses[found.profile_id]:
                    row = row_for((_label(value), at_bucket))
                    row.leads += int(found.l0 if side == sides[0] else found.l1)
                    count(row, profiles[found.profile_id], found.n, found.sent)
        else:
            people: dict[tuple[str, str | None], set[str | None]] = {}
            for found in connection.execute(tally.won_facts(query)):
                won_at = as_utc(found.won_at)
                at_bucket = tally.bucket_label(won_at, query.trend) if query.trend else None
                for _side, value in lenses[found.profile_id]:
                    key = (_label(value), at_bucket)
                    people.setdefault(key, set()).add(found.person_key)
                    count(row_for(key), profiles[found.profile_id], 1, found.sent)
            for key, persons in people.items():
                rows[key].leads = len(persons)
        # SQLite counts the records per profile (a join it runs through the event id index); PostgreSQL
        # reads them all faster than it runs that statement (heap fetches per lookup), then Python counts.
        counted = query.date == "lead" and dialect == "sqlite"
        # (profile, at, submission id, crm, object type, record id, won at, amount, currency) rows
        records: Sequence[tuple[Any, ...]]
        if counted:
            records = _lead_records(connection, query, lenses, row_for)
        else:
            records = connection.execute(tally.record_facts(query, dialect)).tuples().all()
    labels = {i: [_label(value) for _side, value in lens] for i, lens in lenses.items()}
    best: dict[tuple[Any, ...], tuple[tuple[int, int], datetime | None, Any, Any]] = {}
    for profile_id, at, submission_id, crm, object_type, record_id, won, amount, currency in records:
        won_at = as_utc(won) if won is not None else None
        at_bucket = None
        if query.trend:
            moment = won_at if query.date == "won" else at
            at_bucket = tally.bucket_label(moment, query.trend) if moment is not None else None
        first = (at, submission_id)
        for label in labels[profile_id]:
            record = (label, at_bucket, crm, object_type, record_id)
            kept = best.get(record)
            if kept is None or first < kept[0]:
                best[record] = (first, won_at, amount, currency)
    for record, (first, won_at, amount, currency) in best.items():
        row = row_for((record[0], record[1]))
        if not counted:
            row.opportunities += 1
        if won_at is None:
            continue
        row.won += 1
        if amount is not None and currency:
            row.won_amounts[currency] = row.won_amounts.get(currency, 0) + int(amount)
        row.days_to_won.append((won_at.timestamp() - first[0]) / 86400)
    for row in rows.values():
        if row.days_to_won:
            row.median_days_to_won = round(statistics.median(row.days_to_won), 1)
    ordered = sorted(rows.values(), key=lambda r: (r.bucket or "", -r.leads, -r.won, r.group))
    return Report(query, ordered)


def _lead_records(
    connection: Connection, query: ReportQuery, lenses: Any, row_for: Any
) -> list[tuple[Any, ...]]:
    """By lead date: each cell's opportunity records counted (per profile by the database, a record
    reaching a cell through several facts once); returns the won records' (record, fact) rows."""
    won = []
    pairs: dict[tuple[Any, ...], int] = {}
    for found in connection.execute(tally.lead_records(query, connection.dialect.name)):
        if found.kind == "c":
            at_bucket = tally.bucket_label(int(found.b), query.trend) if query.trend else None
            for _side, value in lenses[found.profile_id]:
                row_for((_label(value), at_bucket)).opportunities += found.n
            continue
        if found.won_at is not None:
            won.append(
                (
                    found.profile_id,
                    found.at,
                    found.submission_id,
                    found.crm,
                    found.object_type,
                    found.record_id,
                    found.won_at,
                    found.amount,
                    found.currency,
                )
            )
        if found.shared:
            at_bucket = tally.bucket_label(found.at, query.trend) if query.trend else None
            for _side, value in lenses[found.profile_id]:
                cell = (_label(value), at_bucket, found.crm, found.object_type, found.record_id)
                pairs[cell] = pairs.get(cell, 0) + 1
    for cell, n in pairs.items():
        row_for((cell[0], cell[1])).opportunities -= n - 1
    return won


def _person(found: Any) -> dict[str, Any]:
    return {
        "person": found.person_key,
        "email": found.email,
        "event_id": found.event_id,
        "submission_id": found.sid,
    }


def _day(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def list_cell(engine: Engine, settings: Settings, query: ReportQuery, cell: Cell) -> list[dict[str, Any]]:
    """The people and event ids behind one cell, newest first (at most LIST_LIMIT)."""
    if query.trend and cell.bucket is None:
        raise ReportError("list: the report has a trend; name the bucket, METRIC=VALUE@YYYY-MM-DD")
    ensure_records(engine, StageNames.from_settings(settings))
    dialect = engine.dialect.name
    if cell.metric in ("opportunities", "won"):

        def narrow(v: sql.Variant) -> list[Any]:
            return sql.cell_filter(v, dialect, query, cell.group, cell.bucket)

        found = _record_rows(engine, sql.opportunities(query, dialect, narrow), query)
        if cell.metric == "won":
            found = [f for f in found if _won_in_range(f, query)]
        found.sort(key=lambda f: (as_utc(f.won_at or f.submitted_at), f.record_id), reverse=True)
        return [
            {
                **_person(f),
                "crm": f.crm,
                "object": f.object_type,
                "record_id": f.record_id,
                "lead_at": _day(f.submitted_at),
                "won_at": _day(f.won_at),
                "amount": f.amount,
                "currency": f.currency,
            }
            for f in found[:LIST_LIMIT]
        ]
    with _connect(engine) as connection:
        if cell.metric == "conversions":
            statement = sql.cell_conversions(query, dialect, cell.group, cell.bucket)
            return [
                {
                    **_person(f),
                    "conversion_event_id": f.conversion_event_id,
                    "type": f.event_type,
                    "custom_event_name": f.custom_event_name or None,
                    "sent_at": _day(f.sent_at),
                }
                for f in connection.execute(statement.limit(LIST_LIMIT))
            ]
        kind = {"submissions": "form", "meetings": "booking"}.get(cell.metric)
        statement = sql.cell_submissions(query, dialect, cell.group, cell.bucket, kind)
        return [
            {**_person(f), "kind": f.kind, "source": f.source, "submitted_at": _day(f.submitted_at)}
            for f in connection.execute(statement.limit(LIST_LIMIT))
        ]
