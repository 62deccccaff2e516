"""Password hashes: scrypt with a per-user salt, checked in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_N = 2**15
"""CPU/memory cost (32 MiB with r=8): about 50-100 ms per hash on a server core."""
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
MAX_MEM = 64 * 1024 * 1024
"""Memory scrypt may use (bytes); above its 32 MiB need."""
MIN_LENGTH = 10
"""Shortest password accepted (characters)."""


class WeakPassword(ValueError):
    """The password is too short to be accepted."""


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$key`, salt and key in base64."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"password: please use at least {MIN_LENGTH} characters")
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Does `password` match `stored` (a hash_password result)? Malformed hashes never match."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


_DUMMY = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${'A' * 24}${'A' * 44}"


def burn_time(password: str) -> None:
    """Spend one hash's time for an unknown email, so timing does not tell which emails are users."""
    verify_password(password, _DUMMY)


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=MAX_MEM, dklen=KEY_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
