"""The Overview's "needs attention" list: each item says what is wrong and links to the page that
shows it (or to the setting that fixes it)."""

from __future__ import annotations

from dataclasses import dataclass

from connector.admin.sources_info import SourceInfo
from connector.admin.status import Check, LedgerCounts, QueueInfo
from connector.config import Settings


@dataclass(frozen=True)
class Item:
    tone: str
    """`bad` (broken now) or `warn` (will bite)."""
    text: str
    href: str
    link: str


def needs_attention(
    settings: Settings,
    checks: list[Check],
    queue: QueueInfo,
    ledgers: list[LedgerCounts],
    sources: list[SourceInfo],
    failed: dict[str, int],
) -> list[Item]:
    items = [
        Item(
            "bad",
            f"{c.name} is {c.detail}: intake answers 503 and nothing is processed.",
            "/admin/",
            "Overview",
        )
        for c in checks
        if not c.ok
    ]
    if queue.error is None:
        alive = [w for w in queue.workers if not w.stale]
        if not alive:
            items.append(
                Item(
                    "bad",
                    "No worker is running: webhooks are stored but nothing is processed.",
                    "/admin/#workers",
                    "Workers",
                )
            )
        elif len(alive) < len(queue.workers):
            stale = len(queue.workers) - len(alive)
            items.append(
                Item("warn", f"{stale} worker(s) stopped sending heartbeats.", "/admin/#workers", "Workers")
            )
        if queue.failed:
            items.append(
                Item(
                    "warn", f"{queue.failed:,} job(s) in RQ's failed registry.", "/admin/failures", "Failures"
                )
            )
    for ledger in ledgers:
        if ledger.overdue:
            items.append(
                Item(
                    "warn",
                    f"{ledger.overdue:,} {ledger.name} overdue: the workers are not keeping up (or are stopped).",
                    "/admin/#queue",
                    "Queue",
                )
            )
    failed_receipts = sum(s.day.failed for s in sources if s.day)
    if failed_receipts:
        items.append(
            Item(
                "bad",
                f"{failed_receipts:,} webhook(s) failed in the last 24 hours.",
                "/admin/failures?kind=receipt",
                "Failures",
            )
        )
    if failed.get("crm_writes"):
        items.append(
            Item(
                "bad",
                f"{failed['crm_writes']:,} CRM write(s) failed in the last 24 hours.",
                "/admin/failures?kind=crm_write",
                "Failures",
            )
        )
    if failed.get("conversions"):
        items.append(
            Item(
                "bad",
                f"{failed['conversions']:,} conversion(s) failed in the last 24 hours.",
                "/admin/failures?kind=conversion",
                "Failures",
            )
        )
    for source in sources:
        if not source.enabled:
            continue
        delivering = source.last_delivery is not None
        if source.secret.state == "missing" and (delivering or source.kind == "beacon"):
            items.append(
                Item(
                    "bad" if delivering else "warn",
                    f"{source.label}: {source.secret.detail}.",
                    f"/admin/sources#source-{source.name}",
                    "Sources",
                )
            )
        if source.needs_public_url and not settings.web.public_url and delivering:
            items.append(
                Item(
                    "bad",
                    f"{source.label} signs the URL it calls: set web.public_url, or its webhooks are refused.",
                    f"/admin/sources#source-{source.name}",
                    "Sources",
                )
            )
    on_dev_tokens = [
        s.label
        for s in sources
        if s.enabled and s.secret.state == "development" and s.last_delivery is not None
    ]
    if on_dev_tokens and settings.web.public_url.startswith("https://"):
        items.append(
            Item(
                "warn",
                f"{len(on_dev_tokens)} source(s) deliver with a generated development token "
                f"({', '.join(on_dev_tokens[:4])}{', ...' if len(on_dev_tokens) > 4 else ''}): "
                "set their secrets in the environment.",
                "/admin/sources",
                "Sources",
            )
        )
    if not settings.web.public_url:
        items.append(
            Item(
                "warn",
                "web.public_url is not set: the Sources page cannot show the full URLs to paste.",
                "/admin/sources",
                "Sources",
            )
        )
    return items
