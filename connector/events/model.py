"""The Conversions API event as typed values, its wire form, and the local spec validation."""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from connector.events.currency import is_known_currency
from connector.events.hashing import is_sha256_hex

logger = logging.getLogger(__name__)

EVENT_DATA_TYPES: Mapping[str, str] = {
    "page_viewed": "contents",
    "contents_viewed": "contents",
    "items_added": "contents",
    "checkout_started": "contents",
    "order_created": "contents",
    "lead_created": "customer_action",
    "registration_completed": "customer_action",
    "appointment_scheduled": "customer_action",
    "subscription_created": "plan_enrollment",
    "trial_started": "plan_enrollment",
    "custom": "custom",
}
"""Event type -> the `data.type` it requires."""

DATA_TYPE_FIELDS: Mapping[str, frozenset[str]] = {
    "contents": frozenset({"amount", "currency", "contents"}),
    "customer_action": frozenset({"amount", "currency"}),
    "plan_enrollment": frozenset({"plan_id", "amount", "currency", "contents"}),
    "custom": frozenset({"plan_id", "amount", "currency", "contents"}),
}
"""`data.type` -> the fields (besides `type`) it may carry."""

ACTION_SOURCES = ("web", "mobile_app", "offline", "physical_store", "phone_call", "email", "other")
"""Allowed `action_source` values."""

USER_FIELD_FORMATS = ("list", "scalar")
"""How user fields are written: the newer list form (default) or the older scalar form."""

UserFieldFormat = Literal["list", "scalar"]

MAX_AGE_MS = 7 * 24 * 3600 * 1000
"""Oldest accepted `timestamp_ms`, relative to now (milliseconds)."""

MAX_FUTURE_MS = 10 * 60 * 1000
"""Furthest accepted `timestamp_ms` ahead of now (milliseconds)."""

MAX_ID_LENGTH = 255
"""Longest event id, content id or plan id we send (characters)."""

MAX_TEXT_LENGTH = 2048
"""Longest free-text value we send: URLs, oppref, obref, user agent (characters)."""

MAX_USER_VALUES = 3
"""OpenAI uses the first three values of each list-form user field; we never send more."""

CUSTOM_EVENT_NAME = re.compile(r"\A[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?\Z")
"""1-64 letters, digits, `_` or `-`, starting and ending with a letter or digit (uncertain upstream)."""

CURRENCY_CODE = re.compile(r"\A[A-Z]{3}\Z")
"""Three capital letters."""

_HASHED_LIST_FIELDS = (
    "emails_sha256",
    "phone_numbers_sha256",
    "external_ids_sha256",
    "first_names_sha256",
    "last_names_sha256",
)
_RAW_LIST_FIELDS = ("countries", "cities", "regions", "postal_codes")


