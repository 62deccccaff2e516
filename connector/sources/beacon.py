"""Browser beacons posted to /collect by the script: a booking linked to its event_id, or a touch.

The contract (plugin-js): `{"v": 1, "type": "booking", "event_id", "provider": "calendly" | "cal_com",
"booking": {"invitee_uri", "event_uri"} | {"uid"}, "attribution": {<canonical fields>}, "page", "ts"}`.
Beacons are public (no secret); /collect checks the origin and rate instead. The job joins a booking
beacon with its webhook (connector.bookings.join), whichever arrived first.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from connector.attribution import Attribution, Contact
from connector.bookings.facts import BOOKING_KEYS
from connector.bookings.join import apply_beacon
from connector.bookings.visitors import apply_first_touch
from connector.config import SourceSettings
from connector.intake.base import Processed, Source, body_digest
from connector.intake.body import decode_json
from connector.intake.errors import BadPayload
from connector.intake.registry import register
from connector.intake.request import IncomingRequest
from connector.intake.submission import Submission
from connector.journal import record
from connector.sources.forms import text
from connector.store.models import Receipt
from connector.timeutil import parse_iso

VISITOR_HEADER = "x-connector-visitor"
"""Header /collect adds to the stored receipt with the visitor id from its first-party cookie."""


@register
class BeaconSource(Source[Submission]):
    name = "beacon"
    kind = "beacon"
    kept_headers = ("content-type", "user-agent", "origin", VISITOR_HEADER)

    def authenticate_headers(self, request: IncomingRequest, secrets: list[str]) -> None:
        """Public: /collect checks the origin and the rate instead."""

    def parse(self, request: IncomingRequest, conf: SourceSettings | None = None) -> Submission:
        data = decode_json(request.body)
        if data.get("v") != 1:
            raise BadPayload(f"v: expected 1, got {str(data.get('v'))[:16]!r}")
        kind = data.get("type")
        if kind not in ("booking", "touch"):
            raise BadPayload(f"type: expected booking or touch, got {str(kind)[:32]!r}")
        attribution = data.get("attribution")
        if attribution is not None and not isinstance(attribution, dict):
            raise BadPayload("attribution: expected an object of canonical fields")
        event_id = text(data.get("event_id"))
        values = {**(attribution or {}), **({"event_id": event_id} if event_id else {})}
        meta: dict[str, Any] = {"beacon": kind, "page": text(data.get("page"), 2048)}
        if request.header(VISITOR_HEADER):
            meta["visitor_id"] = request.header(VISITOR_HEADER)
        if kind == "booking":
            meta["booking"] = _booking(data)
            if not event_id:
                raise BadPayload("event_id: a booking beacon needs the event_id it links the booking to")
            key = f"{meta['booking']['provider']}:{meta['booking']['key']}"
        else:
            key = event_id or body_digest(request.body)
        return Submission(
            source=self.name,
            delivery_key=f"{kind}:{key}",  # the ledger fits long keys (connector.store.fit)
            contact=Contact(),
            attribution=Attribution.from_mapping(values),
            kind="beacon",
            submitted_at=parse_iso(text(data.get("ts"))),
            meta={k: v for k, v in meta.items() if v},
        )

    def process(self, session: Session, receipt: Receipt, parsed: Submission) -> Processed:
        """A beacon is never a lead of its own: it completes a booking (or a visitor's first touch)."""
        submission = parsed
        visitor_id = submission.meta.get("visitor_id")
        if visitor_id:
            values = apply_first_touch(session, visitor_id, submission.attribution.to_dict())
            submission = replace(submission, attribution=Attribution(values))
        if submission.meta.get("beacon") == "booking":
            apply_beacon(session, receipt, submission)
        else:
            record(session, "touch", "browser touch beacon kept", receipt=receipt)
        return Processed()


def _booking(data: dict[str, Any]) -> dict[str, str]:
    provider = data.get("provider")
    if not isinstance(provider, str) or provider not in BOOKING_KEYS:  # a list or object is unhashable
        raise BadPayload(f"provider: expected calendly or cal_com, got {str(provider)[:32]!r}")
    booking = data.get("booking")
    key = text(booking.get(BOOKING_KEYS[provider]), 255) if isinstance(booking, dict) else None
    if not key:
        raise BadPayload(f"booking.{BOOKING_KEYS[provider]}: expected the {provider} booking id")
    return {"provider": provider, "key": key}
