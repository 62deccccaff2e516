"""POST /webhooks/forms/generic over the real app, ledger and queue."""

from __future__ import annotations

import io
import json

from rq.job import Job
from sqlalchemy import select

from connector.store.models import JournalEntry, Receipt
from tests.conftest import TOKEN

URL = "/webhooks/forms/generic"
AUTH = {"X-Connector-Token": TOKEN}
LEAD = {"email": "ada@example.com", "event_id": "evt-1", "first_utm_source": "chatgpt.com", "oppref": "op=="}


def receipts(ctx) -> list[Receipt]:
    with ctx.sessions() as session:
        return list(session.scalars(select(Receipt).order_by(Receipt.id)))


def test_accepted_webhook_is_stored_and_queued(client, ctx):
    response = client.post(URL, json=LEAD, headers=AUTH)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "accepted" and body["queued"] is True and body["event_id"] == "evt-1"
    [receipt] = receipts(ctx)
    assert receipt.id == body["receipt_id"]
    assert receipt.status == "received" and receipt.delivery_key == "event:evt-1"
    assert json.loads(receipt.body) == LEAD
    assert "x-connector-token" not in receipt.headers, "the secret must never be stored"
    job = Job.fetch(receipt.job_id, connection=ctx.redis)
    assert job.args == ([receipt.id],)
    assert ctx.queue.count == 1


def test_token_in_query_for_senders_without_headers(client, ctx):
    response = client.post(f"{URL}?token={TOKEN}", data={"email": "a@b.c", "event_id": "e"})
    assert response.status_code == 200
    assert len(receipts(ctx)) == 1


def test_duplicate_delivery_is_acknowledged_not_stored_twice(client, ctx):
    first = client.post(URL, json=LEAD, headers=AUTH).get_json()
    second = client.post(URL, json=LEAD, headers=AUTH)
    assert second.status_code == 200
    assert second.get_json() == {"status": "duplicate", "receipt_id": first["receipt_id"]}
    [receipt] = receipts(ctx)
    assert receipt.duplicates == 1
    assert ctx.queue.count == 1
    with ctx.sessions() as session:
        kinds = session.scalars(select(JournalEntry.kind).order_by(JournalEntry.id)).all()
    assert kinds == ["duplicate"]


def test_bad_or_missing_token_is_refused_and_nothing_stored(client, ctx):
    wrong = client.post(URL, json=LEAD, headers={"X-Connector-Token": "nope"})
    missing = client.post(URL, json=LEAD)
    assert (wrong.status_code, wrong.get_json()["error"]) == (401, "invalid token")
    assert missing.status_code == 401 and "X-Connector-Token" in missing.get_json()["error"]
    assert receipts(ctx) == []


def test_rotated_secrets_are_all_accepted(client, ctx, monkeypatch):
    monkeypatch.setenv("CONNECTOR_GENERIC_SECRET", "irrelevant")
    client.application.extensions["connector_secrets"]["generic"] = ["old-secret", "new-secret"]
    for token in ("old-secret", "new-secret"):
        assert (
            client.post(URL, json={"email": f"{token}@x.y"}, headers={"X-Connector-Token": token}).status_code
            == 200
        )


def test_oversize_body_gets_413_and_nothing_stored(client, ctx):
    limit = ctx.settings.intake.max_body_bytes
    big = {"email": "a@b.c", "latest_referrer": "x" * limit}
    response = client.post(URL, json=big, headers=AUTH)
    assert response.status_code == 413
    assert f"{limit}-byte limit" in response.get_json()["error"]
    assert receipts(ctx) == []


