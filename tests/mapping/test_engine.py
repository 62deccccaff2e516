"""The pure engine: policies, transforms, lengths, overrides."""

from __future__ import annotations

from connector.attribution import Attribution, Contact
from connector.mapping import decide, match_value, plan_writes

ATTR = Attribution.from_mapping(
    {"first_utm_source": "chatgpt", "first_utm_medium": "paid_ai", "latest_utm_source": "Newsletter"}
)
CONTACT = Contact.from_mapping({"email": "Ana@Example.com", "company": "Acme"})


def test_new_record_writes_every_policy(basic):
    writes = plan_writes(basic, ATTR, CONTACT, current_values=None)
    assert writes == {
        "Email": "ana@example.com",
        "First_UTM_Source__c": "chatgpt",
        "First_UTM_Medium__c": "paid_ai",
        "Latest_UTM_Source__c": "newsletter",
        "Company": "Acme",
    }


def test_once_never_overwrites_a_non_empty_value(basic):
    current = {"First_UTM_Source__c": "google", "First_UTM_Medium__c": "", "Company": "Old"}
    writes = plan_writes(basic, ATTR, CONTACT, current_values=current)
    assert "First_UTM_Source__c" not in writes
    # the whole first-touch group stays as it is: no mixing of two visits
    assert "First_UTM_Medium__c" not in writes


def test_once_writes_when_all_of_group_empty(basic):
    writes = plan_writes(basic, ATTR, CONTACT, current_values={"First_UTM_Source__c": None, "Email": "x"})
    assert writes["First_UTM_Source__c"] == "chatgpt"
    assert writes["First_UTM_Medium__c"] == "paid_ai"


def test_always_overwrites(basic):
    writes = plan_writes(basic, ATTR, CONTACT, current_values={"Latest_UTM_Source__c": "old"})
    assert writes["Latest_UTM_Source__c"] == "newsletter"


def test_if_empty_only_fills_empty(basic):
    assert "Company" not in plan_writes(basic, ATTR, CONTACT, current_values={"Company": "Old Co"})
    assert plan_writes(basic, ATTR, CONTACT, current_values={"Company": " "})["Company"] == "Acme"


def test_current_values_match_case_insensitively(basic):
    assert "Company" not in plan_writes(basic, ATTR, CONTACT, current_values={"company": "Old"})


def test_missing_value_is_skipped_never_cleared(basic):
    writes = plan_writes(basic, Attribution.from_mapping({}), CONTACT, current_values={})
    assert "Latest_UTM_Source__c" not in writes
    assert writes == {"Email": "ana@example.com", "Company": "Acme"}


def test_default_used_when_value_missing(basic):
    writes = plan_writes(basic, ATTR, Contact.from_mapping({"email": "a@b.c"}))
    assert writes["Company"] == "[not provided]"


def test_lengths_truncate_every_string(basic):
    long = Attribution.from_mapping({"latest_utm_source": "x" * 300})
    writes = plan_writes(basic, long, CONTACT, field_lengths={"Latest_UTM_Source__c": 255})
    assert len(writes["Latest_UTM_Source__c"]) == 255
    reasons = {
        d.target: d.reason for d in decide(basic, long, CONTACT, field_lengths={"Latest_UTM_Source__c": 255})
    }
    assert "truncated to 255" in reasons["Latest_UTM_Source__c"]


def test_source_override_skips_and_adds(basic):
    writes = plan_writes(basic, ATTR, CONTACT, source="calendly")
    assert writes["LeadSource"] == "Calendly"
    assert "Company" not in writes


def test_most_specific_override_wins(basic):
    assert (
        plan_writes(basic, ATTR, CONTACT, source="calendly", form_id="demo")["LeadSource"] == "Calendly demo"
    )
    assert "LeadSource" not in plan_writes(basic, ATTR, CONTACT, source="gravity", form_id="demo")


def test_match_value_lowercases_email(basic):
    assert match_value(basic, ATTR, {"email": " Ana@Example.COM "}) == "ana@example.com"
    assert match_value(basic, ATTR, {}) is None


def test_plain_dicts_are_accepted(basic):
    writes = plan_writes(basic, {"first_utm_source": "x"}, {"email": "e@x.io"})
    assert writes["First_UTM_Source__c"] == "x"