@dataclass(frozen=True)
class ContentItem:
    """One item of `data.contents`; `amount` is in the currency's minor unit."""

    id: str
    name: str | None = None
    content_type: str | None = None
    quantity: int | None = None
    amount: int | None = None
    currency: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _without_empty(
            {
                "id": self.id,
                "name": self.name,
                "content_type": self.content_type,
                "quantity": self.quantity,
                "amount": self.amount,
                "currency": self.currency,
            }
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ContentItem:
        return cls(
            **{k: data.get(k) for k in ("name", "content_type", "quantity", "amount", "currency")},
            id=data.get("id", ""),
        )


@dataclass(frozen=True)
class EventData:
    """The event's `data` object; which fields are allowed depends on `type`."""

    type: str
    amount: int | None = None
    currency: str | None = None
    plan_id: str | None = None
    contents: tuple[ContentItem, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return _without_empty(
            {
                "type": self.type,
                "plan_id": self.plan_id,
                "amount": self.amount,
                "currency": self.currency,
                "contents": [item.to_json() for item in self.contents],
            }
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EventData:
        return cls(
            type=data.get("type", ""),
            amount=data.get("amount"),
            currency=data.get("currency"),
            plan_id=data.get("plan_id"),
            contents=tuple(ContentItem.from_json(item) for item in data.get("contents") or ()),
        )


@dataclass(frozen=True)
class UserData:
    """User fields, held in list form; `format` decides how they are written on the wire.

    The scalar form carries only the first email, external id, country, city and postal code, plus
    ip_address and user_agent; phone numbers, names, regions and obref exist only in the list form.
    """

    emails_sha256: tuple[str, ...] = ()
    phone_numbers_sha256: tuple[str, ...] = ()
    external_ids_sha256: tuple[str, ...] = ()
    first_names_sha256: tuple[str, ...] = ()
    last_names_sha256: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    postal_codes: tuple[str, ...] = ()
    obref: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    format: UserFieldFormat = "list"

    def is_empty(self) -> bool:
        return not self.to_json()

    def to_json(self) -> dict[str, Any]:
        if self.format == "scalar":
            return _without_empty(
                {
                    "email_sha256": _first(self.emails_sha256),
                    "external_id_sha256": _first(self.external_ids_sha256),
                    "country": _first(self.countries),
                    "city": _first(self.cities),
                    "zip_code": _first(self.postal_codes),
                    "ip_address": self.ip_address,
                    "user_agent": self.user_agent,
                }
            )
        names = (*_HASHED_LIST_FIELDS, *_RAW_LIST_FIELDS)
        wire: dict[str, Any] = {name: list(getattr(self, name)) for name in names}
        wire.update(obref=self.obref, ip_address=self.ip_address, user_agent=self.user_agent)
        return _without_empty(wire)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UserData:
        """Read either wire form back; the scalar form is recognised by its singular keys."""
        scalar_keys = {"email_sha256", "external_id_sha256", "country", "city", "zip_code"}
        if scalar_keys & data.keys():
            return cls(
                emails_sha256=_one(data.get("email_sha256")),
                external_ids_sha256=_one(data.get("external_id_sha256")),
                countries=_one(data.get("country")),
                cities=_one(data.get("city")),
                postal_codes=_one(data.get("zip_code")),
                ip_address=data.get("ip_address"),
                user_agent=data.get("user_agent"),
                format="scalar",
            )
        lists: dict[str, Any] = {
            name: tuple(data.get(name) or ()) for name in (*_HASHED_LIST_FIELDS, *_RAW_LIST_FIELDS)
        }
        return cls(
            **lists,
            obref=data.get("obref"),
            ip_address=data.get("ip_address"),
            user_agent=data.get("user_agent"),
        )


@dataclass(frozen=True)
class ConversionEvent:
    """One Conversions API event. `(type, custom_event_name, id)` with the pixel id is the dedup key."""

    id: str
    type: str
    timestamp_ms: int
    data: EventData
    action_source: str = "web"
    source_url: str | None = None
    custom_event_name: str | None = None
    oppref: str | None = None
    user: UserData | None = None
    opt_out: bool = False

    def to_json(self) -> dict[str, Any]:
        """Exactly the wire dict: empty optionals omitted, `opt_out` only when true."""
        wire: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "custom_event_name": self.custom_event_name,
            "timestamp_ms": self.timestamp_ms,
            "action_source": self.action_source,
            "source_url": self.source_url,
            "oppref": self.oppref,
            "user": self.user.to_json() if self.user else None,
            "opt_out": True if self.opt_out else None,
            "data": self.data.to_json(),
        }
        return _without_empty(wire, keep=("data",))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConversionEvent:
        """Rebuild an event from its wire dict (as stored in the ledger)."""
        user = data.get("user")
        return cls(
            id=data.get("id", ""),
            type=data.get("type", ""),
            timestamp_ms=data.get("timestamp_ms", 0),
            data=EventData.from_json(data.get("data") or {}),
            action_source=data.get("action_source", ""),
            source_url=data.get("source_url"),
            custom_event_name=data.get("custom_event_name"),
            oppref=data.get("oppref"),
            user=UserData.from_json(user) if user else None,
            opt_out=bool(data.get("opt_out", False)),
        )

    @property
    def dedup_key(self) -> tuple[str, str, str]:
        """(type, custom_event_name or "", id): with the pixel id, what OpenAI deduplicates on."""
        return (self.type, self.custom_event_name or "", self.id)


def validate_event(event: ConversionEvent, now_ms: int) -> list[str]:
    """Every reason `event` breaks the spec at time `now_ms`; an empty list means valid."""
    errors: list[str] = []
    _check_identifier(errors, "id", event.id)
    expected_data_type = EVENT_DATA_TYPES.get(event.type)
    if expected_data_type is None:
        errors.append(f"type {event.type!r} is not a supported event type")
    _check_timestamp(errors, event.timestamp_ms, now_ms)
    _check_custom_name(errors, event)
    if event.action_source not in ACTION_SOURCES:
        allowed = ", ".join(ACTION_SOURCES)
        errors.append(f"action_source must be one of {allowed}, got {event.action_source!r}")
    if event.source_url is None or event.source_url == "":
        if event.action_source == "web":
            errors.append("source_url is required when action_source is 'web'")
    else:
        _check_url(errors, "source_url", event.source_url)
    if event.oppref is not None:
        _check_text(errors, "oppref", event.oppref)
    if not isinstance(event.opt_out, bool):
        errors.append(f"opt_out must be a boolean, got {event.opt_out!r}")
    _check_data(errors, event, expected_data_type)
    if event.user is not None:
        _check_user(errors, event.user)
    return errors


def _check_identifier(errors: list[str], where: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{where} must be a non-empty string, got {value!r}")
    elif len(value) > MAX_ID_LENGTH:
        errors.append(f"{where} is {len(value)} characters long, at most {MAX_ID_LENGTH} allowed")


def _check_text(errors: list[str], where: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        errors.append(f"{where} must be a non-empty string, got {value!r}")
    elif len(value) > MAX_TEXT_LENGTH:
        errors.append(f"{where} is {len(value)} characters long, at most {MAX_TEXT_LENGTH} allowed")


def _check_url(errors: list[str], where: str, value: object) -> None:
    _check_text(errors, where, value)
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(f"{where} must be an absolute http(s) URL, got {value[:100]!r}")


def _check_timestamp(errors: list[str], timestamp_ms: object, now_ms: int) -> None:
    if not isinstance(timestamp_ms, int) or isinstance(timestamp_ms, bool):
        errors.append(f"timestamp_ms must be an integer of milliseconds, got {timestamp_ms!r}")
    elif timestamp_ms < now_ms - MAX_AGE_MS:
        age_h = (now_ms - timestamp_ms) / 3_600_000
        errors.append(f"timestamp_ms is {age_h:.1f} hours old, older than the 7-day window")
    elif timestamp_ms > now_ms + MAX_FUTURE_MS:
        ahead_s = (timestamp_ms - now_ms) / 1000
        errors.append(f"timestamp_ms is {ahead_s:.0f} seconds in the future, more than the 10-minute limit")


def _check_custom_name(errors: list[str], event: ConversionEvent) -> None:
    name = event.custom_event_name
    if event.type == "custom":
        if not name:
            errors.append("custom_event_name is required when type is 'custom'")
        elif not isinstance(name, str) or not CUSTOM_EVENT_NAME.match(name):
            errors.append(
                f"custom_event_name must be 1-64 letters, digits, '_' or '-', starting and ending with a "
                f"letter or digit, got {name!r}"
            )
    elif name is not None:
        errors.append(f"custom_event_name is only allowed when type is 'custom', got type {event.type!r}")


def _check_data(errors: list[str], event: ConversionEvent, expected: str | None) -> None:
    data = event.data
    if expected is not None and data.type != expected:
        errors.append(f"data.type must be {expected!r} for {event.type}, got {data.type!r}")
    allowed = DATA_TYPE_FIELDS.get(data.type)
    if allowed is None:
        errors.append(f"data.type {data.type!r} is not one of {', '.join(DATA_TYPE_FIELDS)}")
        return
    present = {
        name
        for name, value in (
            ("amount", data.amount),
            ("currency", data.currency),
            ("plan_id", data.plan_id),
            ("contents", data.contents),
        )
        if value not in (None, ())
    }
    for name in sorted(present - allowed):
        errors.append(f"data.{name} is not allowed for data.type {data.type!r}")
    _check_money(errors, "data", data.amount, data.currency)
    if data.plan_id is not None:
        _check_identifier(errors, "data.plan_id", data.plan_id)
    for index, item in enumerate(data.contents):
        where = f"data.contents[{index}]"
        _check_identifier(errors, f"{where}.id", item.id)
        for name in ("name", "content_type"):
            value = getattr(item, name)
            if value is not None:
                _check_text(errors, f"{where}.{name}", value)
        if item.quantity is not None and (
            not isinstance(item.quantity, int) or isinstance(item.quantity, bool) or item.quantity < 1
        ):
            errors.append(f"{where}.quantity must be a positive integer, got {item.quantity!r}")
        _check_money(errors, where, item.amount, item.currency)


def _check_money(errors: list[str], where: str, amount: object, currency: object) -> None:
    if amount is not None:
        if not isinstance(amount, int) or isinstance(amount, bool):
            errors.append(f"{where}.amount must be an integer in the currency's minor unit, got {amount!r}")
        elif amount < 0:
            errors.append(f"{where}.amount must not be negative, got {amount}")
        if currency is None:
            errors.append(f"{where}.currency is required when {where}.amount is present")
    if currency is not None:
        if not isinstance(currency, str) or not CURRENCY_CODE.match(currency):
            errors.append(f"{where}.currency must be three capital letters, got {currency!r}")
        elif not is_known_currency(currency):
            errors.append(f"{where}.currency {currency!r} is not an active ISO 4217 currency")


def _check_user(errors: list[str], user: UserData) -> None:
    if user.format not in USER_FIELD_FORMATS:
        errors.append(f"user format must be one of {', '.join(USER_FIELD_FORMATS)}, got {user.format!r}")
    for name in _HASHED_LIST_FIELDS:
        for index, value in enumerate(getattr(user, name)):
            if not is_sha256_hex(value):
                errors.append(f"user.{name}[{index}] must be 64 lowercase hex characters (SHA-256)")
    for name in (*_HASHED_LIST_FIELDS, *_RAW_LIST_FIELDS):
        values = getattr(user, name)
        if len(values) > MAX_USER_VALUES:
            errors.append(f"user.{name} has {len(values)} values, at most {MAX_USER_VALUES} are used")
    for name in _RAW_LIST_FIELDS:
        for index, value in enumerate(getattr(user, name)):
            _check_text(errors, f"user.{name}[{index}]", value)
    if user.obref is not None:
        _check_text(errors, "user.obref", user.obref)
    if user.user_agent is not None:
        _check_text(errors, "user.user_agent", user.user_agent)
    if user.ip_address is not None:
        try:
            ipaddress.ip_address(user.ip_address)
        except ValueError:
            errors.append(f"user.ip_address must be an IPv4 or IPv6 address, got {user.ip_address!r}")


def _without_empty(wire: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: v for k, v in wire.items() if k in keep or v not in (None, "", [], {})}


def _first(values: tuple[str, ...]) -> str | None:
    return values[0] if values else None


def _one(value: str | None) -> tuple[str, ...]:
    return (value,) if value else ()
