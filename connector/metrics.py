"""Prometheus metrics: request counters and latency here, queue and ledger gauges read at scrape time."""

from __future__ import annotations

import logging
import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import Select, func, select

from connector.context import Context
from connector.conversions.metrics import conversions_by_status, requests_by_outcome
from connector.store.counts import fold, ledger_counts
from connector.store.models import DealAttribution, DealAttributionStatus

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "connector_webhook_requests_total",
    "Webhook and beacon requests by source and HTTP status",
    ["source", "status"],
)
LATENCY = Histogram(
    "connector_webhook_latency_seconds",
    "Time from request start to answer",
    ["source"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


class LedgerCollector:
    """Queue depth and ledger counts, read when Prometheus scrapes (correct across processes)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def collect(self):
        depth = GaugeMetricFamily("connector_queue_depth", "Jobs waiting in the RQ queue", labels=["queue"])
        try:
            depth.add_metric([self.ctx.queue.name], self.ctx.queue.count)
        except Exception as exc:
            log.warning("metrics: queue depth unavailable: %s", exc)
        yield depth
        yield from self._ledger()

    def _ledger(self):
        receipts = GaugeMetricFamily(
            "connector_receipts", "Receipts in the ledger by status", labels=["status"]
        )
        conversions = GaugeMetricFamily(
            "connector_conversions",
            "Server conversion events in the ledger by status and event name",
            labels=["status", "event_type", "custom_event_name"],
        )
        requests = CounterMetricFamily(
            "connector_conversion_requests",
            "Finished Conversions API requests recorded in the ledger, by outcome and HTTP status",
            labels=["outcome", "code"],
        )
        try:
            with self.ctx.sessions.begin() as session:
                fold(session)
                for (status, _, _), count in sorted(ledger_counts(session, "receipts").items()):
                    receipts.add_metric([status], count)
                for labels, count in sorted(conversions_by_status(session).items()):
                    conversions.add_metric(list(labels), count)
                for labels, count in sorted(requests_by_outcome(session).items()):
                    requests.add_metric(list(labels), count)
        except Exception as exc:
            log.warning("metrics: ledger counts unavailable: %s", exc)
        yield from (receipts, conversions, requests)
        yield self._deals()

    def _deals(self) -> GaugeMetricFamily:
        # Only the statuses worth an alert, each one range of the (status, next_attempt_at) index: a
        # count of every written row would read the table's whole index per scrape.
        deals = GaugeMetricFamily(
            "connector_deal_attributions",
            "Deal attributions (opportunities, deals) waiting, being written or failed, by status",
            labels=["status"],
        )
        try:
            with self.ctx.sessions() as session:
                for status in DEAL_STATUSES:
                    deals.add_metric([status], session.scalar(deals_statement(status)) or 0)
        except Exception as exc:
            log.warning("metrics: deal attribution counts unavailable: %s", exc)
        return deals


DEAL_STATUSES = (DealAttributionStatus.PENDING, DealAttributionStatus.SENDING, DealAttributionStatus.FAILED)


def deals_statement(status: str) -> Select[int]:
    """The deal attributions of one status: a range of the (status, next_attempt_at) index."""
    return select(func.count()).select_from(DealAttribution).where(DealAttribution.status == status)


def render(ctx: Context) -> bytes:
    """The /metrics payload: this process's (or all processes', in multiprocess mode) metrics + gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in (REQUESTS, LATENCY):
            registry.register(collector)
    registry.register(LedgerCollector(ctx))
    return generate_latest(registry)
