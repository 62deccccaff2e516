"""The Overview and Sources pages, empty and with data, and hostile webhook values rendered as text."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

from bench.fuzz_mutations import WEIRD_TEXT
from connector.store.models import Conversion, CrmWrite, Receipt, Submission
from connector.timeutil import utcnow
from tests.conftest import TOKEN

_keys = itertools.count(1)


def receipt(session, event_id: str | None = None, **values):  # type: ignore[no-untyped-def]
    """A receipt written straight into the ledger (processed unless `status` says otherwise)."""
    row = Receipt(
        source=values.pop("source", "generic"),
        delivery_key=f"key-{next(_keys)}",
        event_id=event_id,
        body=b"{}",
        status=values.pop("status", "processed"),
        **values,
    )
    session.add(row)
    session.flush()
    return row


def text_of(answer) -> str:  # type: ignore[no-untyped-def]
    return re.sub(r"\s+", " ", answer.get_data(as_text=True))


def seed_day(ctx) -> None:  # type: ignore[no-untyped-def]
    """Generic: 3 processed, 1 failed in 24 h (+1 older); Calendly: 1 retrying; a failed CRM write;
    conversions sent and failed."""
    now = utcnow()
    with ctx.sessions() as session, session.begin():
        for n in range(3):
            receipt(session, f"evt-ok-{n}", received_at=now - timedelta(minutes=n + 1))
        failed = receipt(
            session, "evt-bad", status="failed", last_error="BadPayload: no email", received_at=now
        )
        receipt(session, "evt-old", received_at=now - timedelta(days=2))
        receipt(session, "evt-cal", source="calendly", status="retrying", last_error="crm timeout")
        lead = Submission(receipt_id=failed.id, source="generic", event_id="evt-bad", submitted_at=now)
        session.add(lead)
        session.flush()
        session.add(CrmWrite(submission_id=lead.id, crm="hubspot", object_type="contacts", status="failed"))
        for n, status in enumerate(("sent", "sent", "failed")):
            session.add(Conversion(pixel_id="px", event_type="lead_created", event_id=f"c{n}", status=status))


def test_overview_empty_says_what_to_do(admin_client):
    page = text_of(admin_client("viewer").get("/admin/"))
    assert "Nothing received in the last 24 hours" in page
    assert "No conversions in the last 24 hours" in page
    assert "No worker is running" in page  # no `connector worker` in this test
    assert "Database" in page and "Redis" in page


def test_overview_with_data_counts_the_last_24_hours_and_links_what_needs_attention(admin_client, ctx):
    seed_day(ctx)
    answer = admin_client("viewer").get("/admin/")
    assert answer.status_code == 200
    page = text_of(answer)
    generic = re.search(r'href="/admin/sources#source-generic">[^<]*</a></td>(.*?)</tr>', page).group(1)
    assert re.findall(r'class="num">(?:<a[^>]*>)?(?:<span[^>]*>)?([\d,]+)', generic) == ["4", "3", "0", "1"]
    assert "Cal.com" not in page.split("Last 24 hours by source")[1].split("Conversions in")[0]
    assert "1 webhook(s) failed in the last 24 hours." in page
    assert 'href="/admin/failures?kind=receipt"' in page
    assert "1 CRM write(s) failed in the last 24 hours." in page
    assert 'href="/admin/failures?kind=crm_write"' in page
    assert "1 conversion(s) failed in the last 24 hours." in page
    conversions = page.split("Conversions in the last 24 hours")[1]
    assert re.search(r">sent</span></td><td class=\"num\">2<", conversions)
    assert re.search(r">failed</span></td><td class=\"num\">1<", conversions)


def test_overview_shows_queue_ledgers_and_a_running_worker(console):
    page = console.page("viewer")
    page.wait_for_selector("#workers table")
    workers = page.locator("#workers tbody tr")
    assert workers.count() == 1
    assert "s ago" in workers.first.inner_text()
    ledgers = page.locator("#queue tbody tr").all_inner_texts()
    assert any(line.startswith("receipts") for line in ledgers)
    assert "No worker is running" not in page.locator("#attention").inner_text()


def test_sources_lists_every_registered_source_with_its_url_and_secret_state(app, admin_client, ctx):
    from connector.intake import registry

    seed_day(ctx)
    page = text_of(admin_client("viewer").get("/admin/sources"))
    for source in registry.all_sources():
        assert f'id="source-{source.name}"' in page
    assert "<code>/webhooks/forms/generic</code>" in page and "web.public_url is not set" in page
    assert "1 secret from CONNECTOR_GENERIC_SECRET" in page
    assert TOKEN not in page  # the secret itself, never
    assert "set CONNECTOR_CALENDLY_SECRET: requests are refused until then" in page
    assert "no allowed origins" in page
    assert "crm timeout" in page and "BadPayload: no email" in page  # recent errors
    assert "<h1>Calendly</h1>" in page  # the setup guide, rendered
    assert 'href="#source-gravity_forms"' in page  # a link between guides stays on the page


def test_sources_show_the_full_url_from_the_public_url(ctx, admin_users):
    from dataclasses import replace

    from connector.app import create_app
    from tests.admin.conftest import sign_in

    settings = replace(ctx.settings, web=replace(ctx.settings.web, public_url="https://hooks.example.com/"))
    app = create_app(settings)
    client = app.test_client()
    sign_in(client, admin_users(role="viewer"))
    page = text_of(client.get("/admin/sources"))
    assert "<code>https://hooks.example.com/webhooks/booking/calendly</code>" in page
    assert "<code>https://hooks.example.com/collect</code>" in page
    assert "web.public_url is not set" not in page
    app.extensions["connector"].close()


def test_sources_empty_ledger_says_nothing_received(admin_client):
    page = text_of(admin_client("viewer").get("/admin/sources"))
    assert page.count("nothing received") >= 10 and "never" in page


MARKUP = [
    "<script>alert(1)</script>",
    '<img src=x onerror="window.__pwned=1">',
    '"><svg onload=alert(2)>',
    "javascript:alert(3)",
    "{{7*7}}{% raw %}",
    "</td></tr></table><b id=injected>x</b>",
    "\u202egnp.exe",
    "'; DROP TABLE receipts; --",
]
HOSTILE = MARKUP + [
    text
    for text in WEIRD_TEXT
    if text.strip()
    and text not in MARKUP
    and "\x00" not in text
    and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
]
"""Markup that would run or inject if rendered raw, then the intake fuzz corpus's weird strings (those a
receipt can hold: intake stores NULs and lone surrogates as U+FFFD)."""


def shot(console, page, name: str) -> None:  # type: ignore[no-untyped-def]
    """A PNG of the page under $ADMIN_SCREENSHOTS, for a person to look at (nothing when unset)."""
    import os

    folder = os.environ.get("ADMIN_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}-{console.ctx.engine.dialect.name}.png")


def test_in_chromium_hostile_values_render_as_text_on_overview_sources_and_audit(console):
    from connector.admin import audit

    now = utcnow()
    with console.ctx.sessions() as session, session.begin():
        for n, value in enumerate(HOSTILE):  # the markup newest: the Sources page shows the newest errors
            at = now - timedelta(seconds=n)
            receipt(session, value, source="generic", status="failed", last_error=value, received_at=at)
            receipt(session, value, source=value[:64], status="failed", last_error=value)
            audit.write(session, value, "mapping.edit", value, {value: value}, {"field": value})
    page = console.page("admin")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    for path in ("/admin/", "/admin/sources", "/admin/audit"):
        page.goto(f"{console.url}{path}")
        page.wait_for_load_state("load")
        assert page.evaluate("window.__pwned") is None
        assert page.locator("#injected").count() == 0
        assert page.locator("main script, main svg, main img[src=x]").count() == 0
        body = page.locator("main").inner_text()
        shown = [value for value in MARKUP[:6] if value in body]
        if path == "/admin/sources":
            assert shown == MARKUP[:3]  # the three newest errors, as text
        if path == "/admin/audit":
            assert shown == MARKUP[:6]
    shot(console, page, "audit-hostile")
    assert dialogs == []


def test_in_chromium_overview_and_sources_with_data_and_empty(console):
    page = console.page("admin")
    page.goto(f"{console.url}/admin/")
    shot(console, page, "overview-empty")
    page.goto(f"{console.url}/admin/sources")
    shot(console, page, "sources-empty")
    seed_day(console.ctx)
    page.goto(f"{console.url}/admin/")
    assert page.locator("#attention li").count() >= 3
    # The page fits a laptop screen: nothing wider than the viewport.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    shot(console, page, "overview-data")
    page.goto(f"{console.url}/admin/sources")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    shot(console, page, "sources-data")
    page.click("#source-calendly summary")
    assert page.locator("#source-calendly .guide h1").inner_text() == "Calendly"
    page.goto(f"{console.url}/admin/users")
    shot(console, page, "users")


def test_overview_counts_waiting_due_in_progress_and_overdue_rows(admin_client, ctx):
    now = utcnow()
    with ctx.sessions() as session, session.begin():
        receipt(session, "evt-stuck", status="received", received_at=now - timedelta(minutes=5))
        receipt(session, "evt-later", status="retrying", next_attempt_at=now + timedelta(minutes=5))
        receipt(session, "evt-lost", status="processing", lease_until=now - timedelta(minutes=1))
        receipt(session, "evt-busy", status="processing", lease_until=now + timedelta(minutes=1))
    page = text_of(admin_client("viewer").get("/admin/"))
    row = re.search(r"<tr><td>receipts</td>(.*?)</tr>", page).group(1)
    cells = re.findall(r'class="num">(?:<span[^>]*>)?([^<]+)<', row)
    assert cells == ["2", "2", "2", "2"]  # waiting, due now (stuck + lost lease), in progress, overdue
    assert "2 receipts overdue" in page
