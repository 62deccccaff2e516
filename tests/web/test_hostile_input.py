"""What a stranger can send gets a 4xx with a JSON reason, never a 5xx, and nothing is stored."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from connector.config import CollectSettings
from connector.intake import registry
from connector.intake.base import Source
from connector.intake.body import MAX_NESTING
from connector.intake.submission import Submission
from tests.intake.helpers import FORM, JSON, SECRET, receipts, stripe_style, use_secrets

DEEP = b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1)
VERY_DEEP = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def refused(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.data[:300]
    body = response.get_json()
    assert body["status"] == status and body["error"]
    return body["error"]


@pytest.mark.parametrize("digits", ["²³", "١٢٣", "12e3"])
def test_signature_timestamps_must_be_ascii_digits(client, ctx, digits):
    use_secrets(client)
    body = b'{"email": "a@b.c"}'
    header = f"t={digits},v1={stripe_style(SECRET, body, 'v1').split('v1=')[1]}"
    for url, name in (
        ("/webhooks/booking/calendly", "Calendly-Webhook-Signature"),
        ("/webhooks/forms/wpforms", "X-WPForms-Webhook-Signature"),
    ):
        value = header if "calendly" in url else header.replace("v1=", "v=")
        answer = client.post(url, data=body, headers={"Content-Type": JSON, name: value})
        assert "malformed signature header" in refused(answer, 401)
    assert receipts(ctx) == []


@pytest.mark.parametrize("signature", ["é" * 64, "sha256=ü", "\u00ff"])
def test_a_non_ascii_signature_is_a_wrong_signature(client, ctx, signature):
    use_secrets(client)
    answer = client.post(
        "/webhooks/booking/cal_com",
        data=b'{"triggerEvent": "BOOKING_CREATED", "payload": {}}',
        headers={"Content-Type": JSON, "X-Cal-Signature-256": signature},
    )
    refused(answer, 401)
    wp = client.post(
        "/webhooks/forms/wpforms",
        data=b"{}",
        headers={"Content-Type": JSON, "X-WPForms-Webhook-Signature": f"t={int(time.time())},v={signature}"},
    )
    refused(wp, 401)
    assert receipts(ctx) == []


@pytest.mark.parametrize("body", [DEEP, VERY_DEEP], ids=["just-too-deep", "recursion-deep"])
def test_deeply_nested_json_is_a_400(client, ctx, body):
    use_secrets(client)
    wrapped = b'{"email": "a@b.c", "x": ' + body + b"}"
    for url in ("/webhooks/forms/generic", "/webhooks/forms/gravity_forms", "/webhooks/forms/fluent_forms"):
        answer = client.post(url, data=wrapped, headers={"Content-Type": JSON, "X-Connector-Token": SECRET})
        assert "nested deeper" in refused(answer, 400)
    assert receipts(ctx) == []


def test_a_form_key_nested_too_deeply_is_a_400(client, ctx):
    use_secrets(client)
    key = "fields" + "[a]" * (MAX_NESTING + 5)
    answer = client.post(
        "/webhooks/forms/generic",
        data=f"email=a%40b.c&{key}=1",
        headers={"Content-Type": FORM, "X-Connector-Token": SECRET},
    )
    assert "nested deeper" in refused(answer, 400)


class BrokenSource(Source[Submission]):
    """A source with a defect: parsing raises what no error handler knows."""

    name = "broken"

    def authenticate_headers(self, request, secrets):  # type: ignore[no-untyped-def]
        pass

    def parse(self, request, conf):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")


@pytest.fixture
def broken_source():  # type: ignore[no-untyped-def]
    registry.register(BrokenSource)
    yield
    del registry._SOURCES[(BrokenSource.kind, BrokenSource.name)]


def test_every_answer_is_counted_in_metrics_even_an_unexpected_500(app, client, broken_source):
    app.testing = False  # answer the 500 as production does instead of raising into the test
    before = counted_500s(client)
    answer = client.post("/webhooks/forms/broken", data=b"{}")
    assert answer.status_code == 500 and answer.get_json() == {"error": "internal error", "status": 500}
    assert counted_500s(client) == before + 1
    assert json.dumps("a bug") not in client.get("/metrics").data.decode()


def test_in_testing_mode_an_unexpected_error_reaches_the_test_as_flask_would_raise_it(
    app, client, broken_source
):
    app.testing = True
    with pytest.raises(RuntimeError, match="a bug"):
        client.post("/webhooks/forms/broken", data=b"{}")


def counted_500s(client) -> float:  # type: ignore[no-untyped-def]
    """The counter is per process (earlier tests may have counted too): read it, do not assume it."""
    series = 'connector_webhook_requests_total{source="forms/broken",status="500"} '
    lines = [line for line in client.get("/metrics").data.decode().splitlines() if line.startswith(series)]
    return float(lines[0].split()[-1]) if lines else 0.0


@pytest.mark.parametrize(
    "event_id, stored",
    [
        ("a\\u0000b", "a\ufffdb"),  # PostgreSQL refuses NUL in text: the answer was a 503 "retry later"
        ("a\\ud800b", "a\ufffdb"),  # valid JSON, not UTF-8: a 500 for every request in its group commit
        ("x" * 300 + "\\udfff", None),  # over-long too: the key's digest is of the storable value
    ],
    ids=["nul", "surrogate", "long-surrogate"],
)
def test_an_event_id_no_database_stores_is_kept_with_a_replacement_character(client, ctx, event_id, stored):
    use_secrets(client)
    body = ('{"email": "a@b.c", "event_id": "' + event_id + '"}').encode()
    for status in ("accepted", "duplicate"):
        answer = client.post(
            "/webhooks/forms/generic", data=body, headers={"Content-Type": JSON, "X-Connector-Token": SECRET}
        )
        assert answer.status_code == 200 and answer.get_json()["status"] == status, answer.data[:300]
    [receipt] = receipts(ctx)
    assert receipt.event_id == stored if stored else len(receipt.event_id) == 255


@pytest.mark.parametrize("provider", [[], {}, ["calendly"]])
def test_a_beacon_whose_provider_is_not_a_string_is_a_400(client, ctx, provider):
    ctx.settings = replace(ctx.settings, collect=CollectSettings(allowed_origins=["https://www.example.com"]))
    beacon = {"v": 1, "type": "booking", "event_id": "evt-1", "provider": provider, "booking": {"uid": "u"}}
    answer = client.post(
        "/collect",
        data=json.dumps(beacon).encode(),
        headers={"Content-Type": "text/plain", "Origin": "https://www.example.com"},
    )
    assert "provider: expected calendly or cal_com" in refused(answer, 400)
    assert receipts(ctx) == []
