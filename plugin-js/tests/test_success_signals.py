"""A lead counts on the form plugin's success, never on the click: the pixel's measure call, once, with the id
the form posted; a rejected attempt counts nothing and keeps its id for the corrected one.

Stand-ins on tests/pages/success.html send each plugin's own success signal (see the page for why those and
not the real plugins); tests/wordpress/real repeats this on a real WordPress for CF7, Formidable and Fluent.
"""

from __future__ import annotations

import re

import pytest

PIXEL = {"pixelId": "px_test_123"}  # default consent mode, and no consent platform on these pages
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
FORMS = {
    # stand-in name: (what to click, the form's event_id field)
    "cf7": ("#cf7 button", "#cf7 [name=event_id]"),
    "fluent": ("#fluent button", "#fluent [name=event_id]"),
    "form_contact": ("#form_contact button", "#field_event_id"),
    "gform_1": ("#gform_1 button", "#input_1_7"),
    "wpforms-form-20": ("#wpforms-form-20 button", "#wpforms-20-field_4"),
    "elementor": ("#elementor button", "#form-field-event_id"),
    "nf": ("#nf-field-15", "#nf-field-14"),
}


def measures(harness, page):
    return [call for call in harness.pixel_calls(page) if call[0] == "measure"]


@pytest.mark.parametrize("form", FORMS)
def test_a_rejected_attempt_counts_nothing_and_the_success_counts_once_with_the_posted_id(harness, form):
    button, field = FORMS[form]
    page = harness.open("success.html", "utm_source=chatgpt&oppref=R1", PIXEL)
    page.wait_for_function("window.__oaiq && window.__oaiq.length === 1")  # init, nothing measured
    page.click(button)  # the plugin rejects it
    page.evaluate(f"window.__outcome[{form!r}] = 'success'")
    page.click(button)
    page.wait_for_function("window.__oaiq.length === 2")
    (first, rejected), (second, accepted) = page.evaluate("window.__posted")
    assert first == second == form
    assert UUID.match(rejected) and accepted == rejected, "the corrected attempt posts the same event_id"
    assert measures(harness, page) == [
        ["measure", "lead_created", {"type": "customer_action"}, {"event_id": accepted}]
    ]
    renewed = page.eval_on_selector(field, "e => e.value")
    assert UUID.match(renewed) and renewed != accepted, "the form's next submission is another lead"


def test_no_signal_no_lead(harness):
    """A submit that no plugin confirms (a site's own AJAX form that never says it succeeded) counts nothing."""
    page = harness.open("success.html", "", PIXEL)
    page.evaluate("window.__outcome.fluent = 'success'")
    # a site script takes the CF7 form's submit over and never reports back
    page.evaluate(
        "document.getElementById('cf7').addEventListener('submit',"
        " e => { e.preventDefault(); e.stopImmediatePropagation(); })"
    )
    page.click("#cf7 button")
    page.click("#fluent button")
    page.wait_for_function("window.__oaiq.length === 2")
    page.wait_for_timeout(200)
    assert [c[3]["event_id"] for c in measures(harness, page)] == [page.evaluate("window.__posted[0][1]")]


def test_a_classic_post_counts_once_on_the_page_it_leads_to_and_never_on_an_error_page(harness):
    page = harness.open("classic.html", "utm_source=chatgpt", PIXEL)
    posted = page.input_value("[name=event_id]")
    page.eval_on_selector("#classic", "f => { f.action = 'classic-error.html'; }")
    page.click("#classic button")
    page.wait_for_url("**/classic-error.html?**")
    page.wait_for_function("window.attribution && window.attribution.loaded && window.__oaiq")
    # the plugin said no: nothing counted, and the corrected attempt carries the same id
    page.wait_for_function(f"document.querySelector('[name=event_id]').value === {posted!r}")
    assert measures(harness, page) == []
    page.click("#classic button")
    page.wait_for_url("**/thanks.html?**")
    page.wait_for_function("window.__oaiq && window.__oaiq.some(c => c[0] === 'measure')")
    assert measures(harness, page) == [
        ["measure", "lead_created", {"type": "customer_action"}, {"event_id": posted}]
    ]
    page.reload()
    page.wait_for_function("window.attribution && window.attribution.loaded && window.__oaiq")
    page.wait_for_timeout(200)
    assert measures(harness, page) == [], "counted once: a reload of the thank-you page counts nothing"


def test_a_plugin_that_validates_then_calls_form_submit_is_counted_on_the_next_page(harness):
    """Formidable, WPForms and Gravity Forms without AJAX cancel the submit event, validate, then call
    form.submit(), which fires no event: the Navigation API still sees the form's navigation."""
    validates_first = "document.addEventListener('submit', e => { e.preventDefault(); e.target.submit(); });"
    page = harness.open("classic.html", "utm_source=chatgpt", PIXEL, init=validates_first)
    posted = page.input_value("[name=event_id]")
    page.click("#classic button")
    page.wait_for_url("**/thanks.html?**")
    page.wait_for_function("window.__oaiq && window.__oaiq.some(c => c[0] === 'measure')")
    assert measures(harness, page) == [
        ["measure", "lead_created", {"type": "customer_action"}, {"event_id": posted}]
    ]
