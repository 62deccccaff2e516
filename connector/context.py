"""The shared clients one process needs: settings, database, Redis and the job queue.

The web app keeps its Context in `app.extensions`; a worker installs one for its jobs. Nothing connects
until first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from redis import Redis
from rq import Queue
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connector import broker
from connector.config import Settings
from connector.store.db import make_engine, make_session_factory


@dataclass
class Context:
    settings: Settings
    _redis_url: str | None = field(default=None, repr=False)

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

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
        if "redis" in self.__dict__:
            self.redis.close()


_current: Context | None = None


def install(context: Context) -> None:
    """Make `context` the one jobs in this process use."""
    global _current
    _current = context


def current() -> Context:
    if _current is None:
        raise RuntimeError("no connector context installed: jobs run inside `connector worker`")
    return _current
