"""A booking webhook that beats its beacon holds its conversion and CRM write for the pixel's event_id."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from connector import context
from connector.config import CollectSettings, load_settings
from connector.jobs.bookings import release_booking
from connector.store.models import Conversion, JournalEntry
from tests.intake.helpers import run_jobs, submissions
from tests.intake.test_bookings import INVITEE, ORIGIN, beacon, calendly

BOOKING = {"invitee_uri": INVITEE, "event_uri": "https://api.calendly.com/scheduled_events/EVT-1"}
CONVERSIONS_ENV = {
    "CONNECTOR_CONVERSIONS__ENABLED": "true",
    "CONNECTOR_CONVERSIONS__REQUIRE_CONSENT": "false",
    "CONNECTOR_CONVERSIONS__ENDPOINT": "http://127.0.0.1:9/v1/events",  # nothing listens: sends stay pending
    "CONNECTOR_CONVERSIONS__PIXELS__MAIN__PIXEL_ID": "px_main",
}


@pytest.fixture
def env(env):  # type: ignore[no-untyped-def]
    env.update(CONVERSIONS_ENV)
    return env


def install_booking_client(client, ctx, env, grace: int = 60):  # type: ignore[no-untyped-def]
    """The test client, with the beacon origin allowed and `grace` seconds for a held booking."""
    from tests.intake.helpers import use_secrets

    use_secrets(client)
    settings = load_settings(environ=env)
    ctx.settings = replace(
        settings, collect=CollectSettings(allowed_origins=[ORIGIN], join_grace_seconds=grace)
    )
    context.install(ctx)
    return client


@pytest.fixture
def booking_client(client, ctx, env):  # type: ignore[no-untyped-def]
    return install_booking_client(client, ctx, env)


def conversions(ctx) -> list[Conversion]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return list(session.scalars(select(Conversion).order_by(Conversion.id)))


def drain(ctx) -> None:  # type: ignore[no-untyped-def]
    """Run what is queued now with a real RQ worker in this process."""
    SimpleWorker([ctx.queue], connection=ctx.redis).work(burst=True)


def test_webhook_before_beacon_waits_and_sends_the_pixels_event_id(booking_client, ctx):
    assert calendly(booking_client, "calendly_invitee_created.json").status_code == 200
    run_jobs(ctx)
    [lead] = submissions(ctx)
    assert lead.held_since is not None
    assert conversions(ctx) == [], "nothing is sent under a derived id while the beacon may still come"
    scheduled = ScheduledJobRegistry(queue=ctx.queue).get_job_ids()
    assert len(scheduled) == 1, "the grace timer is set"

    assert beacon(booking_client, "calendly", BOOKING, "evt-pixel-1").status_code == 200
    run_jobs(ctx)
    drain(ctx)  # the beacon's join queued the release at once

    [conversion] = conversions(ctx)
    assert conversion.event_id == "evt-pixel-1", "same id as the pixel's appointment_scheduled"
    assert conversion.event_type == "appointment_scheduled"
    assert release_booking(lead.id) == "released already", "the grace timer firing later changes nothing"
    assert len(conversions(ctx)) == 1
    with ctx.sessions() as session:
        messages = session.scalars(select(JournalEntry.message).order_by(JournalEntry.id)).all()
    assert any("held up to 60s" in m for m in messages)
    assert any("released with the beacon's event_id evt-pixel-1" in m for m in messages)


def test_no_beacon_within_the_grace_sends_under_the_derived_id_once(booking_client, ctx):
    assert calendly(booking_client, "calendly_invitee_created.json").status_code == 200
    run_jobs(ctx)
    [lead] = submissions(ctx)
    assert release_booking(lead.id) == "released"  # what the grace timer runs
    [conversion] = conversions(ctx)
    assert conversion.event_id and conversion.event_id != "evt-pixel-late"

    assert beacon(booking_client, "calendly", BOOKING, "evt-pixel-late").status_code == 200
    run_jobs(ctx)
    drain(ctx)
    assert [c.event_id for c in conversions(ctx)] == [conversion.event_id], (
        "a late beacon never adds a second"
    )


def test_beacon_first_sends_at_once(booking_client, ctx):
    assert beacon(booking_client, "calendly", BOOKING, "evt-pixel-2").status_code == 200
    run_jobs(ctx)
    assert calendly(booking_client, "calendly_invitee_created.json").status_code == 200
    run_jobs(ctx)
    [lead] = submissions(ctx)
    assert lead.held_since is None, "never held"
    assert [c.event_id for c in conversions(ctx)] == ["evt-pixel-2"]


def test_sweeper_releases_a_hold_whose_timer_was_lost(booking_client, ctx):
    from datetime import timedelta

    from sqlalchemy import update

    from connector.jobs.bookings import held_bookings
    from connector.store.models import Submission
    from connector.timeutil import utcnow

    assert calendly(booking_client, "calendly_invitee_created.json").status_code == 200
    run_jobs(ctx)
    [lead] = submissions(ctx)
    assert held_bookings(ctx) == [], "still within its grace"
    with ctx.sessions.begin() as session:
        session.execute(
            update(Submission)
            .where(Submission.id == lead.id)
            .values(held_since=utcnow() - timedelta(hours=1))
        )
    assert held_bookings(ctx) == [lead.id]
