"""The internal Submission every form or booking source produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connector.attribution import Attribution, Contact


@dataclass(frozen=True)
class Submission:
    """A form post or booking, normalized: who, where they came from, and how to deduplicate it."""

    source: str
    delivery_key: str
    contact: Contact
    attribution: Attribution
    kind: str = "form"
    form_id: str | None = None
    submitted_at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def event_id(self) -> str | None:
        return self.attribution.event_id
