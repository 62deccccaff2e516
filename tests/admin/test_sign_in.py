"""Signing in to the console: off until a user exists, passwords, rate limit, CSRF, cookie flags, idle
timeout, the SSO proxy's header, and a real sign-in in Chromium against `connector serve`."""

from __future__ import annotations

import time

import pytest

from connector.admin import throttle
from connector.app import create_app
from tests.admin.conftest import PASSWORD, sign_in


def test_console_is_off_until_a_user_exists_and_says_how_to_turn_it_on(client, admin_users):
    off = client.get("/admin/")
    assert off.status_code == 404
    assert "connector admin add-user" in off.get_data(as_text=True)
    assert client.get("/admin/sign-in").status_code == 404
    admin_users(role="admin")
    answer = client.get("/admin/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/admin/sign-in")


def test_sign_in_with_the_right_password_reaches_the_overview(client, admin_users):
    email = admin_users(role="viewer")
    answer = sign_in(client, email)
    assert answer.status_code == 302 and answer.headers["Location"] == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200 and email in page.get_data(as_text=True)


def test_wrong_password_and_unknown_email_are_refused_alike(client, admin_users):
    email = admin_users(role="admin")
    wrong = sign_in(client, email, "not the password")
    unknown = sign_in(client, "nobody@example.com", PASSWORD)
    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert "Wrong email or password." in answer.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302  # still signed out


def test_sign_in_is_rate_limited_per_email_and_per_ip(app, admin_users, ctx):
    email = admin_users(role="admin")
    limit = ctx.settings.admin.sign_in_attempts
    attacker = app.test_client()
    for _ in range(limit):
        assert sign_in(attacker, email, "guess").status_code == 401
    blocked = sign_in(attacker, email, PASSWORD)  # even the right password waits now
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in blocked.get_data(as_text=True)
    # Per IP: the same client trying other emails is refused too; another IP for another email is not.
    other = admin_users(role="viewer")
    assert sign_in(attacker, other, PASSWORD).status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert sign_in(elsewhere, other, PASSWORD).status_code == 302


def test_failures_past_the_window_no_longer_count(app, admin_users, ctx):
    email = admin_users(role="admin")
    conf = ctx.settings.admin
    with ctx.sessions() as session, session.begin():
        for _ in range(conf.sign_in_attempts):
            throttle.failed(session, conf, email, "127.0.0.1")
    assert sign_in(app.test_client(), email).status_code == 429
    from connector.store.models import AdminSignInFailure
    from connector.timeutil import utcnow

    with ctx.sessions() as session, session.begin():
        for row in session.query(AdminSignInFailure):
            row.at = utcnow().replace(year=2020)
    assert sign_in(app.test_client(), email).status_code == 302


def test_sign_in_without_or_with_a_wrong_csrf_token_is_refused(client, admin_users):
    email = admin_users(role="admin")
    client.get("/admin/sign-in")
    for data in ({}, {"csrf_token": "forged"}):
        answer = client.post("/admin/sign-in", data={"email": email, "password": PASSWORD, **data})
        assert answer.status_code == 400
        assert "did not come from this console" in answer.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_session_cookie_is_httponly_samesite_lax_and_scoped_to_the_console(client, admin_users):
    email = admin_users(role="admin")
    cookie = sign_in(client, email).headers["Set-Cookie"]
    assert cookie.startswith("connector_admin=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # web.public_url is not https here


def test_session_cookie_is_secure_when_the_public_url_is_https(ctx, monkeypatch, admin_users):
    from dataclasses import replace

    settings = replace(ctx.settings, web=replace(ctx.settings.web, public_url="https://hooks.example.com"))
    app = create_app(settings)
    app.extensions["connector"] = ctx
    email = admin_users(role="admin")
    cookie = sign_in(app.test_client(), email).headers["Set-Cookie"]
    assert "; Secure" in cookie and "HttpOnly" in cookie


def test_an_idle_session_is_signed_out(ctx, admin_users):
    from dataclasses import replace

    settings = replace(ctx.settings, admin=replace(ctx.settings.admin, idle_timeout_seconds=1))
    app = create_app(settings)
    app.extensions["connector"] = ctx
    client = app.test_client()
    sign_in(client, admin_users(role="admin"))
    assert client.get("/admin/").status_code == 200
    time.sleep(2.2)
    assert client.get("/admin/").status_code == 302


def test_sign_out_ends_the_session(admin_client):
    admin = admin_client("viewer")
    assert admin.post("/admin/sign-out").status_code == 302
    assert admin.get("/admin/").status_code == 302


def test_a_removed_user_is_signed_out_at_the_next_request(admin_client, ctx):
    from connector.admin.users import remove_user

    viewer = admin_client("viewer")
    assert viewer.get("/admin/").status_code == 200
    with ctx.sessions() as session, session.begin():
        remove_user(session, viewer.email)
    assert viewer.get("/admin/").status_code == 302


@pytest.fixture
def sso_app(ctx):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    admin = replace(ctx.settings.admin, trusted_header="X-Forwarded-Email", trusted_proxies=["127.0.0.1"])
    app = create_app(replace(ctx.settings, admin=admin))  # its own Context: same ledger, these settings
    yield app
    app.extensions["connector"].close()


def test_the_sso_header_signs_in_an_existing_user_only_from_the_trusted_proxy(sso_app, admin_users):
    email = admin_users(role="editor")
    proxy = sso_app.test_client()
    page = proxy.get("/admin/", headers={"X-Forwarded-Email": email.upper()})
    assert page.status_code == 200 and email in page.get_data(as_text=True)
    assert proxy.get("/admin/", headers={"X-Forwarded-Email": "stranger@example.com"}).status_code == 302
    outsider = sso_app.test_client()
    outsider.environ_base["REMOTE_ADDR"] = "203.0.113.5"
    assert outsider.get("/admin/", headers={"X-Forwarded-Email": email}).status_code == 302


def test_the_sso_header_is_ignored_when_it_is_off(client, admin_users):
    email = admin_users(role="admin")
    assert client.get("/admin/", headers={"X-Forwarded-Email": email}).status_code == 302


def test_sign_in_in_chromium_against_connector_serve(console):
    # `connector serve` started with no user yet: it said how to create the first one.
    assert "connector admin add-user you@example.com --role admin" in console.processes.logs()
    email = console.user("editor")
    page = console.new_page()
    page.goto(f"{console.url}/admin/")
    assert "/admin/sign-in" in page.url
    page.fill("#email", email)
    page.fill("#password", "wrong password!")
    page.click("button[type=submit]")
    assert page.locator(".flash-error").inner_text() == "Wrong email or password."
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{console.url}/admin/")
    assert page.locator(".who-email").inner_text() == email
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["connector_admin"]["httpOnly"] and cookies["connector_admin"]["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # not readable from scripts


def test_an_unknown_console_address_is_the_console_404_page_and_webhooks_keep_json_errors(
    admin_client, client
):
    viewer = admin_client("viewer")
    page = viewer.get("/admin/no-such-page")
    assert page.status_code == 404 and "No console page has this address." in page.get_data(as_text=True)
    webhook = client.post("/webhooks/forms/no-such-source")
    assert webhook.status_code == 404 and webhook.get_json()["status"] == 404
