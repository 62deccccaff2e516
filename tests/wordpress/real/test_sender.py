"""Our plugin as the sender: a real entry of Contact Form 7, Formidable and Fluent Forms, on a form without any
hidden field and without a webhook add-on, reaches a real connector, signed, with the attribution the script
kept in its `_attr` cookie; an outage is retried from the plugin's queue table and delivered once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Processes, wait_for

from .conftest import CF7_SECRET, Connector, Visitor, _up
from .site import Site
from .test_journey import EMAIL, NAME, expected_attribution, submit_cf7, submit_fluent, visit_and_open_form

WORDPRESS_SECRET = "whsec_" + "c2VuZGVyLWUyZS1zZWNyZXQtMDEyMzQ1Njc4OWFi"  # base64 of 30 bytes
SECRET_OPTION = "connector_attribution_secret"
TABLE = "connector_attribution_queue"


@pytest.fixture(scope="module")
def plain_forms(wordpress_site: Site) -> dict[str, Any]:
    """One form per runnable plugin with only name and email: no hidden field, no webhook add-on."""
    site = wordpress_site
    cf7 = site.call("ct_create_cf7_form", "Plain (CF7)", [])
    frm = site.call("ct_create_formidable_form", "Plain (Formidable)", [])
    fluent = site.call("ct_create_fluent_form", "Plain (Fluent Forms)", [])
    pages = {
        "cf7": site.call("ct_create_page", "plain-cf7", "Plain CF7", f'[contact-form-7 id="{cf7}"]')["path"],
        "formidable": site.call(
            "ct_create_page", "plain-formidable", "Plain Formidable", f"[formidable id={frm['id']}]"
        )["path"],
        "fluent": site.call("ct_create_page", "plain-fluent", "Plain Fluent", f"[fluentform id={fluent}]")[
            "path"
        ],
    }
    return {"cf7": cf7, "formidable": frm, "fluent": fluent, "pages": pages}


@pytest.fixture
def wp_connector(env: dict[str, str], request: pytest.FixtureRequest) -> Connector:
    """The real connector, also accepting our plugin's signature (CONNECTOR_WORDPRESS_SECRET)."""
    env["CONNECTOR_WORDPRESS_SECRET"] = WORDPRESS_SECRET
    return request.getfixturevalue("connector")


@pytest.fixture
def sender(wordpress: Site, wp_connector: Connector) -> Iterator[Site]:
    """The site with our plugin sending to the connector (its URL and secret saved), an empty queue."""
    wordpress.set_settings(consent="auto", endpoint=wp_connector.base_url, pixel_id="", root_domain="")
    wordpress.run("update_option($args[0], $args[1]); return true;", SECRET_OPTION, WORDPRESS_SECRET)
    wordpress.run(f'global $wpdb; $wpdb->query("DELETE FROM {{$wpdb->prefix}}{TABLE}"); return true;')
    yield wordpress
    wordpress.run("delete_option($args[0]); return true;", SECRET_OPTION)


def queue(site: Site) -> list[dict[str, Any]]:
    return site.run(
        f'global $wpdb; return $wpdb->get_results("SELECT * FROM {{$wpdb->prefix}}{TABLE} ORDER BY id", ARRAY_A);'
    )


def run_wp_cron(site: Site) -> None:
    """What a server's cron job does with DISABLE_WP_CRON set (the test site sets it): request wp-cron.php."""
    assert httpx.get(site.url("/wp-cron.php"), timeout=60).status_code == 200


def submit_formidable_plain(page: Any, keys: dict[str, str]) -> None:
    page.fill(f"#field_{keys['your_name']}", NAME)
    page.fill(f"#field_{keys['your_email']}", EMAIL)
    with page.expect_navigation():
        page.click("button.frm_button_submit")
    page.wait_for_selector(".frm_message")


def processed(connector: Connector, event_id: str) -> dict[str, Any]:
    def story() -> dict[str, Any] | None:
        found = connector.events_show(event_id)
        return found if found and [r["status"] for r in found["receipts"]] == ["processed"] else None

    return wait_for(story, timeout=30, message=f"`connector events show {event_id}`: processed")


def check_delivered(site: Site, connector: Connector, plugin: str, form_name: str) -> dict[str, Any]:
    """The one queued row was sent and emptied; the connector made one submission with the cookie's touch."""
    (row,) = queue(site)
    assert row["status"] == "sent", row
    assert row["body"] is None and row["http_status"] == "200" and row["plugin"] == plugin
    story = processed(connector, row["event_id"])
    assert [r["source"] for r in story["receipts"]] == ["wordpress"]
    (submission,) = story["submissions"]
    assert submission["contact"] == {"email": EMAIL, "name": NAME}
    attribution = submission["attribution"]
    expected = expected_attribution(site) | {"event_id": row["event_id"]}
    assert {k: attribution.get(k) for k in expected} == expected
    assert attribution["first_touch_at"] and attribution["latest_touch_at"]  # only the cookie has these
    return story


