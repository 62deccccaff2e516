"""A site with both paths (CF7 to Webhook and our WordPress plugin) -> real workers -> HubSpot and OpenAI
doubles over the wire: one CRM write and one conversion per event_id, the other delivery a duplicate."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from connector.store.models import Conversion, CrmWrite, JournalEntry, Receipt
from tests.conftest import wait_for
from tests.conversions.conftest import PIXEL_ID, double_env, openai_double
from tests.crm.conftest import hs_mapping, hubspot_double, mappings
from tests.crm_writes.conftest import hubspot_env
from tests.intake.helpers import SECRET, standard_webhook, use_secrets

__all__ = ["hs_mapping", "hubspot_double", "mappings", "openai_double"]

CF7 = "/webhooks/forms/contact_form_7"
WORDPRESS = "/webhooks/forms/wordpress"


@pytest.fixture
def env(env, hubspot_double, openai_double):
    """The workers write to the HubSpot double and send conversions to the OpenAI double."""
    env.update(hubspot_env(hubspot_double))
    env.update(double_env(openai_double.url))
    return env


@pytest.fixture(autouse=True)
def worker_logs_on_failure(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield
    report = getattr(request.node, "rep_call", None)
    processes = request.node.funcargs.get("processes")
    if report is not None and report.failed and processes is not None:
        print(processes.logs()[-6000:])


def post_both(client, n: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """The CF7 to Webhook post and our plugin's delivery of the same entry (same event_id)."""
    event_id = f"evt-both-{n}"
    cf7 = {
        "your-name": "Ada Lovelace",
        "your-email": f"ada{n}@example.com",
        "event_id": event_id,
        "first_utm_source": "chatgpt.com",
        "latest_utm_source": "chatgpt.com",
        "oppref": f"opp-{n}",
        "consent": "granted",
        "_url": "https://example.com/pricing",
    }
    first = client.post(CF7, json=cf7, headers={"X-Connector-Token": SECRET})
    body = json.dumps(
        {
            "v": 1,
            "type": "form_submission",
            "plugin": "contact_form_7",
            "form_id": "12",
            "page_url": "https://example.com/pricing",
            "site": "https://example.com",
            "contact": {"email": f"ada{n}@example.com", "first_name": "Ada", "last_name": "Lovelace"},
            "attribution": {
                "event_id": event_id,
                "first_utm_source": "chatgpt.com",
                "latest_utm_source": "chatgpt.com",
                "oppref": f"opp-{n}",
                "consent": "granted",
            },
        }
    ).encode()
    second = client.post(WORDPRESS, data=body, headers=standard_webhook(SECRET.encode(), body, f"msg_{n}"))
    assert first.status_code == second.status_code == 200, (first.data, second.data)
    return first.get_json()["receipt_id"], second.get_json()["receipt_id"]


def settled(ctx, pairs: int):  # type: ignore[no-untyped-def]
    """Every receipt processed, every CRM write written and every conversion sent, or None."""
    with ctx.sessions() as session:
        statuses = list(session.scalars(select(Receipt.status)))
        writes = list(session.scalars(select(CrmWrite)))
        sent = list(session.scalars(select(Conversion).where(Conversion.status == "sent")))
    done = statuses == ["processed"] * (2 * pairs) and all(w.status == "written" for w in writes)
    return (writes, sent) if done and len(sent) >= pairs else None


def crm_inputs(double) -> int:  # type: ignore[no-untyped-def]
    """Records the CRM was asked to create or change, over every call."""
    writes = ("batch_upsert", "batch_create", "batch_update")
    return sum(len(body.get("inputs", [])) for name, body in double.requests if name in writes)


def duplicates(ctx) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """Duplicate receipt -> the receipt it duplicates, from the journal."""
    with ctx.sessions() as session:
        notes = session.scalars(
            select(JournalEntry).where(JournalEntry.kind == "duplicate", JournalEntry.receipt_id.is_not(None))
        )
        return {n.receipt_id: n.details["duplicate_of_receipt"] for n in notes}


def check_one_lead_each(ctx, pairs: list[tuple[int, int]], hubspot_double, openai_double) -> None:  # type: ignore[no-untyped-def]
    writes, sent = wait_for(lambda: settled(ctx, len(pairs)), timeout=60, message="leads written and sent")
    assert len(writes) == len(pairs) and len(sent) == len(pairs)
    assert crm_inputs(hubspot_double) == len(pairs), hubspot_double.requests
    assert len(hubspot_double.records["contacts"]) == len(pairs)
    assert openai_double.events_received == len(pairs) and openai_double.unique_accepted == len(pairs)
    assert {key[3] for key in openai_double.accepted} == {f"evt-both-{n}" for n in range(len(pairs))}
    assert all(key[0] == PIXEL_ID for key in openai_double.accepted)
    found = duplicates(ctx)
    for pair in pairs:
        ((duplicate, holder),) = [(d, h) for d, h in found.items() if d in pair]
        assert {duplicate, holder} == set(pair)


def test_both_paths_make_one_crm_write_and_one_conversion(
    client, ctx, processes, hubspot_double, openai_double
):
    use_secrets(client)
    processes.start("worker", name="worker")
    pair = post_both(client, 0)
    check_one_lead_each(ctx, [pair], hubspot_double, openai_double)
    assert duplicates(ctx) == {pair[1]: pair[0]}, "the CF7 webhook came first: ours is its duplicate"


def test_both_paths_processed_concurrently_still_make_one_lead(
    client, ctx, processes, hubspot_double, openai_double
):
    """Both receipts of each entry are queued first; two workers then take them at the same time."""
    use_secrets(client)
    pairs = [post_both(client, n) for n in range(5)]
    processes.start("worker", name="worker-a")
    processes.start("worker", name="worker-b")
    check_one_lead_each(ctx, pairs, hubspot_double, openai_double)
