"""Polling fallback for orgs that cannot push: read stage changes since a watermark kept in the database.

Salesforce: OpportunityHistory rows (one per change, CreatedDate = when the stage was entered). HubSpot
(each only when a rule names the object): deals modified since the watermark, dated by
`hs_v2_date_entered_current_stage`, and contacts that entered a rule's lifecycle stage since it, dated by
`hs_v2_date_entered_<stage>` (hubspot_poll). Every object keeps its own watermark. Each poll reads a
little before the watermark (indexing delays); the change key makes the overlap, and a push of the same
change, harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from connector.config import Settings, stage_rules_in_force
from connector.context import Context
from connector.errors import ConnectorError
from connector.stages.changes import StageChange, store_stage_changes
from connector.store.models import StageChange as StageChangeRow
from connector.store.models import StageWatermark
from connector.timeutil import as_utc, parse_iso, utcnow

log = logging.getLogger(__name__)

OVERLAP_SECONDS = 300
"""Each poll re-reads this far before the watermark (search indexes lag behind writes)."""

Reader = Callable[[Settings, Any, datetime], list[StageChange]]
"""Reads one object's changes since a time: (settings, CRM adapter, since) -> changes."""


def polling_on(ctx: Context) -> bool:
    stages = ctx.settings.stages
    return stages.enabled and stages.poll_interval_seconds > 0 and ctx.settings.crm.provider != "none"


def poll_once(ctx: Context) -> int:
    """Read each polled object's changes since its watermark, store them, move its watermark; returns how
    many are new. An object the CRM refuses now (rate limit, outage) keeps its watermark and is read
    again at the next poll; the others go ahead."""
    new = 0
    for name, read, history in _readers(ctx.settings):
        try:
            new += _poll(ctx, name, read, history)
        except ConnectorError as exc:
            log.warning("stage poll %s failed, read again at the next poll: %s", name, exc)
    return new


def _readers(settings: Settings) -> list[tuple[str, Reader, bool]]:
    """(watermark name, reader, whether it reads history rows that may not be stage moves) per object."""
    if settings.crm.provider == "salesforce":
        return [("salesforce:Opportunity", _salesforce, True)]
    # Imported here: it loads the HubSpot client library, which Salesforce sites never need.
    from connector.stages.hubspot_poll import contact_changes, deal_changes

    rules = stage_rules_in_force(settings)
    readers: list[tuple[str, Reader, bool]] = []
    if rules.for_object("hubspot", "deals"):
        readers.append(("hubspot:deals", deal_changes, False))
    if rules.for_object("hubspot", "contacts"):
        readers.append(("hubspot:contacts", contact_changes, False))
    return readers


def _poll(ctx: Context, name: str, read: Reader, history: bool) -> int:
    with ctx.sessions() as session:
        mark = session.get(StageWatermark, name)
        start = utcnow() - timedelta(hours=ctx.settings.stages.poll_start_hours)
        watermark = as_utc(mark.value) if mark else None
    since = (watermark or start) - timedelta(seconds=OVERLAP_SECONDS)
    changes = read(ctx.settings, ctx.crm, since)
    with ctx.sessions.begin() as session:
        if history:
            changes = _stage_moves(session, changes)
        new = store_stage_changes(session, changes)
        latest = max((c.entered_at for c in changes), default=None)
        if latest is not None and (watermark is None or latest > watermark):
            row = session.get(StageWatermark, name) or StageWatermark(name=name, value=latest)
            row.value = latest
            session.add(row)
    log.info("stage poll %s since %s: %d changes, %d new", name, since.isoformat(), len(changes), len(new))
    return len(new)


def _salesforce(settings: Settings, adapter: Any, since: datetime) -> list[StageChange]:
    literal = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = adapter.query(
        "SELECT Id, OpportunityId, StageName, CreatedDate FROM OpportunityHistory "
        f"WHERE CreatedDate > {literal} ORDER BY CreatedDate"
    )
    return [
        StageChange(
            "salesforce",
            "Opportunity",
            r["OpportunityId"],
            r["StageName"],
            entered,
            f"poll:{r['Id']}",
            "poll",
        )
        for r in rows
        if r.get("StageName") and (entered := parse_iso(r.get("CreatedDate"))) is not None
    ]


def _stage_moves(session: Any, changes: list[StageChange]) -> list[StageChange]:
    """History rows also record amount and date edits: keep only rows whose stage differs from the
    record's previous one (from this poll, else the last change we stored). HubSpot's reads need no such
    filter: a stage's entry time only changes when the record enters the stage (again)."""
    ids = {c.record_id for c in changes}
    last: dict[str, str] = {}
    if ids:
        first = changes[0]
        for row in session.scalars(
            select(StageChangeRow)
            .where(
                StageChangeRow.crm == first.crm,
                StageChangeRow.object_type == first.object_type,
                StageChangeRow.record_id.in_(ids),
            )
            .order_by(StageChangeRow.entered_at)
        ):
            last[row.record_id] = row.stage
    moves = []
    for change in sorted(changes, key=lambda c: c.entered_at):
        if last.get(change.record_id) == change.stage and not _same_known(session, change):
            continue
        last[change.record_id] = change.stage
        moves.append(change)
    return moves


def _same_known(session: Any, change: StageChange) -> bool:
    """True when exactly this change is already stored (so re-reading it is harmless, not an edit)."""
    return (
        session.scalar(select(StageChangeRow.id).where(StageChangeRow.change_key == change.change_key))
        is not None
    )
