"""The CRM the settings name: the one place that builds its adapter, with secrets from the environment.

Each process keeps the adapter it built on its Context (`ctx.crm`): the Salesforce token, the describe
cache and the HTTP connections outlive a job, so a warm worker spends no API calls on sign-in or schema.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from connector.config import ConfigError, CrmSettings, Settings
from connector.crm.base import CrmAdapter

Environ = dict[str, str] | os._Environ[str]


def crm_enabled(settings: Settings) -> bool:
    return settings.crm.provider != "none"


def _secret(environ: Environ, name: str, key: str, required: bool) -> str | None:
    value = environ.get(name, "").strip() if name else ""
    if required and not value:
        raise ConfigError(f"{key}: environment variable {name or '(none named)'} is not set")
    return value or None


def _hubspot_token(crm: CrmSettings, environ: Environ) -> str:
    token = _secret(environ, crm.hubspot.token_env, "crm.hubspot.token_env", False)
    if token:
        return token
    if crm.hubspot.token_file:
        try:
            return Path(crm.hubspot.token_file).expanduser().read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"crm.hubspot.token_file: cannot read {crm.hubspot.token_file}: {exc.strerror}"
            ) from None
    raise ConfigError(f"crm.hubspot.token_env: environment variable {crm.hubspot.token_env} is not set")


def _salesforce_auth(crm: CrmSettings, environ: Environ) -> dict[str, Any]:
    sf = crm.salesforce
    method = sf.auth_method
    auth: dict[str, Any] = {"method": method, "login_url": sf.login_url}
    if method in ("jwt", "client_credentials"):
        auth["client_id"] = _secret(environ, sf.client_id_env, "crm.salesforce.client_id_env", True)
    if method == "client_credentials":
        auth["client_secret"] = _secret(
            environ, sf.client_secret_env, "crm.salesforce.client_secret_env", True
        )
    if method in ("jwt", "password"):
        if not sf.username:
            raise ConfigError(f"crm.salesforce.username: required for auth_method = {method!r}")
        auth["username"] = sf.username
    if method == "jwt":
        if not sf.private_key_file or not Path(sf.private_key_file).expanduser().is_file():
            raise ConfigError(f"crm.salesforce.private_key_file: cannot read {sf.private_key_file!r}")
        auth["private_key_file"] = str(Path(sf.private_key_file).expanduser())
    if method == "token":
        auth["access_token"] = _secret(environ, sf.access_token_env, "crm.salesforce.access_token_env", True)
        if not sf.instance_url:
            raise ConfigError('crm.salesforce.instance_url: required for auth_method = "token"')
        auth["instance_url"] = sf.instance_url
    if method == "password":
        auth["password"] = _secret(environ, sf.password_env, "crm.salesforce.password_env", True)
    return auth


def _hubspot(crm: CrmSettings, environ: Environ) -> CrmAdapter:
    # Imported when built: the client library costs about 0.2 s, which a web process never needs.
    from connector.crm.hubspot import HubSpotAdapter

    return HubSpotAdapter(
        access_token=_hubspot_token(crm, environ),
        host=crm.hubspot.host,
        property_group=crm.hubspot.property_group,
        timeout=crm.hubspot.timeout_seconds,
    )


def _salesforce(crm: CrmSettings, environ: Environ) -> CrmAdapter:
    # Imported when built: simple-salesforce costs about 0.5 s, which a web process never needs.
    from connector.crm.salesforce import SalesforceAdapter
    from connector.crm.salesforce_auth import SalesforceAuth

    session = requests.Session()
    if crm.salesforce.ca_file:
        # requests lets REQUESTS_CA_BUNDLE override Session.verify unless trust_env is off
        session.trust_env = False
        session.verify = crm.salesforce.ca_file
    return SalesforceAdapter(
        SalesforceAuth(**_salesforce_auth(crm, environ)),
        api_version=crm.salesforce.api_version,
        session=session,
        timeout=crm.salesforce.timeout_seconds,
    )


ADAPTERS: dict[str, Callable[[CrmSettings, Environ], CrmAdapter]] = {
    "hubspot": _hubspot,
    "salesforce": _salesforce,
}
"""Every CRM adapter by the name `crm.provider` and the mappings' `crm = ...` use."""


def build_adapter(settings: Settings, environ: dict[str, str] | None = None) -> CrmAdapter:
    """A new adapter for `crm.provider`, with secrets from the environment; ConfigError names the key."""
    factory = ADAPTERS.get(settings.crm.provider)
    if factory is None:
        raise ConfigError('crm.provider: no CRM configured (provider = "none")')
    return factory(settings.crm, os.environ if environ is None else environ)
