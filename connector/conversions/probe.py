"""`connector conversions test`: one sample event with validate_only, and OpenAI's answer as it came."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from connector.config import ConfigError, Settings
from connector.conversions.sender import ConversionsClient, RequestRecord
from connector.conversions.setup import api_key, sender_settings
from connector.events.model import ConversionEvent, EventData
from connector.store.models import ConversionRequest

SAMPLE_URL = "https://example.com/connector-test"
"""The sample event's source_url (validate_only: nothing is stored)."""


def sample_event(now_ms: int | None = None) -> ConversionEvent:
    """A minimal valid lead_created with a unique id."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return ConversionEvent(
        id=f"connector-test-{uuid.uuid4().hex[:12]}",
        type="lead_created",
        timestamp_ms=now_ms,
        source_url=SAMPLE_URL,
        data=EventData(type="customer_action"),
    )


def probe(settings: Settings, pixel_name: str | None = None) -> RequestRecord:
    """Send the sample with validate_only=true to the named pixel (default: the only or default one)."""
    conf = settings.conversions
    if not conf.pixels:
        raise ConfigError("conversions.pixels: no pixel configured")
    if pixel_name is None:
        defaults = [n for n, p in conf.pixels.items() if not p.sources]
        pixel_name = defaults[0] if defaults else next(iter(conf.pixels))
    pixel = conf.pixels.get(pixel_name)
    if pixel is None:
        raise ConfigError(f"conversions.pixels: no pixel named {pixel_name!r} ({', '.join(conf.pixels)})")
    key = api_key(conf, pixel)
    if key is None:
        variable = pixel.api_key_env or conf.api_key_env
        raise ConfigError(f"no Conversions API key: set the environment variable {variable}")
    client_settings = sender_settings(conf, key, validate_only=True)
    with ConversionsClient(client_settings) as client:
        outcome = client.send_batch(pixel.pixel_id, [sample_event()])
    if not outcome.requests:
        raise ConfigError("the sample event did not pass local validation: " + outcome.outcomes[0].reason)
    return outcome.requests[-1]


def store_probe(session: Session, record: RequestRecord) -> int:
    """Keep a probe's exchange in the ledger (a validate_only request that carried no conversion); its id."""
    row = ConversionRequest(
        pixel_id=record.pixel_id,
        url=record.url,
        event_ids=list(record.event_ids),
        event_count=len(record.event_ids),
        validate_only=record.validate_only,
        status_code=record.status_code,
        body=record.body or None,
        error=record.error,
        elapsed_ms=round(record.elapsed_ms),
        started_at=datetime.fromtimestamp(record.started_at_ms / 1000, tz=UTC),
    )
    session.add(row)
    session.flush()
    return row.id
