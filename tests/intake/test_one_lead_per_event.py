"""One lead per form event_id, whichever form sources deliver it (the WordPress plugin and CF7 to Webhook).

These run the receipt job in this process; tests/intake/test_wordpress_e2e.py runs real workers against
the CRM and OpenAI doubles.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import func, select, update

from connector import context
from connector.attribution import Attribution, Contact
from connector.intake.records import claim_form_event
from connector.intake.submission import Submission as ParsedSubmission
from connector.jobs.receipts import process_receipt
from connector.replay import replay_failed
from connector.store.models import Conversion, FormEventClaim, JournalEntry, Receipt
from connector.story import event_story, render_text
from tests.intake.helpers import SECRET, receipts, run_jobs, standard_webhook, submissions, use_secrets

CF7 = "/webhooks/forms/contact_form_7"
WORDPRESS = "/webhooks/forms/wordpress"
GENERIC = "/webhooks/forms/generic"


@pytest.fixture
def env(env):
    """Conversions on, in dry run (no API key): every lead records one `would_send` conversion."""
    env.update(
        {
            "CONNECTOR_CONVERSIONS__ENABLED": "true",
            "CONNECTOR_CONVERSIONS__PIXELS__MAIN__PIXEL_ID": "px_test",
            "CONNECTOR_CONVERSIONS__API_KEY_ENV": "NO_SUCH_KEY_FOR_TESTS",
        }
    )
    return env


def cf7_body(event_id: str) -> dict[str, str]:
    """What CF7 to Webhook posts for the entry: tag names, our hidden fields, the page."""
    return {
        "your-name": "Ada Lovelace",
        "your-email": "ada@example.com",
        "event_id": event_id,
        "first_utm_source": "chatgpt.com",
        "consent": "granted",
        "_url": "https://example.com/pricing",
        "_contact_form_id": "12",
    }


def wordpress_body(event_id: str) -> bytes:
    """What our WordPress plugin posts for the same entry."""
    return json.dumps(
        {
            "v": 1,
            "type": "form_submission",
            "plugin": "contact_form_7",
            "form_id": "12",
            "page_url": "https://example.com/pricing",
            "contact": {"email": "ada@example.com", "name": "Ada Lovelace"},
            "attribution": {"event_id": event_id, "first_utm_source": "chatgpt.com", "consent": "granted"},
        }
    ).encode()


def post_cf7(client, event_id: str) -> int:  # type: ignore[no-untyped-def]
    answer = client.post(CF7, json=cf7_body(event_id), headers={"X-Connector-Token": SECRET})
    assert answer.status_code == 200, answer.data
    return answer.get_json()["receipt_id"]


def post_wordpress(client, event_id: str, webhook_id: str | None = None) -> int:  # type: ignore[no-untyped-def]
    body = wordpress_body(event_id)
    headers = standard_webhook(SECRET.encode(), body, webhook_id or f"msg_{event_id}")
    answer = client.post(WORDPRESS, data=body, headers=headers)
    assert answer.status_code == 200, answer.data
    return answer.get_json()["receipt_id"]


def conversions(ctx, event_id: str) -> int:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return session.scalar(
            select(func.count()).select_from(Conversion).where(Conversion.event_id == event_id)
        )


def duplicate_notes(ctx, receipt_id: int) -> list[JournalEntry]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return list(
            session.scalars(
                select(JournalEntry).where(
                    JournalEntry.receipt_id == receipt_id, JournalEntry.kind == "duplicate"
                )
            )
        )


@pytest.mark.parametrize("first", ["contact_form_7", "wordpress"])
def test_both_paths_make_one_lead_and_the_second_is_a_duplicate(client, ctx, first):
    use_secrets(client)
    if first == "contact_form_7":
        holder, other = post_cf7(client, "evt-both"), post_wordpress(client, "evt-both")
    else:
        holder, other = post_wordpress(client, "evt-both"), post_cf7(client, "evt-both")
    assert run_jobs(ctx) == ["processed", "processed"]
    (lead,) = submissions(ctx)
    assert lead.receipt_id == holder and lead.source == first
    assert conversions(ctx, "evt-both") == 1
    assert duplicate_notes(ctx, holder) == []
    (note,) = duplicate_notes(ctx, other)
    assert f"duplicate of receipt #{holder} ({first})" in note.message
    assert note.details == {"duplicate_of_receipt": holder, "event_id": "evt-both"}
    with ctx.sessions() as session:
        story = event_story(session, "evt-both")
    assert [r["id"] for r in story["receipts"]] == [holder, other]
    assert all(r["status"] == "processed" for r in story["receipts"])
    assert len(story["submissions"]) == 1 and len(story["conversions"]) == 1
    assert f"is a duplicate of receipt #{holder}" in render_text(story)


def test_any_form_source_counts_and_other_event_ids_are_their_own_leads(client, ctx):
    use_secrets(client)
    post_wordpress(client, "evt-1")
    client.post(
        GENERIC, json={"email": "ada@example.com", "event_id": "evt-1"}, headers={"X-Connector-Token": SECRET}
    )
    post_cf7(client, "evt-2")
    post_wordpress(client, "evt-3")
    run_jobs(ctx)
    assert sorted((s.event_id, s.source) for s in submissions(ctx)) == [
        ("evt-1", "wordpress"),
        ("evt-2", "contact_form_7"),
        ("evt-3", "wordpress"),
    ]


def test_a_submission_without_event_id_claims_nothing(client, ctx):
    use_secrets(client)
    for n in range(2):
        body = {"your-email": f"ana{n}@example.com", "your-name": "Ana"}
        client.post(CF7, json=body, headers={"X-Connector-Token": SECRET})
    run_jobs(ctx)
    assert len(submissions(ctx)) == 2
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FormEventClaim)) == 0


def test_a_replay_of_the_lead_is_not_a_duplicate_of_itself(client, ctx):
    use_secrets(client)
    holder, other = post_cf7(client, "evt-replay"), post_wordpress(client, "evt-replay")
    run_jobs(ctx)
    # An operator runs both again (as after fixing a mapping): the lead stays the lead, the other a duplicate.
    with ctx.sessions.begin() as session:
        session.execute(update(Receipt).where(Receipt.id.in_([holder, other])).values(status="failed"))
    assert replay_failed(ctx, [holder, other], None) == 2
    assert run_jobs(ctx) == ["processed", "processed"]
    (lead,) = submissions(ctx)
    assert lead.receipt_id == holder
    assert duplicate_notes(ctx, holder) == []
    assert len(duplicate_notes(ctx, other)) == 2
    assert conversions(ctx, "evt-replay") == 1


def test_a_booking_never_claims_a_form_event(ctx):
    with ctx.sessions.begin() as session:
        receipt = Receipt(source="calendly", delivery_key="k", body=b"")
        session.add(receipt)
        session.flush()
        booking = ParsedSubmission(
            source="calendly",
            delivery_key="k",
            contact=Contact(email="a@b.co"),
            attribution=Attribution({"event_id": "evt-booked"}),
            kind="booking",
        )
        assert claim_form_event(session, receipt, booking) is None
        assert session.scalar(select(func.count()).select_from(FormEventClaim)) == 0


def process_together(receipt_ids: tuple[int, int]) -> list[str]:
    """Run the receipt job for each id in its own thread, released at the same moment."""
    barrier = threading.Barrier(len(receipt_ids))
    outcomes: list[str] = []

    def work(receipt_id: int) -> None:
        barrier.wait()
        outcomes.append(process_receipt(receipt_id))

    threads = [threading.Thread(target=work, args=(receipt_id,)) for receipt_id in receipt_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_concurrent_processing_of_both_paths_still_makes_one_lead(client, ctx):
    """Each pair's two receipts are processed at the same moment by two threads (two workers' jobs)."""
    use_secrets(client)
    pairs = [(post_cf7(client, f"evt-c{n}"), post_wordpress(client, f"evt-c{n}")) for n in range(6)]
    context.install(ctx)
    for pair in pairs:
        assert process_together(pair) == ["processed", "processed"]
    for n, pair in enumerate(pairs):
        event_id = f"evt-c{n}"
        leads = [s for s in submissions(ctx) if s.event_id == event_id]
        assert len(leads) == 1 and leads[0].receipt_id in pair
        (other,) = [r for r in pair if r != leads[0].receipt_id]
        assert len(duplicate_notes(ctx, other)) == 1
        assert conversions(ctx, event_id) == 1
    assert {r.status for r in receipts(ctx)} == {"processed"}


def test_the_second_claim_waits_for_the_first_transaction(ctx):
    """The database, not the job, decides: a second claim of an event_id blocks until the first commits,
    then finds the first one's receipt."""
    with ctx.sessions.begin() as session:
        first, second = (
            Receipt(source="contact_form_7", delivery_key="a", body=b""),
            Receipt(source="wordpress", delivery_key="b", body=b""),
        )
        session.add_all([first, second])
    parsed = ParsedSubmission(
        source="contact_form_7",
        delivery_key="a",
        contact=Contact(),
        attribution=Attribution({"event_id": "evt-w"}),
    )
    found: list[int | None] = []

    def second_claim() -> None:
        with ctx.sessions.begin() as other:
            found.append(claim_form_event(other, second, parsed))

    with ctx.sessions.begin() as session:
        assert claim_form_event(session, first, parsed) is None
        thread = threading.Thread(target=second_claim)
        thread.start()
        time.sleep(0.5)
        assert found == [], "the second claim must wait for the first transaction"
    thread.join(30)
    assert found == [first.id]
