"""Seed requests for bench/fuzz.py: one or more valid bodies per source, and the served connector's setup.

The intake test fixtures (tests/fixtures/intake) plus our own JSON contracts (generic, WordPress, beacons,
HubSpot events, Salesforce flow callouts and outbound messages). `server_env` configures `connector serve`
so that each of these, validly authenticated, is accepted.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "intake"

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
ORIGIN = "https://www.example.com"
ORG_ID = "00D000000000001AAA"
"""The Salesforce org id the served connector is configured with (outbound messages must carry it)."""

FORM_SOURCES = (
    "generic",
    "gravity_forms",
    "contact_form_7",
    "wpforms",
    "elementor",
    "fluent_forms",
    "ninja_forms",
    "formidable",
    "wordpress",
)
BOOKING_SOURCES = ("calendly", "cal_com", "beacon")
CRM_SOURCES = ("hubspot", "salesforce")
FAMILIES = {"forms": FORM_SOURCES, "bookings": BOOKING_SOURCES, "crm": CRM_SOURCES}
"""Endpoint family -> the sources whose endpoints it fuzzes (`beacon` is POST /collect)."""

SECRETS = {name: f"fuzz-{name}-secret-0123456789" for name in FORM_SOURCES + BOOKING_SOURCES + CRM_SOURCES}
SECRETS["wordpress"] = "whsec_" + base64.b64encode(b"fuzz-wordpress-signing-key-0123456789").decode()
del SECRETS["beacon"]  # public: /collect checks the origin instead

MAX_BODY_BYTES = 1024 * 1024
"""The served connector's intake.max_body_bytes (its default)."""

MAX_BEACON_BYTES = 4096
"""The served connector's collect.max_body_bytes (its default)."""

ID_KEYS = frozenset(
    {"event_id", "id", "entry_id", "uri", "uid", "invitee_uri", "eventId", "objectId", "Id", "ChangeId"}
)
"""Keys whose values name a delivery: made unique per case, so valid cases are stored, not duplicates."""


def server_env(public_url: str) -> dict[str, str]:
    """The environment `connector serve` needs so every fuzzed source accepts valid requests."""
    env = {f"CONNECTOR_{name.upper()}_SECRET": secret for name, secret in SECRETS.items()}
    env.update(
        CONNECTOR_WEB__PUBLIC_URL=public_url,
        CONNECTOR_STAGES__ENABLED="true",
        CONNECTOR_STAGES__SALESFORCE_ORGANIZATION_ID=ORG_ID,
        CONNECTOR_COLLECT__ALLOWED_ORIGINS=json.dumps([ORIGIN]),
        CONNECTOR_COLLECT__RATE_LIMIT_PER_MINUTE="100000000",  # the parser, not the limiter, is fuzzed
        CONNECTOR_COLLECT__COOKIE="true",
    )
    return env


@dataclass
class Seed:
    kind: str
    """`json` (value is the decoded document), `form` (a list of key/value pairs) or `xml` (a template)."""
    value: Any
    content_type: str = JSON


def _fixture(name: str) -> Seed:
    raw = (FIXTURES / name).read_text()
    if name.endswith(".form"):
        return Seed("form", parse_qsl(raw, keep_blank_values=True), FORM)
    return Seed("json", json.loads(raw))


GENERIC = {
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "event_id": "evt-fuzz",
    "first_utm_source": "chatgpt.com",
    "first_utm_medium": "referral",
    "latest_utm_source": "perplexity",
    "oppref": "b3BwcmVmLWV4YW1wbGU=",
    "conversion_page": "https://example.com/demo",
    "submitted_at": "2026-11-20T10:00:00Z",
    "consent": "granted",
    "form_id": "contact",
}
WORDPRESS = {
    "v": 1,
    "type": "form_submission",
    "plugin": "contact_form_7",
    "form_id": "12",
    "form_name": "Contact",
    "entry_id": "345",
    "page_url": "https://example.com/pricing",
    "submitted_at": "2026-12-01T10:00:00Z",
    "site": "https://example.com",
    "contact": {"email": "Ada@Example.com", "first_name": "Ada", "last_name": "Lovelace"},
    "attribution": {"event_id": "evt-wp", "first_utm_source": "chatgpt.com", "consent": "granted"},
    "fields": {"Your message": "Hello", "Topics": ["pricing", "demo"]},
}
BEACON_BOOKING = {
    "v": 1,
    "type": "booking",
    "event_id": "evt-b",
    "provider": "calendly",
    "booking": {"invitee_uri": "https://api.calendly.com/scheduled_events/E/invitees/I", "event_uri": "x"},
    "attribution": {"first_utm_source": "chatgpt.com", "event_id": "evt-b"},
    "page": "https://www.example.com/book/",
    "ts": "2026-11-20T10:00:00Z",
}
BEACON_TOUCH = {
    "v": 1,
    "type": "touch",
    "event_id": "evt-t",
    "attribution": {"latest_utm_source": "chatgpt.com", "latest_landing_page": "https://www.example.com/"},
    "page": "https://www.example.com/",
    "ts": "2026-11-20T10:00:00Z",
}
HUBSPOT_EVENT = {
    "eventId": 1,
    "subscriptionId": 4711,
    "portalId": 62515,
    "appId": 1234,
    "occurredAt": 1764000000000,
    "subscriptionType": "deal.propertyChange",
    "attemptNumber": 0,
    "objectId": 1001,
    "propertyName": "dealstage",
    "propertyValue": "closedwon",
    "changeSource": "CRM_UI",
}
FLOW = {
    "object": "Opportunity",
    "records": [
        {"Id": "006000000000001AAA", "StageName": "Closed Won", "LastStageChangeDate": "2026-11-20T10:00:00Z"}
    ],
}
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
OUTBOUND = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    f'<soapenv:Body><notifications xmlns="{OUTBOUND_NS}">'
    "<OrganizationId>{org}</OrganizationId><ActionId>04k000000000001AAA</ActionId>"
    '<SessionId xsi:nil="true"/>{items}</notifications></soapenv:Body></soapenv:Envelope>'
)
NOTIFICATION = (
    "<Notification><Id>{nid}</Id>"
    '<sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
    "<sf:Id>{rid}</sf:Id><sf:StageName>{stage}</sf:StageName>"
    "<sf:LastStageChangeDate>2026-11-20T10:00:00Z</sf:LastStageChangeDate></sObject></Notification>"
)


def seeds() -> dict[str, list[Seed]]:
    """Valid bodies per source: the intake test fixtures plus our own JSON contracts."""
    found: dict[str, list[Seed]] = {name: [] for name in SECRETS}
    for path in sorted(FIXTURES.iterdir()):
        for name in found:
            if path.name.startswith(name):
                found[name].append(_fixture(path.name))
    found["generic"] += [Seed("json", GENERIC), Seed("form", list(GENERIC.items()), FORM)]
    found["wordpress"].append(Seed("json", WORDPRESS))
    found["beacon"] = [Seed("json", BEACON_BOOKING, "text/plain"), Seed("json", BEACON_TOUCH, "text/plain")]
    found["hubspot"] = [
        Seed("json", [HUBSPOT_EVENT]),
        Seed("json", [HUBSPOT_EVENT, {**HUBSPOT_EVENT, "eventId": 2}]),
    ]
    found["salesforce"] = [Seed("json", FLOW), Seed("xml", OUTBOUND, "text/xml; charset=utf-8")]
    return found
