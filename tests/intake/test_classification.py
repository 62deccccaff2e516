"""Server-side classification fills channel / AI source only where the browser did not."""

from __future__ import annotations

from connector.intake.classification import classify_missing
from tests.intake.helpers import JSON, SECRET, fixture, run_jobs, stripe_style, submissions, use_secrets


def test_utm_only_touch_is_classified_like_the_browser_would():
    values = classify_missing({"latest_utm_source": "chatgpt.com", "latest_utm_medium": "referral"})
    assert values["latest_channel"] == "ai_assistant" and values["latest_ai_source"] == "chatgpt"
    assert "first_channel" not in values, "no first-touch signal, no first-touch guess"


def test_click_ids_count_for_the_latest_touch():
    assert classify_missing({"oppref": "x"})["latest_channel"] == "openai_ads"
    assert classify_missing({"gclid": "x", "latest_utm_source": "google"})["latest_channel"] == "paid_search"


def test_referrer_and_landing_page_query_are_read():
    values = classify_missing(
        {
            "first_referrer": "https://www.perplexity.ai/",
            "first_landing_page": "https://example.com/",
            "latest_landing_page": "https://example.com/?utm_source=newsletter&utm_medium=email",
        }
    )
    assert (values["first_channel"], values["first_ai_source"]) == ("ai_assistant", "perplexity")
    assert values["latest_channel"] == "email"


def test_browser_values_are_never_replaced():
    browser = {"first_utm_source": "chatgpt.com", "first_channel": "referral", "first_ai_source": "none"}
    assert classify_missing(browser) == browser


def test_direct_calendly_booking_gets_channels_server_side(client, ctx):
    use_secrets(client)
    body = fixture("calendly_invitee_created.json")
    headers = {"Content-Type": JSON, "Calendly-Webhook-Signature": stripe_style(SECRET, body, "v1")}
    assert client.post("/webhooks/booking/calendly", data=body, headers=headers).status_code == 200
    run_jobs(ctx)
    [lead] = submissions(ctx)
    assert lead.attribution["latest_utm_source"] == "chatgpt.com"
    assert (lead.attribution["latest_channel"], lead.attribution["latest_ai_source"]) == (
        "ai_assistant",
        "chatgpt",
    )
