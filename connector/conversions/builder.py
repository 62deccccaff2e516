"""Build one Conversions API event from a submission, applying the rules, consent and user-data settings.

Consent (the attribution `consent` field: granted / denied / unknown, absent = unknown):
- granted: the event is sent; hashed user data and IP/user agent go only if the admin enabled them.
- denied with `require_consent` (default): no event; a Skip says why.
- denied without `require_consent` (the admin relies on another legal basis for measurement): the event is
  sent anonymously, with no user data, no IP/user agent, and `opt_out: true`, because "denied" means the
  visitor refused marketing use, which includes personalization.
- unknown: treated as `settings.unknown_consent` ("denied" by default, so silence is never consent).
- not_required: the site has no consent platform and its script's consent mode measures without one (the
  browser fired the pixel): treated as granted, so the server event matches the pixel's.
The caller may also pass `personalization_opt_out=True` for an explicit signal (e.g. a `Sec-GPC: 1`
header on the beacon): the event then carries `opt_out: true` whatever the consent.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.attribution import Attribution, Contact
from connector.events.form_rules import ConversionRule, ConversionRules
from connector.events.hashing import (
    InvalidUserField,
    hash_email,
    hash_external_id,
    hash_name,
    hash_phone,
)
from connector.events.model import (
    EVENT_DATA_TYPES,
    MAX_AGE_MS,
    MAX_FUTURE_MS,
    USER_FIELD_FORMATS,
    ConversionEvent,
    EventData,
    UserData,
    UserFieldFormat,
)

logger = logging.getLogger(__name__)

EVENT_ID_NAMESPACE = uuid.UUID("6f1c0a52-3b8e-5d47-9a0e-2c4f1b7d9e31")
"""uuid5 namespace for ids derived from (source, delivery key) when a submission has no event_id."""

CONSENT_CHOICES = ("granted", "denied")
"""What an `unknown` consent may be treated as."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ConversionSettings:
    """Admin settings that shape every conversion built."""

    send_user_data: bool = True
    send_ip_and_user_agent: bool = False
    user_field_format: UserFieldFormat = "list"
    require_consent: bool = True
    unknown_consent: str = "denied"

    def __post_init__(self) -> None:
        if self.user_field_format not in USER_FIELD_FORMATS:
            raise ValueError(
                f"user_field_format: expected one of {', '.join(USER_FIELD_FORMATS)}, "
                f"got {self.user_field_format!r}"
            )
        if self.unknown_consent not in CONSENT_CHOICES:
            raise ValueError(
                f"unknown_consent: expected one of {', '.join(CONSENT_CHOICES)}, got {self.unknown_consent!r}"
            )


@dataclass(frozen=True)
class Conversion:
    """A built event for one pixel, with notes on what was left out (never personal data)."""

    pixel_id: str
    event: ConversionEvent
    notes: tuple[str, ...] = ()

    @property
    def ledger_key(self) -> tuple[str, str, str, str]:
        """(pixel id, type, custom_event_name or "", id): the exactly-once key."""
        return (self.pixel_id, *self.event.dedup_key)


@dataclass(frozen=True)
class Skip:
    """No event for this submission; `code` is stable for metrics, `reason` is for the operator."""

    code: str
    reason: str
    notes: tuple[str, ...] = field(default=())


def derived_event_id(source: str, delivery_key: str) -> str:
    """A deterministic id for a submission without an event_id: uuid5 of (source, delivery key)."""
    if not source or not delivery_key:
        raise ValueError("source and delivery_key are both needed to derive an event id")
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{source}\n{delivery_key}"))


def conversion_timestamp_ms(attribution: Attribution, received_at: datetime) -> int:
    """When the visitor submitted: `submitted_at` when parseable and within 7 days before / 10 minutes
    after `received_at`, else `received_at` itself."""
    received = _aware(received_at)
    received_ms = _to_ms(received)
    submitted = _parse_instant(attribution.get("submitted_at"))
    if submitted is not None:
        submitted_ms = _to_ms(submitted)
        if received_ms - MAX_AGE_MS <= submitted_ms <= received_ms + MAX_FUTURE_MS:
            return submitted_ms
        logger.info(
            "submitted_at %s implausible against received_at %s; using received_at", submitted, received
        )
    return received_ms


