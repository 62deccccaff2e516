"""OpenAI Conversions API: event model and validation, rules, builder, and the batch sender."""

from connector.conversions.builder import (
    Conversion,
    ConversionSettings,
    Skip,
    build_conversion,
    conversion_timestamp_ms,
    derived_event_id,
)
from connector.conversions.currency import InvalidAmount, UnknownCurrency, minor_unit_exponent, to_minor_units
from connector.conversions.events import (
    EVENT_DATA_TYPES,
    ContentItem,
    ConversionEvent,
    EventData,
    UserData,
    validate_event,
)
from connector.conversions.retry import RetryPolicy, parse_retry_after
from connector.conversions.rules import ConversionRule, ConversionRules, RuleError
from connector.conversions.sender import (
    DEFAULT_ENDPOINT,
    BatchOutcome,
    ConversionsClient,
    EventOutcome,
    RequestRecord,
    SenderSettings,
)

__all__ = [
    "DEFAULT_ENDPOINT",
    "EVENT_DATA_TYPES",
    "BatchOutcome",
    "ContentItem",
    "Conversion",
    "ConversionEvent",
    "ConversionRule",
    "ConversionRules",
    "ConversionSettings",
    "ConversionsClient",
    "EventData",
    "EventOutcome",
    "InvalidAmount",
    "RequestRecord",
    "RetryPolicy",
    "RuleError",
    "SenderSettings",
    "Skip",
    "UnknownCurrency",
    "UserData",
    "build_conversion",
    "conversion_timestamp_ms",
    "derived_event_id",
    "minor_unit_exponent",
    "parse_retry_after",
    "to_minor_units",
    "validate_event",
]
