"""A visitor from a ChatGPT ad, through a real WordPress, into each form plugin's stored entry (and, for CF7, through
CF7 to Webhook into a real connector)."""

from __future__ import annotations

import re
from typing import Any

from connector.classify import classify_url
from tests.conftest import wait_for

from .conftest import CF7_SECRET, Connector, Visitor
from .site import Site

LANDING = "/?utm_source=chatgpt&utm_medium=paid_ai&utm_campaign=spring&oppref=REF123"
REFERRER = "https://chatgpt.com/"
NAME, EMAIL = "Ada Lovelace", "ada@example.com"


def expected_attribution(site: Site) -> dict[str, str]:
    """What every form's hidden fields must hold after LANDING from REFERRER, /pricing/ and the form page."""
    channel, ai_source = classify_url(site.url(LANDING), REFERRER)  # the connector's own reading
    assert channel == "openai_ads"
    touch = {
        "utm_source": "chatgpt",
        "utm_medium": "paid_ai",
        "utm_campaign": "spring",
        "landing_page": site.url(LANDING),
        "referrer": REFERRER,
        "channel": channel,
        "ai_source": ai_source,
    }
    # the later internal pages are no new touch: the latest touch is the landing too
    return {f"{when}_{k}": v for when in ("first", "latest") for k, v in touch.items()} | {"oppref": "REF123"}


def visit_and_open_form(visitor: Visitor, form_page: str) -> Any:
    visitor.arrive_from(REFERRER, LANDING)
    visitor.go("/pricing/")
    return visitor.go(form_page)


def submit_cf7(page: Any) -> None:
    page.fill("input[name='your-name']", NAME)
    page.fill("input[name='your-email']", EMAIL)
    # CF7's own DOM event after each submission says how it went (detail.status: mail_sent, spam, ...)
    page.evaluate(
        "document.addEventListener('wpcf7submit', e => { window.__cf7 = e.detail.status; }, {once: true})"
    )
    page.click("input.wpcf7-submit")
    status = page.wait_for_function("window.__cf7").json_value()
    assert status == "mail_sent", f"{status}: {page.inner_text('.wpcf7-response-output')}"
    assert "Thank you for your message" in page.inner_text(".wpcf7-response-output")


def submit_formidable(page: Any, name: str = NAME) -> str:
    """Submit (Formidable posts the page itself and shows its message or errors on the next one)."""
    page.fill("#field_your_name", name)
    page.fill("#field_your_email", EMAIL)
    with page.expect_navigation():
        page.click("button.frm_button_submit")
    page.wait_for_selector(".frm_message, .frm_error_style")
    return page.inner_text(".frm_forms")


def submit_fluent(page: Any) -> None:
    page.fill("input[name='your_name']", NAME)
    page.fill("input[name='email']", EMAIL)
    page.click("button.ff-btn-submit")
    page.wait_for_selector(".ff-message-success")
    assert "Thank you for your message" in page.inner_text(".ff-message-success")


def check_entry(entry: dict[str, Any] | None, site: Site, visitor: Visitor) -> str:
    """The entry holds exactly the expected touches, oppref and the event_id the pixel measured; returns it."""
    assert entry is not None, "the plugin stored no entry"
    stored = {k: entry.get(k) for k in expected_attribution(site)}
    assert stored == expected_attribution(site)
    event_id = entry.get("event_id") or ""
    assert re.fullmatch(r"[0-9a-f-]{36}", event_id), entry
    return event_id


def measured(visitor: Visitor) -> list[tuple[str, str]]:
    """(event, event_id) of every pixel measure call of the visit."""
    return [(call[1], call[3]["event_id"]) for call in visitor.measures()]


def test_contact_form_7_entry_and_webhook_to_the_connector(
    wordpress: Site, visitor: Visitor, connector: Connector
) -> None:
    form_id = wordpress.forms["cf7"]
    hook = f"{connector.base_url}/webhooks/forms/contact_form_7?token={CF7_SECRET}"
    settings = wordpress.call("ct_set_cf7_webhook", form_id, hook)
    assert settings["activate"] == "1" and settings["hook_url"] == [hook]

    submit_cf7(visit_and_open_form(visitor, wordpress.pages["cf7"]))

    entry = wordpress.call("ct_flamingo_latest", form_id)
    assert entry["your-name"] == NAME and entry["your-email"] == EMAIL
    assert entry["_status"] == "mail_sent"
    event_id = check_entry(entry, wordpress, visitor)
    assert measured(visitor) == [("lead_created", event_id)]

    def processed() -> dict[str, Any] | None:
        story = connector.events_show(event_id)
        return story if story and [r["status"] for r in story["receipts"]] == ["processed"] else None

    story = wait_for(processed, timeout=30, message=f"`connector events show {event_id}`: processed")
    assert [r["source"] for r in story["receipts"]] == ["contact_form_7"]
    (submission,) = story["submissions"]
    assert submission["contact"] == {"email": EMAIL, "name": NAME}
    assert submission["attribution"] == expected_attribution(wordpress) | {
        "event_id": event_id,
        "conversion_page": wordpress.url(wordpress.pages["cf7"]),  # CF7 to Webhook's [_url]
    }
    assert "processed on attempt 1" in [step["message"] for step in story["timeline"]]


def test_formidable_entry_keeps_the_attribution_past_the_spam_denylist(
    wordpress: Site, visitor: Visitor
) -> None:
    form = wordpress.forms["formidable"]
    message = submit_formidable(visit_and_open_form(visitor, wordpress.pages["formidable"]))
    assert "successfully submitted" in message, message
    entry = wordpress.call("ct_formidable_latest", form["id"])
    assert entry["your_name"] == NAME and entry["your_email"] == EMAIL
    event_id = check_entry(entry, wordpress, visitor)
    # Formidable's script cancels the submit and calls form.submit(): the result page measures the lead
    assert measured(visitor) == [("lead_created", event_id)]


def test_fluent_forms_entry(wordpress: Site, visitor: Visitor) -> None:
    submit_fluent(visit_and_open_form(visitor, wordpress.pages["fluent"]))
    entry = wordpress.call("ct_fluent_latest", wordpress.forms["fluent"])
    assert entry["your_name"] == NAME and entry["email"] == EMAIL
    event_id = check_entry(entry, wordpress, visitor)
    assert measured(visitor) == [("lead_created", event_id)]
