"""The polling fallback: watermarks, history rows that are not stage moves, push and poll together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from connector.stages.changes import StageChange, store_stage_changes
from connector.stages.poll import poll_once
from connector.store.models import StageChange as StageChangeRow
from connector.store.models import StageWatermark
from connector.timeutil import parse_iso
from tests.conftest import wait_for
from tests.stages.test_e2e import OPPREF, orders
from tests.stages.test_resolution import conversions, env, handle, remember, with_rules  # noqa: F401


def rows(ctx) -> list[StageChangeRow]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return list(session.scalars(select(StageChangeRow).order_by(StageChangeRow.id)))


@pytest.mark.parametrize("env", ["salesforce"], indirect=True)
def test_salesforce_history_polled_since_the_watermark(ctx, salesforce_double):
    lead = salesforce_double.add_record("Lead", Email="p@example.com", LastName="P", Company="C")
    opp = salesforce_double.convert_lead(lead, amount=10, stage="Prospecting")
    assert poll_once(ctx) == 1  # the Prospecting entry
    now = datetime.now(UTC)
    salesforce_double.set_stage(opp, "Negotiation", at=now + timedelta(seconds=1))
    history = next(iter(salesforce_double.records["OpportunityHistory"].values()))
    salesforce_double.records["OpportunityHistory"]["008amountedit"] = {
        **history,
        "Id": "008amountedit",
        "StageName": "Negotiation",
        "Amount": 20,
        "CreatedDate": (now + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    }
    won_at = salesforce_double.set_stage(opp, "Closed Won", at=now + timedelta(seconds=3))
    assert poll_once(ctx) == 2  # Negotiation and Closed Won; the amount edit is no stage move
    assert poll_once(ctx) == 0  # the overlap re-reads them: nothing new
    assert [r.stage for r in rows(ctx)] == ["Prospecting", "Negotiation", "Closed Won"]
    with ctx.sessions() as session:
        mark = session.get(StageWatermark, "salesforce:Opportunity")
    assert mark.value.replace(tzinfo=UTC) == parse_iso(won_at)
    assert (
        "OpportunityHistory" in salesforce_double.queries[-1]
        and "CreatedDate >" in salesforce_double.queries[-1]
    )


def test_hubspot_deals_polled_and_push_of_the_same_change_is_handled_once(ctx, hubspot_double):
    contact = hubspot_double.add_contact(email="q@example.com")
    remember(ctx, "hubspot", contact, "q@example.com", "evt-q", "opp-q")
    deal = hubspot_double.add_deal([contact], amount="50", deal_currency_code="USD")
    won_ms = hubspot_double.set_deal_stage(deal, "closedwon")
    pushed = StageChange(
        "hubspot",
        "deals",
        deal,
        "closedwon",
        datetime.fromtimestamp(won_ms / 1000, UTC),
        "webhook:1:2:3",
        "webhook",
    )
    with ctx.sessions.begin() as session:
        store_stage_changes(session, [pushed])
    assert poll_once(ctx) == 0  # the poll finds the change the webhook already brought
    [row] = handle(ctx)
    assert row.status == "converted" and row.via == "webhook"
    hubspot_double.set_deal_stage(deal, "closedlost", at=datetime.now(UTC) + timedelta(seconds=2))
    assert poll_once(ctx) == 1 and rows(ctx)[-1].stage == "closedlost"


def test_hubspot_deal_won_again_between_two_polls_is_a_second_entry(ctx, hubspot_double):
    each = with_rules(ctx, fire="each_entry")
    contact = hubspot_double.add_contact(email="w@example.com")
    remember(each, "hubspot", contact, "w@example.com", "evt-w", "opp-w")
    deal = hubspot_double.add_deal([contact], amount="70", deal_currency_code="USD")
    now = datetime.now(UTC)
    first = hubspot_double.set_deal_stage(deal, "closedwon", at=now - timedelta(minutes=30))
    assert poll_once(each) == 1
    hubspot_double.set_deal_stage(deal, "closedlost", at=now - timedelta(minutes=20))
    second = hubspot_double.set_deal_stage(deal, "closedwon", at=now - timedelta(minutes=10))
    assert poll_once(each) == 1  # the poll sees the deal won again; lost came and went unseen
    assert [r.status for r in handle(each)] == ["converted", "converted"]
    assert [c.timestamp_ms for c in conversions(each)] == [first, second]


@pytest.mark.parametrize("env", ["salesforce"], indirect=True)
def test_polling_worker_sends_a_won_opportunity_once(
    client, ctx, processes, salesforce_double, openai_double
):
    processes.env["CONNECTOR_STAGES__POLL_INTERVAL_SECONDS"] = "1"
    lead = salesforce_double.add_record("Lead", Email="r@example.com", LastName="R", Company="C")
    salesforce_double.records["Lead"][lead]["OpenAI_Oppref__c"] = OPPREF
    remember(ctx, "salesforce", lead, "r@example.com", "evt-r", None)
    opp = salesforce_double.convert_lead(lead, amount=42)
    won_at = salesforce_double.set_stage(opp, "Closed Won")
    processes.start("worker", name="worker")
    wait_for(lambda: orders(openai_double), timeout=40, message="order_created from a poll")
    [order] = orders(openai_double)
    assert order["oppref"] == OPPREF and order["data"]["amount"] == 4200
    assert order["timestamp_ms"] == int(parse_iso(won_at).timestamp() * 1000)
