"""The few error types that drive retry decisions; adapters translate vendor errors into these."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of the shared error types."""


class RetryableError(ConnectorError):
    """Try again later; `delay` (seconds) when the remote side said how long to wait."""

    def __init__(self, message: str, delay: float | None = None):
        super().__init__(message)
        self.delay = delay


class RateLimited(RetryableError):
    """The remote side throttled us; `delay` comes from Retry-After or the vendor's limit window."""


class AuthError(ConnectorError):
    """Credentials are missing, wrong or expired beyond refresh; retrying will not help until fixed."""


class PermanentError(ConnectorError):
    """The request itself is wrong (validation, unknown field); never retried automatically."""
