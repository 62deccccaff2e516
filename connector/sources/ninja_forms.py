"""Ninja Forms (Webhooks add-on): the admin's key/value args, form-encoded or as one JSON body."""

from __future__ import annotations

from typing import Any

from connector.intake.body import parse_json
from connector.intake.errors import BadPayload
from connector.intake.registry import register
from connector.intake.request import IncomingRequest
from connector.sources.forms import Extracted, FormSource, text


@register
class NinjaFormsSource(FormSource):
    name = "ninja_forms"

    def extract(self, data: dict[str, Any], request: IncomingRequest) -> Extracted:
        data = _unwrap_json_arg(data)
        return Extracted(
            fields=data,
            form_id=text(data.get("form_id")),
            page_url=text(data.get("page_url"), 2048),
        )


def _unwrap_json_arg(data: dict[str, Any]) -> dict[str, Any]:
    """ "Encode args as JSON" with one arg sends `<arg>=<json object>`: use the object's keys."""
    if len(data) == 1:
        (value,) = data.values()
        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                inner = parse_json(value)
            except BadPayload:
                return data
            if isinstance(inner, dict):
                return inner
    return data
