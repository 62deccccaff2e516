"""Helpers for intake tests: fixtures on disk, posting them, and running the receipt job in-process."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path

from sqlalchemy import select

from connector import context
from connector.jobs.receipts import process_receipt
from connector.store.models import Booking, Receipt, Submission

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "intake"
SECRET = "whsec-test-0123456789abcdef"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def content_type(name: str) -> str:
    return FORM if name.endswith(".form") else JSON


def use_secrets(client, *secrets: str) -> None:  # type: ignore[no-untyped-def]
    """Give every source these secrets, as the environment would."""
    from connector.intake.registry import all_sources

    for source in all_sources():
        client.application.extensions["connector_secrets"][source.name] = list(secrets or (SECRET,))


def run_jobs(ctx) -> list[str]:  # type: ignore[no-untyped-def]
    """Process every waiting receipt, oldest first, as a worker would."""
    context.install(ctx)
    with ctx.sessions() as session:
        ids = session.scalars(
            select(Receipt.id).where(Receipt.status == "received").order_by(Receipt.id)
        ).all()
    return [process_receipt(receipt_id) for receipt_id in ids]


def receipts(ctx) -> list[Receipt]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return list(session.scalars(select(Receipt).order_by(Receipt.id)))


def submissions(ctx) -> list[Submission]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return list(session.scalars(select(Submission).order_by(Submission.id)))


def bookings(ctx) -> list[Booking]:  # type: ignore[no-untyped-def]
    with ctx.sessions() as session:
        return list(session.scalars(select(Booking).order_by(Booking.id)))


def stripe_style(secret: str, body: bytes, version: str, at: int | None = None) -> str:
    """`t=<unix>,<version>=<hex>` as WPForms and Calendly sign."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},{version}={digest}"


def cal_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_webhook(
    key: bytes, body: bytes, webhook_id: str = "msg_test_1", at: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers our WordPress plugin sends, signed with the raw `key`."""
    timestamp = str(int(time.time()) if at is None else at)
    message = f"{webhook_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": JSON,
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{signature}",
    }
