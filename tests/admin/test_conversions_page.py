"""The Conversions page: per pixel, counts by status over 24 hours and 7 days, identifier coverage, OpenAI's
latest errors, and "send a test event" (validate_only, queued for a worker, editor role, audited)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from connector.admin.queries import conversions as queries
from connector.config import load_settings
from connector.store.models import AdminAudit, ConversionRequest
from connector.timeutil import utcnow
from tests.admin import ledger_rows as rows
from tests.admin.shots import screenshot
from tests.admin.test_events import _conversion_sent, _lead_body, post_lead
from tests.conftest import wait_for
from tests.conversions.conftest import PIXEL_ID

SHA = "a" * 64


@pytest.fixture
def pixel_settings(env):  # type: ignore[no-untyped-def]
    env = {
        **env,
        "CONNECTOR_CONVERSIONS__PIXELS__MAIN__PIXEL_ID": PIXEL_ID,
        "CONNECTOR_CONVERSIONS__PIXELS__SHOP__PIXEL_ID": "px_shop",
        "CONNECTOR_CONVERSIONS__PIXELS__SHOP__SOURCES": '["forms/wpforms"]',
    }
    return load_settings(environ=env)


def _payload(event_id: str, oppref: bool, email: bool, scalar: bool = False) -> dict:
    payload: dict = {"id": event_id, "type": "lead_created", "data": {"type": "customer_action"}}
    if oppref:
        payload["oppref"] = "opp"
    if email:
        payload["user"] = {"email_sha256": SHA} if scalar else {"emails_sha256": [SHA]}
    return payload


def test_counts_by_status_in_each_window_coverage_and_errors_per_pixel(ctx, pixel_settings):
    now = utcnow()
    with ctx.sessions.begin() as session:
        rows.conversion(session, "old", status="sent", created_at=now - timedelta(days=9))
        rows.conversion(
            session,
            "week-1",
            status="sent",
            created_at=now - timedelta(days=3),
            payload=_payload("w1", True, False),
        )
        rows.conversion(
            session,
            "week-2",
            status="failed",
            created_at=now - timedelta(days=2),
            payload=_payload("w2", False, False),
        )
        for n in range(3):
            rows.conversion(
                session,
                f"day-{n}",
                status="sent",
                created_at=now - timedelta(hours=n + 1),
                payload=_payload(f"d{n}", oppref=n == 0, email=True, scalar=n == 2),
            )
        rows.conversion(session, "shop-1", pixel_id="px_shop", status="pending", created_at=now)
        rows.request(session, PIXEL_ID, status_code=200, body='{"events_received": 3}')
        rows.request(session, PIXEL_ID, status_code=400, body='{"error": {"code": "invalid_event"}}')
        rows.request(session, PIXEL_ID, error="ConnectError: connection refused")
        rows.request(session, PIXEL_ID, status_code=200, validate_only=True, body="{}")
    with ctx.sessions() as session:
        main, shop = queries.pixels(session, pixel_settings, now=now)
    assert (main.name, main.pixel_id, shop.pixel_id) == ("main", PIXEL_ID, "px_shop")
    assert main.counts["sent"] == [(3, False), (4, False)]  # the 9-day-old one is in neither window
    assert main.counts["failed"] == [(0, False), (1, False)]
    assert main.counts["pending"] == [(0, False), (0, False)]
    assert shop.counts["pending"] == [(1, False), (1, False)] and shop.counts["sent"] == [
        (0, False),
        (0, False),
    ]
    # Coverage over the pixel's latest conversions (all 6), both user-field formats counted as hashed email.
    assert main.sampled == 6
    assert main.coverage == {"oppref": 2, "email": 3, "both": 1, "neither": 2}
    assert [(e["status_code"], bool(e["error"])) for e in main.errors] == [(None, True), (400, False)]
    assert "invalid_event" in main.errors[1]["body"]
    assert [t["validate_only"] for t in main.tests] == [True]
    assert shop.errors == [] and shop.sampled == 1 and not shop.empty
    with ctx.sessions() as session:
        [idle] = [
            p
            for p in queries.pixels(session, pixel_settings, now=now + timedelta(days=30))
            if p.name == "main"
        ]
    assert idle.empty


def test_counts_stop_at_the_cap(ctx, pixel_settings, monkeypatch):
    monkeypatch.setattr(queries, "COUNT_CAP", 3)
    with ctx.sessions.begin() as session:
        for n in range(5):
            rows.conversion(session, f"c-{n}", status="sent")
    with ctx.sessions() as session:
        main = queries.pixels(session, pixel_settings)[0]
    assert main.counts["sent"] == [(3, True), (3, True)]


def test_the_page_says_when_no_pixel_is_configured(admin_client):
    page = admin_client("viewer").get("/admin/conversions")
    assert page.status_code == 200 and "No pixel configured" in page.get_data(as_text=True)


def test_a_viewer_cannot_send_a_test_event_and_an_unknown_pixel_is_refused(ctx, admin_client):
    viewer = admin_client("viewer")
    assert viewer.post("/admin/conversions/test", {"pixel": "main"}).status_code == 403
    editor = admin_client("editor")
    unknown = editor.post("/admin/conversions/test", {"pixel": "<b>nope</b>"})
    assert unknown.status_code == 400 and "No pixel named" in unknown.get_data(as_text=True)
    assert "<b>nope</b>" not in unknown.get_data(as_text=True)
    assert editor.post("/admin/conversions/test", {"pixel": "main"}, csrf=False).status_code == 400
    with ctx.sessions() as session:
        assert (
            session.scalars(select(AdminAudit).where(AdminAudit.action == "conversions.test_event")).all()
            == []
        )
    assert ctx.queue.count == 0


def test_in_chromium_counts_coverage_and_a_test_event_answered_by_openai(console):
    post_lead(console, _lead_body("evt-conv-1"))
    wait_for(lambda: _conversion_sent(console, "evt-conv-1"), timeout=40, message="conversion sent")
    viewer = console.page("viewer")
    viewer.goto(f"{console.url}/admin/conversions")
    pixel = viewer.locator("section.pixel")
    assert pixel.count() == 1
    text = pixel.inner_text()
    assert PIXEL_ID in text and "API key set" in text
    sent_row = pixel.locator("table.data tr", has_text="sent")
    assert re.sub(r"\s+", " ", sent_row.first.inner_text()).strip() == "sent 1 1"
    assert "100.0%" in pixel.locator(".coverage").inner_text()  # oppref and hashed email both present
    assert viewer.locator("button", has_text="Send a test event").count() == 0
    token = viewer.locator('meta[name="csrf-token"]').get_attribute("content")
    requests_before = console.openai.requests
    forced = viewer.request.post(
        f"{console.url}/admin/conversions/test", form={"pixel": "main", "csrf_token": token}, max_redirects=0
    )
    assert forced.status == 403
    time.sleep(1)
    assert console.openai.requests == requests_before

    editor = console.page("editor")
    editor.goto(f"{console.url}/admin/conversions")
    editor.click("button:has-text('Send a test event')")
    editor.wait_for_selector(".test-result .flash-ok", timeout=30_000)
    result = editor.inner_text(".test-result")
    assert "OpenAI accepted the test event" in result and "HTTP 200" in result
    last = console.openai.log[-1]
    assert last["validate_only"] is True and last["ids"][0].startswith("connector-test-")
    assert console.openai.unique_accepted == 1  # validate_only: the double stored nothing new
    with console.ctx.sessions() as session:
        stored = session.scalars(
            select(ConversionRequest).where(ConversionRequest.validate_only.is_(True))
        ).all()
        audit = session.execute(select(AdminAudit.actor, AdminAudit.action, AdminAudit.target)).all()
    assert len(stored) == 1 and stored[0].status_code == 200
    assert [(a.action, a.target) for a in audit if a.action == "conversions.test_event"] == [
        ("conversions.test_event", f"pixel main ({PIXEL_ID})")
    ]
    editor.reload()
    assert "Latest validate_only requests" in editor.inner_text("section.pixel")
    screenshot(console, editor, "conversions-data", full_page=True)


def test_in_chromium_a_refused_test_event_shows_openais_answer(console):
    console.openai.fail_with(400)
    editor = console.page("editor")
    editor.goto(f"{console.url}/admin/conversions")
    assert "No conversions in the last 7 days" in editor.inner_text("section.pixel")
    screenshot(console, editor, "conversions-empty")
    editor.click("button:has-text('Send a test event')")
    editor.wait_for_selector(".test-result .flash-error", timeout=30_000)
    assert "OpenAI refused the test event: HTTP 400" in editor.inner_text(".test-result")
    editor.reload()
    errors = editor.inner_text("section.pixel")
    assert "OpenAI's latest errors" in errors and "HTTP 400" in errors and "injected" in errors
    screenshot(console, editor, "conversions-refused", full_page=True)
