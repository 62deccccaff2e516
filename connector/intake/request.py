"""A framework-free view of an incoming request, so sources parse the same way at intake and in jobs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class IncomingRequest:
    """What a source may look at: the raw body, content type, headers (lower-cased names) and query. `url` is
    the URL the sender called as `web.public_url` says, or "" when that is not configured: the Host header is
    the sender's to choose, so no signature check may rest on it."""

    body: bytes
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    url: str = ""
    remote_addr: str = ""

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def with_body(self, body: bytes) -> IncomingRequest:
        """The same request once its body has been read (after the header checks)."""
        return replace(self, body=body)
