"""Stage rules are validated once, at load, with messages naming the key and what was expected."""

from __future__ import annotations

import pytest

from connector.config import ConfigError, load_settings
from connector.events.stage_rules import StageRuleError, StageRules

WON = {"crm": "salesforce", "object": "Opportunity", "stage": "Closed Won", "event": "order_created"}


def test_defaults_per_object():
    rules = StageRules.from_mapping(
        {
            "won": WON,
            "deal": {"crm": "hubspot", "object": "deal", "stage": "closedwon", "event": "order_created"},
        }
    )
    won, deal = rules.rules
    assert (won.object, won.amount_field, won.currency_field, won.fire) == (
        "Opportunity",
        "Amount",
        "",
        "once",
    )
    assert (deal.object, deal.amount_field, deal.currency_field) == ("deals", "amount", "deal_currency_code")
    assert won.matches({"closed won"}, set()) and not won.matches({"Closed Lost"}, set())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"crm": "pipedrive"}, "stages.rules.r.crm: expected salesforce or hubspot"),
        ({"object": "Account"}, "stages.rules.r.object: expected one of Lead, Opportunity for salesforce"),
        ({"stage": " "}, "stages.rules.r.stage: expected a stage label or internal id"),
        ({"event": "purchase"}, "stages.rules.r.event: expected an OpenAI event type"),
        ({"event": "custom"}, 'stages.rules.r.custom_event_name: event = "custom" needs a name'),
        ({"custom_event_name": "x"}, 'only allowed with event = "custom"'),
        ({"fire": "always"}, "stages.rules.r.fire: expected one of once, each_entry"),
        (
            {"event": "subscription_created"},
            "stages.rules.r.plan_id: event 'subscription_created' needs plan_id",
        ),
        ({"plan_id": "pro"}, "carries no plan_id"),
        ({"amount": "5"}, "stages.rules.r.amount: unknown key"),
        ({"stage": 5}, "stages.rules.r.stage: expected a string"),
    ],
)
def test_invalid_rules_name_the_key(change, message):
    with pytest.raises(StageRuleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        StageRules.from_mapping({"r": {**WON, **change}})


def test_config_file_errors_name_file_and_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[stages.rules.won]\ncrm = "salesforce"\nobject = "Opportunity"\nstage = "Won"\nevent = "sale"\n'
    )
    with pytest.raises(ConfigError, match=r"c.toml: stages.rules.won.event: expected an OpenAI event type"):
        load_settings(path, environ={})
    path.write_text('[stages]\ndefault_currency = "XYZ"\n')
    with pytest.raises(ConfigError, match="stages.default_currency: expected an ISO 4217 code"):
        load_settings(path, environ={})
    path.write_text('[stages]\nsalesforce_organization_id = "12345"\n')
    with pytest.raises(
        ConfigError, match="stages.salesforce_organization_id: expected a 15- or 18-character id"
    ):
        load_settings(path, environ={})
    path.write_text('[web]\npublic_url = "hooks.example.com"\n')
    with pytest.raises(ConfigError, match="web.public_url: expected an http"):
        load_settings(path, environ={})
    path.write_text('[stages]\nunattributable = "drop"\n')
    with pytest.raises(ConfigError, match="stages.unattributable: expected one of record, send"):
        load_settings(path, environ={})
