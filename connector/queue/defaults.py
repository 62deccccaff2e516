"""Job options and lease lengths, each with its unit; the settings supply what an operator may change."""

from __future__ import annotations

from connector.config import Settings

RESULT_TTL_SECONDS = 3600
"""How long RQ keeps a finished job's result (seconds)."""

FAILURE_TTL_SECONDS = 7 * 86400
"""How long RQ keeps a failed job (seconds); the ledger keeps the error for good."""

RECEIPT_FAILURE_TTL_SECONDS = 30 * 86400
"""How long RQ keeps a failed receipt job (seconds)."""

LEASE_MARGIN_SECONDS = 30
"""A lease outlives the job timeout by up to this much before its work counts as abandoned (seconds)."""


def job_lease_seconds(settings: Settings) -> int:
    """How long a claim or a started job may live: past this, its worker is gone (seconds)."""
    timeout = settings.jobs.job_timeout_seconds
    return timeout + min(LEASE_MARGIN_SECONDS, timeout)


def backoff_delay(settings: Settings, attempts: int) -> int:
    """The delay before the retry that follows attempt `attempts` (seconds); the last value repeats."""
    schedule = settings.jobs.backoff_seconds
    return schedule[min(max(attempts, 1), len(schedule)) - 1]


def key(settings: Settings, name: str) -> str:
    """A Redis key of this queue's (several connectors may share one Redis)."""
    return f"connector:{settings.jobs.queue}:{name}"
