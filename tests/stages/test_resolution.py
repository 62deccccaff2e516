"""Stage changes resolved against the CRM doubles in-process: policies, order, age, money, deletions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from connector.context import Context
from connector.stages.changes import StageChange, store_stage_changes
from connector.stages.resolution import claim, run_batch
from connector.store.models import Conversion, CrmWrite, Receipt, Submission
from connector.store.models import StageChange as StageChangeRow
from tests.conversions.conftest import PIXEL_ID
from tests.crm_writes.conftest import hubspot_env, salesforce_env
from tests.stages.conftest import HUBSPOT_WON, SALESFORCE_WON, stage_env

NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)  # a stale module clock stays recent


@pytest.fixture
def env(env, request, openai_double, monkeypatch):  # type: ignore[no-untyped-def]
    """The CRM comes from the test's `crm_name` marker-free parameter: HubSpot unless it asks otherwise."""
    name = getattr(request, "param", "hubspot")
    if name == "salesforce":
        double = request.getfixturevalue("salesforce_double")
        env.update(salesforce_env(double))
        env.update(stage_env(openai_double, {"won": SALESFORCE_WON}))
    else:
        double = request.getfixturevalue("hubspot_double")
        env.update(hubspot_env(double))
        env.update(stage_env(openai_double, {"won": HUBSPOT_WON}))
    for key, value in env.items():
        if key.startswith(("TEST_", "OPENAI_")):
            monkeypatch.setenv(key, value)  # the adapter reads its secrets from this process's environment
    return env


def remember(
    ctx, crm: str, crm_id: str, email: str, event_id: str, oppref: str | None, days_ago: int = 0
) -> int:  # type: ignore[no-untyped-def]
    """A submission our form took `days_ago` days ago and wrote to the CRM as `crm_id`."""
    at = NOW - timedelta(days=days_ago)
    with ctx.sessions.begin() as session:
        receipt = Receipt(
            source="generic",
            delivery_key=f"event:{event_id}",
            event_id=event_id,
            received_at=at,
            status="processed",
        )
        session.add(receipt)
        session.flush()
        submission = Submission(
            receipt_id=receipt.id,
            source="generic",
            event_id=event_id,
            email=email,
            contact={"email": email},
            attribution={
                "event_id": event_id,
                "consent": "granted",
                **({"oppref": oppref} if oppref else {}),
            },
            submitted_at=at,
        )
        session.add(submission)
        session.flush()
        session.add(
            CrmWrite(
                submission_id=submission.id,
                event_id=event_id,
                crm=crm,
                object_type="contacts",
                crm_object_id=crm_id,
                status="written",
            )
        )
        return submission.id


def change(crm: str, obj: str, record_id: str, stage: str, at: datetime, key: str) -> StageChange:
    return StageChange(crm, obj, record_id, stage, at, key, "webhook")


def handle(ctx: Context, *changes: StageChange) -> list[StageChangeRow]:
    """Store the changes (in the order given) and resolve them, one delivery at a time (none given:
    resolve what is stored)."""
    for item in changes or (None,):
        if item is not None:
            with ctx.sessions.begin() as session:
                store_stage_changes(session, [item])
        token, rows = claim(ctx, 200)
        if rows:
            run_batch(ctx, token, rows)
    with ctx.sessions() as session:
        return list(session.scalars(select(StageChangeRow).order_by(StageChangeRow.id)))


def conversions(ctx: Context) -> list[Conversion]:
    with ctx.sessions() as session:
        return list(session.scalars(select(Conversion).order_by(Conversion.id)))


def with_rules(ctx: Context, **won: str) -> Context:
    rules = {"won": {**HUBSPOT_WON, **won}}
    return Context(replace(ctx.settings, stages=replace(ctx.settings.stages, rules=rules)))


def deal(double, ctx, n: int = 1, **props: str) -> str:  # type: ignore[no-untyped-def]
    contact = double.add_contact(email=f"buyer{n}@example.com")
    remember(ctx, "hubspot", contact, f"buyer{n}@example.com", f"evt-{n}", f"opp-{n}", days_ago=2)
    return double.add_deal([contact], amount="100", deal_currency_code="USD", **props)


