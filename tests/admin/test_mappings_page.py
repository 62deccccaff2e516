"""The Mappings page: each mapping beside the live CRM (the HubSpot double), edit -> diff -> save, refusals,
roles, "Create missing fields" and "Preview"; then in Chromium against `connector serve` and a worker, a saved
rule is written by the next submission without a restart."""

from __future__ import annotations

import re
import shutil
import tomllib
from html import unescape as html_unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from connector.store.models import AdminAudit
from tests.admin import ledger_rows as rows
from tests.admin.shots import screenshot
from tests.conftest import TOKEN, wait_for
from tests.crm_writes.conftest import hubspot_env
from tests.doubles.hubspot_double import HubSpotDouble

EXAMPLES = Path(__file__).resolve().parents[2] / "mappings"
CONTACT = "hubspot_contact.toml"
NEW_RULE = {"kind": "from", "from": "latest_utm_source", "to": "ai_console_source", "policy": "always"}


@pytest.fixture
def mapping_dir(tmp_path: Path) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(EXAMPLES, target, ignore=shutil.ignore_patterns("*.md"))
    return target


@pytest.fixture
def env(
    env: dict[str, str], hubspot_double: HubSpotDouble, mapping_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """This test's Flask app and processes: the HubSpot double, and mapping files of its own to edit."""
    env.update(hubspot_env(hubspot_double))
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", hubspot_double.token)  # the in-process app reads it here
    env["CONNECTOR_CRM__MAPPINGS_PATH"] = str(mapping_dir)
    hubspot_double.add_property("contacts", "ai_console_source", "string")
    return env


@pytest.fixture
def console_env(mapping_dir: Path) -> dict[str, str]:
    return {"CONNECTOR_CRM__MAPPINGS_PATH": str(mapping_dir)}


def _comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


def _review(client: Any, data: dict[str, str], name: str = CONTACT) -> Any:
    return client.post(f"/admin/mappings/{name}/review", data={"action": "add", **data})


def _save_form(html: str) -> dict[str, str]:
    """The hidden fields of the review page's Save form."""
    form = re.search(r'<form method="post" action="/admin/mappings/[^"]+/save".*?</form>', html, re.S)
    assert form, "no Save form on the review page"
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[0])
    return {name: html_unescape(value) for name, value in found if name != "csrf_token"}


def test_the_page_shows_each_rule_with_its_live_field_and_every_error_on_its_row(
    admin_client, hubspot_double
):
    hubspot_double.properties["contacts"].pop("latest_gclid", None)
    hubspot_double.properties["contacts"].pop("gclid", None)
    page = admin_client("viewer").get("/admin/mappings")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for name in ("hubspot_contact.toml", "hubspot_deal.toml", "salesforce_lead.toml"):
        assert f'id="{name}"' in html
    contact = html[html.index(f'id="{CONTACT}"') : html.index('id="hubspot_deal.toml"')]
    row = re.search(r"<tr[^>]*>\s*<td><code>firstname</code>.*?</tr>", contact, re.S)
    assert row and "exists" in row[0] and "string" in row[0] and ">yes<" in row[0]
    gclid = re.search(r'<tr class="row-error">\s*<td><code>gclid</code>.*?</tr>', contact, re.S)
    assert gclid and "missing" in gclid[0] and "field does not exist on contacts" in gclid[0]
    # Salesforce files are not the configured CRM: shown, not checked
    assert "not the configured CRM" in html
    # a viewer sees no edit controls
    assert "Add a rule" not in html and "Create missing fields" not in html


