"""The adapter registry and the check/explain flow against a live (double) schema."""

from __future__ import annotations

import pytest

from connector.config import ConfigError, load_settings
from connector.crm.configured import build_adapter
from connector.crm.hubspot import HubSpotAdapter
from connector.mapping import check_against_schema, explain


def test_the_adapter_is_built_for_the_configured_provider(hubspot_double):
    settings = load_settings(
        environ={"CONNECTOR_CRM__PROVIDER": "hubspot", "CONNECTOR_CRM__HUBSPOT__HOST": f'"{hubspot_double.url}"'}
    )
    adapter = build_adapter(settings, environ={"HUBSPOT_ACCESS_TOKEN": hubspot_double.token})
    assert isinstance(adapter, HubSpotAdapter)
    assert adapter.describe("contacts").fields  # it talks to the configured host with the token
    with pytest.raises(ConfigError, match="no CRM configured"):
        build_adapter(load_settings(environ={}), environ={})


def test_check_against_live_salesforce_describe(salesforce, salesforce_double, sf_mapping):
    salesforce_double.fields["Lead"]["GCLID__c"]["length"] = 40
    del salesforce_double.fields["Lead"]["OpenAI_Oppref__c"]
    findings = {(f.target, f.level) for f in check_against_schema(sf_mapping, salesforce.describe("Lead"))}
    assert ("GCLID__c", "error") in findings and ("OpenAI_Oppref__c", "error") in findings


def test_explain_with_live_lengths(salesforce, sf_mapping):
    sample = {"contact": {"email": "a@b.io"}, "attribution": {"latest_utm_campaign": "x" * 400}}
    result = explain(sf_mapping, sample, salesforce.describe("Lead"))
    assert len(result.writes["Latest_UTM_Campaign__c"]) == 255
