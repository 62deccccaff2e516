"""The batch job's form receipts: their event claims and submission rows written in one statement each,
with every receipt's outcome what it would be alone (connector.intake.prepared)."""

from __future__ import annotations

from sqlalchemy import event, select

from connector import context
from connector.jobs.receipts import process_receipts
from connector.store.models import FormEventClaim, Submission
from tests.intake.test_batch_job import journal, lead, status, store


class Statements:
    """The statements the engine sends, by the table they insert into."""

    def __init__(self, engine):  # type: ignore[no-untyped-def]
        self.engine = engine
        self.inserts: list[str] = []

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO"):
            self.inserts.append(statement.split()[2].strip('"'))

    def count(self, table: str) -> int:
        return self.inserts.count(table)


def leads(ctx) -> list[int]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return list(session.scalars(select(Submission.receipt_id).order_by(Submission.receipt_id)))


def holder(ctx, event_id: str) -> int | None:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return session.scalar(select(FormEventClaim.receipt_id).where(FormEventClaim.event_id == event_id))


def test_a_batch_writes_its_claims_and_its_submissions_in_one_statement_each(ctx):
    context.install(ctx)
    ids = [store(ctx, "generic", f"k{n}", lead(n)) for n in range(8)]
    with Statements(ctx.engine) as seen:
        assert process_receipts(ids) == {"processed": 8}
    assert seen.count("form_event_claims") == 1
    # The ORM writes the rows together where RETURNING can be matched to them (PostgreSQL); on SQLite
    # each row is its own INSERT, an in-process call rather than a round trip.
    assert seen.count("submissions") == (1 if ctx.engine.dialect.name == "postgresql" else 8)
    assert leads(ctx) == ids
    assert [holder(ctx, f"evt-{n}") for n in range(8)] == ids
    with ctx.sessions() as session:
        row = session.scalar(select(Submission).where(Submission.receipt_id == ids[5]))
        assert row is not None
        assert (row.email, row.event_id, row.latest_utm_source) == (
            "lead5@example.com",
            "evt-5",
            "chatgpt.com",
        )
        assert row.person_key, "the report's columns are written with the row"
    assert all(journal(ctx, i) == ["processing", "submission", "processed"] for i in ids)


def test_copies_of_one_event_among_other_leads_in_a_batch_are_duplicates_of_the_first(ctx):
    context.install(ctx)
    first = store(ctx, "generic", "a", lead(1))
    other = store(ctx, "generic", "b", lead(2))
    copy = store(ctx, "generic", "c", lead(1))
    again = store(ctx, "generic", "d", lead(1))
    assert process_receipts([first, other, copy, again]) == {"processed": 4}
    assert leads(ctx) == [first, other]
    assert holder(ctx, "evt-1") == first
    assert journal(ctx, copy) == journal(ctx, again) == ["processing", "duplicate", "processed"]


def test_a_copy_of_an_event_an_earlier_job_kept_is_its_duplicate_and_the_holder_is_not(ctx):
    context.install(ctx)
    earlier = store(ctx, "generic", "a", lead(1))
    assert process_receipts([earlier]) == {"processed": 1}
    copy = store(ctx, "generic", "b", lead(1))
    fresh = store(ctx, "generic", "c", lead(2))
    assert process_receipts([copy, fresh]) == {"processed": 2}
    assert leads(ctx) == [earlier, fresh]
    assert journal(ctx, copy) == ["processing", "duplicate", "processed"]
    assert holder(ctx, "evt-1") == earlier


def test_a_receipt_failing_after_the_batchs_statements_rolls_them_back_and_runs_alone(ctx):
    """The submission rows' statement fails for one receipt (injected at the database driver): the batch
    is rolled back, each receipt runs alone, and only the failing one's claim and row are missing."""
    context.install(ctx)
    ids = [store(ctx, "generic", f"k{n}", lead(n)) for n in range(6)]
    broken = ids[3]

    def refuse(_conn, _cursor, statement, params, _context, _many):  # type: ignore[no-untyped-def]
        values = params.values() if isinstance(params, dict) else params
        if statement.lstrip().upper().startswith("INSERT INTO SUBMISSIONS") and broken in list(values):
            raise RuntimeError("the database refused this row")

    event.listen(ctx.engine, "before_cursor_execute", refuse)
    try:
        assert process_receipts(ids) == {"processed": 5, "retry scheduled": 1}
    finally:
        event.remove(ctx.engine, "before_cursor_execute", refuse)
    kept = [i for i in ids if i != broken]
    assert leads(ctx) == kept
    assert [holder(ctx, f"evt-{n}") for n in range(6)] == [*kept[:3], None, *kept[3:]]
    assert all(journal(ctx, i) == ["processing", "submission", "processed"] for i in kept)
    assert status(ctx, broken) == "retrying"
    assert journal(ctx, broken) == ["processing", "retry"]
    assert process_receipts([broken]) == {"processed": 1}, "its retry keeps it"
    assert holder(ctx, "evt-3") == broken
    assert leads(ctx) == ids
