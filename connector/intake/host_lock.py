"""One group commit at a time per database and host, across the web processes, queued in the kernel.

SQLite lets one writer in at a time; a second `BEGIN IMMEDIATE` meets SQLITE_BUSY and its busy handler
sleeps 1, 2, 5, 10 ms... before trying again, however soon the lock was freed. The processes' receipt
writers take an exclusive `flock` on a file beside the database first: a waiting writer is woken the
moment the other commits. Other writers (workers) still queue on SQLite's busy timeout, as before.

PostgreSQL takes concurrent commits, but a commit is over so soon that few requests arrive during it: two
processes committing side by side wrote batches of 3-4 receipts. Taking turns, each process's batch fills
while the other commits (6 per batch), and every receipt costs a share of fewer commits and enqueues; the
wait is no longer than a commit, and none at all when the other process is idle.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine

log = logging.getLogger(__name__)


def lock_path(engine: Engine, data_dir: Path) -> str | None:
    """The lock file of `engine`'s database on this host: beside an SQLite file, in the data dir for a
    server database (named by its address, never its password); None for an in-memory database."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        return f"{database}.intake-lock" if database and database != ":memory:" else None
    url = engine.url
    where = f"{url.get_backend_name()}://{url.username}@{url.host}:{url.port}/{url.database}"
    return str(data_dir / f"intake-{hashlib.sha256(where.encode()).hexdigest()[:16]}.lock")


class HostLock:
    """The commit lock of one database on this host (a no-op when there is no file to lock)."""

    def __init__(self, path: str | None):
        self.path = path
        self._fd: int | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        if self._fd is None:
            try:
                os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:  # e.g. a read-only data dir: commits still work, side by side
                log.warning("no intake commit lock at %s, processes commit side by side: %s", self.path, exc)
                self.path = None
                yield
                return
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
