"""The Stage rules page: rules beside the live HubSpot double's pipelines and stages, a rule added with the
stage picked from the CRM (reviewed as a diff of the config file, comments kept, previous version kept),
refusals, roles, and the stage changes received with what each became; then the same in Chromium."""

from __future__ import annotations

import re
import shutil
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select

from connector.events.stage_rules_file import current_stage_rules, rules_table
from connector.store.models import AdminAudit
from tests.admin import ledger_rows as rows
from tests.admin.shots import screenshot
from tests.crm_writes.conftest import hubspot_env
from tests.doubles.hubspot_double import HubSpotDouble

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
WON = {
    "action": "add",
    "name": "won",
    "target": "deals|default|closedwon",
    "event": "order_created",
    "fire": "once",
}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "connector.toml"
    shutil.copy(EXAMPLE, path)
    return path


@pytest.fixture
def env(
    env: dict[str, str], hubspot_double: HubSpotDouble, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """This test's app and processes: the HubSpot double and a config file of their own to edit."""
    env.update(hubspot_env(hubspot_double))
    env["CONNECTOR_CONFIG"] = str(config_file)
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", hubspot_double.token)  # the in-process app reads it here
    return env


@pytest.fixture
def console_env(config_file: Path) -> dict[str, str]:
    return {"CONNECTOR_CONFIG": str(config_file)}


def _comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


def _save_form(html: str) -> dict[str, str]:
    form = re.search(r'<form method="post" action="/admin/stages/save".*?</form>', html, re.S)
    assert form, "no Save form on the review page"
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[0])
    return {name: unescape(value) for name, value in found if name != "csrf_token"}


def _add_rules(config_file: Path, text: str) -> None:
    config_file.write_text(config_file.read_text().replace("[report]", text + "\n[report]", 1))


def test_rules_are_shown_beside_the_live_stages_with_every_unknown_stage_on_its_row(
    admin_client, config_file
):
    _add_rules(
        config_file,
        '[stages.rules.won]\ncrm = "hubspot"\nobject = "deal"\nstage = "closedwon"\nevent = "order_created"\n\n'
        '[stages.rules.typo]\ncrm = "hubspot"\nobject = "deal"\nstage = "Closed Wonn"\nevent = "order_created"\n',
    )
    html = admin_client("viewer").get("/admin/stages").get_data(as_text=True)
    won = re.search(r"<tr[^>]*>\s*<td><code>won</code>.*?</tr>", html, re.S)
    assert won and "Closed Won" in won[0] and "found" in won[0] and "row-error" not in won[0]
    typo = re.search(r'<tr class="row-error">\s*<td><code>typo</code>.*?</tr>', html, re.S)
    assert typo and "hubspot has no deals stage &#39;Closed Wonn&#39;" in typo[0] and "Closed Won" in typo[0]
    assert "Add a rule" not in html  # a viewer


def test_the_stage_picker_offers_the_live_pipelines_and_lifecycle_stages(admin_client, hubspot_double):
    hubspot_double.add_deal_stage("contractsent", "Contract Sent")
    html = admin_client("editor").get("/admin/stages/edit").get_data(as_text=True)
    assert '<optgroup label="Deals: Sales Pipeline">' in html
    assert '<option value="deals|default|closedwon">Closed Won (closedwon)</option>' in html
    assert '<option value="deals|default|contractsent">Contract Sent (contractsent)</option>' in html
    assert '<optgroup label="Contacts: lifecycle stage">' in html and 'value="contacts||customer"' in html


