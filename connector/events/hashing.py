"""Normalisation and SHA-256 hashing of user fields, per OpenAI's Conversions API rules."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata

logger = logging.getLogger(__name__)

PHONE_MIN_DIGITS = 8
"""Fewest digits a normalised phone number may have (country code included)."""

PHONE_MAX_DIGITS = 15
"""Most digits a normalised phone number may have (E.164 limit)."""

SHA256_HEX = re.compile(r"\A[0-9a-f]{64}\Z")
"""A SHA-256 digest as OpenAI expects it: 64 lowercase hexadecimal characters."""

# Letters (L*), combining marks (M*, so decomposed accents survive) and digits (N*) are kept in names;
# separators, punctuation, symbols and controls are dropped.
_NAME_KEPT_CATEGORIES = ("L", "M", "N")


class InvalidUserField(ValueError):
    """A user field that cannot be normalised (empty, malformed, wrong length); never sent."""


def sha256_hex(text: str) -> str:
    """SHA-256 of the UTF-8 bytes of `text`, as lowercase hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_sha256_hex(value: object) -> bool:
    """True when `value` is a string of exactly 64 lowercase hex characters."""
    return isinstance(value, str) and SHA256_HEX.match(value) is not None


def normalize_email(raw: str) -> str:
    """Trim and lowercase; InvalidUserField unless it looks like `local@domain`."""
    email = raw.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or any(ch.isspace() for ch in email):
        raise InvalidUserField("email is not of the form local@domain")
    return email


def normalize_phone(raw: str) -> str:
    """Digits only, leading zeros dropped (so `+` and `00` prefixes go); 8-15 digits else InvalidUserField."""
    digits = "".join(ch for ch in raw if ch.isascii() and ch.isdigit()).lstrip("0")
    if not PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS:
        raise InvalidUserField(
            f"phone has {len(digits)} digits after normalisation, "
            f"expected {PHONE_MIN_DIGITS}-{PHONE_MAX_DIGITS}"
        )
    return digits


def normalize_name(raw: str) -> str:
    """NFC, trim, lowercase, keep only unicode letters, marks and digits; empty -> InvalidUserField."""
    text = unicodedata.normalize("NFC", raw.strip().lower())
    name = "".join(ch for ch in text if unicodedata.category(ch)[0] in _NAME_KEPT_CATEGORIES)
    if not name:
        raise InvalidUserField("name is empty after normalisation")
    return name


def normalize_external_id(raw: str) -> str:
    """Trim only (case is kept); empty -> InvalidUserField."""
    external_id = raw.strip()
    if not external_id:
        raise InvalidUserField("external id is empty")
    return external_id


def hash_email(raw: str) -> str:
    """SHA-256 hex of the normalised email."""
    return sha256_hex(normalize_email(raw))


def hash_phone(raw: str) -> str:
    """SHA-256 hex of the normalised phone number (digits only)."""
    return sha256_hex(normalize_phone(raw))


def hash_name(raw: str) -> str:
    """SHA-256 hex of the normalised first or last name."""
    return sha256_hex(normalize_name(raw))


def hash_external_id(raw: str) -> str:
    """SHA-256 hex of the trimmed external id."""
    return sha256_hex(normalize_external_id(raw))
