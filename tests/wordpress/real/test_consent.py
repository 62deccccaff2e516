"""Consent on a real WordPress: a fresh install with no banner captures everything; with a consent banner (the
real WP Consent API, with a consent management plugin declaring opt-in) nothing is stored and no pixel loads
before the visitor agrees, and the answer holds on the next pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .conftest import PIXEL_ID, Visitor
from .site import OPTION, Site
from .test_journey import LANDING, REFERRER, check_entry, submit_fluent, visit_and_open_form

# What a consent management plugin does to speak the WP Consent API: declare its consent type. Opt-in: no
# marketing consent until the visitor gives it (the banner then calls wp_set_consent).
OPT_IN_BANNER = """<?php
add_filter( 'wp_get_consent_type', function () { return 'optin'; } );
"""


def stored(visitor: Visitor) -> object:
    """What the script keeps of the visitor (its `_attr` cookie, decoded), or None."""
    return visitor.page.evaluate(
        "decodeURIComponent(document.cookie.match(/(^|; )_attr=([^;]*)/)?.[2] || '') || null"
    )


def test_a_fresh_install_with_no_banner_captures_the_whole_attribution(
    wordpress: Site, visitor: Visitor
) -> None:
    wordpress.run("delete_option($args[0]); return true;", OPTION)  # nothing saved: the defaults
    wordpress.set_settings(pixel_id=PIXEL_ID)  # the pixel id only, as a new site owner enters it
    assert wordpress.run("return get_option($args[0])['consent'];", OPTION) == "auto"
    submit_fluent(visit_and_open_form(visitor, wordpress.pages["fluent"]))
    entry = wordpress.call("ct_fluent_latest", wordpress.forms["fluent"])
    event_id = check_entry(entry, wordpress, visitor)
    assert [(c[1], c[3]["event_id"]) for c in visitor.measures()] == [("lead_created", event_id)]


@pytest.fixture
def opt_in_banner(consent_api: Site) -> Iterator[Site]:
    """The real WP Consent API, and a stand-in consent plugin that declares opt-in (a mu-plugin)."""
    mu_plugin = consent_api.docroot / "wp-content" / "mu-plugins" / "ct-opt-in-banner.php"
    mu_plugin.write_text(OPT_IN_BANNER)
    yield consent_api
    mu_plugin.unlink()


def test_our_plugin_is_registered_with_the_wp_consent_api(opt_in_banner: Site) -> None:
    assert (
        opt_in_banner.call("consent_api_registered", "connector-attribution/connector-attribution.php")
        is True
    )


def test_with_a_banner_nothing_before_yes_and_the_answer_holds(opt_in_banner: Site, visitor: Visitor) -> None:
    page = visitor.arrive_from(REFERRER, LANDING)
    assert page.evaluate("wp_has_consent('marketing')") is False
    assert stored(visitor) is None and visitor.pixel_calls == [], "nothing stored, no pixel before consent"
    assert page.evaluate("attribution('get')")["first_utm_source"] == ""  # the touch stays in memory only

    page.evaluate("wp_set_consent('marketing', 'allow')")  # what the banner's "Accept" button does
    assert "REF123" in str(stored(visitor))
    # the next pages: WP Consent API's own cookie holds the answer; the banner says nothing more
    visitor.go("/pricing/")
    page = visitor.go(opt_in_banner.pages["fluent"])
    assert page.input_value("input[name=first_utm_source]") == "chatgpt"
    submit_fluent(page)
    entry = opt_in_banner.call("ct_fluent_latest", opt_in_banner.forms["fluent"])
    event_id = check_entry(entry, opt_in_banner, visitor)
    assert [c[0] for c in visitor.pixel_calls].count("init") == 3  # one per page once consent was given
    assert [(c[1], c[3]["event_id"]) for c in visitor.measures()] == [("lead_created", event_id)]


def test_with_a_banner_and_no_answer_the_form_carries_no_attribution(
    opt_in_banner: Site, visitor: Visitor
) -> None:
    page = visit_and_open_form(visitor, opt_in_banner.pages["fluent"])
    hidden = page.eval_on_selector_all(
        "input[type=hidden]", "es => Object.fromEntries(es.map(e => [e.name, e.value]))"
    )
    assert hidden["first_utm_source"] == hidden["first_referrer"] == hidden["oppref"] == ""
    assert hidden["first_landing_page"] == "" and hidden["latest_referrer"] == ""
    submit_fluent(page)
    entry = opt_in_banner.call("ct_fluent_latest", opt_in_banner.forms["fluent"])
    assert entry["first_utm_source"] in ("", None) and entry["oppref"] in ("", None)
    assert visitor.pixel_calls == [] and stored(visitor) is None