def test_lost_arriving_before_won_still_sends_won_with_its_own_time(ctx, hubspot_double):
    deal_id = deal(hubspot_double, ctx)
    won, lost = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    rows = handle(
        ctx,
        change("hubspot", "deals", deal_id, "closedlost", lost, "e2"),
        change("hubspot", "deals", deal_id, "closedwon", won, "e1"),
    )
    assert [r.status for r in rows] == ["no_rule", "converted"]
    [conv] = conversions(ctx)
    assert conv.timestamp_ms == int(won.timestamp() * 1000) and conv.payload["oppref"] == "opp-1"


def test_won_lost_won_fires_once_by_default(ctx, hubspot_double):
    deal_id = deal(hubspot_double, ctx)
    times = [NOW - timedelta(hours=h) for h in (3, 2, 1)]
    rows = handle(
        ctx,
        change("hubspot", "deals", deal_id, "closedwon", times[0], "e1"),
        change("hubspot", "deals", deal_id, "closedlost", times[1], "e2"),
        change("hubspot", "deals", deal_id, "closedwon", times[2], "e3"),
    )
    assert [r.status for r in rows] == ["converted", "no_rule", "already_converted"]
    [conv] = conversions(ctx)
    assert conv.timestamp_ms == int(times[0].timestamp() * 1000)


def test_won_lost_won_fires_twice_once_per_entry(ctx, hubspot_double):
    each = with_rules(ctx, fire="each_entry")
    deal_id = deal(hubspot_double, each)
    times = [NOW - timedelta(hours=h) for h in (3, 2, 1)]
    rows = handle(
        each,
        change("hubspot", "deals", deal_id, "closedwon", times[0], "e1"),
        change("hubspot", "deals", deal_id, "closedlost", times[1], "e2"),
        change("hubspot", "deals", deal_id, "closedwon", times[2], "e3"),
        change("hubspot", "deals", deal_id, "closedwon", times[2], "e3-redelivered-by-poll"),
    )
    assert [r.status for r in rows] == ["converted", "no_rule", "converted"]
    first, second = conversions(each)
    assert first.event_id != second.event_id
    assert [first.timestamp_ms, second.timestamp_ms] == [
        int(times[0].timestamp() * 1000),
        int(times[2].timestamp() * 1000),
    ]


def test_form_forty_days_ago_is_sent_with_the_stage_time(ctx, hubspot_double):
    contact = hubspot_double.add_contact(email="old@example.com")
    submission_id = remember(ctx, "hubspot", contact, "old@example.com", "evt-old", "opp-old", days_ago=40)
    deal_id = hubspot_double.add_deal([contact], amount="10", deal_currency_code="USD")
    won = NOW - timedelta(minutes=3)
    [row] = handle(ctx, change("hubspot", "deals", deal_id, "closedwon", won, "e1"))
    [conv] = conversions(ctx)
    assert row.status == "converted" and conv.status == "pending" and conv.submission_id == submission_id
    assert conv.timestamp_ms == int(won.timestamp() * 1000) and conv.payload["oppref"] == "opp-old"


def test_stage_entered_eight_days_ago_noticed_now_is_expired(ctx, hubspot_double):
    deal_id = deal(hubspot_double, ctx)
    [row] = handle(ctx, change("hubspot", "deals", deal_id, "closedwon", NOW - timedelta(days=8), "e1"))
    assert row.status == "expired" and "7-day" in row.last_error
    assert conversions(ctx) == []


def test_deleted_deal_is_recorded_not_sent(ctx, hubspot_double):
    deal_id = deal(hubspot_double, ctx)
    del hubspot_double.records["deals"][deal_id]
    [row] = handle(ctx, change("hubspot", "deals", deal_id, "closedwon", NOW, "e1"))
    assert row.status == "record_deleted" and conversions(ctx) == []


def test_no_identifier_anywhere_is_unattributable(ctx, hubspot_double):
    stranger = hubspot_double.add_contact(email="stranger@example.com")
    deal_id = hubspot_double.add_deal([stranger], amount="10")
    [row] = handle(ctx, change("hubspot", "deals", deal_id, "closedwon", NOW, "e1"))
    assert row.status == "unattributable" and conversions(ctx) == []


