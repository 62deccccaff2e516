"""The report's facts kept by the writes (flush hook, conversions' triggers) equal the facts rebuilt from
the ledger, and their leads equal distinct people counted from the submissions, after mixed writes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, text, update

from connector.report import ReportQuery, build_report
from connector.report.query import NONE_LABEL
from connector.store.models import Conversion, ReportFact, StageChange, Submission
from connector.store.report_writes import rebuild
from tests.admin.ledger_rows import receipt, submission

START = datetime(2026, 9, 1, tzinfo=UTC)
TOUCHES = [
    {"first_channel": "ai_assistant", "first_ai_source": "chatgpt", "latest_ai_source": "chatgpt"},
    {"first_channel": "ai_assistant", "first_ai_source": "claude", "latest_ai_source": "none"},
    {"first_channel": "organic_search", "first_ai_source": "none", "latest_ai_source": "perplexity"},
    {"first_utm_campaign": "brand", "latest_ai_source": "chatgpt", "latest_channel": "openai_ads"},
    {},
]


def facts(session) -> list[tuple]:  # type: ignore[no-untyped-def]
    columns = [c for c in ReportFact.__table__.c]
    rows = session.execute(select(*columns).order_by(ReportFact.submission_id)).all()
    return [tuple(r) for r in rows]


def _writes(session) -> list[Submission]:  # type: ignore[no-untyped-def]
    """Submissions of four people in shuffled time order, edits of attribution and email, conversions
    inserted sent, sent later, failed and deleted."""
    rnd = random.Random(17)
    made = []
    for n in range(24):
        at = START + timedelta(days=rnd.randrange(60), hours=rnd.randrange(24))
        email = f"p{rnd.randrange(4)}@example.com"
        r = receipt(session, f"evt-{n}")
        made.append(
            submission(
                session,
                r,
                contact={"email": email},
                attribution=dict(rnd.choice(TOUCHES)),
                submitted_at=at,
                kind="booking" if n % 7 == 0 else "form",
                form_id=rnd.choice(("contact", "demo")),
            )
        )
    made[3].attribution = dict(TOUCHES[0])  # a new group for an old submission
    made[5].email = None  # erased: another person now (its event id's key)
    made[8].submitted_at = START - timedelta(days=3)  # moved before the person's others
    session.flush()
    for n, s in enumerate(made[:12]):
        session.add(
            Conversion(
                pixel_id="px",
                event_type="lead_created" if n % 3 else "custom",
                custom_event_name="" if n % 3 else "demo_booked",
                event_id=f"c-{n}",
                submission_id=s.id,
                status="sent" if n % 2 else "pending",
            )
        )
    session.flush()
    session.execute(update(Conversion).where(Conversion.event_id.in_(["c-0", "c-2"])).values(status="sent"))
    session.execute(update(Conversion).where(Conversion.event_id == "c-1").values(status="failed"))
    session.execute(delete(Conversion).where(Conversion.event_id == "c-3"))
    return made


def test_kept_facts_equal_the_rebuilt_ones(ctx):  # type: ignore[no-untyped-def]
    with ctx.sessions.begin() as session:
        _writes(session)
    with ctx.sessions.begin() as session:
        kept = facts(session)
        assert len(kept) == 24
        assert any(row[5] for row in kept)  # some sent lists
        rebuild(session.connection())
        assert facts(session) == kept


def _leads_by_hand(
    submissions: list[Submission], by: str, touch: str, since: datetime | None
) -> dict[str, int]:
    people: dict[str, set[str]] = {}
    for s in submissions:
        submitted = s.submitted_at if s.submitted_at.tzinfo else s.submitted_at.replace(tzinfo=UTC)
        if since is not None and submitted < since:
            continue
        values = []
        for side in ("first", "latest") if touch == "any" else (touch,):
            ai = getattr(s, f"{side}_ai_source")
            if touch == "any" and (ai is None or ai == "none"):
                continue
            values.append(s.form_id if by == "form" else getattr(s, f"{side}_{by}"))
        for value in set(values):
            people.setdefault(value or NONE_LABEL, set()).add(s.person_key)
    return {group: len(p) for group, p in people.items()}


def test_leads_are_the_distinct_people_of_each_group(ctx):  # type: ignore[no-untyped-def]
    with ctx.sessions.begin() as session:
        _writes(session)
    with ctx.sessions() as session:
        submissions = list(session.scalars(select(Submission)))
        profiles = session.scalar(text("SELECT count(*) FROM report_profiles"))
    assert profiles > 3
    for by in ("ai_source", "channel", "utm_campaign", "form"):
        for touch in ("first", "latest", "any"):
            for since in (None, START + timedelta(days=30)):
                query = ReportQuery(by=by, touch=touch, since=since.date() if since else None)
                found = {r.group: r.leads for r in build_report(ctx.engine, ctx.settings, query).rows}
                found = {g: n for g, n in found.items() if n}
                assert found == _leads_by_hand(submissions, by, touch, since), (by, touch, since)
    # weekly: a person counts once per week they submitted in
    report = build_report(ctx.engine, ctx.settings, ReportQuery(by="form", trend="week"))
    weeks: dict[tuple[str, str], set[str]] = {}
    for s in submissions:
        day = s.submitted_at.date()
        monday = str(day - timedelta(days=day.weekday()))
        weeks.setdefault((s.form_id, monday), set()).add(s.person_key)
    assert {(r.group, r.bucket): r.leads for r in report.rows} == {k: len(v) for k, v in weeks.items()}


def test_a_record_reaching_a_group_through_two_submissions_counts_once(ctx):  # type: ignore[no-untyped-def]
    with ctx.sessions.begin() as session:
        for n, email in enumerate(("a@example.com", "b@example.com")):
            r = receipt(session, "evt-shared")
            submission(
                session,
                r,
                contact={"email": email},
                attribution=dict(TOUCHES[0]),
                submitted_at=START + timedelta(days=n),
                form_id="contact",
            )
        session.add(
            StageChange(
                crm="hubspot",
                object_type="deals",
                record_id="d1",
                stage="appointmentscheduled",
                entered_at=START + timedelta(days=3),
                via="webhook",
                delivery_key="k1",
                change_key="k1",
                rule="demo",
                attributed_event_id="evt-shared",
            )
        )
    for query in (
        ReportQuery(by="form"),
        ReportQuery(by="form", touch="any"),
        ReportQuery(by="form", trend="month"),
    ):
        report = build_report(ctx.engine, ctx.settings, query)
        assert [(r.group, r.leads, r.opportunities) for r in report.rows] == [("contact", 2, 1)], query
