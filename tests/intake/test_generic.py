"""The generic source: canonical names in, one Submission out, with a stable delivery key."""

from __future__ import annotations

import json

import pytest

from connector.intake.errors import BadPayload
from connector.intake.request import IncomingRequest
from connector.sources.generic import GenericSource


def parse(data: dict | bytes, content_type: str = "application/json", headers: dict | None = None):
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return GenericSource().parse(IncomingRequest(body=body, content_type=content_type, headers=headers or {}))


def test_canonical_fields_become_contact_and_attribution():
    sub = parse(
        {
            "email": " Ada@Example.COM ",
            "first_name": "Ada",
            "event_id": "evt-1",
            "first_utm_source": "chatgpt.com",
            "oppref": " opaque==/+ ",
            "submitted_at": "2026-11-20T10:00:00Z",
            "form_id": "contact-us",
            "unrelated": "ignored",
        }
    )
    assert sub.contact.email == "ada@example.com"
    assert sub.attribution.to_dict() == {
        "first_utm_source": "chatgpt.com",
        "oppref": " opaque==/+ ",
        "event_id": "evt-1",
        "submitted_at": "2026-11-20T10:00:00Z",
    }
    assert sub.form_id == "contact-us"
    assert sub.submitted_at.isoformat() == "2026-11-20T10:00:00+00:00"
    assert sub.delivery_key == "event:evt-1"


def test_form_encoded_body():
    sub = parse(b"email=a%40b.c&latest_utm_campaign=spring&event_id=e2", "application/x-www-form-urlencoded")
    assert sub.contact.email == "a@b.c"
    assert sub.attribution.get("latest_utm_campaign") == "spring"


def test_delivery_key_prefers_idempotency_header_then_event_id_then_body_hash():
    assert (
        parse({"email": "a@b.c", "event_id": "e"}, headers={"idempotency-key": "k1"}).delivery_key
        == "delivery:k1"
    )
    first = parse({"email": "a@b.c"}).delivery_key
    assert first.startswith("sha256:") and first == parse({"email": "a@b.c"}).delivery_key
    assert first != parse({"email": "x@b.c"}).delivery_key


def test_no_recognised_field_is_rejected():
    with pytest.raises(BadPayload, match="no recognised fields"):
        parse({"hello": "world"})


def test_bad_submitted_at_is_rejected():
    with pytest.raises(BadPayload, match="submitted_at: expected an ISO 8601"):
        parse({"email": "a@b.c", "submitted_at": "yesterday"})


def test_hostile_and_huge_values_are_kept_as_text_and_bounded():
    sub = parse(
        {"email": "a@b.c", "first_utm_source": "<script>alert(1)</script>", "latest_referrer": "x" * 10_000}
    )
    assert sub.attribution.get("first_utm_source") == "<script>alert(1)</script>"
    assert len(sub.attribution.get("latest_referrer")) == 2048


def test_unknown_consent_values_become_unknown():
    assert parse({"email": "a@b.c", "consent": "Granted"}).attribution.get("consent") == "granted"
    assert parse({"email": "a@b.c", "consent": "maybe"}).attribution.get("consent") == "unknown"


def test_configured_field_map_applies_to_the_generic_source():
    from connector.config import SourceSettings

    body = json.dumps({"mail_address": "m@example.com", "src": "chatgpt.com"}).encode()
    conf = SourceSettings(fields={"email": "mail_address", "first_utm_source": "src"})
    sub = GenericSource().parse(IncomingRequest(body=body, content_type="application/json"), conf)
    assert sub.contact.email == "m@example.com"
    assert sub.attribution.get("first_utm_source") == "chatgpt.com"
