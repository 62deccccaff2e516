import json
import logging
import random
from dataclasses import replace

import pytest

from connector.conversions.retry import RetryPolicy
from connector.conversions.sender import ConversionsClient, SenderSettings
from connector.events.model import MAX_AGE_MS, UserData
from tests.conversions.conftest import API_KEY, PIXEL_ID
from tests.doubles.openai_double import serve

HEX = "c" * 64


@pytest.fixture
def client_for(openai_double):
    clients = []

    def make(double=None, **settings):
        double = double or openai_double
        client = ConversionsClient(
            SenderSettings(api_key=settings.pop("api_key", API_KEY), endpoint=double.url, **settings),
            policy=RetryPolicy(base_s=1, max_s=60, rng=random.Random(1)),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_success_sends_once_and_records_the_exchange(client_for, openai_double, make_event):
    events = [make_event(i) for i in range(3)]
    outcome = client_for().send_batch(PIXEL_ID, events)
    assert [o.status for o in outcome.outcomes] == ["sent"] * 3
    assert outcome.requests_used == 1
    [record] = outcome.requests
    assert record.status_code == 200 and record.event_ids == ("evt-00000", "evt-00001", "evt-00002")
    assert record.url.endswith(f"/v1/events?pid={PIXEL_ID}")
    assert json.loads(record.body)["events_received"] == 3
    assert record.elapsed_ms > 0
    assert openai_double.unique_accepted == 3
    assert openai_double.accepted[(PIXEL_ID, "lead_created", "", "evt-00001")] == events[1].to_json()


def test_resending_the_same_ids_is_deduplicated(client_for, openai_double, make_event):
    client = client_for()
    events = [make_event(i) for i in range(3)]
    client.send_batch(PIXEL_ID, events)
    client.send_batch(PIXEL_ID, events)
    assert (openai_double.events_received, openai_double.unique_accepted) == (6, 3)


def test_wrong_key_fails_with_auth_reason_and_key_never_leaks(client_for, openai_double, make_event, caplog):
    caplog.set_level(logging.DEBUG)
    outcome = client_for(api_key="wrong-key").send_batch(PIXEL_ID, [make_event(i) for i in range(4)])
    assert {o.status for o in outcome.outcomes} == {"failed"}
    assert outcome.outcomes[0].reason.startswith("authentication rejected (401)")
    assert outcome.requests_used == 1  # no bisection on auth errors
    assert openai_double.unique_accepted == 0
    assert "wrong-key" not in caplog.text and "wrong-key" not in repr(outcome)
    good = client_for()
    good.send_batch(PIXEL_ID, [make_event()])
    assert API_KEY not in caplog.text and API_KEY not in repr(good.settings)


def test_429_with_retry_after_then_success(client_for, openai_double, make_event):
    openai_double.fail_with(429, times=1, retry_after="7")
    client = client_for()
    events = [make_event(i) for i in range(5)]
    first = client.send_batch(PIXEL_ID, events)
    assert {(o.status, o.retry_after_s) for o in first.outcomes} == {("retry", 7.0)}
    assert first.outcomes[0].response.status_code == 429
    assert openai_double.unique_accepted == 0
    second = client.send_batch(PIXEL_ID, events, attempt=2)
    assert {o.status for o in second.outcomes} == {"sent"}
    assert openai_double.unique_accepted == 5 and openai_double.requests == 2


def test_429_with_http_date_retry_after(client_for, openai_double, make_event):
    openai_double.fail_with(429, retry_after="Thu, 01 Jan 2099 00:00:00 GMT")
    outcome = client_for().send_batch(PIXEL_ID, [make_event()])
    assert outcome.outcomes[0].status == "retry"
    assert outcome.outcomes[0].retry_after_s == 60  # capped by the policy


def test_500s_back_off_then_succeed(client_for, openai_double, make_event):
    openai_double.fail_with(500, times=2)
    client = client_for()
    events = [make_event(i) for i in range(3)]
    delays = []
    for attempt in (1, 2, 3):
        outcome = client.send_batch(PIXEL_ID, events, attempt=attempt)
        statuses = {o.status for o in outcome.outcomes}
        if statuses == {"sent"}:
            break
        assert statuses == {"retry"}
        delays.append(outcome.outcomes[0].retry_after_s)
    assert attempt == 3
    assert 0.5 <= delays[0] <= 1 and 1 <= delays[1] <= 2  # base 1 s, doubling, half jittered
    assert openai_double.unique_accepted == 3 and openai_double.requests == 3


def test_dropped_connection_is_retried_with_the_same_ids(client_for, openai_double, make_event):
    openai_double.drop_connections(1)
    client = client_for()
    events = [make_event(i) for i in range(2)]
    first = client.send_batch(PIXEL_ID, events)
    assert {o.status for o in first.outcomes} == {"retry"}
    record = first.requests[0]
    assert record.status_code is None and record.error
    assert client.send_batch(PIXEL_ID, events, attempt=2).with_status("sent")
    assert openai_double.unique_accepted == 2


def test_slow_endpoint_times_out_into_a_retry(openai_double, client_for, make_event):
    openai_double.latency_s = 0.5
    outcome = client_for(timeout_s=0.1).send_batch(PIXEL_ID, [make_event()])
    assert outcome.outcomes[0].status == "retry"
    assert "Timeout" in outcome.requests[0].error


def test_one_bad_event_in_1000_is_isolated_cheaply(make_event, client_for):
    # The double only knows the list user form: the one scalar-form event passes our checks but not OpenAI's.
    with serve(api_key=API_KEY, user_format="list") as double:
        events = [make_event(i) for i in range(1000)]
        events[500] = replace(events[500], user=UserData(emails_sha256=(HEX,), format="scalar"))
        outcome = client_for(double).send_batch(PIXEL_ID, events)
        assert outcome.requests_used <= 20, outcome.requests_used
        failed = outcome.with_status("failed")
        assert [o.event.id for o in failed] == ["evt-00500"]
        response = failed[0].response
        assert response.status_code == 400 and response.event_ids == ("evt-00500",)
        assert json.loads(response.body)["error"]["param"] == "events[0].user.email_sha256"
        assert len(outcome.with_status("sent")) == 999
        assert double.unique_accepted == 999
        assert (PIXEL_ID, "lead_created", "", "evt-00500") not in double.accepted
        print(f"requests used to isolate 1 bad event in 1000: {outcome.requests_used}")


@pytest.mark.parametrize("bad", [(0,), (999,), (3, 4, 5), (10, 400, 401, 998)])
def test_bisection_finds_every_bad_event(make_event, client_for, bad):
    with serve(api_key=API_KEY, user_format="list") as double:
        events = [make_event(i) for i in range(1000)]
        for index in bad:
            events[index] = replace(events[index], user=UserData(emails_sha256=(HEX,), format="scalar"))
        outcome = client_for(double).send_batch(PIXEL_ID, events)
        assert sorted(int(o.event.id[4:]) for o in outcome.with_status("failed")) == list(bad)
        assert double.unique_accepted == 1000 - len(bad)
        assert all(o.response.event_ids == (o.event.id,) for o in outcome.with_status("failed"))


def test_batch_level_rejection_stops_at_the_bisection_budget(make_event, client_for):
    with serve(api_key=API_KEY, user_format="list") as double:
        scalar = UserData(emails_sha256=(HEX,), format="scalar")
        events = [make_event(i, user=scalar) for i in range(64)]
        outcome = client_for(double, request_budget=10).send_batch(PIXEL_ID, events)
        assert outcome.requests_used == 10
        assert {o.status for o in outcome.outcomes} == {"failed"}
        assert any("request budget" in o.reason for o in outcome.outcomes)
        assert double.unique_accepted == 0


def test_expired_events_are_never_sent(client_for, openai_double, make_event, now_ms):
    events = [
        make_event(0, timestamp_ms=now_ms - MAX_AGE_MS - 1000),
        make_event(1, timestamp_ms=now_ms - MAX_AGE_MS + 60_000),  # inside the 5-minute safety margin
        make_event(2),
    ]
    outcome = client_for().send_batch(PIXEL_ID, events, now_ms=now_ms)
    assert [o.status for o in outcome.outcomes] == ["expired", "expired", "sent"]
    assert outcome.outcomes[0].response is None
    assert outcome.requests[0].event_ids == ("evt-00002",)
    assert openai_double.log[0]["ids"] == ["evt-00002"]


def test_all_expired_means_no_request(client_for, openai_double, make_event, now_ms):
    outcome = client_for().send_batch(PIXEL_ID, [make_event(timestamp_ms=now_ms - 8 * 86_400_000)])
    assert outcome.outcomes[0].status == "expired" and outcome.requests_used == 0
    assert openai_double.requests == 0


def test_locally_invalid_events_never_enter_a_batch(client_for, openai_double, make_event):
    outcome = client_for().send_batch(PIXEL_ID, [make_event(0, source_url=None), make_event(1)])
    assert outcome.outcomes[0].status == "failed"
    assert outcome.outcomes[0].reason == "invalid: source_url is required when action_source is 'web'"
    assert openai_double.log[0]["ids"] == ["evt-00001"]


def test_validate_only_checks_without_storing(client_for, openai_double, make_event):
    client = client_for(validate_only=True, integration_source="attribution-connector")
    outcome = client.send_batch(PIXEL_ID, [make_event(i) for i in range(3)])
    assert {o.status for o in outcome.outcomes} == {"validated"}
    assert openai_double.log[0]["validate_only"] is True
    assert openai_double.unique_accepted == 0 and openai_double.events_received == 0


def test_validate_only_reports_what_the_api_rejects(make_event, client_for):
    with serve(api_key=API_KEY, user_format="list") as double:
        scalar = make_event(user=UserData(emails_sha256=(HEX,), format="scalar"))
        outcome = client_for(double, validate_only=True).send_batch(PIXEL_ID, [scalar])
        assert outcome.outcomes[0].status == "failed"
        assert "unknown user field" in outcome.outcomes[0].response.body


def test_chunks_of_at_most_the_configured_size(client_for, openai_double, make_event):
    outcome = client_for(max_events_per_request=10).send_batch(PIXEL_ID, [make_event(i) for i in range(25)])
    assert [len(r.event_ids) for r in outcome.requests] == [10, 10, 5]
    assert openai_double.unique_accepted == 25


def test_a_429_halts_the_remaining_chunks(client_for, openai_double, make_event):
    openai_double.fail_with(429, retry_after="3")
    outcome = client_for(max_events_per_request=10).send_batch(PIXEL_ID, [make_event(i) for i in range(25)])
    assert outcome.requests_used == 1
    assert {(o.status, o.retry_after_s) for o in outcome.outcomes} == {("retry", 3.0)}


def test_recorded_body_is_truncated(client_for, openai_double, make_event):
    outcome = client_for(max_recorded_body_chars=16).send_batch(PIXEL_ID, [make_event()])
    assert len(outcome.requests[0].body) == 16


def test_settings_validation():
    with pytest.raises(ValueError, match="api_key"):
        SenderSettings(api_key="")
    with pytest.raises(ValueError, match="max_events_per_request"):
        SenderSettings(api_key="k", max_events_per_request=1001)
