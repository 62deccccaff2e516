"""The generic source: JSON or form bodies that use our canonical field names."""

from __future__ import annotations

from connector.attribution import ATTRIBUTION_FIELDS, CONTACT_FIELDS, Attribution, Contact
from connector.config import SourceSettings
from connector.intake.base import SubmissionSource, body_digest
from connector.intake.body import decode_body
from connector.intake.errors import BadPayload
from connector.intake.fields import flatten, recognise
from connector.intake.registry import register
from connector.intake.request import IncomingRequest
from connector.intake.submission import Submission
from connector.timeutil import parse_iso

RECOGNISED = (*CONTACT_FIELDS, *ATTRIBUTION_FIELDS)
"""The canonical names a body must carry at least one of."""

DELIVERY_HEADERS = ("idempotency-key", "x-delivery-id")
"""Headers a sender may use to name a delivery so retries deduplicate."""


@register
class GenericSource(SubmissionSource):
    name = "generic"
    kind = "forms"
    kept_headers = (*SubmissionSource.kept_headers, *DELIVERY_HEADERS)

    def parse(self, request: IncomingRequest, conf: SourceSettings | None = None) -> Submission:
        data = decode_body(request.body, request.content_type)
        data = {key: _scalar(value) for key, value in data.items()}
        if conf is not None and (conf.fields or conf.forms):  # canonical names need no recognition pass
            data = {**data, **recognise(flatten(data), conf, _text(data.get("form_id")))}
        if not any(data.get(k) not in (None, "") for k in RECOGNISED):
            raise BadPayload(
                "no recognised fields: expected canonical names such as email, event_id, first_utm_source"
            )
        attribution = Attribution.from_mapping(data)
        submitted_at = attribution.get("submitted_at")
        if submitted_at and parse_iso(submitted_at) is None:
            raise BadPayload(f"submitted_at: expected an ISO 8601 date-time, got {submitted_at[:64]!r}")
        return Submission(
            source=self.name,
            delivery_key=self._delivery_key(request, data, attribution),
            contact=Contact.from_mapping(data),
            attribution=attribution,
            form_id=_text(data.get("form_id")),
            submitted_at=parse_iso(submitted_at),
            meta={k: v for k in ("page_title", "form_name") if (v := _text(data.get(k)))},
        )

    @staticmethod
    def _delivery_key(request: IncomingRequest, data: dict, attribution: Attribution) -> str:
        for header in DELIVERY_HEADERS:
            if request.header(header):
                return "delivery:" + request.header(header)
        if _text(data.get("delivery_id")):
            return "delivery:" + str(data["delivery_id"])
        if attribution.event_id:
            return "event:" + attribution.event_id
        return body_digest(request.body)


def _scalar(value: object) -> object:
    """Form plugins sometimes send one-element lists; keep the single value."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:255] or None
