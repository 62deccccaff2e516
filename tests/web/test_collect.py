"""POST /collect: origin allowlist, CORS, tiny body limit, per-IP rate limit, optional first-party cookie."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from connector.config import CollectSettings
from tests.intake.helpers import receipts

ORIGIN = "https://www.example.com"
BEACON = {
    "v": 1,
    "type": "booking",
    "event_id": "evt-b-1",
    "provider": "calendly",
    "booking": {"invitee_uri": "https://api.calendly.com/scheduled_events/E/invitees/I", "event_uri": "x"},
    "attribution": {"first_utm_source": "chatgpt.com", "event_id": "evt-b-1"},
    "page": "https://www.example.com/book/",
    "ts": "2026-11-20T10:00:00Z",
}


@pytest.fixture
def configure(ctx):  # type: ignore[no-untyped-def]
    def apply(**values):  # type: ignore[no-untyped-def]
        ctx.settings = replace(
            ctx.settings, collect=CollectSettings(**{"allowed_origins": [ORIGIN], **values})
        )

    apply()
    return apply


def post(client, body=BEACON, origin=ORIGIN, **headers):  # type: ignore[no-untyped-def]
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/collect", data=data, headers={"Content-Type": "text/plain", "Origin": origin, **headers}
    )


def test_beacon_is_stored_with_a_cors_answer_for_its_origin(client, ctx, configure):
    response = post(client)
    assert response.status_code == 200 and response.get_json()["status"] == "accepted"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    # the script sends its beacons with credentials: without this the browser logs a CORS error for each
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Set-Cookie" not in response.headers  # the visitor cookie is off by default
    [receipt] = receipts(ctx)
    assert receipt.source == "beacon" and receipt.event_id == "evt-b-1"
    assert receipt.delivery_key == "booking:calendly:https://api.calendly.com/scheduled_events/E/invitees/I"
    again = post(client)
    assert again.get_json()["status"] == "duplicate"


def test_unlisted_or_missing_origin_is_refused_without_cors(client, ctx, configure):
    for origin in ("https://evil.example", ""):
        response = post(client, origin=origin)
        assert response.status_code == 403 and "allowed_origins" in response.get_json()["error"]
        assert "Access-Control-Allow-Origin" not in response.headers
    assert receipts(ctx) == []


def test_preflight_for_an_allowed_origin(client, configure):
    response = client.options("/collect", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Methods"] == "POST"


def test_body_over_the_tiny_limit_gets_413(client, ctx, configure):
    big = {**BEACON, "page": "x" * 5000}
    assert post(client, big).status_code == 413
    assert receipts(ctx) == []


def test_rate_limit_per_ip(client, ctx, configure):
    configure(rate_limit_per_minute=3)
    statuses = [post(client, {**BEACON, "event_id": f"e{i}"}).status_code for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = post(client)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    other_ip = client.post(
        "/collect",
        data=json.dumps(BEACON),
        headers={"Content-Type": "text/plain", "Origin": ORIGIN},
        environ_overrides={"REMOTE_ADDR": "192.0.2.99"},
    )
    assert other_ip.status_code == 200, "another address has its own budget"


def test_forwarded_for_is_used_only_when_trusted(client, configure):
    configure(rate_limit_per_minute=1, trust_forwarded_for=True)
    first = post(client, {**BEACON, "event_id": "f1"}, **{"X-Forwarded-For": "198.51.100.1, 10.0.0.1"})
    second = post(client, {**BEACON, "event_id": "f2"}, **{"X-Forwarded-For": "198.51.100.1, 10.0.0.2"})
    assert (first.status_code, second.status_code) == (200, 200)


def test_optional_first_party_cookie(client, ctx, configure):
    configure(cookie=True, cookie_domain="example.com")
    response = post(client)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("_attr_id=") and "HttpOnly" in cookie and "Secure" in cookie
    assert "Domain=example.com" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    visitor = cookie.split(";", 1)[0].split("=", 1)[1]
    [receipt] = receipts(ctx)
    assert receipt.headers["x-connector-visitor"] == visitor
    client.set_cookie("_attr_id", visitor, domain="localhost")
    again = post(client, {**BEACON, "event_id": "evt-b-2", "type": "touch"})
    assert again.headers["Set-Cookie"].startswith(f"_attr_id={visitor};"), "the same visitor keeps its id"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "malformed JSON"),
        ({"v": 2, "type": "booking"}, "v: expected 1"),
        ({"v": 1, "type": "pageview"}, "type: expected booking or touch"),
        ({**BEACON, "provider": "acuity"}, "provider: expected calendly or cal_com"),
        ({**BEACON, "booking": {}}, "booking.invitee_uri"),
        ({**BEACON, "event_id": None}, "event_id"),
        ({**BEACON, "attribution": [1]}, "attribution: expected an object"),
    ],
)
def test_bad_beacons_get_400(client, ctx, configure, body, message):
    response = post(client, body)
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert receipts(ctx) == []


def test_disabled_or_unconfigured_collect(client, ctx, configure):
    configure(allowed_origins=[])
    assert post(client).status_code == 403
    configure(enabled=False)
    assert post(client).status_code == 404


def test_webhook_route_does_not_expose_the_beacon_source(client):
    assert client.post("/webhooks/beacon/beacon", json=BEACON).status_code == 404
