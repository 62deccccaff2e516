"""The report's numbers on a ledger of known journeys (tests/report/conftest.py), SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from connector.report import Cell, ReportError, ReportQuery, build_report, from_params, list_cell
from connector.report.build import Report
from tests.report.conftest import NOW, ago

U = "(unattributed)"


def counts(report: Report) -> dict[str, tuple[int, int, int, int, int]]:
    """Group -> (leads, submissions, meetings, opportunities, won)."""
    return {r.group: (r.leads, r.submissions, r.meetings, r.opportunities, r.won) for r in report.rows}


def full(report: Report) -> dict[str, tuple]:
    """Group -> counts, won amounts, conversions sent, median days to won."""
    return {
        r.group: (
            (r.leads, r.submissions, r.meetings, r.opportunities, r.won),
            r.won_amounts,
            r.conversions,
            r.median_days_to_won,
        )
        for r in report.rows
    }


def run(seeded, **query) -> Report:  # type: ignore[no-untyped-def]
    return build_report(seeded.ctx.engine, seeded.ctx.settings, ReportQuery(**query))


LEAD = {"lead_created": 1}


def test_by_ai_source_first_touch(seeded):  # type: ignore[no-untyped-def]
    assert full(run(seeded, by="ai_source", touch="first")) == {
        # ana (won 28 days after her lead, USD) and gus (17 days, EUR)
        "chatgpt": (
            (2, 2, 0, 2, 2),
            {"USD": 120050, "EUR": 9999},
            {"lead_created": 2, "order_created": 2},
            22.5,
        ),
        # ben: Won -> Lost -> Won is won once, one order_created
        "openai_ads": ((1, 1, 0, 1, 1), {"EUR": 80000}, {"lead_created": 1, "order_created": 1}, 24.9),
        # cara: two submissions, one person, a demo (an opportunity), not won
        "claude": ((1, 2, 0, 1, 0), {}, {"lead_created": 2, "appointment_scheduled": 1}, None),
        # dan: won 10 days ago, noticed now: expired, so no conversion; the stage change keeps the amount
        "perplexity": ((1, 1, 0, 1, 1), {"USD": 50000}, LEAD, 5.0),
        # fay: paid search, not AI
        "none": ((1, 1, 0, 1, 1), {"USD": 30000}, {"lead_created": 1, "order_created": 1}, 7.0),
        # eve (no attribution at all) and alan's booking, whose Calendly tracking is its latest touch only
        U: ((2, 1, 1, 0, 0), {}, LEAD, None),
    }


def test_by_ai_source_latest_touch(seeded):  # type: ignore[no-untyped-def]
    assert full(run(seeded, by="ai_source", touch="latest")) == {
        "chatgpt": ((2, 1, 1, 1, 1), {"USD": 120050}, {"lead_created": 1, "order_created": 1}, 28.0),
        "openai_ads": ((2, 2, 0, 2, 2), {"EUR": 89999}, {"lead_created": 2, "order_created": 2}, 20.9),
        "perplexity": ((1, 1, 0, 1, 0), {}, {"lead_created": 1, "appointment_scheduled": 1}, None),
        "gemini": ((1, 1, 0, 1, 1), {"USD": 50000}, LEAD, 5.0),
        "none": ((2, 2, 0, 1, 1), {"USD": 30000}, {"lead_created": 2, "order_created": 1}, 7.0),
        U: ((1, 1, 0, 0, 0), {}, LEAD, None),
    }


def test_by_ai_source_any_ai_touch(seeded):  # type: ignore[no-untyped-def]
    # Each submission counts once in every AI source one of its touches had; no AI touch: not counted.
    assert full(run(seeded, by="ai_source", touch="any")) == {
        "chatgpt": (
            (3, 2, 1, 2, 2),
            {"USD": 120050, "EUR": 9999},
            {"lead_created": 2, "order_created": 2},
            22.5,
        ),
        "openai_ads": ((2, 2, 0, 2, 2), {"EUR": 89999}, {"lead_created": 2, "order_created": 2}, 20.9),
        "claude": ((1, 2, 0, 1, 0), {}, {"lead_created": 2, "appointment_scheduled": 1}, None),
        "perplexity": ((2, 2, 0, 2, 1), {"USD": 50000}, {"lead_created": 2, "appointment_scheduled": 1}, 5.0),
        "gemini": ((1, 1, 0, 1, 1), {"USD": 50000}, LEAD, 5.0),
    }


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        (
            "channel",
            {
                "ai_assistant": (4, 5, 0, 4, 3),
                "openai_ads": (1, 1, 0, 1, 1),
                "paid_search": (1, 1, 0, 1, 1),
                U: (2, 1, 1, 0, 0),
            },
        ),
        (
            "utm_source",
            {
                "chatgpt.com": (2, 2, 0, 2, 2),
                "chatgpt": (1, 1, 0, 1, 1),
                "claude.ai": (1, 2, 0, 1, 0),
                "perplexity.ai": (1, 1, 0, 1, 1),
                "google": (1, 1, 0, 1, 1),
                U: (2, 1, 1, 0, 0),
            },
        ),
        (
            "utm_medium",
            {
                "referral": (4, 5, 0, 4, 3),
                "paid_ai": (1, 1, 0, 1, 1),
                "cpc": (1, 1, 0, 1, 1),
                U: (2, 1, 1, 0, 0),
            },
        ),
        ("utm_campaign", {"spring-ads": (1, 1, 0, 1, 1), "brand": (1, 1, 0, 1, 1), U: (6, 6, 1, 4, 3)}),
        (
            "landing_page",
            {
                "https://site.test/pricing": (2, 2, 0, 2, 2),
                "https://site.test/": (1, 1, 0, 1, 1),
                "https://site.test/blog/post": (1, 2, 0, 1, 0),
                "https://site.test/docs": (1, 1, 0, 1, 1),
                "https://site.test/lp/brand": (1, 1, 0, 1, 1),
                U: (2, 1, 1, 0, 0),
            },
        ),
        # cara's demo deal follows her second submission (the demo form): the resolver matched her latest
        # (a booking's form is its Calendly event type)
        (
            "form",
            {
                "contact": (6, 6, 0, 4, 4),
                "demo": (2, 2, 0, 2, 1),
                "https://api.calendly.com/event_types/ET-DEMO": (1, 0, 1, 0, 0),
            },
        ),
    ],
)
def test_every_grouping_first_touch(seeded, by, expected):  # type: ignore[no-untyped-def]
    assert counts(run(seeded, by=by, touch="first")) == expected


def test_lead_date_range(seeded):  # type: ignore[no-untyped-def]
    since = (NOW - timedelta(days=16)).date()
    found = counts(run(seeded, since=since))
    alan = date(2026, 11, 20) >= since  # the Calendly fixture's own date
    expected = {
        "perplexity": (1, 1, 0, 1, 1),
        "claude": (1, 1, 0, 1, 0),
        "none": (1, 1, 0, 1, 1),
        U: (2, 1, 1, 0, 0) if alan else (1, 1, 0, 0, 0),
    }
    assert found == expected
    # until is a whole day, included; this range holds ana (30 days ago) alone
    assert counts(run(seeded, since=ago(31).date(), until=ago(30).date())) == {"chatgpt": (1, 1, 0, 1, 1)}


def test_won_date_range_counts_the_deals_won_in_it(seeded):  # type: ignore[no-untyped-def]
    # ben (hours ago), gus and fay (a day ago) won in range; ana (2 days) and dan (10 days) before it
    report = run(seeded, date="won", since=ago(1).date())
    assert full(report) == {
        "openai_ads": ((1, 1, 0, 1, 1), {"EUR": 80000}, {"lead_created": 1, "order_created": 1}, 24.9),
        "chatgpt": ((1, 1, 0, 1, 1), {"EUR": 9999}, {"lead_created": 1, "order_created": 1}, 17.0),
        "none": ((1, 1, 0, 1, 1), {"USD": 30000}, {"lead_created": 1, "order_created": 1}, 7.0),
    }


def _monday(day: date) -> str:
    return str(day - timedelta(days=day.weekday()))


@pytest.mark.parametrize("trend", ["week", "month"])
def test_trend_buckets_by_lead_date(seeded, trend):  # type: ignore[no-untyped-def]
    report = run(seeded, by="ai_source", touch="first", trend=trend)

    def bucket(days: int) -> str:
        day = ago(days).date()
        return _monday(day) if trend == "week" else str(day.replace(day=1))

    chatgpt: dict[str, int] = {}
    for days in (30, 18):  # ana, gus
        chatgpt[bucket(days)] = chatgpt.get(bucket(days), 0) + 1
    assert {r.bucket: r.leads for r in report.rows if r.group == "chatgpt"} == chatgpt
    assert {r.bucket: r.won for r in report.rows if r.group == "chatgpt"} == chatgpt
    assert sum(r.submissions for r in report.rows) == 8
    assert report.buckets == sorted(report.buckets) and all(len(b) == 10 for b in report.buckets)


def test_cells_list_their_people_and_event_ids(seeded):  # type: ignore[no-untyped-def]
    ctx, query = seeded.ctx, ReportQuery(by="ai_source", touch="first")
    won = list_cell(ctx.engine, ctx.settings, query, Cell.parse("won=chatgpt"))
    assert {(w["email"], w["event_id"], w["record_id"], w["amount"], w["currency"]) for w in won} == {
        ("ana@example.com", "evt-01-ana", seeded.deals["ana"], 120050, "USD"),
        ("gus@example.com", "evt-04-gus", seeded.deals["gus"], 9999, "EUR"),
    }
    leads = list_cell(ctx.engine, ctx.settings, query, Cell.parse("claude"))
    assert [(e["email"], e["event_id"]) for e in leads] == [
        ("cara@example.com", "evt-07-cara"),
        ("cara@example.com", "evt-03-cara"),
    ]
    assert len({e["person"] for e in leads}) == 1  # one person
    meetings = list_cell(ctx.engine, ctx.settings, query, Cell.parse(f"meetings={U}"))
    assert [(m["email"], m["kind"]) for m in meetings] == [("alan@example.com", "booking")]
    sent = list_cell(ctx.engine, ctx.settings, query, Cell.parse("conversions=openai_ads"))
    assert sorted(c["type"] for c in sent) == ["lead_created", "order_created"]
    assert {c["event_id"] for c in sent} == {"evt-02-ben"}
    opportunities = list_cell(ctx.engine, ctx.settings, query, Cell.parse("opportunities=perplexity"))
    assert [(o["record_id"], o["amount"], o["currency"]) for o in opportunities] == [
        (seeded.deals["dan"], 50000, "USD")
    ]


def test_bad_parameters_are_named(seeded):  # type: ignore[no-untyped-def]
    for params, message in (
        ({"by": "colour"}, "by: expected one of channel, ai_source"),
        ({"touch": "middle"}, "touch: expected one of first, latest, any"),
        ({"since": "2026-13-01"}, "since: '2026-13-01' is not a calendar day"),
        ({"since": "last week"}, "since: expected a day as YYYY-MM-DD"),
        ({"since": "2026-10-02", "until": "2026-10-01"}, "until: 2026-10-01 is before since 2026-10-02"),
        ({"trend": "day"}, "trend: expected one of week, month"),
        ({"date": "closed"}, "date: expected one of lead, won"),
    ):
        with pytest.raises(ReportError, match=message.replace("(", r"\(")):
            from_params(params)
    ctx = seeded.ctx
    with pytest.raises(ReportError, match="name the bucket"):
        list_cell(ctx.engine, ctx.settings, ReportQuery(trend="week"), Cell.parse("chatgpt"))
