"""When to try a failed request again: exponential backoff with jitter, and Retry-After parsing."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

logger = logging.getLogger(__name__)


@dataclass
class RetryPolicy:
    """Delay before attempt `n + 1`: base * factor**(n - 1), capped, the upper half jittered.

    A server's Retry-After wins over the computed delay (still capped), so we never come back early.
    """

    base_s: float = 2.0
    factor: float = 2.0
    max_s: float = 900.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.factor < 1 or self.max_s < self.base_s:
            raise ValueError("RetryPolicy: need base_s > 0, factor >= 1 and max_s >= base_s")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"RetryPolicy.jitter: expected a fraction in [0, 1], got {self.jitter}")

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1 = the first try)."""
        if retry_after_s is not None:
            return min(self.max_s, max(retry_after_s, 0.0))
        exponent = max(attempt, 1) - 1
        backoff = min(self.max_s, self.base_s * self.factor ** min(exponent, 64))
        # Equal jitter: keep (1 - jitter) of the delay, randomise the rest, so retries spread out
        # without ever collapsing to zero.
        return backoff * (1 - self.jitter) + self.rng.uniform(0, backoff * self.jitter)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        logger.info("unreadable Retry-After header %r", text[:64])
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
