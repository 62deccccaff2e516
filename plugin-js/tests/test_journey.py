"""The visitor's journey in real Chromium: capture, classify, persist first/latest touch, fill the form."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import unquote

OPT = {"consent": "optional"}
LANDING_QUERY = (
    "utm_source=chatgpt&utm_medium=paid_ai&utm_campaign=spring%20launch&utm_content=a&utm_term=crm&utm_id=42"
    "&oppref=AbC-12_x%2By"
)
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def fields(page, form="#lead") -> dict:
    return page.eval_on_selector(
        form,
        "f => Object.fromEntries([...f.querySelectorAll('input[type=hidden]')].map(i => [i.name, i.value]))",
    )


def test_first_visit_then_second_and_third_page(harness):
    page = harness.open("landing.html", LANDING_QUERY, OPT)
    got = page.evaluate("attribution('get')")
    assert got["first_utm_source"] == got["latest_utm_source"] == "chatgpt"
    assert got["first_utm_campaign"] == "spring launch"  # UTMs decoded
    assert got["oppref"] == "AbC-12_x%2By"  # click ids byte for byte, never decoded
    assert got["first_channel"] == got["first_ai_source"] == "openai_ads"  # a paid OpenAI click
    assert got["first_landing_page"].endswith("landing.html?" + LANDING_QUERY)
    assert got["first_referrer"] == ""
    assert ISO.match(got["first_touch_at"])
    f = fields(page)
    assert f["first_utm_source"] == "chatgpt" and f["oppref"] == "AbC-12_x%2By"
    assert f["first_utm_id"] == "42" and f["latest_utm_term"] == "crm"
    assert f["consent"] == "not_required"  # optional (auto) mode, no consent platform on the page
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", f["event_id"])
    assert f["submitted_at"] == ""  # only at submit time

    page.click("#next")  # a real navigation: the referrer is this site
    page.wait_for_url("**/second.html")
    page.wait_for_function("window.attribution && window.attribution.loaded")
    f2 = fields(page)
    assert f2["first_landing_page"] == f["first_landing_page"]
    assert f2["latest_landing_page"] == f["first_landing_page"]  # internal visit is not a new touch
    assert f2["conversion_page"].endswith("/second.html")
    assert f2["oppref"] == "AbC-12_x%2By" and f2["latest_channel"] == "openai_ads"

    page.click("#next")
    page.wait_for_url("**/third.html")
    page.wait_for_function("window.attribution && window.attribution.loaded")
    f3 = fields(page)
    assert f3["first_utm_campaign"] == "spring launch" and f3["conversion_page"].endswith("/third.html")
    assert page.input_value("#visible_source") == ""  # the visible field is the visitor's, never ours


def test_return_visit_days_later_keeps_first_touch_and_updates_latest(harness):
    page = harness.open("landing.html", LANDING_QUERY, OPT, referrer="https://chatgpt.com/")
    first = page.evaluate("attribution('get')")
    later = harness.context.new_page()
    later.clock.set_fixed_time(dt.datetime.now(dt.UTC) + dt.timedelta(days=20))
    later = harness.open(
        "second.html",
        "utm_source=google&utm_medium=cpc&gclid=G-1",
        config=OPT,
        page=later,
        referrer="https://mail.google.com/",
    )
    got = later.evaluate("attribution('get')")
    assert got["first_touch_at"] == first["first_touch_at"] and got["first_channel"] == "openai_ads"
    assert got["latest_channel"] == "paid_search" and got["latest_utm_source"] == "google"
    assert got["latest_touch_at"] > first["latest_touch_at"]
    assert got["gclid"] == "G-1" and got["oppref"] == first["oppref"]  # latest non-empty click ids kept

    # 40 days after the ad click: oppref (30-day window) expired, gclid (90 days, 20 days old) kept
    late = harness.context.new_page()
    late.clock.set_fixed_time(dt.datetime.now(dt.UTC) + dt.timedelta(days=40))
    got = harness.open("third.html", config=OPT, page=late).evaluate("attribution('get')")
    assert got["oppref"] == "" and got["gclid"] == "G-1"
    assert got["first_channel"] == "openai_ads"

    # 100 days later everything has lived its 90 days: this visit is the first touch again
    gone = harness.context.new_page()
    gone.clock.set_fixed_time(dt.datetime.now(dt.UTC) + dt.timedelta(days=130))
    got = harness.open("third.html", "utm_source=linkedin&utm_medium=social", OPT, page=gone).evaluate(
        "attribution('get')"
    )
    assert got["first_channel"] == "social" and got["gclid"] == ""


def test_direct_visit_never_overwrites_a_campaign_touch(harness):
    harness.open("landing.html", "utm_source=google&utm_medium=cpc&gclid=abc", OPT)
    page = harness.open("second.html", "", OPT, referrer="")
    got = page.evaluate("attribution('get')")
    assert got["latest_channel"] == "paid_search" and got["latest_utm_source"] == "google"
    # but a new campaign does become the latest touch
    page = harness.open("third.html", "", OPT, referrer="https://www.perplexity.ai/")
    got = page.evaluate("attribution('get')")
    assert (got["latest_channel"], got["latest_ai_source"]) == ("ai_assistant", "perplexity")
    assert got["first_channel"] == "paid_search"


def test_first_direct_visit_is_recorded_then_replaced_as_latest_by_a_campaign(harness):
    got = harness.open("landing.html", "", OPT).evaluate("attribution('get')")
    assert got["first_channel"] == got["latest_channel"] == "direct"
    got = harness.open("second.html", "utm_source=claude.ai", OPT).evaluate("attribution('get')")
    assert got["first_channel"] == "direct" and (got["latest_channel"], got["latest_ai_source"]) == (
        "ai_assistant",
        "claude",
    )


def test_submit_posts_the_forms_event_id_and_submitted_at_and_a_success_renews_the_id(harness):
    page = harness.open("landing.html", "utm_source=bing&utm_medium=cpc", OPT)
    loaded_id = fields(page)["event_id"]
    page.fill("#email", "a@b.test")
    page.click("#send")  # the page's stand-in form reports each submission's success at once
    page.click("#send")
    sent = page.evaluate("window.__submitted")
    assert len(sent) == 2
    assert sent[0]["event_id"] == loaded_id and sent[1]["event_id"] != sent[0]["event_id"]  # one per lead
    assert ISO.match(sent[0]["submitted_at"])
    assert sent[0]["latest_utm_source"] == "bing" and sent[0]["email"] == "a@b.test"


def test_root_domain_cookie_mirror_carries_attribution_to_a_subdomain(harness):
    cfg = {**OPT, "rootDomain": "example.test"}
    harness.open("landing.html", "utm_source=perplexity&oppref=R1", cfg)
    cookie = next(c for c in harness.context.cookies() if c["name"] == "_attr")
    assert cookie["domain"] == ".example.test"
    page = harness.open("second.html", "", cfg, host="shop")  # other origin: no shared localStorage
    got = page.evaluate("attribution('get')")
    assert got["first_utm_source"] == "perplexity" and got["oppref"] == "R1"
    # the subdomain wrote it back to the shared cookie, not to a cookie of its own
    (cookie,) = [c for c in harness.context.cookies() if c["name"] == "_attr"]
    assert cookie["domain"] == ".example.test" and "perplexity" in unquote(cookie["value"])
