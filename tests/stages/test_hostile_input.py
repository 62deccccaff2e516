"""HubSpot's endpoint, as a stranger may call it: a 401 or a 400 with a JSON reason, never a 5xx."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from tests.intake.helpers import receipts
from tests.stages.conftest import HUBSPOT_SECRET, PUBLIC_URL, SALESFORCE_SECRET, hubspot_event, signed
from tests.web.test_hostile_input import VERY_DEEP, refused

HUBSPOT = "/webhooks/crm/hubspot"


def test_hubspot_timestamp_must_be_ascii_digits(hubspot_env_, client, ctx):
    body, headers = signed([hubspot_event("1001", "closedwon", int(time.time() * 1000))])
    headers["X-HubSpot-Request-Timestamp"] = "\u00b2" * 13
    refused(client.post(HUBSPOT, data=body, headers=headers), 401)
    assert receipts(ctx) == []


def test_deeply_nested_json_after_a_valid_hubspot_signature_is_a_400(hubspot_env_, client, ctx):
    nested = b"[" + VERY_DEEP + b"]"
    ts = str(int(time.time() * 1000))
    message = b"POST" + (PUBLIC_URL + HUBSPOT).encode() + nested + ts.encode()
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": ts,
        "X-HubSpot-Signature-v3": base64.b64encode(
            hmac.new(HUBSPOT_SECRET.encode(), message, hashlib.sha256).digest()
        ).decode(),
    }
    assert "nested deeper" in refused(client.post(HUBSPOT, data=nested, headers=headers), 400)
    assert receipts(ctx) == []


@pytest.mark.parametrize("timestamp", ["9" * 4400, "1" * 16])
def test_a_hubspot_timestamp_of_too_many_digits_is_a_401(hubspot_env_, client, ctx, timestamp):
    body, headers = signed([hubspot_event("1001", "closedwon", int(time.time() * 1000))])
    headers["X-HubSpot-Request-Timestamp"] = timestamp  # int() refuses strings of over 4,300 digits
    refused(client.post(HUBSPOT, data=body, headers=headers), 401)
    assert receipts(ctx) == []


@pytest.mark.parametrize("signature", ["é" * 44, "\u00ff"])
def test_a_non_ascii_hubspot_signature_is_a_wrong_signature(hubspot_env_, client, ctx, signature):
    body, headers = signed([hubspot_event("1001", "closedwon", int(time.time() * 1000))])
    headers["X-HubSpot-Signature-v3"] = signature
    assert "invalid HubSpot signature" in refused(client.post(HUBSPOT, data=body, headers=headers), 401)
    assert receipts(ctx) == []


@pytest.mark.parametrize("encoding", ["bogus-8", "shift_jis", "hex"])
def test_an_outbound_message_in_an_encoding_expat_cannot_read_is_a_400(
    salesforce_env_, client, ctx, encoding
):
    body = f'<?xml version="1.0" encoding="{encoding}"?><x/>'.encode()
    url = f"/webhooks/crm/salesforce?token={SALESFORCE_SECRET}"
    answer = client.post(url, data=body, content_type="text/xml")
    assert "not a SOAP message" in refused(answer, 400)
    assert receipts(ctx) == []


def test_a_flow_callout_with_an_unpaired_surrogate_is_stored(salesforce_env_, client, ctx):
    body = b'{"object": "Opportunity", "records": [{"Id": "\\ud800", "StageName": "Closed Won", '
    body += b'"LastStageChangeDate": "2026-11-20T10:00:00Z"}]}'  # valid JSON, not UTF-8 once decoded
    headers = {"Content-Type": "application/json", "X-Connector-Token": SALESFORCE_SECRET}
    answer = client.post("/webhooks/crm/salesforce", data=body, headers=headers)
    assert answer.status_code == 200 and answer.get_json()["status"] == "accepted", answer.data[:300]
    assert len(receipts(ctx)) == 1
