"""Conversion rules as data: which event (if any) a submission from a source and form produces."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connector.events.currency import InvalidAmount, UnknownCurrency, to_minor_units
from connector.events.model import CUSTOM_EVENT_NAME, EVENT_DATA_TYPES

logger = logging.getLogger(__name__)

RULE_EVENT_TYPES = (
    "lead_created",
    "appointment_scheduled",
    "registration_completed",
    "trial_started",
    "custom",
    "none",
)
"""Event types a rule may name; `none` means the submission produces no conversion."""

DEFAULT_EVENT_TYPE = "lead_created"
"""What a form submission produces when no rule says otherwise."""

BOOKING_EVENT_TYPE = "appointment_scheduled"
"""What a booking produces when no rule says otherwise."""

BOOKING_SOURCE_PREFIX = "booking/"
"""Sources named `booking/<provider>` (the intake's route name) are bookings."""

_RULE_KEYS = frozenset({"event", "custom_event_name", "amount", "currency", "plan_id"})


class RuleError(ValueError):
    """A conversion rule in the configuration is invalid; the message names where and why."""


@dataclass(frozen=True)
class ConversionRule:
    """One rule: the event type, the custom name when `custom`, and an optional fixed value."""

    event: str = DEFAULT_EVENT_TYPE
    custom_event_name: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    plan_id: str | None = None
    where: str = "rule"

    def __post_init__(self) -> None:
        where = self.where
        if self.event not in RULE_EVENT_TYPES:
            raise RuleError(
                f"{where}.event: expected one of {', '.join(RULE_EVENT_TYPES)}, got {self.event!r}"
            )
        if self.event == "custom":
            if not self.custom_event_name or not CUSTOM_EVENT_NAME.match(self.custom_event_name):
                raise RuleError(
                    f"{where}.custom_event_name: required for event 'custom', 1-64 letters, digits, '_' or "
                    f"'-' starting and ending with a letter or digit, got {self.custom_event_name!r}"
                )
        elif self.custom_event_name is not None:
            raise RuleError(f"{where}.custom_event_name: only allowed with event 'custom'")
        if (self.amount is None) != (self.currency is None):
            raise RuleError(f"{where}: amount and currency go together, got only one of them")
        if self.amount is not None:
            try:
                to_minor_units(self.amount, self.currency or "")
            except (InvalidAmount, UnknownCurrency) as exc:
                raise RuleError(f"{where}: {exc}") from None
        if self.plan_id is not None and EVENT_DATA_TYPES.get(self.event) not in ("plan_enrollment", "custom"):
            raise RuleError(f"{where}.plan_id: only allowed with event 'trial_started' or 'custom'")

    @property
    def produces_event(self) -> bool:
        return self.event != "none"

    def minor_amount(self) -> int | None:
        """The rule's value in minor units of its currency, or None when it has no value."""
        if self.amount is None or self.currency is None:
            return None
        return to_minor_units(self.amount, self.currency)

    @classmethod
    def parse(cls, raw: str | Mapping[str, Any], where: str) -> ConversionRule:
        """A rule from config: an event type string, or a table with `event` and optional keys."""
        if isinstance(raw, str):
            return cls(event=raw, where=where)
        if not isinstance(raw, Mapping):
            raise RuleError(f"{where}: expected an event type or a table, got {type(raw).__name__}")
        unknown = sorted(set(raw) - _RULE_KEYS)
        if unknown:
            raise RuleError(
                f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_RULE_KEYS))}"
            )
        amount = raw.get("amount")
        currency = raw.get("currency")
        return cls(
            event=raw.get("event", DEFAULT_EVENT_TYPE),
            custom_event_name=raw.get("custom_event_name"),
            amount=None if amount is None else Decimal(str(amount)),
            currency=None if currency is None else str(currency).strip().upper(),
            plan_id=raw.get("plan_id"),
            where=where,
        )


@dataclass(frozen=True)
class SourceRules:
    """Rules for one source: its default and per-form overrides keyed by form id."""

    default: ConversionRule | None = None
    forms: Mapping[str, ConversionRule] = field(default_factory=dict)


@dataclass(frozen=True)
class ConversionRules:
    """All conversion rules; `rule_for` resolves form rule, then source default, then global default."""

    default: ConversionRule = field(default_factory=ConversionRule)
    sources: Mapping[str, SourceRules] = field(default_factory=dict)

    def rule_for(self, source: str, form_id: str | None = None) -> ConversionRule:
        """The rule a submission from `source` (and `form_id`) follows."""
        source_rules = self.sources.get(source)
        if source_rules is not None:
            if form_id is not None and str(form_id) in source_rules.forms:
                return source_rules.forms[str(form_id)]
            if source_rules.default is not None:
                return source_rules.default
        if source.startswith(BOOKING_SOURCE_PREFIX) and self.default.event == DEFAULT_EVENT_TYPE:
            return ConversionRule(event=BOOKING_EVENT_TYPE, where=f"sources.{source}")
        return self.default

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any] | None, where: str = "conversions.rules"
    ) -> ConversionRules:
        """Parse the `[conversions.rules]` table; errors name the key and what was expected.

        Shape: `default = "lead_created"`, `[sources."<source>"] default = ...`, and
        `[sources."<source>".forms] "<form id>" = "custom"` or a table with `event`, `custom_event_name`,
        `amount`, `currency`, `plan_id`.
        """
        data = data or {}
        unknown = sorted(set(data) - {"default", "sources"})
        if unknown:
            raise RuleError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: default, sources")
        default = ConversionRule.parse(data.get("default", DEFAULT_EVENT_TYPE), f"{where}.default")
        sources: dict[str, SourceRules] = {}
        for source, raw in _table(data.get("sources", {}), f"{where}.sources").items():
            source_where = f"{where}.sources.{source}"
            table = _table(raw, source_where)
            extra = sorted(set(table) - {"default", "forms"})
            if extra:
                raise RuleError(f"{source_where}: unknown key(s) {', '.join(extra)}; allowed: default, forms")
            source_default = (
                ConversionRule.parse(table["default"], f"{source_where}.default")
                if "default" in table
                else None
            )
            forms = {
                str(form_id): ConversionRule.parse(rule, f"{source_where}.forms.{form_id}")
                for form_id, rule in _table(table.get("forms", {}), f"{source_where}.forms").items()
            }
            sources[source] = SourceRules(default=source_default, forms=forms)
        return cls(default=default, sources=sources)


def _table(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RuleError(f"{where}: expected a table, got {type(value).__name__}")
    return value
