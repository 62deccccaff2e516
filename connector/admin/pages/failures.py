"""Failures /admin/failures: what failed and why, filtered; replay one or all that match (editor role)."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from redis.exceptions import RedisError

import connector.sources  # noqa: F401  (the source filter lists every registered source)
from connector.admin import audit
from connector.admin.auth import requires
from connector.admin.blueprint import bp
from connector.admin.queries import failures as queries
from connector.context import Context
from connector.intake.registry import all_sources
from connector.replay import (
    replay_conversions,
    replay_crm_writes,
    replay_deal_attributions,
    replay_failed,
)

CONSOLE = "the admin console"
"""How replays from here are named in the journal."""

OUTCOME_ITEMS = 50
"""Most replayed items the outcome page follows."""


@bp.get("/failures")
@requires("viewer")
def failures() -> Any:
    ctx: Context = current_app.extensions["connector"]
    try:
        filters = queries.Filters.from_args(request.args)
    except queries.FilterError as exc:
        return _page(queries.Filters(), [], None, {}, error=str(exc)), 400
    try:
        with ctx.sessions() as session:
            items, next_cursor = queries.page(session, filters, request.args.get("after"))
            counts = queries.counts(session, filters)
    except queries.FilterError as exc:
        return _page(filters, [], None, {}, error=str(exc)), 400
    return _page(filters, items, next_cursor, counts)


def _page(
    filters: queries.Filters,
    items: list[queries.Failure],
    next_cursor: str | None,
    counts: dict[str, tuple[int, bool]],
    error: str | None = None,
) -> str:
    args: dict[str, Any] = filters.as_args()
    return render_template(
        "admin/failures.html",
        filters=filters,
        items=items,
        counts=counts,
        kinds=queries.KINDS,
        labels=queries.KIND_LABELS,
        plural=queries.KIND_PLURALS,
        sources=sorted({s.name for s in all_sources()}),
        older_url=url_for("admin.failures", after=next_cursor, **args) if next_cursor else None,
        first_url=url_for("admin.failures", **args) if request.args.get("after") else None,
        filtered=bool(args),
        error=error,
        cap=queries.REPLAY_ALL_CAP,
        narrowed=any(queries.reads_rows(kind, filters) for kind in filters.kinds()),
        scanned=queries.SCANNED,
    )


@bp.post("/failures/replay")
@requires("editor")
def replay() -> Any:
    ctx: Context = current_app.extensions["connector"]
    try:
        if request.form.get("scope") == "matching":
            filters = queries.Filters.from_args(request.form)
            with ctx.sessions() as session:
                chosen = queries.matching_ids(session, filters)
            target = "failures matching " + (
                ", ".join(f"{k}={v}" for k, v in filters.as_args().items()) or "all"
            )
        else:
            chosen = queries.parse_items(request.form.getlist("item"))
            target = ", ".join(f"{k}:{i}" for k, ids in chosen.items() for i in ids)
    except queries.FilterError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.failures")), 303
    if not any(chosen.values()):
        flash("Nothing to replay: no failure matches.", "warn")
        return redirect(url_for("admin.failures", **_back_args())), 303
    try:
        queued = _replay(ctx, chosen)
    except RedisError:
        flash(
            "The queue (Redis) is unreachable: nothing was replayed. Try again when Overview shows it up.",
            "error",
        )
        return redirect(url_for("admin.failures", **_back_args())), 303
    audit.record(
        "failures.replay", target[:500], after={**queued, "ids": {k: v[:100] for k, v in chosen.items()}}
    )
    if sum(queued.values()):
        flash("Queued again: " + ", ".join(_counted(n, k) for k, n in queued.items() if n) + ".", "ok")
    else:
        flash("Nothing was queued: those items are no longer failed.", "warn")
    followed = [f"{k}:{i}" for k, ids in chosen.items() for i in ids][:OUTCOME_ITEMS]
    return redirect(url_for("admin.replay_outcome", items=",".join(followed))), 303


def _replay(ctx: Context, chosen: dict[str, list[int]]) -> dict[str, int]:
    """Queue each kind's items again; how many of each were still failed (and so were queued)."""
    queued = {kind: 0 for kind in chosen}
    if chosen.get("receipt"):
        queued["receipt"] = replay_failed(ctx, chosen["receipt"], None, by=CONSOLE)
    if chosen.get("crm_write"):
        queued["crm_write"] = replay_crm_writes(ctx, chosen["crm_write"], by=CONSOLE)
    if chosen.get("conversion"):
        queued["conversion"] = replay_conversions(ctx, ids=chosen["conversion"], by=CONSOLE)
    if chosen.get("deal"):
        queued["deal"] = replay_deal_attributions(ctx, chosen["deal"], by=CONSOLE)
    return queued


def _counted(n: int, kind: str) -> str:
    return f"{n} {queries.KIND_PLURALS[kind] if n != 1 else queries.KIND_SINGULARS[kind]}"


def _back_args() -> dict[str, Any]:
    return {
        k: v for k, v in request.form.items() if k in ("kind", "source", "reason", "since", "until") and v
    }


@bp.get("/failures/replayed")
@requires("viewer")
def replay_outcome() -> Any:
    ctx: Context = current_app.extensions["connector"]
    raw = [v for v in request.args.get("items", "").split(",") if v][:OUTCOME_ITEMS]
    try:
        items = queries.parse_items(raw)
    except queries.FilterError as exc:
        return render_template("admin/replayed.html", outcomes=[], error=str(exc), waiting=False), 400
    with ctx.sessions() as session:
        found = queries.outcomes(session, items)
    waiting = any(not o.done for o in found)
    return render_template(
        "admin/replayed.html", outcomes=found, labels=queries.KIND_LABELS, waiting=waiting, error=None
    )