def test_pipeline_rule_matches_by_label_only_in_its_pipeline(ctx, hubspot_double):
    scoped = with_rules(ctx, pipeline="Sales Pipeline")
    inside = deal(hubspot_double, scoped, 1)
    outside = deal(hubspot_double, scoped, 2, pipeline="renewals")
    rows = handle(
        scoped,
        change("hubspot", "deals", inside, "closedwon", NOW, "e1"),
        change("hubspot", "deals", outside, "closedwon", NOW, "e2"),
    )
    assert [r.status for r in rows] == ["converted", "no_rule"]
    assert [c.pixel_id for c in conversions(scoped)] == [PIXEL_ID]


@pytest.mark.parametrize("env", ["salesforce"], indirect=True)
@pytest.mark.parametrize(
    ("currency", "amount", "minor"), [("JPY", "5000", 5000), ("KWD", "1.234", 1234), ("EUR", "99.5", 9950)]
)
def test_multi_currency_org_amount_in_minor_units(ctx, salesforce_double, currency, amount, minor):
    salesforce_double.add_field("Opportunity", "CurrencyIsoCode", "picklist", 3)
    multi = with_rules(ctx, crm="salesforce", object="Opportunity", currency_field="CurrencyIsoCode")
    lead = salesforce_double.add_record("Lead", Email="m@example.com", LastName="M", Company="C")
    remember(multi, "salesforce", lead, "m@example.com", "evt-m", "opp-m")
    opp = salesforce_double.convert_lead(lead, amount=float(amount), CurrencyIsoCode=currency)
    salesforce_double.records["Opportunity"][opp]["Amount"] = amount
    [row] = handle(multi, change("salesforce", "Opportunity", opp, "Closed Won", NOW, "n1"))
    [conv] = conversions(multi)
    assert row.status == "converted"
    assert conv.payload["data"] == {"type": "contents", "amount": minor, "currency": currency}


@pytest.mark.parametrize("env", ["salesforce"], indirect=True)
def test_deleted_opportunity_is_recorded_not_sent(ctx, salesforce_double):
    [row] = handle(ctx, change("salesforce", "Opportunity", "006000000000099AAA", "Closed Won", NOW, "n1"))
    assert row.status == "record_deleted" and conversions(ctx) == []


def test_hubspot_contact_lifecycle_stage_rule(ctx, hubspot_double):
    lifecycle = with_rules(ctx, object="contact", stage="salesqualifiedlead", event="lead_created")
    contact = hubspot_double.add_contact(email="sql@example.com", lifecyclestage="salesqualifiedlead")
    remember(lifecycle, "hubspot", contact, "sql@example.com", "evt-sql", "opp-sql")
    [row] = handle(lifecycle, change("hubspot", "contacts", contact, "salesqualifiedlead", NOW, "e1"))
    [conv] = conversions(lifecycle)
    assert row.status == "converted" and row.attributed_event_id == "evt-sql"
    assert conv.event_type == "lead_created" and conv.payload["data"] == {"type": "customer_action"}
    assert conv.payload["oppref"] == "opp-sql"


@pytest.mark.parametrize("env", ["salesforce"], indirect=True)
def test_salesforce_lead_status_rule_reads_the_lead_itself(ctx, salesforce_double):
    qualified = with_rules(
        ctx, crm="salesforce", object="Lead", stage="Qualified", event="custom", custom_event_name="sql"
    )
    lead = salesforce_double.add_record(
        "Lead",
        Email="lead@example.com",
        LastName="L",
        Company="C",
        Status="Qualified",
        OpenAI_Oppref__c="opp-lead",
    )
    remember(qualified, "salesforce", lead, "lead@example.com", "evt-lead", None)
    [row] = handle(qualified, change("salesforce", "Lead", lead, "Qualified", NOW, "n1"))
    [conv] = conversions(qualified)
    assert row.status == "converted" and "oppref on the Lead itself" in " ".join(_notes(qualified))
    assert (conv.event_type, conv.custom_event_name, conv.payload["oppref"]) == ("custom", "sql", "opp-lead")


def _notes(ctx) -> list[str]:  # type: ignore[no-untyped-def]
    from connector.store.models import JournalEntry

    with ctx.sessions() as session:
        return [n for e in session.scalars(select(JournalEntry)) for n in (e.details or {}).get("notes", [])]
