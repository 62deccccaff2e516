"""The Mappings and Stage rules pages against the Salesforce double: describe over TLS, a field too short for
click ids and a restricted picklist refused, a good rule saved; Opportunity stages and Lead statuses from
their picklists in the stage picker."""

from __future__ import annotations

import re
import shutil
import tomllib
from html import unescape
from pathlib import Path

import pytest

from tests.crm.conftest import salesforce_double  # noqa: F401  (fixture)
from tests.crm_writes.conftest import salesforce_env
from tests.doubles.salesforce_double import SalesforceDouble

EXAMPLES = Path(__file__).resolve().parents[2] / "mappings"
LEAD = "salesforce_lead.toml"


@pytest.fixture
def mapping_dir(tmp_path: Path) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(EXAMPLES, target, ignore=shutil.ignore_patterns("*.md"))
    return target


@pytest.fixture
def env(
    env: dict[str, str],
    salesforce_double: SalesforceDouble,  # noqa: F811
    mapping_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    values = salesforce_env(salesforce_double)
    env.update(values)
    env["CONNECTOR_CRM__MAPPINGS_PATH"] = str(mapping_dir)
    for name in ("TEST_SF_CLIENT_ID", "TEST_SF_CLIENT_SECRET"):
        monkeypatch.setenv(name, values[name])  # the in-process app reads its secrets here
    salesforce_double.add_field("Lead", "Short_Click__c", "string", 40)
    salesforce_double.add_field("Lead", "AI_Note__c", "string", 255)
    salesforce_double.fields["Lead"]["LeadSource"]["restrictedPicklist"] = True
    return env


def _review(client, rule: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(f"/admin/mappings/{LEAD}/review", data={"action": "add", "kind": "from", **rule})


def test_the_live_salesforce_schema_is_shown_and_checked(admin_client, mapping_dir):
    editor = admin_client("editor")
    html = editor.get("/admin/mappings").get_data(as_text=True)
    lead = html[html.index(f'id="{LEAD}"') :]
    row = re.search(r"<tr[^>]*>\s*<td><code>FirstName</code>.*?</tr>", lead, re.S)
    assert row and "exists" in row[0] and ">40<" in row[0]
    old = (mapping_dir / LEAD).read_text()
    short = _review(editor, {"from": "gclid", "to": "Short_Click__c", "policy": "always"})
    assert short.status_code == 422 and "a truncated click id no longer matches" in short.get_data(
        as_text=True
    )
    index = [r["to"] for r in tomllib.loads(old)["fields"]].index("LeadSource")
    picklist = editor.post(
        f"/admin/mappings/{LEAD}/review",
        data={
            "action": "change",
            "index": str(index),
            "kind": "value",
            "value": "Chat",
            "to": "LeadSource",
            "policy": "if_empty",
        },
    )
    assert picklist.status_code == 422
    assert "restricted picklist rejects Chat; allowed: Web" in picklist.get_data(as_text=True)
    assert (mapping_dir / LEAD).read_text() == old
    good = _review(editor, {"from": "latest_utm_source", "to": "AI_Note__c", "policy": "always"})
    html = good.get_data(as_text=True)
    assert good.status_code == 200, html
    form = re.search(r'<form method="post" action="/admin/mappings/[^"]+/save".*?</form>', html, re.S)
    assert form
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[0])
    data = {n: unescape(v) for n, v in found if n != "csrf_token"}
    assert editor.post(f"/admin/mappings/{LEAD}/save", data=data).status_code == 303
    assert tomllib.loads((mapping_dir / LEAD).read_text())["fields"][-1]["to"] == "AI_Note__c"


def test_the_stage_picker_offers_opportunity_stages_and_lead_statuses(admin_client, tmp_path, app):
    from dataclasses import replace

    config = tmp_path / "connector.toml"
    shutil.copy(Path(__file__).resolve().parents[2] / "config.example.toml", config)
    ctx = app.extensions["connector"]
    object.__setattr__(ctx, "settings", replace(ctx.settings, source_path=str(config)))
    html = admin_client("editor").get("/admin/stages/edit").get_data(as_text=True)
    assert '<optgroup label="Opportunity: stage">' in html and 'value="Opportunity||Closed Won"' in html
    assert '<optgroup label="Lead: status">' in html
