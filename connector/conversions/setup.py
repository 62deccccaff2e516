"""From `[conversions]` settings to what the builder and the sender need: pixel routing, key, rules."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import cast

from connector.config import ConversionsSettings, PixelSettings, Settings
from connector.conversions.builder import ConversionSettings
from connector.conversions.retry import RetryPolicy
from connector.conversions.sender import SenderSettings
from connector.events.form_rules import ConversionRules
from connector.events.model import UserFieldFormat


def pixel_for_source(conf: ConversionsSettings, source: str) -> PixelSettings | None:
    """The pixel that names `source` (`<kind>/<name>`), else the default pixel, else None."""
    default = None
    for pixel in conf.pixels.values():
        if source in pixel.sources:
            return pixel
        if not pixel.sources:
            default = pixel
    return default


def pixel_by_id(conf: ConversionsSettings, pixel_id: str) -> PixelSettings | None:
    return next((p for p in conf.pixels.values() if p.pixel_id == pixel_id), None)


def api_key(
    conf: ConversionsSettings, pixel: PixelSettings | None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The pixel's Conversions API key from the environment; None means dry run."""
    environ = os.environ if environ is None else environ
    name = (pixel.api_key_env if pixel else "") or conf.api_key_env
    return environ.get(name, "").strip() or None


def builder_settings(conf: ConversionsSettings) -> ConversionSettings:
    return ConversionSettings(
        send_user_data=conf.send_user_data,
        send_ip_and_user_agent=conf.send_ip_and_user_agent,
        # The loader accepts only the UserFieldFormat values (config: "user_field_format" choices).
        user_field_format=cast(UserFieldFormat, conf.user_field_format),
        require_consent=conf.require_consent,
        unknown_consent=conf.unknown_consent,
    )


def conversion_rules(settings: Settings) -> ConversionRules:
    """The parsed rules (already validated when the settings were loaded; parsing is cheap)."""
    return ConversionRules.from_mapping(settings.conversions.rules)


def sender_settings(
    conf: ConversionsSettings, key: str, *, validate_only: bool | None = None
) -> SenderSettings:
    return SenderSettings(
        api_key=key,
        endpoint=conf.endpoint,
        validate_only=conf.validate_only if validate_only is None else validate_only,
        integration_source=conf.integration_source or None,
        timeout_s=float(conf.timeout_seconds),
        connect_timeout_s=float(min(5, conf.timeout_seconds)),
        max_events_per_request=conf.batch_max_events,
    )


def retry_policy(conf: ConversionsSettings) -> RetryPolicy:
    return RetryPolicy(base_s=float(conf.retry_base_seconds), max_s=float(conf.retry_max_seconds))
