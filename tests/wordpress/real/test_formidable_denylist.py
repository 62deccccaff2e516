"""Formidable's spam denylist against our hidden fields: our plugin's frm_check_denylist filter skips only their
values; every other field is still checked."""

from __future__ import annotations

from .conftest import Visitor
from .site import Site
from .test_journey import EMAIL, LANDING, NAME, REFERRER, submit_formidable, visit_and_open_form

SPAM_MESSAGE = "Your entry appears to be blocked spam!"
SPAM_NAME = "Ada cialis buy"  # a line of Formidable's denylist (denylist/splorp-wp-comment.txt)


def hidden_values(site: Site) -> dict[str, str]:
    """What our script writes into the hidden fields after LANDING (the URL holds utm_source and _campaign)."""
    touch = {"utm_source": "chatgpt", "utm_campaign": "spring", "landing_page": site.url(LANDING)}
    return {f"{when}_{k}": v for when in ("first", "latest") for k, v in touch.items()} | {
        "first_referrer": REFERRER,
        "event_id": "3f1c2a9e-6b7d-4c3a-9f0e-2d5b8a7c6e1f",
    }


def test_the_denylist_skips_only_our_hidden_fields(wordpress: Site) -> None:
    form_id = wordpress.forms["formidable"]["id"]
    entry = {"your_name": NAME, "your_email": EMAIL} | hidden_values(wordpress)

    def verdict(values: dict[str, str], ours: bool = True) -> str | bool:
        return wordpress.call("ct_formidable_denylist", form_id, values, ours)

    # without our filter, Formidable's own denylist blocks every visitor who came with UTMs
    assert verdict(entry, ours=False) == SPAM_MESSAGE
    assert verdict(entry) is False
    # what the visitor typed is checked as before: a denylisted word, or the same UTM words typed in
    assert verdict(entry | {"your_name": SPAM_NAME}) == SPAM_MESSAGE
    assert verdict(entry | {"your_name": "see utm_source"}) == SPAM_MESSAGE
    assert verdict({"your_name": SPAM_NAME, "your_email": EMAIL}) == SPAM_MESSAGE


def test_a_denylisted_word_the_visitor_types_is_still_blocked(wordpress: Site, visitor: Visitor) -> None:
    form_id = wordpress.forms["formidable"]["id"]
    before = (wordpress.call("ct_formidable_latest", form_id) or {}).get("_count", 0)
    page = visit_and_open_form(visitor, wordpress.pages["formidable"])
    message = submit_formidable(page, name=SPAM_NAME)
    assert SPAM_MESSAGE in message
    assert (wordpress.call("ct_formidable_latest", form_id) or {}).get("_count", 0) == before
    # the hidden fields carried the ad's touch all the same: the block is the visible word's
    assert page.input_value("#field_first_utm_source") == "chatgpt"
    assert visitor.measures(timeout_ms=1000) == [], "a blocked entry is no lead"