def test_oversize_body_without_content_length_is_caught_while_reading(client, ctx):
    limit = ctx.settings.intake.max_body_bytes

    body = b'{"email": "a@b.c", "x": "' + b"y" * limit + b'"}'
    response = client.post(
        URL,
        input_stream=io.BytesIO(body),
        headers={**AUTH, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # what gunicorn sets for chunked bodies
    )
    assert response.status_code == 413
    assert receipts(ctx) == []


def test_authentication_comes_before_the_size_limit(client, ctx):
    response = client.post(
        URL, data=b"x" * (ctx.settings.intake.max_body_bytes + 10), headers={"X-Connector-Token": "no"}
    )
    assert response.status_code == 401


def test_malformed_bodies_get_400_with_a_reason(client, ctx):
    bad_json = client.post(URL, data=b'{"email": ', headers={**AUTH, "Content-Type": "application/json"})
    bad_form = client.post(
        URL, data=b"a=1&&=", headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"}
    )
    wrong_type = client.post(URL, data=b"<xml/>", headers={**AUTH, "Content-Type": "application/xml"})
    assert bad_json.status_code == 400 and "malformed JSON" in bad_json.get_json()["error"]
    assert bad_form.status_code == 400 and "malformed form-encoded body" in bad_form.get_json()["error"]
    assert wrong_type.status_code == 415
    assert receipts(ctx) == []


def test_unknown_and_disabled_sources(client, ctx, monkeypatch):
    assert client.post("/webhooks/forms/nosuch", json=LEAD, headers=AUTH).status_code == 404
    from dataclasses import replace

    from connector.config import SourceSettings

    settings = ctx.settings
    ctx.settings = replace(settings, sources={"generic": SourceSettings(enabled=False)})
    try:
        response = client.post(URL, json=LEAD, headers=AUTH)
    finally:
        ctx.settings = settings
    assert response.status_code == 404 and "disabled" in response.get_json()["error"]
    assert client.get(URL).status_code == 405


def test_database_down_answers_503_so_the_sender_retries(settings, monkeypatch):
    from dataclasses import replace

    from connector.app import create_app

    monkeypatch.setenv("CONNECTOR_GENERIC_SECRET", TOKEN)
    down = replace(settings, database_url="postgresql://nobody@127.0.0.1:9/none")
    response = create_app(down).test_client().post(URL, json=LEAD, headers=AUTH)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.get_json()["error"] == "storage unavailable, retry later"


def test_redis_down_still_stores_the_receipt(settings, ctx, monkeypatch):
    from connector.app import create_app

    app = create_app(settings, redis_url="redis://127.0.0.1:9/0")
    response = app.test_client().post(URL, json=LEAD, headers=AUTH)
    assert response.status_code == 200
    assert response.get_json()["queued"] is False
    [receipt] = receipts(ctx)
    assert receipt.status == "received"


def test_health_readiness_and_metrics(client, ctx):
    client.post(URL, json=LEAD, headers=AUTH)
    client.post(URL, json=LEAD, headers={"X-Connector-Token": "bad"})
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"] == {"database": "ok", "redis": "ok"}
    text = client.get("/metrics").get_data(as_text=True)
    assert 'connector_webhook_requests_total{source="forms/generic",status="401"}' in text
    assert 'connector_receipts{status="received"} 1.0' in text
    assert f'connector_queue_depth{{queue="{ctx.queue.name}"}} 1.0' in text
    assert "connector_webhook_latency_seconds_bucket" in text


def test_readiness_fails_when_redis_is_unreachable(settings):
    from connector.app import create_app

    response = create_app(settings, redis_url="redis://127.0.0.1:9/0").test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("unavailable")


def test_the_flask_route_behind_the_shortcut_gives_the_same_answers(app, client, ctx):
    """A POST to a webhook path is answered before Flask's routing; the Flask route, which answers when the
    app is served without the shortcut, must say exactly the same."""
    from werkzeug.test import Client

    flask_only = Client(app.wsgi_app.wsgi_app)  # the Flask app the shortcut hands everything else to

    def cases(event_id: str) -> list[tuple[str, dict]]:
        lead = {**LEAD, "event_id": event_id}
        return [
            (URL, {"json": lead, "headers": AUTH}),  # accepted, then a duplicate
            (URL, {"json": lead, "headers": AUTH}),
            (URL, {"json": lead, "headers": {"X-Connector-Token": "nope"}}),
            (URL, {"data": b"{not json", "headers": {**AUTH, "Content-Type": "application/json"}}),
            ("/webhooks/forms/nosuch", {"json": lead, "headers": AUTH}),
        ]

    answers = []
    for (path, mine), (_, theirs) in zip(cases("evt-shortcut"), cases("evt-flask"), strict=True):
        shortcut, flask = client.post(path, **mine), flask_only.post(path, **theirs)
        bodies = [shortcut.get_json(), flask.get_json()]
        for body in bodies:
            body.pop("receipt_id", None)  # each stored a receipt of its own
            body.pop("event_id", None)
        assert (shortcut.status_code, shortcut.content_type, bodies[0]) == (
            flask.status_code,
            flask.content_type,
            bodies[1],
        )
        answers.append((shortcut.status_code, bodies[0].get("status")))
    assert answers == [(200, "accepted"), (200, "duplicate"), (401, 401), (400, 400), (404, 404)]
    assert len(receipts(ctx)) == 2
    assert client.get(URL).status_code == flask_only.get(URL).status_code == 405
    assert client.post(URL + "/extra", json=LEAD, headers=AUTH).status_code == 404
