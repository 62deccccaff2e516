"""POST /webhooks/<kind>/<name>: authenticate -> size limit -> parse -> verify -> store -> enqueue -> 200.

Errors become JSON answers in `connector.web.edge`, registered once for every route.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, request

from connector.config import resolve_secrets
from connector.intake import registry
from connector.intake.base import Source
from connector.intake.errors import Gone, NotFound
from connector.intake.ledger import store_receipt
from connector.intake.request import IncomingRequest
from connector.web.edge import answer, context, observe, read_body

log = logging.getLogger(__name__)

bp = Blueprint("intake", __name__)

KINDS = ("forms", "booking", "crm")
"""The URL families a webhook source lives under (beacons come through /collect)."""


@bp.post("/webhooks/<kind>/<name>")
def receive(kind: str, name: str) -> Response:
    source = registry.find(kind, name) if kind in KINDS else None
    observe(f"{kind}/{name}" if source else "unknown")
    if source is None:
        raise NotFound(f"no webhook source {kind}/{name}")
    return _receive(kind, name, source)


def _receive(kind: str, name: str, source: Source[Any]) -> Response:
    ctx = context()
    conf = ctx.settings.source(name)
    if not conf.enabled:
        raise (Gone if source.gone_when_disabled else NotFound)(f"source {kind}/{name} is disabled")
    secrets = current_app.extensions["connector_secrets"].get(name)
    if secrets is None:
        secrets = resolve_secrets(ctx.settings, name)
        current_app.extensions["connector_secrets"][name] = secrets
    incoming = IncomingRequest(
        body=b"",
        content_type=request.content_type or "",
        headers=_headers(request.environ),
        query=request.args.to_dict() if request.query_string else {},
        url=_public_url(ctx.settings.web.public_url),
        remote_addr=request.remote_addr or "",
    )
    source.authenticate_headers(incoming, secrets)
    incoming = incoming.with_body(
        read_body(ctx.settings.intake.max_body_bytes, ctx.settings.intake.body_timeout_seconds)
    )
    source.authenticate_body(incoming, secrets, conf)
    parsed = source.parse(incoming, conf)
    source.verify_parsed(parsed, ctx.settings)
    stored = store_receipt(ctx, source, incoming, parsed)
    reply = source.acknowledge(parsed)
    if reply is not None:  # a sender that counts only its own answer as delivered (Salesforce's Ack)
        return Response(reply.body, status=200, content_type=reply.content_type)
    if stored.duplicate:
        return answer(status="duplicate", receipt_id=stored.id)
    log.info(
        "webhook %s/%s stored receipt_id=%s event_id=%s queued=%s",
        kind,
        name,
        stored.id,
        parsed.event_id,
        stored.queued,
        extra={"event_id": parsed.event_id, "receipt_id": stored.id},
    )
    return answer(status="accepted", receipt_id=stored.id, event_id=parsed.event_id, queued=stored.queued)


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers, names lower-cased, read from the WSGI environ (werkzeug's header view
    rebuilds each name per access)."""
    headers = {
        name[5:].replace("_", "-").lower(): value
        for name, value in environ.items()
        if name[:5] == "HTTP_" and name not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH")
    }
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = environ[name]
    return headers


def _public_url(public_url: str) -> str:
    """The URL the sender called: `web.public_url` + our path and query; "" when it is not configured (never
    built from the Host header, which any sender may forge)."""
    if not public_url:
        return ""
    query = request.query_string.decode("latin-1")
    return public_url.rstrip("/") + request.path + (f"?{query}" if query else "")
