"""/metrics counts conversions by status and API requests by outcome from the ledger, whoever sent them."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, select

from connector import context
from connector.conversions.dispatch import LOST
from connector.conversions.ledger import insert_conversion
from connector.conversions.outcomes import IN_FLIGHT
from connector.jobs.receipts import process_receipt
from connector.store.models import ConversionRequest, Receipt
from tests.conftest import TOKEN, wait_for
from tests.conversions.conftest import API_KEY, PIXEL_ID, double_env

URL = "/webhooks/forms/generic"
AUTH = {"X-Connector-Token": TOKEN}
LEAD_CREATED = ("lead_created", "")


@pytest.fixture
def env(env, openai_double):  # type: ignore[no-untyped-def]
    env.update(double_env(openai_double.url))
    return env


def scrape(client) -> dict[str, list[tuple[dict[str, str], float]]]:  # type: ignore[no-untyped-def]
    """Sample name -> [(labels, value)] from the app's /metrics, parsed as Prometheus would."""
    text = client.get("/metrics").get_data(as_text=True)
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def conversions(samples: dict, event: tuple[str, str] = LEAD_CREATED) -> dict[str, float]:
    """Status -> count for one (event_type, custom_event_name)."""
    return {
        labels["status"]: value
        for labels, value in samples.get("connector_conversions", [])
        if (labels["event_type"], labels["custom_event_name"]) == event
    }


def requests(samples: dict) -> dict[tuple[str, str], float]:
    """(outcome, code) -> finished Conversions API requests."""
    found = samples.get("connector_conversion_requests_total", [])
    return {(labels["outcome"], labels["code"]): value for labels, value in found}


def process_all(ctx) -> None:  # type: ignore[no-untyped-def]
    context.install(ctx)
    with ctx.sessions() as session:
        ids = session.scalars(select(Receipt.id).where(Receipt.status == "received")).all()
    assert [process_receipt(i) for i in ids] == ["processed"] * len(ids)


def lead(n: int, consent: str = "granted") -> dict[str, str]:
    return {
        "email": f"m{n}@example.com",
        "event_id": f"evt-m{n}",
        "consent": consent,
        "conversion_page": "https://example.com/demo",
    }


def test_conversions_and_requests_sent_by_a_worker_show_on_the_web_metrics(
    client, ctx, processes, openai_double, monkeypatch
):
    monkeypatch.setenv("OPENAI_CONVERSIONS_API_KEY", API_KEY)  # this process records them, as a worker would
    for n in range(3):
        assert client.post(URL, json=lead(n), headers=AUTH).status_code == 200
    assert client.post(URL, json=lead(9, consent="denied"), headers=AUTH).status_code == 200
    process_all(ctx)

    waiting = conversions(scrape(client))
    assert waiting["pending"] == 3 and waiting["skipped"] == 1
    assert waiting["sent"] == 0, "every status is reported for an event name the ledger holds"
    assert requests(scrape(client)) == {}

    openai_double.fail_with(503, times=1)
    openai_double.drop_connections(1)
    processes.start("worker", name="worker")
    wait_for(
        lambda: conversions(scrape(client)).get("sent") == 3, timeout=40, message="three conversions sent"
    )
    after = conversions(scrape(client))
    assert (after["pending"], after["sending"], after["skipped"], after["failed"]) == (0, 0, 1, 0)
    answered = requests(scrape(client))
    assert answered[("retry", "503")] == 1
    assert answered[("network_error", "none")] == 1
    assert answered[("accepted", "200")] == openai_double.requests - 2, "every request is counted"
    assert openai_double.unique_accepted == 3


def test_event_names_and_every_request_outcome_are_labelled(client, ctx):
    with ctx.sessions.begin() as session:
        for n, status in enumerate(("would_send", "would_send", "failed")):
            insert_conversion(
                session,
                {
                    "pixel_id": PIXEL_ID,
                    "event_type": "custom",
                    "custom_event_name": "webinar_signup",
                    "event_id": f"evt-w{n}",
                    "status": status,
                    "payload": {},
                },
            )
        session.execute(
            insert(ConversionRequest),
            [
                {"pixel_id": PIXEL_ID, "status_code": code, "error": error, "event_ids": []}
                for code, error in (
                    (200, None),
                    (400, None),
                    (401, None),
                    (429, None),
                    (None, LOST),
                    (None, IN_FLIGHT),
                    (None, "ConnectError: refused"),
                )
            ],
        )
    samples = scrape(client)
    webinar = conversions(samples, ("custom", "webinar_signup"))
    assert (webinar["would_send"], webinar["failed"], webinar["pending"]) == (2, 1, 0)
    assert conversions(samples) == {}, "no lead_created rows, no lead_created series"
    assert requests(samples) == {
        ("accepted", "200"): 1,
        ("rejected", "400"): 1,
        ("auth_rejected", "401"): 1,
        ("retry", "429"): 1,
        ("no_response", "none"): 1,
        ("network_error", "none"): 1,
    }, "a request still in flight is not counted until it finishes"


def test_metrics_still_answer_when_the_database_is_down(settings):
    from dataclasses import replace

    from connector.app import create_app

    down = replace(settings, database_url="postgresql://nobody@127.0.0.1:9/none")
    response = create_app(down).test_client().get("/metrics")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "# TYPE connector_conversions gauge" in text
    assert "connector_conversions{" not in text


def test_conversion_statuses_cover_the_ledger():
    from connector.conversions.metrics import STATUSES
    from connector.store.models import ConversionStatus

    declared = {v for k, v in vars(ConversionStatus).items() if k.isupper() and isinstance(v, str)}
    assert set(STATUSES) == declared
