"""Send validated events to OpenAI's Conversions API in batches and report an outcome per event.

A rejected batch (4xx other than 401/403/408/429) is split in halves to find the offending events: a
half that succeeds is done, the other half of a failed batch is then known to fail and is split without
being sent again, and halves not yet known are pooled and sent together once the culprit is found.
An event is only ever marked failed by a request that carried it alone.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from connector.conversions.retry import RetryPolicy, parse_retry_after
from connector.events.model import MAX_AGE_MS, ConversionEvent, validate_event

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://bzr.openai.com/v1/events"
"""OpenAI's Conversions API endpoint; the pixel id goes in the `pid` query parameter."""

MAX_EVENTS_PER_REQUEST = 1000
"""Most events one request may carry (API limit)."""

OutcomeStatus = Literal["sent", "validated", "failed", "retry", "expired"]
AnswerKind = Literal["ok", "auth", "retry", "rejected"]

_RETRYABLE_4XX = (408, 429)
_AUTH_STATUSES = (401, 403)


@dataclass(frozen=True)
class SenderSettings:
    """How to reach the Conversions API. The key is never printed (repr=False) nor recorded."""

    api_key: str = field(repr=False)
    endpoint: str = DEFAULT_ENDPOINT
    validate_only: bool = False
    integration_source: str | None = None
    timeout_s: float = 15.0
    connect_timeout_s: float = 5.0
    max_events_per_request: int = MAX_EVENTS_PER_REQUEST
    max_recorded_body_chars: int = 4000
    expiry_margin_ms: int = 5 * 60 * 1000
    # Most requests one send_batch call may make: bounds bisection when a whole batch is rejected for a
    # reason no single event explains (a bad pixel id, an API change).
    request_budget: int = 100

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("api_key: required (without a key the connector runs dry and sends nothing)")
        if not 1 <= self.max_events_per_request <= MAX_EVENTS_PER_REQUEST:
            raise ValueError(f"max_events_per_request: expected 1-{MAX_EVENTS_PER_REQUEST}")
        if self.request_budget < 1:
            raise ValueError("request_budget: please enter a value greater than 0")


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP exchange, as the ledger stores it: no headers, body truncated."""

    pixel_id: str
    url: str
    event_ids: tuple[str, ...]
    validate_only: bool
    started_at_ms: int
    elapsed_ms: float
    status_code: int | None = None
    body: str = ""
    error: str | None = None
    retry_after_s: float | None = None


@dataclass(frozen=True)
class EventOutcome:
    """What happened to one event: sent/validated, failed (permanent), retry (after delay), expired."""

    event: ConversionEvent
    status: OutcomeStatus
    reason: str = ""
    retry_after_s: float | None = None
    response: RequestRecord | None = None


@dataclass
class BatchOutcome:
    """Per-event outcomes (in input order) and every request made."""

    outcomes: list[EventOutcome]
    requests: list[RequestRecord]

    @property
    def requests_used(self) -> int:
        return len(self.requests)

    def with_status(self, status: OutcomeStatus) -> list[EventOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == status]


@dataclass
class _Run:
    """Mutable state of one send_batch call."""

    pixel_id: str
    events: Sequence[ConversionEvent]
    attempt: int
    outcomes: dict[int, EventOutcome] = field(default_factory=dict)
    requests: list[RequestRecord] = field(default_factory=list)
    pool: list[int] = field(default_factory=list)
    halt: EventOutcome | None = None  # set on 429/5xx/auth: the rest of the call shares its fate

    def mark(self, indices: Sequence[int], status: OutcomeStatus, reason: str, **extra: Any) -> None:
        for index in indices:
            self.outcomes[index] = EventOutcome(self.events[index], status, reason, **extra)


class ConversionsClient:
    """Posts batches to the Conversions API over one reused httpx.Client."""

    def __init__(
        self,
        settings: SenderSettings,
        *,
        policy: RetryPolicy | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.policy = policy or RetryPolicy()
        self._clock = clock
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            headers={"User-Agent": "attribution-connector"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ConversionsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send_batch(
        self, pixel_id: str, events: Sequence[ConversionEvent], *, attempt: int = 1, now_ms: int | None = None
    ) -> BatchOutcome:
        """Send `events` for `pixel_id`; `attempt` (1 = first try) drives the backoff of retry outcomes."""
        now = int(self._clock() * 1000) if now_ms is None else now_ms
        run = _Run(pixel_id, events, attempt)
        ready: list[int] = []
        for index, event in enumerate(events):
            if event.timestamp_ms < now - MAX_AGE_MS + self.settings.expiry_margin_ms:
                run.mark([index], "expired", "older than the 7-day window at send time; never sent")
                continue
            errors = validate_event(event, now)
            if errors:
                run.mark([index], "failed", "invalid: " + "; ".join(errors))
                continue
            ready.append(index)
        size = self.settings.max_events_per_request
        for start in range(0, len(ready), size):
            self._deliver(run, ready[start : start + size])
            while run.pool:
                pooled, run.pool = run.pool, []
                self._deliver(run, pooled)
        outcomes = [run.outcomes[index] for index in range(len(events))]
        return BatchOutcome(outcomes, run.requests)

    def _deliver(self, run: _Run, indices: list[int]) -> None:
        """Send `indices` together; on rejection isolate the offending events."""
        if self._halted(run, indices):
            return
        record = self._post(run, indices)
        kind = classify_answer(record.status_code)
        if kind == "ok":
            self._mark_ok(run, indices, record)
        elif kind == "rejected":
            self._isolate(run, indices, record)
        else:
            self._halt(run, indices, kind, record)

    def _isolate(self, run: _Run, indices: list[int], failed: RequestRecord) -> None:
        """`indices` failed together with `failed`; find which of them fail on their own."""
        if len(indices) == 1 and len(failed.event_ids) == 1:
            run.mark(indices, "failed", _describe(failed), response=failed)
            return
        if len(indices) == 1:
            self._deliver(run, indices)  # only inferred bad so far: confirm alone
            return
        if self._halted(run, indices):
            return
        middle = len(indices) // 2
        left, right = indices[:middle], indices[middle:]
        record = self._post(run, left)
        kind = classify_answer(record.status_code)
        if kind == "ok":
            self._mark_ok(run, left, record)
            self._isolate(run, right, failed)  # the failure must be in the right half
        elif kind == "rejected":
            self._isolate(run, left, record)
            run.pool.extend(right)
        else:
            self._halt(run, indices, kind, record)

    def _halted(self, run: _Run, indices: list[int]) -> bool:
        if run.halt is None and len(run.requests) >= self.settings.request_budget:
            last = run.requests[-1]
            run.halt = EventOutcome(
                run.events[indices[0]],
                "failed",
                f"not sent: the request budget ({len(run.requests)} requests per send_batch call) ran out "
                "while isolating rejected events; replay to resend",
                response=last,
            )
        if run.halt is None:
            return False
        halt = run.halt
        run.mark(indices, halt.status, halt.reason, retry_after_s=halt.retry_after_s, response=halt.response)
        return True

    def _halt(self, run: _Run, indices: list[int], kind: str, record: RequestRecord) -> None:
        if kind == "auth":
            status: OutcomeStatus = "failed"
            delay = None
            reason = f"authentication rejected ({record.status_code}): check the Conversions API key"
        else:
            status, delay = "retry", self.policy.delay(run.attempt, record.retry_after_s)
            reason = _describe(record)
        run.halt = EventOutcome(run.events[indices[0]], status, reason, retry_after_s=delay, response=record)
        run.mark(indices, status, reason, retry_after_s=delay, response=record)

    def _mark_ok(self, run: _Run, indices: list[int], record: RequestRecord) -> None:
        status: OutcomeStatus = "validated" if self.settings.validate_only else "sent"
        run.mark(indices, status, f"accepted ({record.status_code})", response=record)

    def _post(self, run: _Run, indices: list[int]) -> RequestRecord:
        events = [run.events[index] for index in indices]
        body: dict[str, Any] = {"validate_only": self.settings.validate_only}
        if self.settings.integration_source:
            body["integration_source"] = self.settings.integration_source
        body["events"] = [event.to_json() for event in events]
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = {"Authorization": f"Bearer {self.settings.api_key}", "Content-Type": "application/json"}
        event_ids = tuple(event.id for event in events)
        started_ms = int(self._clock() * 1000)
        started = time.perf_counter()
        url = str(httpx.URL(self.settings.endpoint, params={"pid": run.pixel_id}))
        limit = self.settings.max_recorded_body_chars
        outcome: dict[str, Any]
        try:
            response = self._http.post(url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            outcome = {"error": f"{type(exc).__name__}: {exc}"[:limit]}
        else:
            outcome = {
                "status_code": response.status_code,
                "body": response.text[:limit],
                "retry_after_s": parse_retry_after(response.headers.get("Retry-After")),
            }
        elapsed = (time.perf_counter() - started) * 1000
        record = RequestRecord(
            run.pixel_id, url, event_ids, self.settings.validate_only, started_ms, elapsed, **outcome
        )
        if record.status_code is None:
            logger.warning(
                "POST pid=%s events=%d failed after %.0f ms: %s",
                run.pixel_id,
                len(events),
                elapsed,
                record.error,
            )
        else:
            logger.info(
                "POST pid=%s events=%d status=%d elapsed_ms=%.0f",
                run.pixel_id,
                len(events),
                record.status_code,
                elapsed,
            )
        run.requests.append(record)
        return record


def classify_answer(code: int | None) -> AnswerKind:
    """What an HTTP status means for the events a request carried (None: no answer arrived)."""
    if code is None:
        return "retry"
    if 200 <= code < 300:
        return "ok"
    if code in _AUTH_STATUSES:
        return "auth"
    if code in _RETRYABLE_4XX or code >= 500:
        return "retry"
    if 400 <= code < 500:
        return "rejected"
    return "retry"  # 1xx/3xx: a misconfigured endpoint; keep the events until it is fixed


def _describe(record: RequestRecord) -> str:
    if record.status_code is None:
        return f"network error: {record.error}"
    return f"HTTP {record.status_code}: {record.body[:300]}"
