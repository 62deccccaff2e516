"""Salesforce adapter through simple-salesforce over TLS against the loopback double."""

from __future__ import annotations

import socket

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connector.crm.base import AuthError, PermanentError, RateLimited, RetryableError, UpsertItem
from connector.crm.salesforce import SalesforceAdapter
from connector.crm.salesforce_auth import SalesforceAuth
from tests.doubles.salesforce_double import SalesforceDouble

from .conftest import person, sf_session


def test_create_then_update_honours_policies(salesforce, salesforce_double, sf_mapping):
    (created,) = salesforce.upsert_people([person(1, sf_mapping, first_utm_source="chatgpt")])
    assert created.ok and created.created is True, created.error
    stored = salesforce_double.records["Lead"][created.record_id]
    assert stored["Email"] == "p1@example.com" and stored["First_UTM_Source__c"] == "chatgpt"
    assert stored["Company"] == "[not provided]" and stored["LeadSource"] == "Web"

    later = person(
        1, sf_mapping, first_utm_source="google", first_utm_medium="cpc", latest_utm_source="google"
    )
    (updated,) = salesforce.upsert_people([later])
    assert updated.ok and updated.created is False and updated.record_id == created.record_id
    assert stored["First_UTM_Source__c"] == "chatgpt" and "First_UTM_Medium__c" not in stored
    assert stored["Latest_UTM_Source__c"] == "google"
    assert len(salesforce_double.records["Lead"]) == 1


def test_if_empty_keeps_existing_values(salesforce, salesforce_double, sf_mapping):
    record_id = salesforce_double.add_record("Lead", Email="p2@example.com", LastName="Keep", Company="Acme")
    (result,) = salesforce.upsert_people([person(2, sf_mapping)])
    assert result.record_id == record_id
    assert salesforce_double.records["Lead"][record_id]["LastName"] == "Keep"
    assert salesforce_double.records["Lead"][record_id]["FirstName"] == "Ana"


def test_batch_of_450_costs_three_reads_and_three_writes(salesforce, salesforce_double, sf_mapping):
    items = [person(n, sf_mapping) for n in range(450)]
    results = salesforce.upsert_people(items)
    assert all(r.ok and r.created for r in results), [r.error for r in results if not r.ok][:3]
    calls = salesforce_double.calls
    assert calls["query"] == 3 and calls["collections_create"] == 3 and calls["describe"] == 1
    assert calls["collections_update"] == 0 and calls["token"] == 1
    again = salesforce.upsert_people(items)
    assert [r.record_id for r in again] == [r.record_id for r in results]
    assert calls["query"] == 6 and calls["collections_update"] == 3 and calls["describe"] == 1


def test_duplicate_rule_updates_the_matched_record(salesforce, salesforce_double, sf_mapping):
    salesforce_double.duplicate_rules["Lead"] = "LastName"
    existing = salesforce_double.add_record("Lead", Email="other@example.com", LastName="L3", Company="Acme")
    (result,) = salesforce.upsert_people([person(3, sf_mapping)])
    assert result.ok and result.record_id == existing and result.created is False
    assert "matched existing Lead" in result.note
    assert salesforce_double.records["Lead"][existing]["OpenAI_Event_Id__c"] == "evt-3"
    assert len(salesforce_double.records["Lead"]) == 1


def test_multiple_match_updates_the_most_recent_and_says_so(salesforce, salesforce_double, sf_mapping):
    older = salesforce_double.add_record("Lead", Email="p4@example.com", LastName="Old", Company="A")
    newer = salesforce_double.add_record("Lead", Email="P4@example.com", LastName="New", Company="A")
    (result,) = salesforce.upsert_people([person(4, sf_mapping)])
    assert result.record_id == newer and older in result.note and "2 Lead records match" in result.note
    assert salesforce_double.records["Lead"][newer]["OpenAI_Event_Id__c"] == "evt-4"
    assert "OpenAI_Event_Id__c" not in salesforce_double.records["Lead"][older]


