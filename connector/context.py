"""The shared clients one process needs: settings, database, Redis, the job queue, the CRM and mappings.

The web app keeps its Context in `app.extensions`; a worker installs one for its jobs. Nothing connects
until first use; what is built once (the CRM adapter with its token and schema cache, the mapping files)
lives here, so it lives exactly as long as the process's settings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from redis import Redis
from rq import Queue
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connector import broker
from connector.config import Settings
from connector.crm.base import CrmAdapter
from connector.crm.configured import build_adapter
from connector.mapping import MappingError, MappingSet, files_fingerprint, load_mappings
from connector.store.db import make_engine, make_session_factory

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Context:
    settings: Settings
    _redis_url: str | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @cached_property
    def redis(self) -> Redis:
        return broker.connect(self._redis_url or broker.redis_url(self.settings))

    @cached_property
    def queue(self) -> Queue:
        return Queue(self.settings.jobs.queue, connection=self.redis)

    @property
    def crm_enabled(self) -> bool:
        return self.settings.crm.provider != "none"

    @property
    def crm(self) -> CrmAdapter:
        """This process's adapter for `crm.provider` (built once, reused by every job)."""
        with self._lock:
            if "_crm" not in self.__dict__:
                self.__dict__["_crm"] = build_adapter(self.settings)
                log.info("crm adapter ready: %s", self.settings.crm.provider)
            adapter: CrmAdapter = self.__dict__["_crm"]
            return adapter

    @property
    def mappings(self) -> MappingSet:
        """The mapping files of `crm.mappings_path`, loaded again when one of them changes on disk.

        A change (the admin console's save replaces a file) is seen by a few `stat` calls per use; a
        changed set that no longer loads keeps the previous one, logged, so a bad hand edit stops nothing.
        """
        path = Path(self.settings.crm.mappings_path).expanduser().resolve()
        with self._lock:
            seen = files_fingerprint(path)
            if "_mappings" not in self.__dict__:
                self.__dict__["_mappings"] = load_mappings(path)
            elif self.__dict__.get("_mappings_seen") != seen:
                try:
                    self.__dict__["_mappings"] = load_mappings(path)
                    log.info("mappings reloaded from %s", path)
                    # A changed mapping may write a field created since (the console's "create missing
                    # fields"): the adapter reads the CRM's describe again for its length.
                    if "_crm" in self.__dict__:
                        self.__dict__["_crm"].forget_schemas()
                except MappingError as exc:
                    log.error(
                        "mappings in %s changed but do not load; keeping the previous ones: %s", path, exc
                    )
            self.__dict__["_mappings_seen"] = seen
            mappings: MappingSet = self.__dict__["_mappings"]
            return mappings

    def kept(self, name: str, build: Callable[[Context], T]) -> T:
        """The object `build` makes for this context, made once and kept under `name` (the intake's
        group commit, its pusher): every thread of the process shares it."""
        kept: T | None = self.__dict__.get(name)
        if kept is None:
            with _kept_lock:
                kept = self.__dict__.get(name)
                if kept is None:
                    kept = self.__dict__[name] = build(self)
        return kept

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
        if "redis" in self.__dict__:
            self.redis.close()


_kept_lock = threading.Lock()
"""Held while a kept object is built (its own lock: a build may connect, and must not hold up `crm`)."""

_current: Context | None = None


def install(context: Context) -> None:
    """Make `context` the one jobs in this process use."""
    global _current
    _current = context


def current() -> Context:
    if _current is None:
        raise RuntimeError("no connector context installed: jobs run inside `connector worker`")
    return _current
