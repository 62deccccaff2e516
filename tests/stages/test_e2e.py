"""Form -> CRM double -> stage change pushed by the CRM -> real worker -> exactly one OpenAI order_created."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import select

from connector.sources.salesforce import ACK
from connector.store.models import CrmWrite, StageChange
from connector.timeutil import parse_iso
from tests.conftest import TOKEN, wait_for
from tests.conversions.conftest import PIXEL_ID
from tests.stages.conftest import ORG_ID, SALESFORCE_SECRET, hubspot_event, signed

FORM = "/webhooks/forms/generic"
OPPREF = "AbC%2Fx+y==/é~ ;"


def form(email: str, event_id: str) -> dict[str, str]:
    return {
        "email": email,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines",
        "event_id": event_id,
        "oppref": OPPREF,
        "consent": "granted",
        "first_utm_source": "chatgpt.com",
        "conversion_page": "https://example.com/demo",
    }


def crm_record_id(ctx, event_id: str) -> str | None:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        write = session.scalar(select(CrmWrite).where(CrmWrite.event_id == event_id))
    return write.crm_object_id if write is not None and write.status == "written" else None


def orders(openai_double) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for (_, kind, _, _), e in openai_double.accepted.items() if kind == "order_created"]


def story(processes, event_id: str) -> str:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-m", "connector", "events", "show", event_id],
        env=processes.env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_hubspot_deal_won_becomes_one_order_created(
    hubspot_env_, client, ctx, processes, hubspot_double, openai_double
):
    processes.start("worker", name="worker")
    assert (
        client.post(
            FORM, json=form("ada@example.com", "evt-hs-1"), headers={"X-Connector-Token": TOKEN}
        ).status_code
        == 200
    )
    contact_id = wait_for(lambda: crm_record_id(ctx, "evt-hs-1"), timeout=30, message="contact written")
    deal_id = hubspot_double.add_deal(
        [contact_id], dealname="Engines", amount="1234.5", deal_currency_code="EUR"
    )
    won_ms = hubspot_double.set_deal_stage(deal_id, "closedwon")
    event = hubspot_event(deal_id, "closedwon", won_ms)
    for _ in range(3):  # HubSpot delivers at least once: the same event three times
        body, headers = signed([event])
        answer = client.post("/webhooks/crm/hubspot", data=body, headers=headers)
        assert answer.status_code == 200, answer.get_json()
    wait_for(lambda: orders(openai_double), timeout=30, message="order_created at OpenAI")
    [order] = orders(openai_double)
    assert order["data"] == {"type": "contents", "amount": 123450, "currency": "EUR"}
    assert order["oppref"] == OPPREF and order["timestamp_ms"] == won_ms
    assert order["action_source"] == "offline" and len(order["user"]["emails_sha256"][0]) == 64
    with ctx.sessions() as session:
        [change] = session.scalars(select(StageChange))
    assert change.status == "converted" and change.attributed_event_id == "evt-hs-1"
    text = story(processes, "evt-hs-1")
    assert "order_created" in text and "closedwon" in text and f"pixel {PIXEL_ID}" in text


def test_salesforce_opportunity_won_becomes_one_order_created(
    salesforce_env_, client, ctx, processes, salesforce_double, openai_double
):
    processes.start("worker", name="worker")
    body = form("grace@example.com", "evt-sf-1")
    assert client.post(FORM, json=body, headers={"X-Connector-Token": TOKEN}).status_code == 200
    lead_id = wait_for(lambda: crm_record_id(ctx, "evt-sf-1"), timeout=30, message="lead written")
    opp_id = salesforce_double.convert_lead(lead_id, amount=129.99)
    won_at = salesforce_double.set_stage(opp_id, "Closed Won")
    fields = {"Id": opp_id, "StageName": "Closed Won", "Amount": "129.99", "LastStageChangeDate": won_at}
    message = salesforce_double.outbound_message(ORG_ID, [("04l000000000001AAA", "Opportunity", fields)])
    url = f"/webhooks/crm/salesforce?token={SALESFORCE_SECRET}"
    for _ in range(3):  # at least once: three deliveries of the same notification
        answer = client.post(url, data=message, content_type="text/xml; charset=utf-8")
        assert answer.status_code == 200 and answer.content_type.startswith("text/xml")
        assert answer.get_data(as_text=True) == ACK
    wait_for(lambda: orders(openai_double), timeout=30, message="order_created at OpenAI")
    [order] = orders(openai_double)
    assert order["data"] == {"type": "contents", "amount": 12999, "currency": "USD"}
    assert order["oppref"] == OPPREF
    assert order["timestamp_ms"] == int(parse_iso(won_at).timestamp() * 1000)
    with ctx.sessions() as session:
        [change] = session.scalars(select(StageChange))
    assert change.status == "converted" and change.attributed_event_id == "evt-sf-1"
    assert "oppref on converted lead" in " ".join(_notes(ctx))
    text = story(processes, "evt-sf-1")
    assert "order_created" in text and "Closed Won" in text and opp_id in text


def _notes(ctx) -> list[str]:  # type: ignore[no-untyped-def]
    from connector.store.models import JournalEntry

    with ctx.sessions() as session:
        entries = session.scalars(select(JournalEntry).where(JournalEntry.kind == "stage"))
        return [n for e in entries for n in e.details.get("notes", [])]
