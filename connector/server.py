"""`connector serve`: the Flask app under gunicorn, with multiprocess-safe metrics."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from connector import broker
from connector.config import Settings
from connector.web.deadline import ReadDeadline


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, redis_url: str, options: dict):
        self.settings = settings
        self.redis_url = redis_url
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # Imported in each gunicorn worker, after the fork: the arbiter itself never needs the app.
        from connector.app import create_app

        return headers_arrived(create_app(self.settings, redis_url=self.redis_url))


_handling = threading.local()
"""The header deadline of the request this worker thread is reading, if any."""


class HeaderDeadlineWorker(ThreadWorker):
    """gunicorn's threaded worker with a deadline on each request's headers. gunicorn waits for a new
    connection's first bytes without holding a thread, but then reads the headers in a thread with no limit:
    a client that trickles them in one byte at a time (slowloris) would hold that thread for good. At the
    deadline the socket's reading side is shut, which ends the read; the app being called (the headers are
    in) lifts the deadline. The body has its own (connector.web.edge.read_body)."""

    header_timeout_seconds = 10.0

    def handle(self, conn: Any) -> Any:
        deadline = _handling.header_deadline = ReadDeadline(conn.sock, self.header_timeout_seconds)
        try:
            return super().handle(conn)
        finally:
            deadline.cancel()
            _handling.header_deadline = None


def headers_arrived(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """The WSGI app, lifting the header deadline of the thread that calls it."""

    def call(environ: dict, start_response: Callable) -> Iterable[bytes]:
        deadline = getattr(_handling, "header_deadline", None)
        if deadline is not None:
            deadline.cancel()
        return app(environ, start_response)

    return call


def _child_exit(_server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def serve_gunicorn(settings: Settings, host: str, port: int, processes: int) -> None:
    """Serve until SIGTERM/SIGINT; gunicorn's own signal handling gives a graceful stop."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = settings.data_path / "metrics" / f"serve-{os.getpid()}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    HeaderDeadlineWorker.header_timeout_seconds = settings.web.header_timeout_seconds  # forked with it
    options = {
        "bind": f"{host}:{port}",
        "workers": processes,
        "threads": settings.web.threads,
        # sync (one thread): gunicorn's own worker timeout restarts a worker a slow client holds
        "worker_class": "connector.server.HeaderDeadlineWorker" if settings.web.threads > 1 else "sync",
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "graceful_timeout": 20,
        "timeout": 30,
        "keepalive": 5,
        "child_exit": _child_exit,
        "proc_name": "connector-web",
    }
    _Gunicorn(settings, broker.redis_url(settings), options).run()