def build_conversion(
    attribution: Attribution,
    contact: Contact,
    *,
    source: str,
    form_id: str | None,
    delivery_key: str,
    received_at: datetime,
    pixel_id: str,
    rules: ConversionRules,
    settings: ConversionSettings | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
    external_id: str | None = None,
    personalization_opt_out: bool = False,
) -> Conversion | Skip:
    """The conversion a submission produces, or a Skip with the reason. The event is not validated here:
    the caller runs `validate_event` before queueing (and the sender again at send time)."""
    settings = settings or ConversionSettings()
    rule = rules.rule_for(source, form_id)
    if not rule.produces_event:
        return Skip("rule_none", f"the conversion rule for source {source!r} form {form_id!r} is 'none'")
    consent = attribution.get("consent") or "unknown"
    effective = {"unknown": settings.unknown_consent, "not_required": "granted"}.get(consent, consent)
    if effective != "granted" and settings.require_consent:
        return Skip("no_consent", f"no marketing consent (consent={consent!r}) and require_consent is on")
    notes: list[str] = []
    user: UserData | None = None
    if effective == "granted":
        user = _user_data(contact, settings, ip_address, user_agent, external_id, notes)
    event_id = attribution.event_id or derived_event_id(source, delivery_key)
    event = ConversionEvent(
        id=event_id,
        type="custom" if rule.event == "custom" else rule.event,
        custom_event_name=rule.custom_event_name,
        timestamp_ms=conversion_timestamp_ms(attribution, received_at),
        action_source="web",
        source_url=attribution.get("conversion_page") or attribution.get("latest_landing_page"),
        oppref=attribution.oppref,
        user=user,
        opt_out=personalization_opt_out or effective != "granted",
        data=_event_data(rule),
    )
    logger.debug("built %s event_id=%s source=%s form=%s", event.type, event.id, source, form_id)
    return Conversion(pixel_id=pixel_id, event=event, notes=tuple(notes))


def _event_data(rule: ConversionRule) -> EventData:
    data_type = EVENT_DATA_TYPES[rule.event]
    return EventData(
        type=data_type,
        amount=rule.minor_amount(),
        currency=rule.currency,
        plan_id=rule.plan_id,
    )


def _user_data(
    contact: Contact,
    settings: ConversionSettings,
    ip_address: str | None,
    user_agent: str | None,
    external_id: str | None,
    notes: list[str],
) -> UserData | None:
    hashed: dict[str, Any] = {}  # UserData keyword arguments: field name -> tuple of hashes
    if settings.send_user_data:
        first, last = contact.first_name, contact.last_name
        if not first and not last and contact.name:
            # A single "name" field: first word as first name, last word (if any) as last name.
            words = contact.name.split()
            first, last = words[0], (words[-1] if len(words) > 1 else None)
        for wire_name, raw, hasher in (
            ("emails_sha256", contact.email, hash_email),
            ("phone_numbers_sha256", contact.phone, hash_phone),
            ("first_names_sha256", first, hash_name),
            ("last_names_sha256", last, hash_name),
            ("external_ids_sha256", external_id, hash_external_id),
        ):
            if not raw:
                continue
            try:
                hashed[wire_name] = (hasher(raw),)
            except InvalidUserField as exc:
                notes.append(f"{wire_name} left out: {exc}")
    if settings.user_field_format == "scalar":
        for wire_name in ("phone_numbers_sha256", "first_names_sha256", "last_names_sha256"):
            if wire_name in hashed:
                notes.append(f"{wire_name} not sent: the scalar user format has no such field")
    send_raw = settings.send_ip_and_user_agent
    user = UserData(
        **hashed,
        ip_address=(ip_address or None) if send_raw else None,
        user_agent=(user_agent or None) if send_raw else None,
        format=settings.user_field_format,
    )
    return None if user.is_empty() else user


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _to_ms(moment: datetime) -> int:
    # Integer arithmetic on timedeltas: float timestamps lose the last millisecond now and then.
    return (_aware(moment) - _EPOCH) // timedelta(milliseconds=1)


def _parse_instant(text: str | None) -> datetime | None:
    """ISO 8601 (naive = UTC), or epoch seconds / milliseconds as digits."""
    if not text:
        return None
    text = text.strip()
    if text.isdigit():
        number = int(text)
        seconds = number / 1000 if number > 10**11 else number
        try:
            return _EPOCH + timedelta(seconds=seconds)
        except OverflowError:
            return None
    try:
        return _aware(datetime.fromisoformat(text))
    except ValueError:
        return None
