"""Migration 0010 gives submissions kept before it the report columns a new one is written with."""

from __future__ import annotations

import json

from sqlalchemy import text

from connector.store.db import make_engine
from connector.store.migrate import upgrade
from connector.store.report_columns import person_key


def test_0010_backfills_the_report_columns(settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings)
    upgrade(engine, "0009")
    now = "2026-11-01 10:00:00+00:00"
    attribution = {
        "first_channel": "AI_Assistant",
        "first_ai_source": "chatgpt",
        "first_utm_source": "ChatGPT.com",
        "first_landing_page": "https://site.test/pricing?utm_source=chatgpt.com#top",
        "latest_channel": "paid_search",
        "latest_ai_source": "none",
        "latest_utm_campaign": "Brand",
    }
    with engine.begin() as connection:
        for n, (email, values) in enumerate((("Ada@Example.com", attribution), (None, {})), start=1):
            connection.execute(
                text(
                    "INSERT INTO receipts (id, source, delivery_key, received_at, content_type, headers,"
                    " status, attempts, duplicates) VALUES (:n, 'generic', :key, :now, '', '{}', 'processed', 1, 0)"
                ),
                {"n": n, "key": f"k{n}", "now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO submissions (id, receipt_id, source, kind, event_id, email, contact, attribution,"
                    " meta, submitted_at, created_at) VALUES (:n, :n, 'generic', 'form', :event, :email, '{}',"
                    " :attribution, '{}', :now, :now)"
                ),
                {"n": n, "event": f"evt-{n}", "email": email, "attribution": json.dumps(values), "now": now},
            )
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT person_key, first_channel, first_ai_source, first_utm_source, first_landing_page,"
                " latest_channel, latest_ai_source, latest_utm_campaign FROM submissions ORDER BY id"
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        (
            person_key("ada@example.com", None, None),
            "ai_assistant",
            "chatgpt",
            "chatgpt.com",
            "https://site.test/pricing",
            "paid_search",
            "none",
            "Brand",
        ),
        (person_key(None, "evt-2", 2), None, None, None, None, None, None, None),
    ]


def test_0010_gives_converted_stage_changes_their_sent_amount(settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings)
    upgrade(engine, "0009")
    now = "2026-11-01 10:00:00+00:00"
    payload = {"id": "e1", "data": {"type": "order_created", "amount": 120050, "currency": "USD"}}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO conversions (id, pixel_id, event_type, custom_event_name, event_id, trigger, payload,"
                " timestamp_ms, status, attempts, created_at, updated_at) VALUES (7, 'px', 'order_created', '',"
                " 'e1', 'stage:won', :payload, 1, 'sent', 1, :now, :now)"
            ),
            {"payload": json.dumps(payload), "now": now},
        )
        for n, conversion in ((1, 7), (2, None)):
            connection.execute(
                text(
                    "INSERT INTO stage_changes (id, crm, object_type, record_id, stage, entered_at, via,"
                    " delivery_key, change_key, fields, status, attempts, conversion_id, created_at, updated_at)"
                    " VALUES (:n, 'hubspot', 'deals', 'd1', 'closedwon', :now, 'webhook', :key, :key, '{}',"
                    " 'converted', 1, :conversion, :now, :now)"
                ),
                {"n": n, "key": f"k{n}", "now": now, "conversion": conversion},
            )
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, amount, currency FROM stage_changes ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(1, 120050, "USD"), (2, None, None)]
