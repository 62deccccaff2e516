from datetime import UTC, datetime, timedelta

import pytest

from connector.attribution import Attribution, Contact
from connector.conversions.builder import (
    Conversion,
    ConversionSettings,
    Skip,
    build_conversion,
    derived_event_id,
)
from connector.events.form_rules import ConversionRules
from connector.events.hashing import sha256_hex
from connector.events.model import validate_event

RECEIVED = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
RECEIVED_MS = int(RECEIVED.timestamp() * 1000)
OPPREF = "AbC%2Fx+y==/é~"
CONTACT = Contact.from_mapping(
    {"email": " Ada@Example.com ", "first_name": "Ada", "last_name": "Lovelace", "phone": "+44 20 7946 0958"}
)


def attribution(**values: str) -> Attribution:
    base = {
        "event_id": "evt-browser-1",
        "oppref": OPPREF,
        "consent": "granted",
        "conversion_page": "https://example.com/demo?utm_source=chatgpt.com",
        "latest_landing_page": "https://example.com/landing",
        "submitted_at": "2026-11-20T11:59:30Z",
    }
    base.update(values)
    return Attribution.from_mapping({k: v for k, v in base.items() if v is not None})


def build(attr=None, settings=None, rules=None, **kwargs):
    params = dict(
        source="forms/gravityforms",
        form_id="12",
        delivery_key="gf-entry-981",
        received_at=RECEIVED,
        pixel_id="px_1",
        rules=rules or ConversionRules(),
        settings=settings,
        ip_address="203.0.113.7",
        user_agent="Mozilla/5.0",
    )
    params.update(kwargs)
    return build_conversion(attr or attribution(), CONTACT, **params)


def test_granted_consent_builds_a_full_valid_event():
    result = build()
    assert isinstance(result, Conversion)
    event = result.event
    assert validate_event(event, RECEIVED_MS) == []
    assert event.id == "evt-browser-1"
    assert event.type == "lead_created" and event.data.type == "customer_action"
    assert event.timestamp_ms == RECEIVED_MS - 30_000
    assert event.source_url == "https://example.com/demo?utm_source=chatgpt.com"
    assert event.oppref == OPPREF
    assert event.action_source == "web"
    assert event.opt_out is False
    assert event.user.emails_sha256 == (sha256_hex("ada@example.com"),)
    assert event.user.phone_numbers_sha256 == (sha256_hex("442079460958"),)
    assert event.user.first_names_sha256 == (sha256_hex("ada"),)
    assert event.user.last_names_sha256 == (sha256_hex("lovelace"),)
    assert event.user.ip_address is None and event.user.user_agent is None  # off by default
    assert result.ledger_key == ("px_1", "lead_created", "", "evt-browser-1")
    assert "opt_out" not in event.to_json()


def test_ip_and_user_agent_only_when_enabled():
    result = build(settings=ConversionSettings(send_ip_and_user_agent=True))
    assert (result.event.user.ip_address, result.event.user.user_agent) == ("203.0.113.7", "Mozilla/5.0")


def test_user_data_disabled_by_admin():
    result = build(settings=ConversionSettings(send_user_data=False))
    assert result.event.user is None
    assert "user" not in result.event.to_json()


def test_scalar_user_format_setting():
    result = build(settings=ConversionSettings(user_field_format="scalar", send_ip_and_user_agent=True))
    assert result.notes == (
        "phone_numbers_sha256 not sent: the scalar user format has no such field",
        "first_names_sha256 not sent: the scalar user format has no such field",
        "last_names_sha256 not sent: the scalar user format has no such field",
    )
    assert result.event.to_json()["user"] == {
        "email_sha256": sha256_hex("ada@example.com"),
        "ip_address": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
    }


@pytest.mark.parametrize("consent", ["denied", "unknown", None])
def test_no_consent_means_no_event_by_default(consent):
    result = build(attribution(consent=consent))
    assert isinstance(result, Skip)
    assert result.code == "no_consent"
    assert f"consent={consent or 'unknown'!r}" in result.reason


@pytest.mark.parametrize("consent", ["denied", "unknown"])
def test_without_require_consent_the_event_is_anonymous_and_opted_out(consent):
    result = build(
        attribution(consent=consent),
        settings=ConversionSettings(require_consent=False, send_ip_and_user_agent=True),
    )
    assert isinstance(result, Conversion)
    assert result.event.user is None
    assert result.event.opt_out is True
    assert result.event.to_json()["opt_out"] is True
    assert result.event.oppref == OPPREF  # the ad click reference is measurement, not personal data


def test_unknown_consent_may_be_treated_as_granted():
    result = build(attribution(consent="unknown"), settings=ConversionSettings(unknown_consent="granted"))
    assert result.event.user is not None and result.event.opt_out is False


def test_a_site_without_a_consent_platform_sends_the_event_the_pixel_sent():
    """consent=not_required: the script's default mode measured without a banner; the server event matches."""
    result = build(attribution(consent="not_required"))
    assert isinstance(result, Conversion)
    assert result.event.user is not None and result.event.opt_out is False


def test_explicit_personalization_opt_out_keeps_measurement_data():
    result = build(personalization_opt_out=True)
    assert result.event.opt_out is True
    assert result.event.user.emails_sha256


