"""POST /webhooks/<kind>/<name>: authenticate -> size limit -> parse -> verify -> store -> enqueue -> 200.

The busiest route of the service runs without Flask's request context: `WebhookShortcut`, in front of the
Flask app, answers a POST to a webhook path itself (Flask's context, routing and response objects cost
more CPU than the handler's own work) and hands every other request to Flask. The Flask route stays for
the rest of HTTP (405 to another method) and runs the same `answer_webhook`. Errors become the JSON answers
of `connector.web.edge`, whichever way the request came.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, current_app, request

from connector.config import resolve_secrets
from connector.context import Context
from connector.intake import registry
from connector.intake.base import Source
from connector.intake.errors import Gone, NotFound
from connector.intake.ledger import store_receipt
from connector.intake.request import IncomingRequest
from connector.web.edge import INTERNAL_ERROR, Answer, count, error_answer, observe, read_body

log = logging.getLogger(__name__)

bp = Blueprint("intake", __name__)

KINDS = ("forms", "booking", "crm")
"""The URL families a webhook source lives under (beacons come through /collect)."""

PREFIX = "/webhooks/"

Secrets = dict[str, list[str]]
"""Each source's resolved secrets, by source name (the app's `connector_secrets`)."""


@bp.post("/webhooks/<kind>/<name>")
def receive(kind: str, name: str) -> Response:
    source = find_source(kind, name)
    observe(label(source, kind, name))
    extensions = current_app.extensions
    ctx, secrets = extensions["connector"], extensions["connector_secrets"]
    return answer_webhook(ctx, secrets, source, kind, name, request.environ).response()


def find_source(kind: str, name: str) -> Source[Any] | None:
    """The source serving /webhooks/<kind>/<name>, if any."""
    return registry.find(kind, name) if kind in KINDS else None


def label(source: Source[Any] | None, kind: str, name: str) -> str:
    """The metrics label of a webhook path: its source, or `unknown` for a path no source serves."""
    return f"{kind}/{name}" if source else "unknown"


def answer_webhook(
    ctx: Context,
    secrets_cache: Secrets,
    source: Source[Any] | None,
    kind: str,
    name: str,
    environ: dict[str, Any],
) -> Answer:
    """The answer to one webhook request to `source` (None: no source serves the path); raises the intake,
    ledger and store errors `edge` answers."""
    if source is None:
        raise NotFound(f"no webhook source {kind}/{name}")
    conf = ctx.settings.source(name)
    if not conf.enabled:
        raise (Gone if source.gone_when_disabled else NotFound)(f"source {kind}/{name} is disabled")
    secrets = secrets_cache.get(name)
    if secrets is None:
        secrets = secrets_cache[name] = resolve_secrets(ctx.settings, name)
    incoming = IncomingRequest(
        body=b"",
        content_type=environ.get("CONTENT_TYPE", ""),
        headers=_headers(environ),
        query=_query(environ.get("QUERY_STRING", "")),
        url=_public_url(ctx.settings.web.public_url, environ),
        remote_addr=environ.get("REMOTE_ADDR", ""),
    )
    source.authenticate_headers(incoming, secrets)
    incoming = incoming.with_body(
        read_body(environ, ctx.settings.intake.max_body_bytes, ctx.settings.intake.body_timeout_seconds)
    )
    source.authenticate_body(incoming, secrets, conf)
    parsed = source.parse(incoming, conf)
    source.verify_parsed(parsed, ctx.settings)
    stored = store_receipt(ctx, source, incoming, parsed)
    reply = source.acknowledge(parsed)
    if reply is not None:  # a sender that counts only its own answer as delivered (Salesforce's Ack)
        return Answer(200, reply.body.encode(), reply.content_type)
    if stored.duplicate:
        return Answer.json({"status": "duplicate", "receipt_id": stored.id})
    log.info(
        "webhook %s/%s stored receipt_id=%s event_id=%s queued=%s",
        kind,
        name,
        stored.id,
        parsed.event_id,
        stored.queued,
        extra={"event_id": parsed.event_id, "receipt_id": stored.id},
    )
    fields = {
        "status": "accepted",
        "receipt_id": stored.id,
        "event_id": parsed.event_id,
        "queued": stored.queued,
    }
    return Answer.json(fields)


class WebhookShortcut:
    """WSGI middleware: a POST to /webhooks/<kind>/<name> answered here, in full (metrics, errors, logs as
    the Flask route would), anything else passed to `wsgi_app`."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = webhook_route(environ) if environ.get("REQUEST_METHOD") == "POST" else None
        if route is None:
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        kind, name = route
        source = find_source(kind, name)
        where = label(source, kind, name)
        extensions = self.app.extensions
        try:
            answer = answer_webhook(
                extensions["connector"], extensions["connector_secrets"], source, kind, name, environ
            )
        except Exception as exc:
            known = error_answer(exc, where)
            if known is None:
                if self._propagates():
                    raise
                log.exception("Exception on %s [POST]", environ.get("PATH_INFO"))
                known = INTERNAL_ERROR
            answer = known
        count(where, answer.status, started)
        start_response(answer.status_line, answer.wsgi_headers())
        return [answer.body]

    def _propagates(self) -> bool:
        """Flask's rule: an unhandled error reaches the caller in testing or debug mode, as the route's would."""
        propagate = self.app.config["PROPAGATE_EXCEPTIONS"]
        return bool(self.app.testing or self.app.debug if propagate is None else propagate)


def webhook_route(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of a path /webhooks/<kind>/<name> (two non-empty segments, as the Flask route matches),
    else None."""
    path: str = environ.get("PATH_INFO", "")
    if not path.startswith(PREFIX):
        return None
    kind, _, name = path[len(PREFIX) :].partition("/")
    if not kind or not name or "/" in name:
        return None
    return kind, name


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


def _query(query_string: str) -> dict[str, str]:
    """The query's parameters, the first value of each, read as UTF-8 (as werkzeug's `args.to_dict()`)."""
    query: dict[str, str] = {}
    if query_string:
        text = query_string.encode("latin-1").decode("utf-8", "replace")  # WSGI's str holds the raw bytes
        for key, value in parse_qsl(text, keep_blank_values=True, errors="replace"):
            query.setdefault(key, value)
    return query


def _public_url(public_url: str, environ: dict[str, Any]) -> str:
    """The URL the sender called: `web.public_url` + our path and query; "" when it is not configured (never
    built from the Host header, which any sender may forge)."""
    if not public_url:
        return ""
    query = environ.get("QUERY_STRING", "")
    return public_url.rstrip("/") + environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
