"""The few error types that drive retry decisions; adapters translate vendor errors into these at their edge."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of the shared error types; `code` is the vendor's error code when there is one."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


class RetryableError(ConnectorError):
    """Temporary failure (lock, 5xx, remote unreachable): try again after `delay` seconds."""

    def __init__(self, message: str, code: str | None = None, delay: float = 30.0):
        super().__init__(message, code)
        self.delay = delay


class RateLimited(RetryableError):
    """A rate or daily limit was hit: try again after `retry_after` seconds."""

    def __init__(self, message: str, code: str | None = None, retry_after: float = 10.0):
        super().__init__(message, code, delay=retry_after)
        self.retry_after = retry_after


class AuthError(ConnectorError):
    """Credentials are missing, expired beyond refresh, or lack permission: a human must act."""


class PermanentError(ConnectorError):
    """The remote side rejected this for good (invalid field, value too long): never retried automatically."""