def test_a_rule_is_reviewed_as_a_diff_then_saved_with_comments_kept_and_in_force(
    admin_client, config_file, ctx
):
    editor = admin_client("editor")
    old = config_file.read_text()
    review = editor.post("/admin/stages/review", data=WON)
    html = review.get_data(as_text=True)
    assert review.status_code == 200, html
    assert "+[stages.rules.won]" in html and "+stage = &#34;closedwon&#34;" in html
    assert config_file.read_text() == old
    assert editor.post("/admin/stages/save", data=_save_form(html)).status_code == 303
    new = config_file.read_text()
    assert rules_table(new) == {
        "won": {
            "crm": "hubspot",
            "object": "deals",
            "pipeline": "default",
            "stage": "closedwon",
            "event": "order_created",
            "fire": "once",
        }
    }
    assert _comments(new) == _comments(old)
    backups = list((ctx.settings.data_path / "versions" / "config").glob("connector.toml.*.bak"))
    assert [b.read_text() for b in backups] == [old]
    rules = current_stage_rules(str(config_file), {})
    assert [(r.name, r.stage, r.event) for r in rules.rules] == [("won", "closedwon", "order_created")]
    with ctx.sessions() as session:
        entry = session.scalars(select(AdminAudit).where(AdminAudit.action == "stage_rule.add")).one()
    assert (
        entry.actor == editor.email
        and entry.target == "stages.rules.won"
        and entry.after["stage"] == "closedwon"
    )
    assert "stage_rule.add" in editor.get("/admin/audit").get_data(as_text=True)
    # change it, then remove it
    form = editor.get("/admin/stages/edit?rule=won").get_data(as_text=True)
    assert 'value="deals|default|closedwon" selected' in form
    change = {**WON, "action": "change", "event": "lead_created", "fire": "each_entry"}
    html = editor.post("/admin/stages/review", data=change).get_data(as_text=True)
    assert editor.post("/admin/stages/save", data=_save_form(html)).status_code == 303
    assert rules_table(config_file.read_text())["won"]["fire"] == "each_entry"
    html = editor.post("/admin/stages/review", data={"action": "remove", "name": "won"}).get_data(
        as_text=True
    )
    assert "-[stages.rules.won]" in html
    assert editor.post("/admin/stages/save", data=_save_form(html)).status_code == 303
    assert rules_table(config_file.read_text()) == {} and _comments(config_file.read_text()) == _comments(old)


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"target": "deals|default|nope"}, "hubspot has no deals stage &#39;nope&#39;"),
        ({"target": "deals|other|closedwon"}, "hubspot has no deals pipeline &#39;other&#39;"),
        ({"event": "purchase"}, "expected an OpenAI event type"),
        ({"event": "custom"}, "custom_event_name"),
        ({"name": "bad name"}, "1-64 letters"),
    ],
)
def test_a_rule_the_loader_or_the_live_crm_refuses_is_explained_and_not_saved(
    admin_client, config_file, change, shown
):
    editor = admin_client("editor")
    old = config_file.read_text()
    answer = editor.post("/admin/stages/review", data={**WON, **change})
    html = answer.get_data(as_text=True)
    assert answer.status_code in (400, 422)
    assert shown in html and "/admin/stages/save" not in html
    forged = editor.post("/admin/stages/save", data={**WON, **change, "base": "x"})
    assert forged.status_code == 303 and config_file.read_text() == old


def test_a_viewer_is_refused_every_change(admin_client, config_file):
    viewer = admin_client("viewer")
    old = config_file.read_text()
    assert viewer.get("/admin/stages/edit").status_code == 403
    assert viewer.post("/admin/stages/review", data=WON).status_code == 403
    assert viewer.post("/admin/stages/save", data=WON).status_code == 403
    assert viewer.post("/admin/stages/review", data={"action": "remove", "name": "won"}).status_code == 403
    assert config_file.read_text() == old


