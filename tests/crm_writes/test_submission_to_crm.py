"""Webhook -> real worker process -> CRM double over the wire -> ledger, for HubSpot and Salesforce."""

from __future__ import annotations

import time

from sqlalchemy import select

from connector.store.models import CrmWrite, JournalEntry
from connector.story import event_story, render_text
from tests.conftest import TOKEN, wait_for

URL = "/webhooks/forms/generic"
AUTH = {"X-Connector-Token": TOKEN}


def submission(n: int, **extra: str) -> dict[str, str]:
    return {
        "email": f"ana{n}@example.com",
        "first_name": "Ana",
        "last_name": f"Silva{n}",
        "company": "Acme",
        "event_id": f"evt-{n}",
        "first_utm_source": "chatgpt.com",
        "first_utm_medium": "referral",
        "latest_utm_source": "chatgpt.com",
        "oppref": f"opp-{n}",
        **extra,
    }


def writes(ctx) -> list[CrmWrite]:
    with ctx.sessions() as session:
        return list(session.scalars(select(CrmWrite).order_by(CrmWrite.id)))


def settled(ctx, count: int) -> list[CrmWrite] | None:
    rows = writes(ctx)
    done = [w for w in rows if w.status in ("written", "failed")]
    return rows if len(done) == count else None


def stored(name: str, double, email: str) -> dict:
    if name == "hubspot":
        found = double.find("contacts", "email", email)
        return found[1] if found else {}
    rows = double.find("Lead", "Email", email)
    assert len(rows) <= 1, "a person was created twice"
    return rows[0] if rows else {}


FIELDS = {
    "hubspot": ("email", "first_utm_source", "first_utm_medium", "latest_utm_source", "openai_oppref"),
    "salesforce": (
        "Email",
        "First_UTM_Source__c",
        "First_UTM_Medium__c",
        "Latest_UTM_Source__c",
        "OpenAI_Oppref__c",
    ),
}


def test_submission_reaches_the_crm_with_mapped_fields(crm, client, ctx, processes):
    name, double = crm
    processes.start("worker", name="worker")
    client.post(URL, json=submission(1), headers=AUTH)
    (write,) = wait_for(lambda: settled(ctx, 1), message="crm write settled")
    assert write.status == "written", write.last_error
    assert write.outcome == "created" and write.event_id == "evt-1" and write.attempts == 1
    record = stored(name, double, "ana1@example.com")
    email, first_source, first_medium, latest, oppref = FIELDS[name]
    assert record[email] == "ana1@example.com"
    assert record[first_source] == "chatgpt.com" and record[first_medium] == "referral"
    assert record[latest] == "chatgpt.com" and record[oppref] == "opp-1"
    record_id = record["hs_object_id"] if name == "hubspot" else record["Id"]
    assert write.crm_object_id == record_id
    assert write.fields_written[oppref] == "opp-1"

    with ctx.sessions() as session:
        story = event_story(session, "evt-1")
    (shown,) = story["crm_writes"]
    assert shown["crm_object_id"] == record_id and shown["outcome"] == "created"
    text = render_text(story)
    assert f"CRM write {name} {write.object_type} record {record_id}: written (created)" in text
    assert "opp-1" in text and "crm" in {t["kind"] for t in story["timeline"]}


def test_first_touch_written_once_latest_touch_overwritten(crm, client, ctx, processes):
    name, double = crm
    processes.start("worker", name="worker")
    client.post(URL, json=submission(2), headers=AUTH)
    wait_for(lambda: settled(ctx, 1), message="first write")
    later = submission(
        2,
        event_id="evt-2b",
        first_utm_source="google",
        first_utm_medium="cpc",
        latest_utm_source="newsletter",
    )
    client.post(URL, json=later, headers=AUTH)
    first, second = wait_for(lambda: settled(ctx, 2), message="second write")
    assert first.status == second.status == "written"
    assert second.outcome == "updated" and second.crm_object_id == first.crm_object_id
    record = stored(name, double, "ana2@example.com")
    _, first_source, first_medium, latest, _ = FIELDS[name]
    assert record[first_source] == "chatgpt.com" and record[first_medium] == "referral"
    assert record[latest] == "newsletter"
    assert first_source not in second.fields_written and second.fields_written[latest] == "newsletter"


def test_crm_down_then_back_writes_once(crm, client, ctx, processes):
    name, double = crm
    double.fail_status_next = [503] * 3
    processes.start("worker", name="worker")
    for n in (3, 4):
        client.post(URL, json=submission(n), headers=AUTH)
    rows = wait_for(lambda: settled(ctx, 2), timeout=40, message="writes after the outage")
    assert [w.status for w in rows] == ["written", "written"], [w.last_error for w in rows]
    assert [w.attempts for w in rows] == [1, 1]  # a batch the CRM never judged costs no attempt
    for n in (3, 4):
        assert stored(name, double, f"ana{n}@example.com")
    assert not double.fail_status_next
    with ctx.sessions() as session:
        retries = session.scalars(select(JournalEntry).where(JournalEntry.kind == "crm-retry")).all()
    assert retries and "kept pending" in retries[0].message


def test_rate_limit_waits_for_retry_after(hubspot_double, env, client, ctx, processes):
    from tests.crm_writes.conftest import hubspot_env

    env.update(hubspot_env(hubspot_double))
    hubspot_double.rate_limit_next = 1
    hubspot_double.retry_after = "2"
    processes.start("worker", name="worker")
    time.sleep(1)  # the worker is up; the latency measured below is the CRM's wait
    started = time.monotonic()
    client.post(URL, json=submission(5), headers=AUTH)
    (write,) = wait_for(lambda: settled(ctx, 1), timeout=30, message="write after the rate limit")
    assert write.status == "written" and write.attempts == 1
    assert time.monotonic() - started >= 2
    assert hubspot_double.find("contacts", "email", "ana5@example.com")


