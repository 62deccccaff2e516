"""HubSpot adapter through hubspot-api-client over the wire against the loopback double."""

from __future__ import annotations

import socket

import pytest

from connector.crm.base import AuthError, PermanentError, RateLimited, RetryableError, UpsertItem
from connector.crm.hubspot import HubSpotAdapter

from .conftest import person


def test_create_then_update_honours_policies(hubspot, hubspot_double, hs_mapping):
    (created,) = hubspot.upsert_people([person(1, hs_mapping, first_utm_source="chatgpt")])
    assert created.ok and created.created is True
    stored = hubspot_double.records["contacts"][created.record_id]
    assert stored["email"] == "p1@example.com" and stored["first_utm_source"] == "chatgpt"
    assert stored["openai_event_id"] == "evt-1"

    later = person(
        1, hs_mapping, first_utm_source="google", first_utm_medium="cpc", latest_utm_source="google"
    )
    (updated,) = hubspot.upsert_people([later])
    assert updated.ok and updated.created is False and updated.record_id == created.record_id
    assert stored["first_utm_source"] == "chatgpt"  # once: never overwritten
    assert "first_utm_medium" not in stored  # once group already set: no mixing of visits
    assert stored["latest_utm_source"] == "google"  # always
    assert stored["firstname"] == "Ana"


def test_if_empty_fills_only_empty(hubspot, hubspot_double, hs_mapping):
    record_id = hubspot_double.add_contact(email="p2@example.com", lastname="Existing", firstname="")
    (result,) = hubspot.upsert_people([person(2, hs_mapping)])
    assert result.record_id == record_id
    assert hubspot_double.records["contacts"][record_id]["lastname"] == "Existing"
    assert hubspot_double.records["contacts"][record_id]["firstname"] == "Ana"


def test_batch_of_450_costs_five_reads_and_five_writes(hubspot, hubspot_double, hs_mapping):
    items = [person(n, hs_mapping) for n in range(450)]
    results = hubspot.upsert_people(items)
    assert [r.key for r in results] == [i.key for i in items]
    assert all(r.ok and r.created for r in results)
    assert hubspot_double.calls["batch_upsert"] == 5 and hubspot_double.calls["batch_read"] == 5
    assert len(hubspot_double.records["contacts"]) == 450


def test_same_person_twice_in_a_burst_makes_one_write(hubspot, hubspot_double, hs_mapping):
    first = person(3, hs_mapping, latest_utm_source="a")
    second = UpsertItem(
        "w3b", hs_mapping, {"latest_utm_source": "b", "first_utm_source": "zzz"}, {"email": "P3@example.com"}
    )
    results = hubspot.upsert_people([first, second])
    assert results[0].record_id == results[1].record_id
    stored = hubspot_double.records["contacts"][results[0].record_id]
    assert stored["latest_utm_source"] == "b" and stored["first_utm_source"] == "chatgpt"
    assert hubspot_double.calls["batch_upsert"] == 1


def test_207_partial_failure_per_record(hubspot, hubspot_double, hs_mapping):
    bad = UpsertItem("bad", hs_mapping, {"event_id": "e"}, {"email": "not-an-email"})
    results = hubspot.upsert_people([person(4, hs_mapping), bad])
    assert results[0].ok
    assert isinstance(results[1].error, PermanentError) and results[1].error.code == "INVALID_EMAIL"


def test_missing_email_is_permanent_without_a_call(hubspot, hubspot_double, hs_mapping):
    (result,) = hubspot.upsert_people([UpsertItem("x", hs_mapping, {"event_id": "e"}, {})])
    assert isinstance(result.error, PermanentError) and result.error.code == "NO_MATCH_VALUE"
    assert hubspot_double.calls["total"] == 0


def test_unknown_property_fails_those_records_loudly(hubspot, hubspot_double, hs_mapping):
    del hubspot_double.properties["contacts"]["gclid"]
    with_gclid = person(5, hs_mapping, gclid="abc")
    results = hubspot.upsert_people([with_gclid, person(6, hs_mapping)])
    assert isinstance(results[0].error, PermanentError) and "gclid" in results[0].error.message
    assert results[1].ok and hubspot_double.find("contacts", "email", "p6@example.com")


def test_409_conflict_updates_the_existing_record(hubspot, hubspot_double, hs_mapping):
    existing = hubspot_double.add_contact(email="primary@example.com")
    hubspot_double.secondary_emails["p7@example.com"] = existing
    results = hubspot.upsert_people([person(7, hs_mapping), person(8, hs_mapping), person(9, hs_mapping)])
    assert all(r.ok for r in results)
    assert results[0].record_id == existing and "409" in results[0].note
    assert hubspot_double.records["contacts"][existing]["openai_event_id"] == "evt-7"


