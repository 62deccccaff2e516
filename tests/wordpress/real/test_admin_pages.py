"""Settings > Connector Attribution in a real WordPress, in Chromium as the site owner: hostile values in every
field are refused with an error each (never "Settings saved.") and shown only as text; Test connection shows
the connector's answer; the Deliveries tab shows a refused entry's reason, and Retry now sends it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Connector, Visitor
from .site import OPTION, Site
from .test_journey import submit_cf7, visit_and_open_form
from .test_sender import (
    SECRET_OPTION,
    WORDPRESS_SECRET,
    plain_forms,
    queue,
    run_wp_cron,
    sender,
    wp_connector,
)

__all__ = ["plain_forms", "sender", "wp_connector"]  # fixtures shared with test_sender

PASSWORD = "owner-password-0123"
SETTINGS_PATH = "/wp-admin/options-general.php?page=connector-attribution"
HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


class Owner:
    """The site owner, logged in to wp-admin in a browser context of their own."""

    def __init__(self, browser: Any, site: Site, shots: Path):
        self.site = site
        self.shots = shots
        self.dialogs: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 1400})
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.goto(site.url("/wp-login.php"))
        self.page.fill("#user_login", "admin")
        self.page.fill("#user_pass", PASSWORD)
        with self.page.expect_navigation():
            self.page.click("#wp-submit")

    def open(self, path: str = SETTINGS_PATH) -> Any:
        self.page.goto(self.site.url(path))
        return self.page

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def notices(self) -> list[str]:
        return [n.strip() for n in self.page.locator(".notice, .error, .updated").all_inner_texts()]


@pytest.fixture
def owner(chromium: Any, wordpress: Site, tmp_path: Path) -> Iterator[Owner]:
    wordpress.run("wp_set_password($args[0], 1); return true;", PASSWORD)
    o = Owner(chromium, wordpress, tmp_path)
    yield o
    o.context.close()
    assert o.dialogs == [], f"a value ran as script: {o.dialogs}"


def saved(site: Site) -> tuple[dict[str, str], str]:
    return site.run("return array(get_option($args[0]), get_option($args[1], ''));", OPTION, SECRET_OPTION)


def test_the_plugins_screen_links_to_the_settings(owner: Owner) -> None:
    page = owner.open("/wp-admin/plugins.php")
    link = page.locator("tr[data-plugin='connector-attribution/connector-attribution.php'] .settings a")
    assert link.inner_text() == "Settings"
    with page.expect_navigation():
        link.click()
    assert page.url.endswith("options-general.php?page=connector-attribution")


def test_hostile_values_in_every_field_are_refused_with_errors_and_shown_as_text(
    owner: Owner, wordpress: Site
) -> None:
    wordpress.set_settings(
        pixel_id="px_good",
        endpoint="https://connector.example.com",
        consent="auto",
        root_domain="example.com",
    )
    wordpress.run("update_option($args[0], 'whsec_b2xkLXNlY3JldA=='); return true;", SECRET_OPTION)
    page = owner.open()
    owner.shot("settings-before")
    page.fill("#ca-pixel", HOSTILE)
    page.fill("#ca-endpoint", "javascript:alert(3)//https://connector.example.com")
    page.fill("#ca-secret", "two words\n" + HOSTILE)
    page.fill("#ca-root", HOSTILE)
    with page.expect_navigation():
        page.click("#submit")
    shot = owner.shot("settings-hostile")
    text = " ".join(owner.notices())
    assert "Settings saved." not in text
    assert "OpenAI pixel id not saved" in text
    assert "Connector URL not saved" in text
    assert "Secret not saved" in text
    assert "Root domain not saved" in text
    options, secret = saved(wordpress)
    assert (options["pixel_id"], options["endpoint"], secret) == (
        "px_good",
        "https://connector.example.com",
        "whsec_b2xkLXNlY3JldA==",
    )
    assert options["root_domain"] == "example.com"
    # the page holds the saved values only, as attribute text; no script of ours ran
    assert page.input_value("#ca-pixel") == "px_good"
    assert page.input_value("#ca-secret") == ""
    assert "whsec_b2xkLXNlY3JldA==" not in page.content()
    assert page.locator(".wrap script, .wrap img").count() == 0
    assert shot.stat().st_size > 10_000

    # a query string or fragment on the connector URL is refused too; the pixel id's own format is kept
    page.fill("#ca-endpoint", "https://connector.example.com/?token=abc")
    page.fill("#ca-pixel", "px_new-2")
    with page.expect_navigation():
        page.click("#submit")
    text = " ".join(owner.notices())
    assert "Connector URL not saved" in text and "Settings saved." not in text
    assert saved(wordpress)[0]["pixel_id"] == "px_new-2"
    owner.shot("settings-query-refused")


def test_test_connection_shows_the_connectors_answer(
    owner: Owner, wordpress: Site, wp_connector: Connector
) -> None:
    page = owner.open()
    page.fill("#ca-endpoint", wp_connector.base_url)
    page.fill("#ca-secret", WORDPRESS_SECRET)
    page.fill("#ca-pixel", "")
    with page.expect_navigation():
        page.click("#submit")
    assert "Settings saved." in " ".join(owner.notices())
    assert saved(wordpress)[1] == WORDPRESS_SECRET
    with page.expect_navigation():
        page.click("#ca-test")
    result = page.inner_text("#ca-test-result")
    owner.shot("test-connection-ok")
    assert "Connected" in result and "HTTP status 200" in result and "signature valid" in result
    assert f"{wp_connector.base_url}/webhooks/forms/wordpress" in result

    wordpress.run("update_option($args[0], 'a-wrong-secret'); return true;", SECRET_OPTION)
    owner.open()
    with page.expect_navigation():
        page.click("#ca-test")
    result = page.inner_text("#ca-test-result")
    owner.shot("test-connection-401")
    assert (
        "Test connection failed" in result and "HTTP status 401" in result and "invalid signature" in result
    )
    wordpress.run("delete_option($args[0]); return true;", SECRET_OPTION)


def test_the_deliveries_tab_shows_a_refused_entry_and_retry_now_sends_it(
    owner: Owner, sender: Site, wp_connector: Connector, visitor: Visitor, plain_forms: dict[str, Any]
) -> None:
    sender.run("update_option($args[0], 'a-wrong-secret'); return true;", SECRET_OPTION)
    submit_cf7(visit_and_open_form(visitor, plain_forms["pages"]["cf7"]))
    run_wp_cron(sender)
    (row,) = queue(sender)
    assert (row["status"], row["http_status"], row["attempts"]) == ("failed", "401", "1")  # 401: not retried
    assert row["last_error"] == "HTTP 401: invalid signature" and row["body"] is not None

    page = owner.open(SETTINGS_PATH + "&tab=status")
    owner.shot("deliveries-failed")
    plugins = page.inner_text("#ca-plugins")
    assert "Contact Form 7\tactive\t0\t0\t1" in plugins
    assert "Gravity Forms\tnot active" in plugins
    failed = page.locator("#ca-deliveries tr[data-status='failed']")
    assert "HTTP 401: invalid signature" in failed.inner_text() and "Plain (CF7)" in failed.inner_text()

    sender.run("update_option($args[0], $args[1]); return true;", SECRET_OPTION, WORDPRESS_SECRET)
    with page.expect_navigation():
        page.click("#ca-retry")
    owner.shot("deliveries-retried")
    assert "1 entry was sent again." in " ".join(owner.notices())
    assert page.locator("#ca-deliveries tr[data-status='sent']").count() == 1
    (row,) = queue(sender)
    assert (row["status"], row["http_status"], row["body"]) == ("sent", "200", None)
    assert wp_connector.events_show(row["event_id"])["receipts"][0]["source"] == "wordpress"
