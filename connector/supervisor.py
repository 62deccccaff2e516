"""`connector run`: web + workers (+ embedded Redis) as child processes, each restarted when it exits (with
backoff), all stopped together on SIGTERM or SIGINT."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

from connector import broker
from connector.config import Settings

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 20
"""How long children get to finish their current request or job after SIGTERM (seconds)."""

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child process: ask Linux to send SIGTERM when the parent dies, so nothing is orphaned."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


RESTART_DELAYS_SECONDS = (0.5, 1, 2, 5, 10, 30)
"""Waits before restarting a child that exited, growing while it keeps exiting soon after each start."""

STABLE_AFTER_SECONDS = 60
"""A child that ran this long before exiting starts again after the shortest wait."""


class Child:
    """One supervised command: its current process, and when to start it again after it exited."""

    def __init__(self, command: list[str], env: dict[str, str]):
        self.command = command
        self.env = env
        self.name = command[3]
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.quick_exits = 0
        self.restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, env=self.env, start_new_session=True, preexec_fn=die_with_parent
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    def check(self, now: float) -> None:
        """Start it again when it has exited and its wait is over; schedule that wait when it just exited."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                log.info("restarting %s", self.name)
                self.start()
            return
        if self.process is None or self.process.poll() is None:
            return
        ran = now - self.started_at
        self.quick_exits = 0 if ran >= STABLE_AFTER_SECONDS else self.quick_exits + 1
        delay = RESTART_DELAYS_SECONDS[min(self.quick_exits, len(RESTART_DELAYS_SECONDS) - 1)]
        log.error(
            "%s (pid %s) exited with %s after %.0f s; restarting it in %s s",
            self.name,
            self.process.pid,
            self.process.returncode,
            ran,
            delay,
        )
        self.restart_at = now + delay


def run_all(
    settings: Settings, config_path: str | None, workers: int, host: str | None, port: int | None
) -> int:
    """Start everything, restart a child that exits (with backoff), stop everything on a signal."""
    env = dict(os.environ)
    env["REDIS_URL"] = broker.redis_url(settings)
    if config_path:
        env["CONNECTOR_CONFIG"] = os.path.abspath(config_path)
    metrics_dir = settings.data_path / "metrics" / f"run-{os.getpid()}"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    base = [sys.executable, "-m", "connector"]
    web = [*base, "serve", "--processes", str(max(1, min(settings.web.processes, 2)))]
    if host:
        web += ["--host", host]
    if port:
        web += ["--port", str(port)]
    children = [Child(cmd, env) for cmd in [web] + [[*base, "worker"] for _ in range(workers)]]
    stopping = False

    def _on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    for child in children:
        child.start()
    log.info(
        "connector running: web on http://%s:%s, %s worker(s), redis %s",
        host or settings.web.host,
        port or settings.web.port,
        workers,
        "embedded" if not settings.redis_url else "external",
    )
    try:
        while not stopping:
            now = time.monotonic()
            for child in children:
                child.check(now)
            time.sleep(0.2)
    finally:
        _stop([child.process for child in children if child.process is not None])
        broker.stop_embedded_redis()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    log.info("connector stopped")
    return 0


def _stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("child %s did not stop in time; killing it", child.pid)
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
