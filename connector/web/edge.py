"""The web edge every intake route shares: one body reader, the request metrics, and the error answers
that turn intake errors, an unreachable ledger and timeouts into JSON.

A route names its metrics label (`observe("forms/generic")`); whatever the outcome, handled error
included, the answer is counted under that label with its status and latency. The pieces take a WSGI
environ and give plain `Answer`s, so the webhook route can run them without Flask's request context
(`connector.web.intake.WebhookShortcut`); Flask's error handlers give the same answers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Request, Response, current_app, g, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_input_stream

from connector import metrics
from connector.context import Context
from connector.intake.errors import (
    Acknowledged,
    BadPayload,
    Ignored,
    IntakeError,
    PayloadTooLarge,
    RequestTimeout,
    TooManyRequests,
)
from connector.intake.ledger import StoreTimeout
from connector.web.deadline import ReadDeadline

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
"""What a sender is told to wait when the ledger is unavailable (seconds)."""


def context() -> Context:
    ctx: Context = current_app.extensions["connector"]
    return ctx


@dataclass(frozen=True)
class Answer:
    """An HTTP answer without a framework: status, body, content type and any further headers."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(
        cls, fields: dict[str, Any], code: int = 200, headers: tuple[tuple[str, str], ...] = ()
    ) -> Answer:
        """`fields` (plain values) as `jsonify` writes them (compact, one line) at a fraction of its CPU."""
        return cls(code, (json.dumps(fields, separators=(",", ":")) + "\n").encode(), headers=headers)

    @property
    def status_line(self) -> str:
        return f"{self.status} {HTTP_STATUS_CODES.get(self.status, 'UNKNOWN').upper()}"

    def wsgi_headers(self) -> list[tuple[str, str]]:
        return [("Content-Type", self.content_type), ("Content-Length", str(len(self.body))), *self.headers]

    def response(self) -> Response:
        """The same answer as a Flask response."""
        return Response(self.body, status=self.status, headers=self.wsgi_headers())


def answer(**fields: Any) -> Response:
    """A 200 JSON answer of plain values, as a Flask response."""
    return Answer.json(fields).response()


def observe(label: str) -> None:
    """Count this request's answer under `label` (a source such as `forms/generic`, or `collect`)."""
    g.metrics_label = label


def read_body(environ: dict[str, Any], limit: int, timeout: float) -> bytes:
    """The request body, refused with 413 past `limit` bytes (declared or actually sent) and with 408 when it
    has not all arrived after `timeout` seconds: a slow sender, or an endless chunked body, must not hold one
    of the server's threads for good (under gunicorn: a ReadDeadline on its socket). Read as Flask would:
    up to the declared length, to the end of a chunked body, nothing from a body of neither."""
    declared = environ.get("CONTENT_LENGTH")
    content_length = int(declared) if declared and declared.isdigit() else None
    if content_length is not None and content_length > limit:
        raise PayloadTooLarge(f"body of {content_length} bytes exceeds the {limit}-byte limit")
    connection = environ.get("gunicorn.socket")
    deadline = ReadDeadline(connection, timeout) if connection is not None else None
    try:
        body = get_input_stream(environ).read(limit + 1)
    except Exception:
        if deadline is not None and deadline.passed:
            raise RequestTimeout(f"the body did not arrive within {timeout:g} s") from None
        raise
    finally:
        if deadline is not None:
            deadline.cancel()
    if deadline is not None and deadline.passed:
        raise RequestTimeout(f"the body did not arrive within {timeout:g} s")
    if content_length is not None and len(body) < content_length:
        raise BadPayload(f"the body ended after {len(body)} of the {content_length} declared bytes")
    if len(body) > limit:
        raise PayloadTooLarge(f"body exceeds the {limit}-byte limit")
    return body


SENDER_PATHS = ("/webhooks/", "/collect")
"""Where senders and browsers post (intake, beacons): no session cookie is read or written there."""


class SenderSessions(SecureCookieSessionInterface):
    """Flask's cookie sessions, except on the senders' routes: they have no use for one, and opening it
    builds a signing serializer per request."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(SENDER_PATHS):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Register the timing hooks and the error handlers once, for every route."""
    app.session_interface = SenderSessions()
    app.before_request(_start)
    app.after_request(_count)
    app.register_error_handler(IntakeError, _handled)
    app.register_error_handler(SQLAlchemyError, _handled)
    app.register_error_handler(StoreTimeout, _handled)
    app.register_error_handler(404, _plain(404, "not found"))
    app.register_error_handler(405, _plain(405, "method not allowed"))
    app.register_error_handler(500, _plain(500, "internal error"))


def _start() -> None:
    g.started = time.perf_counter()


def _count(response: Response) -> Response:
    label = g.get("metrics_label")
    if label is not None:
        count(label, response.status_code, g.get("started", time.perf_counter()))
    return response


def count(label: str, status: int, started: float) -> None:
    """Count one answer under `label` with its status, and its latency since `started` (perf_counter)."""
    requests, latency = _series(label, status)
    requests.inc()
    latency.observe(time.perf_counter() - started)


_children: dict[tuple[str, int], tuple[Any, Any]] = {}
"""(label, status) -> its request counter and latency histogram: `labels()` validates and locks per call."""


def _series(label: str, status: int) -> tuple[Any, Any]:
    series = _children.get((label, status))
    if series is None:
        series = _children[(label, status)] = (
            metrics.REQUESTS.labels(label, str(status)),
            metrics.LATENCY.labels(label),
        )
    return series


def error_answer(exc: Exception, where: str) -> Answer | None:
    """The answer to an intake error, an unreachable ledger or a store timeout, logged; None for any other
    exception (a defect: the caller answers 500)."""
    if isinstance(exc, IntakeError):
        return _intake_error(exc, where)
    if isinstance(exc, SQLAlchemyError | StoreTimeout):
        return _unavailable(exc, where)
    return None


def _intake_error(exc: IntakeError, where: str) -> Answer:
    if isinstance(exc, Acknowledged):
        log.info("%s acknowledged: %s", where, exc)
        return Answer.json(exc.answer)
    if isinstance(exc, Ignored):
        log.info("%s ignored: %s", where, exc)
        return Answer.json({"status": "ignored", "reason": str(exc)})
    log.warning("%s rejected %s: %s", where, exc.status, exc)
    retry = (("Retry-After", str(exc.retry_after)),) if isinstance(exc, TooManyRequests) else ()
    return Answer.json({"error": str(exc), "status": exc.status}, exc.status, retry)


def _unavailable(exc: Exception, where: str) -> Answer:
    log.error("%s: ledger unavailable, asking the sender to retry: %s", where, exc)
    retry = (("Retry-After", str(RETRY_AFTER_SECONDS)),)
    return Answer.json({"error": "storage unavailable, retry later", "status": 503}, 503, retry)


INTERNAL_ERROR = Answer.json({"error": "internal error", "status": 500}, 500)


def _handled(exc: Exception) -> Response:
    """Flask's handler for the errors `error_answer` knows."""
    where = g.get("metrics_label", request.path)
    known = error_answer(exc, where)
    assert known is not None, "registered only for the errors error_answer answers"
    return known.response()


def _plain(status: int, message: str) -> Callable[[Exception], Response]:
    def handler(_exc: Exception) -> Response:
        return Answer.json({"error": message, "status": status}, status).response()

    return handler
