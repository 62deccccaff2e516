"""Form -> CRM double -> stage change pushed by the CRM -> real worker -> exactly one OpenAI order_created."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select

from connector.store.models import CrmWrite, StageChange
from tests.conftest import TOKEN, wait_for
from tests.conversions.conftest import PIXEL_ID
from tests.stages.conftest import ORG_ID, SALESFORCE_SECRET, hubspot_event, signed

FORM = "/webhooks/forms/generic"
OPPREF = "AbC%2Fx+y==/é~ ;"


@pytest.fixture
def env(env, request):  # type: ignore[no-untyped-def]
    """Each test names its CRM through the fixture it uses first (hubspot_env_ / salesforce_env_)."""
    return env


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
