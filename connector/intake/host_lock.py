"""One group commit at a time per SQLite file, across the web processes of a host, queued in the kernel.

SQLite lets one writer in at a time; a second `BEGIN IMMEDIATE` meets SQLITE_BUSY and its busy handler
sleeps 1, 2, 5, 10 ms... before trying again, however soon the lock was freed. The processes' receipt
writers take an exclusive `flock` on a file beside the database first: a waiting writer is woken the
moment the other commits. Other writers (workers) still queue on SQLite's busy timeout, as before.
PostgreSQL needs none of this (row locks, concurrent commits).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from sqlalchemy import Engine


class HostLock:
    """The commit lock of one SQLite file (a no-op for any other database)."""

    def __init__(self, engine: Engine):
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self.path = f"{database}.intake-lock" if database and database != ":memory:" else None
        self._fd: int | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
