"""Polling HubSpot contacts whose lifecycle stage a rule names: entry times, paging, rate limits, and
push + poll of the same change handled once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from connector.context import Context
from connector.stages.changes import StageChange, store_stage_changes
from connector.stages.poll import poll_once
from connector.store.models import JournalEntry, StageWatermark
from connector.store.models import StageChange as StageChangeRow
from connector.timeutil import as_utc
from tests.conftest import TOKEN, wait_for
from tests.stages.conftest import HUBSPOT_WON, hubspot_event, signed
from tests.stages.test_e2e import FORM, crm_record_id, form
from tests.stages.test_resolution import conversions, env, handle, remember  # noqa: F401  (the env fixture)

SQL = {"crm": "hubspot", "object": "contact", "stage": "Sales Qualified Lead", "event": "lead_created"}
NOW = datetime.now(UTC).replace(microsecond=0)


def with_lifecycle(ctx: Context, **sql: str) -> Context:
    rules = {"won": HUBSPOT_WON, "sql": {**SQL, **sql}}
    return Context(replace(ctx.settings, stages=replace(ctx.settings.stages, rules=rules)))


def contact_rows(ctx: Context) -> list[StageChangeRow]:
    with ctx.sessions() as session:
        rows = session.scalars(select(StageChangeRow).where(StageChangeRow.object_type == "contacts"))
        return sorted(rows, key=lambda r: (r.entered_at, r.id))


def watermark(ctx: Context, name: str) -> datetime | None:
    with ctx.sessions() as session:
        mark = session.get(StageWatermark, name)
    return as_utc(mark.value) if mark is not None else None


def ms(moment: datetime) -> int:
    return int(as_utc(moment).timestamp() * 1000)  # type: ignore[union-attr]


def test_contacts_entering_a_rule_stage_are_polled_with_their_entry_time(ctx, hubspot_double):
    polled = with_lifecycle(ctx)
    sql, passed, other, old = (hubspot_double.add_contact(email=f"{n}@example.com") for n in "spoq")
    sql_ms = hubspot_double.set_lifecycle_stage(sql, "salesqualifiedlead", at=NOW - timedelta(minutes=9))
    passed_ms = hubspot_double.set_lifecycle_stage(
        passed, "salesqualifiedlead", at=NOW - timedelta(minutes=8)
    )
    hubspot_double.set_lifecycle_stage(passed, "opportunity", at=NOW - timedelta(minutes=7))  # moved on since
    hubspot_double.set_lifecycle_stage(other, "marketingqualifiedlead", at=NOW - timedelta(minutes=6))
    hubspot_double.set_lifecycle_stage(old, "salesqualifiedlead", at=NOW - timedelta(hours=30))
    assert poll_once(polled) == 2
    rows = contact_rows(polled)
    assert [(r.record_id, r.stage, ms(r.entered_at), r.via) for r in rows] == [
        (sql, "salesqualifiedlead", sql_ms, "poll"),
        (passed, "salesqualifiedlead", passed_ms, "poll"),
    ]
    assert watermark(polled, "hubspot:contacts") == datetime.fromtimestamp(passed_ms / 1000, UTC)
    [(_, search)] = [r for r in hubspot_double.requests if r[0] == "contacts_search"]
    [group] = search["filterGroups"]
    entered = group["filters"][0]
    assert (entered["propertyName"], entered["operator"]) == ("hs_v2_date_entered_salesqualifiedlead", "GTE")
    assert poll_once(polled) == 0  # the overlap reads them again: nothing new
    assert len(contact_rows(polled)) == 2


def test_contacts_are_not_searched_without_a_lifecycle_rule(ctx, hubspot_double):
    contact = hubspot_double.add_contact(email="n@example.com")
    hubspot_double.set_lifecycle_stage(contact, "salesqualifiedlead")
    assert poll_once(ctx) == 0
    assert hubspot_double.calls["contacts_search"] == 0 and hubspot_double.calls["deals_search"] == 1
    only_contacts = Context(replace(ctx.settings, stages=replace(ctx.settings.stages, rules={"sql": SQL})))
    assert poll_once(only_contacts) == 1
    assert hubspot_double.calls["deals_search"] == 1  # no deal rule: deals are not searched


def test_many_contacts_are_read_page_by_page_past_the_search_result_cap(ctx, hubspot_double):
    polled = with_lifecycle(ctx)
    hubspot_double.search_max_results = 150  # HubSpot's 10,000, scaled down: offsets past it fail
    for n in range(230):
        contact = hubspot_double.add_contact(email=f"bulk{n}@example.com")
        hubspot_double.set_lifecycle_stage(contact, "salesqualifiedlead", at=NOW - timedelta(seconds=n))
    assert poll_once(polled) == 230
    assert hubspot_double.calls["contacts_search"] == 3  # 100 + 100 + 30
    assert len({r.record_id for r in contact_rows(polled)}) == 230


def test_a_rate_limited_contacts_search_is_read_again_at_the_next_poll(ctx, hubspot_double):
    polled = with_lifecycle(ctx)
    contact = hubspot_double.add_contact(email="l@example.com")
    entered_ms = hubspot_double.set_lifecycle_stage(contact, "salesqualifiedlead")
    deal = hubspot_double.add_deal([contact], amount="5")
    hubspot_double.set_deal_stage(deal, "closedwon")
    hubspot_double.search_rate_limit_next["contacts"] = 1
    assert poll_once(polled) == 1  # the deal; the contacts search answered 429
    assert watermark(polled, "hubspot:deals") is not None
    assert watermark(polled, "hubspot:contacts") is None and contact_rows(polled) == []
    assert poll_once(polled) == 1
    [row] = contact_rows(polled)
    assert (row.record_id, ms(row.entered_at)) == (contact, entered_ms)


def test_pushed_and_polled_lifecycle_change_is_handled_once(ctx, hubspot_double):
    polled = with_lifecycle(ctx)
    contact = hubspot_double.add_contact(email="b@example.com")
    remember(polled, "hubspot", contact, "b@example.com", "evt-b", "opp-b")
    entered_ms = hubspot_double.set_lifecycle_stage(contact, "salesqualifiedlead")
    pushed = StageChange(
        "hubspot",
        "contacts",
        contact,
        "salesqualifiedlead",
        datetime.fromtimestamp(entered_ms / 1000, UTC),
        "webhook:62515:4711:9",
        "webhook",
    )
    with polled.sessions.begin() as session:
        store_stage_changes(session, [pushed])
    assert poll_once(polled) == 0  # the poll finds the change the webhook brought
    [row] = handle(polled)
    assert row.status == "converted" and row.via == "webhook"
    [conversion] = conversions(polled)
    assert conversion.event_type == "lead_created" and conversion.timestamp_ms == entered_ms


def test_each_entry_rule_sees_a_second_entry_into_the_stage(ctx, hubspot_double):
    polled = with_lifecycle(ctx, fire="each_entry")
    contact = hubspot_double.add_contact(email="e@example.com")
    remember(polled, "hubspot", contact, "e@example.com", "evt-e", "opp-e")
    first = hubspot_double.set_lifecycle_stage(contact, "salesqualifiedlead", at=NOW - timedelta(minutes=30))
    assert poll_once(polled) == 1
    hubspot_double.set_lifecycle_stage(contact, "lead", at=NOW - timedelta(minutes=20))
    second = hubspot_double.set_lifecycle_stage(contact, "salesqualifiedlead", at=NOW - timedelta(minutes=10))
    assert poll_once(polled) == 1
    rows = handle(polled)
    assert [r.status for r in rows] == ["converted", "converted"]
    assert sorted(c.timestamp_ms for c in conversions(polled)) == [first, second]


@pytest.fixture
def lifecycle_env(hubspot_env_):  # type: ignore[no-untyped-def]
    for key, value in SQL.items():
        hubspot_env_[f"CONNECTOR_STAGES__RULES__SQL__{key.upper()}"] = value
    hubspot_env_["CONNECTOR_STAGES__POLL_INTERVAL_SECONDS"] = "1"
    return hubspot_env_


def test_polling_worker_and_webhook_send_a_lifecycle_change_once(
    lifecycle_env, client, ctx, processes, hubspot_double, openai_double
):
    processes.start("worker", name="worker")
    answer = client.post(FORM, json=form("sql@example.com", "evt-sql"), headers={"X-Connector-Token": TOKEN})
    assert answer.status_code == 200
    contact = wait_for(lambda: crm_record_id(ctx, "evt-sql"), timeout=30, message="contact written")
    entered_ms = hubspot_double.set_lifecycle_stage(contact, "salesqualifiedlead")
    event = hubspot_event(
        contact,
        "salesqualifiedlead",
        entered_ms,
        subscriptionType="contact.propertyChange",
        propertyName="lifecyclestage",
    )
    body, headers = signed([event])
    assert client.post("/webhooks/crm/hubspot", data=body, headers=headers).status_code == 200
    wait_for(lambda: stage_leads(openai_double), timeout=40, message="lead_created from the lifecycle change")
    polls = hubspot_double.calls["contacts_search"]
    wait_for(
        lambda: hubspot_double.calls["contacts_search"] >= polls + 2, timeout=20, message="two more polls"
    )
    assert [e["timestamp_ms"] for e in stage_leads(openai_double)] == [entered_ms]
    [row] = contact_rows(ctx)
    assert row.status == "converted" and row.attributed_event_id == "evt-sql"
    assert hubspot_double.calls["property_get"] == 1  # labels read once for every poll and resolution
    with ctx.sessions() as session:
        arrivals = list(
            session.scalars(
                select(JournalEntry.message).where(
                    JournalEntry.kind == "stage_change", JournalEntry.message.contains(f"contacts {contact} ")
                )
            )
        )
    assert any("(webhook)" in m for m in arrivals) and any("(poll)" in m for m in arrivals)  # both came


def stage_leads(openai_double) -> list[dict]:  # type: ignore[no-untyped-def]
    """lead_created events from stage changes (the form's own lead_created is a website event)."""
    return [
        e
        for (_, kind, _, _), e in openai_double.accepted.items()
        if kind == "lead_created" and e["action_source"] == "offline"
    ]
