"""The report's opportunity records kept by the triggers (migration 0014) equal the records computed from
the stage changes and deal attributions, after stage changes, resolutions, expiries, Won -> Lost -> Won,
moves, deletions, deal attributions and an erasure; a report for other stage settings rebuilds them once."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import delete, select, update

from connector.config import ReportSettings, StagesSettings
from connector.erasure import forget
from connector.report import ReportQuery, build_report
from connector.store.models import Conversion, DealAttribution, ReportRecord, StageChange
from connector.store.report_records import RECORD_COLUMNS, StageNames, computed, ensure, stored_fingerprint
from connector.timeutil import utcnow
from tests.admin.ledger_rows import receipt, stage_change, submission

RULES = {
    "demo": {
        "crm": "hubspot",
        "object": "deal",
        "stage": "appointmentscheduled",
        "event": "appointment_scheduled",
    },
    "won": {"crm": "hubspot", "object": "deal", "stage": "closedwon", "event": "order_created"},
}
CHATGPT = {"first_channel": "ai_assistant", "first_ai_source": "chatgpt"}
CLAUDE = {"first_channel": "ai_assistant", "first_ai_source": "claude"}


def _settings(ctx, opportunity: tuple[str, ...] = ("qualifiedtobuy",)):  # type: ignore[no-untyped-def]
    return replace(
        ctx.settings,
        stages=StagesSettings(rules=RULES),
        report=ReportSettings(opportunity_stages=list(opportunity)),
    )


def kept(connection) -> list[tuple]:  # type: ignore[no-untyped-def]
    columns = [ReportRecord.__table__.c[c] for c in RECORD_COLUMNS]
    return sorted(tuple(r) for r in connection.execute(select(*columns)))


def recomputed(connection) -> list[tuple]:  # type: ignore[no-untyped-def]
    return sorted(tuple(r) for r in connection.execute(computed()))


def _agree(ctx) -> list[tuple]:  # type: ignore[no-untyped-def]
    with ctx.engine.connect() as connection:
        rows = kept(connection)
        assert rows == recomputed(connection)
    return rows


def _conversion(session, event_id: str, submission_id: int) -> int:  # type: ignore[no-untyped-def]
    row = Conversion(
        pixel_id="px",
        event_type="order_created",
        event_id=event_id,
        submission_id=submission_id,
        status="sent",
    )
    session.add(row)
    session.flush()
    return row.id


def _deal(session, record_id: str, event_id: str) -> DealAttribution:  # type: ignore[no-untyped-def]
    now = utcnow()
    row = DealAttribution(
        crm="hubspot",
        object_type="deals",
        record_id=record_id,
        learned_via="stage webhook",
        event_id=event_id,
        status="written",
        fields_written={},
        attempts=1,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def test_kept_records_equal_the_recomputed_ones(ctx):  # type: ignore[no-untyped-def]
    settings = _settings(ctx)
    ensure(ctx.engine, StageNames.from_settings(settings))
    day = utcnow() - timedelta(days=30)
    with ctx.sessions.begin() as session:
        ada = submission(
            session, receipt(session, "evt-ada"), contact={"email": "ada@example.com"}, attribution=CHATGPT
        )
        submission(
            session, receipt(session, "evt-bob"), contact={"email": "bob@example.com"}, attribution=CLAUDE
        )
        # deal-1: demo, Won (converted, its amount), Lost, Won again (already converted)
        stage_change(
            session,
            "deal-1",
            stage="appointmentscheduled",
            entered_at=day,
            status="expired",
            rule="demo",
            attributed_event_id="evt-ada",
        )
        won = _conversion(session, "won-1", ada.id)
        stage_change(
            session,
            "deal-1",
            stage="closedwon",
            entered_at=day + timedelta(days=5),
            status="converted",
            rule="won",
            attributed_event_id="evt-ada",
            conversion_id=won,
            amount=120_000,
            currency="USD",
        )
        stage_change(
            session, "deal-1", stage="closedlost", entered_at=day + timedelta(days=6), status="no_rule"
        )
        stage_change(
            session,
            "deal-1",
            stage="closedwon",
            entered_at=day + timedelta(days=7),
            status="already_converted",
            rule="won",
            attributed_event_id="evt-ada",
            amount=999,
            currency="USD",
        )
        # deal-2: an expired won change (its amount still counts); deal-3: a stage only [report] names
        stage_change(
            session,
            "deal-2",
            stage="closedwon",
            entered_at=day + timedelta(days=2),
            status="expired",
            rule="won",
            attributed_event_id="evt-bob",
            amount=50_00,
            currency="EUR",
        )
        stage_change(session, "deal-3", stage="QualifiedToBuy", entered_at=day, status="no_rule")
        stage_change(session, "deal-4", stage="closedlost", entered_at=day, status="no_rule")  # not counted
        pending = stage_change(session, "deal-5", stage="appointmentscheduled", entered_at=day)
    rows = _agree(ctx)
    assert [r[2] for r in rows] == ["deal-1", "deal-2", "deal-3"]
    deal_1 = rows[0]
    assert deal_1[3] == "evt-ada" and deal_1[6:] == (120_000, "USD")
    assert rows[2][3] is None, "no lead until the connector writes the deal"

    with ctx.sessions.begin() as session:
        # the resolver resolves deal-5's change; deal-3 gets its attribution written; deal-2 is moved
        session.execute(
            update(StageChange)
            .where(StageChange.id == pending.id)
            .values(status="expired", rule="demo", attributed_event_id="evt-bob")
        )
        deal = _deal(session, "deal-3", "evt-ada")
        _deal(session, "deal-4", "evt-bob")
        session.execute(
            update(StageChange).where(StageChange.record_id == "deal-2").values(record_id="deal-2b")
        )
    rows = _agree(ctx)
    assert [(r[2], r[3]) for r in rows] == [
        ("deal-1", "evt-ada"),
        ("deal-2b", "evt-bob"),
        ("deal-3", "evt-ada"),
        ("deal-5", "evt-bob"),
    ]

    with ctx.sessions.begin() as session:
        # Won -> Lost -> Won: the converted change deleted (the first remaining won change counts then)
        session.execute(delete(StageChange).where(StageChange.conversion_id == won))
        session.get(DealAttribution, deal.id).event_id = "evt-bob"  # type: ignore[union-attr]
    rows = _agree(ctx)
    assert rows[0][6:] == (999, "USD") and rows[2][3] == "evt-bob"

    with ctx.sessions.begin() as session:
        session.execute(delete(DealAttribution).where(DealAttribution.id == deal.id))
        session.execute(delete(StageChange).where(StageChange.record_id == "deal-5"))
    rows = _agree(ctx)
    assert [(r[2], r[3]) for r in rows] == [("deal-1", "evt-ada"), ("deal-2b", "evt-bob"), ("deal-3", None)]

    before = rows
    forget(ctx, "ada@example.com")
    assert _agree(ctx) == before, "an erasure keeps the records (no personal data in them)"


def test_a_report_for_other_stage_settings_rebuilds_the_records_once(ctx, caplog):  # type: ignore[no-untyped-def]
    with ctx.sessions.begin() as session:
        submission(
            session, receipt(session, "evt-ada"), contact={"email": "ada@example.com"}, attribution=CHATGPT
        )
        stage_change(session, "deal-1", stage="QualifiedToBuy", status="no_rule")
        _deal(session, "deal-1", "evt-ada")
    counted = _settings(ctx)
    ignored = _settings(ctx, opportunity=())
    with caplog.at_level(logging.WARNING, logger="connector.store.report_records"):
        assert {r.group: r.opportunities for r in build_report(ctx.engine, counted, ReportQuery()).rows} == {
            "chatgpt": 1
        }
        assert len([r for r in caplog.records if "rebuilt" in r.message]) == 1
        build_report(ctx.engine, counted, ReportQuery(by="channel"))
        assert len([r for r in caplog.records if "rebuilt" in r.message]) == 1, "once"
        assert {r.group: r.opportunities for r in build_report(ctx.engine, ignored, ReportQuery()).rows} == {
            "chatgpt": 0
        }
        assert len([r for r in caplog.records if "rebuilt" in r.message]) == 2
    with ctx.engine.connect() as connection:
        assert stored_fingerprint(connection) == StageNames.from_settings(ignored).fingerprint
    with ctx.sessions.begin() as session:  # the triggers now keep the rows for the stored names
        stage_change(session, "deal-2", stage="QualifiedToBuy", status="no_rule")
        stage_change(session, "deal-3", stage="closedwon", status="no_rule")
    assert [r[2] for r in _agree(ctx)] == ["deal-3"]
