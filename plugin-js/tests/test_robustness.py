"""Hostile values, storage disabled, the public API and its pre-load queue, data-* configuration."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

OPT = {"consent": "optional", "endpoint": "https://connector.example.test", "pixelId": "px_h"}
HOSTILE = '<script>window.__pwned=1</script>"\'><img src=x onerror="window.__pwned=2">' + "A" * 10_000
DISABLE_STORAGE = """
Object.defineProperty(window, 'localStorage', {get() { throw new DOMException('denied', 'SecurityError'); }});
Object.defineProperty(Document.prototype, 'cookie', {
  get() { throw new DOMException('denied', 'SecurityError'); },
  set(v) { throw new DOMException('denied', 'SecurityError'); }});
"""


def serve_long_urls(harness, name):
    """http.server refuses request lines over 64 KB: serve this page's long URLs from the file directly."""
    path = Path(__file__).parent / "pages" / name
    harness.context.route(
        lambda url: f"/tests/pages/{name}?" in url, lambda route: route.fulfill(path=str(path))
    )


def test_hostile_values_in_every_parameter_are_inert_and_bounded(harness):
    names = [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
        "utm_id",
        "oppref",
        "gclid",
        "gbraid",
        "wbraid",
        "fbclid",
        "msclkid",
        "ttclid",
        "li_fat_id",
    ]
    query = "&".join(f"{n}={quote(HOSTILE)}" for n in names)
    serve_long_urls(harness, "landing.html")
    page = harness.open("landing.html", query, OPT, referrer="https://evil.test/" + quote(HOSTILE))
    page.wait_for_timeout(100)
    assert page.evaluate("window.__pwned") is None
    assert page.eval_on_selector_all("img, script:not([src])", "e => e.length") == 1  # only the page's own
    got = page.evaluate("attribution('get')")
    assert got["first_utm_campaign"] == HOSTILE[:2048]  # decoded, kept as text, cut to the server's limit
    assert got["gclid"] == quote(HOSTILE)[:2048]  # click ids kept as they appear in the URL
    assert page.input_value("[type=hidden][name=latest_utm_term]") == HOSTILE[:2048]
    stored = page.evaluate("localStorage._attr")
    assert json.loads(stored)["l"]["utm_source"] == HOSTILE[:2048]
    cookie = next(c for c in harness.context.cookies() if c["name"] == "_attr")
    assert len(cookie["value"]) < 4000
    page.click("#send")
    assert page.evaluate("window.__submitted[0].utm_medium === undefined")
    # a booking beacon with the same values stays under 4 KB
    page.evaluate(
        """window.postMessage({event: 'calendly.event_scheduled',
            payload: {event: {uri: 'u'}, invitee: {uri: 'i'}}}, '*')"""
    )
    page.wait_for_timeout(200)
    assert harness.beacons == []  # a same-origin forgery is ignored...
    page.evaluate("attribution('fill')")
    assert page.evaluate("window.__pwned") is None


def test_beacon_stays_under_4_kb_with_hostile_values(harness):
    # click ids stay out of the booking iframe's URL, so the stand-in frame loads quickly
    query = "utm_source=%3Cscript%3E&" + "&".join(
        f"{n}={quote(HOSTILE)}" for n in ["oppref", "gclid", "msclkid", "ttclid", "li_fat_id"]
    )
    serve_long_urls(harness, "booking.html")
    page = harness.open("booking.html", query, OPT)
    page.wait_for_function("document.querySelector('#calendly-frame') !== null")
    f = harness.booking_frame(page, "calendly-frame")
    f.evaluate("""book({event: 'calendly.event_scheduled', payload: {event: {uri: 'https://api.calendly.com/scheduled_events/E'},
                 invitee: {uri: 'https://api.calendly.com/scheduled_events/E/invitees/I'}}})""")
    harness.wait_for_beacons(page)
    body = harness.beacon_requests[0].post_data
    assert len(body.encode()) < 4096
    beacon = json.loads(body)
    assert beacon["booking"]["invitee_uri"].endswith("/invitees/I") and len(beacon["event_id"]) == 36
    assert beacon["attribution"]["latest_utm_source"].startswith("<script>")


def test_storage_disabled_degrades_to_the_current_page(harness):
    page = harness.open("landing.html", "utm_source=perplexity&oppref=NOSTORE", OPT, init=DISABLE_STORAGE)
    got = page.evaluate("attribution('get')")
    assert got["first_utm_source"] == "perplexity" and got["oppref"] == "NOSTORE"
    assert page.input_value("[type=hidden][name=oppref]") == "NOSTORE"
    page.click("#send")
    assert page.evaluate("window.__submitted[0].oppref") == "NOSTORE"
    page.evaluate("attribution('consent', false)")  # clearing with no storage must not throw either


