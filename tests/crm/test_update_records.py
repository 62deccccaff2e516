"""`update_records`: fields written onto opportunities and deals by id, one batch call per 200 / 100, and a
record the CRM refuses fails alone."""

from __future__ import annotations

from connector.crm.base import PermanentError, RetryableError
from connector.crm.hubspot import HubSpotAdapter
from connector.crm.salesforce import SalesforceAdapter
from tests.doubles.hubspot_double import HubSpotDouble
from tests.doubles.salesforce_double import SalesforceDouble


def test_salesforce_updates_opportunities_by_id_per_200(
    salesforce: SalesforceAdapter, salesforce_double: SalesforceDouble
):
    ids = [salesforce_double.add_record("Opportunity", Name=f"O{n}", Amount=n) for n in range(250)]
    gone = ids.pop()
    del salesforce_double.records["Opportunity"][gone]
    salesforce_double.lock_values.add("locked")
    updates = {rid: {"First_AI_Source__c": "chatgpt"} for rid in ids}
    updates[ids[0]] = {"First_AI_Source__c": "locked"}
    updates[gone] = {"First_AI_Source__c": "chatgpt"}
    before = salesforce_double.calls["collections_update"]
    outcome = salesforce.update_records("Opportunity", updates)
    assert salesforce_double.calls["collections_update"] - before == 2
    assert isinstance(outcome[ids[0]], RetryableError) and outcome[ids[0]].code == "UNABLE_TO_LOCK_ROW"
    assert isinstance(outcome[gone], PermanentError) and outcome[gone].code == "ENTITY_IS_DELETED"
    assert all(outcome[rid] is None for rid in ids[1:])
    assert salesforce_double.records["Opportunity"][ids[1]]["First_AI_Source__c"] == "chatgpt"


def test_hubspot_updates_deals_by_id_and_a_deleted_deal_fails_alone(
    hubspot: HubSpotAdapter, hubspot_double: HubSpotDouble
):
    ids = [hubspot_double.add_deal([], dealname=f"D{n}") for n in range(4)]
    del hubspot_double.records["deals"][ids[2]]
    outcome = hubspot.update_records("deals", {rid: {"ai_source": "claude"} for rid in ids})
    assert isinstance(outcome[ids[2]], PermanentError)
    assert [outcome[r] for r in (ids[0], ids[1], ids[3])] == [None, None, None]
    assert hubspot_double.records["deals"][ids[3]]["ai_source"] == "claude"


def test_hubspot_unknown_deal_property_fails_the_batch_in_one_call(
    hubspot: HubSpotAdapter, hubspot_double: HubSpotDouble
):
    ids = [hubspot_double.add_deal([], dealname=f"D{n}") for n in range(5)]
    before = hubspot_double.calls["batch_update"]
    outcome = hubspot.update_records("deals", {rid: {"no_such_property": "x"} for rid in ids})
    assert hubspot_double.calls["batch_update"] - before == 1  # not split into one call per deal
    assert all(isinstance(outcome[r], PermanentError) for r in ids)
