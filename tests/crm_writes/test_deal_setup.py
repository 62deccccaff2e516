"""`connector crm setup` creates the Opportunity and deal fields the deal mappings write, on both doubles."""

from __future__ import annotations

import pytest

from connector.mapping import load_mappings
from tests.conftest import ROOT
from tests.crm_writes.conftest import hubspot_env, salesforce_env
from tests.crm_writes.test_crm_admin import connector
from tests.doubles.hubspot_double import HubSpotDouble
from tests.doubles.salesforce_double import SalesforceDouble

DEALS = load_mappings(ROOT / "mappings")


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


def test_crm_setup_creates_the_opportunity_fields(env, bare_salesforce):
    crm_env = {**env, **salesforce_env(bare_salesforce)}
    mapping = DEALS.get("salesforce", "Opportunity")
    assert mapping is not None and mapping.for_deals
    first = connector(crm_env, "crm", "setup")
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"salesforce_opportunity.toml (Opportunity): {len(mapping.targets())} created" in first.stdout
    fields = bare_salesforce.fields["Opportunity"]
    assert set(mapping.targets()) <= set(fields)
    assert fields["First_Touch_At__c"]["type"] == "datetime"
    assert fields["First_Landing_Page__c"]["type"] == "textarea"
    assert fields["First_AI_Source__c"]["type"] == "string" and fields["First_AI_Source__c"]["length"] == 255
    second = connector(crm_env, "crm", "setup")
    assert "salesforce_opportunity.toml (Opportunity): 0 created" in second.stdout
    check = connector(crm_env, "check")
    assert "salesforce_opportunity.toml against live Opportunity schema: matches" in check.stdout, (
        check.stdout
    )


def test_crm_setup_creates_the_deal_properties(env, bare_hubspot):
    crm_env = {**env, **hubspot_env(bare_hubspot)}
    mapping = DEALS.get("hubspot", "deals")
    assert mapping is not None and mapping.for_deals
    first = connector(crm_env, "crm", "setup")
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"hubspot_deal.toml (deals): {len(mapping.targets()) + 1} created" in first.stdout  # + the group
    assert "attribution" in bare_hubspot.groups["deals"]
    properties = bare_hubspot.properties["deals"]
    assert set(mapping.targets()) <= set(properties)
    assert properties["first_touch_at"]["type"] == "datetime"
    assert (
        properties["ai_source"]["type"] == "string" and properties["ai_source"]["groupName"] == "attribution"
    )
    second = connector(crm_env, "crm", "setup")
    assert "hubspot_deal.toml (deals): 0 created" in second.stdout
    check = connector(crm_env, "check")
    assert check.returncode == 0, check.stdout
    assert "hubspot_deal.toml against live deals schema: matches" in check.stdout
