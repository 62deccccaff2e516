"""Webhook -> real worker -> ledger -> OpenAI double over HTTP: each conversion sent once, with its reasons."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from connector.conversions.ledger import insert_conversion
from connector.events.model import MAX_AGE_MS
from connector.jobs.conversions import enqueue_conversions_send
from connector.store.models import Conversion, ConversionRequest, Receipt
from tests.conftest import TOKEN, wait_for
from tests.conversions.conftest import API_KEY, PIXEL_ID, double_env

URL = "/webhooks/forms/generic"
AUTH = {"X-Connector-Token": TOKEN}
OPPREF = "AbC%2Fx+y==/é~ ;"


@pytest.fixture
def env(env, openai_double):
    """The connector's processes talk to the double, with a one-second batch window."""
    env.update(double_env(openai_double.url))
    return env


def lead(n: int, **extra: str) -> dict:
    values = {
        "email": f"lead{n}@example.com",
        "first_name": "Ada",
        "event_id": f"evt-{n}",
        "oppref": OPPREF,
        "consent": "granted",
        "conversion_page": "https://example.com/demo",
        "submitted_at": "2026-11-26T10:00:00.123Z",
    }
    values["submitted_at"] = _recent_iso(n)
    values.update(extra)
    return values


def _recent_iso(n: int) -> str:
    from datetime import UTC, datetime, timedelta

    moment = datetime.now(UTC).replace(microsecond=123000) - timedelta(minutes=5, seconds=n)
    return moment.isoformat().replace("+00:00", "Z")


def conversions(ctx) -> list[Conversion]:
    with ctx.sessions() as session:
        return list(session.scalars(select(Conversion).order_by(Conversion.id)))


def statuses(ctx) -> dict[str, str]:
    return {c.event_id: c.status for c in conversions(ctx)}


