"""Webhook -> real worker -> ledger -> OpenAI double over HTTP: each conversion sent once, with its reasons."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from connector.store.models import Conversion, ConversionRequest, Receipt
from tests.conftest import TOKEN, wait_for
from tests.conversions.conftest import API_KEY, PIXEL_ID

URL = "/webhooks/forms/generic"
AUTH = {"X-Connector-Token": TOKEN}
OPPREF = "AbC%2Fx+y==/é~ ;"


@pytest.fixture
def env(env, openai_double):
    """The connector's processes talk to the double, with a one-second batch window."""
    env.update(
        {
            "CONNECTOR_CONVERSIONS__ENABLED": "true",
            "CONNECTOR_CONVERSIONS__ENDPOINT": openai_double.url,
            "CONNECTOR_CONVERSIONS__PIXELS__MAIN__PIXEL_ID": PIXEL_ID,
            "CONNECTOR_CONVERSIONS__BATCH_WINDOW_SECONDS": "1",
            "CONNECTOR_CONVERSIONS__RETRY_BASE_SECONDS": "1",
            "CONNECTOR_CONVERSIONS__RETRY_MAX_SECONDS": "2",
            "OPENAI_CONVERSIONS_API_KEY": API_KEY,
        }
    )
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


def test_form_submission_reaches_openai_once_with_its_id_oppref_and_time(client, ctx, processes, openai_double):
    body = lead(1)
    answer = client.post(URL, json=body, headers=AUTH).get_json()
    processes.start("worker", name="worker")
    wait_for(lambda: statuses(ctx).get("evt-1") == "sent", timeout=30, message="conversion sent")
    assert openai_double.unique_accepted == 1
    (key, event), = openai_double.accepted.items()
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
        env=processes.env, capture_output=True, text=True,
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
