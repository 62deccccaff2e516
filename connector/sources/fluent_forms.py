"""Fluent Forms: the submitted inputs by name (nested like `names[first_name]`) plus `__submission`."""

from __future__ import annotations

from typing import Any

from connector.intake.registry import register
from connector.intake.request import IncomingRequest
from connector.sources.forms import Extracted, FormSource, text


@register
class FluentFormsSource(FormSource):
    name = "fluent_forms"

    def extract(self, data: dict[str, Any], request: IncomingRequest) -> Extracted:
        submission = data.get("__submission")
        submission = submission if isinstance(submission, dict) else {}
        fields = {k: v for k, v in data.items() if not k.startswith("__") and not k.startswith("_fluentform")}
        return Extracted(
            fields=fields,
            form_id=text(submission.get("form_id") or data.get("form_id")),
            entry_id=text(submission.get("id")),
            page_url=text(submission.get("source_url"), 2048),
            submitted_at=text(submission.get("created_at")),
        )
