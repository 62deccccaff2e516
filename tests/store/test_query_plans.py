"""The hot queries of requests, jobs and `events show` read an index, never a whole table (issue 15).

Each statement is the one the code runs (built by the same function), explained by the database itself:
SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN with sequential scans priced out (an empty test table
would otherwise be read whole, which is right for it and says nothing about 1,000,000 rows).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import ClauseElement, Executable, Select, select, text
from sqlalchemy.ext.compiler import compiles

from connector.bookings.story import bookings_of, lead_conversion, release_marks
from connector.conversions.dispatch import expiring, overdue_pixels
from connector.jobs.bookings import held_statement
from connector.metrics import DEAL_STATUSES, deals_statement
from connector.queue.ledgers import CONVERSIONS, CRM_WRITES, RECEIPTS, STAGE_CHANGES
from connector.store.counts import counts_statement
from connector.store.models import Conversion, CrmWrite, StageChange
from connector.story import (
    conversions_of,
    crm_writes_of,
    journal_of,
    receipts_under,
    stage_changes_of,
    submissions_of,
)
from connector.timeutil import utcnow


class Explain(Executable, ClauseElement):
    """EXPLAIN of a statement, with its parameters bound as the statement's own execution binds them."""

    inherit_cache = False

    def __init__(self, statement: Select[Any]):
        self.statement = statement


