"""Formidable keeps field keys unique across the whole site: a second form's hidden field `first_utm_source`
is saved as `first_utm_source2`. Our plugin names such fields for the script (data-attribution), so every
Formidable form on the site is filled, not only the first."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Visitor
from .site import HIDDEN_FIELDS, Site
from .test_journey import EMAIL, NAME, check_entry, visit_and_open_form


@pytest.fixture(scope="module")
def second_form(wordpress_site: Site) -> dict[str, Any]:
    form = wordpress_site.call("ct_create_formidable_form", "Demo request (Formidable)", list(HIDDEN_FIELDS))
    page = wordpress_site.call("ct_create_page", "demo-formidable", "Demo", f"[formidable id={form['id']}]")
    return form | {"page": page["path"]}


def test_a_second_formidable_form_is_filled_and_its_entry_keeps_the_attribution(
    wordpress: Site, visitor: Visitor, second_form: dict[str, Any]
) -> None:
    keys = second_form["keys"]
    assert keys["first_utm_source"] != "first_utm_source", "Formidable renamed the second form's keys"
    page = visit_and_open_form(visitor, second_form["page"])
    page.fill(f"#field_{keys['your_name']}", NAME)
    page.fill(f"#field_{keys['your_email']}", EMAIL)
    with page.expect_navigation():
        page.click("button.frm_button_submit")
    page.wait_for_selector(".frm_message")
    stored = wordpress.call("ct_formidable_latest", second_form["id"])
    by_name = {name: stored.get(key) for name, key in keys.items()}  # back to the names we asked for
    event_id = check_entry(by_name, wordpress, visitor)
    assert [(c[1], c[3]["event_id"]) for c in visitor.measures()] == [("lead_created", event_id)]
