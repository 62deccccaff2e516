"""What a processed submission writes to the conversions ledger: one row per key, reasons for the rest."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from connector import context
from connector.config import load_settings
from connector.jobs.receipts import process_receipt
from connector.store.models import Conversion, JournalEntry, Receipt
from connector.story import event_story, render_text
from tests.conversions.conftest import API_KEY, PIXEL_ID


@pytest.fixture
def env(env):
    env.update(
        {
            "CONNECTOR_CONVERSIONS__ENABLED": "true",
            "CONNECTOR_CONVERSIONS__ENDPOINT": "http://127.0.0.1:9/v1/events",
            "CONNECTOR_CONVERSIONS__PIXELS__MAIN__PIXEL_ID": PIXEL_ID,
            "CONNECTOR_CONVERSIONS__PIXELS__SHOP__PIXEL_ID": "px_shop",
            "CONNECTOR_CONVERSIONS__PIXELS__SHOP__SOURCES": '["booking/none"]',
        }
    )
    return env


@pytest.fixture
def run(ctx, monkeypatch):
    """Process stored receipts in this process, the way a worker would."""
    monkeypatch.setenv("OPENAI_CONVERSIONS_API_KEY", API_KEY)
    context.install(ctx)

    def process(*bodies: dict) -> list[int]:
        ids = []
        with ctx.sessions.begin() as session:
            for body in bodies:
                receipt = Receipt(
                    source="generic",
                    delivery_key=f"k:{body.get('event_id') or json.dumps(body, sort_keys=True)}",
                    event_id=body.get("event_id"),
                    body=json.dumps(body).encode(),
                    content_type="application/json",
                )
                session.add(receipt)
                session.flush()
                ids.append(receipt.id)
        for receipt_id in ids:
            assert process_receipt(receipt_id) == "processed"
        return ids

    return process


def lead(event_id: str | None, consent: str | None = "granted", **extra: str) -> dict:
    body = {
        "email": "ada@example.com",
        "first_name": "Ada",
        "event_id": event_id,
        "consent": consent,
        "conversion_page": "https://example.com/demo",
        **extra,
    }
    return {k: v for k, v in body.items() if v is not None}


def rows(ctx) -> dict[str, Conversion]:
    with ctx.sessions() as session:
        return {c.event_id: c for c in session.scalars(select(Conversion))}


def test_consent_decides_and_the_ledger_says_why(ctx, run):
    run(lead("g", "granted"), lead("d", "denied"), lead("u", "unknown"), lead("a", None))
    found = rows(ctx)
    assert {k: (c.status, c.reason) for k, c in found.items()} == {
        "g": ("pending", None),
        "d": ("skipped", "no_consent"),
        "u": ("skipped", "no_consent"),
        "a": ("skipped", "no_consent"),
    }
    assert found["g"].payload["user"]["emails_sha256"]
    assert "consent='denied'" in found["d"].last_error
    with ctx.sessions() as session:
        lines = session.scalars(select(JournalEntry.message).where(JournalEntry.event_id == "d")).all()
    assert any("skipped" in line and "no marketing consent" in line for line in lines)


def test_without_required_consent_denied_goes_out_anonymously(ctx, run, env, monkeypatch):
    env["CONNECTOR_CONVERSIONS__REQUIRE_CONSENT"] = "false"
    env["CONNECTOR_CONVERSIONS__UNKNOWN_CONSENT"] = "granted"
    ctx.settings = load_settings(environ=env)
    run(lead("d", "denied"), lead("u", "unknown"))
    found = rows(ctx)
    assert found["d"].status == "pending"
    assert found["d"].payload["opt_out"] is True and "user" not in found["d"].payload
    assert found["u"].status == "pending" and found["u"].payload["user"]


def test_processing_again_never_adds_a_second_row(ctx, run):
    [receipt_id] = run(lead("evt-1"))
    with ctx.sessions.begin() as session:
        session.get(Receipt, receipt_id).status = "received"
    assert process_receipt(receipt_id) == "processed"
    assert len(rows(ctx)) == 1
    with ctx.sessions() as session:
        story = event_story(session, "evt-1")
    assert [c["status"] for c in story["conversions"]] == ["pending"]
    assert "already in the ledger (pending); not recorded again" in render_text(story)


def test_dry_run_without_a_key_builds_validates_and_records(ctx, run, monkeypatch):
    monkeypatch.delenv("OPENAI_CONVERSIONS_API_KEY")
    run(lead("evt-1"), lead("evt-2", conversion_page="not a url"))
    found = rows(ctx)
    assert (found["evt-1"].status, found["evt-1"].reason) == ("would_send", "dry_run")
    assert found["evt-1"].payload["id"] == "evt-1"
    assert (found["evt-2"].status, found["evt-2"].reason) == ("failed", "invalid")
    assert "source_url must be an absolute http(s) URL" in found["evt-2"].last_error


def test_submission_without_event_id_gets_a_deterministic_id(ctx, run):
    run(lead(None, email="x@example.com"))
    [conv] = rows(ctx).values()
    with ctx.sessions() as session:
        receipt = session.scalars(select(Receipt)).one()
    from connector.conversions.builder import derived_event_id

    assert conv.event_id == derived_event_id("forms/generic", receipt.delivery_key)


def test_rules_pick_the_event_and_none_is_recorded(ctx, run, env):
    env["CONNECTOR_CONVERSIONS__RULES"] = (
        '{sources = {"forms/generic" = {forms = {"news" = "none", '
        '"webinar" = {event = "custom", custom_event_name = "webinar_signup"}}}}}'
    )
    ctx.settings = load_settings(environ=env)
    run(lead("n", form_id="news"), lead("w", form_id="webinar"))
    found = rows(ctx)
    assert (found["n"].status, found["n"].reason, found["n"].event_type) == ("skipped", "rule_none", "none")
    assert (found["w"].event_type, found["w"].custom_event_name) == ("custom", "webinar_signup")
    assert found["w"].payload["custom_event_name"] == "webinar_signup"
