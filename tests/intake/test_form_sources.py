"""Every form plugin, in every body format it sends, over HTTP into the ledger and through the job."""

from __future__ import annotations

import pytest

from connector.config import FormFieldSettings, SourceSettings
from tests.intake.helpers import (
    FORM,
    SECRET,
    content_type,
    fixture,
    receipts,
    run_jobs,
    submissions,
    use_secrets,
)

AUTH = {"X-Connector-Token": SECRET}

CASES = [
    # (source, fixture, email, attribution subset, form_id, delivery key)
    (
        "gravity_forms",
        "gravity_forms_select_fields.form",
        "ada@example.com",
        {"first_utm_source": "perplexity", "latest_utm_source": "chatgpt.com", "event_id": "evt-gf-select-1"},
        None,
        "event:evt-gf-select-1",
    ),
    (
        "contact_form_7",
        "contact_form_7.json",
        "grace@example.org",
        {
            "first_utm_source": "claude.ai",
            "gclid": "Cj0KCQiA-abc_DEF",
            "conversion_page": "https://example.org/contact/",
            "consent": "granted",
        },
        None,
        "event:evt-cf7-7",
    ),
    (
        "wpforms",
        "wpforms.json",
        "linus@example.net",
        {"oppref": "AbC/dEf+123==", "conversion_page": "https://example.net/demo/"},
        None,
        "event:evt-wpf-31",
    ),
    ("wpforms", "wpforms.form", "linus@example.net", {"event_id": "evt-wpf-32"}, None, "event:evt-wpf-32"),
    (
        "elementor",
        "elementor_simple.form",
        "margaret@example.com",
        {
            "first_utm_source": "gemini.google.com",
            "latest_utm_source": "chatgpt.com",
            "event_id": "evt-el-simple-1",
        },
        "4f1a2b3",
        "event:evt-el-simple-1",
    ),
    (
        "elementor",
        "elementor_advanced.form",
        "margaret@example.com",
        {"first_utm_source": "perplexity", "conversion_page": "https://example.com/book-a-demo/"},
        "4f1a2b3",
        "event:evt-el-adv-1",
    ),
    (
        "fluent_forms",
        "fluent_forms.json",
        "katherine@example.com",
        {"first_utm_source": "perplexity", "conversion_page": "https://example.com/contact/"},
        "5",
        "entry:5:88",
    ),
    (
        "fluent_forms",
        "fluent_forms.form",
        "katherine@example.com",
        {"event_id": "evt-ff-89"},
        "5",
        "entry:5:89",
    ),
    (
        "ninja_forms",
        "ninja_forms.form",
        "dorothy@example.com",
        {"latest_utm_campaign": "launch"},
        "2",
        "event:evt-nf-5",
    ),
    (
        "ninja_forms",
        "ninja_forms.json",
        "dorothy@example.com",
        {"first_utm_source": "chatgpt.com"},
        "2",
        "event:evt-nf-6",
    ),
    (
        "ninja_forms",
        "ninja_forms_json_arg.form",
        "dorothy@example.com",
        {"first_utm_source": "copilot.microsoft.com"},
        None,
        "event:evt-nf-7",
    ),
    (
        "formidable",
        "formidable.json",
        "mary@example.com",
        {"gclid": "EAIaIQob", "conversion_page": "https://example.com/quote/"},
        "9",
        "entry:9:301",
    ),
    (
        "formidable",
        "formidable.form",
        "mary@example.com",
        {"event_id": "evt-fm-302"},
        "9",
        "event:evt-fm-302",
    ),
]


@pytest.mark.parametrize(("source", "name", "email", "attribution", "form_id", "key"), CASES)
def test_fixture_becomes_one_submission(client, ctx, source, name, email, attribution, form_id, key):
    use_secrets(client)
    url = f"/webhooks/forms/{source}"
    body = fixture(name)
    response = client.post(url, data=body, headers={**AUTH, "Content-Type": content_type(name)})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "accepted"
    again = client.post(url, data=body, headers={**AUTH, "Content-Type": content_type(name)})
    assert (again.status_code, again.get_json()["status"]) == (200, "duplicate")
    [receipt] = receipts(ctx)
    assert receipt.delivery_key == key and receipt.body == body
    assert run_jobs(ctx) == ["processed"]
    [row] = submissions(ctx)
    assert row.source == source and row.email == email and row.form_id == form_id
    assert attribution.items() <= row.attribution.items()


