"""Hidden fields in every supported form plugin's real markup, and forms that appear late."""

from __future__ import annotations

import re

OPT = {"consent": "optional"}
QUERY = "utm_source=chatgpt.com&utm_medium=referral&utm_campaign=launch&oppref=OP-1"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def value(page, selector):
    return page.eval_on_selector(selector, "e => e.value")


def open_forms(harness, **kw):
    page = harness.open("forms.html", QUERY, OPT, **kw)
    page.wait_for_selector("#nf-field-12", state="attached")
    page.wait_for_function("document.querySelector('#nf-field-12').value !== ''")
    return page


def test_gravity_forms_by_css_class_on_the_field(harness):
    page = open_forms(harness)
    assert value(page, "#input_1_5") == "chatgpt.com"
    assert value(page, "#input_1_6") == "OP-1"
    assert UUID.match(value(page, "#input_1_7"))
    assert value(page, "#input_1_8") == "openai_ads"  # admin-hidden text field (visibility: hidden)
    assert value(page, "#input_1_1") == ""  # the visitor's email field untouched


def test_contact_form_7_by_tag_name(harness):
    page = open_forms(harness)
    assert value(page, "#cf7 [name=first_utm_source]") == "chatgpt.com"
    assert value(page, "#cf7 [name=oppref]") == "OP-1"
    assert value(page, "#cf7 [name=_wpcf7]") == "10"  # the plugin's own hidden fields untouched


def test_wpforms_by_css_class_on_the_field_container(harness):
    page = open_forms(harness)
    assert value(page, "#wpforms-20-field_3") == "launch"
    assert UUID.match(value(page, "#wpforms-20-field_4"))
    assert value(page, "[name='wpforms[id]']") == "20"


def test_elementor_by_custom_field_id(harness):
    page = open_forms(harness)
    assert value(page, "#form-field-latest_channel") == "openai_ads"
    assert UUID.match(value(page, "#form-field-event_id"))


def test_fluent_forms_by_name_attribute(harness):
    page = open_forms(harness)
    assert value(page, "#fluentform_3 [name=first_channel]") == "openai_ads"
    assert value(page, "#fluentform_3 [name=latest_ai_source]") == "openai_ads"  # oppref: a paid OpenAI click


def test_formidable_by_field_key(harness):
    page = open_forms(harness)
    assert value(page, "#field_first_utm_medium") == "referral"
    assert UUID.match(value(page, "#field_event_id"))
    assert value(page, "[name=form_key]") == "contact"


def test_ninja_forms_models_learn_the_values_and_submit_carries_the_forms_event_id(harness):
    page = open_forms(harness)
    models = page.evaluate("window.__nf.models")
    assert models["12"] == "chatgpt.com" and models["13"] == "OP-1" and UUID.match(models["14"])
    assert models["1"] == ""
    page.click("#nf-field-15")
    posted = page.evaluate("window.__nf.posted")
    # the id changes only when the plugin reports a success (test_success_signals.py)
    assert posted[0]["14"] == models["14"]
    assert posted[0]["12"] == "chatgpt.com"


def test_each_form_gets_its_own_event_id_and_posts_it(harness):
    page = open_forms(harness)
    ids = [
        value(page, s)
        for s in ("#input_1_7", "#cf7 [name=event_id]", "#wpforms-20-field_4", "#form-field-event_id")
    ]
    assert len(set(ids)) == 4
    page.click("#cf7 [type=submit]")
    sent = page.evaluate("window.__submitted.cf7")
    assert sent["event_id"] == ids[1]  # renewed only on the plugin's success (test_success_signals.py)
    assert sent["first_utm_source"] == "chatgpt.com" and sent["oppref"] == "OP-1"


def test_a_field_the_visitor_typed_into_is_never_overwritten(harness):
    page = harness.open("landing.html", "utm_source=google&utm_medium=cpc", OPT)
    page.eval_on_selector("[type=hidden][name=latest_utm_campaign]", "e => { e.type = 'text'; }")
    page.fill("[name=latest_utm_campaign]", "typed by me")  # trusted input events
    page.eval_on_selector("[name=latest_utm_campaign]", "e => { e.style.display = 'none'; }")
    page.evaluate("attribution('fill')")
    page.click("#send")
    assert page.evaluate("window.__submitted[0].latest_utm_campaign") == "typed by me"


def test_form_inserted_two_seconds_after_load(harness):
    page = harness.open("late.html", "utm_source=perplexity&fbclid=FB9", OPT)
    assert page.evaluate("document.querySelector('#late') === null")
    page.wait_for_selector("#late [name=fbclid]", state="attached", timeout=5000)
    page.wait_for_function("document.querySelector('#late [name=fbclid]').value === 'FB9'", timeout=1000)
    assert value(page, "#late [name=latest_ai_source]") == "perplexity"


def test_popup_form(harness):
    page = harness.open("popup.html", "utm_source=claude", OPT)
    page.click("#open")
    page.wait_for_function("document.querySelector('#popup [name=first_ai_source]').value === 'claude'")
    page.fill("#popup [name=email]", "p@q.test")
    page.click("#popup button")
    sent = page.evaluate("window.__submitted[0]")
    assert sent["first_ai_source"] == "claude" and UUID.match(sent["event_id"])


def test_multi_step_form(harness):
    page = harness.open("multistep.html", "utm_source=linkedin&utm_medium=paid&li_fat_id=LF1", OPT)
    assert value(page, "#step1 [name=latest_channel]") == "paid_social"
    page.click("#to-step-2")
    page.wait_for_function("document.querySelector('#step2 [name=li_fat_id]').value === 'LF1'")
    page.click("#finish")
    sent = page.evaluate("window.__submitted[0]")
    assert sent["latest_channel"] == "paid_social" and sent["li_fat_id"] == "LF1" and sent["submitted_at"]


def test_field_names_are_configurable(harness):
    cfg = {**OPT, "fields": "latest_utm_source:utm_source first_channel:how_they_found_us"}
    page = harness.open("custom-names.html", "utm_source=chatgpt.com", cfg)
    assert value(page, "[name=utm_source]") == "chatgpt.com"
    assert value(page, "[name=how_they_found_us]") == "ai_assistant"
    assert value(page, "[data-attribution=latest_ai_source]") == "chatgpt"
