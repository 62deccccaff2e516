from decimal import Decimal

import pytest

from connector.events.form_rules import ConversionRule, ConversionRules, RuleError

CONFIG = {
    "default": "lead_created",
    "sources": {
        "forms/gravityforms": {
            "forms": {
                "12": {
                    "event": "custom",
                    "custom_event_name": "demo_request",
                    "amount": "50.00",
                    "currency": "usd",
                },
                "13": "none",
                "14": "registration_completed",
            }
        },
        "forms/hubspot": {"default": "trial_started"},
        "booking/calendly": {
            "forms": {"vip": {"event": "appointment_scheduled", "amount": 200, "currency": "EUR"}}
        },
    },
}


def test_rule_resolution_order():
    rules = ConversionRules.from_mapping(CONFIG)
    custom = rules.rule_for("forms/gravityforms", "12")
    assert (custom.event, custom.custom_event_name, custom.amount, custom.currency) == (
        "custom",
        "demo_request",
        Decimal("50.00"),
        "USD",
    )
    assert custom.minor_amount() == 5000
    assert rules.rule_for("forms/gravityforms", "13").produces_event is False
    assert rules.rule_for("forms/gravityforms", 14).event == "registration_completed"
    assert rules.rule_for("forms/gravityforms", "99").event == "lead_created"
    assert rules.rule_for("forms/hubspot", "1").event == "trial_started"
    assert rules.rule_for("forms/elementor", None).event == "lead_created"


def test_bookings_default_to_appointment_scheduled():
    rules = ConversionRules.from_mapping(CONFIG)
    assert rules.rule_for("booking/calendly", "other").event == "appointment_scheduled"
    assert rules.rule_for("booking/cal_com").event == "appointment_scheduled"
    assert rules.rule_for("booking/calendly", "vip").minor_amount() == 20000


def test_empty_config_gives_lead_created_everywhere():
    rules = ConversionRules.from_mapping(None)
    assert rules.rule_for("forms/x", "1") == ConversionRule(where="conversions.rules.default")


def test_a_global_none_default_also_silences_bookings():
    rules = ConversionRules.from_mapping({"default": "none"})
    assert not rules.rule_for("booking/calendly").produces_event


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"default": "purchase"}, "conversions.rules.default.event: expected one of lead_created, "),
        ({"defualt": "none"}, "conversions.rules: unknown key(s) defualt; allowed: default, sources"),
        (
            {"sources": {"s": {"forms": {"1": "custom"}}}},
            "conversions.rules.sources.s.forms.1.custom_event_name: required",
        ),
        (
            {"sources": {"s": {"forms": {"1": {"event": "custom", "custom_event_name": "has space"}}}}},
            "custom_event_name: required for event 'custom'",
        ),
        (
            {"sources": {"s": {"default": {"event": "lead_created", "custom_event_name": "x"}}}},
            "conversions.rules.sources.s.default.custom_event_name: only allowed with event 'custom'",
        ),
        ({"sources": {"s": {"default": {"amount": "10"}}}}, "amount and currency go together"),
        ({"sources": {"s": {"default": {"amount": "10", "currency": "ZZZ"}}}}, "unknown currency 'ZZZ'"),
        ({"sources": {"s": {"default": {"amount": "-3", "currency": "USD"}}}}, "must not be negative"),
        (
            {"sources": {"s": {"default": {"plan_id": "p"}}}},
            "plan_id: only allowed with event 'trial_started'",
        ),
        (
            {"sources": {"s": {"default": {"evnt": "none"}}}},
            "conversions.rules.sources.s.default: unknown key(s) evnt",
        ),
        (
            {"sources": {"s": {"form": {}}}},
            "conversions.rules.sources.s: unknown key(s) form; allowed: default, forms",
        ),
        ({"sources": {"s": 3}}, "conversions.rules.sources.s: expected a table, got int"),
        ({"sources": {"s": {"default": 3}}}, "expected an event type or a table, got int"),
    ],
)
def test_invalid_rules_have_precise_messages(config, message):
    with pytest.raises(RuleError) as caught:
        ConversionRules.from_mapping(config)
    assert message in str(caught.value)


def test_trial_started_may_carry_a_plan():
    rule = ConversionRule.parse({"event": "trial_started", "plan_id": "pro"}, "x")
    assert rule.plan_id == "pro"