@compiles(Explain)
def _explain(element: Explain, compiler: Any, **kw: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if compiler.dialect.name == "sqlite" else "EXPLAIN "
    return prefix + compiler.process(element.statement, **kw)


NOW = utcnow()
PIXEL = Conversion.pixel_id == "px_main"
CLAIM_COLUMNS = (Conversion.id, Conversion.attempt_token, Conversion.status)
EXPIRING = expiring("px_main", 1)
BY_STATUS = "ix_conversions_pixel_status|ix_conversions_status_event|ix_conversions_status_updated_at"
"""Conversions' indexes that lead with the status (after the pixel): each reads live rows only."""

# name -> (statements, indexes the plan must name (a|b: either), whether SQLite may sort in a temporary
# B-tree). A unique constraint's index is named by the constraint in PostgreSQL, sqlite_autoindex_* in SQLite.
HOT: dict[str, tuple[Callable[[], list[Select[Any]]], tuple[str, ...], bool]] = {
    "events show: receipts": (lambda: [receipts_under("e1")], ("ix_receipts_event_id",), False),
    "events show: submissions": (
        lambda: [submissions_of([1, 2], ["e1"])],
        ("submissions_receipt_id_key|sqlite_autoindex_submissions_1", "ix_submissions_event_id"),
        True,
    ),
    "events show: conversions": (
        lambda: [conversions_of([1, 2], ["e1"])],
        ("ix_conversions_submission_id", "ix_conversions_event_id"),
        True,
    ),
    "events show: crm writes": (
        lambda: [crm_writes_of([1, 2], ["e1"])],
        ("uq_crm_writes_target|sqlite_autoindex_crm_writes_1", "ix_crm_writes_event_id"),
        True,
    ),
    "events show: journal": (
        lambda: [journal_of([1, 2], ["e1"])],
        ("ix_journal_receipt_id", "ix_journal_event_id"),
        True,
    ),
    "events show: bookings": (
        lambda: [bookings_of(["e1"], [1, 2], [3])],
        (
            "ix_bookings_event_id",
            "ix_bookings_receipt_id",
            "ix_bookings_beacon_receipt_id",
            "ix_bookings_submission_id",
        ),
        True,
    ),
    "events show: stage changes": (
        lambda: [stage_changes_of(["e1"])],
        ("ix_stage_changes_attributed_event_id", "ix_stage_changes_event_id"),
        True,
    ),
    "events show: booking release": (
        lambda: [lead_conversion(1), release_marks(1)],
        ("ix_conversions_submission_id", "ix_journal_receipt_id"),
        False,
    ),
    "sender: claim": (
        lambda: CONVERSIONS.ready_statements(CLAIM_COLUMNS, NOW, PIXEL, limit=1000),
        ("ix_conversions_pixel_status",),
        False,
    ),
    "sender: expire": (
        lambda: CONVERSIONS.ready_statements(EXPIRING[0], NOW, *EXPIRING[1:]),
        ("ix_conversions_pixel_status",),
        False,
    ),
    "sender: next due": (
        lambda: CONVERSIONS.next_ready_statements(NOW, PIXEL),
        (BY_STATUS,),
        True,  # the sort is over the pixel's waiting rows, which the index range already narrowed to
    ),
    "sweeper: receipts, CRM writes, stage changes overdue": (
        lambda: [ledger.overdue_statement(NOW, 60) for ledger in (RECEIPTS, CRM_WRITES, STAGE_CHANGES)],
        ("ix_receipts_status_received_at", "ix_crm_writes_status_updated_at", "ix_stage_changes_status"),
        True,
    ),
    "CRM flush and stage resolver: next due": (
        lambda: [*CRM_WRITES.next_ready_statements(NOW), *STAGE_CHANGES.next_ready_statements(NOW)],
        ("ix_crm_writes_status_updated_at", "ix_stage_changes_status"),
        True,
    ),
    "CRM flush: pending writes": (
        lambda: CRM_WRITES.ready_statements(
            (CrmWrite.id, CrmWrite.created_at), NOW, CrmWrite.id > 0, limit=100
        ),
        ("ix_crm_writes_status_updated_at",),
        True,
    ),
    "stage resolver: claim": (
        lambda: STAGE_CHANGES.ready_statements((StageChange.id, StageChange.status), NOW, limit=100),
        ("ix_stage_changes_status",),
        True,
    ),
    "console: stage changes of one status, newest first": (
        lambda: [
            select(StageChange)
            .where(StageChange.status == "expired", StageChange.id < 10**6)
            .order_by(StageChange.id.desc())
            .limit(51)
        ],
        ("ix_stage_changes_status_id",),
        False,
    ),
    "sweeper: held booking leads": (
        lambda: [held_statement(NOW)],
        ("ix_submissions_held_since",),
        False,  # oldest first, in the index's own order
    ),
    "sweeper: overdue pixels": (
        lambda: [overdue_pixels(NOW, 60)],
        (BY_STATUS,),
        True,
    ),
    "metrics scrape: receipts, conversions and requests counts": (
        lambda: [counts_statement(ledger) for ledger in ("receipts", "conversions", "requests")],
        ("ledger_counts_pkey|sqlite_autoindex_ledger_counts_1",),
        False,  # grouped in the key's own order
    ),
    "metrics scrape: deal attributions waiting, sending, failed": (
        lambda: [deals_statement(status) for status in DEAL_STATUSES],
        ("ix_deal_attributions_status",),
        False,
    ),
}


def plan(session: Any, statement: Select[Any]) -> str:
    """The database's plan for `statement`, one line per step."""
    rows = session.execute(Explain(statement)).all()
    if session.bind.dialect.name == "sqlite":
        # (id, parent, notused, detail) by position: a statement of four columns lends the rows its names
        return "\n".join(str(row[3]) for row in rows)
    return "\n".join(str(row[0]) for row in rows)


def full_scans(dialect: str, text_plan: str) -> list[str]:
    """Steps that read a whole table (SQLite's SCAN without an index, PostgreSQL's Seq Scan)."""
    if dialect == "sqlite":
        return [
            line
            for line in text_plan.splitlines()
            if re.search(r"\bSCAN \w+", line) and "INDEX" not in line and "CONSTANT ROW" not in line
        ]
    return [line for line in text_plan.splitlines() if "Seq Scan" in line]


def explain_all(session: Any, statements: list[Select[Any]]) -> str:
    if session.bind.dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_seqscan = off"))
    return "\n".join(plan(session, statement) for statement in statements)


@pytest.mark.parametrize("name", list(HOT))
def test_hot_query_reads_its_index(ctx, name: str) -> None:
    build, indexes, may_sort = HOT[name]
    with ctx.sessions() as session:
        found = explain_all(session, build())
    dialect = ctx.engine.dialect.name
    assert full_scans(dialect, found) == [], f"{name} reads a whole table:\n{found}"
    missing = [index for index in indexes if not any(name in found for name in index.split("|"))]
    assert missing == [], f"{name} does not use {missing}:\n{found}"
    if dialect == "sqlite" and not may_sort:
        assert "TEMP B-TREE" not in found, f"{name} sorts rows outside an index:\n{found}"


def test_the_check_fails_when_the_index_is_dropped(ctx) -> None:
    """The plan check itself: without conversions.submission_id's index, `events show` scans again."""
    with ctx.engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_conversions_submission_id"))
    with ctx.sessions() as session:
        found = explain_all(session, [conversions_of([1, 2], ["e1"])])
    assert full_scans(ctx.engine.dialect.name, found) != [], found
