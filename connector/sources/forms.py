"""What every WordPress form plugin source shares: body -> flat fields -> recognised Submission.

A plugin module only says where its form id, entry id, page URL and date live (`extract`). Anything that
decodes to a non-empty object is accepted, even with no recognised field: the raw body is kept, so fixing
the field map and running `connector replay` recovers the lead (a 4xx would show the visitor an error).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.attribution import Attribution, Contact
from connector.config import SourceSettings
from connector.intake.base import SubmissionSource, body_digest
from connector.intake.body import decode_body
from connector.intake.errors import BadPayload
from connector.intake.fields import as_text, flatten, recognise
from connector.intake.request import IncomingRequest
from connector.intake.submission import Submission
from connector.timeutil import parse_iso


@dataclass
class Extracted:
    """What a plugin module finds in a decoded body besides the fields."""

    fields: dict[str, Any]
    form_id: str | None = None
    entry_id: str | None = None
    page_url: str | None = None
    submitted_at: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class FormSource(SubmissionSource):
    """A form plugin: decode, let the module extract, recognise fields, pick a delivery key."""

    kind = "forms"

    def extract(self, data: dict[str, Any], request: IncomingRequest) -> Extracted:
        """Split the decoded body into fields and metadata; the default takes the body as the fields."""
        return Extracted(fields=data, form_id=text(data.get("form_id")))

    def decode(self, request: IncomingRequest) -> dict[str, Any]:
        return decode_body(request.body, request.content_type)

    def parse(self, request: IncomingRequest, conf: SourceSettings | None = None) -> Submission:
        data = self.decode(request)
        if not data:
            raise BadPayload("empty object: expected the form's fields")
        extracted = self.extract(data, request)
        flat = flatten(extracted.fields)
        found = recognise(flat, conf, extracted.form_id)
        if extracted.page_url and "conversion_page" not in found:
            found["conversion_page"] = extracted.page_url
        attribution = Attribution.from_mapping(found)
        contact = Contact.from_mapping(found)
        meta = {k: v for k, v in extracted.meta.items() if v not in (None, "")}
        if not contact.to_dict() and not attribution.to_dict():
            meta["unrecognised"] = sorted(flat)[:50]
        return Submission(
            source=self.name,
            delivery_key=self.delivery_key(request, extracted, attribution),
            contact=contact,
            attribution=attribution,
            form_id=extracted.form_id,
            submitted_at=parse_iso(attribution.get("submitted_at")) or parse_iso(extracted.submitted_at),
            meta=meta,
        )

    def delivery_key(self, request: IncomingRequest, extracted: Extracted, attribution: Attribution) -> str:
        """The sender's entry id, else the script's event_id, else a hash of the body."""
        if extracted.entry_id:
            return f"entry:{extracted.form_id or ''}:{extracted.entry_id}"
        if attribution.event_id:
            return "event:" + attribution.event_id
        return body_digest(request.body)


def text(value: Any, limit: int = 255) -> str | None:
    """A scalar as trimmed text (None when empty or structured), cut to `limit`."""
    result = as_text(value) if not isinstance(value, list) else None
    return result[:limit] if result else None


def dig(data: Any, *path: str) -> Any:
    """data[a][b]... or None when any step is missing or not a table."""
    for step in path:
        if not isinstance(data, dict):
            return None
        data = data.get(step)
    return data
