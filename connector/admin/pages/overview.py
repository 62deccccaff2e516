"""Overview /admin/: is everything up, how much is waiting, what arrived in 24 hours, what needs attention."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template

from connector.admin import status, traffic
from connector.admin.attention import needs_attention
from connector.admin.auth import requires
from connector.admin.blueprint import bp
from connector.admin.sources_info import describe


@bp.get("/")
@requires("viewer")
def overview() -> Any:
    ctx = current_app.extensions["connector"]
    checks = [status.database_check(ctx), status.redis_check(ctx)]
    queue = (
        status.queue_info(ctx)
        if checks[1].ok
        else status.QueueInfo(ctx.settings.jobs.queue, error="Redis unavailable")
    )
    ledgers: list[status.LedgerCounts] = []
    sources = []
    failed: dict[str, int] = {}
    conversions: dict[str, int] = {}
    if checks[0].ok:
        with ctx.sessions() as session:
            ledgers = status.ledger_counts(session, ctx.settings.jobs.sweep_grace_seconds)
            sources = describe(ctx.settings, session, with_errors=False)
            failed = traffic.failed_since(session)
            conversions = traffic.conversions_by_status(session)
    attention = needs_attention(ctx.settings, checks, queue, ledgers, sources, failed)
    days = [s.day for s in sources if s.day]
    totals = {
        "received": sum(d.received for d in days),
        "processed": sum(d.processed for d in days),
        "failed": sum(d.failed for d in days),
        "waiting": sum(d.waiting for d in days),
    }
    return render_template(
        "admin/overview.html",
        checks=checks,
        queue=queue,
        ledgers=ledgers,
        sources=sources,
        totals=totals,
        failed=failed,
        conversions=conversions,
        attention=attention,
        conversions_enabled=ctx.settings.conversions.enabled,
        crm=ctx.settings.crm.provider,
    )
