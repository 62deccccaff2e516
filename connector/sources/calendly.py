"""Calendly webhooks v2: `invitee.created` / `invitee.canceled`, signed with a timestamp.

`Calendly-Webhook-Signature: t=<unix>,v1=<hex>`, HMAC-SHA256(signing key, `"<t>." + raw body`). Without a
signing key on the subscription, the URL token authenticates. The invitee URI identifies the booking; a
reschedule cancels the old invitee (`rescheduled: true`, `new_invitee`) and creates one with `old_invitee`.
Calendly documents 410 as "delete this subscription", so a disabled source answers 410.
"""

from __future__ import annotations

from typing import Any

from connector.attribution import Attribution, Contact
from connector.bookings.facts import CANCELED, CREATED, booking_meta, utm_fields
from connector.config import SourceSettings
from connector.intake.body import decode_json
from connector.intake.errors import BadPayload, Ignored
from connector.intake.fields import CANONICAL, as_text, normalize_key, recognise
from connector.intake.registry import register
from connector.intake.request import IncomingRequest
from connector.intake.signatures import tolerance, verify_timestamped
from connector.intake.submission import Submission
from connector.sources.booking_base import BookingSource
from connector.sources.forms import dig, text
from connector.timeutil import parse_iso

SIGNATURE_HEADER = "calendly-webhook-signature"
EVENTS = {"invitee.created": CREATED, "invitee.canceled": CANCELED}


@register
class CalendlySource(BookingSource):
    name = "calendly"
    gone_when_disabled = True

    def authenticate_headers(self, request: IncomingRequest, secrets: list[str]) -> None:
        if not request.header(SIGNATURE_HEADER):
            super().authenticate_headers(request, secrets)

    def authenticate_body(
        self, request: IncomingRequest, secrets: list[str], conf: SourceSettings | None = None
    ) -> None:
        header = request.header(SIGNATURE_HEADER)
        if header:
            verify_timestamped(header, request.body, secrets, "v1", tolerance(conf))

    def parse(self, request: IncomingRequest, conf: SourceSettings | None = None) -> Submission:
        data = decode_json(request.body)
        event = data.get("event")
        if not isinstance(event, str) or not event:
            raise BadPayload(f"event: expected one of {', '.join(EVENTS)}")
        action = EVENTS.get(event)
        if action is None:  # another subscribed event (no-shows, routing forms): acknowledged, not kept
            raise Ignored(f"event {event[:64]!r} is not a booking")
        payload = data.get("payload")
        if not isinstance(payload, dict):
            raise BadPayload("payload: expected an object with the invitee")
        uri = text(payload.get("uri"), 255)
        if not uri:
            raise BadPayload("payload.uri: expected the invitee URI")
        form_id = text(dig(payload, "scheduled_event", "event_type"), 255)
        answers = recognise(_answers(payload.get("questions_and_answers")), conf, form_id)
        attribution = Attribution.from_mapping({**answers, **utm_fields(payload.get("tracking"))})
        contact = Contact.from_mapping(
            {
                "email": payload.get("email"),
                "name": payload.get("name"),
                "first_name": payload.get("first_name"),
                "last_name": payload.get("last_name"),
                **{k: answers[k] for k in ("phone", "company") if k in answers},
            }
        )
        meta = booking_meta(
            "calendly",
            uri,
            action,
            rescheduled_from=text(payload.get("old_invitee"), 255),
            rescheduled_to=text(payload.get("new_invitee"), 255),
            rescheduled=payload.get("rescheduled") is True,
            event_type=text(dig(payload, "scheduled_event", "name")),
            event_uri=text(dig(payload, "scheduled_event", "uri") or payload.get("event"), 255),
            start_time=text(dig(payload, "scheduled_event", "start_time")),
            cancel_reason=text(dig(payload, "cancellation", "reason"), 1000),
            salesforce_uuid=text(dig(payload, "tracking", "salesforce_uuid")),
        )
        return Submission(
            source=self.name,
            delivery_key=f"{event}:{uri}",
            contact=contact,
            attribution=attribution,
            kind="booking",
            form_id=form_id,
            submitted_at=parse_iso(text(payload.get("created_at")) or text(data.get("created_at"))),
            meta=meta,
        )


def _answers(items: Any) -> dict[str, str]:
    """Invitee question -> answer; a question spelled as a canonical name is keyed by that name."""
    found: dict[str, str] = {}
    if not isinstance(items, list):
        return found
    for item in items[:100]:
        if not isinstance(item, dict):
            continue
        question, answer = as_text(item.get("question")), as_text(item.get("answer"))
        if not question or not answer:
            continue
        key = normalize_key(question)
        found.setdefault(key if key in CANONICAL else question, answer)
    return found
