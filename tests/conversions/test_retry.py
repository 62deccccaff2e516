import random
from datetime import UTC, datetime

import pytest

from connector.conversions.retry import RetryPolicy, parse_retry_after


def test_backoff_grows_exponentially_within_jitter_bounds():
    policy = RetryPolicy(base_s=2, factor=2, max_s=100, jitter=0.5, rng=random.Random(7))
    for attempt, full in [(1, 2), (2, 4), (3, 8), (4, 16), (10, 100)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays)
        assert max(delays) - min(delays) > full / 4  # actually jittered


def test_retry_after_wins_and_is_capped():
    policy = RetryPolicy(base_s=2, max_s=60)
    assert policy.delay(1, retry_after_s=30) == 30
    assert policy.delay(5, retry_after_s=3600) == 60
    assert policy.delay(1, retry_after_s=-5) == 0


def test_policy_is_validated():
    with pytest.raises(ValueError):
        RetryPolicy(base_s=0)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=2)


def test_parse_retry_after():
    now = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7
    assert parse_retry_after(" 120 ") == 120
    assert parse_retry_after("Fri, 20 Nov 2026 12:00:30 GMT", now=now) == 30
    assert parse_retry_after("Fri, 20 Nov 2026 11:00:00 GMT", now=now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
