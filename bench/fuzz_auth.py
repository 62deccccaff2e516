"""Credentials for bench/fuzz.py: valid ones computed over the exact bytes sent, and forged ones.

`sign` gives the right token, or a correct signature (Calendly `t=,v1=` over "t.body", Cal.com hex HMAC,
WPForms, HubSpot v3, Standard Webhooks for our WordPress plugin); `forge` gives missing, wrong, stale,
malformed and hostile ones (Unicode digits in timestamps, over-long headers, non-ASCII signatures).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import time
from urllib.parse import quote

from bench.fuzz_seeds import FORM, ORIGIN, SECRETS

UNICODE_DIGITS = ["²³⁴", "١٢٣٤٥٦٧٨٩٠", "１２３４５６", "߁߂߃", "१२३", "1_000", " 1", "1e9", "-1", "0x10"]


def _now() -> int:
    return int(time.time())


def _calendly_style(secret: str, body: bytes, version: str, at: int) -> str:
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},{version}={digest}"


def _standard_webhook(secret: str, webhook_id: str, at: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    digest = hmac.new(key, f"{webhook_id}.{at}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _hubspot(secret: str, url: str, body: bytes, at: str) -> str:
    text = body.decode("utf-8", errors="replace")  # what the HubSpot SDK signs on our side
    message = ("POST" + url + text + at).encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _wpforms_signed(body: bytes, content_type: str) -> bytes:
    """What WPForms signs: the body, or in form mode PHP's JSON encoding of the fields."""
    if not content_type.lower().startswith(FORM):
        return body
    from connector.intake.body import decode_body
    from connector.intake.errors import IntakeError
    from connector.sources.wpforms import php_json

    try:
        return php_json(decode_body(body, content_type)).encode()
    except IntakeError:
        return body


def sign(
    rng: random.Random, source: str, path: str, body: bytes, content_type: str, public_url: str, tag: str
) -> tuple[str, list[tuple[str, str]], str]:
    """Valid credentials for these exact bytes: (path with query, headers, how)."""
    secret = SECRETS.get(source, "")
    token = [("X-Connector-Token", secret)]
    if source == "beacon":
        return path, [("Origin", ORIGIN)], "origin"
    if source == "wordpress":
        webhook_id, at = f"msg_{tag}", str(_now())
        headers = [("webhook-id", webhook_id), ("webhook-timestamp", at)]
        return (
            path,
            [*headers, ("webhook-signature", _standard_webhook(secret, webhook_id, at, body))],
            "standard",
        )
    if source == "hubspot":
        at = str(_now() * 1000)
        signature = _hubspot(secret, public_url + path, body, at)
        return path, [("X-HubSpot-Signature-v3", signature), ("X-HubSpot-Request-Timestamp", at)], "v3"
    how = rng.randrange(3)
    if how == 0 or source in ("salesforce",) and "xml" in content_type:
        return f"{path}?token={quote(secret)}", [], "query_token"
    if source == "calendly" and how == 1:
        return (
            path,
            [("Calendly-Webhook-Signature", _calendly_style(secret, body, "v1", _now()))],
            "signature",
        )
    if source == "cal_com" and how == 1:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return path, [("X-Cal-Signature-256", digest)], "signature"
    if source == "wpforms" and how == 1:
        signed = _wpforms_signed(body, content_type)
        return (
            path,
            [("X-WPForms-Webhook-Signature", _calendly_style(secret, signed, "v", _now()))],
            "signature",
        )
    if source == "formidable" and how == 1:
        credentials = rng.choice([secret, f"user:{secret}", f"{secret}:x"])
        return path, [("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())], "basic"
    return path, token, "token"


def forge(
    rng: random.Random, source: str, path: str, body: bytes, public_url: str
) -> tuple[str, list[tuple[str, str]], str]:
    """Missing, wrong, stale or malformed credentials: (path with query, headers, how)."""
    secret = SECRETS.get(source, "wrong")
    choice = rng.randrange(9)
    digits = rng.choice(UNICODE_DIGITS)
    garbage = rng.choice(
        ["", "x", "é" * 64, "\u00ff", "v1,", "t=,v1=", "==", "a" * 5000, "sha256=" + "0" * 64]
    )
    if choice == 0:
        return path, [], "missing"
    if choice == 1:
        return (
            path,
            [("X-Connector-Token", rng.choice([secret + "x", secret[:-1], secret.upper(), garbage]))],
            "wrong_token",
        )
    if choice == 2:
        return f"{path}?token={quote(garbage)}&token={quote(secret)}", [], "query_garbage"
    if source == "beacon":
        origin = rng.choice(
            [
                "",
                "null",
                "https://evil.example",
                ORIGIN + "/",
                ORIGIN.upper(),
                ORIGIN + ".evil.com",
                "https://www.exаmple.com",
                ORIGIN * 200,
            ]
        )
        return path, [("Origin", origin)] if origin else [], "bad_origin"
    if source == "wordpress":
        at = rng.choice([str(_now() - 10_000), digits, "9" * rng.choice([11, 12, 5000]), str(_now())])
        webhook_id = rng.choice(["msg_1", "", "é", "a b", "x" * 300, "msg\x7f"])
        signature = rng.choice([garbage, _standard_webhook(secret, "other", at, body), "v1," + "A" * 44])
        return (
            path,
            [("webhook-id", webhook_id), ("webhook-timestamp", at), ("webhook-signature", signature)],
            "bad_standard",
        )
    if source == "hubspot":
        at = rng.choice(
            [
                str((_now() - 10_000) * 1000),
                digits,
                "9" * rng.choice([13, 400, 4400, 6000]),
                str(_now() * 1000),
            ]
        )
        signature = rng.choice(
            [
                garbage,
                _hubspot(secret, "https://evil.example" + path, body, at),
                _hubspot(secret + "x", public_url + path, body, at),
            ]
        )
        return path, [("X-HubSpot-Signature-v3", signature), ("X-HubSpot-Request-Timestamp", at)], "bad_v3"
    header = {"calendly": "Calendly-Webhook-Signature", "wpforms": "X-WPForms-Webhook-Signature"}.get(source)
    if header:
        version = "v1" if source == "calendly" else "v"
        value = rng.choice(
            [
                f"t={digits},{version}={'0' * 64}",
                _calendly_style(secret, body, version, _now() - 10_000),
                _calendly_style(secret, body + b" ", version, _now()),
                f"t={_now()},{version}={garbage}",
                garbage,
                ",".join([f"t={_now()}"] + [f"{version}=ab"] * 2000),
            ]
        )
        return path, [(header, value)], "bad_signature"
    if source == "cal_com":
        return (
            path,
            [("X-Cal-Signature-256", rng.choice(["no-secret-provided", garbage, "0" * 64, digits]))],
            "bad_signature",
        )
    if source == "formidable":
        value = rng.choice(
            [
                "Basic",
                "Basic !!!",
                "Basic " + base64.b64encode(b"\xff\xfe").decode(),
                "Basic " + "A" * 6000,
                "Bearer " + secret,
            ]
        )
        return path, [("Authorization", value)], "bad_basic"
    return path, [("X-Connector-Token", garbage)] if garbage else [], "garbage_token"
