"""When our own ledger decides the once / if_empty fields, so HubSpot needs no read for a repeat visitor."""

from __future__ import annotations

from connector.crm_writes.batch import decided_by
from connector.crm_writes.ledger import ClaimedWrite


def claimed(**attribution: str) -> ClaimedWrite:
    return ClaimedWrite(
        id=1,
        token="t",
        crm="hubspot",
        object_type="contacts",
        attempts=0,
        last_error=None,
        event_id="e",
        receipt_id=1,
        submission_id=1,
        email="ana@example.com",
        source="generic",
        form_id=None,
        contact={"email": "ana@example.com", "first_name": "Ana"},
        attribution=attribution,
    )


def test_written_first_touch_and_names_decide_everything(hs_mapping):
    written = {"email": "ana@example.com", "firstname": "Ana", "first_utm_source": "chatgpt"}
    assert decided_by(hs_mapping, claimed(first_utm_source="google", latest_utm_source="x"), written)


def test_a_first_touch_we_never_wrote_needs_the_record(hs_mapping):
    written = {"email": "ana@example.com", "firstname": "Ana", "latest_utm_source": "x"}
    assert not decided_by(hs_mapping, claimed(first_utm_source="google"), written)


def test_an_if_empty_field_we_never_wrote_needs_the_record(hs_mapping):
    written = {"email": "ana@example.com", "first_utm_source": "chatgpt"}
    assert not decided_by(hs_mapping, claimed(first_utm_source="google"), written)


def test_fields_without_a_value_in_this_submission_need_no_decision(hs_mapping):
    written = {"email": "ana@example.com", "firstname": "Ana"}
    assert decided_by(hs_mapping, claimed(latest_utm_source="newsletter"), written)
