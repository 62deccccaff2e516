"""`connector run`: web + workers (+ embedded Redis) as child processes, stopped together."""

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


def run_all(
    settings: Settings, config_path: str | None, workers: int, host: str | None, port: int | None
) -> int:
    """Start everything, wait for a signal or a child's death, stop everything; return the exit code."""
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
    commands = [web] + [[*base, "worker"] for _ in range(workers)]
    stopping = False

    def _on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    children = [
        subprocess.Popen(cmd, env=env, start_new_session=True, preexec_fn=die_with_parent) for cmd in commands
    ]
    log.info(
        "connector running: web on http://%s:%s, %s worker(s), redis %s",
        host or settings.web.host,
        port or settings.web.port,
        workers,
        "embedded" if not settings.redis_url else "external",
    )
    code = 0
    try:
        while not stopping:
            for cmd, child in zip(commands, children, strict=True):
                if child.poll() is not None:
                    log.error("child %s exited with %s; stopping everything", cmd[3], child.returncode)
                    stopping, code = True, 1
                    break
            time.sleep(0.2)
    finally:
        _stop(children)
        broker.stop_embedded_redis()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    log.info("connector stopped")
    return code


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
