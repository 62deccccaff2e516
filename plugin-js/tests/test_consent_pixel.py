"""Consent (JS call, WP Consent API, Google Consent Mode) and the OpenAI pixel bridge."""

from __future__ import annotations

from urllib.parse import unquote

PIXEL = {"pixelId": "px_test_123"}


def stored(harness, page):
    """What the script keeps of the visitor: the JSON of its `_attr` cookie (localStorage's copy where there is one:
    values the cookie had to cut), or None; and the `_attr` cookies."""
    cookies = [c for c in harness.context.cookies() if c["name"] == "_attr"]
    local = page.evaluate("localStorage._attr || null")
    return local or (unquote(cookies[0]["value"]) if cookies else None), cookies


def test_consent_denied_then_granted_then_withdrawn(harness):
    page = harness.open("landing.html", "utm_source=chatgpt.com&oppref=OPX", {**PIXEL, "consent": "required"})
    assert stored(harness, page) == (None, [])
    assert harness.loader_requests == 0 and page.evaluate("typeof window.oaiq") == "undefined"
    # before consent the form carries at most the conversion page, without its query: no click id, no UTM
    assert page.input_value("[type=hidden][name=oppref]") == ""
    assert page.input_value("[type=hidden][name=first_utm_source]") == ""
    assert page.input_value("[name=conversion_page]").endswith("/tests/pages/landing.html")
    assert page.input_value("[name=consent]") == "unknown"

    page.evaluate("attribution('consent', false)")
    assert stored(harness, page) == (None, []) and harness.loader_requests == 0
    assert page.input_value("[name=consent]") == "denied"
    page.click("#send")
    assert page.evaluate("window.__oaiq") is None  # no measure without consent

    page.evaluate("attribution('consent', true)")
    page.wait_for_function("window.__oaiq && window.__oaiq.length")
    local, cookies = stored(harness, page)
    assert '"oppref":["OPX"' in local and len(cookies) == 1
    assert page.input_value("[name=consent]") == "granted"
    assert page.input_value("[type=hidden][name=oppref]") == "OPX"  # the refill after consent
    assert harness.loader_requests == 1

    page.evaluate("attribution('consent', false)")  # withdrawal clears what we stored
    assert stored(harness, page) == (None, [])
    assert page.input_value("[name=consent]") == "denied"
    assert page.input_value("[type=hidden][name=oppref]") == ""
    # a new page in the same visit finds nothing stored, and remembers the "no"
    page2 = harness.open("second.html", "", {**PIXEL, "consent": "required"})
    got = page2.evaluate("attribution('get')")
    assert got["oppref"] == "" and got["consent"] == "denied" and stored(harness, page2) == (None, [])


def test_without_a_consent_platform_the_default_mode_captures_everything(harness):
    """A fresh install: no banner, default settings. The whole attribution is captured and stored."""
    page = harness.open("landing.html", "utm_source=chatgpt.com&utm_medium=referral&oppref=FRESH", {**PIXEL})
    # no platform answered, and this mode needs none: the connector sends the server event the pixel sent
    assert page.input_value("[name=consent]") == "not_required"
    assert page.input_value("[type=hidden][name=oppref]") == "FRESH"
    assert page.input_value("[type=hidden][name=first_utm_source]") == "chatgpt.com"
    assert '"FRESH"' in stored(harness, page)[0]
    page.wait_for_function("window.__oaiq && window.__oaiq[0][0] === 'init'")
    got = harness.open("second.html", "", {**PIXEL}).evaluate("attribution('get')")
    assert got["first_utm_source"] == "chatgpt.com" and got["oppref"] == "FRESH"


def test_a_banners_answer_is_remembered_on_the_next_pages(harness):
    page = harness.open("landing.html", "utm_source=claude", {"consent": "required"})
    assert stored(harness, page) == (None, [])
    page.evaluate("attribution('consent', true)")  # the banner, once
    assert "claude" in stored(harness, page)[0]
    # the next page: the banner does not repeat itself, the answer holds
    got = harness.open("second.html", "utm_source=gemini", {"consent": "required"}).evaluate(
        "attribution('get')"
    )
    assert got["consent"] == "granted" and got["latest_utm_source"] == "gemini"
    assert got["first_utm_source"] == "claude"


def test_a_fill_is_a_whole_touch_whatever_the_consent_path(harness):
    """The documented banner call queued before the tag: the form must hold the stored touches, with no field
    left over from this page's unconsented touch (here its referrer, an internal page)."""
    queue = (
        "window.attribution = window.attribution || function () {"
        " (attribution.q = attribution.q || []).push(arguments); }; attribution('consent', true);"
    )
    first = harness.open("landing.html", "utm_source=chatgpt.com", {"consent": "required"}, init=queue)
    assert first.input_value("[name=first_referrer]") == ""  # a landing with no referrer
    pricing = harness.site + "/tests/pages/third.html?section=pricing"
    page = harness.open("second.html", "", {"consent": "required"}, referrer=pricing, init=queue)
    assert page.input_value("[name=first_utm_source]") == "chatgpt.com"
    assert page.input_value("[name=first_referrer]") == "", (
        "a referrer from another visit leaked into the touch"
    )
    assert page.input_value("[name=latest_referrer]") == ""
    assert page.input_value("[name=consent]") == "granted"


