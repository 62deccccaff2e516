"""Apply the Alembic migrations that ship inside the package."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text
from sqlalchemy.exc import InterfaceError, OperationalError

log = logging.getLogger(__name__)

RETRY_MAX_SECONDS = 10.0
"""Longest wait between two attempts to reach the database at start (seconds); the first is 0.5 s."""

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

MIGRATION_LOCK_KEY = 7_461_003
"""PostgreSQL advisory lock id held while migrating."""


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to `revision`; safe to run on every start, from several processes."""
    if engine.dialect.name == "postgresql":
        # Processes starting together (web + workers) take turns; the others then find nothing to do.
        with engine.connect() as lock_connection:
            lock_connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                command.upgrade(alembic_config(engine), revision)
            finally:
                lock_connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
    else:
        command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_when_reachable(engine: Engine, sleep: Callable[[float], None] = time.sleep) -> None:
    """`upgrade`, waiting with backoff while the database refuses connections or is locked, so that a process
    started during a database outage starts when it ends instead of exiting. Logged once when it starts
    waiting and once when the database is back; any other error is raised at once."""
    delay = 0.5
    waiting = False
    while True:
        try:
            upgrade(engine)
        except (OperationalError, InterfaceError) as exc:
            if not waiting:
                log.error("the database is unreachable (%s): waiting for it", type(exc.orig).__name__)
                waiting = True
            sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)
            continue
        if waiting:
            log.warning("the database is back: starting")
        return
