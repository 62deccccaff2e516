"""POST /webhooks/<kind>/<name>: authenticate -> size limit -> parse -> store -> enqueue -> 200."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from connector import metrics
from connector.config import resolve_secrets
from connector.context import Context
from connector.intake import registry
from connector.intake.base import Source
from connector.intake.errors import Gone, Ignored, IntakeError, NotFound, PayloadTooLarge
from connector.intake.ledger import StoreTimeout, store_receipt
from connector.intake.request import IncomingRequest

log = logging.getLogger(__name__)

bp = Blueprint("intake", __name__)

KINDS = {"forms": "forms", "booking": "booking", "crm": "crm"}


@bp.post("/webhooks/<kind>/<name>")
def receive(kind: str, name: str) -> Response | tuple[Response, int]:
    started = time.perf_counter()
    source = registry.find(kind, name) if kind in KINDS else None
    label = f"{kind}/{name}" if source else "unknown"
    try:
        response, status = _receive(kind, name, source)
    except Ignored as exc:
        log.info("webhook %s/%s ignored: %s", kind, name, exc)
        response, status = jsonify(status="ignored", reason=str(exc)), 200
    except IntakeError as exc:
        log.warning("webhook %s/%s rejected %s: %s", kind, name, exc.status, exc)
        response, status = jsonify(error=str(exc), status=exc.status), exc.status
    except (SQLAlchemyError, StoreTimeout) as exc:
        log.error("webhook %s/%s: ledger unavailable, asking the sender to retry: %s", kind, name, exc)
        response, status = jsonify(error="storage unavailable, retry later", status=503), 503
        response.headers["Retry-After"] = "30"
    metrics.REQUESTS.labels(label, str(status)).inc()
    metrics.LATENCY.labels(label).observe(time.perf_counter() - started)
    return response, status


def _receive(kind: str, name: str, source: Source | None) -> tuple[Response, int]:
    ctx: Context = current_app.extensions["connector"]
    if source is None:
        raise NotFound(f"no webhook source {kind}/{name}")
    conf = ctx.settings.source(name)
    if not conf.enabled:
        raise (Gone if source.gone_when_disabled else NotFound)(f"source {kind}/{name} is disabled")
    secrets = current_app.extensions["connector_secrets"].get(name)
    if secrets is None:
        secrets = resolve_secrets(ctx.settings, name)
        current_app.extensions["connector_secrets"][name] = secrets
    headers = {k.lower(): v for k, v in request.headers.items()}
    incoming = IncomingRequest(
        body=b"",
        content_type=request.content_type or "",
        headers=headers,
        query=request.args.to_dict(),
        url=_public_url(ctx.settings.web.public_url),
        remote_addr=request.remote_addr or "",
    )
    source.authenticate_headers(incoming, secrets)
    incoming = _with_body(incoming, ctx.settings.intake.max_body_bytes)
    source.authenticate_body(incoming, secrets, conf)
    submission = source.parse(incoming, conf)
    verify = getattr(source, "verify_parsed", None)
    if verify is not None:  # CRM sources check the payload against configuration (the Salesforce org)
        verify(submission, ctx.settings)
    stored = store_receipt(ctx, source, incoming, submission)
    acknowledge = getattr(source, "acknowledge", None)
    answer = acknowledge(submission) if acknowledge is not None else None
    if answer is not None:  # a sender that counts only its own answer as delivered (Salesforce's Ack)
        return answer, 200
    if stored.duplicate:
        return jsonify(status="duplicate", receipt_id=stored.id), 200
    queued = stored.queued
    log.info(
        "webhook %s/%s stored receipt_id=%s event_id=%s queued=%s",
        kind,
        name,
        stored.id,
        submission.event_id,
        queued,
        extra={"event_id": submission.event_id, "receipt_id": stored.id},
    )
    return jsonify(status="accepted", receipt_id=stored.id, event_id=submission.event_id, queued=queued), 200


def _public_url(public_url: str) -> str:
    """The URL the sender called: behind a proxy, `web.public_url` + our path and query."""
    if not public_url:
        return request.url
    query = request.query_string.decode("latin-1")
    return public_url.rstrip("/") + request.path + (f"?{query}" if query else "")


def _with_body(incoming: IncomingRequest, limit: int) -> IncomingRequest:
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"body of {request.content_length} bytes exceeds the {limit}-byte limit")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"body exceeds the {limit}-byte limit")
    return IncomingRequest(
        body=body,
        content_type=incoming.content_type,
        headers=incoming.headers,
        query=incoming.query,
        url=incoming.url,
        remote_addr=incoming.remote_addr,
    )
