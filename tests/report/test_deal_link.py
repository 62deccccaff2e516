"""A CRM record whose stages no rule names (only `[report] opportunity_stages`) still counts for the lead
whose touch the connector wrote onto it: the deal attribution links the record to that person."""

from __future__ import annotations

from dataclasses import replace

from connector.config import ReportSettings
from connector.report import ReportQuery, build_report
from connector.store.models import DealAttribution
from connector.timeutil import utcnow
from tests.admin.ledger_rows import receipt, stage_change, submission

CHATGPT = {"first_channel": "ai_assistant", "first_ai_source": "chatgpt"}
CLAUDE = {"first_channel": "ai_assistant", "first_ai_source": "claude"}


def _written(session, record_id: str, event_id: str) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    session.add(
        DealAttribution(
            crm="hubspot",
            object_type="deals",
            record_id=record_id,
            learned_via="stage webhook",
            event_id=event_id,
            status="written",
            fields_written={"first_ai_source": "chatgpt"},
            attempts=1,
            created_at=now,
            updated_at=now,
        )
    )
    session.flush()


def _opportunities(ctx) -> dict[str, int]:  # type: ignore[no-untyped-def]
    settings = replace(ctx.settings, report=ReportSettings(opportunity_stages=["QualifiedToBuy"]))
    report = build_report(ctx.engine, settings, ReportQuery(by="ai_source", touch="first"))
    return {row.group: row.opportunities for row in report.rows}


def test_a_record_linked_only_by_its_deal_attribution_counts_for_that_lead(ctx):  # type: ignore[no-untyped-def]
    with ctx.sessions.begin() as session:
        submission(
            session, receipt(session, "evt-ada"), contact={"email": "ada@example.com"}, attribution=CHATGPT
        )
        submission(
            session, receipt(session, "evt-bob"), contact={"email": "bob@example.com"}, attribution=CLAUDE
        )
        # No rule resolved these changes, so none is attributed to a lead.
        stage_change(session, "deal-1", stage="qualifiedtobuy", status="no_rule")
        stage_change(session, "deal-2", stage="qualifiedtobuy", status="no_rule")
        stage_change(session, "deal-3", stage="appointmentscheduled", status="no_rule")
    assert _opportunities(ctx) == {"chatgpt": 0, "claude": 0}, "no record is linked to anyone yet"

    with ctx.sessions.begin() as session:
        _written(session, "deal-1", "evt-ada")
        _written(session, "deal-3", "evt-bob")  # a stage the report does not count as an opportunity
    assert _opportunities(ctx) == {"chatgpt": 1, "claude": 0}
