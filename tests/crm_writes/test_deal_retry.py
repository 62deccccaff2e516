"""The deal flush, run in this process: a CRM outage keeps the batch pending and pauses every CRM write;
once the CRM answers again the same rows are written, once."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from connector import context
from connector.jobs.crm import crm_paused_ms
from connector.jobs.deals import flush_deal_attributions
from connector.stages.deals import DealLearned, queue_deal_attribution
from connector.store.models import CrmWrite, DealAttribution, JournalEntry, Receipt, Submission
from connector.timeutil import utcnow
from tests.crm_writes.conftest import salesforce_env


@pytest.fixture
def sf_env(env, salesforce_double, monkeypatch):  # type: ignore[no-untyped-def]
    values = salesforce_env(salesforce_double)
    env.update(values)
    for name in ("TEST_SF_CLIENT_ID", "TEST_SF_CLIENT_SECRET"):  # the adapter reads its secrets here
        monkeypatch.setenv(name, values[name])
    return env


def person_with_opportunity(ctx, double) -> str:  # type: ignore[no-untyped-def]
    """A Lead our ledger wrote, converted in the double; returns the Opportunity id."""
    lead_id = double.add_record("Lead", Email="ada@example.com", LastName="Lovelace", Company="Engines")
    with ctx.sessions.begin() as session:
        receipt = Receipt(source="generic", delivery_key="r1", event_id="evt-retry", status="processed")
        session.add(receipt)
        session.flush()
        submission = Submission(
            receipt_id=receipt.id,
            source="generic",
            event_id="evt-retry",
            email="ada@example.com",
            contact={"email": "ada@example.com"},
            attribution={"first_utm_source": "chatgpt.com", "first_ai_source": "chatgpt"},
            submitted_at=utcnow(),
        )
        session.add(submission)
        session.flush()
        session.add(
            CrmWrite(
                submission_id=submission.id,
                event_id="evt-retry",
                crm="salesforce",
                object_type="Lead",
                crm_object_id=lead_id,
                status="written",
            )
        )
    return double.convert_lead(lead_id, amount=10)


def test_an_outage_pauses_then_the_same_rows_are_written_once(sf_env, ctx, salesforce_double, monkeypatch):
    opp_id = person_with_opportunity(ctx, salesforce_double)
    with ctx.sessions.begin() as session:
        learned = DealLearned("salesforce", "Opportunity", opp_id, "stage webhook", "evt-retry")
        assert queue_deal_attribution(session, ctx.mappings, learned) is not None
        assert queue_deal_attribution(session, ctx.mappings, learned) is None  # known: not queued again
    monkeypatch.setattr(context, "_current", ctx)  # the job's context, restored after the test
    ctx.crm.describe("Opportunity")  # signed in and described before the outage
    salesforce_double.fail_status_next = [503]

    assert flush_deal_attributions() == "0 done; paused"
    with ctx.sessions() as session:
        row = session.scalar(select(DealAttribution))
    assert row is not None and row.status == "pending" and row.attempts == 0
    assert "503" in (row.last_error or "") or "RetryableError" in (row.last_error or "")
    assert crm_paused_ms(ctx) > 0  # people writes wait too
    assert "First_UTM_Source__c" not in salesforce_double.records["Opportunity"][opp_id]

    assert flush_deal_attributions().startswith("paused for")  # still paused: nothing sent
    time.sleep(1.2)  # jobs.backoff_seconds = [1] in tests
    assert flush_deal_attributions() == "1 done"
    with ctx.sessions() as session:
        row = session.scalar(select(DealAttribution))
        lines = [e.message for e in session.scalars(select(JournalEntry).where(JournalEntry.kind == "deal"))]
    assert row is not None and row.status == "written" and row.attempts == 1 and row.last_error is None
    assert salesforce_double.records["Opportunity"][opp_id]["First_UTM_Source__c"] == "chatgpt.com"
    assert len([m for m in lines if "kept pending" in m]) == 1
    assert len([m for m in lines if "attribution written" in m]) == 1
    assert flush_deal_attributions() == "0 done"  # nothing left, nothing written twice
