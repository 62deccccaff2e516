"""Senders that sign: WPForms, Calendly, Cal.com; and Formidable's Basic auth. Bad credentials: 401, nothing stored."""

from __future__ import annotations

import base64
import json
import time

import pytest

from connector.sources.wpforms import php_json
from tests.intake.helpers import (
    FORM,
    JSON,
    SECRET,
    cal_signature,
    fixture,
    receipts,
    stripe_style,
    use_secrets,
)

WPFORMS = "/webhooks/forms/wpforms"
CALENDLY = "/webhooks/booking/calendly"
CAL_COM = "/webhooks/booking/cal_com"


def test_wpforms_json_signature(client, ctx):
    use_secrets(client)
    body = fixture("wpforms.json")
    headers = {"Content-Type": JSON, "X-WPForms-Webhook-Signature": stripe_style(SECRET, body, "v")}
    assert client.post(WPFORMS, data=body, headers=headers).status_code == 200


def test_wpforms_form_mode_signs_the_php_json_of_the_fields(client, ctx):
    use_secrets(client)
    body = fixture("wpforms.form")
    fields = {
        "email": "linus@example.net",
        "name": "Linus Torvalds",
        "first_utm_source": "chatgpt.com",
        "latest_landing_page": "https://example.net/?utm_source=chatgpt.com",
        "event_id": "evt-wpf-32",
        "city": "Zürich",
    }
    signed = php_json(fields).encode()
    assert b"https:\\/\\/example.net" in signed and b"Z\\u00fcrich" in signed, "PHP escapes / and non-ASCII"
    headers = {"Content-Type": FORM, "X-WPForms-Webhook-Signature": stripe_style(SECRET, signed, "v")}
    assert client.post(WPFORMS, data=body, headers=headers).status_code == 200


def test_wpforms_form_mode_lists_encode_as_php_arrays():
    assert php_json({"a": {"0": "x", "1": "y"}, "b": {"k": "v"}}) == '{"a":["x","y"],"b":{"k":"v"}}'


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("t=1,v=abc", "signature timestamp is"),
        ("garbage", "malformed signature header"),
        (None, "invalid signature"),
    ],
)
def test_wpforms_bad_signatures_are_refused(client, ctx, header, message):
    use_secrets(client)
    body = fixture("wpforms.json")
    header = header or stripe_style("another-secret", body, "v")
    response = client.post(
        WPFORMS, data=body, headers={"Content-Type": JSON, "X-WPForms-Webhook-Signature": header}
    )
    assert response.status_code == 401 and message in response.get_json()["error"]
    assert receipts(ctx) == []


def test_wpforms_custom_token_header_works_without_signature(client, ctx):
    use_secrets(client)
    response = client.post(
        WPFORMS, data=fixture("wpforms.json"), headers={"Content-Type": JSON, "X-Connector-Token": SECRET}
    )
    assert response.status_code == 200
    assert (
        client.post(WPFORMS, data=fixture("wpforms.json"), headers={"Content-Type": JSON}).status_code == 401
    )


def test_wpforms_tampered_body_is_refused(client, ctx):
    use_secrets(client)
    body = fixture("wpforms.json")
    header = stripe_style(SECRET, body, "v")
    tampered = body.replace(b"linus@", b"mallory@")
    response = client.post(
        WPFORMS, data=tampered, headers={"Content-Type": JSON, "X-WPForms-Webhook-Signature": header}
    )
    assert response.status_code == 401


def test_calendly_signature_with_rotation(client, ctx):
    use_secrets(client, "old-key", SECRET)
    body = fixture("calendly_invitee_created.json")
    for key in ("old-key", SECRET):
        headers = {"Content-Type": JSON, "Calendly-Webhook-Signature": stripe_style(key, body, "v1")}
        assert client.post(CALENDLY, data=body, headers=headers).status_code == 200
    assert len(receipts(ctx)) == 1, "the second delivery of the same invitee.created is a duplicate"


@pytest.mark.parametrize(
    ("age", "status"),
    [(0, 200), (290, 200), (301, 401), (3600, 401), (-3600, 401)],
)
def test_calendly_timestamp_tolerance(client, ctx, age, status):
    use_secrets(client)
    body = fixture("calendly_invitee_created.json")
    header = stripe_style(SECRET, body, "v1", at=int(time.time()) - age)
    response = client.post(
        CALENDLY, data=body, headers={"Content-Type": JSON, "Calendly-Webhook-Signature": header}
    )
    assert response.status_code == status
    if status == 401:
        assert "tolerance is 300s" in response.get_json()["error"]


def test_calendly_replay_of_an_old_captured_request_is_refused(client, ctx):
    use_secrets(client)
    body = fixture("calendly_invitee_created.json")
    header = stripe_style(SECRET, body, "v1", at=int(time.time()) - 86400)
    assert (
        client.post(
            CALENDLY, data=body, headers={"Content-Type": JSON, "Calendly-Webhook-Signature": header}
        ).status_code
        == 401
    )
    assert receipts(ctx) == []


def test_calendly_without_signature_needs_the_url_token(client, ctx):
    use_secrets(client)
    body = fixture("calendly_invitee_created.json")
    assert client.post(CALENDLY, data=body, headers={"Content-Type": JSON}).status_code == 401
    assert (
        client.post(f"{CALENDLY}?token={SECRET}", data=body, headers={"Content-Type": JSON}).status_code
        == 200
    )


def test_cal_com_signature(client, ctx):
    use_secrets(client)
    body = fixture("cal_com_booking_created.json")
    ok = client.post(
        CAL_COM, data=body, headers={"Content-Type": JSON, "X-Cal-Signature-256": cal_signature(SECRET, body)}
    )
    assert ok.status_code == 200
    bad = client.post(
        CAL_COM,
        data=body + b" ",
        headers={"Content-Type": JSON, "X-Cal-Signature-256": cal_signature(SECRET, body)},
    )
    assert bad.status_code == 401 and bad.get_json()["error"] == "invalid signature"


def test_cal_com_no_secret_sentinel_is_refused_even_with_a_token(client, ctx):
    use_secrets(client)
    body = fixture("cal_com_booking_created.json")
    response = client.post(
        f"{CAL_COM}?token={SECRET}",
        data=body,
        headers={"Content-Type": JSON, "X-Cal-Signature-256": "no-secret-provided"},
    )
    assert response.status_code == 401 and "no-secret-provided" in response.get_json()["error"]
    assert receipts(ctx) == []


@pytest.mark.parametrize(
    ("credentials", "status"),
    [
        (SECRET, 200),
        (f"{SECRET}:x", 200),
        (f"formidable:{SECRET}", 200),
        ("someone:else", 401),
    ],
)
def test_formidable_basic_auth(client, ctx, credentials, status):
    use_secrets(client)
    header = "Basic " + base64.b64encode(credentials.encode()).decode()
    body = json.dumps({"email": "m@example.com", "event_id": f"e-{credentials}"})
    response = client.post(
        "/webhooks/forms/formidable", data=body, headers={"Content-Type": JSON, "Authorization": header}
    )
    assert response.status_code == status


def test_formidable_malformed_basic_header(client, ctx):
    use_secrets(client)
    response = client.post(
        "/webhooks/forms/formidable", json={"email": "m@example.com"}, headers={"Authorization": "Basic !!!"}
    )
    assert response.status_code == 401 and "malformed" in response.get_json()["error"]
