"""A per-client fixed-window rate limit, in process memory (no round trip on the request path)."""

from __future__ import annotations

import threading
import time

MAX_CLIENTS = 50_000
"""Clients remembered per window; past this the table is cleared (a flood must not grow memory)."""


class RateLimiter:
    """At most `limit` hits per client per `window` seconds."""

    def __init__(self, limit: int, window: float = 60.0):
        if limit < 1:
            raise ValueError("limit: please enter a value greater than 0")
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._window_start = time.monotonic()
        self._hits: dict[str, int] = {}

    def allow(self, client: str, now: float | None = None) -> tuple[bool, int]:
        """(allowed, seconds until the window resets)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if now - self._window_start >= self.window or len(self._hits) >= MAX_CLIENTS:
                self._window_start = now
                self._hits.clear()
            count = self._hits.get(client, 0) + 1
            self._hits[client] = count
            reset = max(1, int(self.window - (now - self._window_start) + 0.999))
            return count <= self.limit, reset
