"""A ledger of known journeys for the report, built through the real intake, stage resolver and sender.

Submissions are posted to the generic form webhook and the Calendly webhook and processed by the receipt
job in-process; deals live in the HubSpot double and their stage changes are resolved by the real resolver
(amounts read from the double); conversions are sent to the OpenAI double. Times are relative to now, so
the resolver's 7-day window treats them as it would in production.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connector import context
from connector.config import CollectSettings
from connector.context import Context
from connector.jobs.conversions import send_conversions
from connector.stages.changes import StageChange, store_stage_changes
from connector.stages.resolution import claim, run_batch
from tests.conversions.conftest import PIXEL_ID, openai_double
from tests.crm.conftest import hs_mapping, hubspot_double, mappings
from tests.crm_writes.conftest import hubspot_env
from tests.intake.helpers import SECRET, run_jobs, use_secrets
from tests.intake.test_bookings import calendly
from tests.stages.conftest import HUBSPOT_WON, stage_env

__all__ = ["hs_mapping", "hubspot_double", "mappings", "openai_double"]

NOW = datetime.now(UTC).replace(microsecond=0)
DEMO = {
    "crm": "hubspot",
    "object": "deal",
    "stage": "Appointment Scheduled",
    "event": "appointment_scheduled",
}


def ago(days: float = 0, hours: float = 0) -> datetime:
    return NOW - timedelta(days=days, hours=hours)


def touch(
    prefix: str, channel: str, ai: str, source: str = "", medium: str = "", campaign: str = "", page: str = ""
) -> dict[str, str]:
    values = {
        "channel": channel,
        "ai_source": ai,
        "utm_source": source,
        "utm_medium": medium,
        "utm_campaign": campaign,
        "landing_page": page,
    }
    return {f"{prefix}_{k}": v for k, v in values.items() if v}


CHATGPT = (
    "ai_assistant",
    "chatgpt",
    "chatgpt.com",
    "referral",
    "",
    "https://site.test/pricing?utm_source=chatgpt.com",
)
ADS = ("openai_ads", "openai_ads", "chatgpt", "paid_ai", "spring-ads", "https://site.test/?oppref=abc")
CLAUDE = ("ai_assistant", "claude", "claude.ai", "referral", "", "https://site.test/blog/post")
GOOGLE = ("organic_search", "none", "", "", "", "https://site.test/")
PERPLEXITY = ("ai_assistant", "perplexity", "perplexity.ai", "referral", "", "https://site.test/docs")
GEMINI = ("ai_assistant", "gemini", "gemini.google.com", "referral", "", "https://site.test/docs")
PAID = ("paid_search", "none", "google", "cpc", "brand", "https://site.test/lp/brand?gclid=x")

LEADS: list[dict[str, Any]] = [
    # email, days ago, form, first touch, latest touch
    {"email": "ana@example.com", "at": 30, "form": "contact", "first": CHATGPT, "latest": CHATGPT},
    {"email": "ben@example.com", "at": 25, "form": "contact", "first": ADS, "latest": ADS},
    {"email": "cara@example.com", "at": 20, "form": "contact", "first": CLAUDE, "latest": GOOGLE},
    {"email": "gus@example.com", "at": 18, "form": "contact", "first": CHATGPT, "latest": ADS},
    {"email": "dan@example.com", "at": 15, "form": "demo", "first": PERPLEXITY, "latest": GEMINI},
    {"email": "eve@example.com", "at": 12, "form": "contact", "first": None, "latest": None},
    {"email": "cara@example.com", "at": 10, "form": "demo", "first": CLAUDE, "latest": PERPLEXITY},
    {"email": "fay@example.com", "at": 8, "form": "contact", "first": PAID, "latest": PAID},
]
"""Seven people, eight form submissions (cara twice); eve carries no attribution at all."""

BOOKING_EMAIL = "alan@example.com"
"""The Calendly booking (tests/fixtures/intake/calendly_invitee_created.json): utm_source chatgpt.com."""


@dataclass
class Seeded:
    ctx: Context
    event_ids: dict[str, list[str]]
    deals: dict[str, str]


def _post_lead(client: Any, n: int, lead: dict[str, Any]) -> str:
    event_id = f"evt-{n:02d}-{lead['email'].split('@')[0]}"
    body: dict[str, Any] = {
        "email": lead["email"],
        "event_id": event_id,
        "consent": "granted",
        "form_id": lead["form"],
        "submitted_at": ago(lead["at"]).isoformat(),
        "conversion_page": "https://site.test/contact",
    }
    for prefix in ("first", "latest"):
        if lead[prefix]:
            body.update(touch(prefix, *lead[prefix]))
    if lead["first"] is ADS or lead["latest"] is ADS:
        body["oppref"] = "opp-" + event_id
    answer = client.post(
        "/webhooks/forms/generic",
        data=json.dumps(body),
        headers={"Content-Type": "application/json", "X-Connector-Token": SECRET},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return event_id


def _stage(ctx: Context, deal: str, stage: str, at: datetime, key: str) -> None:
    with ctx.sessions.begin() as session:
        store_stage_changes(session, [StageChange("hubspot", "deals", deal, stage, at, key, "webhook")])
    token, rows = claim(ctx, 200)
    if rows:
        run_batch(ctx, token, rows)


@pytest.fixture
def env(env, hubspot_double, openai_double, monkeypatch):  # type: ignore[no-untyped-def]
    env.update(hubspot_env(hubspot_double))
    env.update(stage_env(openai_double, {"won": HUBSPOT_WON, "demo": DEMO}))
    env["CONNECTOR_CONVERSIONS__BATCH_WINDOW_SECONDS"] = "0"
    for key, value in env.items():
        if key.startswith(("TEST_", "OPENAI_")):
            monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def seeded(ctx, client, hubspot_double, openai_double) -> Seeded:  # type: ignore[no-untyped-def]
    """The journeys: see LEADS, the booking, and the deals below."""
    use_secrets(client)
    ctx.settings = replace(ctx.settings, collect=CollectSettings(allowed_origins=["https://example.com"]))
    event_ids: dict[str, list[str]] = {}
    for n, lead in enumerate(LEADS, start=1):
        event_ids.setdefault(lead["email"], []).append(_post_lead(client, n, lead))
    assert calendly(client, "calendly_invitee_created.json").status_code == 200
    run_jobs(ctx)
    contacts = {email: hubspot_double.add_contact(email=email) for email in event_ids}
    deals = {
        "ana": hubspot_double.add_deal(
            [contacts["ana@example.com"]], amount="1200.50", deal_currency_code="USD"
        ),
        "ben": hubspot_double.add_deal([contacts["ben@example.com"]], amount="800", deal_currency_code="EUR"),
        "cara": hubspot_double.add_deal(
            [contacts["cara@example.com"]], amount="50", deal_currency_code="USD"
        ),
        "gus": hubspot_double.add_deal(
            [contacts["gus@example.com"]], amount="99.99", deal_currency_code="EUR"
        ),
        "dan": hubspot_double.add_deal([contacts["dan@example.com"]], amount="500", deal_currency_code="USD"),
        "fay": hubspot_double.add_deal([contacts["fay@example.com"]], amount="300", deal_currency_code="USD"),
    }
    _stage(ctx, deals["ana"], "closedwon", ago(2), "ana-won")
    _stage(ctx, deals["ben"], "closedwon", ago(hours=3), "ben-won")  # Won -> Lost -> Won: won once
    _stage(ctx, deals["ben"], "closedlost", ago(hours=2), "ben-lost")
    _stage(ctx, deals["ben"], "closedwon", ago(hours=1), "ben-won-again")
    _stage(ctx, deals["cara"], "appointmentscheduled", ago(3), "cara-demo")  # an opportunity, not won
    _stage(ctx, deals["gus"], "closedwon", ago(1), "gus-won")
    _stage(ctx, deals["dan"], "closedwon", ago(10), "dan-won")  # older than 7 days: expired, not sent
    _stage(ctx, deals["fay"], "closedwon", ago(1), "fay-won")
    context.install(ctx)
    send_conversions(PIXEL_ID)
    return Seeded(ctx, event_ids, deals)
