"""Form -> person in the CRM double -> the CRM tells us of an opportunity or deal -> the person's first and
latest touch land on that record once, through mappings/salesforce_opportunity.toml and hubspot_deal.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from connector.store.models import DealAttribution, JournalEntry, StageChange
from tests.conftest import ROOT, TOKEN, wait_for
from tests.stages.conftest import ORG_ID, SALESFORCE_SECRET, hubspot_event, signed
from tests.stages.test_e2e import crm_record_id, story

FORM = "/webhooks/forms/generic"
OUTBOUND = f"/webhooks/crm/salesforce?token={SALESFORCE_SECRET}"


def form(email: str, event_id: str, **touch: str) -> dict[str, str]:
    return {
        "email": email,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines",
        "event_id": event_id,
        "oppref": "opp-ref-1",
        "consent": "granted",
        "first_utm_source": "chatgpt.com",
        "first_utm_medium": "referral",
        "first_landing_page": "https://example.com/pricing",
        "latest_utm_source": "chatgpt.com",
        "latest_utm_campaign": "spring",
        "latest_landing_page": "https://example.com/demo",
        **touch,
    }


def submit(client, body: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    answer = client.post(FORM, json=body, headers={"X-Connector-Token": TOKEN})
    assert answer.status_code == 200, answer.get_json()


def deal_row(ctx, record_id: str) -> DealAttribution | None:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return session.scalar(select(DealAttribution).where(DealAttribution.record_id == record_id))


def written(ctx, record_id: str) -> DealAttribution | None:  # type: ignore[no-untyped-def]
    row = deal_row(ctx, record_id)
    return row if row is not None and row.status == "written" else None


def resolved(ctx, count: int) -> bool:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        rows = list(session.scalars(select(StageChange)))
    return len(rows) >= count and all(r.status not in ("pending", "resolving") for r in rows)


def deal_journal(ctx) -> list[str]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return [e.message for e in session.scalars(select(JournalEntry).where(JournalEntry.kind == "deal"))]


def send_outbound(client, salesforce_double, notification: str, opp_id: str, stage: str, at: str) -> None:  # type: ignore[no-untyped-def]
    fields = {"Id": opp_id, "StageName": stage, "Amount": "129.99", "LastStageChangeDate": at}
    message = salesforce_double.outbound_message(ORG_ID, [(notification, "Opportunity", fields)])
    answer = client.post(OUTBOUND, data=message, content_type="text/xml; charset=utf-8")
    assert answer.status_code == 200


def test_salesforce_converted_lead_puts_attribution_on_the_opportunity_once(
    salesforce_env_, client, ctx, processes, salesforce_double
):
    processes.start("worker", name="worker")
    submit(client, form("grace@example.com", "evt-deal-sf-1"))
    lead_id = wait_for(lambda: crm_record_id(ctx, "evt-deal-sf-1"), timeout=30, message="lead written")
    lead = salesforce_double.records["Lead"][lead_id]
    opp_id = salesforce_double.convert_lead(lead_id, amount=129.99)
    opp = salesforce_double.records["Opportunity"][opp_id]
    assert "First_UTM_Source__c" not in opp  # the conversion copied nothing: no field mapping in the org
    won_at = salesforce_double.set_stage(opp_id, "Closed Won")
    send_outbound(client, salesforce_double, "04l000000000001AAA", opp_id, "Closed Won", won_at)

    row = wait_for(lambda: written(ctx, opp_id), timeout=30, message="attribution on the opportunity")
    assert opp["First_UTM_Source__c"] == "chatgpt.com" and opp["First_UTM_Medium__c"] == "referral"
    assert opp["First_Landing_Page__c"] == "https://example.com/pricing"
    assert opp["Latest_UTM_Campaign__c"] == "spring"
    assert opp["Latest_Landing_Page__c"] == "https://example.com/demo"
    assert opp["OpenAI_Oppref__c"] == "opp-ref-1" and opp["OpenAI_Event_Id__c"] == "evt-deal-sf-1"
    for name in ("First_AI_Source__c", "First_Channel__c", "AI_Source__c", "Channel__c"):
        assert opp[name] and opp[name] == lead[name], name  # the classification the Lead got
    assert row.submission_id is not None and row.event_id == "evt-deal-sf-1" and row.attempts == 1
    updates = salesforce_double.calls["collections_update"]

    # a second stage change, and an admin's edit in between: nothing is written again
    opp["First_UTM_Source__c"] = "edited by an admin"
    lost_at = salesforce_double.set_stage(opp_id, "Closed Lost")
    send_outbound(client, salesforce_double, "04l000000000002AAA", opp_id, "Closed Lost", lost_at)
    wait_for(lambda: resolved(ctx, 2), timeout=30, message="second stage change resolved")
    time.sleep(2)
    assert salesforce_double.calls["collections_update"] == updates
    assert opp["First_UTM_Source__c"] == "edited by an admin"
    again = deal_row(ctx, opp_id)
    assert again is not None and again.status == "written" and again.attempts == 1
    assert len([m for m in deal_journal(ctx) if "attribution written" in m]) == 1
    text = story(processes, "evt-deal-sf-1")
    assert f"Opportunity {opp_id}: attribution written" in text


def test_a_converted_lead_named_by_a_lead_notification_gets_its_opportunity_written(
    salesforce_env_, client, ctx, processes, salesforce_double
):
    processes.start("worker", name="worker")
    submit(client, form("mary@example.com", "evt-deal-sf-5"))
    lead_id = wait_for(lambda: crm_record_id(ctx, "evt-deal-sf-5"), timeout=30, message="lead written")
    opp_id = salesforce_double.convert_lead(lead_id, amount=75)
    # only the Lead's outbound message arrives (the org notifies on Lead status, not on Opportunity)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    fields = {"Id": lead_id, "Status": "Qualified", "ConvertedOpportunityId": opp_id, "LastModifiedDate": now}
    message = salesforce_double.outbound_message(ORG_ID, [("04l000000000006AAA", "Lead", fields)])
    assert client.post(OUTBOUND, data=message, content_type="text/xml; charset=utf-8").status_code == 200
    row = wait_for(lambda: written(ctx, opp_id), timeout=30, message="the converted opportunity written")
    assert row.learned_via == "lead conversion" and row.person_id == lead_id
    opp = salesforce_double.records["Opportunity"][opp_id]
    assert opp["First_UTM_Source__c"] == "chatgpt.com" and opp["OpenAI_Event_Id__c"] == "evt-deal-sf-5"


def test_a_polled_lead_conversion_gets_its_opportunity_written(
    salesforce_env_, client, ctx, processes, salesforce_double
):
    processes.env["CONNECTOR_STAGES__POLL_INTERVAL_SECONDS"] = "1"
    processes.start("worker", name="worker")
    submit(client, form("alan@example.com", "evt-deal-sf-6"))
    lead_id = wait_for(lambda: crm_record_id(ctx, "evt-deal-sf-6"), timeout=30, message="lead written")
    opp_id = salesforce_double.convert_lead(lead_id, amount=75)  # its first stage: an OpportunityHistory row
    row = wait_for(lambda: written(ctx, opp_id), timeout=40, message="the polled opportunity written")
    assert row.learned_via == "stage poll"
    opp = salesforce_double.records["Opportunity"][opp_id]
    assert opp["First_Landing_Page__c"] == "https://example.com/pricing"


def _always_latest(tmp_path: Path) -> Path:
    """The example mappings, with the Opportunity's latest touch under `always` instead of `once`."""
    folder = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", folder)
    path = folder / "salesforce_opportunity.toml"
    text = path.read_text().replace('policy = "once"\ngroup = "latest_touch"', 'policy = "always"')
    assert 'group = "latest_touch"' not in text
    path.write_text(text)
    return folder


