"""The `connector` command as an operator uses it: check, events show, purge."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select, update

from connector.jobs.receipts import process_receipt
from connector.store.models import Receipt
from connector.timeutil import utcnow
from tests.conftest import TOKEN

URL = "/webhooks/forms/generic"


def connector(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "connector", *args], env=env, capture_output=True, text=True, timeout=60
    )


def process_inline(ctx, receipt_id: int) -> str:
    """Run the job function in this process, as a worker would (the e2e tests use real workers)."""
    from connector import context

    context.install(ctx)
    return process_receipt(receipt_id)


def test_check_reports_without_revealing_secrets(env):
    env = {**env, "CONNECTOR_GENERIC_SECRET": "super-secret-value-123"}
    result = connector(env, "check")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "database:" in output and "reachable" in output
    assert "source forms/generic: enabled, 1 secret(s) configured" in output
    assert "source booking/calendly: enabled" in output and "beacons /collect: refused" in output
    assert "super-secret-value-123" not in output


def test_check_fails_when_a_source_has_no_readable_secret(env, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[sources.generic]\nsecret_env = ["UNSET_VARIABLE"]\n')
    result = connector(env, "--config", str(config), "check")
    assert result.returncode == 1
    assert "NO SECRET: every request will get 401" in result.stdout


def test_events_show_tells_the_story(client, ctx, env):
    body = {
        "email": "ada@example.com",
        "event_id": "evt-story",
        "first_utm_source": "chatgpt.com",
        "oppref": "op==",
    }
    receipt_id = client.post(URL, json=body, headers={"X-Connector-Token": TOKEN}).get_json()["receipt_id"]
    client.post(URL, json=body, headers={"X-Connector-Token": TOKEN})
    assert process_inline(ctx, receipt_id) == "processed"

    text = connector(env, "events", "show", "evt-story")
    assert text.returncode == 0, text.stderr
    assert f"Receipt #{receipt_id} from generic" in text.stdout
    assert "processed after 1 attempt(s); 1 duplicate deliveries" in text.stdout
    assert "first_utm_source       chatgpt.com" in text.stdout
    for kind in ("received", "duplicate", "processing", "submission", "processed"):
        assert f"  {kind}" in text.stdout

    story = json.loads(connector(env, "events", "show", "evt-story", "--json").stdout)
    assert story["receipts"][0]["status"] == "processed"
    assert story["submissions"][0]["attribution"]["oppref"] == "op=="
    assert [t["kind"] for t in story["timeline"]] == [
        "received",
        "duplicate",
        "processing",
        "submission",
        "processed",
    ]


def test_events_show_lists_the_deal_stage_changes_the_lead_led_to(client, ctx, env):
    from tests.admin.ledger_rows import stage_change

    body = {"email": "ada@example.com", "event_id": "evt-deal"}
    receipt_id = client.post(URL, json=body, headers={"X-Connector-Token": TOKEN}).get_json()["receipt_id"]
    assert process_inline(ctx, receipt_id) == "processed"
    with ctx.sessions.begin() as session:
        stage_change(
            session,
            "deal-77",
            stage="closedwon",
            status="converted",
            rule="won",
            attributed_event_id="evt-deal",
        )
        stage_change(session, "deal-78", stage="closedwon", attributed_event_id="evt-someone-else")

    text = connector(env, "events", "show", "evt-deal")
    assert text.returncode == 0, text.stderr
    assert "Stage change hubspot deals deal-77 entered closedwon" in text.stdout
    assert "converted, rule won" in text.stdout
    assert "deal-78" not in text.stdout, "another person's deal is not in this story"
    story = json.loads(connector(env, "events", "show", "evt-deal", "--json").stdout)
    assert [(c["record_id"], c["status"]) for c in story["stage_changes"]] == [("deal-77", "converted")]


def test_events_show_unknown_id(ctx, env):
    result = connector(env, "events", "show", "nope")
    assert result.returncode == 1
    assert "nothing recorded for nope" in result.stderr


def test_purge_erases_old_processed_bodies_only(client, ctx, env):
    ids = [
        client.post(
            URL, json={"email": f"p{n}@x.y", "event_id": f"p{n}"}, headers={"X-Connector-Token": TOKEN}
        ).get_json()["receipt_id"]
        for n in range(3)
    ]
    process_inline(ctx, ids[0])
    process_inline(ctx, ids[1])
    old = utcnow() - timedelta(days=40)
    with ctx.sessions.begin() as session:
        session.execute(update(Receipt).where(Receipt.id.in_([ids[0], ids[2]])).values(received_at=old))
    dry = connector(env, "purge", "--dry-run")
    assert "1 raw body would be erased" in dry.stdout
    result = connector(env, "purge")
    assert result.returncode == 0 and "1 raw body erased" in result.stdout
    with ctx.sessions() as session:
        bodies = dict(session.execute(select(Receipt.id, Receipt.body)).all())
    assert bodies[ids[0]] is None, "old and processed: erased"
    assert bodies[ids[1]] is not None, "recent: kept"
    assert bodies[ids[2]] is not None, "old but not processed yet: kept"
