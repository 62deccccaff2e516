"""The report's reads over the facts use the order and index migration 0013 gives them (SQLite's plans;
PostgreSQL hashes the aggregate and chooses the join by cost), and read the opportunity records from
report_records (migration 0014), never the stage changes."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from connector.report import ReportQuery, sql, tally


def plan(ctx, statement) -> str:  # type: ignore[no-untyped-def]
    compiled = str(statement.compile(ctx.engine, compile_kwargs={"literal_binds": True}))
    if ctx.engine.dialect.name == "postgresql":
        compiled = compiled.replace("%%", "%")  # text() escapes them again
    explain = "EXPLAIN QUERY PLAN" if ctx.engine.dialect.name == "sqlite" else "EXPLAIN"
    with ctx.engine.connect() as connection:
        return " | ".join(r[-1] for r in connection.execute(text(f"{explain} {compiled}")))


@pytest.fixture
def sqlite_ctx(ctx):  # type: ignore[no-untyped-def]
    if ctx.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's storage order")
    return ctx


def test_the_lead_aggregate_walks_the_facts_in_their_order(sqlite_ctx):  # type: ignore[no-untyped-def]
    for query in (
        ReportQuery(),
        ReportQuery(by="channel", touch="any"),
        ReportQuery(by="form", touch="latest"),
    ):
        found = plan(sqlite_ctx, tally.lead_facts(query, "sqlite"))
        assert "SCAN report_facts" in found and "TEMP B-TREE" not in found, found


QUERIES = (
    ReportQuery(),
    ReportQuery(by="channel", touch="any", trend="week"),
    ReportQuery(date="won", trend="month"),
    ReportQuery(date="won", since=date(2026, 9, 1)),
)


def test_records_reach_their_facts_through_the_event_id_index(sqlite_ctx):  # type: ignore[no-untyped-def]
    """The records are walked and their facts looked up (with or without statistics: the empty test
    ledger has none), never the million facts walked and a record looked up for each."""
    for query in QUERIES:
        statements = [tally.record_facts(query, "sqlite"), tally.lead_records(query, "sqlite")]
        for found in (plan(sqlite_ctx, s) for s in statements):
            assert "SEARCH report_facts USING COVERING INDEX ix_report_facts_event_id" in found, found
            assert "SCAN report_facts" not in found and "(event_id=?) | SEARCH report_facts" not in found, (
                found
            )
    found = plan(sqlite_ctx, tally.record_facts(QUERIES[-1], "sqlite"))
    assert "SEARCH r USING INDEX ix_report_records_won_at (won_at>?)" in found, found


def test_the_report_reads_the_kept_records_not_the_stage_changes(ctx):  # type: ignore[no-untyped-def]
    dialect = ctx.engine.dialect.name
    for query in QUERIES:
        statements = [
            tally.lead_facts(query, dialect),
            tally.won_facts(query),
            tally.record_facts(query, dialect),
            tally.lead_records(query, dialect),
            sql.opportunities(query, dialect),
        ]
        for statement in statements:
            found = plan(ctx, statement)
            assert "stage_changes" not in found and "deal_attributions" not in found, found