def test_a_later_latest_touch_rule_under_always_follows_the_person(
    salesforce_env_, client, ctx, processes, salesforce_double, tmp_path
):
    processes.env["CONNECTOR_CRM__MAPPINGS_PATH"] = str(_always_latest(tmp_path))
    processes.start("worker", name="worker")
    submit(client, form("linus@example.com", "evt-deal-sf-2"))
    lead_id = wait_for(lambda: crm_record_id(ctx, "evt-deal-sf-2"), timeout=30, message="lead written")
    opp_id = salesforce_double.convert_lead(lead_id, amount=50)
    at = salesforce_double.set_stage(opp_id, "Closed Won")
    send_outbound(client, salesforce_double, "04l000000000003AAA", opp_id, "Closed Won", at)
    first = wait_for(lambda: written(ctx, opp_id), timeout=30, message="first write")
    opp = salesforce_double.records["Opportunity"][opp_id]
    assert opp["Latest_UTM_Campaign__c"] == "spring"

    # the person comes back from a newsletter, then the opportunity moves again
    submit(
        client,
        form(
            "linus@example.com",
            "evt-deal-sf-3",
            first_utm_source="google",
            latest_utm_source="newsletter",
            latest_utm_campaign="autumn",
        ),
    )
    wait_for(lambda: crm_record_id(ctx, "evt-deal-sf-3"), timeout=30, message="lead updated")
    at = salesforce_double.set_stage(opp_id, "Negotiation")
    send_outbound(client, salesforce_double, "04l000000000004AAA", opp_id, "Negotiation", at)
    wait_for(
        lambda: (r := written(ctx, opp_id)) is not None and r.submission_id != first.submission_id,
        timeout=30,
        message="latest touch written again",
    )
    assert opp["Latest_UTM_Source__c"] == "newsletter" and opp["Latest_UTM_Campaign__c"] == "autumn"
    assert opp["First_UTM_Source__c"] == "chatgpt.com"  # once: the first touch stays
    assert opp["OpenAI_Event_Id__c"] == "evt-deal-sf-2"  # if_empty: kept