def test_strings_truncated_to_describe_lengths(salesforce, salesforce_double, sf_mapping):
    salesforce_double.add_field("Lead", "Latest_UTM_Campaign__c", length=20)
    (result,) = salesforce.upsert_people([person(5, sf_mapping, latest_utm_campaign="c" * 300)])
    assert result.ok, result.error
    assert salesforce_double.records["Lead"][result.record_id]["Latest_UTM_Campaign__c"] == "c" * 20


def test_record_errors_are_permanent_or_retryable(salesforce, salesforce_double, sf_mapping):
    salesforce_double.add_field(
        "Lead",
        "LeadSource",
        "picklist",
        255,
        restrictedPicklist=True,
        picklistValues=[{"value": "Partner", "active": True}],
    )
    (rejected,) = salesforce.upsert_people([person(6, sf_mapping)])
    assert isinstance(rejected.error, PermanentError)
    assert rejected.error.code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    salesforce_double.fields["Lead"]["LeadSource"]["restrictedPicklist"] = False
    salesforce_double.lock_values.add("p7@example.com")
    locked, fine = salesforce.upsert_people([person(7, sf_mapping), person(8, sf_mapping)])
    assert isinstance(locked.error, RetryableError) and locked.error.code == "UNABLE_TO_LOCK_ROW"
    assert fine.ok


def test_unknown_field_fails_only_the_records_using_it(salesforce, salesforce_double, sf_mapping):
    del salesforce_double.fields["Lead"]["GCLID__c"]
    salesforce.describe("Lead")  # cached before the field vanished, like a field deleted after start-up
    salesforce._schemas["Lead"].fields.pop("GCLID__c", None)
    results = salesforce.upsert_people([person(8, sf_mapping, gclid="g"), person(9, sf_mapping)])
    assert isinstance(results[0].error, PermanentError) and results[0].error.code == "INVALID_FIELD"
    assert "GCLID__c" in results[0].error.message
    assert results[1].ok


def test_expired_session_refreshes_once(salesforce, salesforce_double, sf_mapping):
    salesforce.upsert_people([person(10, sf_mapping)])
    salesforce_double.expire_tokens()
    (result,) = salesforce.upsert_people([person(11, sf_mapping)])
    assert result.ok and salesforce_double.calls["token"] == 2


def test_access_token_cannot_refresh_so_auth_error(salesforce_double, sf_mapping):
    auth = SalesforceAuth("token", access_token="00Dexpired!x", instance_url=salesforce_double.url)
    adapter = SalesforceAdapter(auth, session=sf_session(salesforce_double), timeout=5)
    with pytest.raises(AuthError) as caught:
        adapter.upsert_people([person(12, sf_mapping)])
    assert caught.value.code == "INVALID_SESSION_ID"


def test_refresh_that_fails_again_is_auth_error(salesforce, salesforce_double, sf_mapping):
    salesforce.describe("Lead")
    salesforce_double.expire_tokens()
    salesforce_double.client_secret = "rotated"
    with pytest.raises(AuthError):
        salesforce.upsert_people([person(13, sf_mapping)])


def test_request_limit_exceeded_is_rate_limited(salesforce, salesforce_double, sf_mapping):
    salesforce.describe("Lead")
    salesforce_double.limit_exceeded_next = 1
    with pytest.raises(RateLimited) as caught:
        salesforce.upsert_people([person(14, sf_mapping)])
    assert caught.value.code == "REQUEST_LIMIT_EXCEEDED" and caught.value.retry_after > 0


def test_5xx_is_retryable(salesforce, salesforce_double, sf_mapping):
    salesforce.describe("Lead")
    salesforce_double.fail_status_next = [503]
    with pytest.raises(RetryableError):
        salesforce.upsert_people([person(15, sf_mapping)])


def test_crm_down_then_back_nothing_lost_or_doubled(salesforce_double, sf_mapping):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    auth = SalesforceAuth(
        "client_credentials",
        login_url=f"https://127.0.0.1:{dead}",
        client_id="test-client",
        client_secret="test-secret",
    )
    items = [person(n, sf_mapping) for n in (30, 31)]
    with pytest.raises(RetryableError):
        SalesforceAdapter(auth, session=sf_session(salesforce_double), timeout=2).upsert_people(items)
    token = SalesforceAuth(
        "client_credentials",
        login_url=salesforce_double.url,
        client_id="test-client",
        client_secret="test-secret",
    )
    adapter = SalesforceAdapter(token, session=sf_session(salesforce_double), timeout=5)
    first = adapter.upsert_people(items)
    again = adapter.upsert_people(items)
    assert [r.record_id for r in first] == [r.record_id for r in again]
    assert len(salesforce_double.records["Lead"]) == 2


