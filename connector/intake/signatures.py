"""Signature and credential checks for senders that can sign: HMAC over the body, timestamped or not."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

from connector.config import SourceSettings
from connector.intake.errors import Unauthorized

MAX_HEADER_LENGTH = 4096
"""Longest signature header parsed (characters)."""


def is_ascii_digits(value: str) -> bool:
    """0-9 only: `str.isdigit` also accepts digits such as "²" that `int` refuses."""
    return value.isascii() and value.isdigit()


def digest_equal(presented: str, expected: str) -> bool:
    """Constant-time comparison of two signatures as bytes (any character a stranger sends is safe)."""
    return hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), expected.encode())


def tolerance(conf: SourceSettings | None) -> int:
    """The source's signature age tolerance (seconds)."""
    return (conf or SourceSettings()).signature_tolerance_seconds


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def parse_timestamped(header: str, version: str) -> tuple[int, list[str]]:
    """Split `t=<unix>,<version>=<hex>[,<version>=<hex>]`; raise Unauthorized when malformed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header[:MAX_HEADER_LENGTH].split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and is_ascii_digits(value) and len(value) < 12:
            timestamp = int(value)
        elif name == version and value:
            signatures.append(value.strip().lower())
    if timestamp is None or not signatures:
        raise Unauthorized(f"malformed signature header: expected t=<unix time>,{version}=<hex>")
    return timestamp, signatures


def require_secrets(secrets: list[str]) -> None:
    if not secrets:
        raise Unauthorized("no signing secret configured; requests are refused")


def check_age(timestamp: int, tolerance_seconds: int, now: float | None = None) -> None:
    """Refuse a signature whose unix `timestamp` is further than the tolerance from now, either way."""
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > tolerance_seconds:
        raise Unauthorized(f"signature timestamp is {int(age)}s old; the tolerance is {tolerance_seconds}s")


def verify_timestamped(
    header: str,
    signed_body: bytes,
    secrets: list[str],
    version: str,
    tolerance_seconds: int,
    now: float | None = None,
) -> None:
    """Check a Stripe-style `t=...,v1=...` signature of `"<t>." + body` and its age; raise Unauthorized."""
    require_secrets(secrets)
    timestamp, signatures = parse_timestamped(header, version)
    check_age(timestamp, tolerance_seconds, now)
    message = str(timestamp).encode() + b"." + signed_body
    expected = [hmac_hex(secret, message) for secret in secrets]
    if not any(digest_equal(sig, exp) for sig in signatures for exp in expected):
        raise Unauthorized("invalid signature")


def verify_plain(signature: str, body: bytes, secrets: list[str]) -> None:
    """Check a hex HMAC-SHA256 of the raw body (no timestamp); raise Unauthorized."""
    require_secrets(secrets)
    presented = signature.strip().lower()[:MAX_HEADER_LENGTH]
    if not any(digest_equal(presented, hmac_hex(secret, body)) for secret in secrets):
        raise Unauthorized("invalid signature")


def basic_credentials(header: str) -> str | None:
    """The decoded `user:password` of an `Authorization: Basic` header, or None when it is not one."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        return base64.b64decode(encoded.strip()[:MAX_HEADER_LENGTH], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def basic_matches(credentials: str, secrets: list[str]) -> bool:
    """Basic auth carrying a secret: as the whole credential, the user name (API key) or the password."""
    user, _, password = credentials.partition(":")
    candidates = [credentials, user, password]
    return any(digest_equal(c, s) for c in candidates if c for s in secrets)


STANDARD_SECRET_PREFIX = "whsec_"
"""Prefix of a Standard Webhooks secret, whose rest is the base64 of the HMAC key."""

MAX_WEBHOOK_ID_LENGTH = 255
"""Longest `webhook-id` accepted (characters); it is the delivery key."""


def standard_webhook_key(secret: str) -> bytes:
    """The HMAC key of a secret: `whsec_<base64>` decoded (as Standard Webhooks does), else its UTF-8 bytes."""
    if secret.startswith(STANDARD_SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(STANDARD_SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            pass  # not base64 after all: the whole string is the key, on both sides
    return secret.encode()


def standard_webhook_signature(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `"{webhook-id}.{webhook-timestamp}.{body}"` (the headers as sent)."""
    message = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def parse_standard_webhook(webhook_id: str, timestamp: str, signature: str) -> tuple[int, list[str]]:
    """Check the shape of the three Standard Webhooks headers (no body needed); return the timestamp and the
    `v1,...` signatures. Raise Unauthorized saying what is wrong."""
    headers = {"webhook-id": webhook_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    missing = [name for name, value in headers.items() if not value]
    if missing:
        raise Unauthorized(f"missing header(s) {', '.join(missing)}: every request must be signed")
    if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH or not all("!" <= c <= "~" for c in webhook_id):
        raise Unauthorized(
            f"malformed webhook-id: expected 1-{MAX_WEBHOOK_ID_LENGTH} visible ASCII characters"
        )
    if not is_ascii_digits(timestamp) or len(timestamp) >= 12:
        raise Unauthorized("malformed webhook-timestamp: expected unix seconds in ASCII digits")
    signatures = [s for s in signature[:MAX_HEADER_LENGTH].split(" ") if s.startswith("v1,") and len(s) > 3]
    if not signatures:
        raise Unauthorized("malformed webhook-signature: expected space-separated v1,<base64> signatures")
    return int(timestamp), signatures


def verify_standard_webhook(
    webhook_id: str,
    timestamp: str,
    signature: str,
    body: bytes,
    secrets: list[str],
    tolerance_seconds: int,
    now: float | None = None,
) -> None:
    """Check a Standard Webhooks signature: any `v1,` signature made with any secret; raise Unauthorized."""
    require_secrets(secrets)
    at, presented = parse_standard_webhook(webhook_id, timestamp, signature)
    check_age(at, tolerance_seconds, now)
    expected = [
        standard_webhook_signature(standard_webhook_key(s), webhook_id, timestamp, body) for s in secrets
    ]
    if not any(digest_equal(sig, exp) for sig in presented for exp in expected):
        raise Unauthorized("invalid signature")
