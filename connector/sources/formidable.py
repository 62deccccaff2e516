"""Formidable Forms (API add-on): JSON, form fields or a raw template, optionally with Basic auth.

The add-on's "Basic Auth" box sends `Authorization: Basic base64(<what the admin typed>)`: an API key, or
`user:password`. Any part equal to the source's secret is accepted; so is our token header or `?token=`.
"""

from __future__ import annotations

from typing import Any

from connector.intake.base import Source
from connector.intake.errors import Unauthorized
from connector.intake.registry import register
from connector.intake.request import IncomingRequest
from connector.intake.signatures import basic_credentials, basic_matches
from connector.sources.forms import Extracted, FormSource, text


@register
class FormidableSource(FormSource):
    name = "formidable"

    def authenticate_headers(self, request: IncomingRequest, secrets: list[str]) -> None:
        authorization = request.header("authorization")
        if authorization.lower().startswith("basic "):
            credentials = basic_credentials(authorization)
            if credentials is None:
                raise Unauthorized("malformed Authorization: Basic header")
            if not secrets:
                raise Unauthorized(f"source {self.name!r} has no secret configured; requests are refused")
            if not basic_matches(credentials, secrets):
                raise Unauthorized("invalid Basic credentials")
            return
        Source.authenticate_headers(self, request, secrets)

    def extract(self, data: dict[str, Any], request: IncomingRequest) -> Extracted:
        return Extracted(
            fields=data,
            form_id=text(data.get("form_id")),
            entry_id=text(data.get("entry_id")),
            page_url=text(data.get("page_url") or data.get("referrer_url"), 2048),
            submitted_at=text(data.get("created_at")),
        )
