"""HubSpot webhooks (POST /webhooks/crm/hubspot): signature v3, the event array split into StageChanges."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from hubspot.exceptions import InvalidSignatureTimestampError
from hubspot.utils.signature import Signature

from connector.config import SourceSettings
from connector.intake.base import body_digest
from connector.intake.body import parse_json
from connector.intake.errors import BadPayload, Unauthorized
from connector.intake.registry import register
from connector.intake.request import IncomingRequest
from connector.intake.signatures import is_ascii_digits
from connector.sources.stage_base import StageSource
from connector.stages.changes import StageChange, StageDelivery

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"

MAX_SKEW_MS = 5 * 60 * 1000
"""Requests signed further than this in the future are refused too (milliseconds)."""

MAX_TIMESTAMP_DIGITS = 15
"""Longest X-HubSpot-Request-Timestamp parsed (digits of epoch milliseconds)."""

STAGE_PROPERTIES = {"deal": ("deals", "dealstage"), "contact": ("contacts", "lifecyclestage")}
"""subscriptionType prefix -> (object type, the stage property we listen to)."""


@register
class HubSpotWebhookSource(StageSource):
    """The private app's webhook subscription on deal.propertyChange(dealstage) and
    contact.propertyChange(lifecyclestage); the app's client secret is the source's secret."""

    name = "hubspot"
    signs_public_url = True
    kept_headers = ("content-type", "user-agent", TIMESTAMP_HEADER)

    def authenticate_headers(self, request: IncomingRequest, secrets: list[str]) -> None:
        if not secrets:
            raise Unauthorized("source 'hubspot' has no client secret configured; requests are refused")
        if not request.header(SIGNATURE_HEADER) or not request.header(TIMESTAMP_HEADER):
            raise Unauthorized("missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")

    def authenticate_body(
        self, request: IncomingRequest, secrets: list[str], conf: SourceSettings | None = None
    ) -> None:
        if not request.url:
            raise Unauthorized(
                "HubSpot signs the public URL it called: set web.public_url (the Host header is never trusted)"
            )
        signature, timestamp = request.header(SIGNATURE_HEADER), request.header(TIMESTAMP_HEADER)
        # At most 15 digits: milliseconds until the year 33658, and `int` refuses strings of over 4,300.
        if (
            not is_ascii_digits(timestamp)
            or len(timestamp) > MAX_TIMESTAMP_DIGITS
            or int(timestamp) > time.time() * 1000 + MAX_SKEW_MS
        ):
            raise Unauthorized("X-HubSpot-Request-Timestamp is not a time within the 5-minute window")
        if not signature.isascii():  # the SDK compares str signatures, which must be ASCII
            raise Unauthorized(f"invalid HubSpot signature for {request.url}")
        body = request.body.decode("utf-8", errors="replace")
        try:
            valid = any(
                Signature.is_valid(
                    signature=signature,
                    client_secret=secret,
                    request_body=body,
                    http_uri=request.url,
                    http_method="POST",
                    signature_version="v3",
                    timestamp=timestamp,
                )
                for secret in secrets
            )
        except InvalidSignatureTimestampError:
            raise Unauthorized("request timestamp is older than 5 minutes") from None
        if not valid:
            raise Unauthorized(f"invalid HubSpot signature for {request.url}")

    def parse(self, request: IncomingRequest, conf: SourceSettings | None = None) -> StageDelivery:
        events = parse_json(request.body)
        if not isinstance(events, list):
            raise BadPayload("expected a JSON array of webhook events")
        changes = [c for n, event in enumerate(events) if (c := _change(n, event)) is not None]
        return StageDelivery(self.name, body_digest(request.body), tuple(changes))


def _change(n: int, event: Any) -> StageChange | None:
    if not isinstance(event, dict):
        raise BadPayload(f"[{n}]: expected an event object")
    kind, _, action = str(event.get("subscriptionType", "")).partition(".")
    if kind not in STAGE_PROPERTIES or action != "propertyChange":
        return None  # other subscriptions on the same app are not ours to handle
    object_type, stage_property = STAGE_PROPERTIES[kind]
    if event.get("propertyName") != stage_property:
        return None
    missing = [
        k for k in ("eventId", "subscriptionId", "portalId", "objectId", "occurredAt") if k not in event
    ]
    if missing:
        raise BadPayload(f"[{n}]: missing {', '.join(missing)}")
    try:
        entered = datetime.fromtimestamp(int(event["occurredAt"]) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError):
        raise BadPayload(
            f"[{n}].occurredAt: expected epoch milliseconds, got {event['occurredAt']!r}"
        ) from None
    # eventId alone is not unique: HubSpot documents portal + subscription + event id as the identity.
    key = f"webhook:{event['portalId']}:{event['subscriptionId']}:{event['eventId']}"
    return StageChange(
        crm="hubspot",
        object_type=object_type,
        record_id=str(event["objectId"]),
        stage=str(event.get("propertyValue") or ""),
        entered_at=entered,
        delivery_key=key,
        via="webhook",
        fields={"portalId": event["portalId"], "attemptNumber": event.get("attemptNumber")},
    )
