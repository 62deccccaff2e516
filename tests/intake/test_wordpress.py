"""Our WordPress plugin's own deliveries: Standard Webhooks signatures, the JSON contract, test pings."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from connector.intake.signatures import standard_webhook_key, standard_webhook_signature
from connector.store.models import Submission
from tests.intake.helpers import (
    SECRET,
    receipts,
    run_jobs,
    standard_webhook,
    submissions,
    use_secrets,
)

URL = "/webhooks/forms/wordpress"
KEY = SECRET.encode()


def entry(event_id: str = "evt-wp-1", **changes: Any) -> dict[str, Any]:
    """A Contact Form 7 entry as the plugin sends it."""
    body: dict[str, Any] = {
        "v": 1,
        "type": "form_submission",
        "plugin": "contact_form_7",
        "form_id": "12",
        "form_name": "Contact",
        "entry_id": "345",
        "page_url": "https://example.com/pricing",
        "submitted_at": "2026-12-01T10:00:00Z",
        "site": "https://example.com",
        "contact": {"email": "Ada@Example.com", "first_name": "Ada", "last_name": "Lovelace"},
        "attribution": {
            "event_id": event_id,
            "first_utm_source": "chatgpt.com",
            "first_utm_medium": "referral",
            "oppref": "AbC/x+y==",
            "consent": "granted",
        },
        "fields": {"Your message": "Hello", "Topics": ["pricing", "demo"]},
    }
    body.update(changes)
    return body


def post(client, body: Any, key: bytes = KEY, webhook_id: str = "msg_1", at: int | None = None, **headers):  # type: ignore[no-untyped-def]
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signed = {**standard_webhook(key, raw, webhook_id, at), **headers}
    return client.post(URL, data=raw, headers={k: v for k, v in signed.items() if v is not None})


def error(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.data[:300]
    return response.get_json()["error"]


def test_the_standard_webhooks_reference_vector():
    key = standard_webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signature = standard_webhook_signature(
        key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}'
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_signed_entry_is_kept_with_its_contact_and_attribution(client, ctx):
    use_secrets(client)
    answer = post(client, entry())
    assert answer.status_code == 200 and answer.get_json()["status"] == "accepted"
    assert answer.get_json()["event_id"] == "evt-wp-1"
    (receipt,) = receipts(ctx)
    assert receipt.source == "wordpress" and receipt.delivery_key == "delivery:msg_1"
    assert "webhook-signature" not in receipt.headers and receipt.headers["webhook-id"] == "msg_1"
    assert run_jobs(ctx) == ["processed"]
    (row,) = submissions(ctx)
    assert row.source == "wordpress" and row.kind == "form" and row.form_id == "12"
    assert row.email == "ada@example.com"
    assert row.contact == {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}
    assert row.attribution["event_id"] == "evt-wp-1" and row.attribution["oppref"] == "AbC/x+y=="
    assert row.attribution["first_utm_source"] == "chatgpt.com"
    assert row.attribution["conversion_page"] == "https://example.com/pricing"
    assert row.attribution["first_channel"], "classified on the server"
    assert row.meta["plugin"] == "contact_form_7" and row.meta["entry_id"] == "345"
    assert row.meta["site"] == "https://example.com" and row.meta["webhook_id"] == "msg_1"
    assert row.meta["fields"] == {"Your message": "Hello", "Topics": "pricing, demo"}
    assert row.submitted_at.isoformat().startswith("2026-12-01T10:00:00")


@pytest.mark.parametrize(
    "plugin", ["gravity_forms", "wpforms", "elementor", "fluent_forms", "ninja_forms", "formidable"]
)
def test_every_supported_plugin_is_accepted(client, ctx, plugin):
    use_secrets(client)
    assert post(client, entry(plugin=plugin, form_id=7)).status_code == 200
    run_jobs(ctx)
    (row,) = submissions(ctx)
    assert row.meta["plugin"] == plugin and row.form_id == "7"


def _signed_headers(body: bytes) -> dict[str, str]:
    return standard_webhook(KEY, body, "msg_1")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"webhook-id": None}, "missing header(s) webhook-id"),
        ({"webhook-timestamp": None}, "missing header(s) webhook-timestamp"),
        ({"webhook-signature": None}, "missing header(s) webhook-signature"),
        ({"webhook-timestamp": "²³"}, "malformed webhook-timestamp"),
        ({"webhook-timestamp": "١٧٠٠٠٠٠٠٠٠"}, "malformed webhook-timestamp"),
        ({"webhook-timestamp": "1e9"}, "malformed webhook-timestamp"),
        ({"webhook-id": "msg é"}, "malformed webhook-id"),
        ({"webhook-signature": "v2,abc"}, "malformed webhook-signature"),
        ({"webhook-signature": "v1,"}, "malformed webhook-signature"),
        ({"webhook-signature": "v1,AAAA"}, "invalid signature"),
        ({"webhook-signature": "v1,é"}, "invalid signature"),
    ],
)
def test_bad_signature_headers_are_refused(client, ctx, change, message):
    use_secrets(client)
    body = json.dumps(entry()).encode()
    headers = {**_signed_headers(body), **change}
    answer = client.post(URL, data=body, headers={k: v for k, v in headers.items() if v is not None})
    assert message in error(answer, 401)
    assert receipts(ctx) == []


@pytest.mark.parametrize(
    ("age", "status"), [(0, 200), (290, 200), (-290, 200), (301, 401), (-301, 401), (86400, 401)]
)
def test_the_timestamp_must_be_within_the_tolerance(client, ctx, age, status):
    use_secrets(client)
    answer = post(client, entry(), at=int(time.time()) - age)
    assert answer.status_code == status
    if status == 401:
        assert "tolerance is 300s" in error(answer, 401)
        assert receipts(ctx) == []


def test_a_wrong_secret_or_a_tampered_body_is_refused(client, ctx):
    use_secrets(client)
    assert "invalid signature" in error(post(client, entry(), key=b"another-secret"), 401)
    body = json.dumps(entry()).encode()
    headers = _signed_headers(body)
    tampered = body.replace(b"Ada@", b"Mallory@")
    assert "invalid signature" in error(client.post(URL, data=tampered, headers=headers), 401)
    assert receipts(ctx) == []


def test_a_token_is_no_substitute_for_the_signature(client, ctx):
    use_secrets(client)
    body = json.dumps(entry()).encode()
    for url, headers in (
        (URL, {"Content-Type": "application/json", "X-Connector-Token": SECRET}),
        (f"{URL}?token={SECRET}", {"Content-Type": "application/json"}),
    ):
        assert "missing header(s)" in error(client.post(url, data=body, headers=headers), 401)
    assert receipts(ctx) == []


def test_every_rotating_secret_is_accepted(client, ctx):
    use_secrets(client, "old-secret", SECRET)
    assert post(client, entry("evt-a"), key=b"old-secret", webhook_id="msg_a").status_code == 200
    assert post(client, entry("evt-b"), key=KEY, webhook_id="msg_b").status_code == 200
    # A sender mid-rotation may sign with both; one matching signature is enough.
    raw = json.dumps(entry("evt-c")).encode()
    old = standard_webhook(b"unknown", raw, "msg_c")
    new = standard_webhook(KEY, raw, "msg_c")
    both = {**new, "webhook-signature": f"{old['webhook-signature']} {new['webhook-signature']}"}
    assert client.post(URL, data=raw, headers=both).status_code == 200
    assert len(receipts(ctx)) == 3


def test_a_whsec_secret_is_its_base64_decoded_key(client, ctx):
    key = bytes(range(32))
    use_secrets(client, "whsec_" + base64.b64encode(key).decode())
    assert post(client, entry(), key=key).status_code == 200
    secret_text = ("whsec_" + base64.b64encode(key).decode()).encode()
    assert "invalid signature" in error(
        post(client, entry("evt-2"), key=secret_text, webhook_id="msg_2"), 401
    )
    assert len(receipts(ctx)) == 1


def test_a_redelivered_webhook_id_is_a_duplicate(client, ctx):
    use_secrets(client)
    first = post(client, entry(), webhook_id="msg_retry").get_json()
    again = post(client, entry(), webhook_id="msg_retry")
    assert again.status_code == 200
    assert again.get_json() == {"status": "duplicate", "receipt_id": first["receipt_id"]}
    (receipt,) = receipts(ctx)
    assert receipt.duplicates == 1
    assert run_jobs(ctx) == ["processed"] and len(submissions(ctx)) == 1


def test_the_test_connection_ping_stores_nothing(client, ctx):
    use_secrets(client)
    ping = {"v": 1, "type": "test", "site": "https://example.com"}
    answer = post(client, ping, webhook_id="msg_ping")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ok", "source": "wordpress", "message": "signature valid"}
    assert receipts(ctx) == [] and submissions(ctx) == []
    assert "invalid signature" in error(post(client, ping, key=b"wrong"), 401)
    assert "tolerance" in error(post(client, ping, at=int(time.time()) - 3600), 401)


DEEP = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "empty body"),
        (b"\xff\xfe", 400, "not valid UTF-8"),
        (b"[1, 2]", 400, "expected a JSON object"),
        (b'{"v": 1, "x": ' + b"[" * 100 + b"]" * 100 + b"}", 400, "nested deeper"),
        (DEEP, 400, "nested deeper"),
        (entry(v="1"), 400, "v: expected 1"),
        (entry(v=True), 400, "v: expected 1"),
        (entry(v=2), 400, "v: expected 1"),
        (entry(type="delete"), 400, "type: expected one of form_submission, test"),
        (entry(type=None), 400, "type: expected"),
        (entry(plugin="typeform"), 400, "plugin: expected one of"),
        (entry(plugin=["contact_form_7"]), 400, "plugin: expected one of"),
        (entry(contact=None), 400, "contact: expected an object"),
        (entry(contact=["ada@example.com"]), 400, "contact: expected an object"),
        (entry(attribution="evt-1"), 400, "attribution: expected an object"),
        (entry(contact={"email": {"$ne": ""}}), 400, "contact.email: expected a string"),
        (entry(attribution={"event_id": True}), 400, "attribution.event_id: expected a string"),
        (entry(contact={}, attribution={}), 400, "both empty"),
        (entry(fields=["a"]), 400, "fields: expected an object"),
        (entry(fields={"a": {"b": 1}}), 400, "fields.a: expected a string"),
        (entry(form_id={"id": 1}), 400, "form_id: expected a string"),
        (entry(page_url=12), 400, "page_url: expected a string"),
        (entry(submitted_at="yesterday"), 400, "submitted_at: expected an ISO 8601"),
        (entry(attribution={"event_id": "e", "submitted_at": "x" * 10_000}), 400, "submitted_at"),
    ],
)
def test_hostile_bodies_get_a_4xx_saying_what_is_wrong(client, ctx, body, status, message):
    use_secrets(client)
    answer = post(client, body)
    assert message in error(answer, status)
    assert answer.get_json()["status"] == status
    assert receipts(ctx) == []


def test_a_form_body_is_refused_as_unsupported(client, ctx):
    use_secrets(client)
    answer = post(client, b"v=1&type=test", **{"Content-Type": "application/x-www-form-urlencoded"})
    assert "application/json" in error(answer, 415)


def test_a_body_over_the_limit_is_a_413(client, ctx):
    use_secrets(client)
    huge = entry(fields={"message": "x" * (ctx.settings.intake.max_body_bytes + 10)})
    assert error(post(client, huge), 413)
    assert receipts(ctx) == []


def test_huge_strings_are_cut_to_the_field_limits(client, ctx):
    use_secrets(client)
    long = "x" * 50_000
    body = entry(
        form_id=long,
        form_name=long,
        contact={"email": long + "@example.com", "company": long},
        attribution={"event_id": "evt-" + long, "first_landing_page": "https://e.com/?" + long},
        fields={long: long},
    )
    assert post(client, body).status_code == 200
    assert run_jobs(ctx) == ["processed"]
    (row,) = submissions(ctx)
    assert len(row.form_id) == 255 and len(row.meta["form_name"]) == 255
    assert len(row.contact["company"]) == 2048 and len(row.email) <= 320
    assert len(row.attribution["first_landing_page"]) == 2048
    assert len(row.event_id) <= 255
    ((label, value),) = row.meta["fields"].items()
    assert len(label) == 255 and len(value) == 2048


def test_unknown_keys_are_ignored_for_newer_plugins(client, ctx):
    use_secrets(client)
    body = entry(future_key={"x": 1}, contact={"email": "a@b.co", "nickname": "A"})
    body["attribution"]["future_touch"] = "x"
    assert post(client, body).status_code == 200
    run_jobs(ctx)
    (row,) = submissions(ctx)
    assert row.contact == {"email": "a@b.co"} and "future_touch" not in row.attribution


def test_numbers_are_accepted_as_text(client, ctx):
    use_secrets(client)
    assert (
        post(client, entry(entry_id=345, contact={"email": "a@b.co", "phone": 4930123456})).status_code == 200
    )
    run_jobs(ctx)
    (row,) = submissions(ctx)
    assert isinstance(row, Submission)
    assert row.contact["phone"] == "4930123456" and row.meta["entry_id"] == "345"
