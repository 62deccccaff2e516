"""Salesforce sign-in: JWT bearer, client credentials, an access token, or (dev only) SOAP password."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from connector.crm.base import AuthError, RetryableError

log = logging.getLogger(__name__)

DEFAULT_API_VERSION = "59.0"
"""Salesforce REST API version used unless configured."""

DEFAULT_LOGIN_URL = "https://login.salesforce.com"
"""Where OAuth tokens come from (sandbox: https://test.salesforce.com; client credentials: My Domain)."""

METHODS = ("jwt", "client_credentials", "token", "password")


@dataclass(frozen=True)
class SalesforceAuth:
    """Credentials for one org; which fields are needed depends on `method`."""

    method: str
    login_url: str = DEFAULT_LOGIN_URL
    client_id: str | None = None
    client_secret: str | None = None
    username: str | None = None
    private_key: str | None = None
    private_key_file: str | None = None
    access_token: str | None = None
    instance_url: str | None = None
    password: str | None = None
    security_token: str | None = None
    audience: str | None = None

    def __post_init__(self) -> None:
        needs = {
            "jwt": ("client_id", "username"),
            "client_credentials": ("client_id", "client_secret"),
            "token": ("access_token", "instance_url"),
            "password": ("username", "password"),
        }
        if self.method not in METHODS:
            raise ValueError(f"method: please use one of {', '.join(METHODS)}, got {self.method!r}")
        missing = [name for name in needs[self.method] if not getattr(self, name)]
        if self.method == "jwt" and not (self.private_key or self.private_key_file):
            missing.append("private_key or private_key_file")
        if missing:
            raise ValueError(f"{self.method}: please provide {', '.join(missing)}")

    @property
    def refreshable(self) -> bool:
        return self.method != "token"

    def __repr__(self) -> str:  # never print secrets
        return f"SalesforceAuth(method={self.method!r}, login_url={self.login_url!r}, user={self.username!r})"


def _post_token(auth: SalesforceAuth, session: requests.Session, data: dict[str, str]) -> tuple[str, str]:
    url = auth.login_url.rstrip("/") + "/services/oauth2/token"
    try:
        response = session.post(url, data=data, timeout=30)
    except requests.RequestException as exc:
        raise RetryableError(f"Salesforce login unreachable: {exc}", "CONNECTION", delay=60) from exc
    if response.status_code >= 500:
        raise RetryableError(
            f"Salesforce login failed with {response.status_code}", str(response.status_code)
        )
    body = response.json() if response.content else {}
    if response.status_code != 200:
        raise AuthError(body.get("error_description") or response.text, body.get("error"))
    return body["access_token"], body["instance_url"]


def sign_in(auth: SalesforceAuth, session: requests.Session) -> tuple[str, str]:
    """Obtain (access token, instance URL) for the configured method."""
    if auth.method == "token":
        return str(auth.access_token), str(auth.instance_url)
    if auth.method == "client_credentials":
        return _post_token(
            auth,
            session,
            {
                "grant_type": "client_credentials",
                "client_id": str(auth.client_id),
                "client_secret": str(auth.client_secret),
            },
        )
    if auth.method == "jwt":
        key = auth.private_key or Path(str(auth.private_key_file)).read_text()
        claims = {
            "iss": auth.client_id,
            "sub": auth.username,
            "aud": auth.audience or auth.login_url,
            "exp": int(time.time()) + 180,
        }
        assertion = jwt.encode(claims, key, algorithm="RS256")
        return _post_token(
            auth,
            session,
            {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        )
    log.warning(
        "Salesforce username/password login uses SOAP login(), which Salesforce retires in Summer '27 "
        "and which is off in API 65.0+: use it for development only"
    )
    domain = auth.login_url.removeprefix("https://").removesuffix(".salesforce.com").rstrip("/")
    try:
        sf = Salesforce(
            username=auth.username,
            password=auth.password,
            security_token=auth.security_token or "",
            domain=domain,
            session=session,
        )
    except SalesforceAuthenticationFailed as exc:
        raise AuthError(str(exc), "INVALID_LOGIN") from exc
    return sf.session_id, f"https://{sf.sf_instance}"