def test_gravity_forms_all_fields_needs_the_field_map_for_numeric_ids(client, ctx):
    use_secrets(client)
    body = fixture("gravity_forms_all_fields.json")
    ctx.settings.sources["gravity_forms"] = SourceSettings(
        fields={"first_utm_source": "7", "first_utm_medium": "8", "first_name": "1.3", "last_name": "1.6"},
        forms={"3": FormFieldSettings(fields={"first_landing_page": "9", "event_id": "10", "oppref": "11"})},
    )
    try:
        response = client.post(
            "/webhooks/forms/gravity_forms", data=body, headers={**AUTH, "Content-Type": "application/json"}
        )
        assert response.status_code == 200
        assert run_jobs(ctx) == ["processed"]
    finally:
        ctx.settings.sources.pop("gravity_forms")
    [receipt] = receipts(ctx)
    assert receipt.delivery_key == "entry:3:412"
    [row] = submissions(ctx)
    assert row.email == "ada@example.com", "the one email-shaped value is the email"
    assert row.contact == {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}
    assert row.attribution["first_utm_source"] == "chatgpt.com"
    assert row.attribution["oppref"] == "opaque+ref/==", "click ids are kept byte for byte"
    assert row.attribution["event_id"] == "evt-gf-412"
    assert row.attribution["conversion_page"] == "https://example.com/contact/"
    assert row.submitted_at.isoformat().startswith("2026-11-20")


def test_without_a_field_map_numeric_ids_still_give_the_email_and_the_lead_is_kept(client, ctx):
    use_secrets(client)
    body = fixture("gravity_forms_all_fields.json")
    assert (
        client.post(
            "/webhooks/forms/gravity_forms", data=body, headers={**AUTH, "Content-Type": "application/json"}
        ).status_code
        == 200
    )
    run_jobs(ctx)
    [row] = submissions(ctx)
    assert row.email == "ada@example.com"
    assert "first_utm_source" not in row.attribution


def test_missing_hidden_fields_still_make_a_submission(client, ctx):
    use_secrets(client)
    response = client.post(
        "/webhooks/forms/contact_form_7",
        json={"your-name": "No Script", "your-email": "n@example.com"},
        headers=AUTH,
    )
    assert response.status_code == 200
    run_jobs(ctx)
    [row] = submissions(ctx)
    assert row.contact == {"name": "No Script", "email": "n@example.com"}
    assert row.attribution == {}
    assert receipts(ctx)[0].delivery_key.startswith("sha256:")


def test_unrecognised_body_is_kept_for_a_later_replay(client, ctx):
    use_secrets(client)
    response = client.post("/webhooks/forms/elementor", data={"Favourite colour": "blue"}, headers=AUTH)
    assert response.status_code == 200
    run_jobs(ctx)
    [row] = submissions(ctx)
    assert row.meta["unrecognised"] == ["Favourite colour"]


def test_hostile_and_unicode_values_are_kept_as_text(client, ctx):
    use_secrets(client)
    hostile = {
        "email": "x@example.com",
        "first_utm_source": "<script>alert(1)</script>",
        "latest_utm_campaign": "'; DROP TABLE receipts; --",
        "latest_referrer": "x" * 5000,
        "name": "Zoë 🚀 \u202e",
        "event_id": "evt-\u00fc\u00f1\u00ee",
    }
    assert client.post("/webhooks/forms/contact_form_7", json=hostile, headers=AUTH).status_code == 200
    run_jobs(ctx)
    [row] = submissions(ctx)
    assert row.attribution["first_utm_source"] == "<script>alert(1)</script>"
    assert row.attribution["latest_utm_campaign"] == "'; DROP TABLE receipts; --"
    assert len(row.attribution["latest_referrer"]) == 2048
    assert row.contact["name"] == "Zoë 🚀 \u202e" and row.event_id == "evt-üñî"


@pytest.mark.parametrize(
    "source", ["gravity_forms", "contact_form_7", "elementor", "fluent_forms", "ninja_forms", "formidable"]
)
def test_token_is_required_in_header_or_query(client, ctx, source):
    use_secrets(client)
    url = f"/webhooks/forms/{source}"
    body = {"email": "a@example.com", "event_id": "e-1"}
    assert client.post(url, json=body).status_code == 401
    wrong = client.post(url, json=body, headers={"X-Connector-Token": "wrong"})
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "invalid token"
    assert client.post(f"{url}?token={SECRET}", data=body).status_code == 200
    assert len(receipts(ctx)) == 1


def test_several_secrets_are_valid_during_rotation(client, ctx):
    use_secrets(client, "old-secret", "new-secret")
    for i, token in enumerate(("old-secret", "new-secret")):
        response = client.post(
            "/webhooks/forms/fluent_forms",
            json={"email": "a@example.com", "event_id": f"r{i}"},
            headers={"X-Connector-Token": token},
        )
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"<xml/>", "application/xml", 415, "unsupported Content-Type"),
        (b'{"email": ', "application/json", 400, "malformed JSON"),
        (b"[1, 2]", "application/json", 400, "expected a JSON object"),
        (b"{}", "application/json", 400, "empty object"),
        (b"\xff\xfe", FORM, 400, "not valid UTF-8"),
        (b"[" * 100_000, "application/json", 400, "nested deeper than"),
    ],
)
def test_bad_bodies_get_a_clear_4xx_and_nothing_is_stored(client, ctx, body, content_type, status, message):
    use_secrets(client)
    response = client.post(
        "/webhooks/forms/elementor", data=body, headers={**AUTH, "Content-Type": content_type}
    )
    assert response.status_code == status
    assert message in response.get_json()["error"]
    assert receipts(ctx) == []
