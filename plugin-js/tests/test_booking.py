"""Calendly and Cal.com: UTMs (and our event_id) carried into links and iframes, bookings linked back."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

CFG = {"consent": "optional", "pixelId": "px_1", "endpoint": "https://connector.example.test/"}
QUERY = "utm_source=chatgpt.com&utm_medium=referral&utm_campaign=q4%20launch&oppref=OPB"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CALENDLY_MSG = {
    "event": "calendly.event_scheduled",
    "payload": {
        "event": {"uri": "https://api.calendly.com/scheduled_events/EV1"},
        "invitee": {"uri": "https://api.calendly.com/scheduled_events/EV1/invitees/INV1"},
    },
}
CAL_MSG = {
    "originator": "CAL",
    "type": "bookingSuccessfulV2",
    "namespace": "",
    "fullType": "CAL::bookingSuccessfulV2",
    "data": {"uid": "bk_123", "title": "Demo", "startTime": "2026-12-01T10:00:00Z", "status": "ACCEPTED"},
}


def open_booking(harness):
    page = harness.open("booking.html", QUERY, CFG)
    page.wait_for_selector("#evil-frame", state="attached")
    # links are decorated once dist/booking.js has arrived
    page.wait_for_function("document.querySelector('#cal-link').href.includes('metadata')")
    return page


def test_links_and_later_inserted_iframes_carry_utms_and_cal_event_id(harness):
    page = open_booking(harness)
    q = parse_qs(urlsplit(page.get_attribute("#calendly-link", "href")).query)
    assert (
        q["utm_source"] == ["chatgpt.com"]
        and q["utm_campaign"] == ["q4 launch"]
        and "metadata[event_id]" not in q
    )
    cal = parse_qs(urlsplit(page.get_attribute("#cal-link", "href")).query)
    assert cal["month"] == ["2026-12"] and cal["utm_medium"] == ["referral"]
    booking_id = cal["metadata[event_id]"][0]
    assert page.get_attribute("#other-link", "href") == "https://example.org/page"
    harness.booking_frame(page, "calendly-frame")
    harness.booking_frame(page, "cal-frame")
    loaded = {urlsplit(u).hostname: parse_qs(urlsplit(u).query) for u in harness.frames_loaded}
    assert loaded["calendly.com"]["utm_source"] == ["chatgpt.com"] and loaded["calendly.com"][
        "embed_type"
    ] == ["Inline"]
    assert loaded["app.cal.com"]["metadata[event_id]"] == [booking_id]
    assert "utm_source" not in loaded["evil.test"]


def test_a_calendly_inline_widget_loads_once_with_the_utms(harness):
    """The widget's data-url is decorated before Calendly's script builds the iframe from it: one load."""
    page = open_booking(harness)
    assert "utm_source=chatgpt.com" in page.get_attribute("#calendly-inline", "data-url")
    harness.booking_frame(page, "calendly-frame")
    page.wait_for_timeout(300)  # a second navigation, if any, would be served by now
    calendly = [u for u in harness.frames_loaded if urlsplit(u).hostname == "calendly.com"]
    assert len(calendly) == 1 and "utm_source=chatgpt.com" in calendly[0], calendly


def test_a_cal_com_inline_embed_loads_once_with_the_utms_and_our_event_id(harness):
    """The snippet's queued embed config is decorated before embed.js builds the iframe from it: one load."""
    page = harness.open("booking-cal.html", QUERY, CFG)
    page.wait_for_selector("#cal-inline-frame", state="attached")
    page.wait_for_timeout(300)  # a second navigation, if any, would be served by now
    cal = [u for u in harness.frames_loaded if urlsplit(u).hostname == "app.cal.com"]
    assert len(cal) == 1, cal
    q = parse_qs(urlsplit(cal[0]).query)
    assert q["layout"] == ["month_view"] and q["utm_source"] == ["chatgpt.com"]
    assert UUID.match(q["metadata[event_id]"][0])
    # a click-to-open embed reads data-cal-config when clicked: it carries them too; a broken one is left alone
    config = json.loads(page.get_attribute("#cal-button", "data-cal-config"))
    assert config["layout"] == "month_view" and config["utm_campaign"] == "q4 launch"
    assert config["metadata[event_id]"] == q["metadata[event_id]"][0]
    assert page.get_attribute("#cal-broken", "data-cal-config") == "not json"


