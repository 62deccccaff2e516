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

from flask import Blueprint, Response, current_app, request

from connector.config import CollectSettings
from connector.intake.errors import Forbidden, NotFound, TooManyRequests
from connector.intake.ledger import store_receipt
from connector.intake.request import IncomingRequest
from connector.sources.beacon import VISITOR_HEADER, BeaconSource
from connector.web.edge import answer, context, observe, read_body
from connector.web.ratelimit import RateLimiter

log = logging.getLogger(__name__)

bp = Blueprint("collect", __name__)

VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
"""Shape of a visitor id we issued; anything else in the cookie is replaced."""


BEACON = BeaconSource()
"""The one source /collect stores receipts for."""


@bp.route("/collect", methods=["POST", "OPTIONS"])
def collect() -> Response:
    observe("collect")
    conf = context().settings.collect
    if request.method == "OPTIONS":
        return _preflight()
    return _collect(conf, request.headers.get("Origin", ""))


@bp.after_request
def _allow_origin(response: Response) -> Response:
    """CORS for allowed origins on every answer, errors included (the page must be able to read them)."""
    conf = context().settings.collect
    origin = request.headers.get("Origin", "")
    if conf.enabled and origin in conf.allowed_origins:
        _cors(response, origin)
    return response


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
    body = read_body(request.environ, conf.max_body_bytes, context().settings.intake.body_timeout_seconds)
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
    submission = BEACON.parse(incoming)
    stored = store_receipt(context(), BEACON, incoming, submission)
    response = answer(status="duplicate" if stored.duplicate else "accepted", receipt_id=stored.id)
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


def _cors(response: Response, origin: str) -> None:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"
    # The browser script always sends its beacon with credentials (so the optional visitor cookie can go
    # along): without this header the browser reports a CORS error for every beacon, cookie or not.
    response.headers["Access-Control-Allow-Credentials"] = "true"


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
