"""Contact Form 7 through "CF7 to Webhook": flat JSON keyed by tag name, plus chosen special tags."""

from __future__ import annotations

from typing import Any

from connector.intake.registry import register
from connector.intake.request import IncomingRequest
from connector.sources.forms import Extracted, FormSource, text

PAGE_TAGS = ("_url", "_post_url", "url")
"""Special mail tags that carry the page the form was sent from."""


@register
class ContactForm7Source(FormSource):
    name = "contact_form_7"

    def extract(self, data: dict[str, Any], request: IncomingRequest) -> Extracted:
        page = next((text(data.get(tag), 2048) for tag in PAGE_TAGS if text(data.get(tag))), None)
        return Extracted(
            fields=data,
            form_id=text(data.get("_contact_form_id") or data.get("form_id") or data.get("_wpcf7")),
            page_url=page,
            submitted_at=text(data.get("_date")),
            meta={"form_title": text(data.get("_contact_form_title"))},
        )
