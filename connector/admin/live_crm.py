"""The live CRM as the console's Mappings and Stage rules pages see it: a describe at most a minute old.

The console keeps an adapter of its own: the web process's `ctx.crm` caches each describe for the life of
the process, but a page that says "exists" or "missing" must notice a field created since. Reviews and
saves ask for a fresh one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import current_app

from connector.config import ConfigError
from connector.context import Context
from connector.crm.base import CrmAdapter
from connector.crm.configured import build_adapter
from connector.errors import ConnectorError
from connector.mapping.schema import ObjectSchema

log = logging.getLogger(__name__)

MAX_AGE_SECONDS = 60.0
"""How old a describe the pages show may be (seconds)."""

CRM_NAMES = {"hubspot": "HubSpot", "salesforce": "Salesforce", "none": "CRM"}


def crm_name(provider: str) -> str:
    """The CRM as people write it (template filter `crm_name`)."""
    return CRM_NAMES.get(provider, provider)


@dataclass
class _Held:
    adapter: CrmAdapter
    built_at: float


class CrmUnavailable(Exception):
    """The CRM is not configured, not reachable, or refused the credentials; the message says which."""


def adapter(ctx: Context, fresh: bool = False) -> CrmAdapter:
    """The console's adapter, rebuilt (so its describe cache is empty) when `fresh` or over a minute old."""
    if not ctx.crm_enabled:
        raise CrmUnavailable('no CRM is configured (crm.provider = "none")')
    state = current_app.extensions.setdefault("connector_admin", {})
    held: _Held | None = state.get("live_crm")
    if fresh or held is None or time.monotonic() - held.built_at > MAX_AGE_SECONDS:
        try:
            held = _Held(build_adapter(ctx.settings), time.monotonic())
        except (ConfigError, ValueError) as exc:
            raise CrmUnavailable(f"crm {ctx.settings.crm.provider}: {exc}") from None
        state["live_crm"] = held
    return held.adapter


def describe(ctx: Context, object_name: str, fresh: bool = False) -> ObjectSchema:
    """The object's fields in the live CRM; CrmUnavailable says why not."""
    try:
        return adapter(ctx, fresh).describe(object_name)
    except ConnectorError as exc:
        log.warning("live schema of %s not read: %s", object_name, exc)
        raise CrmUnavailable(f"{ctx.settings.crm.provider} {object_name}: {exc}") from None
