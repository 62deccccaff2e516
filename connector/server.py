"""`connector serve`: the Flask app under gunicorn, with multiprocess-safe metrics."""

from __future__ import annotations

import os
import shutil

from gunicorn.app.base import BaseApplication

from connector import broker
from connector.config import Settings


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

        return create_app(self.settings, redis_url=self.redis_url)


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
    options = {
        "bind": f"{host}:{port}",
        "workers": processes,
        "threads": settings.web.threads,
        "worker_class": "gthread" if settings.web.threads > 1 else "sync",
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
