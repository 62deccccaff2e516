"""PostgreSQL drops the pooled connections (a restart, a failover, a proxy): the next webhook is still stored.

Connections are not pinged on every checkout; one idle for a while is pinged, and a group commit that meets a
connection dropped under it is written once more on a new one.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from connector.store.db import PING_AFTER_IDLE_SECONDS
from connector.store.models import Receipt
from tests.conftest import TOKEN

URL = "/webhooks/forms/generic"
AUTH = {"X-Connector-Token": TOKEN}


def drop_connections(database_url: str) -> int:
    """What a database restart does to every connection of ours: end their server processes."""
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.connect() as connection:
        dropped = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    engine.dispose()
    return int(dropped or 0)


@pytest.fixture
def postgresql(database_url):  # type: ignore[no-untyped-def]
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: a SQLite file has no connections to drop")
    return database_url


def post(client, n: int):  # type: ignore[no-untyped-def]
    return client.post(URL, json={"email": f"a{n}@example.com", "event_id": f"evt-{n}"}, headers=AUTH)


@pytest.mark.parametrize("idle", [0.0, PING_AFTER_IDLE_SECONDS + 0.2], ids=["at-once", "after-idle"])
def test_the_webhook_after_the_database_dropped_our_connections_is_stored(client, ctx, postgresql, idle):
    assert post(client, 1).status_code == 200
    assert drop_connections(postgresql) >= 1
    time.sleep(idle)
    answer = post(client, 2)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "accepted"
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Receipt)) == 2
