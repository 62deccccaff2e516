"""The attribution model shared by every part: the canonical field names and the Attribution value object.

The browser script fills hidden fields with exactly these names, the generic intake accepts them, and the
mappings refer to them. Change a name here and in plugin-js/src together.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "utm_id")
"""The UTM query parameters captured on every touch."""

CLICK_IDS = ("oppref", "gclid", "gbraid", "wbraid", "fbclid", "msclkid", "ttclid", "li_fat_id")
"""Ad click ids captured from landing URLs; `oppref` is OpenAI's, opaque, kept byte for byte."""

TOUCH_FIELDS = (*UTM_PARAMS, "landing_page", "referrer", "channel", "ai_source", "touch_at")
"""What one touch records; stored twice, prefixed `first_` and `latest_`."""

CONTACT_FIELDS = ("email", "first_name", "last_name", "name", "phone", "company")
"""Contact fields a form may carry; the minimum needed to create or match a CRM person."""

CONSENT_VALUES = ("granted", "denied", "unknown", "not_required")
"""Allowed values of the `consent` field (marketing / ad-measurement consent). `not_required`: the page had no
consent platform and the site's consent mode (the script's default, "auto") measures without one."""

ATTRIBUTION_FIELDS = (
    *(f"first_{name}" for name in TOUCH_FIELDS),
    *(f"latest_{name}" for name in TOUCH_FIELDS),
    *CLICK_IDS,
    "conversion_page",
    "consent",
    "event_id",
    "submitted_at",
)
"""Every canonical attribution field name, in the order forms and mappings list them."""

MAX_FIELD_LENGTH = 2048
"""Longest value kept for one attribution field (characters); longer values are truncated."""


@dataclass(frozen=True)
class Attribution:
    """The attribution a submission carried: canonical name -> string value (empty values omitted)."""

    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Attribution:
        """Pick the canonical attribution fields out of `data`, as trimmed strings, dropping empties."""
        picked: dict[str, str] = {}
        for name in ATTRIBUTION_FIELDS:
            value = data.get(name)
            if value is None or isinstance(value, (dict, list)):
                continue
            text = str(value) if name in CLICK_IDS else str(value).strip()
            if text:
                picked[name] = text[:MAX_FIELD_LENGTH]
        consent = picked.get("consent", "").lower()
        if consent:
            picked["consent"] = consent if consent in CONSENT_VALUES else "unknown"
        return cls(picked)

    @property
    def event_id(self) -> str | None:
        return self.values.get("event_id")

    @property
    def oppref(self) -> str | None:
        return self.values.get("oppref")

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    def to_dict(self) -> dict[str, str]:
        return dict(self.values)


@dataclass(frozen=True)
class Contact:
    """The person behind a submission; only the fields needed to create or match a CRM record."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    phone: str | None = None
    company: str | None = None

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Contact:
        kept = {}
        for name in CONTACT_FIELDS:
            value = data.get(name)
            if value is not None and not isinstance(value, (dict, list)) and str(value).strip():
                kept[name] = str(value).strip()[:MAX_FIELD_LENGTH]
        if "email" in kept:
            kept["email"] = kept["email"].lower()
        return cls(**kept)

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}