def test_rule_none_skips():
    rules = ConversionRules.from_mapping({"sources": {"forms/gravityforms": {"forms": {"12": "none"}}}})
    result = build(rules=rules)
    assert isinstance(result, Skip) and result.code == "rule_none"


def test_custom_rule_with_value():
    rules = ConversionRules.from_mapping(
        {
            "sources": {
                "forms/gravityforms": {
                    "default": {
                        "event": "custom",
                        "custom_event_name": "demo_request",
                        "amount": "129.99",
                        "currency": "USD",
                    }
                }
            }
        }
    )
    event = build(rules=rules).event
    assert validate_event(event, RECEIVED_MS) == []
    assert event.to_json()["custom_event_name"] == "demo_request"
    assert event.data.to_json() == {"type": "custom", "amount": 12999, "currency": "USD"}
    assert build(rules=rules).ledger_key == ("px_1", "custom", "demo_request", "evt-browser-1")


def test_booking_and_trial_rules():
    booking = build(source="booking/calendly", form_id=None).event
    assert (booking.type, booking.data.type) == ("appointment_scheduled", "customer_action")
    rules = ConversionRules.from_mapping({"default": {"event": "trial_started", "plan_id": "pro"}})
    trial = build(rules=rules).event
    assert (trial.type, trial.data.type, trial.data.plan_id) == ("trial_started", "plan_enrollment", "pro")
    assert validate_event(trial, RECEIVED_MS) == []


def test_deterministic_id_without_event_id():
    first = build(attribution(event_id=None)).event.id
    again = build(attribution(event_id=None)).event.id
    other_delivery = build(attribution(event_id=None), delivery_key="gf-entry-982").event.id
    other_source = build(attribution(event_id=None), source="forms/wpforms").event.id
    assert first == again == derived_event_id("forms/gravityforms", "gf-entry-981")
    assert len({first, other_delivery, other_source}) == 3
    with pytest.raises(ValueError):
        derived_event_id("forms/x", "")


@pytest.mark.parametrize(
    ("submitted_at", "expected_ms"),
    [
        ("2026-11-20T11:59:30Z", RECEIVED_MS - 30_000),
        ("2026-11-20T12:59:30+01:00", RECEIVED_MS - 30_000),
        ("2026-11-20T11:59:30", RECEIVED_MS - 30_000),  # naive = UTC
        ("2026-11-20T11:59:30.123Z", RECEIVED_MS - 29_877),
        (str(RECEIVED_MS - 5000), RECEIVED_MS - 5000),  # epoch ms
        ("2026-11-20T12:05:00Z", RECEIVED_MS + 300_000),  # small clock skew is kept
        ("2026-11-20T13:00:00Z", RECEIVED_MS),  # an hour ahead: implausible
        ("2026-11-01T12:00:00Z", RECEIVED_MS),  # older than 7 days: implausible
        ("yesterday", RECEIVED_MS),
        ("99999999999999999999", RECEIVED_MS),
        (None, RECEIVED_MS),
    ],
)
def test_timestamp_is_submission_time_when_plausible(submitted_at, expected_ms):
    assert build(attribution(submitted_at=submitted_at)).event.timestamp_ms == expected_ms


def test_source_url_falls_back_to_latest_landing_page():
    event = build(attribution(conversion_page=None)).event
    assert event.source_url == "https://example.com/landing"
    bare = build(attribution(conversion_page=None, latest_landing_page=None)).event
    assert validate_event(bare, RECEIVED_MS) == ["source_url is required when action_source is 'web'"]


def test_bad_user_fields_are_left_out_with_a_note():
    contact = Contact.from_mapping(
        {"email": "not-an-email", "phone": "12345", "name": "Grace Brewster Hopper"}
    )
    result = build_conversion(
        attribution(),
        contact,
        source="s",
        form_id=None,
        delivery_key="k",
        received_at=RECEIVED,
        pixel_id="px",
        rules=ConversionRules(),
    )
    user = result.event.user
    assert user.emails_sha256 == () and user.phone_numbers_sha256 == ()
    assert user.first_names_sha256 == (sha256_hex("grace"),)
    assert user.last_names_sha256 == (sha256_hex("hopper"),)
    assert result.notes == (
        "emails_sha256 left out: email is not of the form local@domain",
        "phone_numbers_sha256 left out: phone has 5 digits after normalisation, expected 8-15",
    )
    assert "not-an-email" not in repr(result.event.to_json())


def test_external_id_is_hashed_case_kept():
    event = build(external_id=" CRM-00Q1 ").event
    assert event.user.external_ids_sha256 == (sha256_hex("CRM-00Q1"),)


def test_settings_are_validated():
    with pytest.raises(ValueError, match="user_field_format"):
        ConversionSettings(user_field_format="lists")
    with pytest.raises(ValueError, match="unknown_consent"):
        ConversionSettings(unknown_consent="maybe")


def test_received_time_is_used_timezone_aware():
    naive = RECEIVED.replace(tzinfo=None)
    event = build(attribution(submitted_at=None), received_at=naive).event
    assert event.timestamp_ms == RECEIVED_MS
    assert (
        build(
            attribution(submitted_at=None), received_at=RECEIVED + timedelta(milliseconds=7)
        ).event.timestamp_ms
        == RECEIVED_MS + 7
    )
