"""The CRM the settings name: its adapter (secrets read from the environment) and the loaded mappings.

One adapter per process: it keeps the Salesforce token, the describe cache and the HTTP connections
across jobs, so a warm worker spends no API calls on sign-in or schema.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import requests

from connector.config import ConfigError, CrmSettings, Settings
from connector.crm.base import CrmAdapter
from connector.crm.registry import create_adapter
from connector.mapping import MappingSet, load_mappings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_adapters: dict[int, tuple[Settings, CrmAdapter]] = {}
_mappings: dict[str, MappingSet] = {}


def crm_enabled(settings: Settings) -> bool:
    return settings.crm.provider != "none"


def _secret(environ: dict[str, str] | os._Environ[str], name: str, key: str, required: bool) -> str | None:
    value = environ.get(name, "").strip() if name else ""
    if required and not value:
        raise ConfigError(f"{key}: environment variable {name or '(none named)'} is not set")
    return value or None


def _hubspot_token(crm: CrmSettings, environ: dict[str, str] | os._Environ[str]) -> str:
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


def _salesforce_auth(crm: CrmSettings, environ: dict[str, str] | os._Environ[str]) -> dict[str, object]:
    sf = crm.salesforce
    method = sf.auth_method
    auth: dict[str, object] = {"method": method, "login_url": sf.login_url}
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


def build_adapter(settings: Settings, environ: dict[str, str] | None = None) -> CrmAdapter:
    """A new adapter for `crm.provider`, with secrets from the environment; ConfigError names the key."""
    env = os.environ if environ is None else environ
    crm = settings.crm
    if crm.provider == "hubspot":
        return create_adapter(
            "hubspot",
            access_token=_hubspot_token(crm, env),
            host=crm.hubspot.host,
            property_group=crm.hubspot.property_group,
            timeout=crm.hubspot.timeout_seconds,
        )
    if crm.provider == "salesforce":
        session = requests.Session()
        if crm.salesforce.ca_file:
            # requests lets REQUESTS_CA_BUNDLE override Session.verify unless trust_env is off
            session.trust_env = False
            session.verify = crm.salesforce.ca_file
        return create_adapter(
            "salesforce",
            auth=_salesforce_auth(crm, env),
            api_version=crm.salesforce.api_version,
            session=session,
            timeout=crm.salesforce.timeout_seconds,
        )
    raise ConfigError('crm.provider: no CRM configured (provider = "none")')


def crm_adapter(settings: Settings) -> CrmAdapter:
    """This process's adapter for the settings (built once, reused by every job)."""
    with _lock:
        held = _adapters.get(id(settings))
        # The settings are kept with their adapter: a freed object's id may be reused by other settings.
        if held is None or held[0] is not settings:
            held = _adapters[id(settings)] = (settings, build_adapter(settings))
            log.info("crm adapter ready: %s", settings.crm.provider)
        return held[1]


def crm_mappings(settings: Settings) -> MappingSet:
    """The mapping files of `crm.mappings_path`, loaded and validated once per process."""
    path = str(Path(settings.crm.mappings_path).expanduser().resolve())
    with _lock:
        if path not in _mappings:
            _mappings[path] = load_mappings(path)
        return _mappings[path]