def test_pixel_init_once_and_measure_with_the_form_event_id(harness):
    page = harness.open(
        "landing.html", "utm_source=chatgpt&oppref=O1", {**PIXEL, "consent": "optional", "pixelDebug": "true"}
    )
    page.wait_for_function("window.__oaiq && window.__oaiq.length === 1")
    page.evaluate("attribution('consent', true)")  # re-granting never re-inits
    page.click("#send")  # the page's stand-in form reports its success at once
    page.wait_for_function("window.__oaiq.length === 2")
    calls = harness.pixel_calls(page)
    sent = page.evaluate("window.__submitted[0]")
    assert calls[0] == ["init", {"pixelId": "px_test_123", "debug": True}]
    assert calls[1] == [
        "measure",
        "lead_created",
        {"type": "customer_action"},
        {"event_id": sent["event_id"]},
    ]
    assert [c[0] for c in calls].count("init") == 1 and harness.loader_requests == 1
    assert page.eval_on_selector_all("script[src*='oaiq.min.js']", "s => s.length") == 1


def test_per_form_event_names_and_custom_events(harness):
    page = harness.open(
        "events.html", "", {**PIXEL, "consent": "optional", "pixelEvent": "registration_completed"}
    )
    for form in ("#default", "#trial", "#custom", "#off"):
        page.click(f"{form} button")
    page.wait_for_function("window.__oaiq && window.__oaiq.length === 4")
    calls = harness.pixel_calls(page)[1:]
    ids = page.evaluate("window.__submitted.map(s => s.event_id)")
    assert calls == [
        ["measure", "registration_completed", {"type": "customer_action"}, {"event_id": ids[0]}],
        ["measure", "trial_started", {"type": "plan_enrollment"}, {"event_id": ids[1]}],
        [
            "measure",
            "custom",
            {"type": "custom"},
            {"event_id": ids[2], "custom_event_name": "webinar_signup"},
        ],
    ]


def test_forms_without_our_fields_do_not_fire_the_pixel(harness):
    page = harness.open("events.html", "", {**PIXEL, "consent": "optional"})
    page.click("#search button")
    page.wait_for_function("window.__oaiq && window.__oaiq.length >= 1")
    page.wait_for_timeout(100)
    assert [c[0] for c in harness.pixel_calls(page)] == ["init"]


def test_wp_consent_api(harness):
    init = """window.__wpConsent = 'deny';
    window.wp_has_consent = function (c) { return c === 'marketing' && window.__wpConsent === 'allow'; };"""
    page = harness.open("landing.html", "utm_source=claude", {**PIXEL}, init=init)
    assert stored(harness, page)[0] is None and page.input_value("[name=consent]") == "denied"
    page.evaluate(
        """window.__wpConsent = 'allow';
        document.dispatchEvent(new CustomEvent('wp_listen_for_consent_change',
            {detail: {marketing: 'allow'}}));"""
    )
    assert "claude" in stored(harness, page)[0] and page.input_value("[name=consent]") == "granted"
    page.wait_for_function("window.__oaiq && window.__oaiq.length === 1")
    page.evaluate(
        "document.dispatchEvent(new CustomEvent('wp_listen_for_consent_change',"
        " {detail: {marketing: 'deny'}}))"
    )
    assert stored(harness, page) == (None, [])
    # an initial "yes" from the WP Consent API persists straight away
    page2 = harness.open("second.html", "utm_source=gemini", {}, init=init.replace("'deny'", "'allow'"))
    assert "gemini" in stored(harness, page2)[0]


def test_google_consent_mode(harness):
    init = """window.dataLayer = window.dataLayer || []; window.gtag = function(){dataLayer.push(arguments);};
    gtag('consent', 'default', {ad_storage: 'denied', analytics_storage: 'denied'});"""
    page = harness.open("landing.html", "utm_source=perplexity", {"consent": "optional"}, init=init)
    assert stored(harness, page)[0] is None and page.input_value("[name=consent]") == "denied"
    page.evaluate("gtag('consent', 'update', {ad_storage: 'granted'})")
    assert "perplexity" in stored(harness, page)[0]
    assert page.input_value("[name=consent]") == "granted"
    page.evaluate("gtag('consent', 'update', {ad_storage: 'denied'})")
    assert stored(harness, page) == (None, [])


def test_consent_mode_default_denied_on_a_later_page_never_erases_stored_data(harness):
    harness.open("landing.html", "utm_source=perplexity", {"consent": "optional"})
    # next page: the CMP pushes its default (denied) after our script, then restores "granted"
    page = harness.open("second.html", "", {"consent": "optional"})
    page.evaluate("window.dataLayer.push(['consent', 'default', {ad_storage: 'denied'}])")
    assert "perplexity" in stored(harness, page)[0]
    page.evaluate("window.dataLayer.push(['consent', 'update', {ad_storage: 'granted'}])")
    assert page.evaluate("attribution('get').first_utm_source") == "perplexity"
