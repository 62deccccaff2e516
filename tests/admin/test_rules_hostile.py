"""Hostile webhook values (markup and the intake fuzz corpus's weird strings) stored in stage changes and
submissions render as text on the Stage rules page, the Mappings page's submission list and the Preview."""

from __future__ import annotations

from tests.admin import ledger_rows as rows
from tests.admin.shots import screenshot
from tests.admin.test_overview_sources import HOSTILE, MARKUP


def _assert_inert(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_load_state("load")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#injected").count() == 0
    assert page.locator("main script, main svg, main img[src=x]").count() == 0


def test_in_chromium_hostile_values_render_as_text_on_stage_rules_mappings_and_preview(console):
    first = 0
    with console.ctx.sessions.begin() as session:
        for value in HOSTILE:
            rows.stage_change(
                session,
                value[:64],
                stage=value[:255],
                pipeline=value[:255],
                rule=value[:128],
                status="skipped",
                last_error=value,
                crm=value[:32],
                object_type=value[:64],
            )
            receipt = rows.receipt(session, value[:255], source=value[:64])
            sub = rows.submission(
                session,
                receipt,
                form_id=value[:255],
                contact={"email": value, "first_name": value, "company": value},
                attribution={"first_utm_source": value, "event_id": value, "oppref": value},
            )
            first = first or sub.id  # MARKUP[0]'s
    page = console.page("viewer")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{console.url}/admin/stages")
    _assert_inert(page)
    body = page.locator("main").inner_text()
    assert [v for v in MARKUP[:3] if v in body] == MARKUP[:3]  # shown, as text
    screenshot(console, page, "stages-hostile")
    page.goto(f"{console.url}/admin/mappings")
    _assert_inert(page)
    page.goto(f"{console.url}/admin/mappings/preview?submission={first}")
    _assert_inert(page)
    assert MARKUP[0] in page.locator("main").inner_text()
    screenshot(console, page, "mappings-preview-hostile")
    assert dialogs == []