def test_stage_changes_are_listed_with_what_each_became_and_why(admin_client, ctx):
    with ctx.sessions.begin() as session:
        sent = rows.conversion(session, "evt-won", status="sent")
        rows.stage_change(
            session,
            "deal-1",
            status="converted",
            rule="won",
            conversion_id=sent.id,
            attributed_event_id="evt-won",
        )
        rows.stage_change(
            session, "deal-2", status="expired", rule="won", last_error="entered the stage 9 days ago"
        )
        rows.stage_change(session, "deal-3", status="unattributable", rule="won")
        rows.stage_change(session, "deal-4", status="no_rule", stage="qualifiedtobuy")
        rows.stage_change(
            session, "<script>alert(1)</script>", status="skipped", last_error="<img src=x onerror=alert(1)>"
        )
    html = admin_client("viewer").get("/admin/stages").get_data(as_text=True)
    for record, became, why in (
        ("deal-1", "sent", "became a conversion"),
        ("deal-2", "expired", "too old for OpenAI"),
        ("deal-3", "unattributable", "no oppref, event id or consented email"),
        ("deal-4", "no rule", "no rule for this stage"),
    ):
        row = next(r for r in html.split("<tr") if f"<code>{record}</code>" in r)
        assert became in row and why in row, record
    assert "entered the stage 9 days ago" in html and 'href="/admin/events/evt-won"' in html
    assert "<script>alert(1)</script>" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_stage_changes_filter_by_status_and_page_within_it(admin_client, ctx):
    from connector.admin.paging import PER_PAGE

    with ctx.sessions.begin() as session:
        for n in range(PER_PAGE + 2):
            rows.stage_change(session, f"expired-{n}", status="expired", rule="won")
        rows.stage_change(session, "sent-1", status="converted", rule="won")
    client = admin_client("viewer")
    html = client.get("/admin/stages?status=expired").get_data(as_text=True)
    assert "that too old for OpenAI (7-day window)" in html
    assert "<code>sent-1</code>" not in html, "only the status asked for"
    assert html.count("<code>expired-") == PER_PAGE
    older = re.search(r'href="([^"]*before=\d+[^"]*)"', html)
    assert older and "status=expired" in older.group(1), "the pager keeps the filter"
    rest = client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert rest.count("<code>expired-") == 2 and "<code>sent-1</code>" not in rest
    empty = client.get("/admin/stages?status=record_deleted").get_data(as_text=True)
    assert "No stage change with this status" in empty
    wrong = client.get("/admin/stages?status=bogus")
    assert wrong.status_code == 400 and "status: expected one of" in wrong.get_data(as_text=True)


def test_without_a_config_file_the_rules_are_read_only(admin_client, env, app):
    from dataclasses import replace

    ctx = app.extensions["connector"]  # its settings came from the config file: pretend they did not
    object.__setattr__(ctx, "settings", replace(ctx.settings, source_path=""))
    editor = admin_client("editor")
    html = editor.get("/admin/stages").get_data(as_text=True)
    assert "started without a config file" in html and "Add a rule" not in html
    assert editor.post("/admin/stages/review", data=WON).status_code == 409


def test_in_chromium_a_rule_is_added_from_the_live_stage_picker(console, config_file):
    old = config_file.read_text()
    page = console.page("editor")
    page.goto(f"{console.url}/admin/stages")
    screenshot(console, page, "stages-empty")
    page.click("text=Add a rule")
    page.fill("#name", "won")
    page.select_option("#target", "deals|default|closedwon")
    page.select_option("#event", "order_created")
    screenshot(console, page, "stages-edit")
    page.click("text=Review the change")
    assert "+[stages.rules.won]" in page.locator("pre.diff").inner_text()
    assert config_file.read_text() == old
    screenshot(console, page, "stages-review")
    page.click("text=Save stage rule won")
    assert "Workers use it from their next batch" in page.locator(".flash-ok").inner_text()
    row = page.locator("table.rules tr", has_text="won")
    assert "Closed Won" in row.inner_text() and "found" in row.inner_text()
    with console.ctx.sessions.begin() as session:
        rows.stage_change(session, "deal-9", status="converted", rule="won")
    page.reload()
    screenshot(console, page, "stages")
    assert _comments(config_file.read_text()) == _comments(old)
    viewer = console.page("viewer")
    viewer.goto(f"{console.url}/admin/stages")
    assert viewer.locator("text=Add a rule").count() == 0 and viewer.locator("text=Remove").count() == 0
