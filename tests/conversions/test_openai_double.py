"""The double must reject what OpenAI would, or it cannot catch our bugs."""

import httpx
import pytest

from tests.conversions.conftest import API_KEY, PIXEL_ID

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def post(double, body, pid=PIXEL_ID, headers=AUTH):
    params = {"pid": pid} if pid is not None else {}
    return httpx.post(double.url, params=params, json=body, headers=headers, timeout=5)


def wire_event(now_ms, **changes):
    event = {
        "id": "e1",
        "type": "lead_created",
        "timestamp_ms": now_ms,
        "action_source": "web",
        "source_url": "https://example.com/",
        "data": {"type": "customer_action"},
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def test_auth_pid_and_batch_size(openai_double, now_ms):
    ok = {"events": [wire_event(now_ms)]}
    assert post(openai_double, ok, headers={}).status_code == 401
    assert post(openai_double, ok, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert post(openai_double, ok, pid=None).status_code == 400
    assert post(openai_double, {"events": []}).status_code == 400
    many = [wire_event(now_ms, id=str(i)) for i in range(1001)]
    assert post(openai_double, {"events": many}).status_code == 400
    assert post(openai_double, ok).status_code == 200
    assert openai_double.requests == 6 and openai_double.unique_accepted == 1


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"id": ""}, "id"),
        ({"type": "purchase"}, "type"),
        ({"timestamp_ms": 1}, "timestamp_ms"),
        ({"data": {"type": "contents"}}, "data.type"),
        ({"data": {"type": "customer_action", "amount": 100}}, "data.currency"),
        ({"data": {"type": "customer_action", "amount": 1.5, "currency": "USD"}}, "data.amount"),
        ({"data": {"type": "customer_action", "plan_id": "p"}}, "data.plan_id"),
        ({"source_url": None}, "source_url"),
        ({"type": "custom", "data": {"type": "custom"}}, "custom_event_name"),
        ({"user": {"emails_sha256": ["Test@Example.com"]}}, "user.emails_sha256"),
        ({"extra": 1}, "extra"),
    ],
)
def test_one_bad_event_rejects_the_batch_naming_its_index(openai_double, now_ms, changes, param):
    events = [wire_event(now_ms, id="a"), wire_event(now_ms, **{"id": "b", **changes})]
    response = post(openai_double, {"events": events})
    assert response.status_code == 400
    assert response.json()["error"]["event_index"] == 1
    assert response.json()["error"]["param"] == f"events[1].{param}"
    assert openai_double.unique_accepted == 0


def test_validate_only_stores_nothing_and_dedup_counts(openai_double, now_ms):
    body = {
        "events": [
            wire_event(now_ms),
            wire_event(now_ms, type="custom", custom_event_name="x", data={"type": "custom"}),
        ]
    }
    assert post(openai_double, {**body, "validate_only": True}).json()["validate_only"] is True
    assert openai_double.unique_accepted == 0
    post(openai_double, body)
    post(openai_double, body)
    assert (openai_double.events_received, openai_double.unique_accepted) == (4, 2)


def test_injected_faults_are_consumed_in_order(openai_double, now_ms):
    openai_double.fail_with(429, retry_after="2")
    openai_double.fail_with(503)
    body = {"events": [wire_event(now_ms)]}
    first = post(openai_double, body)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    assert post(openai_double, body).status_code == 503
    assert post(openai_double, body).status_code == 200