@pytest.mark.parametrize("plugin", ["contact_form_7", "formidable", "fluent_forms"])
def test_an_entry_without_hidden_fields_reaches_the_connector_with_the_cookies_attribution(
    sender: Site, wp_connector: Connector, visitor: Visitor, plain_forms: dict[str, Any], plugin: str
) -> None:
    pages = plain_forms["pages"]
    if plugin == "contact_form_7":
        submit_cf7(visit_and_open_form(visitor, pages["cf7"]))
        form_name = "Plain (CF7)"
    elif plugin == "formidable":
        submit_formidable_plain(
            visit_and_open_form(visitor, pages["formidable"]), plain_forms["formidable"]["keys"]
        )
        form_name = "Plain (Formidable)"
    else:
        submit_fluent(visit_and_open_form(visitor, pages["fluent"]))
        form_name = "Plain (Fluent Forms)"
    # the visitor's request only queued it (php -S has no fastcgi_finish_request; WP-Cron is disabled here)
    (row,) = queue(sender)
    assert row["status"] == "waiting" and row["attempts"] == "0"
    body = json.loads(row["body"])
    assert body["form_name"] == form_name and body["contact"] == {"email": EMAIL, "name": NAME}
    run_wp_cron(sender)
    check_delivered(sender, wp_connector, plugin, form_name)


def _serve(connector: Connector) -> Any:
    """The connector's `serve` child (started first by the connector fixture)."""
    return connector.processes.children[0]


def test_an_entry_made_while_the_connector_is_down_is_delivered_once_after_the_retry(
    sender: Site, wp_connector: Connector, visitor: Visitor, plain_forms: dict[str, Any], processes: Processes
) -> None:
    serve = _serve(wp_connector)
    serve.terminate()
    serve.wait(timeout=20)
    submit_cf7(visit_and_open_form(visitor, plain_forms["pages"]["cf7"]))  # the visitor sees success
    run_wp_cron(sender)
    (row,) = queue(sender)
    assert row["status"] == "waiting" and row["attempts"] == "1" and row["http_status"] is None
    assert row["last_error"].startswith("no answer:"), row["last_error"]
    assert row["body"] is not None

    port = wp_connector.base_url.rsplit(":", 1)[1]
    processes.start("serve", "--port", port, "--processes", "1", name="serve-again")
    wait_for(lambda: _up(f"{wp_connector.base_url}/readyz"), timeout=30, message="connector ready again")
    # not due yet: the retry waits its backoff (60 s after the first attempt)
    assert sender.call("connector_attribution_process_queue") == []
    (row,) = queue(sender)
    assert row["status"] == "waiting" and row["attempts"] == "1"
    sender.run(
        f'global $wpdb; return $wpdb->query("UPDATE {{$wpdb->prefix}}{TABLE} SET next_attempt_at = UTC_TIMESTAMP() - INTERVAL 1 SECOND");'
    )
    assert list(sender.call("connector_attribution_process_queue").values()) == ["sent"]
    story = check_delivered(sender, wp_connector, "contact_form_7", "Plain (CF7)")
    assert len(story["receipts"]) == 1
    (row,) = queue(sender)
    assert row["attempts"] == "2"
    # a later cron run (the retry event scheduled with the failure) finds nothing to send again
    run_wp_cron(sender)
    assert len(wp_connector.events_show(row["event_id"])["receipts"]) == 1


def test_with_cf7_to_webhook_too_both_deliveries_carry_the_posted_event_id_and_make_one_lead(
    sender: Site, wp_connector: Connector, visitor: Visitor
) -> None:
    """A site that keeps its hidden fields and CF7 to Webhook, and turns our sender on: two deliveries of one
    entry with the event_id the hidden field posted (the one the pixel measured); the connector keeps one lead."""
    form_id = sender.forms["cf7"]
    hook = f"{wp_connector.base_url}/webhooks/forms/contact_form_7?token={CF7_SECRET}"
    before = sender.call("get_post_meta", form_id, "_ctz_zapier", True)
    sender.call("ct_set_cf7_webhook", form_id, hook)
    try:
        submit_cf7(visit_and_open_form(visitor, sender.pages["cf7"]))
    finally:
        sender.call("update_post_meta", form_id, "_ctz_zapier", before)
    event_id = sender.call("ct_flamingo_latest", form_id)["event_id"]
    (row,) = queue(sender)
    assert row["event_id"] == event_id
    assert json.loads(row["body"])["attribution"]["event_id"] == event_id
    run_wp_cron(sender)
    assert queue(sender)[0]["status"] == "sent"

    def both() -> dict[str, Any] | None:
        story = wp_connector.events_show(event_id)
        done = (
            story
            and len(story["receipts"]) == 2
            and all(r["status"] != "received" for r in story["receipts"])
        )
        return story if done else None

    story = wait_for(both, timeout=30, message=f"both receipts of {event_id} processed")
    assert sorted(r["source"] for r in story["receipts"]) == ["contact_form_7", "wordpress"]
    assert len(story["submissions"]) == 1, story["submissions"]
    assert any("is a duplicate of receipt" in step["message"] for step in story["timeline"]), story[
        "timeline"
    ]
