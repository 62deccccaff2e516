"""`connector check` (mappings, live schema, --sample) and `connector crm setup`, as an operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.crm_writes.conftest import hubspot_env, salesforce_env
from tests.doubles.hubspot_double import HubSpotDouble
from tests.doubles.salesforce_double import SalesforceDouble


def connector(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "connector", *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def bare_hubspot():  # type: ignore[no-untyped-def]
    double = HubSpotDouble().start()
    yield double
    double.stop()


@pytest.fixture
def bare_salesforce():  # type: ignore[no-untyped-def]
    double = SalesforceDouble().start()
    yield double
    double.stop()


def test_check_validates_mappings_against_the_live_hubspot_schema(env, hubspot_double):
    del hubspot_double.properties["contacts"]["gclid"]
    result = connector({**env, **hubspot_env(hubspot_double)}, "check")
    assert result.returncode == 1
    assert "mappings:" in result.stdout and "5 valid" in result.stdout
    assert "hubspot_contact.toml against live contacts schema: 1 error(s)" in result.stdout
    assert "error: gclid: field does not exist on contacts" in result.stdout
    assert hubspot_double.token not in result.stdout + result.stderr
    assert hubspot_double.calls["batch_upsert"] == 0


def test_check_names_file_line_and_key_of_a_bad_mapping(env, tmp_path):
    bad = tmp_path / "maps"
    bad.mkdir()
    (bad / "lead.toml").write_text(
        'crm = "salesforce"\nobject = "Lead"\n[match]\nfield = "Email"\n\n'
        '[[fields]]\nfrom = "frist_utm_source"\nto = "X__c"\npolicy = "once"\n'
    )
    result = connector({**env, "CONNECTOR_CRM__MAPPINGS_PATH": str(bad)}, "check")
    assert result.returncode == 1
    assert (
        f"mapping: {bad / 'lead.toml'}:7: fields[0].from: unknown attribution value 'frist_utm_source'"
        in (result.stdout)
    )
    assert "did you mean 'first_utm_source'?" in result.stdout


def test_check_reports_an_unreachable_crm_without_failing(env, bare_hubspot):
    crm_env = hubspot_env(bare_hubspot)
    bare_hubspot.stop()
    result = connector({**env, **crm_env}, "check")
    assert "unreachable" in result.stdout and "live schema not checked" in result.stdout


def add_deal_properties(double: HubSpotDouble) -> None:
    """The deal fields hubspot_deal.toml reads (copied onto deals by a HubSpot workflow, not by setup)."""
    for name in ("openai_oppref", "openai_event_id"):
        double.add_property("deals", name)


def test_check_sample_is_a_dry_run(env, hubspot_double, tmp_path):
    add_deal_properties(hubspot_double)
    sample = tmp_path / "sample.json"
    sample.write_text(
        json.dumps(
            {
                "source": "generic",
                "contact": {"email": "Ana@Example.com", "company": "Acme Inc"},
                "attribution": {"first_utm_source": "chatgpt", "latest_utm_source": "newsletter"},
                "current": {"first_utm_source": "google", "company": "Acme"},
            }
        )
    )
    result = connector({**env, **hubspot_env(hubspot_double)}, "check", "--sample", str(sample))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "match: email = 'ana@example.com'" in out
    assert "WRITE latest_utm_source" in out and "'newsletter'" in out
    assert "SKIP  first_utm_source" in out and "once: group 'first_touch' already set" in out
    assert "SKIP  company" in out and "if_empty: record already has 'Acme'" in out
    assert "nothing was sent" in out
    assert hubspot_double.calls["batch_upsert"] == 0 and hubspot_double.calls["batch_read"] == 0


def test_crm_setup_creates_hubspot_properties_once(env, bare_hubspot):
    crm_env = {**env, **hubspot_env(bare_hubspot)}
    first = connector(crm_env, "crm", "setup")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "created group attribution" in first.stdout and "created openai_oppref" in first.stdout
    assert "openai_oppref" in bare_hubspot.properties["contacts"]
    assert "attribution" in bare_hubspot.groups["contacts"]
    second = connector(crm_env, "crm", "setup")
    assert second.returncode == 0
    assert "hubspot_contact.toml (contacts): 0 created" in second.stdout
    add_deal_properties(bare_hubspot)
    check = connector(crm_env, "check")
    assert check.returncode == 0, check.stdout
    assert "hubspot_contact.toml against live contacts schema: matches" in check.stdout


def test_crm_setup_creates_salesforce_fields_or_prints_steps(env, bare_salesforce):
    crm_env = {**env, **salesforce_env(bare_salesforce)}
    bare_salesforce.tooling_allowed = False
    manual = connector(crm_env, "crm", "setup")
    assert "TO DO by hand: Setup > Object Manager > Lead > Fields & Relationships > New" in manual.stdout
    assert "OpenAI_Oppref__c" not in bare_salesforce.fields["Lead"]

    bare_salesforce.tooling_allowed = True
    first = connector(crm_env, "crm", "setup")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "created OpenAI_Oppref__c" in first.stdout
    assert "OpenAI_Oppref__c" in bare_salesforce.fields["Lead"]
    second = connector(crm_env, "crm", "setup")
    assert "salesforce_lead.toml (Lead): 0 created" in second.stdout
    assert bare_salesforce.client_secret not in first.stdout + first.stderr + second.stdout + second.stderr
