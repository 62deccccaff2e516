"""The parts loaded on demand: dist/classify.js only for a touch that needs classifying, dist/booking.js only on a
page with a booking widget; a missing part costs its feature, never the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

OPT = {"consent": "optional"}
DIST = Path(__file__).resolve().parents[1] / "dist"


@pytest.fixture
def parts(harness):
    """Paths of the parts the browser requested, in order."""
    requested: list[str] = []
    harness.context.on(
        "request",
        lambda r: (
            r.url.split("?")[0].endswith(("/classify.js", "/booking.js"))
            and requested.append(r.url.split("/")[-1].split("?")[0])
        ),
    )
    return requested


def test_a_direct_visit_loads_no_part(harness, parts):
    page = harness.open("landing.html", "", OPT)
    page.wait_for_timeout(200)
    assert page.evaluate("attribution('get').latest_channel") == "direct"
    assert parts == []
    page.click("#next")  # an internal visit: direct too
    page.wait_for_url("**/second.html")
    page.wait_for_timeout(200)
    assert parts == []


def test_a_landing_loads_the_classifier_once_and_later_pages_need_it_no_more(harness, parts):
    page = harness.open("landing.html", "utm_source=claude.ai&utm_medium=referral", OPT)
    assert page.input_value("[name=latest_ai_source]") == "claude"
    page.evaluate("attribution('consent', false); attribution('consent', true); attribution('fill')")
    page.wait_for_timeout(200)
    assert parts == ["classify.js"]
    page.click("#next")
    page.wait_for_url("**/second.html")
    page.wait_for_function("window.attribution && window.attribution.loaded")
    assert page.evaluate("attribution('get').latest_ai_source") == "claude"
    page.wait_for_timeout(200)
    assert parts == ["classify.js"]  # the stored touches are classified already


def test_a_blocked_classifier_leaves_the_channel_to_the_connector(harness, parts, site):
    """The fields stay empty (the connector classifies the touch from its landing page and referrer); a later page
    that can load the classifier classifies the stored touch."""
    harness.context.route("**/classify.js*", lambda route: route.abort())
    page = harness.open("landing.html", "utm_source=perplexity", OPT, referrer="https://www.perplexity.ai/")
    got = page.evaluate("attribution('get')")
    assert got["latest_utm_source"] == "perplexity" and got["latest_channel"] == got["latest_ai_source"] == ""
    assert page.input_value("[name=latest_utm_source][type=hidden]") == "perplexity"
    page.click("#send")
    assert page.evaluate("window.__submitted[0].latest_channel") == ""

    harness.context.unroute("**/classify.js*")
    later = harness.open("second.html", "", OPT)
    got = later.evaluate("attribution('get')")
    assert got["first_channel"] == got["latest_channel"] == "ai_assistant"
    assert got["latest_ai_source"] == "perplexity"
    assert parts == ["classify.js", "classify.js"]


def test_booking_part_loads_only_with_a_booking_widget(harness, parts):
    page = harness.open("booking.html", "utm_source=chatgpt.com", OPT)
    page.wait_for_function("document.querySelector('#calendly-link').href.includes('utm_source=')")
    page.wait_for_timeout(300)  # the page inserts its iframes after 200 ms
    assert parts.count("booking.js") == 1


def test_parts_load_from_data_base(harness, parts, site):
    """With data-base (or config `base`) the parts come from there, e.g. when a plugin combines scripts."""
    served: list[str] = []

    def from_dist(route):
        served.append(route.request.url)
        route.fulfill(path=str(DIST / route.request.url.split("/")[-1].split("?")[0]))

    harness.context.route("**/elsewhere/*", from_dist)
    page = harness.open(
        "landing.html", "utm_source=bing&utm_medium=cpc", {**OPT, "base": site + "/elsewhere/"}
    )
    assert page.evaluate("attribution('get').latest_channel") == "paid_search"
    assert parts == ["classify.js"] and served[0].startswith(site + "/elsewhere/classify.js?")


def test_a_vendor_widget_script_brings_the_booking_part(harness, parts):
    """Calendly's inline embed is a div plus widget.js, which inserts the iframe later: the script tag is the
    first sign, and the part is requested then, usually in time to decorate the iframe as it is inserted."""
    harness.context.route("https://assets.calendly.com/**", lambda route: route.fulfill(body=""))
    page = harness.open("landing.html", "", OPT)
    page.wait_for_timeout(200)
    assert parts == []
    page.evaluate("""() => document.head.append(Object.assign(document.createElement('script'),
        {src: 'https://assets.calendly.com/assets/external/widget.js', async: true}))""")
    page.wait_for_function("typeof attribution.booking === 'function'")
    assert parts == ["booking.js"]
    assert page.evaluate("document.querySelector('script[src*=calendly]').src").endswith("/widget.js")


def test_an_iframe_that_comes_before_the_booking_part_is_decorated_when_it_arrives(harness, parts):
    held = []
    harness.context.route("**/booking.js*", lambda route: held.append(route))
    page = harness.open("landing.html", "utm_source=chatgpt.com", OPT)
    page.evaluate("""() => document.body.append(Object.assign(document.createElement('iframe'),
        {id: 'late', src: 'https://calendly.com/acme/demo?embed_type=Inline'}))""")
    page.wait_for_timeout(100)
    assert len(held) == 1 and "utm_source" not in page.get_attribute("#late", "src")
    held[0].fulfill(path=str(DIST / "booking.js"), content_type="text/javascript")
    page.wait_for_function("document.querySelector('#late').src.includes('utm_source=chatgpt.com')")
    assert "embed_type=Inline" in page.get_attribute("#late", "src")