def test_an_edit_is_reviewed_as_a_diff_then_saved_with_comments_kept_and_the_previous_version(
    admin_client, mapping_dir, ctx
):
    editor = admin_client("editor")
    path = mapping_dir / CONTACT
    old = path.read_text()
    review = _review(editor, NEW_RULE)
    html = review.get_data(as_text=True)
    assert review.status_code == 200, html
    assert "+to = &#34;ai_console_source&#34;" in html or '+to = "ai_console_source"' in html
    assert path.read_text() == old  # reviewing writes nothing
    saved = editor.post(f"/admin/mappings/{CONTACT}/save", data=_save_form(html))
    assert saved.status_code == 303
    new = path.read_text()
    assert tomllib.loads(new)["fields"][-1] == {
        "from": "latest_utm_source",
        "to": "ai_console_source",
        "policy": "always",
    }
    assert _comments(new) == _comments(old)
    backups = list((ctx.settings.data_path / "versions" / "mappings").glob(f"{CONTACT}.*.bak"))
    assert [b.read_text() for b in backups] == [old]
    with ctx.sessions() as session:
        entry = session.scalars(select(AdminAudit).where(AdminAudit.action == "mapping.add")).one()
    assert entry.actor == editor.email and entry.before is None
    assert entry.after == {"from": "latest_utm_source", "to": "ai_console_source", "policy": "always"}
    assert "ai_console_source" in entry.target
    audit_page = editor.get("/admin/audit").get_data(as_text=True)
    assert "mapping.add" in audit_page and "ai_console_source" in audit_page
    # the same Save form again: the file changed since that review, so nothing is written twice
    again = editor.post(f"/admin/mappings/{CONTACT}/save", data=_save_form(html))
    assert again.status_code == 303 and path.read_text() == new


@pytest.mark.parametrize(
    ("rule", "shown"),
    [
        ({"to": "no_such_property"}, "field does not exist on contacts"),
        ({"to": "createdate"}, "field is read-only"),
        ({"policy": "sometimes"}, "one of once, always, if_empty"),
        ({"from": "frist_utm_source"}, "did you mean &#39;first_utm_source&#39;"),
    ],
)
def test_an_edit_the_loader_or_the_live_schema_refuses_is_explained_and_cannot_be_saved(
    admin_client, mapping_dir, rule, shown
):
    editor = admin_client("editor")
    path = mapping_dir / CONTACT
    old = path.read_text()
    review = _review(editor, {**NEW_RULE, **rule})
    html = review.get_data(as_text=True)
    assert review.status_code == 422
    assert "Not saved" in html and shown in html
    assert f"Save {CONTACT}" not in html
    # only a field that does not exist yet can be created from here (then the rule is saved)
    assert ("then save" in html) == (rule == {"to": "no_such_property"})
    # a Save forged from the refused review is refused again
    forged = editor.post(
        f"/admin/mappings/{CONTACT}/save", data={"action": "add", **NEW_RULE, **rule, "base": "x"}
    )
    assert forged.status_code in (303, 422)
    assert path.read_text() == old


def test_a_missing_field_is_created_in_the_crm_then_the_rule_saved(
    admin_client, mapping_dir, hubspot_double, ctx
):
    editor = admin_client("editor")
    path = mapping_dir / CONTACT
    review = _review(editor, {**NEW_RULE, "to": "ai_new_field"})
    assert review.status_code == 422
    form = re.search(
        r'<form method="post" action="/admin/mappings/[^"]+/save".*?</form>',
        review.get_data(as_text=True),
        re.S,
    )
    assert form and "Create ai_new_field in HubSpot, then save" in form[0]
    data = {
        n: html_unescape(v)
        for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[0])
        if n != "csrf_token"
    }
    assert data["create"] == "1"
    saved = editor.post(f"/admin/mappings/{CONTACT}/save", data=data)
    assert saved.status_code == 303
    assert "ai_new_field" in hubspot_double.properties["contacts"]
    assert tomllib.loads(path.read_text())["fields"][-1]["to"] == "ai_new_field"
    with ctx.sessions() as session:
        actions = session.scalars(select(AdminAudit.action).order_by(AdminAudit.id)).all()
    assert actions == ["mapping.create_fields", "mapping.add"]


