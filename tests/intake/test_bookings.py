"""Calendly and Cal.com bookings: one lead each, joined with the browser beacon in either arrival order."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from connector.config import CollectSettings, SourceSettings
from tests.intake.helpers import (
    JSON,
    SECRET,
    bookings,
    cal_signature,
    fixture,
    receipts,
    run_jobs,
    stripe_style,
    submissions,
    use_secrets,
)

ORIGIN = "https://example.com"
INVITEE = "https://api.calendly.com/scheduled_events/EVT-1/invitees/INV-1"
PAGE_ATTRIBUTION = {
    "first_utm_source": "chatgpt.com",
    "first_utm_medium": "referral",
    "first_channel": "ai_assistant",
    "first_ai_source": "chatgpt",
    "latest_utm_source": "chatgpt.com",
    "oppref": "op/+ref==",
    "first_landing_page": "https://example.com/?utm_source=chatgpt.com",
}


@pytest.fixture
def booking_client(client, ctx):  # type: ignore[no-untyped-def]
    use_secrets(client)
    ctx.settings = replace(ctx.settings, collect=CollectSettings(allowed_origins=[ORIGIN]))
    return client


def calendly(client, name: str):  # type: ignore[no-untyped-def]
    body = fixture(name)
    headers = {"Content-Type": JSON, "Calendly-Webhook-Signature": stripe_style(SECRET, body, "v1")}
    return client.post("/webhooks/booking/calendly", data=body, headers=headers)


def cal_com(client, name: str):  # type: ignore[no-untyped-def]
    body = fixture(name)
    headers = {"Content-Type": JSON, "X-Cal-Signature-256": cal_signature(SECRET, body)}
    return client.post("/webhooks/booking/cal_com", data=body, headers=headers)


def beacon(client, provider: str, booking: dict, event_id: str):  # type: ignore[no-untyped-def]
    body = {
        "v": 1,
        "type": "booking",
        "event_id": event_id,
        "provider": provider,
        "booking": booking,
        "attribution": {**PAGE_ATTRIBUTION, "event_id": event_id},
        "page": "https://example.com/book/",
        "ts": "2026-11-20T10:10:01Z",
    }
    return client.post(
        "/collect", data=json.dumps(body), headers={"Content-Type": "text/plain", "Origin": ORIGIN}
    )


@pytest.mark.parametrize("beacon_first", [True, False], ids=["beacon-first", "webhook-first"])
def test_calendly_webhook_and_beacon_join_in_either_order(booking_client, ctx, beacon_first):
    booking = {"invitee_uri": INVITEE, "event_uri": "https://api.calendly.com/scheduled_events/EVT-1"}
    if beacon_first:
        assert beacon(booking_client, "calendly", booking, "evt-book-1").status_code == 200
        run_jobs(ctx)
    assert calendly(booking_client, "calendly_invitee_created.json").status_code == 200
    run_jobs(ctx)
    if not beacon_first:
        assert beacon(booking_client, "calendly", booking, "evt-book-1").status_code == 200
        run_jobs(ctx)
    [lead] = submissions(ctx)
    assert lead.kind == "booking" and lead.source == "calendly"
    assert lead.email == "alan@example.com"
    assert lead.contact == {
        "email": "alan@example.com",
        "name": "Alan Turing",
        "phone": "+44 20 7946 0000",
        "company": "Bletchley Labs",
    }
    assert lead.event_id == "evt-book-1"
    assert lead.attribution["oppref"] == "op/+ref==", "the page's capture joins the booking"
    assert lead.attribution["first_channel"] == "ai_assistant"
    assert lead.attribution["latest_utm_campaign"] == "winter", "Calendly's tracking UTMs are kept"
    [row] = bookings(ctx)
    assert (row.status, row.event_id, row.submission_id) == ("scheduled", "evt-book-1", lead.id)
    webhook_receipt = next(r for r in receipts(ctx) if r.source == "calendly")
    assert webhook_receipt.event_id == "evt-book-1", "events show finds the webhook by the beacon's event_id"


def test_calendly_reschedule_keeps_one_lead_and_cancellation_is_recorded(booking_client, ctx):
    assert calendly(booking_client, "calendly_invitee_created.json").status_code == 200
    run_jobs(ctx)
    assert calendly(booking_client, "calendly_invitee_canceled_rescheduled.json").status_code == 200
    assert calendly(booking_client, "calendly_invitee_created_rescheduled.json").status_code == 200
    assert run_jobs(ctx) == ["processed", "processed"]
    [lead] = submissions(ctx)
    assert lead.meta["rescheduled"] is True
    old, new = bookings(ctx)
    assert (old.status, old.rescheduled_to) == ("rescheduled", new.booking_key)
    assert (new.status, new.submission_id) == ("scheduled", lead.id)


def test_calendly_cancellation_is_recorded_on_the_booking_and_the_lead(booking_client, ctx):
    calendly(booking_client, "calendly_invitee_created.json")
    calendly(booking_client, "calendly_invitee_canceled.json")
    run_jobs(ctx)
    [lead] = submissions(ctx)
    [row] = bookings(ctx)
    assert row.status == "canceled" and row.cancel_reason == "Found another slot – sorry!"
    assert lead.meta["booking_status"] == "canceled"


def test_calendly_redelivery_is_a_duplicate(booking_client, ctx):
    assert calendly(booking_client, "calendly_invitee_created.json").get_json()["status"] == "accepted"
    assert calendly(booking_client, "calendly_invitee_created.json").get_json()["status"] == "duplicate"
    assert len(receipts(ctx)) == 1


def test_disabled_calendly_answers_410_so_calendly_deletes_the_subscription(booking_client, ctx):
    ctx.settings.sources["calendly"] = SourceSettings(enabled=False)
    ctx.settings.sources["cal_com"] = SourceSettings(enabled=False)
    try:
        gone = calendly(booking_client, "calendly_invitee_created.json")
        not_found = cal_com(booking_client, "cal_com_booking_created.json")
    finally:
        ctx.settings.sources.pop("calendly")
        ctx.settings.sources.pop("cal_com")
    assert gone.status_code == 410 and "disabled" in gone.get_json()["error"]
    assert not_found.status_code == 404, "Cal.com does not document 410"
    assert receipts(ctx) == []


@pytest.mark.parametrize("beacon_first", [True, False], ids=["beacon-first", "webhook-first"])
def test_cal_com_booking_joins_its_beacon(booking_client, ctx, beacon_first):
    if beacon_first:
        beacon(booking_client, "cal_com", {"uid": "bK3xq9Zr7sT2"}, "evt-cal-1017")
        run_jobs(ctx)
    assert cal_com(booking_client, "cal_com_booking_created.json").status_code == 200
    run_jobs(ctx)
    if not beacon_first:
        beacon(booking_client, "cal_com", {"uid": "bK3xq9Zr7sT2"}, "evt-cal-1017")
        run_jobs(ctx)
    [lead] = submissions(ctx)
    assert lead.email == "barbara@example.edu" and lead.contact["company"] == "MIT"
    assert lead.event_id == "evt-cal-1017", "metadata[event_id] from the embed"
    assert lead.attribution["latest_utm_source"] == "chatgpt.com"
    assert lead.attribution["latest_utm_medium"] == "referral"
    assert lead.attribution["oppref"] == "op/+ref=="
    assert lead.form_id == "42"
    assert receipts(ctx)[0].delivery_key in ("BOOKING_CREATED:bK3xq9Zr7sT2", "booking:cal_com:bK3xq9Zr7sT2")


def test_cal_com_reschedule_and_cancel(booking_client, ctx):
    cal_com(booking_client, "cal_com_booking_created.json")
    run_jobs(ctx)
    cal_com(booking_client, "cal_com_booking_rescheduled.json")
    run_jobs(ctx)
    cal_com(booking_client, "cal_com_booking_cancelled.json")
    run_jobs(ctx)
    [lead] = submissions(ctx)
    old, new = bookings(ctx)
    assert old.status == "rescheduled" and old.rescheduled_to == "nEw8uid9Rs"
    assert new.status == "canceled" and new.cancel_reason == "Conflict"
    assert new.submission_id == lead.id and lead.meta["booking_status"] == "canceled"


def test_cal_com_requested_then_created_is_one_lead(booking_client, ctx):
    created = json.loads(fixture("cal_com_booking_created.json"))
    for trigger in ("BOOKING_REQUESTED", "BOOKING_CREATED"):
        body = json.dumps({**created, "triggerEvent": trigger}).encode()
        headers = {"Content-Type": JSON, "X-Cal-Signature-256": cal_signature(SECRET, body)}
        assert booking_client.post("/webhooks/booking/cal_com", data=body, headers=headers).status_code == 200
    run_jobs(ctx)
    assert len(submissions(ctx)) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"payload": {}}, "event: expected one of"),
        ({"event": "invitee.created", "payload": "x"}, "payload: expected an object"),
        ({"event": "invitee.created", "payload": {"email": "a@b.c"}}, "payload.uri"),
    ],
)
def test_calendly_bad_payloads_get_400(booking_client, ctx, body, message):
    raw = json.dumps(body).encode()
    headers = {"Content-Type": JSON, "Calendly-Webhook-Signature": stripe_style(SECRET, raw, "v1")}
    response = booking_client.post("/webhooks/booking/calendly", data=raw, headers=headers)
    assert response.status_code == 400 and message in response.get_json()["error"]


def test_beacon_and_webhook_processed_at_the_same_time_still_join(booking_client, ctx):
    """Two workers take the beacon and the webhook at once: the row lock makes the second complete the join."""
    import threading

    from connector import context
    from connector.jobs.receipts import process_receipt

    created = json.loads(fixture("calendly_invitee_created.json"))
    rounds = 6
    for i in range(rounds):
        uri = f"{INVITEE}-{i}"
        body = json.dumps({**created, "payload": {**created["payload"], "uri": uri}}).encode()
        headers = {"Content-Type": JSON, "Calendly-Webhook-Signature": stripe_style(SECRET, body, "v1")}
        assert (
            booking_client.post("/webhooks/booking/calendly", data=body, headers=headers).status_code == 200
        )
        assert beacon(booking_client, "calendly", {"invitee_uri": uri}, f"evt-race-{i}").status_code == 200
    context.install(ctx)
    pending = [r.id for r in receipts(ctx) if r.status == "received"]
    for webhook_id, beacon_id in zip(pending[0::2], pending[1::2], strict=True):
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def work(receipt_id: int, barrier=barrier, outcomes=outcomes) -> None:  # type: ignore[no-untyped-def]
            barrier.wait()
            outcomes.append(process_receipt(receipt_id))

        threads = [threading.Thread(target=work, args=(rid,)) for rid in (webhook_id, beacon_id)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes == ["processed", "processed"]
    leads = submissions(ctx)
    assert len(leads) == rounds
    assert sorted(lead.event_id for lead in leads) == sorted(f"evt-race-{i}" for i in range(rounds))
    assert all(lead.attribution["oppref"] == "op/+ref==" for lead in leads)


def test_events_we_do_not_act_on_are_acknowledged_not_stored(booking_client, ctx):
    """A 4xx would make Calendly retry for a day and disable the subscription; Cal.com's test button sends PING."""
    raw = json.dumps({"event": "invitee_no_show.created", "payload": {"uri": "x"}}).encode()
    headers = {"Content-Type": JSON, "Calendly-Webhook-Signature": stripe_style(SECRET, raw, "v1")}
    response = booking_client.post("/webhooks/booking/calendly", data=raw, headers=headers)
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    ping = json.dumps({"triggerEvent": "PING", "createdAt": "2026-11-20T10:00:00Z", "payload": {}}).encode()
    headers = {"Content-Type": JSON, "X-Cal-Signature-256": cal_signature(SECRET, ping)}
    response = booking_client.post("/webhooks/booking/cal_com", data=ping, headers=headers)
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert receipts(ctx) == []


