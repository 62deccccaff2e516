"""Migrated empty ledgers, made once per test session and copied into each test's fresh database.

Migrating an empty ledger per test (every revision from 0001, on both databases) took about half of the
suite's time. A test that uses `ctx` gets its fresh database as a copy of this one: a SQLite file copy, a
PostgreSQL `CREATE DATABASE ... TEMPLATE`. `ctx` still runs the migrations, which then find nothing to do;
tests of the migrations themselves (no `ctx`) keep getting an empty database.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from connector.store.migrate import upgrade

DROP_BACKLOG = 4
"""Most used PostgreSQL databases waiting to be dropped."""


class LedgerTemplates:
    """One migrated ledger per database kind, made on first use; and the dropping of used PostgreSQL
    databases, in a thread of its own (a DROP DATABASE takes one to three seconds here, which the next test
    need not wait for). At most DROP_BACKLOG wait: beyond that a test waits for a drop, so a burst of
    short tests never leaves hundreds of databases behind for the session's end."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.sqlite_file: Path | None = None
        self.postgresql_name: str | None = None
        self.admin: Any = None
        self.to_drop: queue.Queue[str | None] = queue.Queue(maxsize=DROP_BACKLOG)
        self.dropper: threading.Thread | None = None

    def drop_later(self, name: str) -> None:
        """Drop database `name` (its sessions ended by FORCE) without making the caller wait."""
        if self.dropper is None:
            self.dropper = threading.Thread(target=self._drop_each, name="drop-test-databases", daemon=True)
            self.dropper.start()
        self.to_drop.put(name)

    def _drop_each(self) -> None:
        while (name := self.to_drop.get()) is not None:
            with self.admin_engine().connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def copy_to_sqlite(self, path: Path) -> None:
        shutil.copyfile(self._sqlite(), path)

    def create_postgresql(self, admin: Any, name: str) -> None:
        """Create database `name` (which must not exist yet) as a copy of the migrated template."""
        template = self._postgresql(admin)
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

    def fill(self, database_url: str) -> None:
        """Replace the (empty) database at `database_url` with a copy of the migrated template."""
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":
            assert url.database
            self.copy_to_sqlite(Path(url.database))
            return
        admin = self.admin_engine()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
        self.create_postgresql(admin, str(url.database))

    def _sqlite(self) -> Path:
        if self.sqlite_file is None:
            path = self.directory / "template.db"
            engine = create_engine(f"sqlite:///{path}")
            upgrade(engine)
            engine.dispose()
            self.sqlite_file = path
        return self.sqlite_file

    def admin_engine(self) -> Any:
        if self.admin is None:
            base = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
            self.admin = create_engine(base, isolation_level="AUTOCOMMIT")
        return self.admin

    def _postgresql(self, admin: Any) -> str:
        if self.postgresql_name is None:
            name = f"connector_test_template_{uuid.uuid4().hex[:8]}"
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            engine = create_engine(admin.url.set(database=name))
            upgrade(engine)
            engine.dispose()  # a template must have no open sessions
            self.postgresql_name = name
        return self.postgresql_name

    def close(self) -> None:
        if self.dropper is not None:
            self.to_drop.put(None)
            self.dropper.join()
        if self.postgresql_name is not None:
            with self.admin_engine().connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.postgresql_name}" WITH (FORCE)'))
        if self.admin is not None:
            self.admin.dispose()
