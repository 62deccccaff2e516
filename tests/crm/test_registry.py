"""The adapter registry and the check/explain flow against a live (double) schema."""

from __future__ import annotations

import pytest

from connector.crm import create_adapter
from connector.crm.hubspot import HubSpotAdapter
from connector.mapping import check_against_schema, explain


def test_create_adapter_by_name(hubspot_double):
    adapter = create_adapter("hubspot", access_token=hubspot_double.token, host=hubspot_double.url)
    assert isinstance(adapter, HubSpotAdapter)
    with pytest.raises(ValueError, match="salesforce"):
        create_adapter("pipedrive")


def test_check_against_live_salesforce_describe(salesforce, salesforce_double, sf_mapping):
    salesforce_double.fields["Lead"]["GCLID__c"]["length"] = 40
    del salesforce_double.fields["Lead"]["OpenAI_Oppref__c"]
    findings = {(f.target, f.level) for f in check_against_schema(sf_mapping, salesforce.describe("Lead"))}
    assert ("GCLID__c", "error") in findings and ("OpenAI_Oppref__c", "error") in findings


def test_explain_with_live_lengths(salesforce, sf_mapping):
    sample = {"contact": {"email": "a@b.io"}, "attribution": {"latest_utm_campaign": "x" * 400}}
    result = explain(sf_mapping, sample, salesforce.describe("Lead"))
    assert len(result.writes["Latest_UTM_Campaign__c"]) == 255
