"""`connector forget EMAIL|EVENT_ID`: one person's personal data leaves the ledger (submissions, raw bodies,
identifying headers, bookings' and conversions' personal fields, CRM values recorded here, journal details),
queued CRM writes and conversions are cancelled, the counts a report needs stay, another person is untouched,
and the erasure itself is journaled without the data."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import select

from connector.store.models import Conversion, CrmWrite, JournalEntry, Receipt, Submission
from tests.conftest import ROOT, TOKEN, wait_for
from tests.conversions.conftest import double_env, openai_double
from tests.crm.conftest import hs_mapping, hubspot_double, mappings
from tests.crm_writes.conftest import hubspot_env

__all__ = ["hs_mapping", "hubspot_double", "mappings", "openai_double"]

URL = "/webhooks/forms/generic"
ADA = "ada@example.com"


def lead(email: str, event_id: str, **extra: str) -> dict[str, str]:
    return {
        "email": email,
        "first_name": email.split("@")[0].title(),
        "phone": "+44 20 7946 0000",
        "event_id": event_id,
        "first_utm_source": "chatgpt",
        "first_channel": "openai_ads",
        "first_ai_source": "openai_ads",
        "first_landing_page": f"https://example.com/?utm_source=chatgpt&email={email}",
        "first_referrer": "https://chatgpt.com/",
        "oppref": "opp-" + event_id,
        "conversion_page": "https://example.com/demo",
        "consent": "granted",
        **extra,
    }


@pytest.fixture
def env(env, hubspot_double, openai_double):
    env.update(hubspot_env(hubspot_double))
    env.update(double_env(openai_double.url))
    return env


def forget(env, *args: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "connector", "forget", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def everything(ctx) -> dict[str, list]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return {
            "submissions": list(session.scalars(select(Submission).order_by(Submission.id))),
            "receipts": list(session.scalars(select(Receipt).order_by(Receipt.id))),
            "writes": list(session.scalars(select(CrmWrite).order_by(CrmWrite.id))),
            "conversions": list(session.scalars(select(Conversion).order_by(Conversion.id))),
            "journal": list(session.scalars(select(JournalEntry).order_by(JournalEntry.id))),
        }


def test_forget_erases_one_person_and_keeps_the_counts(client, ctx, env, processes):
    headers = {"X-Connector-Token": TOKEN, "X-Forwarded-For": "198.51.100.7", "User-Agent": "Ada's browser"}
    for body in (
        lead(ADA, "evt-ada-1"),
        lead("ADA@example.com", "evt-ada-2"),
        lead("bob@example.com", "evt-bob"),
    ):
        assert client.post(URL, json=body, headers=headers).status_code == 200
    processes.start("worker", name="worker")
    wait_for(
        lambda: (
            (rows := everything(ctx))["writes"]
            and all(w.status == "written" for w in rows["writes"])
            and len([c for c in rows["conversions"] if c.status == "sent"]) == 3
        ),
        timeout=60,
        message="leads written to the CRM and sent to OpenAI",
    )
    processes.stop_all()
    before = everything(ctx)

    dry = forget(env, "evt-ada-2", "--dry-run")  # an event id names the person: both of Ada's leads
    assert dry.returncode == 0, dry.stderr
    assert "would erase" in dry.stdout and "submissions: 2" in dry.stdout
    assert [s.contact for s in everything(ctx)["submissions"]] == [s.contact for s in before["submissions"]]

    done = forget(env, ADA)
    assert done.returncode == 0, done.stderr
    assert "submissions: 2" in done.stdout and "not erased here" in done.stdout
    assert ADA not in done.stdout + done.stderr  # printed nothing of the person but what was asked

    after = everything(ctx)
    ada = [s for s in after["submissions"] if s.event_id in ("evt-ada-1", "evt-ada-2")]
    (bob,) = [s for s in after["submissions"] if s.event_id == "evt-bob"]
    assert len(ada) == 2 and len(after["submissions"]) == 3, "the rows stay: reports still count them"
    for submission in ada:
        assert submission.email is None and submission.contact == {}
        assert submission.attribution == {
            "first_utm_source": "chatgpt",
            "first_channel": "openai_ads",
            "first_ai_source": "openai_ads",
            "latest_channel": "openai_ads",  # classified by the connector from the same touch
            "latest_ai_source": "openai_ads",
            "event_id": submission.event_id,
            "consent": "granted",
        }
    assert bob.email == "bob@example.com" and bob.contact["first_name"] == "Bob"
    assert "first_landing_page" in bob.attribution and bob.attribution["oppref"] == "opp-evt-bob"

    ada_receipts = {s.receipt_id for s in ada}
    for receipt in after["receipts"]:
        if receipt.id in ada_receipts:
            assert receipt.body is None and receipt.body_purged_at is not None
            assert set(receipt.headers) <= {"content-type"}
        else:
            assert receipt.body and b"bob@example.com" in receipt.body
    ada_ids = {s.id for s in ada}
    assert all(w.fields_written == {} for w in after["writes"] if w.submission_id in ada_ids)
    assert any(w.fields_written for w in after["writes"] if w.submission_id == bob.id)
    for conversion in after["conversions"]:
        mine = conversion.submission_id in ada_ids
        assert ("user" in conversion.payload) is not mine and conversion.status == "sent"
    for entry in after["journal"]:
        if entry.receipt_id in ada_receipts:
            assert entry.details == {}
    (erasure,) = [e for e in after["journal"] if e.kind == "erasure"]
    assert ADA not in json.dumps(erasure.details) + erasure.message
    assert erasure.details["submissions"] == 2
    assert len(after["journal"]) == len(before["journal"]) + 1


def test_forget_cancels_what_is_still_queued(client, ctx, env, monkeypatch, openai_double):
    for name, value in double_env(openai_double.url).items():  # the in-process jobs read secrets from here
        monkeypatch.setenv(name, value)
    assert client.post(URL, json=lead(ADA, "evt-q"), headers={"X-Connector-Token": TOKEN}).status_code == 200
    from tests.intake.helpers import run_jobs

    run_jobs(ctx)  # the receipt processed here; its CRM write and conversion wait for their own jobs
    rows = everything(ctx)
    assert [w.status for w in rows["writes"]] == ["pending"]
    assert [c.status for c in rows["conversions"]] == ["pending"]
    assert forget(env, ADA).returncode == 0
    rows = everything(ctx)
    assert [(w.status, w.outcome) for w in rows["writes"]] == [("failed", "forgotten")]
    assert [(c.status, c.reason) for c in rows["conversions"]] == [("skipped", "forgotten")]


def test_forget_someone_unknown_says_so_and_changes_nothing(env, ctx):
    result = forget(env, "nobody@example.com")
    assert result.returncode == 1 and "nothing erased" in result.stderr
    assert everything(ctx)["journal"] == []
