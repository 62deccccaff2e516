"""Server-rendered SVG charts of a report (no script): stacked bars over time, and a funnel per group.

Every label is escaped here (markupsafe), so the page renders the returned Markup as it is.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from connector.report.build import Report, Row

AI_COLOURS = {
    "openai_ads": "#10a37f",
    "chatgpt": "#3552d4",
    "claude": "#d97757",
    "perplexity": "#20808d",
    "gemini": "#8e5bd8",
    "copilot": "#e0a100",
    "meta_ai": "#0668e1",
    "grok": "#555b66",
    "deepseek": "#4d6bfe",
    "mistral": "#fa520f",
    "other_ai": "#9aa6c2",
}
"""A steady colour per AI source, so a source looks the same on every chart."""

OTHER = "#c9ced8"
FUNNEL = ("leads", "opportunities", "won")


def colour(group: str) -> str:
    return AI_COLOURS.get(group, OTHER)


def _nice_max(value: int) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at least `value`."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if value <= step * factor:
                return step * factor
        step *= 10


def stacked_bars(report: Report, metric: str = "leads", width: int = 520, height: int = 230) -> Markup:
    """Bars per trend bucket, one stacked segment per AI source (rows that are not AI are left out)."""
    buckets = report.buckets
    rows = [r for r in report.rows if r.group in AI_COLOURS and getattr(r, metric)]
    if not buckets or not rows:
        return Markup("")
    sources = sorted({r.group for r in rows}, key=list(AI_COLOURS).index)
    values: dict[tuple[str, str], int] = {(r.bucket or "", r.group): getattr(r, metric) for r in rows}
    totals = [sum(values.get((b, s), 0) for s in sources) for b in buckets]
    top = _nice_max(max(totals) or 1)
    left, bottom, legend = 40, 26, 22
    plot_w, plot_h = width - left - 8, height - bottom - legend - 8
    slot = plot_w / len(buckets)
    bar = max(4.0, min(38.0, slot * 0.7))
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(metric)} from AI sources per {escape(report.query.trend or "")}">'
    ]
    for tick in (0, top // 2, top) if top % 2 == 0 else (0, top):
        y = legend + 8 + plot_h - plot_h * tick / top
        parts.append(
            f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{tick}</text>'
        )
    label_every = max(1, round(len(buckets) / 8))
    for i, bucket in enumerate(buckets):
        x = left + slot * i + (slot - bar) / 2
        y = legend + 8 + plot_h
        for source in sources:
            value = values.get((bucket, source), 0)
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour(source)}">'
                f"<title>{escape(bucket)} · {escape(source)}: {value}</title></rect>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 8}" class="tick" text-anchor="middle">'
                f"{escape(bucket[5:])}</text>"
            )
    x = left
    for source in sources:
        parts.append(
            f'<rect x="{x}" y="4" width="10" height="10" rx="2" fill="{colour(source)}"/>'
            f'<text x="{x + 14}" y="13" class="legend">{escape(source)}</text>'
        )
        x += 24 + 7 * len(source)
    parts.append("</svg>")
    return Markup("".join(parts))


def funnel(rows: list[Row], width: int = 900, limit: int = 8) -> Markup:
    """Per group (the largest `limit` by leads): leads, opportunities and won as three bars on one scale."""
    shown = [r for r in sorted(rows, key=lambda r: (-r.leads, r.group)) if r.leads][:limit]
    if not shown:
        return Markup("")
    label_w, row_h, bar_h = 170, 40, 9
    top = max(r.leads for r in shown) or 1
    plot_w = width - label_w - 90
    height = row_h * len(shown) + 24
    tones = {"leads": "#9aa6c2", "opportunities": "#3552d4", "won": "#137a3f"}
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="Funnel per group">']
    x = label_w
    for name in FUNNEL:
        parts.append(
            f'<rect x="{x}" y="4" width="10" height="10" rx="2" fill="{tones[name]}"/>'
            f'<text x="{x + 14}" y="13" class="legend">{name}</text>'
        )
        x += 24 + 7 * len(name)
    for i, row in enumerate(shown):
        y = 24 + row_h * i
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" class="label" text-anchor="end">{escape(row.group[:22])}</text>'
        )
        for j, name in enumerate(FUNNEL):
            value = getattr(row, name)
            w = max(2.0, plot_w * value / top) if value else 0
            by = y + 3 + j * (bar_h + 2)
            parts.append(
                f'<rect x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h}" rx="2" fill="{tones[name]}">'
                f"<title>{escape(row.group)} · {name}: {value}</title></rect>"
                f'<text x="{label_w + w + 6:.1f}" y="{by + bar_h}" class="value">{value}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