def test_crypto_random_uuid_missing_falls_back(harness):
    page = harness.open("landing.html", "", OPT, init="delete Crypto.prototype.randomUUID;")
    page.click("#send")  # each submission succeeds at once: a new id after each
    page.click("#send")
    ids = set(page.evaluate("window.__submitted.map(s => s.event_id)")) | {
        page.input_value("[name=event_id]")
    }
    assert len(ids) == 3 and all(len(i) == 36 and i.count("-") == 4 for i in ids)


def test_pre_load_queue_and_data_attributes(harness):
    page = harness.context.new_page()
    logs = []
    page.on("console", lambda m: logs.append(m.text))
    page = harness.open("queue.html", "utm_source=chatgpt.com", page=page)
    early = page.evaluate("window.__early")
    assert early["consent"] == "granted" and early["latest_utm_source"] == "chatgpt.com"
    assert page.input_value("[name=src]") == "chatgpt.com"  # data-fields mapping
    page.wait_for_function("window.__oaiq && window.__oaiq.length === 1")
    assert harness.pixel_calls(page)[0] == ["init", {"pixelId": "px_attr", "debug": False}]
    page.click("#f button")
    page.wait_for_function("window.__oaiq.length === 2")
    assert harness.pixel_calls(page)[1][1] == "registration_completed"
    assert any(line.startswith("[attribution]") for line in logs)  # data-debug
    assert page.evaluate("typeof attribution('get')") == "object"
    assert not page.evaluate("attribution('nonsense', 1)")


def test_loading_the_script_twice_runs_it_once(harness):
    page = harness.open("landing.html", "", {**OPT})
    page.evaluate("""() => new Promise(r => { const s = document.createElement('script');
        s.src = '/dist/attribution.js'; s.onload = r; document.body.appendChild(s); })""")
    page.click("#send")
    page.wait_for_function("window.__oaiq && window.__oaiq.length === 2")
    page.wait_for_timeout(100)
    assert [c[0] for c in harness.pixel_calls(page)] == ["init", "measure"]


@pytest.mark.parametrize("root_domain", [None, "example.test"])
def test_a_landing_page_too_long_for_the_cookie_stays_whole_in_local_storage(harness, root_domain):
    """The cookie mirror cuts long strings to fit 4 KB; the next page still reads the whole values (with a root
    domain the cookie is read too: on a tie localStorage's copy wins)."""
    query = "utm_source=newsletter&utm_campaign=" + "c" * 1500 + "&q=" + "x" * 1500
    serve_long_urls(harness, "landing.html")
    page = harness.open("landing.html", query, {**OPT, "rootDomain": root_domain})
    whole = page.evaluate("attribution('get').latest_landing_page")
    assert len(whole) == 2048  # cut to the server's limit only
    cookie = next(c for c in harness.context.cookies() if c["name"] == "_attr")
    assert len(cookie["value"]) < 4000
    page.click("#next")
    page.wait_for_url("**/second.html")
    page.wait_for_function("window.attribution && window.attribution.loaded")
    got = page.evaluate("attribution('get')")
    assert got["latest_landing_page"] == got["first_landing_page"] == whole
    assert json.loads(page.evaluate("localStorage._attr"))["l"]["landing_page"] == whole


def test_the_cookie_keeps_the_attribution_without_local_storage(harness):
    """Safari's 7-day cap, a cleared localStorage: the cookie holds the whole attribution (localStorage only what
    the cookie had to cut), and a page that never opens localStorage keeps it."""
    harness.open("landing.html", "utm_source=perplexity&oppref=KEEP", OPT)
    page = harness.open("second.html", "", OPT, init="localStorage.clear();")
    got = page.evaluate("attribution('get')")
    assert got["first_utm_source"] == "perplexity" and got["oppref"] == "KEEP"
    assert got["first_channel"] == "openai_ads"  # oppref wins over the UTM
    cookie = next(c for c in harness.context.cookies() if c["name"] == "_attr")
    assert json.loads(unquote(cookie["value"]))["f"]["utm_source"] == "perplexity"  # stored again
    assert page.evaluate("localStorage.length") == 0


def test_the_script_and_its_parts_add_no_global_but_their_own(harness):
    """A one-letter global (window.e, window.t) would collide with the site's own scripts."""
    before = "window.__globals = Object.keys(window);"
    page = harness.open("booking.html", "utm_source=perplexity", {"consent": "optional"}, init=before)
    page.wait_for_function(
        "typeof attribution.booking === 'function' && typeof attribution.classify === 'function'"
    )
    # (numeric keys are the page's iframes)
    added = page.evaluate(
        "Object.keys(window).filter(k => !/^\\d+$/.test(k) && !window.__globals.includes(k))"
    )
    assert set(added) <= {"attribution", "dataLayer", "__globals"}, added