def test_calendly_booking_fires_pixel_and_beacon_with_one_fresh_event_id(harness):
    page = open_booking(harness)
    harness.booking_frame(page, "calendly-frame").evaluate("msg => book(msg)", CALENDLY_MSG)
    page.wait_for_function("window.__oaiq && window.__oaiq.length === 2")
    harness.wait_for_beacons(page)
    page.wait_for_timeout(200)  # room for a duplicate to show up
    assert len(harness.beacons) == 1
    beacon, request = harness.beacons[0], harness.beacon_requests[0]
    measure = harness.pixel_calls(page)[1]
    assert measure[:3] == ["measure", "appointment_scheduled", {"type": "customer_action"}]
    assert measure[3]["event_id"] == beacon["event_id"] == beacon["attribution"]["event_id"]
    assert request.url == "https://connector.example.test/collect" and request.method == "POST"
    assert request.headers["content-type"] == "text/plain"
    assert beacon["v"] == 1 and beacon["type"] == "booking" and beacon["provider"] == "calendly"
    assert beacon["booking"] == {
        "invitee_uri": "https://api.calendly.com/scheduled_events/EV1/invitees/INV1",
        "event_uri": "https://api.calendly.com/scheduled_events/EV1",
    }
    assert (
        beacon["attribution"]["oppref"] == "OPB"
        and beacon["attribution"]["latest_utm_source"] == "chatgpt.com"
    )
    assert beacon["page"].endswith("booking.html?" + QUERY) and beacon["ts"].endswith("Z")


def test_cal_com_booking_uses_the_event_id_it_carried_in_metadata(harness):
    page = open_booking(harness)
    sent_id = parse_qs(urlsplit(page.get_attribute("#cal-link", "href")).query)["metadata[event_id]"][0]
    f = harness.booking_frame(page, "cal-frame")
    f.evaluate("msg => book(msg)", CAL_MSG)
    f.evaluate("msg => book(msg)", {**CAL_MSG, "data": {"uid": "bk_456"}})
    page.wait_for_function("window.__oaiq && window.__oaiq.length === 3")
    harness.wait_for_beacons(page, 2)
    page.wait_for_timeout(200)  # room for a duplicate to show up
    assert [b["booking"] for b in harness.beacons] == [{"uid": "bk_123"}, {"uid": "bk_456"}]
    assert harness.beacons[0]["event_id"] == sent_id and harness.beacons[0]["provider"] == "cal_com"
    assert harness.beacons[1]["event_id"] != sent_id  # a second booking gets its own id
    assert [c[3]["event_id"] for c in harness.pixel_calls(page)[1:]] == [
        b["event_id"] for b in harness.beacons
    ]


def test_messages_from_other_origins_are_ignored(harness):
    page = open_booking(harness)
    evil = harness.booking_frame(page, "evil-frame")
    evil.evaluate("msg => book(msg)", CALENDLY_MSG)
    evil.evaluate("msg => book(msg)", CAL_MSG)
    page.evaluate("msg => window.postMessage(msg, '*')", CALENDLY_MSG)  # same-origin page script
    page.wait_for_timeout(300)
    assert harness.beacons == [] and [c[0] for c in harness.pixel_calls(page)] == ["init"]


def test_beacon_without_consent_carries_consent_state_and_no_pixel(harness):
    page = harness.open("booking.html", QUERY, {**CFG, "consent": "required"})
    frame = harness.booking_frame(page, "calendly-frame", decorated=False)
    assert "utm_" not in frame.url  # before consent no UTM leaves the page, not even to the booking widget
    frame.evaluate("msg => book(msg)", CALENDLY_MSG)
    harness.wait_for_beacons(page)
    assert harness.loader_requests == 0
    attribution = harness.beacons[0]["attribution"]
    assert attribution["consent"] == "unknown"
    # at most the conversion page without its query string: no UTM, click id or referrer
    assert not any(k.startswith(("first_", "latest_")) or k == "oppref" for k in attribution)
    assert "?" not in attribution["conversion_page"]
