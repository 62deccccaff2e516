"""The CRM notification endpoints over HTTP: signatures, org checks, flows, dedup per notification."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from connector.sources.salesforce import ACK
from connector.store.models import Receipt, StageChange
from tests.stages.conftest import ORG_ID, PUBLIC_URL, SALESFORCE_SECRET, hubspot_event, signed

HUBSPOT = "/webhooks/crm/hubspot"
SALESFORCE = f"/webhooks/crm/salesforce?token={SALESFORCE_SECRET}"
WON_AT = "2026-11-26T10:00:00.000Z"


def changes(ctx) -> list[StageChange]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return list(session.scalars(select(StageChange).order_by(StageChange.id)))


def receipts(ctx) -> list[Receipt]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return list(session.scalars(select(Receipt)))


def test_hubspot_signature_checked_against_the_public_url(hubspot_env_, client, ctx):
    event = hubspot_event("1001", "closedwon", int(time.time() * 1000))
    body, headers = signed([event], url="http://localhost/webhooks/crm/hubspot")
    answer = client.post(HUBSPOT, data=body, headers=headers)
    assert answer.status_code == 401 and PUBLIC_URL in answer.get_json()["error"]
    body, headers = signed([event])
    assert client.post(HUBSPOT, data=body, headers=headers).status_code == 200


def test_hubspot_never_trusts_the_host_header_when_the_public_url_is_unset(hubspot_env_, ctx):
    """Without web.public_url the signed URL would come from Host, which the sender chooses: every request is
    refused, a correctly signed one included, and nothing is stored."""
    from dataclasses import replace

    from connector.app import create_app
    from connector.context import Context

    unset = Context(replace(ctx.settings, web=replace(ctx.settings.web, public_url="")))
    app = create_app(unset.settings)
    app.extensions["connector"] = unset
    client = app.test_client()
    event = hubspot_event("1001", "closedwon", int(time.time() * 1000))
    try:
        for host in ("localhost", "hooks.example.com"):
            body, headers = signed([event], url=f"http://{host}/webhooks/crm/hubspot")
            answer = client.post(HUBSPOT, data=body, headers={**headers, "Host": host})
            assert answer.status_code == 401 and "web.public_url" in answer.get_json()["error"]
    finally:
        unset.close()
    assert receipts(ctx) == [] and changes(ctx) == []


def test_hubspot_rejects_wrong_secret_old_and_future_timestamps(hubspot_env_, client, ctx):
    event = [hubspot_event("1001", "closedwon", int(time.time() * 1000))]
    now = int(time.time() * 1000)
    for body, headers in (
        signed(event, secret="wrong"),
        signed(event, timestamp_ms=now - 6 * 60 * 1000),
        signed(event, timestamp_ms=now + 6 * 60 * 1000),
    ):
        assert client.post(HUBSPOT, data=body, headers=headers).status_code == 401
    body, headers = signed(event)
    headers.pop("X-HubSpot-Signature-v3")
    assert client.post(HUBSPOT, data=body, headers=headers).status_code == 401
    assert receipts(ctx) == []


def test_hubspot_batch_split_and_deduplicated_on_portal_subscription_event(hubspot_env_, client, ctx):
    now = int(time.time() * 1000)
    first = hubspot_event("1001", "closedwon", now, event_id=7)
    same_id_other_subscription = hubspot_event("1002", "closedwon", now, event_id=7, subscriptionId=99)
    other_property = {**hubspot_event("1003", "x", now, event_id=8), "propertyName": "amount"}
    body, headers = signed([first, same_id_other_subscription, other_property])
    assert client.post(HUBSPOT, data=body, headers=headers).status_code == 200
    body, headers = signed([first])  # a retry of one event, in a new batch
    assert client.post(HUBSPOT, data=body, headers=headers).status_code == 200
    from connector.intake.ledger import request_from_receipt
    from connector.sources.hubspot import HubSpotWebhookSource
    from connector.stages.changes import store_stage_changes

    source = HubSpotWebhookSource()
    for receipt in receipts(ctx):
        with ctx.sessions.begin() as session:
            store_stage_changes(session, source.parse(request_from_receipt(receipt)).changes)
    rows = changes(ctx)
    assert [(r.record_id, r.delivery_key) for r in rows] == [
        ("1001", "webhook:62515:4711:7"),
        ("1002", "webhook:62515:99:7"),
    ]


def test_salesforce_outbound_message_acked_only_for_the_configured_org(
    salesforce_env_, client, ctx, salesforce_double
):
    fields = {"Id": "006000000000001AAA", "StageName": "Closed Won", "LastStageChangeDate": WON_AT}
    message = salesforce_double.outbound_message("00D000000000999AAA", [("04l1", "Opportunity", fields)])
    answer = client.post(SALESFORCE, data=message, content_type="text/xml")
    assert answer.status_code == 401 and "OrganizationId" in answer.get_json()["error"]
    wrong_suffix = salesforce_double.outbound_message(ORG_ID[:15] + "ZZZ", [("04l1", "Opportunity", fields)])
    answer = client.post(SALESFORCE, data=wrong_suffix, content_type="text/xml")
    assert answer.status_code == 401, "the whole 18-character id is compared, not its first 15 characters"
    message = salesforce_double.outbound_message(ORG_ID, [("04l1", "Opportunity", fields)])
    assert client.post("/webhooks/crm/salesforce", data=message, content_type="text/xml").status_code == 401
    answer = client.post(SALESFORCE, data=message, content_type="text/xml")
    assert answer.status_code == 200 and answer.get_data(as_text=True) == ACK
    assert answer.headers["Content-Type"].startswith("text/xml")


def test_salesforce_outbound_message_limits_and_unsafe_xml(salesforce_env_, client, ctx, salesforce_double):
    fields = {"Id": "006000000000001AAA", "StageName": "Closed Won", "LastStageChangeDate": WON_AT}
    too_many = salesforce_double.outbound_message(
        ORG_ID, [(f"04l{n}", "Opportunity", fields) for n in range(101)]
    )
    assert client.post(SALESFORCE, data=too_many, content_type="text/xml").status_code == 400
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>'
    assert client.post(SALESFORCE, data=bomb, content_type="text/xml").status_code == 400
    undated = salesforce_double.outbound_message(
        ORG_ID, [("04l1", "Opportunity", {"Id": "006", "StageName": "Closed Won"})]
    )
    answer = client.post(SALESFORCE, data=undated, content_type="text/xml")
    assert answer.status_code == 400 and "LastStageChangeDate" in answer.get_json()["error"]
    assert receipts(ctx) == []


def test_salesforce_notifications_deduplicated_each_on_its_id(
    salesforce_env_, client, ctx, salesforce_double
):
    from connector.intake.ledger import request_from_receipt
    from connector.sources.salesforce import SalesforceSource
    from connector.stages.changes import store_stage_changes

    one = {"Id": "006000000000001AAA", "StageName": "Closed Won", "LastStageChangeDate": WON_AT}
    two = {"Id": "006000000000002AAA", "StageName": "Negotiation", "LastStageChangeDate": WON_AT}
    first = salesforce_double.outbound_message(ORG_ID, [("04lA", "Opportunity", one)])
    both = salesforce_double.outbound_message(
        ORG_ID, [("04lA", "Opportunity", one), ("04lB", "Opportunity", two)]
    )
    for message in (first, both, both):
        assert client.post(SALESFORCE, data=message, content_type="text/xml").status_code == 200
    for receipt in receipts(ctx):
        with ctx.sessions.begin() as session:
            store_stage_changes(session, SalesforceSource().parse(request_from_receipt(receipt)).changes)
    assert [r.delivery_key for r in changes(ctx)] == ["outbound:04lA", "outbound:04lB"]


def test_salesforce_flow_callout_needs_the_secret_header(salesforce_env_, client, ctx):
    body = {
        "object": "Opportunity",
        "records": [{"Id": "006000000000001AAA", "StageName": "Closed Won", "LastStageChangeDate": WON_AT}],
    }
    url = "/webhooks/crm/salesforce"
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers={"X-Connector-Token": "nope"}).status_code == 401
    answer = client.post(url, json=body, headers={"X-Connector-Token": SALESFORCE_SECRET})
    assert answer.status_code == 200 and answer.get_json()["status"] == "accepted"
    again = client.post(
        url,
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-Connector-Token": SALESFORCE_SECRET},
    )
    assert again.get_json()["status"] == "duplicate"


@pytest.fixture
def stages_off(hubspot_env_):  # type: ignore[no-untyped-def]
    hubspot_env_["CONNECTOR_STAGES__ENABLED"] = "false"
    return hubspot_env_


def test_crm_endpoints_are_404_while_stages_are_off(stages_off, client, ctx):
    body, headers = signed([hubspot_event("1", "closedwon", int(time.time() * 1000))])
    answer = client.post(HUBSPOT, data=body, headers=headers)
    assert answer.status_code == 404 and "enabled = true" in answer.get_json()["error"]
    assert receipts(ctx) == []


def test_salesforce_ids_compare_in_their_18_character_form():
    from connector.sources.salesforce import id18

    assert id18("001000000000001") == "001000000000001AAA"
    assert id18("00D5g000004ErxK") == "00D5g000004ErxKEAS"
    assert id18("00D5g000004ErxKEAS") == "00D5g000004ErxKEAS"
