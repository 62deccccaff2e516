"""The Events page: search by event_id, email, CRM record id and oppref; one event's story as a timeline;
the same in Chromium against `connector serve`, a worker and the HubSpot and OpenAI doubles."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import httpx

from connector.admin.queries import events as queries
from connector.admin.queries.bounded import bounded_count, first_id_since
from connector.store.models import Receipt
from connector.timeutil import utcnow
from tests.admin import ledger_rows as rows
from tests.admin.shots import screenshot
from tests.conftest import TOKEN, wait_for


def _keys(matches: list[queries.Match]) -> list[str]:
    return [m.key for m in matches]


def test_search_finds_a_story_by_each_identifier_the_ledger_indexes(ctx):
    with ctx.sessions.begin() as session:
        lead = rows.lead(session, "evt-ann", email="ann@example.com", oppref="opp/Ref+1==")
        rows.crm_write(session, lead, crm_object_id="hs-501", status="written")
        rows.stage_change(session, "deal-77", attributed_event_id="evt-ann", status="converted")
        rows.conversion(session, "evt-ann")
        rows.lead(session, "evt-bob", email="bob@example.com", oppref="other")
        bare = rows.receipt(session, None, source="wpforms", status="failed")
    with ctx.sessions() as session:
        assert _keys(queries.search(session, "evt-ann")) == ["evt-ann"]
        assert queries.search(session, "evt-ann")[0].matched == "event id"
        # The email as intake stores it: trimmed and lowercased, so a differently typed query finds it.
        found = queries.search(session, "  Ann@Example.COM ")
        assert _keys(found) == ["evt-ann"] and found[0].matched == "email"
        assert _keys(queries.search(session, "hs-501")) == ["evt-ann"]
        assert _keys(queries.search(session, "deal-77")) == ["evt-ann"]
        assert [(m.key, m.matched) for m in queries.search(session, "opp/Ref+1==")] == [("evt-ann", "oppref")]
        assert _keys(queries.search(session, f"receipt:{bare.id}")) == [f"receipt:{bare.id}"]
        # Exact matches only: a prefix, another case of an id, or an unknown value finds nothing.
        assert queries.search(session, "evt-an") == []
        assert queries.search(session, "EVT-ANN") == []
        assert queries.search(session, "nobody@example.com") == []
        assert queries.search(session, "   ") == []


def test_the_oppref_search_reads_its_expression_index(ctx):
    """The query spells `attribution ->> 'oppref'` exactly as ix_submissions_oppref does, on both databases."""
    from sqlalchemy import select

    from connector.store.models import Submission

    stmt = select(Submission.id).where(queries.oppref_of(Submission.attribution) == "x")
    with ctx.engine.connect() as connection:
        sql = str(stmt.compile(connection, compile_kwargs={"literal_binds": True}))
        if connection.dialect.name == "sqlite":
            plan = " ".join(str(r) for r in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        else:
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(str(r) for r in connection.exec_driver_sql("EXPLAIN " + sql))
    assert "ix_submissions_oppref" in plan, plan


def test_latest_pages_through_receipts_newest_first(ctx):
    with ctx.sessions.begin() as session:
        ids = [rows.receipt(session, f"evt-{n}").id for n in range(5)]
    with ctx.sessions() as session:
        first, older = queries.latest(session, limit=2)
        assert _keys(first) == ["evt-4", "evt-3"] and older == ids[3]
        second, older = queries.latest(session, before_id=older, limit=2)
        assert _keys(second) == ["evt-2", "evt-1"]
        last, older = queries.latest(session, before_id=older, limit=2)
        assert _keys(last) == ["evt-0"] and older is None


def test_first_id_since_finds_the_window_start_across_gaps_in_ids(ctx):
    now = utcnow()
    with ctx.sessions.begin() as session:
        stamped = []
        for n in range(40):
            r = rows.receipt(session, f"w-{n}", received_at=now - timedelta(hours=40 - n))
            stamped.append(r)
        for r in stamped[5:30:3]:  # holes in the id sequence
            session.delete(r)
    kept = [r for i, r in enumerate(stamped) if i not in range(5, 30, 3)]
    with ctx.sessions() as session:
        for hours in (0.5, 1, 7, 13, 24, 39.5, 41):
            since = now - timedelta(hours=hours)
            expected = min((r.id for r in kept if r.received_at >= since), default=None)
            assert first_id_since(session, Receipt.id, Receipt.received_at, since) == expected, hours
        assert first_id_since(session, Receipt.id, Receipt.received_at, now + timedelta(hours=1)) is None


def test_bounded_count_stops_at_its_cap(ctx):
    from sqlalchemy import select

    with ctx.sessions.begin() as session:
        for n in range(7):
            rows.receipt(session, f"c-{n}")
    with ctx.sessions() as session:
        ids = select(Receipt.id)
        assert bounded_count(session, ids, cap=10) == (7, False)
        assert bounded_count(session, ids, cap=7) == (7, False)
        assert bounded_count(session, ids, cap=5) == (5, True)


def test_the_story_page_shows_every_part_and_a_missing_event_is_a_404(ctx, admin_client):
    with ctx.sessions.begin() as session:
        lead = rows.lead(session, "evt-story", email="story@example.com", oppref="opp-1")
        rows.crm_write(
            session,
            lead,
            crm_object_id="hs-9",
            status="written",
            outcome="created",
            fields_written={"first_utm_source": "chatgpt.com", "openai_oppref": "opp-1"},
            attempts=1,
        )
        conv = rows.conversion(session, "evt-story", status="sent", attempts=1)
        rows.request(
            session, "px_test_1", [conv], status_code=200, body='{"events_received": 1}', elapsed_ms=12
        )
        rows.stage_change(
            session, "deal-9", attributed_event_id="evt-story", stage="closedwon", status="converted"
        )
        rows.journal(session, "evt-story", "crm", "hubspot contacts hs-9 created: 2 field(s)")
    viewer = admin_client("viewer")
    page = viewer.get("/admin/events/evt-story")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for shown in (
        "Receipt #",
        "story@example.com",
        "opp-1",
        "first_utm_source",
        "chatgpt.com",
        "hs-9",
        "lead_created",
        "HTTP 200",
        "{&#34;events_received&#34;: 1}",
        "closedwon",
        "hubspot contacts hs-9 created: 2 field(s)",
    ):
        assert shown in html, shown
    missing = viewer.get("/admin/events/no-such-event")
    assert missing.status_code == 404
    assert "The ledger knows nothing about no-such-event" in missing.get_data(as_text=True)


def test_the_events_page_lists_searches_and_says_what_it_searched(ctx, admin_client):
    viewer = admin_client("viewer")
    empty = viewer.get("/admin/events").get_data(as_text=True)
    assert "No events yet" in empty
    with ctx.sessions.begin() as session:
        rows.lead(session, "evt-list", email="list@example.com")
    listed = viewer.get("/admin/events").get_data(as_text=True)
    assert "/admin/events/evt-list" in listed
    found = viewer.get("/admin/events?q=LIST@example.com").get_data(as_text=True)
    assert "1 story for" in found and "searched as an email" in found and "/admin/events/evt-list" in found
    none = viewer.get("/admin/events?q=evt-nope").get_data(as_text=True)
    assert "Nothing matches evt-nope" in none


HOSTILE = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=2</script>"


def _lead_body(event_id: str, **extra: str) -> dict[str, str]:
    moment = (utcnow() - timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
    body = {
        "email": "ada@example.com",
        "first_name": "Ada",
        "event_id": event_id,
        "oppref": "oppref-e2e-1",
        "consent": "granted",
        "conversion_page": "https://example.com/demo",
        "first_utm_source": "chatgpt.com",
        "submitted_at": moment,
    }
    body.update(extra)
    return body


def post_lead(console, body: dict[str, str]) -> int:  # type: ignore[no-untyped-def]
    answer = httpx.post(
        f"{console.url}/webhooks/forms/generic", json=body, headers={"X-Connector-Token": TOKEN}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["receipt_id"])


def _conversion_sent(console, event_id: str, status: tuple[str, ...] = ("sent",)) -> bool:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from connector.store.models import Conversion, CrmWrite

    with console.ctx.sessions() as session:
        sent = session.scalar(select(Conversion.status).where(Conversion.event_id == event_id)) in status
        written = session.scalar(select(CrmWrite.status).where(CrmWrite.event_id == event_id)) == "written"
    return sent and written


def test_in_chromium_search_each_way_and_read_the_story_of_a_real_lead(console):
    post_lead(console, _lead_body("evt-e2e-1"))
    wait_for(lambda: _conversion_sent(console, "evt-e2e-1"), timeout=40, message="lead written and sent")
    page = console.page("viewer")
    page.goto(f"{console.url}/admin/events")
    assert page.locator("table.data a", has_text="evt-e2e-1").count() == 1
    screenshot(console, page, "events-data")
    from sqlalchemy import select

    from connector.store.models import CrmWrite

    with console.ctx.sessions() as session:
        record_id = session.scalar(select(CrmWrite.crm_object_id).where(CrmWrite.event_id == "evt-e2e-1"))
    for query, matched in (
        ("evt-e2e-1", "event id"),
        ("ADA@example.com", "email"),
        (record_id, "CRM record"),
        ("oppref-e2e-1", "oppref"),
    ):
        page.fill("#q", query)
        page.click("form.search button[type=submit]")
        row = page.locator("table.data tbody tr")
        assert row.count() == 1, query
        assert matched in row.inner_text(), (query, row.inner_text())
    page.click("table.data a")
    page.wait_for_url(f"{console.url}/admin/events/evt-e2e-1")
    text = page.inner_text("main")
    # Receipt, submission and attribution, the CRM write with its fields, the conversion and OpenAI's answer.
    for shown in ("Receipt #", "ada@example.com", "chatgpt.com", "oppref-e2e-1", record_id, "HTTP 200"):
        assert shown in text, shown
    assert page.locator(".timeline li").count() >= 3
    screenshot(console, page, "event-story", full_page=True)


def test_in_chromium_hostile_webhook_values_render_as_text(console):
    body = _lead_body(
        "evt-hostile",
        first_name=HOSTILE,
        company=SCRIPT,
        first_utm_source=HOSTILE,
        oppref=SCRIPT,
        conversion_page="javascript:alert(1)",
    )
    post_lead(console, body)
    post_lead(console, _lead_body(SCRIPT, email="other@example.com"))
    # Its conversion fails local validation (a javascript: source_url); the CRM write goes through.
    done = ("sent", "failed")
    wait_for(
        lambda: _conversion_sent(console, "evt-hostile", done), timeout=40, message="hostile lead processed"
    )
    page = console.page("viewer")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for path in ("/admin/events", "/admin/events/evt-hostile", "/admin/events?" + urlencode({"q": SCRIPT})):
        page.goto(f"{console.url}{path}")
        assert page.evaluate("window.__pwned") is None, path
        assert page.locator("main img").count() == 0, path
        assert page.locator("main script").count() == 0, path
    page.goto(f"{console.url}/admin/events/evt-hostile")
    assert HOSTILE in page.inner_text("main")
    assert SCRIPT in page.inner_text("main")
    assert dialogs == []


def test_in_chromium_the_events_page_empty(console):
    page = console.page("viewer")
    page.goto(f"{console.url}/admin/events")
    assert "No events yet" in page.inner_text("main")
    screenshot(console, page, "events-empty")
    page.goto(f"{console.url}/admin/events/evt-unknown")
    assert "The ledger knows nothing about evt-unknown" in page.inner_text("main")
