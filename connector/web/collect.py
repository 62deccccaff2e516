"""POST /collect: the browser script's beacons (text/plain JSON, no preflight), public and cheap.

Checks in order: enabled -> origin allowlist -> per-IP rate -> tiny body limit -> parse -> store -> 200.
There is no secret (the page is public); the origin allowlist, the rate limit and the size bound are the
guard. The CORS answer names only the allowed origin. Optionally sets a first-party HttpOnly cookie with
the visitor's attribution id, which survives Safari's 7-day cap on cookies written by script.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from connector import metrics
from connector.config import CollectSettings
from connector.context import Context
from connector.intake import registry
from connector.intake.beacon import VISITOR_HEADER
from connector.intake.errors import IntakeError, NotFound, PayloadTooLarge
from connector.intake.ledger import StoreTimeout, store_receipt
from connector.intake.request import IncomingRequest
from connector.web.ratelimit import RateLimiter

log = logging.getLogger(__name__)

bp = Blueprint("collect", __name__)

VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
"""Shape of a visitor id we issued; anything else in the cookie is replaced."""


class Forbidden(IntakeError):
    status = 403


class TooManyRequests(IntakeError):
    status = 429


@bp.route("/collect", methods=["POST", "OPTIONS"])
def collect() -> Response:
    started = time.perf_counter()
    conf: CollectSettings = _ctx().settings.collect
    origin = request.headers.get("Origin", "")
    try:
        response = _preflight() if request.method == "OPTIONS" else _collect(conf, origin)
    except IntakeError as exc:
        log.warning("beacon rejected %s from origin=%r: %s", exc.status, origin[:100], exc)
        response = jsonify(error=str(exc), status=exc.status)
        response.status_code = exc.status
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.args[1] if len(exc.args) > 1 else 60)
    except (SQLAlchemyError, StoreTimeout) as exc:
        log.error("beacon: ledger unavailable: %s", exc)
        response = jsonify(error="storage unavailable, retry later", status=503)
        response.status_code = 503
    if conf.enabled and origin in conf.allowed_origins:
        _cors(response, origin, conf)
    metrics.REQUESTS.labels("collect", str(response.status_code)).inc()
    metrics.LATENCY.labels("collect").observe(time.perf_counter() - started)
    return response


def _ctx() -> Context:
    return current_app.extensions["connector"]


def _preflight() -> Response:
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    return response


def _collect(conf: CollectSettings, origin: str) -> Response:
    if not conf.enabled:
        raise NotFound("beacons are disabled (collect.enabled = false)")
    if origin not in conf.allowed_origins:
        raise Forbidden("origin not allowed: add it to collect.allowed_origins")
    allowed, reset = _limiter(conf).allow(_client_ip(conf))
    if not allowed:
        raise TooManyRequests(
            f"more than {conf.rate_limit_per_minute} beacons a minute from this address", reset
        )
    body = _read_body(conf.max_body_bytes)
    visitor = _visitor_id(conf)
    incoming = IncomingRequest(
        body=body,
        content_type=request.content_type or "text/plain",
        headers={
            "content-type": request.content_type or "text/plain",
            "user-agent": request.headers.get("User-Agent", "")[:512],
            "origin": origin,
            **({VISITOR_HEADER: visitor} if visitor else {}),
        },
        remote_addr=request.remote_addr or "",
    )
    source = registry.find("beacon", "beacon")
    assert source is not None
    submission = source.parse(incoming)
    stored = store_receipt(_ctx(), source, incoming, submission)
    response = jsonify(status="duplicate" if stored.duplicate else "accepted", receipt_id=stored.id)
    if visitor:
        response.set_cookie(
            conf.cookie_name,
            visitor,
            max_age=conf.cookie_days * 86400,
            domain=conf.cookie_domain or None,
            secure=True,
            httponly=True,
            samesite="Lax",
        )
    log.info(
        "beacon stored receipt_id=%s event_id=%s duplicate=%s",
        stored.id,
        submission.event_id,
        stored.duplicate,
    )
    return response


def _cors(response: Response, origin: str, conf: CollectSettings) -> None:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"
    if conf.cookie:
        response.headers["Access-Control-Allow-Credentials"] = "true"


def _read_body(limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"beacon of {request.content_length} bytes exceeds the {limit}-byte limit")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"beacon exceeds the {limit}-byte limit")
    return body


def _client_ip(conf: CollectSettings) -> str:
    if conf.trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.rsplit(",", 1)[-1].strip()[:64]
    return request.remote_addr or "unknown"


def _visitor_id(conf: CollectSettings) -> str | None:
    if not conf.cookie:
        return None
    current = request.cookies.get(conf.cookie_name, "")
    return current if VISITOR_ID.match(current) else secrets.token_urlsafe(18)


def _limiter(conf: CollectSettings) -> RateLimiter:
    extensions = current_app.extensions
    limiter = extensions.get("connector_collect_limiter")
    if limiter is None or limiter.limit != conf.rate_limit_per_minute:
        limiter = extensions["connector_collect_limiter"] = RateLimiter(conf.rate_limit_per_minute)
    return limiter
