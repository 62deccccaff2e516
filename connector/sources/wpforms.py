"""WPForms (Webhooks add-on): the admin's key -> field map as JSON or form fields, signed per webhook.

`X-WPForms-Webhook-Signature: t=<unix>,v=<hex>`, HMAC-SHA256 of `"<t>." + body`. In form mode the plugin
signs the JSON encoding of the fields (PHP's json_encode), not the bytes it sends; we rebuild that encoding.
Senders may also add our token as a custom header (the add-on can set headers), which is accepted instead.
"""

from __future__ import annotations

import json
from typing import Any

from connector.config import SourceSettings
from connector.intake.base import TOKEN_HEADER, TOKEN_QUERY, Source
from connector.intake.body import decode_body, media_type
from connector.intake.errors import BadPayload, Unauthorized
from connector.intake.registry import register
from connector.intake.request import IncomingRequest
from connector.intake.signatures import tolerance, verify_timestamped
from connector.sources.forms import Extracted, FormSource, text

SIGNATURE_HEADER = "x-wpforms-webhook-signature"


@register
class WPFormsSource(FormSource):
    name = "wpforms"
    kept_headers = (*Source.kept_headers, "x-wpforms-webhook-id")

    def authenticate_headers(self, request: IncomingRequest, secrets: list[str]) -> None:
        if request.header(SIGNATURE_HEADER) and not _has_token(request):
            return  # checked over the body in authenticate_body
        super().authenticate_headers(request, secrets)

    def authenticate_body(
        self, request: IncomingRequest, secrets: list[str], conf: SourceSettings | None = None
    ) -> None:
        header = request.header(SIGNATURE_HEADER)
        if not header or _has_token(request):
            return
        verify_timestamped(header, signed_bytes(request), secrets, "v", tolerance(conf))

    def extract(self, data: dict[str, Any], request: IncomingRequest) -> Extracted:
        return Extracted(
            fields=data,
            form_id=text(data.get("form_id")),
            entry_id=text(data.get("entry_id")),
            page_url=text(data.get("page_url"), 2048),
            meta={"webhook_id": text(request.header("x-wpforms-webhook-id"))},
        )


def _has_token(request: IncomingRequest) -> bool:
    return bool(request.header(TOKEN_HEADER) or request.query.get(TOKEN_QUERY))


def signed_bytes(request: IncomingRequest) -> bytes:
    """What the plugin signed: the raw JSON body, or in form mode the PHP JSON encoding of the fields."""
    if media_type(request.content_type) != "application/x-www-form-urlencoded":
        return request.body
    try:
        fields = decode_body(request.body, request.content_type)
    except BadPayload:
        raise Unauthorized("invalid signature (the form body could not be decoded to check it)") from None
    return php_json(fields).encode()


def php_json(value: Any) -> str:
    """PHP's json_encode with default flags: compact, `\\/` for slashes, `\\uXXXX` for non-ASCII."""
    return json.dumps(_php_lists(value), separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def _php_lists(value: Any) -> Any:
    """Form keys `a[0]`, `a[1]` came from a PHP list, which json_encode writes as an array."""
    if isinstance(value, dict):
        if value and list(value) == [str(i) for i in range(len(value))]:
            return [_php_lists(v) for v in value.values()]
        return {k: _php_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_php_lists(v) for v in value]
    return value
