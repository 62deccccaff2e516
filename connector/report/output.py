"""A report as JSON-ready data, CSV, or a text table; amounts in minor units and as text."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from connector.events.currency import UnknownCurrency, minor_unit_exponent
from connector.report.build import Report, Row

COLUMNS = ("leads", "submissions", "meetings", "opportunities", "won")
"""The counted columns, in the order every output shows them."""


def amount_text(minor: int, currency: str) -> str:
    """12345, "USD" -> "123.45 USD"; thousands separated with commas."""
    try:
        exponent = minor_unit_exponent(currency)
    except UnknownCurrency:
        exponent = 2
    value = Decimal(minor).scaleb(-exponent)
    return f"{value:,.{exponent}f} {currency}"


def amounts_text(amounts: dict[str, int]) -> str:
    return "; ".join(amount_text(amounts[c], c) for c in sorted(amounts))


def row_dict(row: Row) -> dict[str, Any]:
    return {
        "group": row.group,
        "bucket": row.bucket,
        **{name: getattr(row, name) for name in COLUMNS},
        "won_amounts": [
            {"currency": c, "minor_units": row.won_amounts[c], "text": amount_text(row.won_amounts[c], c)}
            for c in sorted(row.won_amounts)
        ],
        "conversions": dict(sorted(row.conversions.items())),
        "median_days_to_won": row.median_days_to_won,
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The whole report as JSON-ready data (the CLI's --json and the API answer the same)."""
    return {"query": report.query.params(), "rows": [row_dict(r) for r in report.rows]}


def _currencies(report: Report) -> list[str]:
    return sorted({c for r in report.rows for c in r.won_amounts})


def _event_types(report: Report) -> list[str]:
    return sorted({t for r in report.rows for t in r.conversions})


def to_csv(report: Report) -> str:
    """One line per row; a won column per currency (minor units) and a conversions column per type."""
    currencies, types = _currencies(report), _event_types(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            report.query.by,
            *(["bucket"] if report.query.trend else []),
            *COLUMNS,
            *(f"won_{c}_minor" for c in currencies),
            "won_amount",
            *(f"conversions_{t}" for t in types),
            "median_days_to_won",
        ]
    )
    for row in report.rows:
        writer.writerow(
            [
                row.group,
                *([row.bucket] if report.query.trend else []),
                *(getattr(row, name) for name in COLUMNS),
                *(row.won_amounts.get(c, 0) for c in currencies),
                amounts_text(row.won_amounts),
                *(row.conversions.get(t, 0) for t in types),
                "" if row.median_days_to_won is None else row.median_days_to_won,
            ]
        )
    return out.getvalue()


def to_text(report: Report) -> str:
    """An aligned table for a terminal."""
    header = [
        report.query.by,
        *(["bucket"] if report.query.trend else []),
        *COLUMNS,
        "won amount",
        "conversions sent",
        "median days to won",
    ]
    lines = [header]
    for row in report.rows:
        lines.append(
            [
                row.group,
                *([row.bucket or ""] if report.query.trend else []),
                *(str(getattr(row, name)) for name in COLUMNS),
                amounts_text(row.won_amounts) or "-",
                ", ".join(f"{t} {n}" for t, n in sorted(row.conversions.items())) or "-",
                "-" if row.median_days_to_won is None else str(row.median_days_to_won),
            ]
        )
    if len(lines) == 1:
        return "no submissions in this range\n"
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    numeric = {header.index(name) for name in COLUMNS}
    return "".join(
        "  ".join(
            cell.rjust(w) if i in numeric else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        + "\n"
        for line in lines
    )


def list_text(entries: list[dict[str, Any]]) -> str:
    """A cell's list: one line per entry, `key=value` for the values present."""
    if not entries:
        return "nobody behind this cell\n"
    return "".join(
        "  ".join(f"{k}={v}" for k, v in entry.items() if v not in (None, "")) + "\n" for entry in entries
    )
