"""The Report page in real Chromium against a running `connector serve`: the charts and the table show the
seeded numbers, a cell opens its people, and the page is screenshotted for a person to look at."""

from __future__ import annotations

import os
from pathlib import Path

from tests.admin.conftest import admin_browser, console, console_env
from tests.admin.shots import screenshot

__all__ = ["admin_browser", "console", "console_env"]


def test_report_page_in_chromium(seeded, console, tmp_path):  # type: ignore[no-untyped-def]
    page = console.page("viewer")
    page.set_viewport_size({"width": 1366, "height": 1000})
    page.goto(f"{console.url}/admin/report?by=ai_source&touch=first")
    assert page.locator("svg.chart").count() == 3
    assert page.locator("svg.chart rect[fill='#3552d4']").count() >= 1  # chatgpt's colour in the bars
    row = page.locator("table.report tbody tr", has=page.locator("th", has_text="chatgpt"))
    cells = row.locator("td").all_inner_texts()
    assert cells[:6] == ["2", "2", "0", "2", "2", "99.99 EUR; 1,200.50 USD"]
    assert page.locator("table.report tbody tr").count() == 6
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    screenshot(console, page, "report", full_page=True)
    if os.environ.get("REPORT_SCREENSHOT"):
        Path(os.environ["REPORT_SCREENSHOT"]).write_bytes(shot.read_bytes())

    page.select_option("select[name=touch]", "any")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**touch=any**")
    assert page.locator("table.report tbody tr").count() == 5  # AI sources only

    row = page.locator("table.report tbody tr", has=page.locator("th", has_text="openai_ads"))
    row.locator("td").nth(4).locator("a").click()
    page.wait_for_url("**/admin/report/cell**")
    listing = page.locator("table.data tbody").inner_text()
    assert "ben@example.com" in listing and "gus@example.com" in listing
