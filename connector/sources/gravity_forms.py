"""Gravity Forms (Webhooks add-on): the entry as JSON or form fields, values under numeric field ids."""

from __future__ import annotations

from typing import Any

from connector.intake.registry import register
from connector.intake.request import IncomingRequest
from connector.intake.signatures import is_ascii_digits
from connector.sources.forms import Extracted, FormSource, text

ENTRY_KEYS = frozenset(
    {
        "id",
        "form_id",
        "date_created",
        "date_updated",
        "source_url",
        "ip",
        "user_agent",
        "post_id",
        "created_by",
        "status",
        "currency",
        "is_starred",
        "is_read",
        "is_fulfilled",
        "transaction_id",
        "transaction_type",
        "payment_status",
        "payment_date",
        "payment_amount",
        "payment_method",
        "source_id",
    }
)
"""Entry properties "all fields" sends beside the field values; not form fields themselves."""


@register
class GravityFormsSource(FormSource):
    name = "gravity_forms"

    def extract(self, data: dict[str, Any], request: IncomingRequest) -> Extracted:
        entry_id = text(data.get("id"))
        all_fields = entry_id is not None and is_ascii_digits(entry_id) and "form_id" in data
        fields = {k: v for k, v in data.items() if k not in ENTRY_KEYS} if all_fields else data
        return Extracted(
            fields=fields,
            form_id=text(data.get("form_id")),
            entry_id=entry_id if all_fields else None,
            page_url=text(data.get("source_url"), 2048),
            submitted_at=text(data.get("date_created")),
            meta={"user_agent": text(data.get("user_agent"))} if all_fields else {},
        )
