"""Engine and session set-up for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import time

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from connector.config import Settings

SQLITE_BEGIN = "BEGIN IMMEDIATE"
"""How every SQLite transaction starts: with the write lock, so writers queue on the busy timeout instead of
failing with "database is locked" when a read transaction would upgrade."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another process's write lock (milliseconds)."""


def make_engine(settings: Settings) -> Engine:
    """Create the engine for the configured database; SQLite gets WAL and a busy timeout."""
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.data_path.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, hide_parameters=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        _configure_sqlite(engine, settings.sqlite_synchronous)
        return engine
    engine = create_engine(url, hide_parameters=True, pool_size=5, max_overflow=10, pool_recycle=3600)
    _ping_idle_connections(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled connection idle longer than this is pinged before use (seconds). A busy process takes its
connections back within milliseconds and so makes no extra round trip per checkout (which
`pool_pre_ping` would); one that waited out an outage finds the dropped connections and gets new ones."""


def _ping_idle_connections(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool then connects anew (and retries the checkout)
            raise DisconnectionError(f"pooled connection dropped: {exc}") from exc
        if not alive:
            raise DisconnectionError("pooled connection dropped")


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # pysqlite's own transaction handling defers BEGIN; we issue SQLITE_BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql(SQLITE_BEGIN)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
