"""Each registered webhook source as the Sources page shows it: the URL to paste, whether its secret is
configured (never the secret), its last delivery, 24-hour counts and recent errors."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

import connector.sources  # noqa: F401  (registers every source)
from connector.admin import traffic
from connector.config import Settings, dev_token_path
from connector.intake import registry
from connector.intake.base import Source
from connector.store.models import Receipt

LABELS = {
    "generic": "Generic form",
    "gravity_forms": "Gravity Forms",
    "contact_form_7": "Contact Form 7",
    "wpforms": "WPForms",
    "elementor": "Elementor Pro",
    "fluent_forms": "Fluent Forms",
    "ninja_forms": "Ninja Forms",
    "formidable": "Formidable Forms",
    "wordpress": "WordPress plugin",
    "calendly": "Calendly",
    "cal_com": "Cal.com",
    "hubspot": "HubSpot stages",
    "salesforce": "Salesforce stages",
    "beacon": "Browser beacons",
}
ORDER = ("forms", "booking", "crm", "beacon")


@dataclass(frozen=True)
class Secret:
    state: str
    """`configured`, `development` (a generated token under the data dir), `missing` or `public`."""
    detail: str
    """Where it comes from (variable or file names, never the value) or what to set."""


@dataclass
class SourceInfo:
    name: str
    kind: str
    label: str
    enabled: bool
    path: str
    url: str | None
    secret: Secret
    needs_public_url: bool
    last_delivery: datetime | None = None
    day: traffic.SourceDay | None = None
    errors: list[Receipt] = field(default_factory=list)


def registered() -> list[Source[Any]]:
    sources = registry.all_sources()
    return sorted(sources, key=lambda s: (ORDER.index(s.kind) if s.kind in ORDER else 9, s.name))


def describe(
    settings: Settings,
    session: Session,
    environ: Mapping[str, str] | None = None,
    with_errors: bool = True,
) -> list[SourceInfo]:
    """Every source, in a stable order, with its URL, secret state, last delivery and 24-hour counts."""
    environ = os.environ if environ is None else environ
    sources = registered()
    names = [s.name for s in sources]
    days = {day.source: day for day in traffic.last_day_by_source(session, names)}
    newest = traffic.last_deliveries(session, names)
    infos = []
    for source in sources:
        path = "/collect" if source.kind == "beacon" else f"/webhooks/{source.kind}/{source.name}"
        base = settings.web.public_url.rstrip("/")
        info = SourceInfo(
            name=source.name,
            kind=source.kind,
            label=LABELS.get(source.name, source.name),
            enabled=(
                settings.collect.enabled if source.kind == "beacon" else settings.source(source.name).enabled
            ),
            path=path,
            url=f"{base}{path}" if base else None,
            secret=secret_state(settings, source, environ),
            needs_public_url=source.signs_public_url,
            last_delivery=newest[source.name],
            day=days.get(source.name),
        )
        if with_errors and info.day is not None and (info.day.failed or info.day.waiting):
            info.errors = traffic.recent_errors(session, source.name)
        infos.append(info)
    return infos


def secret_state(settings: Settings, source: Source[Any], environ: Mapping[str, str]) -> Secret:
    """Whether the source's secret is configured, read without side effects (no token is generated)."""
    if source.kind == "beacon":
        origins = len(settings.collect.allowed_origins)
        if not origins:
            return Secret(
                "missing", "no allowed origins: set collect.allowed_origins (every beacon is refused)"
            )
        return Secret("public", f"public, {origins} allowed origin{'s' * (origins != 1)}")
    conf = settings.source(source.name)
    names = conf.secret_env or ([f"CONNECTOR_{source.name.upper()}_SECRET"] if not conf.secret_file else [])
    set_vars = [name for name in names if environ.get(name, "").strip()]
    files = [f for f in conf.secret_file if _readable(f)]
    if set_vars or files:
        where = ", ".join([*set_vars, *(Path(f).name for f in files)])
        count = len(set_vars) + len(files)
        return Secret("configured", f"{count} secret{'s' * (count > 1)} from {where}")
    if not conf.secret_env and not conf.secret_file and dev_token_path(settings, source.name).exists():
        return Secret(
            "development", f"generated development token in {dev_token_path(settings, source.name)}"
        )
    missing = ", ".join(names + conf.secret_file) or f"CONNECTOR_{source.name.upper()}_SECRET"
    return Secret("missing", f"set {missing}: requests are refused until then")


def _readable(path: str) -> bool:
    try:
        return bool(Path(path).expanduser().read_text().strip())
    except OSError:
        return False
