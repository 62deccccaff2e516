"""Fixtures for stage-change tests: CRM doubles, the OpenAI double, stage rules, signed HubSpot webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from tests.conversions.conftest import API_KEY, PIXEL_ID, openai_double
from tests.crm.conftest import hs_mapping, hubspot_double, mappings, salesforce_double, sf_mapping
from tests.crm_writes.conftest import hubspot_env, salesforce_env, worker_logs_on_failure

__all__ = [
    "hs_mapping",
    "hubspot_double",
    "mappings",
    "openai_double",
    "salesforce_double",
    "sf_mapping",
    "worker_logs_on_failure",
]

PUBLIC_URL = "https://hooks.example.com"
HUBSPOT_SECRET = "hs-client-secret-0123"
SALESFORCE_SECRET = "sf-flow-secret-0123"
ORG_ID = "00D000000000001AAA"


def stage_env(openai, rules: dict[str, dict[str, str]]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    values = {
        "CONNECTOR_CONVERSIONS__ENABLED": "true",
        "CONNECTOR_CONVERSIONS__ENDPOINT": openai.url,
        "CONNECTOR_CONVERSIONS__PIXELS__MAIN__PIXEL_ID": PIXEL_ID,
        "CONNECTOR_CONVERSIONS__BATCH_WINDOW_SECONDS": "1",
        "OPENAI_CONVERSIONS_API_KEY": API_KEY,
        "CONNECTOR_WEB__PUBLIC_URL": PUBLIC_URL,
        "CONNECTOR_STAGES__ENABLED": "true",
        "CONNECTOR_STAGES__SALESFORCE_ORGANIZATION_ID": ORG_ID,
        "CONNECTOR_HUBSPOT_SECRET": HUBSPOT_SECRET,
        "CONNECTOR_SALESFORCE_SECRET": SALESFORCE_SECRET,
    }
    for name, rule in rules.items():
        for key, value in rule.items():
            values[f"CONNECTOR_STAGES__RULES__{name.upper()}__{key.upper()}"] = value
    return values


HUBSPOT_WON = {"crm": "hubspot", "object": "deal", "stage": "Closed Won", "event": "order_created"}
SALESFORCE_WON = {
    "crm": "salesforce",
    "object": "Opportunity",
    "stage": "Closed Won",
    "event": "order_created",
}


def _secrets_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process web app reads source secrets from os.environ, the workers from their env."""
    monkeypatch.setenv("CONNECTOR_HUBSPOT_SECRET", HUBSPOT_SECRET)
    monkeypatch.setenv("CONNECTOR_SALESFORCE_SECRET", SALESFORCE_SECRET)


@pytest.fixture
def hubspot_env_(env, hubspot_double, openai_double, monkeypatch):  # type: ignore[no-untyped-def]
    env.update(hubspot_env(hubspot_double))
    env.update(stage_env(openai_double, {"won": HUBSPOT_WON}))
    _secrets_in_process(monkeypatch)
    return env


@pytest.fixture
def salesforce_env_(env, salesforce_double, openai_double, monkeypatch):  # type: ignore[no-untyped-def]
    env.update(salesforce_env(salesforce_double))
    env.update(stage_env(openai_double, {"won": SALESFORCE_WON}))
    _secrets_in_process(monkeypatch)
    return env


def hubspot_event(
    deal_id: str, stage: str, occurred_ms: int, event_id: int = 1, **extra: Any
) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 4711,
        "portalId": 62515,
        "appId": 1234,
        "occurredAt": occurred_ms,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": int(deal_id),
        "propertyName": "dealstage",
        "propertyValue": stage,
        "changeSource": "CRM_UI",
        **extra,
    }


def signed(
    events: list[dict[str, Any]],
    secret: str = HUBSPOT_SECRET,
    url: str = PUBLIC_URL + "/webhooks/crm/hubspot",
    timestamp_ms: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """Body and headers as HubSpot sends them: v3 = base64(HMAC-SHA256(secret, method + url + body + ts))."""
    body = json.dumps(events).encode()
    ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), b"POST" + url.encode() + body + ts.encode(), hashlib.sha256).digest()
    return body, {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": ts,
    }
