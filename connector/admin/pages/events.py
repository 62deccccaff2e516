"""Events /admin/events: search by event_id, email, CRM record id or oppref; one event's story as a timeline."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, render_template, request, url_for

from connector.admin.auth import requires
from connector.admin.blueprint import bp
from connector.admin.queries import events as queries
from connector.bookings.story import render_booking
from connector.conversions.story import payload_summary
from connector.story import event_story
from connector.timeutil import parse_iso

bp.add_app_template_filter(parse_iso, "as_time")


@bp.get("/events")
@requires("viewer")
def events() -> Any:
    ctx = current_app.extensions["connector"]
    query = request.args.get("q", "").strip()[:320]
    before = request.args.get("before", "")
    with ctx.sessions() as session:
        if query:
            matches, older = queries.search(session, query), None
        else:
            matches, older = queries.latest(session, int(before) if before.isdigit() else None)
    return render_template(
        "admin/events.html",
        query=query,
        searched_as=queries.kind_of_query(query) if query else "",
        matches=matches,
        older_url=url_for("admin.events", before=older) if older else None,
        newest_url=url_for("admin.events") if before and not query else None,
    )


@bp.get("/events/<path:key>")
@requires("viewer")
def event(key: str) -> Any:
    ctx = current_app.extensions["connector"]
    with ctx.sessions() as session:
        story = event_story(session, key)
    if story is None:
        return render_template("admin/event_missing.html", key=key), 404
    view = _view(story)
    return render_template(
        "admin/event.html", story=story, key=key, timeline=_timeline(story, view["stage_changes"]), view=view
    )


def _timeline(story: dict[str, Any], stage_changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The story's timeline (receipts and journal) with each stage change entering its stage, oldest first."""
    entries = [
        {
            **t,
            "at": parse_iso(t["at"]),
            "details": json.dumps(t["details"], sort_keys=True) if t["details"] else "",
        }
        for t in story["timeline"]
    ]
    for s in stage_changes:
        entries.append(
            {
                "at": s["entered_at"],
                "kind": "stage",
                "message": f"{s['crm']} {s['object_type']} {s['record_id']} entered {s['stage']}: {s['status']}",
                "details": s["last_error"] or "",
            }
        )
    entries.sort(key=lambda e: (e["at"] is None, e["at"].timestamp() if e["at"] else 0))
    return entries


def _view(story: dict[str, Any]) -> dict[str, Any]:
    """What the template shows beyond the story's own fields: times parsed, payloads summarized."""
    return {
        "bookings": [render_booking(b) for b in story["bookings"]],
        "stage_changes": [{**s, "entered_at": parse_iso(s["entered_at"])} for s in story["stage_changes"]],
        "payloads": {
            c["id"]: (payload_summary(c["payload"]), json.dumps(c["payload"], indent=2, sort_keys=True))
            for c in story["conversions"]
            if c["payload"]
        },
    }