def test_429_becomes_rate_limited_with_retry_after(hubspot, hubspot_double, hs_mapping):
    hubspot_double.rate_limit_next, hubspot_double.retry_after = 1, "7"
    with pytest.raises(RateLimited) as caught:
        hubspot.upsert_people([person(10, hs_mapping)])
    assert caught.value.retry_after == 7
    assert hubspot_double.calls["batch_read"] == 1 and hubspot_double.calls["batch_upsert"] == 0
    (result,) = hubspot.upsert_people([person(10, hs_mapping)])
    assert result.ok


def test_401_is_auth_error(hubspot_double, hs_mapping):
    adapter = HubSpotAdapter(access_token="wrong", host=hubspot_double.url, timeout=5)
    with pytest.raises(AuthError):
        adapter.upsert_people([person(11, hs_mapping)])


def test_5xx_is_retryable(hubspot, hubspot_double, hs_mapping):
    hubspot_double.fail_status_next = [503]
    with pytest.raises(RetryableError) as caught:
        hubspot.upsert_people([person(12, hs_mapping)])
    assert not isinstance(caught.value, RateLimited)
    assert hubspot_double.calls["batch_read"] == 1  # no silent urllib3 retry


def test_crm_down_is_retryable_then_nothing_lost_or_doubled(hs_mapping, hubspot_double):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    down = HubSpotAdapter(access_token=hubspot_double.token, host=f"http://127.0.0.1:{dead_port}", timeout=2)
    items = [person(n, hs_mapping) for n in (20, 21)]
    with pytest.raises(RetryableError):
        down.upsert_people(items)
    up = HubSpotAdapter(access_token=hubspot_double.token, host=hubspot_double.url, timeout=5)
    first = up.upsert_people(items)
    again = up.upsert_people(items)  # a retried job after a lost response: upsert, not a second create
    assert [r.record_id for r in first] == [r.record_id for r in again]
    assert len(hubspot_double.records["contacts"]) == 2


def test_describe_and_read_records(hubspot, hubspot_double):
    schema = hubspot.describe("contacts")
    assert schema.get("email").unique and schema.get("first_touch_at").kind == "datetime"
    assert not schema.get("hs_object_id").updateable
    record_id = hubspot_double.add_contact(email="r@example.com", openai_oppref="opp-r")
    rows = hubspot.read_records("contacts", [record_id, "999999"], ["openai_oppref"])
    assert rows == {record_id: {"openai_oppref": "opp-r", "hs_object_id": record_id}}
    assert hubspot_double.calls["batch_read"] == 1


def test_ensure_fields_creates_group_and_properties_and_is_safe_twice(hs_mapping):
    from tests.doubles.hubspot_double import HubSpotDouble

    double = HubSpotDouble().start()
    try:
        adapter = HubSpotAdapter(access_token=double.token, host=double.url, timeout=5)
        report = adapter.ensure_fields(hs_mapping)
        assert "group attribution" in report.created and "openai_oppref" in report.created
        assert "email" in report.existing and report.complete
        assert double.properties["contacts"]["first_touch_at"]["type"] == "datetime"
        again = adapter.ensure_fields(hs_mapping)
        assert again.created == [] and "group attribution" in again.existing and again.complete
    finally:
        double.stop()


def new_person(n: int, mapping, **attribution: str) -> UpsertItem:
    item = person(n, mapping, **attribution)
    return UpsertItem(item.key, mapping, item.attribution, item.contact, new_to_ledger=True)


def test_people_new_to_the_ledger_cost_one_create_per_100(hubspot, hubspot_double, hs_mapping):
    results = hubspot.upsert_people([new_person(n, hs_mapping) for n in range(250)])
    assert all(r.ok and r.created for r in results)
    assert hubspot_double.calls["batch_create"] == 3
    assert hubspot_double.calls["batch_read"] == hubspot_double.calls["batch_upsert"] == 0
    stored = hubspot_double.find("contacts", "email", "p7@example.com")[1]
    assert stored["first_utm_source"] == "chatgpt" and stored["openai_oppref"] == "opp-7"


def test_create_conflict_falls_back_to_read_and_upsert(hubspot, hubspot_double, hs_mapping):
    existing = hubspot_double.add_contact(email="p2@example.com", first_utm_source="google", lastname="Old")
    items = [new_person(n, hs_mapping, first_utm_source="chatgpt") for n in range(1, 4)]
    results = hubspot.upsert_people(items)
    assert all(r.ok for r in results)
    assert results[1].record_id == existing and results[1].created is False
    stored = hubspot_double.records["contacts"][existing]
    assert stored["first_utm_source"] == "google" and stored["lastname"] == "Old"  # once / if_empty held
    assert [hubspot_double.calls[c] for c in ("batch_create", "batch_read", "batch_upsert")] == [1, 1, 1]
    assert len(hubspot_double.records["contacts"]) == 3
