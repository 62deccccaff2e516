"""`connector events show` tells a booking's story: its key, its beacon, its hold and under which id it went."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from connector.jobs.bookings import release_booking
from tests.intake.helpers import receipts, run_jobs, submissions
from tests.intake.test_booking_release import (
    BOOKING,
    CONVERSIONS_ENV,
    conversions,
    drain,
    install_booking_client,
)
from tests.intake.test_bookings import INVITEE, beacon, calendly
from tests.test_cli import connector as cli

GRACE = 60


@pytest.fixture
def env(env):  # type: ignore[no-untyped-def]
    env.update(CONVERSIONS_ENV)
    return env


@pytest.fixture
def booking_client(client, ctx, env):  # type: ignore[no-untyped-def]
    return install_booking_client(client, ctx, env, GRACE)


def show(env: dict, key: str) -> str:
    result = cli(env, "events", "show", key)
    assert result.returncode == 0, result.stderr
    return result.stdout


def show_json(env: dict, key: str) -> dict:
    result = cli(env, "events", "show", key, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_held_booking_and_the_beacon_that_released_it(booking_client, ctx, env):
    assert calendly(booking_client, "calendly_invitee_created.json").status_code == 200
    run_jobs(ctx)
    [webhook] = receipts(ctx)
    [lead] = submissions(ctx)

    waiting = show(env, f"receipt:{webhook.id}")
    assert f"Booking calendly invitee_uri {INVITEE}: scheduled" in waiting
    assert "  beacon: none received" in waiting
    assert f"  webhook: receipt #{webhook.id} -> submission #{lead.id}" in waiting
    assert "  release: held at " in waiting and "; still waiting" in waiting
    [held] = show_json(env, f"receipt:{webhook.id}")["bookings"]
    assert (held["release"]["state"], held["release"]["released_at"]) == ("held", None)

    assert beacon(booking_client, "calendly", BOOKING, "evt-pixel-1").status_code == 200
    run_jobs(ctx)
    drain(ctx)  # the release the join queued
    beacon_receipt = receipts(ctx)[1]

    text = show(env, "evt-pixel-1")
    assert f"  beacon: joined (receipt #{beacon_receipt.id} at " in text
    assert "event_id evt-pixel-1" in text
    assert "with the beacon's event_id evt-pixel-1" in text

    [booking] = show_json(env, "evt-pixel-1")["bookings"]
    assert {k: booking[k] for k in ("provider", "key_field", "booking_key", "status", "event_id")} == {
        "provider": "calendly",
        "key_field": "invitee_uri",
        "booking_key": INVITEE,
        "status": "scheduled",
        "event_id": "evt-pixel-1",
    }
    assert booking["beacon_joined"] is True
    assert (booking["beacon_receipt_id"], booking["webhook_receipt_id"], booking["submission_id"]) == (
        beacon_receipt.id,
        webhook.id,
        lead.id,
    )
    release = booking["release"]
    assert (release["state"], release["released_with"], release["event_id"]) == (
        "released",
        "beacon",
        "evt-pixel-1",
    )
    held_at, released_at = (datetime.fromisoformat(release[k]) for k in ("held_at", "released_at"))
    assert held_at <= released_at
    assert datetime.fromisoformat(release["release_due"]) - held_at == timedelta(seconds=GRACE)


def test_a_booking_released_without_its_beacon_is_found_by_the_derived_id(booking_client, ctx, env):
    assert calendly(booking_client, "calendly_invitee_created.json").status_code == 200
    run_jobs(ctx)
    [lead] = submissions(ctx)
    assert release_booking(lead.id) == "released"  # what the grace timer runs
    [conversion] = conversions(ctx)
    derived = conversion.event_id

    [booking] = show_json(env, derived)["bookings"]
    assert booking["submission_id"] == lead.id and booking["beacon_joined"] is False
    assert booking["release"]["state"] == "released"
    assert (booking["release"]["released_with"], booking["release"]["event_id"]) == ("derived_id", derived)
    assert f"without a beacon, derived id {derived}" in show(env, derived)
    assert [s["id"] for s in show_json(env, derived)["submissions"]] == [lead.id]  # the lead itself too

    assert beacon(booking_client, "calendly", BOOKING, "evt-pixel-late").status_code == 200
    run_jobs(ctx)
    [late] = show_json(env, "evt-pixel-late")["bookings"]
    assert (late["event_id"], late["beacon_joined"]) == ("evt-pixel-late", True)
    assert late["release"]["event_id"] == derived, "the conversion had left under the derived id"


def test_a_beacon_first_booking_is_never_held(booking_client, ctx, env):
    assert beacon(booking_client, "calendly", BOOKING, "evt-pixel-2").status_code == 200
    run_jobs(ctx)
    alone = show(env, "evt-pixel-2")
    assert f"Booking calendly invitee_uri {INVITEE}: pending" in alone
    assert "  beacon: received, waiting for the webhook" in alone
    assert "  webhook:" not in alone and "  release:" not in alone

    assert calendly(booking_client, "calendly_invitee_created.json").status_code == 200
    assert calendly(booking_client, "calendly_invitee_canceled.json").status_code == 200
    run_jobs(ctx)
    [booking] = show_json(env, "evt-pixel-2")["bookings"]
    assert booking["beacon_joined"] is True and booking["status"] == "canceled"
    assert booking["release"] == {
        "state": "not_held",
        "held_at": None,
        "release_due": None,
        "released_at": None,
        "released_with": None,
        "event_id": "evt-pixel-2",
    }
    text = show(env, "evt-pixel-2")
    assert "  release: not held; conversion and CRM write recorded at once (event_id evt-pixel-2)" in text
    assert "  canceled at " in text and "Found another slot" in text
