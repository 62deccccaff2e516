"""The report's reads over the facts use the order and index migration 0013 gives them (SQLite's plans;
PostgreSQL hashes the aggregate and chooses the join by cost)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import text

from connector.config import StagesSettings
from connector.report import ReportQuery, sql, tally

RULES = {"won": {"crm": "hubspot", "object": "deal", "stage": "closedwon", "event": "order_created"}}


def plan(ctx, statement) -> str:  # type: ignore[no-untyped-def]
    compiled = statement.compile(ctx.engine, compile_kwargs={"literal_binds": True})
    with ctx.engine.connect() as connection:
        return " | ".join(r[-1] for r in connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


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


def test_records_reach_their_facts_through_the_event_id_index(sqlite_ctx):  # type: ignore[no-untyped-def]
    settings = replace(sqlite_ctx.settings, stages=StagesSettings(rules=RULES))
    stages = sql.Stages.from_settings(settings)
    for query in (ReportQuery(), ReportQuery(date="won", trend="month")):
        found = plan(sqlite_ctx, tally.record_facts(query, stages))
        assert "SEARCH report_facts USING COVERING INDEX ix_report_facts_event_id" in found, found