def test_changing_and_removing_a_rule(admin_client, mapping_dir):
    editor = admin_client("editor")
    path = mapping_dir / CONTACT
    rules = tomllib.loads(path.read_text())["fields"]
    phone = next(i for i, r in enumerate(rules) if r["to"] == "phone")
    form = editor.get(f"/admin/mappings/{CONTACT}/edit?rule={phone}").get_data(as_text=True)
    assert 'value="phone"' in form and f'name="index" value="{phone}"' in form
    review = editor.post(
        f"/admin/mappings/{CONTACT}/review",
        data={
            "action": "change",
            "index": str(phone),
            "kind": "from",
            "from": "phone",
            "to": "phone",
            "policy": "always",
        },
    )
    assert review.status_code == 200
    assert (
        editor.post(
            f"/admin/mappings/{CONTACT}/save", data=_save_form(review.get_data(as_text=True))
        ).status_code
        == 303
    )
    assert tomllib.loads(path.read_text())["fields"][phone]["policy"] == "always"
    review = editor.post(f"/admin/mappings/{CONTACT}/review", data={"action": "remove", "index": str(phone)})
    html = review.get_data(as_text=True)
    assert "-to = &#34;phone&#34;" in html or '-to = "phone"' in html
    assert editor.post(f"/admin/mappings/{CONTACT}/save", data=_save_form(html)).status_code == 303
    assert "phone" not in [r["to"] for r in tomllib.loads(path.read_text())["fields"]]


def test_a_viewer_is_refused_every_change_and_nothing_is_written(admin_client, mapping_dir, hubspot_double):
    viewer = admin_client("viewer")
    path = mapping_dir / CONTACT
    old = path.read_text()
    properties = set(hubspot_double.properties["contacts"])
    for url, data in (
        (f"/admin/mappings/{CONTACT}/edit", None),
        (f"/admin/mappings/{CONTACT}/review", {"action": "add", **NEW_RULE}),
        (f"/admin/mappings/{CONTACT}/save", {"action": "add", **NEW_RULE}),
        (f"/admin/mappings/{CONTACT}/review", {"action": "remove", "index": "0"}),
        ("/admin/mappings/setup", {}),
    ):
        answer = viewer.get(url) if data is None else viewer.post(url, data=data)
        assert answer.status_code == 403, url
    assert path.read_text() == old
    assert set(hubspot_double.properties["contacts"]) == properties


def test_a_save_without_the_csrf_token_is_refused(admin_client, mapping_dir):
    editor = admin_client("editor")
    path = mapping_dir / CONTACT
    old = path.read_text()
    html = _review(editor, NEW_RULE).get_data(as_text=True)
    answer = editor.post(f"/admin/mappings/{CONTACT}/save", data=_save_form(html), csrf=False)
    assert answer.status_code == 400 and path.read_text() == old


def test_a_file_outside_the_mapping_directory_cannot_be_named(admin_client):
    editor = admin_client("editor")
    for name in ("..%2Fconfig.toml", "README.md", "nope.toml"):
        assert editor.get(f"/admin/mappings/{name}/edit").status_code == 404


def test_create_missing_fields_runs_crm_setup(admin_client, hubspot_double, ctx):
    hubspot_double.properties["contacts"].pop("gclid")
    answer = admin_client("editor").post("/admin/mappings/setup")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "created gclid" in html
    assert "gclid" in hubspot_double.properties["contacts"]
    with ctx.sessions() as session:
        assert session.scalars(select(AdminAudit.action)).all() == ["mapping.crm_setup"]


def test_preview_shows_what_each_field_would_get_for_a_stored_submission(admin_client, ctx):
    with ctx.sessions.begin() as session:
        sub = rows.lead(session, "evt-preview", email="ann@example.com", oppref="opp-1")
        sub.attribution = {**sub.attribution, "first_utm_source": "chatgpt.com", "event_id": "evt-preview"}
        sub.contact = {"email": "ann@example.com", "first_name": "<b>Ann</b>"}
        sub_id = sub.id
    viewer = admin_client("viewer")
    listing = viewer.get("/admin/mappings").get_data(as_text=True)
    assert f'<option value="{sub_id}">' in listing
    html = viewer.get(f"/admin/mappings/preview?submission={sub_id}").get_data(as_text=True)
    assert "HubSpot contacts" in html
    assert re.search(r"<code>first_utm_source</code>\s*</td>\s*<td><code>chatgpt.com</code>", html)
    assert "&lt;b&gt;Ann&lt;/b&gt;" in html and "<b>Ann</b>" not in html
    assert viewer.get("/admin/mappings/preview?submission=999999").status_code == 404


