"""Report /admin/report: which AI traffic became pipeline. A chart over time by AI source, a funnel per
channel, the table under them, CSV download, and each cell's people; GET /admin/api/report as JSON."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, jsonify, render_template, request

from connector.admin.auth import requires
from connector.admin.blueprint import bp
from connector.report import Cell, Report, ReportError, ReportQuery, build_report, from_params, list_cell
from connector.report.output import amount_text, amounts_text, report_dict, to_csv
from connector.report.query import DATES, GROUPS, METRICS, TOUCHES, TRENDS
from connector.report.svg import funnel, stacked_bars

WEEKLY_UP_TO_DAYS = 190
"""The chart shows weeks for ranges up to this many days (and with no start), months beyond."""


def _query() -> ReportQuery:
    return from_params(request.args)


def _chart_query(query: ReportQuery) -> ReportQuery:
    """The chart's report: by AI source, in the table's range and touch model, with a trend."""
    trend = query.trend
    if trend is None:
        span = ((query.until or date.today()) - query.since).days if query.since else None
        trend = "week" if span is None or span <= WEEKLY_UP_TO_DAYS else "month"
    return replace(query, by="ai_source", trend=trend)


def _link(endpoint_path: str, query: ReportQuery, **extra: str) -> str:
    return f"{endpoint_path}?{urlencode({**query.params(), **extra})}"


@bp.get("/report")
@requires("viewer")
def report_page() -> Any:
    ctx = current_app.extensions["connector"]
    error = None
    try:
        query = _query()
    except ReportError as exc:
        error, query = str(exc), ReportQuery()
    found = build_report(ctx.engine, ctx.settings, query)
    chart = build_report(ctx.engine, ctx.settings, _chart_query(query))
    channels = (
        found
        if query.by == "channel" and not query.trend
        else build_report(ctx.engine, ctx.settings, replace(query, by="channel", trend=None))
    )
    return render_template(
        "admin/report.html",
        query=query,
        report=found,
        error=error,
        bars=stacked_bars(chart, "leads"),
        won_bars=stacked_bars(chart, "won"),
        chart_trend=chart.query.trend,
        funnel=funnel([r for r in channels.rows]),
        options={"by": GROUPS, "touch": TOUCHES, "date": DATES, "trend": TRENDS},
        metrics=METRICS,
        amounts_text=amounts_text,
        cell_url=lambda row, metric: _link(
            "/admin/report/cell", query, cell=str(Cell(row.group, metric, row.bucket))
        ),
        csv_url=_link("/admin/report.csv", query),
        json_url=_link("/admin/api/report", query),
        totals=_totals(found),
    )


def _totals(report: Report) -> dict[str, int]:
    """Additive columns summed (people are not: one person may sit in two rows)."""
    return {
        name: sum(getattr(r, name) for r in report.rows)
        for name in ("submissions", "meetings", "opportunities", "won")
    }


@bp.get("/report.csv")
@requires("viewer")
def report_csv() -> Any:
    ctx = current_app.extensions["connector"]
    try:
        query = _query()
    except ReportError as exc:
        return jsonify(error=str(exc), status=400), 400
    body = to_csv(build_report(ctx.engine, ctx.settings, query))
    name = f"report-{query.by}-{query.touch}-{query.date}.csv"
    return Response(
        body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@bp.get("/report/cell")
@requires("viewer")
def report_cell() -> Any:
    ctx = current_app.extensions["connector"]
    try:
        query = _query()
        cell = Cell.parse(request.args.get("cell", ""))
        entries = list_cell(ctx.engine, ctx.settings, query, cell)
    except ReportError as exc:
        return render_template(
            "admin/report_cell.html", error=str(exc), entries=[], cell=None, query=None
        ), 400
    return render_template(
        "admin/report_cell.html",
        error=None,
        cell=cell,
        query=query,
        entries=entries,
        amount_text=amount_text,
        back_url=_link("/admin/report", query),
    )


@bp.get("/api/report")
@requires("viewer")
def report_api() -> Any:
    """The report as JSON (the same as `connector report --json`); `list=CELL` answers that cell's people."""
    ctx = current_app.extensions["connector"]
    try:
        query = _query()
        if request.args.get("list"):
            cell = Cell.parse(request.args["list"])
            entries = list_cell(ctx.engine, ctx.settings, query, cell)
            return jsonify(query=query.params(), cell=str(cell), entries=entries)
        return jsonify(report_dict(build_report(ctx.engine, ctx.settings, query)))
    except ReportError as exc:
        return jsonify(error=str(exc), status=400), 400