def test_a_locked_opportunity_is_retried_then_written(
    salesforce_env_, client, ctx, processes, salesforce_double
):
    processes.start("worker", name="worker")
    submit(client, form("ada@example.com", "evt-deal-sf-4", latest_utm_campaign="locked-campaign"))
    lead_id = wait_for(lambda: crm_record_id(ctx, "evt-deal-sf-4"), timeout=30, message="lead written")
    opp_id = salesforce_double.convert_lead(lead_id, amount=10)
    salesforce_double.lock_values.add("locked-campaign")  # UNABLE_TO_LOCK_ROW while the value is written
    at = salesforce_double.set_stage(opp_id, "Closed Won")
    send_outbound(client, salesforce_double, "04l000000000005AAA", opp_id, "Closed Won", at)
    wait_for(
        lambda: (r := deal_row(ctx, opp_id)) is not None and "UNABLE_TO_LOCK_ROW" in (r.last_error or ""),
        timeout=30,
        message="the locked record's retry",
    )
    salesforce_double.lock_values.clear()
    row = wait_for(lambda: written(ctx, opp_id), timeout=30, message="written on retry")
    assert row.attempts == 2 and row.last_error is None
    assert salesforce_double.records["Opportunity"][opp_id]["Latest_UTM_Campaign__c"] == "locked-campaign"
    assert any("retry in" in m for m in deal_journal(ctx))


def test_hubspot_deal_gets_its_contacts_attribution_once(
    hubspot_env_, client, ctx, processes, hubspot_double
):
    processes.start("worker", name="worker")
    submit(client, form("ada@example.com", "evt-deal-hs-1"))
    contact_id = wait_for(lambda: crm_record_id(ctx, "evt-deal-hs-1"), timeout=30, message="contact written")
    contact = hubspot_double.records["contacts"][contact_id]
    deal_id = hubspot_double.add_deal([contact_id], dealname="Engines", amount="1234.5")
    # a stage no rule names: no conversion, but the connector now knows of the deal
    at_ms = hubspot_double.set_deal_stage(deal_id, "appointmentscheduled")
    body, headers = signed([hubspot_event(deal_id, "appointmentscheduled", at_ms)])
    assert client.post("/webhooks/crm/hubspot", data=body, headers=headers).status_code == 200

    row = wait_for(lambda: written(ctx, deal_id), timeout=30, message="attribution on the deal")
    deal = hubspot_double.records["deals"][deal_id]
    assert deal["first_utm_source"] == "chatgpt.com" and deal["latest_utm_campaign"] == "spring"
    assert deal["first_landing_page"] == "https://example.com/pricing"
    assert deal["openai_oppref"] == "opp-ref-1" and deal["openai_event_id"] == "evt-deal-hs-1"
    for name in ("first_ai_source", "first_channel", "ai_source", "attribution_channel"):
        assert deal[name] and deal[name] == contact[name], name
    assert row.event_id == "evt-deal-hs-1"
    updates = hubspot_double.calls["batch_update"]

    won_ms = hubspot_double.set_deal_stage(deal_id, "closedwon")
    body, headers = signed([hubspot_event(deal_id, "closedwon", won_ms, event_id=2)])
    assert client.post("/webhooks/crm/hubspot", data=body, headers=headers).status_code == 200
    wait_for(lambda: resolved(ctx, 2), timeout=30, message="won resolved")
    time.sleep(2)
    assert hubspot_double.calls["batch_update"] == updates
    assert len([m for m in deal_journal(ctx) if "attribution written" in m]) == 1

    # erasing the person leaves the row (its status counts) without the values recorded here
    erased = subprocess.run(
        [sys.executable, "-m", "connector", "forget", "ada@example.com"],
        env=processes.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert erased.returncode == 0, erased.stderr
    assert "opportunity/deal attributions: 1" in erased.stdout
    after = deal_row(ctx, deal_id)
    assert after is not None and after.status == "written" and after.fields_written == {}


def test_a_deal_without_a_person_of_ours_is_left_alone(hubspot_env_, client, ctx, processes, hubspot_double):
    processes.start("worker", name="worker")
    stranger = hubspot_double.add_contact(email="stranger@example.com")
    deal_id = hubspot_double.add_deal([stranger], dealname="Walk-in")
    at_ms = hubspot_double.set_deal_stage(deal_id, "appointmentscheduled")
    body, headers = signed([hubspot_event(deal_id, "appointmentscheduled", at_ms)])
    assert client.post("/webhooks/crm/hubspot", data=body, headers=headers).status_code == 200
    row = wait_for(
        lambda: (r := deal_row(ctx, deal_id)) is not None and r.status == "unattributed" and r,
        timeout=30,
        message="unattributed",
    )
    assert row.submission_id is None
    assert hubspot_double.calls["batch_update"] == 0
    assert "first_utm_source" not in hubspot_double.records["deals"][deal_id]


@pytest.fixture(autouse=True)
def _no_sweeper_needed(env):  # type: ignore[no-untyped-def]
    """These tests pass on the jobs' own scheduling (the sweeper is off, see tests/conftest.py)."""
    assert env["CONNECTOR_JOBS__SWEEP_INTERVAL_SECONDS"] == "0"