def _post_lead(console: Any, event_id: str, source: str) -> None:
    body = {
        "email": f"{event_id}@example.com",
        "last_name": "Silva",
        "event_id": event_id,
        "latest_utm_source": source,
    }
    answer = httpx.post(
        f"{console.url}/webhooks/forms/generic", json=body, headers={"X-Connector-Token": TOKEN}, timeout=10
    )
    assert answer.status_code == 200, answer.text


def _written(console: Any, email: str, prop: str) -> str | None:
    found = console.hubspot.find("contacts", "email", email)
    return found[1].get(prop) if found else None


def test_in_chromium_a_saved_rule_is_written_by_the_next_submission_without_a_restart(console, mapping_dir):
    path = mapping_dir / CONTACT
    old = path.read_text()
    _post_lead(console, "evt-before", "newsletter")
    wait_for(
        lambda: _written(console, "evt-before@example.com", "lastname") == "Silva",
        timeout=40,
        message="first lead written",
    )
    assert _written(console, "evt-before@example.com", "ai_console_source") is None
    serve_pid = [p.pid for p in console.processes.children]

    page = console.page("editor")
    page.goto(f"{console.url}/admin/mappings")
    screenshot(console, page, "mappings")
    page.click(f'section[id="{CONTACT}"] >> text=Add a rule')
    page.fill("#from", "latest_utm_source")
    page.fill("#to", "ai_console_source")
    page.select_option("#policy", "always")
    screenshot(console, page, "mappings-edit")
    page.click("text=Review the change")
    diff = page.locator("pre.diff")
    assert '+to = "ai_console_source"' in diff.inner_text()
    assert path.read_text() == old
    screenshot(console, page, "mappings-review")
    page.click(f"text=Save {CONTACT}")
    assert "New submissions use it now" in page.locator(".flash-ok").inner_text()
    assert _comments(path.read_text()) == _comments(old)

    _post_lead(console, "evt-after", "chatgpt.com")
    wait_for(
        lambda: _written(console, "evt-after@example.com", "ai_console_source") == "chatgpt.com",
        timeout=40,
        message="the new rule written by the worker",
    )
    assert [p.pid for p in console.processes.children] == serve_pid
    assert all(p.poll() is None for p in console.processes.children)

    # Preview: the newest submission, dry-run through the saved mapping
    page.goto(f"{console.url}/admin/mappings")
    page.click("button:has-text('Preview')")
    assert "ai_console_source" in page.locator("table.data").inner_text()
    screenshot(console, page, "mappings-preview")

    # a rule the live schema refuses: the error is shown, there is no Save, the file is unchanged
    saved = path.read_text()
    page.goto(f"{console.url}/admin/mappings")
    page.click(f'section[id="{CONTACT}"] >> text=Add a rule')
    page.fill("#from", "gclid")
    page.fill("#to", "no_such_property")
    page.click("text=Review the change")
    assert "field does not exist on contacts" in page.locator(".flash-error").inner_text()
    assert page.locator("text=Save hubspot_contact.toml").count() == 0
    screenshot(console, page, "mappings-refused")
    assert path.read_text() == saved

    # a viewer sees no edit controls and is refused a forged save
    viewer = console.page("viewer")
    viewer.goto(f"{console.url}/admin/mappings")
    assert viewer.locator("text=Add a rule").count() == 0
    token = viewer.locator('meta[name="csrf-token"]').get_attribute("content")
    forged = viewer.request.post(
        f"{console.url}/admin/mappings/{CONTACT}/save",
        form={"csrf_token": token, "action": "remove", "index": "0"},
    )
    assert forged.status == 403 and path.read_text() == saved