def test_ignored_events_still_need_credentials(booking_client, ctx):
    ping = json.dumps({"triggerEvent": "PING", "payload": {}}).encode()
    headers = {"Content-Type": JSON, "X-Cal-Signature-256": "00"}
    assert booking_client.post("/webhooks/booking/cal_com", data=ping, headers=headers).status_code == 401


def test_cancellation_processed_before_its_booking_marks_the_lead(booking_client, ctx):
    calendly(booking_client, "calendly_invitee_canceled.json")
    run_jobs(ctx)
    calendly(booking_client, "calendly_invitee_created.json")
    run_jobs(ctx)
    [lead] = submissions(ctx)
    [row] = bookings(ctx)
    assert row.status == "canceled" and lead.meta["booking_status"] == "canceled"


def test_first_party_cookie_keeps_the_first_touch_a_later_beacon_forgot(booking_client, ctx):
    """Safari dropped the script's cookie: the booking beacon claims a new first touch; the server knows better."""
    ctx.settings = replace(ctx.settings, collect=CollectSettings(allowed_origins=[ORIGIN], cookie=True))
    first_visit = {
        "v": 1,
        "type": "touch",
        "event_id": "evt-visit-1",
        "attribution": {
            "first_utm_source": "perplexity",
            "first_channel": "ai_assistant",
            "first_ai_source": "perplexity",
        },
    }
    answer = booking_client.post(
        "/collect", data=json.dumps(first_visit), headers={"Content-Type": "text/plain", "Origin": ORIGIN}
    )
    visitor = answer.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]
    booking_client.set_cookie("_attr_id", visitor, domain="localhost")
    run_jobs(ctx)
    assert beacon(booking_client, "calendly", {"invitee_uri": INVITEE}, "evt-book-9").status_code == 200
    calendly(booking_client, "calendly_invitee_created.json")
    run_jobs(ctx)
    [lead] = submissions(ctx)
    assert lead.event_id == "evt-book-9"
    assert lead.attribution["first_utm_source"] == "perplexity", "the remembered first touch wins"
    assert lead.attribution["first_ai_source"] == "perplexity"
    assert "first_landing_page" not in lead.attribution, "first-touch fields come from one touch only"
    assert lead.attribution["oppref"] == "op/+ref==", "the rest of the page's capture is kept"
