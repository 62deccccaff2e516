"""Elementor Pro Forms (Webhook action): form-encoded, simple (label -> value) or advanced data."""

from __future__ import annotations

from typing import Any

from connector.intake.registry import register
from connector.intake.request import IncomingRequest
from connector.sources.forms import Extracted, FormSource, dig, text

NO_LABEL = "No Label "
"""Prefix simple mode puts before the custom id of a field that has no label."""


@register
class ElementorSource(FormSource):
    name = "elementor"

    def extract(self, data: dict[str, Any], request: IncomingRequest) -> Extracted:
        if isinstance(data.get("fields"), dict) and isinstance(data.get("form"), dict):
            return self._advanced(data)
        meta = {"form_name": text(data.get("form_name"))}
        fields = {_unlabelled(k): v for k, v in data.items() if k not in ("form_id", "form_name")}
        return Extracted(fields=fields, form_id=text(data.get("form_id")), meta=meta)

    @staticmethod
    def _advanced(data: dict[str, Any]) -> Extracted:
        """`fields[<custom id>][value]`: keyed by the custom id, and by the label where that is free."""
        fields: dict[str, Any] = {}
        labels: dict[str, Any] = {}
        for custom_id, field in data["fields"].items():
            if not isinstance(field, dict):
                continue
            value = field.get("raw_value", field.get("value"))
            fields[str(field.get("id") or custom_id)] = value
            if text(field.get("title")):
                labels.setdefault(str(field["title"]), value)
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        return Extracted(
            fields={**labels, **fields},
            form_id=text(dig(data, "form", "id")),
            page_url=text(dig(meta, "page_url", "value"), 2048),
            meta={"form_name": text(dig(data, "form", "name"))},
        )


def _unlabelled(key: str) -> str:
    """Simple mode names a field without a label "No Label <custom id>": the custom id is the useful part."""
    return key[len(NO_LABEL) :] if key.startswith(NO_LABEL) else key
