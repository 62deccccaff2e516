"""Our WordPress plugin: each entry any supported form plugin saves, sent by the site itself, signed.

The body is our own JSON contract (docs/sources/wordpress.md), signed as Standard Webhooks sign:
`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` over `"{id}.{timestamp}.{body}"`.
The `webhook-id` names the delivery (stable across the plugin's retries), so it is the delivery key. A
`"type": "test"` body is the plugin's "Test connection": answered once the signature holds, never stored.
"""

from __future__ import annotations

from typing import Any

from connector.attribution import ATTRIBUTION_FIELDS, CONTACT_FIELDS, MAX_FIELD_LENGTH, Attribution, Contact
from connector.config import SourceSettings
from connector.intake.base import Source, SubmissionSource
from connector.intake.body import FORM_TYPES, decode_json, media_type
from connector.intake.errors import Acknowledged, BadPayload, Unauthorized, UnsupportedMediaType
from connector.intake.fields import as_text
from connector.intake.registry import register
from connector.intake.request import IncomingRequest
from connector.intake.signatures import parse_standard_webhook, tolerance, verify_standard_webhook
from connector.intake.submission import Submission
from connector.timeutil import parse_iso

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"

VERSION = 1
"""The body format version this module reads (`"v"`)."""

TYPES = ("form_submission", "test")
"""What a body may be: an entry, or the settings page's "Test connection"."""

PLUGINS = (
    "contact_form_7",
    "gravity_forms",
    "wpforms",
    "elementor",
    "fluent_forms",
    "ninja_forms",
    "formidable",
)
"""The form plugins our WordPress plugin reads entries from (`"plugin"`)."""

MAX_FIELDS = 200
"""Most entries of `fields` kept from one body."""

MAX_LABEL_LENGTH = 255
"""Longest `fields` label kept (characters)."""


@register
class WordPressSource(SubmissionSource):
    name = "wordpress"
    kind = "forms"
    kept_headers = (*Source.kept_headers, ID_HEADER, TIMESTAMP_HEADER)

    def authenticate_headers(self, request: IncomingRequest, secrets: list[str]) -> None:
        """The signature headers' shape, before the body is read; no token fallback."""
        if not secrets:
            raise Unauthorized(f"source {self.name!r} has no secret configured; requests are refused")
        parse_standard_webhook(*_signature_headers(request))

    def authenticate_body(
        self, request: IncomingRequest, secrets: list[str], conf: SourceSettings | None = None
    ) -> None:
        verify_standard_webhook(*_signature_headers(request), request.body, secrets, tolerance(conf))

    def parse(self, request: IncomingRequest, conf: SourceSettings | None = None) -> Submission:
        if media_type(request.content_type) in FORM_TYPES:
            raise UnsupportedMediaType("send application/json: the body is the plugin's JSON document")
        data = decode_json(request.body)
        version = data.get("v")
        if type(version) is not int or version != VERSION:
            raise BadPayload(f"v: expected {VERSION} (the body format version), got {_shown(version)}")
        kind = data.get("type")
        if kind not in TYPES:
            raise BadPayload(f"type: expected one of {', '.join(TYPES)}, got {_shown(kind)}")
        if kind == "test":
            raise Acknowledged(
                "test connection", {"status": "ok", "source": self.name, "message": "signature valid"}
            )
        plugin = data.get("plugin")
        if plugin not in PLUGINS:
            raise BadPayload(f"plugin: expected one of {', '.join(PLUGINS)}, got {_shown(plugin)}")
        contact = Contact.from_mapping(_canonical(data, "contact", CONTACT_FIELDS))
        attribution = _canonical(data, "attribution", ATTRIBUTION_FIELDS)
        if not contact.to_dict() and not Attribution.from_mapping(attribution).to_dict():
            raise BadPayload("contact and attribution are both empty: nothing to keep")
        page_url = _string(data, "page_url", MAX_FIELD_LENGTH)
        if page_url and "conversion_page" not in attribution:
            attribution["conversion_page"] = page_url
        kept = Attribution.from_mapping(attribution)
        submitted_at = kept.get("submitted_at") or _string(data, "submitted_at", 64)
        moment = parse_iso(submitted_at)
        if submitted_at and moment is None:
            raise BadPayload(f"submitted_at: expected an ISO 8601 date-time, got {submitted_at[:64]!r}")
        meta = {
            "plugin": plugin,
            "form_name": _string(data, "form_name", 255),
            "entry_id": _identifier(data, "entry_id"),
            "site": _string(data, "site", MAX_FIELD_LENGTH),
            "page_url": page_url,
            "webhook_id": request.header(ID_HEADER),
            "fields": _fields(data.get("fields")),
        }
        return Submission(
            source=self.name,
            delivery_key="delivery:" + request.header(ID_HEADER),
            contact=contact,
            attribution=kept,
            form_id=_identifier(data, "form_id"),
            submitted_at=moment,
            meta={k: v for k, v in meta.items() if v},
        )


def _signature_headers(request: IncomingRequest) -> tuple[str, str, str]:
    return request.header(ID_HEADER), request.header(TIMESTAMP_HEADER), request.header(SIGNATURE_HEADER)


def _canonical(data: dict[str, Any], key: str, names: tuple[str, ...]) -> dict[str, str]:
    """The object under `key` as canonical name -> text; unknown names are ignored (newer plugins)."""
    value = data.get(key)
    if not isinstance(value, dict):
        raise BadPayload(f"{key}: expected an object of {key} fields, got {_shown(value)}")
    found: dict[str, str] = {}
    for name in names:
        item = value.get(name)
        if item is None:
            continue
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise BadPayload(f"{key}.{name}: expected a string, got {_shown(item)}")
        found[name] = str(item)
    return found


def _string(data: dict[str, Any], key: str, limit: int) -> str | None:
    """An optional top-level string, trimmed and cut to `limit`; another type is a 400."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadPayload(f"{key}: expected a string, got {_shown(value)}")
    return value.strip()[:limit] or None


def _identifier(data: dict[str, Any], key: str) -> str | None:
    """An optional id sent as a string or an integer (PHP sends either)."""
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _string(data, key, 255)


def _fields(value: Any) -> dict[str, str]:
    """The other submitted fields, label -> text (lists joined), at most MAX_FIELDS of them."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadPayload(f"fields: expected an object of label -> value, got {_shown(value)}")
    kept: dict[str, str] = {}
    for label, item in value.items():
        if len(kept) >= MAX_FIELDS:
            break
        if isinstance(item, dict):
            raise BadPayload(f"fields.{label[:64]}: expected a string or a list of strings, got an object")
        text, name = as_text(item), label.strip()[:MAX_LABEL_LENGTH]
        if text and name:
            kept[name] = text[:MAX_FIELD_LENGTH]
    return kept


def _shown(value: Any) -> str:
    """A sender's value in an error message: short, and never the whole of a huge string."""
    if isinstance(value, (dict, list)):
        return f"an {'object' if isinstance(value, dict) else 'array'}"
    if value is None:
        return "nothing"
    return repr(value)[:40]
