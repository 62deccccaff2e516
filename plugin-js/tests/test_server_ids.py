"""The pixel and the server send the same id: a form submitted in Chromium, posted to the connector."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connector import context
from connector.config import load_settings
from connector.jobs.receipts import process_receipt
from connector.store.models import Conversion

# The connector's own fixtures (real ledger, queue and app); the browser fixtures come from this folder.
from tests.conftest import (  # noqa: E402, F401
    TOKEN,
    app,
    client,
    ctx,
    database_url,
    env,
    ledger_templates,
    redis_url,
    settings,
)

PIXEL = "px_test_123"


@pytest.fixture
def conversions_env(env):  # type: ignore[no-untyped-def]  # noqa: F811
    return {
        **env,
        **{
            "CONNECTOR_CONVERSIONS__ENABLED": "true",
            "CONNECTOR_CONVERSIONS__ENDPOINT": "http://127.0.0.1:9/v1/events",
            "CONNECTOR_CONVERSIONS__PIXELS__MAIN__PIXEL_ID": PIXEL,
        },
    }


def test_the_server_conversion_reuses_the_pixels_event_id(harness, client, ctx, conversions_env):  # noqa: F811
    ctx.settings = load_settings(environ=conversions_env)
    page = harness.open(
        "landing.html",
        "utm_source=chatgpt&utm_medium=paid_ai&oppref=Op-Ref_123.x~Y+Z",
        {"pixelId": PIXEL, "consent": "optional"},
    )
    page.evaluate("attribution('consent', true)")
    page.click("#send")
    page.wait_for_function("window.__oaiq && window.__oaiq.some(c => c[0] === 'measure')")
    measure = next(c for c in harness.pixel_calls(page) if c[0] == "measure")
    posted = page.evaluate("window.__submitted[0]")  # what the form plugin would forward in its webhook

    response = client.post("/webhooks/forms/generic", data=posted, headers={"X-Connector-Token": TOKEN})
    assert response.status_code == 200, response.get_json()
    context.install(ctx)
    assert process_receipt(response.get_json()["receipt_id"]) == "processed"

    with ctx.sessions() as session:
        [conversion] = session.scalars(select(Conversion)).all()
    assert measure[1] == conversion.event_type == "lead_created"
    assert measure[3]["event_id"] == conversion.event_id == posted["event_id"]
    assert conversion.pixel_id == PIXEL
    assert conversion.payload.get("oppref") == "Op-Ref_123.x~Y+Z", "oppref travels byte for byte"
