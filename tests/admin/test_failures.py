"""The Failures page: failed receipts, CRM writes and conversions with their reasons, filtered and paged;
replay one or all that match (editor role, CSRF, audited); in Chromium, a failed conversion replayed and sent."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from connector.admin.queries import failures as queries
from connector.store.models import AdminAudit, Conversion, CrmWrite, JournalEntry, Receipt
from connector.timeutil import utcnow
from tests.admin import ledger_rows as rows
from tests.admin.shots import screenshot
from tests.admin.test_events import _lead_body, post_lead
from tests.conftest import wait_for


def _failed_set(session, now):  # type: ignore[no-untyped-def]
    """One failure of each kind at the same moment (ties across kinds), and older ones, and rows that are fine."""
    r = rows.receipt(
        session, "evt-r", status="failed", last_error="ParseError: body is not JSON", received_at=now
    )
    lead = rows.lead(session, "evt-w", source="wpforms")
    w = rows.crm_write(
        session,
        lead,
        status="failed",
        outcome="rejected",
        last_error="PermanentError: INVALID_FIELD",
        updated_at=now,
    )
    c = rows.conversion(
        session,
        "evt-c",
        status="failed",
        reason="invalid",
        last_error="events[0].timestamp_ms: too old",
        updated_at=now,
        receipt_id=lead.receipt_id,
    )
    older = [
        rows.receipt(
            session,
            f"evt-old-{n}",
            status="failed",
            last_error="timeout",
            received_at=now - timedelta(days=n),
        )
        for n in range(1, 4)
    ]
    rows.receipt(session, "evt-ok", status="processed", received_at=now)
    rows.conversion(session, "evt-ok", status="sent", updated_at=now)
    return r, w, c, older


def test_failures_of_every_kind_newest_first_paged_without_skips_or_repeats(ctx):
    now = utcnow()
    with ctx.sessions.begin() as session:
        r, w, c, older = _failed_set(session, now)
    expected = [("conversion", c.id), ("crm_write", w.id), ("receipt", r.id)] + [
        ("receipt", o.id) for o in older
    ]
    seen: list[tuple[str, int]] = []
    cursor = None
    with ctx.sessions() as session:
        for _ in range(5):
            items, cursor = queries.page(session, queries.Filters(), cursor, limit=2)
            seen += [(f.kind, f.id) for f in items]
            if cursor is None:
                break
        assert seen == expected
        first = queries.page(session, queries.Filters(), None)[0]
    by_kind: dict[str, queries.Failure] = {}
    for f in first:
        by_kind.setdefault(f.kind, f)
    assert (
        by_kind["receipt"].error == "ParseError: body is not JSON" and by_kind["receipt"].event_key == "evt-r"
    )
    assert (by_kind["crm_write"].source, by_kind["crm_write"].target) == ("wpforms", "hubspot contacts")
    assert by_kind["conversion"].reason == "invalid" and by_kind["conversion"].source == "wpforms"


def test_filters_by_kind_source_reason_and_dates(ctx):
    now = utcnow()
    with ctx.sessions.begin() as session:
        r, w, c, older = _failed_set(session, now)

    def ids(**args: str) -> list[tuple[str, int]]:
        with ctx.sessions() as session:
            filters = queries.Filters.from_args(MultiDict(args))
            return [(f.kind, f.id) for f in queries.page(session, filters)[0]]

    assert ids(kind="crm_write") == [("crm_write", w.id)]
    assert ids(source="wpforms") == [("conversion", c.id), ("crm_write", w.id)]
    assert ids(reason="invalid_field") == [("crm_write", w.id)]  # case-insensitive, `_` is not a wildcard
    assert ids(reason="invalid") == [("conversion", c.id), ("crm_write", w.id)]
    assert ids(reason="TIMEOUT") == [("receipt", o.id) for o in older]
    day = (now - timedelta(days=2)).strftime("%Y-%m-%d")
    assert ids(kind="receipt", since=day, until=day) == [("receipt", older[1].id)]
    with ctx.sessions() as session:
        counts = queries.counts(session, queries.Filters())
    assert counts == {
        "receipt": (4, False),
        "crm_write": (1, False),
        "conversion": (1, False),
        "deal": (0, False),
    }
    for bad in ({"kind": "everything"}, {"since": "yesterday"}):
        try:
            queries.Filters.from_args(MultiDict(bad))
        except queries.FilterError:
            continue
        raise AssertionError(f"{bad} was accepted")


def test_the_page_shows_failures_with_reasons_and_refuses_bad_filters(ctx, admin_client):
    viewer = admin_client("viewer")
    empty = viewer.get("/admin/failures").get_data(as_text=True)
    assert "Nothing has failed" in empty
    with ctx.sessions.begin() as session:
        _failed_set(session, utcnow())
    html = viewer.get("/admin/failures").get_data(as_text=True)
    for shown in (
        "ParseError: body is not JSON",
        "PermanentError: INVALID_FIELD",
        "invalid",
        "/admin/events/evt-c",
    ):
        assert shown in html, shown
    assert "Replay" not in re.sub(r"Replaying needs the editor role", "", html)  # a viewer gets no buttons
    bad = viewer.get("/admin/failures?since=last+week")
    assert bad.status_code == 400 and "since must be a date" in bad.get_data(as_text=True)
    filtered = viewer.get("/admin/failures?kind=receipt&reason=nothing-like-this").get_data(as_text=True)
    assert "No failure matches these filters" in filtered


def _statuses(ctx):  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return (
            dict(session.execute(select(Receipt.event_id, Receipt.status)).all()),
            dict(session.execute(select(CrmWrite.event_id, CrmWrite.status)).all()),
            dict(
                session.execute(
                    select(Conversion.event_id, Conversion.status).where(Conversion.event_id != "evt-ok")
                ).all()
            ),
        )


def _audit_rows(ctx) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return [
            tuple(r) for r in session.execute(select(AdminAudit.actor, AdminAudit.action, AdminAudit.target))
        ]


def test_an_editor_replays_one_failure_and_all_that_match_each_audited(ctx, admin_client):
    with ctx.sessions.begin() as session:
        r, w, c, older = _failed_set(session, utcnow())
    editor = admin_client("editor")
    one = editor.post("/admin/failures/replay", {"item": f"crm_write:{w.id}"})
    assert one.status_code == 303 and f"crm_write:{w.id}" in one.headers["Location"]
    _receipts, writes, _conversions = _statuses(ctx)
    assert writes["evt-w"] == "pending"
    assert any(job_id.startswith("crm-flush") for job_id in ctx.queue.get_job_ids())
    outcome = editor.get(one.headers["Location"]).get_data(as_text=True)
    assert "CRM write #" in outcome and "pending" in outcome and 'http-equiv="refresh"' in outcome
    everything = editor.post(
        "/admin/failures/replay", {"scope": "matching", "kind": "receipt", "reason": "timeout"}
    )
    assert everything.status_code == 303
    receipts, _writes, conversions = _statuses(ctx)
    assert [receipts[f"evt-old-{n}"] for n in range(1, 4)] == ["received"] * 3
    assert receipts["evt-r"] == "failed" and conversions["evt-c"] == "failed"  # not matched, not touched
    with ctx.sessions() as session:
        journal = session.scalars(select(JournalEntry.message).where(JournalEntry.kind == "replay")).all()
    assert len(journal) == 4 and all("the admin console" in m for m in journal)
    assert _audit_rows(ctx)[-2:] == [
        (editor.email, "failures.replay", f"crm_write:{w.id}"),
        (editor.email, "failures.replay", "failures matching kind=receipt, reason=timeout"),
    ]


def test_a_viewer_cannot_replay_and_a_post_without_the_csrf_token_is_refused(ctx, admin_client):
    with ctx.sessions.begin() as session:
        r, w, c, _older = _failed_set(session, utcnow())
    before = _statuses(ctx)
    audits = len(_audit_rows(ctx))
    viewer = admin_client("viewer")
    assert viewer.post("/admin/failures/replay", {"item": f"receipt:{r.id}"}).status_code == 403
    assert viewer.post("/admin/failures/replay", {"scope": "matching"}).status_code == 403
    editor = admin_client("editor")
    assert (
        editor.post("/admin/failures/replay", {"item": f"conversion:{c.id}"}, csrf=False).status_code == 400
    )
    assert (
        editor.post("/admin/failures/replay", {"item": f"conversion:{c.id}"}, csrf="forged").status_code
        == 400
    )
    assert _statuses(ctx) == before
    assert len(_audit_rows(ctx)) == audits
    junk = editor.post("/admin/failures/replay", {"item": "receipt:1; DROP TABLE"})
    assert junk.status_code == 303 and _statuses(ctx) == before


def _conversion(console, event_id: str) -> Conversion | None:  # type: ignore[no-untyped-def]
    with console.ctx.sessions() as session:
        return session.scalar(select(Conversion).where(Conversion.event_id == event_id))


def test_in_chromium_a_failed_conversion_is_replayed_and_openai_receives_it(console):
    console.openai.fail_with(400)  # OpenAI refuses the first request: the conversion fails for good
    post_lead(console, _lead_body("evt-replay-1"))
    wait_for(
        lambda: (c := _conversion(console, "evt-replay-1")) is not None and c.status == "failed",
        timeout=40,
        message="conversion failed",
    )
    assert console.openai.unique_accepted == 0
    viewer = console.page("viewer")
    viewer.goto(f"{console.url}/admin/failures")
    assert viewer.locator("table.data tbody tr").count() == 1
    assert viewer.locator("button", has_text="Replay").count() == 0
    # Even a hand-made POST with the viewer's own CSRF token is refused, and nothing changes.
    token = viewer.locator('meta[name="csrf-token"]').get_attribute("content")
    conversion_id = _conversion(console, "evt-replay-1").id
    forced = viewer.request.post(
        f"{console.url}/admin/failures/replay",
        form={"item": f"conversion:{conversion_id}", "csrf_token": token},
        max_redirects=0,
    )
    assert forced.status == 403
    assert _conversion(console, "evt-replay-1").status == "failed"

    editor = console.page("editor")
    editor.goto(f"{console.url}/admin/failures")
    row = editor.locator("table.data tbody tr")
    assert "Conversion" in row.inner_text(), row.inner_text()
    screenshot(console, editor, "failures-data")
    row.locator("button", has_text="Replay").click()
    editor.wait_for_url(re.compile(r".*/admin/failures/replayed\?items=conversion"))
    assert "Queued again: 1 conversion." in editor.inner_text("main")
    # The page refreshes itself until the worker is done.
    editor.wait_for_function(
        "document.body.innerText.includes('Every replayed item is done')", timeout=30_000
    )
    assert "sent" in editor.locator("table.data tbody tr").inner_text()
    screenshot(console, editor, "failures-replayed")
    assert console.openai.unique_accepted == 1
    [(key, event)] = console.openai.accepted.items()
    assert key[3] == "evt-replay-1" and event["oppref"] == "oppref-e2e-1"
    with console.ctx.sessions() as session:
        audit = session.execute(select(AdminAudit.action, AdminAudit.target)).all()
        assert [tuple(a) for a in audit if a.action == "failures.replay"] == [
            ("failures.replay", f"conversion:{conversion_id}")
        ]
        assert session.scalar(select(func.count()).select_from(AdminAudit)) >= 1
    editor.click("table.data a")
    editor.wait_for_url(f"{console.url}/admin/events/evt-replay-1")
    assert "replay" in editor.inner_text(".timeline")


def test_in_chromium_the_failures_page_empty(console):
    page = console.page("viewer")
    page.goto(f"{console.url}/admin/failures")
    assert "Nothing has failed" in page.inner_text("main")
    screenshot(console, page, "failures-empty")


def test_in_chromium_hostile_values_in_failures_and_openais_answers_render_as_text(console):
    from tests.admin.test_events import HOSTILE, SCRIPT
    from tests.conversions.conftest import PIXEL_ID

    with console.ctx.sessions.begin() as session:
        bad = rows.receipt(
            session, SCRIPT, status="failed", last_error=f"ParseError: {HOSTILE}", source="generic"
        )
        lead = rows.lead(session, HOSTILE, email="x@example.com")
        rows.crm_write(session, lead, status="failed", last_error=SCRIPT, outcome=HOSTILE)
        conv = rows.conversion(
            session, HOSTILE, pixel_id=PIXEL_ID, status="failed", reason="invalid", last_error=HOSTILE
        )
        rows.request(session, PIXEL_ID, [conv], status_code=400, body=SCRIPT + HOSTILE, error=HOSTILE)
    page = console.page("editor")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for path in (
        "/admin/failures",
        f"/admin/failures/replayed?items=receipt:{bad.id},conversion:{conv.id}",
        "/admin/conversions",
        f"/admin/events/receipt:{bad.id}",
    ):
        page.goto(f"{console.url}{path}")
        assert page.evaluate("window.__pwned") is None, path
        assert page.locator("main img").count() == 0, path
        assert page.locator("main script").count() == 0, path
    page.goto(f"{console.url}/admin/failures")
    text = page.inner_text("main")
    assert f"ParseError: {HOSTILE}" in text and SCRIPT in text
    page.goto(f"{console.url}/admin/conversions")
    assert HOSTILE in page.inner_text("section.pixel")
    assert dialogs == []


def test_reason_and_source_filters_look_through_the_newest_failures_only(ctx, admin_client, monkeypatch):
    now = utcnow()
    with ctx.sessions.begin() as session:
        _r, _w, _c, older = _failed_set(session, now)
    monkeypatch.setattr(queries, "SCANNED", 2)
    with ctx.sessions() as session:
        newest_two = queries.Filters(kind="receipt", reason="timeout")
        assert [f.id for f in queries.page(session, newest_two)[0]] == [older[0].id]  # evt-r is the newest
        assert queries.counts(session, newest_two) == {"receipt": (1, False)}
        # Dates move the window back: the oldest timeout is found when From and To name its day.
        day = (now - timedelta(days=3)).strftime("%Y-%m-%d")
        dated = queries.Filters.from_args(
            MultiDict({"kind": "receipt", "reason": "timeout", "since": day, "until": day})
        )
        assert [f.id for f in queries.page(session, dated)[0]] == [older[2].id]
    html = admin_client("viewer").get("/admin/failures?reason=timeout").get_data(as_text=True)
    assert "look through the newest 2 failures of each kind" in html