def test_form_submission_reaches_openai_once_with_its_id_oppref_and_time(
    client, ctx, processes, openai_double
):
    body = lead(1)
    answer = client.post(URL, json=body, headers=AUTH).get_json()
    processes.start("worker", name="worker")
    wait_for(lambda: statuses(ctx).get("evt-1") == "sent", timeout=30, message="conversion sent")
    assert openai_double.unique_accepted == 1
    ((key, event),) = openai_double.accepted.items()
    assert key == (PIXEL_ID, "lead_created", "", "evt-1")
    assert event["oppref"] == OPPREF
    from connector.timeutil import parse_iso

    assert event["timestamp_ms"] == int(parse_iso(body["submitted_at"]).timestamp() * 1000)
    assert event["source_url"] == "https://example.com/demo"
    assert len(event["user"]["emails_sha256"][0]) == 64
    # Redelivery, a second job and a replay of the receipt change nothing.
    again = client.post(URL, json=body, headers=AUTH).get_json()
    assert again["status"] == "duplicate" and again["receipt_id"] == answer["receipt_id"]
    with ctx.sessions.begin() as session:
        session.get(Receipt, answer["receipt_id"]).status = "failed"
    result = subprocess.run(
        [sys.executable, "-m", "connector", "replay", "--receipt", str(answer["receipt_id"])],
        env=processes.env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    wait_for(lambda: _receipt_status(ctx, answer["receipt_id"]) == "processed", message="replayed")
    assert len(conversions(ctx)) == 1
    assert openai_double.unique_accepted == 1 and openai_double.events_received == 1
    [conv] = conversions(ctx)
    assert (conv.status, conv.attempts) == ("sent", 1)
    with ctx.sessions() as session:
        [request] = session.scalars(select(ConversionRequest))
    assert request.status_code == 200 and request.event_ids == ["evt-1"]
    assert json.loads(request.body)["events_received"] == 1


def test_many_submissions_share_few_requests(client, ctx, processes, openai_double):
    for n in range(150):
        assert client.post(URL, json=lead(n), headers=AUTH).status_code == 200
    processes.start("worker", name="worker")
    wait_for(
        lambda: set(statuses(ctx).values()) == {"sent"} and len(statuses(ctx)) == 150,
        timeout=60,
        message="150 conversions sent",
    )
    assert openai_double.unique_accepted == 150 and openai_double.events_received == 150
    assert openai_double.requests <= 8, openai_double.requests


def test_endpoint_down_for_a_while_then_back_sends_each_once(client, ctx, processes, openai_double):
    openai_double.fail_with(503, times=2)
    openai_double.fail_with(429, times=1, retry_after="1")
    openai_double.drop_connections(1)
    for n in range(20):
        client.post(URL, json=lead(n), headers=AUTH)
    processes.start("worker", name="worker")
    wait_for(
        lambda: list(statuses(ctx).values()) == ["sent"] * 20, timeout=60, message="all sent after outage"
    )
    assert openai_double.unique_accepted == 20 and openai_double.events_received == 20
    assert openai_double.requests >= 5
    with ctx.sessions() as session:
        codes = [
            r.status_code for r in session.scalars(select(ConversionRequest).order_by(ConversionRequest.id))
        ]
    assert codes[:4] == [503, 503, 429, None] and codes[-1] == 200
    assert all(c.attempts >= 5 for c in conversions(ctx)[:1])


def test_worker_killed_while_the_request_is_in_flight_sends_once(client, ctx, processes, openai_double):
    processes.env.update(
        {"CONNECTOR_CONVERSIONS__TIMEOUT_SECONDS": "4", "CONNECTOR_CONVERSIONS__LEASE_SECONDS": "5"}
    )
    openai_double.latency_s = 2.0  # the answer is slow: the worker dies waiting for it
    client.post(URL, json=lead(1), headers=AUTH)
    first = processes.start("worker", name="first")
    wait_for(lambda: openai_double.requests == 1, timeout=30, message="request in flight")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    wait_for(lambda: openai_double.unique_accepted == 1, message="OpenAI stored the event")
    [conv] = conversions(ctx)
    assert conv.status == "sending", "the outcome was never recorded"
    openai_double.latency_s = 0.0
    processes.with_sweeper().start("worker", name="second")  # it finds the dead attempt: the recovery path
    wait_for(lambda: statuses(ctx) == {"evt-1": "sent"}, timeout=40, message="reconciled and sent")
    assert openai_double.events_received == 2, "the same id was sent again"
    assert openai_double.unique_accepted == 1, "and OpenAI counts it once"
    [conv] = conversions(ctx)
    assert conv.attempts == 2
    with ctx.sessions() as session:
        requests = list(session.scalars(select(ConversionRequest).order_by(ConversionRequest.id)))
    assert [r.status_code for r in requests] == [None, 200]
    assert requests[0].error.startswith("no response recorded")
    result = subprocess.run(
        [sys.executable, "-m", "connector", "events", "show", "evt-1"],
        env=processes.env,
        capture_output=True,
        text=True,
    )
    assert "Conversion lead_created to pixel px_test_1: sent after 2 attempt(s)" in result.stdout
    assert "no response recorded" in result.stdout and "HTTP 200" in result.stdout


def test_validate_only_mode_checks_without_storing(client, ctx, processes, openai_double):
    processes.env["CONNECTOR_CONVERSIONS__VALIDATE_ONLY"] = "true"
    client.post(URL, json=lead(1), headers=AUTH)
    processes.start("worker", name="worker")
    wait_for(lambda: statuses(ctx) == {"evt-1": "validated"}, timeout=30, message="validated")
    assert openai_double.requests == 1 and openai_double.unique_accepted == 0
    assert openai_double.log[0]["validate_only"] is True


def test_rejected_key_fails_then_replay_sends_with_the_same_id(client, ctx, processes, openai_double):
    processes.env["OPENAI_CONVERSIONS_API_KEY"] = "wrong-key"
    client.post(URL, json=lead(1), headers=AUTH)
    processes.start("worker", name="first")
    wait_for(lambda: statuses(ctx) == {"evt-1": "failed"}, timeout=30, message="failed on auth")
    assert conversions(ctx)[0].reason == "auth"
    processes.stop_all()
    processes.env["OPENAI_CONVERSIONS_API_KEY"] = API_KEY
    result = subprocess.run(
        [sys.executable, "-m", "connector", "replay", "--conversions"],
        env=processes.env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "1 conversion(s) queued again" in result.stdout
    processes.start("worker", name="second")
    wait_for(lambda: statuses(ctx) == {"evt-1": "sent"}, timeout=30, message="sent after replay")
    assert openai_double.unique_accepted == 1
    assert (PIXEL_ID, "lead_created", "", "evt-1") in openai_double.accepted


def test_events_that_expire_while_waiting_are_never_sent(ctx, processes, openai_double):
    now_ms = int(time.time() * 1000)
    old = now_ms - MAX_AGE_MS + 60_000  # still inside the window, but not by the safety margin
    with ctx.sessions.begin() as session:
        for n, ts in ((1, old), (2, now_ms - 60_000)):
            insert_conversion(
                session,
                {
                    "pixel_id": PIXEL_ID,
                    "event_type": "lead_created",
                    "custom_event_name": "",
                    "event_id": f"evt-{n}",
                    "timestamp_ms": ts,
                    "status": "pending",
                    "payload": {
                        "id": f"evt-{n}",
                        "type": "lead_created",
                        "timestamp_ms": ts,
                        "action_source": "web",
                        "source_url": "https://example.com/",
                        "data": {"type": "customer_action"},
                    },
                },
            )
    assert enqueue_conversions_send(ctx, PIXEL_ID, delay=0)
    processes.start("worker", "--burst", name="worker").wait(60)
    assert statuses(ctx) == {"evt-1": "expired", "evt-2": "sent"}
    assert openai_double.unique_accepted == 1
    assert (PIXEL_ID, "lead_created", "", "evt-1") not in openai_double.accepted


def test_one_event_openai_rejects_fails_alone_and_shows_why(ctx, processes):
    from tests.doubles.openai_double import serve

    with serve(api_key=API_KEY, user_format="list") as strict:
        processes.env["CONNECTOR_CONVERSIONS__ENDPOINT"] = strict.url
        now_ms = int(time.time() * 1000)
        with ctx.sessions.begin() as session:
            for n in range(40):
                user = {"email_sha256": "c" * 64} if n == 17 else {"emails_sha256": ["c" * 64]}
                insert_conversion(
                    session,
                    {
                        "pixel_id": PIXEL_ID,
                        "event_type": "lead_created",
                        "custom_event_name": "",
                        "event_id": f"evt-{n}",
                        "timestamp_ms": now_ms,
                        "status": "pending",
                        "payload": {
                            "id": f"evt-{n}",
                            "type": "lead_created",
                            "timestamp_ms": now_ms,
                            "action_source": "web",
                            "source_url": "https://example.com/",
                            "user": user,
                            "data": {"type": "customer_action"},
                        },
                    },
                )
        assert enqueue_conversions_send(ctx, PIXEL_ID, delay=0)
        processes.start("worker", "--burst", name="worker").wait(60)
        found = statuses(ctx)
        assert found.pop("evt-17") == "failed" and set(found.values()) == {"sent"}
        assert strict.unique_accepted == 39 and strict.requests <= 14
    result = subprocess.run(
        [sys.executable, "-m", "connector", "events", "show", "evt-17", "--json"],
        env=processes.env,
        capture_output=True,
        text=True,
    )
    [conv] = json.loads(result.stdout)["conversions"]
    assert (conv["status"], conv["reason"]) == ("failed", "rejected")
    assert conv["payload"]["user"] == {"email_sha256": "c" * 64}
    alone = [r for r in conv["requests"] if r["event_count"] == 1]
    assert alone and alone[-1]["status_code"] == 400
    assert json.loads(alone[-1]["body"])["error"]["param"] == "events[0].user.email_sha256"
    assert conv["requests"][0]["event_count"] == 40


def test_two_senders_for_one_pixel_never_send_an_event_twice(ctx, processes, openai_double):
    processes.env["CONNECTOR_CONVERSIONS__BATCH_MAX_EVENTS"] = "50"
    now_ms = int(time.time() * 1000)
    with ctx.sessions.begin() as session:
        for n in range(1000):
            insert_conversion(
                session,
                {
                    "pixel_id": PIXEL_ID,
                    "event_type": "lead_created",
                    "custom_event_name": "",
                    "event_id": f"evt-{n}",
                    "timestamp_ms": now_ms,
                    "status": "pending",
                    "payload": {
                        "id": f"evt-{n}",
                        "type": "lead_created",
                        "timestamp_ms": now_ms,
                        "action_source": "web",
                        "source_url": "https://example.com/",
                        "data": {"type": "customer_action"},
                    },
                },
            )
    for _ in range(4):
        assert enqueue_conversions_send(ctx, PIXEL_ID, delay=0, force=True)
    processes.start("worker", name="a")
    processes.start("worker", name="b")
    wait_for(lambda: set(statuses(ctx).values()) == {"sent"}, timeout=60, message="all sent")
    assert openai_double.unique_accepted == 1000
    assert openai_double.events_received == 1000, "no event was claimed by two senders"
    assert all(c.attempts == 1 for c in conversions(ctx))


def test_conversions_test_command_prints_the_answer(ctx, processes, openai_double):
    result = subprocess.run(
        [sys.executable, "-m", "connector", "conversions", "test", "--pixel", "main"],
        env=processes.env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("HTTP 200 in ")
    assert json.loads(result.stdout.splitlines()[1]) == {"validate_only": True, "events_received": 1}
    assert openai_double.log[0]["validate_only"] is True and openai_double.unique_accepted == 0
    assert API_KEY not in result.stdout + result.stderr


def _receipt_status(ctx, receipt_id):
    with ctx.sessions() as session:
        return session.scalar(select(Receipt.status).where(Receipt.id == receipt_id))


def count(ctx, model, *where) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture(autouse=True)
def _show_logs_on_failure(request, processes):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(processes.logs())