def test_jwt_bearer_sign_in_verified_by_the_double(sf_mapping):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    double = SalesforceDouble(public_key=public).start()
    try:
        auth = SalesforceAuth(
            "jwt", login_url=double.url, client_id="test-client", username="api@example.com", private_key=pem
        )
        adapter = SalesforceAdapter(auth, session=sf_session(double), timeout=5)
        assert adapter.describe("Lead").get("Email").kind == "text"
        assert double.calls["token"] == 1
    finally:
        double.stop()


def test_external_id_match_uses_upsert_collection(salesforce, salesforce_double, sf_mapping, tmp_path):
    from connector.mapping import load_mapping

    salesforce_double.add_field("Lead", "Event_Key__c", externalId=True, unique=True)
    path = tmp_path / "ext.toml"
    path.write_text(
        'crm = "salesforce"\nobject = "Lead"\n[match]\nfield = "Event_Key__c"\nvalue = "event_id"\n'
        'external_id = true\n[[fields]]\nfrom = "email"\nto = "Email"\npolicy = "always"\n'
        '[[fields]]\nfrom = "last_name"\nto = "LastName"\npolicy = "if_empty"\n'
        '[[fields]]\nvalue = "Acme"\nto = "Company"\npolicy = "if_empty"\n'
    )
    mapping = load_mapping(path)
    results = salesforce.upsert_people([person(40, mapping), person(41, mapping)])
    assert all(r.ok and r.created for r in results), results
    assert salesforce_double.calls["collections_upsert"] == 1 and salesforce_double.calls["query"] == 1
    assert salesforce_double.find("Lead", "Event_Key__c", "evt-40")[0]["Email"] == "p40@example.com"


def test_read_records_one_query(salesforce, salesforce_double):
    ids = [
        salesforce_double.add_record("Lead", Email=f"r{n}@x.io", OpenAI_Oppref__c=f"o{n}") for n in range(3)
    ]
    rows = salesforce.read_records("Lead", ids, ["OpenAI_Oppref__c"])
    assert {rows[i]["OpenAI_Oppref__c"] for i in ids} == {"o0", "o1", "o2"}
    assert salesforce_double.calls["query"] == 1


def test_ensure_fields_creates_custom_fields_and_is_safe_twice(salesforce, salesforce_double, sf_mapping):
    del salesforce_double.fields["Lead"]["OpenAI_Oppref__c"]
    del salesforce_double.fields["Lead"]["First_Touch_At__c"]
    report = salesforce.ensure_fields(sf_mapping)
    assert report.created == ["First_Touch_At__c", "OpenAI_Oppref__c"] or set(report.created) == {
        "First_Touch_At__c",
        "OpenAI_Oppref__c",
    }
    assert salesforce_double.fields["Lead"]["First_Touch_At__c"]["type"] == "datetime"
    assert any("Permission Sets" in step for step in report.manual_steps)
    again = salesforce.ensure_fields(sf_mapping)
    assert again.created == [] and again.complete
    assert salesforce_double.calls["tooling_customfield"] == 2


def test_ensure_fields_without_permission_prints_exact_steps(salesforce, salesforce_double, sf_mapping):
    del salesforce_double.fields["Lead"]["First_Landing_Page__c"]
    salesforce_double.tooling_allowed = False
    report = salesforce.ensure_fields(sf_mapping)
    assert report.created == [] and not report.complete
    (step,) = report.manual_steps
    assert "Object Manager > Lead" in step and "Text Area (Long), length 4096" in step
    assert "First_Landing_Page__c" in step


def test_missing_email_is_permanent(salesforce, sf_mapping):
    (result,) = salesforce.upsert_people([UpsertItem("x", sf_mapping, {"event_id": "e"}, {})])
    assert isinstance(result.error, PermanentError)
