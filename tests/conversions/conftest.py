"""Fixtures for the conversions tests: a running OpenAI double, a fixed clock, event factories."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from connector.events.model import ConversionEvent, EventData
from tests.doubles.openai_double import OpenAIDouble, serve

API_KEY = "sk-conv-test-0123456789"
PIXEL_ID = "px_test_1"


def double_env(url: str) -> dict[str, str]:
    """Environment for connector processes that send to the OpenAI double at `url`, with a one-second batch
    window and short retries."""
    return {
        "CONNECTOR_CONVERSIONS__ENABLED": "true",
        "CONNECTOR_CONVERSIONS__ENDPOINT": url,
        "CONNECTOR_CONVERSIONS__PIXELS__MAIN__PIXEL_ID": PIXEL_ID,
        "CONNECTOR_CONVERSIONS__BATCH_WINDOW_SECONDS": "1",
        "CONNECTOR_CONVERSIONS__RETRY_BASE_SECONDS": "1",
        "CONNECTOR_CONVERSIONS__RETRY_MAX_SECONDS": "2",
        "OPENAI_CONVERSIONS_API_KEY": API_KEY,
    }


@pytest.fixture
def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def openai_double() -> Iterator[OpenAIDouble]:
    with serve(api_key=API_KEY) as double:
        yield double


@pytest.fixture
def make_event(now_ms: int) -> Callable[..., ConversionEvent]:
    """A valid lead_created event one minute old; keyword arguments replace fields."""

    def make(index: int = 0, **changes: Any) -> ConversionEvent:
        event = ConversionEvent(
            id=f"evt-{index:05d}",
            type="lead_created",
            timestamp_ms=now_ms - 60_000,
            source_url="https://example.com/contact?x=1",
            data=EventData(type="customer_action"),
        )
        return replace(event, **changes)

    return make
