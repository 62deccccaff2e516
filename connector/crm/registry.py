"""The explicit registry of CRM adapters: name -> factory taking keyword settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector.crm.base import CrmAdapter


def _hubspot(**settings: Any) -> CrmAdapter:
    from connector.crm.hubspot import HubSpotAdapter

    return HubSpotAdapter(**settings)


def _salesforce(**settings: Any) -> CrmAdapter:
    from connector.crm.salesforce import SalesforceAdapter
    from connector.crm.salesforce_auth import SalesforceAuth

    auth = settings.pop("auth")
    return SalesforceAdapter(auth if isinstance(auth, SalesforceAuth) else SalesforceAuth(**auth), **settings)


ADAPTERS: dict[str, Callable[..., CrmAdapter]] = {"hubspot": _hubspot, "salesforce": _salesforce}
"""Every CRM adapter by the name mappings use in `crm = ...`."""


def create_adapter(crm: str, **settings: Any) -> CrmAdapter:
    """Build the adapter for `crm`; settings are the adapter's constructor arguments."""
    try:
        factory = ADAPTERS[crm]
    except KeyError:
        raise ValueError(f"crm: please use one of {', '.join(ADAPTERS)}, got {crm!r}") from None
    return factory(**settings)
