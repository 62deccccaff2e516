"""A deal attribution the CRM refused for good: listed on the Failures page (its own kind), replayed from there
or by `connector replay --deals`, and then written onto the opportunity."""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import select

from connector import context
from connector.admin.queries import failures as queries
from connector.jobs.deals import flush_deal_attributions
from connector.stages.deals import DealLearned, queue_deal_attribution
from connector.store.models import AdminAudit, DealAttribution, JournalEntry
from tests.crm.conftest import salesforce_double
from tests.crm_writes.test_deal_retry import person_with_opportunity, sf_env
from tests.test_worker_e2e import processes_command

__all__ = ["salesforce_double", "sf_env"]

FIELD = "First_UTM_Source__c"


@pytest.fixture
def failed_deal(sf_env, ctx, salesforce_double, monkeypatch):  # type: ignore[no-untyped-def]
    """(opportunity id, row id) of an attribution refused by the CRM (the field made read-only there)."""
    opp_id = person_with_opportunity(ctx, salesforce_double)
    with ctx.sessions.begin() as session:
        learned = DealLearned("salesforce", "Opportunity", opp_id, "stage webhook", "evt-retry")
        assert queue_deal_attribution(session, ctx.mappings, learned) is not None
    monkeypatch.setattr(context, "_current", ctx)
    ctx.crm.describe("Opportunity")  # described while the field could be written
    salesforce_double.fields["Opportunity"][FIELD]["updateable"] = False
    assert flush_deal_attributions() == "1 done"
    row = _row(ctx)
    assert row.status == "failed", row.last_error
    assert "INVALID_FIELD_FOR_INSERT_UPDATE" in (row.last_error or "")
    salesforce_double.fields["Opportunity"][FIELD]["updateable"] = True  # the admin fixes the permission
    return opp_id, row.id


def _row(ctx) -> DealAttribution:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        row = session.scalar(select(DealAttribution))
    assert row is not None
    return row


def test_a_failed_deal_attribution_is_listed_and_replaying_it_writes_it(
    failed_deal, ctx, admin_client, salesforce_double
):
    opp_id, row_id = failed_deal
    viewer = admin_client("viewer")
    html = viewer.get("/admin/failures").get_data(as_text=True)
    assert "Deal attribution" in html and f"salesforce Opportunity {opp_id}" in html
    assert "INVALID_FIELD_FOR_INSERT_UPDATE" in html and "failed deal attributions" in html
    only = viewer.get("/admin/failures?kind=deal&reason=invalid_field").get_data(as_text=True)
    assert f"salesforce Opportunity {opp_id}" in only
    assert f"salesforce Opportunity {opp_id}" not in viewer.get("/admin/failures?kind=receipt").get_data(
        as_text=True
    )
    with ctx.sessions() as session:
        assert queries.counts(session, queries.Filters(kind="deal")) == {"deal": (1, False)}

    editor = admin_client("editor")
    replayed = editor.post("/admin/failures/replay", {"item": f"deal:{row_id}"})
    assert replayed.status_code == 303 and f"deal:{row_id}" in replayed.headers["Location"]
    row = _row(ctx)
    assert row.status == "pending" and row.attempts == 0 and row.last_error is None
    assert any(job_id.startswith("deal-flush") for job_id in ctx.queue.get_job_ids())
    with ctx.sessions() as session:
        audit = session.execute(select(AdminAudit.actor, AdminAudit.action, AdminAudit.target)).all()
    assert tuple(audit[-1]) == (editor.email, "failures.replay", f"deal:{row_id}")

    assert flush_deal_attributions() == "1 done"  # what the queued flush does in a worker
    assert _row(ctx).status == "written"
    assert salesforce_double.records["Opportunity"][opp_id][FIELD] == "chatgpt.com"
    outcome = editor.get(replayed.headers["Location"]).get_data(as_text=True)
    assert "Deal attribution #" in outcome and "written" in outcome
    assert "Nothing has failed" in viewer.get("/admin/failures").get_data(as_text=True)


def test_connector_replay_deals_queues_the_failed_ones_again(
    failed_deal, ctx, sf_env, salesforce_double, client
):
    opp_id, row_id = failed_deal
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'connector_deal_attributions{status="failed"} 1.0' in metrics
    assert 'connector_deal_attributions{status="pending"} 0.0' in metrics
    result = subprocess.run(
        [*processes_command(), "replay", "--deals"], env=sf_env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "1 deal attribution(s) queued again" in result.stdout
    assert _row(ctx).status == "pending"
    with ctx.sessions() as session:
        lines = session.scalars(select(JournalEntry.message).where(JournalEntry.kind == "replay")).all()
    assert lines == [f"salesforce Opportunity {opp_id} attribution queued again by `connector replay`"]
    pending = client.get("/metrics").get_data(as_text=True)
    assert 'connector_deal_attributions{status="pending"} 1.0' in pending
    assert 'connector_deal_attributions{status="failed"} 0.0' in pending
    assert flush_deal_attributions() == "1 done"
    assert salesforce_double.records["Opportunity"][opp_id][FIELD] == "chatgpt.com"
    again = subprocess.run(
        [*processes_command(), "replay", "--deal", str(row_id)], env=sf_env, capture_output=True, text=True
    )
    assert "0 deal attribution(s) queued again" in again.stdout  # written: nothing to replay
