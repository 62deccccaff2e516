"""The web edge every intake route shares: one body reader, the request metrics, and the error handlers
that turn intake errors, an unreachable ledger and timeouts into JSON answers.

A route names its metrics label (`observe("forms/generic")`); whatever the outcome, handled error
included, the answer is counted under that label with its status and latency.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Request, Response, current_app, g, jsonify, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy.exc import SQLAlchemyError

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


def answer(**fields: Any) -> Response:
    """A JSON answer of plain values, as `jsonify` writes it (compact, one line) at half its CPU: an intake
    answer is built once per webhook."""
    return Response(json.dumps(fields, separators=(",", ":")) + "\n", mimetype="application/json")


def observe(label: str) -> None:
    """Count this request's answer under `label` (a source such as `forms/generic`, or `collect`)."""
    g.metrics_label = label


def read_body(limit: int, timeout: float) -> bytes:
    """The request body, refused with 413 past `limit` bytes (declared or actually sent) and with 408 when it
    has not all arrived after `timeout` seconds: a slow sender, or an endless chunked body, must not hold one
    of the server's threads for good (under gunicorn: a ReadDeadline on its socket)."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"body of {request.content_length} bytes exceeds the {limit}-byte limit")
    connection = request.environ.get("gunicorn.socket")
    deadline = ReadDeadline(connection, timeout) if connection is not None else None
    try:
        body = request.stream.read(limit + 1)
    except Exception:
        if deadline is not None and deadline.passed:
            raise RequestTimeout(f"the body did not arrive within {timeout:g} s") from None
        raise
    finally:
        if deadline is not None:
            deadline.cancel()
    if deadline is not None and deadline.passed:
        raise RequestTimeout(f"the body did not arrive within {timeout:g} s")
    if request.content_length is not None and len(body) < request.content_length:
        raise BadPayload(f"the body ended after {len(body)} of the {request.content_length} declared bytes")
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
    app.register_error_handler(IntakeError, _intake_error)
    app.register_error_handler(SQLAlchemyError, _unavailable)
    app.register_error_handler(StoreTimeout, _unavailable)
    app.register_error_handler(404, _plain(404, "not found"))
    app.register_error_handler(405, _plain(405, "method not allowed"))
    app.register_error_handler(500, _plain(500, "internal error"))


def _start() -> None:
    g.started = time.perf_counter()


def _count(response: Response) -> Response:
    label = g.get("metrics_label")
    if label is not None:
        requests, latency = _series(label, response.status_code)
        requests.inc()
        latency.observe(time.perf_counter() - g.get("started", time.perf_counter()))
    return response


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


def _intake_error(exc: IntakeError) -> tuple[Response, int]:
    where = g.get("metrics_label", request.path)
    if isinstance(exc, Acknowledged):
        log.info("%s acknowledged: %s", where, exc)
        return jsonify(exc.answer), 200
    if isinstance(exc, Ignored):
        log.info("%s ignored: %s", where, exc)
        return jsonify(status="ignored", reason=str(exc)), 200
    log.warning("%s rejected %s: %s", where, exc.status, exc)
    response = jsonify(error=str(exc), status=exc.status)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response, exc.status


def _unavailable(exc: Exception) -> tuple[Response, int]:
    log.error("%s: ledger unavailable, asking the sender to retry: %s", g.get("metrics_label"), exc)
    response = jsonify(error="storage unavailable, retry later", status=503)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response, 503


def _plain(status: int, message: str) -> Callable[[Exception], tuple[Response, int]]:
    def handler(_exc: Exception) -> tuple[Response, int]:
        return jsonify(error=message, status=status), status

    return handler
