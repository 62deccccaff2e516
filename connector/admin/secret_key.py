"""The key that signs console session cookies: CONNECTOR_ADMIN_SECRET_KEY, or in development a key
generated once under the data directory (readable only by its owner), like the generic source's token."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from connector.config import Settings, generated_secret

log = logging.getLogger(__name__)

ENV_SECRET_KEY = "CONNECTOR_ADMIN_SECRET_KEY"


def key_path(settings: Settings) -> Path:
    return settings.data_path / "secrets" / "admin_session.key"


def session_secret_key(settings: Settings, environ: dict[str, str] | None = None) -> str:
    value = (os.environ if environ is None else environ).get(ENV_SECRET_KEY, "").strip()
    if value:
        return value
    path = key_path(settings)
    if settings.web.public_url.startswith("https://"):
        log.warning(
            "%s is not set: console sessions are signed with the key generated in %s (set it, the same "
            "for every web process, in production)",
            ENV_SECRET_KEY,
            path,
        )
    return generated_secret(path, 48)
