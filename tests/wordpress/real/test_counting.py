"""Only real leads count: a submission the real plugin rejects fires no pixel and keeps its event_id, and the
corrected one fires exactly one `lead_created` with the id the plugin stored (CF7 validation, Fluent Forms'
client-side validation, Formidable's spam block)."""

from __future__ import annotations

from typing import Any

from .conftest import Visitor
from .site import Site
from .test_formidable_denylist import SPAM_MESSAGE, SPAM_NAME
from .test_journey import (
    EMAIL,
    NAME,
    check_entry,
    submit_cf7,
    submit_fluent,
    submit_formidable,
    visit_and_open_form,
)


def event_id_in(page: Any, selector: str) -> str:
    return page.eval_on_selector(selector, "e => e.value")


def test_contact_form_7_a_failed_validation_counts_nothing(wordpress: Site, visitor: Visitor) -> None:
    page = visit_and_open_form(visitor, wordpress.pages["cf7"])
    first_id = event_id_in(page, "input[name=event_id]")
    page.fill("input[name='your-name']", NAME)  # no email: CF7's server-side validation refuses it
    page.evaluate(
        "document.addEventListener('wpcf7submit', e => { window.__cf7 = e.detail.status; }, {once: true})"
    )
    page.click("input.wpcf7-submit")
    assert page.wait_for_function("window.__cf7").json_value() == "validation_failed"
    assert visitor.measures(timeout_ms=1000) == [], "a refused submission is no lead"
    assert event_id_in(page, "input[name=event_id]") == first_id, "the corrected attempt keeps the id"

    # CF7 marked the email invalid (setCustomValidity): it clears that when the corrected field loses focus
    page.fill("input[name='your-email']", EMAIL)
    page.press("input[name='your-email']", "Tab")
    page.wait_for_selector("input[name='your-email'].wpcf7-not-valid", state="detached")
    page.evaluate("window.__cf7 = null")
    submit_cf7(page)
    event_id = check_entry(wordpress.call("ct_flamingo_latest", wordpress.forms["cf7"]), wordpress, visitor)
    assert event_id == first_id
    assert [(c[1], c[3]["event_id"]) for c in visitor.measures()] == [("lead_created", event_id)]
    # the form holds a fresh id for the visitor's next message
    assert event_id_in(page, "input[name=event_id]") not in ("", event_id)


def test_fluent_forms_a_submit_its_script_stops_counts_nothing(wordpress: Site, visitor: Visitor) -> None:
    page = visit_and_open_form(visitor, wordpress.pages["fluent"])
    first_id = event_id_in(page, "input[name=event_id]")
    page.fill("input[name='your_name']", NAME)  # the required email is missing: no request is even sent
    page.click("button.ff-btn-submit")
    page.wait_for_selector(".ff-el-is-error, .error.text-danger")
    assert visitor.measures(timeout_ms=1000) == []
    assert event_id_in(page, "input[name=event_id]") == first_id

    page.wait_for_timeout(
        1600
    )  # Fluent Forms ignores a second submit within 1.5 s (window.ff_sumitting_form)
    # its error message goes when the corrected field loses focus, and the button moves up: a click whose
    # mousedown blurs the field would end elsewhere (as a visitor's might), so leave the field first
    page.fill("input[name='email']", EMAIL)
    page.press("input[name='email']", "Tab")
    page.wait_for_selector(".ff-el-is-error", state="detached")
    submit_fluent(page)
    event_id = check_entry(wordpress.call("ct_fluent_latest", wordpress.forms["fluent"]), wordpress, visitor)
    assert event_id == first_id
    assert [(c[1], c[3]["event_id"]) for c in visitor.measures()] == [("lead_created", event_id)]


def test_formidable_a_spam_block_counts_nothing_then_the_clean_entry_counts_once(
    wordpress: Site, visitor: Visitor
) -> None:
    page = visit_and_open_form(visitor, wordpress.pages["formidable"])
    first_id = event_id_in(page, "#field_event_id")
    # Formidable posts the page: the blocked entry comes back as the form with its error
    assert SPAM_MESSAGE in submit_formidable(page, name=SPAM_NAME)
    visitor.ready()
    page.wait_for_function(f"document.querySelector('#field_event_id').value === {first_id!r}")
    assert visitor.measures(timeout_ms=1000) == [], "a blocked entry is no lead"

    assert "successfully submitted" in submit_formidable(page)
    entry = wordpress.call("ct_formidable_latest", wordpress.forms["formidable"]["id"])
    event_id = check_entry(entry, wordpress, visitor)
    assert event_id == first_id, "the entry stored the id the pixel is told"
    assert [(c[1], c[3]["event_id"]) for c in visitor.measures()] == [("lead_created", event_id)]
    page.reload()
    visitor.ready()
    assert len(visitor.measures(count=2, timeout_ms=1000)) == 1, "a reload of the result page counts nothing"