def test_permanent_record_error_fails_only_that_write(hubspot_double, env, client, ctx, processes):
    from tests.crm_writes.conftest import hubspot_env

    env.update(hubspot_env(hubspot_double))
    client.post(URL, json=submission(6), headers=AUTH)
    client.post(URL, json=submission(7, email="not-an-email"), headers=AUTH)
    processes.start("worker", name="worker")
    good, bad = wait_for(lambda: settled(ctx, 2), message="both writes settled")
    assert good.status == "written"
    assert bad.status == "failed" and "INVALID_EMAIL" in bad.last_error and bad.outcome == "rejected"
    with ctx.sessions() as session:
        text = render_text(event_story(session, "evt-7"))
    assert "written" not in text.split("CRM write")[1].splitlines()[0]
    assert "error: PermanentError: INVALID_EMAIL" in text


def test_expired_credentials_keep_writes_pending_until_fixed(hubspot_double, env, client, ctx, processes):
    from tests.crm_writes.conftest import hubspot_env

    env.update(hubspot_env(hubspot_double))
    real_token = hubspot_double.token
    hubspot_double.token = "rotated-elsewhere"
    processes.start("worker", name="worker")
    client.post(URL, json=submission(8), headers=AUTH)
    wait_for(
        lambda: (rows := writes(ctx)) and rows[0].last_error and "AuthError" in rows[0].last_error,
        message="auth error recorded",
    )
    (write,) = writes(ctx)
    assert write.status in ("pending", "sending")
    hubspot_double.token = real_token
    (write,) = wait_for(lambda: settled(ctx, 1), timeout=30, message="written once credentials work")
    assert write.status == "written" and write.last_error is None
    assert "check the CRM credentials" in processes.logs()


def test_hubspot_repeat_visitor_costs_one_call_and_keeps_first_touch(
    hubspot_double, env, client, ctx, processes
):
    from tests.crm_writes.conftest import hubspot_env

    env.update(hubspot_env(hubspot_double))
    processes.start("worker", name="worker")
    client.post(URL, json=submission(9), headers=AUTH)
    wait_for(lambda: settled(ctx, 1), message="first visit written")
    assert hubspot_double.calls["batch_create"] == 1 and hubspot_double.calls["total"] == 1
    client.post(
        URL,
        json=submission(9, event_id="evt-9b", first_utm_source="bing", latest_utm_source="ad"),
        headers=AUTH,
    )
    wait_for(lambda: settled(ctx, 2), message="second visit written")
    assert hubspot_double.calls["batch_upsert"] == 1 and hubspot_double.calls["batch_read"] == 0
    record = stored("hubspot", hubspot_double, "ana9@example.com")
    assert record["first_utm_source"] == "chatgpt.com" and record["latest_utm_source"] == "ad"


def test_contact_created_outside_the_connector_keeps_its_values(hubspot_double, env, client, ctx, processes):
    from tests.crm_writes.conftest import hubspot_env

    env.update(hubspot_env(hubspot_double))
    existing = hubspot_double.add_contact(
        email="ana10@example.com", first_utm_source="linkedin", lastname="Costa"
    )
    processes.start("worker", name="worker")
    client.post(URL, json=submission(10), headers=AUTH)
    (write,) = wait_for(lambda: settled(ctx, 1), message="write settled")
    assert write.status == "written" and write.crm_object_id == existing and write.outcome == "updated"
    record = hubspot_double.records["contacts"][existing]
    assert record["first_utm_source"] == "linkedin" and record["lastname"] == "Costa"
    assert record["openai_oppref"] == "opp-10"
    assert [hubspot_double.calls[c] for c in ("batch_create", "batch_read", "batch_upsert")] == [1, 1, 1]


def test_salesforce_multiple_match_is_recorded_on_the_write(salesforce_double, env, client, ctx, processes):
    from tests.crm_writes.conftest import salesforce_env

    env.update(salesforce_env(salesforce_double))
    older = salesforce_double.add_record("Lead", Email="ana11@example.com", LastName="A", Company="X")
    newer = salesforce_double.add_record("Lead", Email="ana11@example.com", LastName="B", Company="Y")
    processes.start("worker", name="worker")
    client.post(URL, json=submission(11), headers=AUTH)
    (write,) = wait_for(lambda: settled(ctx, 1), message="write settled")
    assert write.status == "written" and write.outcome == "updated (multiple match)"
    assert write.crm_object_id == newer
    assert salesforce_double.records["Lead"][newer]["OpenAI_Oppref__c"] == "opp-11"
    assert "OpenAI_Oppref__c" not in salesforce_double.records["Lead"][older]
    with ctx.sessions() as session:
        text = render_text(event_story(session, "evt-11"))
    assert f"not touched: {older}" in text


def test_a_trickle_of_leads_within_the_batch_window_is_one_crm_call(
    hubspot_double, env, client, ctx, processes
):
    """A worker that drains faster than leads arrive finds the queue empty between them: their writes still
    go out together while each comes within a window of the one before (not cut when the oldest is a
    window old)."""
    from tests.crm_writes.conftest import hubspot_env

    env.update(hubspot_env(hubspot_double))
    env["CONNECTOR_CRM__BATCH_WINDOW_SECONDS"] = "1.5"
    processes.start("worker", name="worker")
    for n in range(8):  # 2.1 s from the first to the last: longer than one window
        client.post(URL, json=submission(40 + n), headers=AUTH)
        time.sleep(0.3)
    wait_for(lambda: settled(ctx, 8), timeout=60, message="all eight written")
    assert hubspot_double.calls["batch_create"] == 1, hubspot_double.calls
    assert all(w.status == "written" for w in writes(ctx))
