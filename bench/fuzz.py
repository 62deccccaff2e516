"""Fuzz `connector serve`: no request a stranger can send gets a 5xx or costs a neighbour its answer.

For each endpoint family (forms, bookings, crm) sends `--cases` mutated requests (bench/fuzz_cases.py), about
half with valid credentials, 16 in flight so they share group commits, with a valid generic webhook (a
neighbour) about every 20 cases that must be answered 200 accepted (duplicate when resent). Prints answers per
family by status, the first 5xx cases, the web processes' memory before and after, and checks through the
database that every accepted neighbour is stored exactly once. Exits 1 on any 5xx or failed neighbour.
Usage: python bench/fuzz.py [--database-url postgresql://...] [--redis-url redis://...] [--cases 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fuzz_cases import FAMILIES, Case, Generator  # noqa: E402
from bench.fuzz_seeds import server_env  # noqa: E402

TIMEOUT_SECONDS = 30.0
"""Longest wait for one answer (the server's own body and header deadlines are 10 s)."""

SHOWN = 5
"""How many 5xx cases (and failed neighbours) are printed per family."""


@dataclass
class Answer:
    status: int | None
    body: bytes = b""
    error: str = ""

    @property
    def outcome(self) -> str:
        """`2xx`, `4xx`/`5xx` with the code, or `connection error` / `timeout`."""
        if self.status is None:
            return self.error or "connection error"
        return f"{self.status // 100}xx" if self.status < 300 else str(self.status)


@dataclass
class FamilyResult:
    family: str
    cases: int = 0
    requests: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    signed_outcomes: Counter[str] = field(default_factory=Counter)
    mutations: Counter[str] = field(default_factory=Counter)
    server_errors: list[tuple[Case, Answer]] = field(default_factory=list)
    broken: list[tuple[Case, Answer]] = field(default_factory=list)
    neighbours: int = 0
    failed_neighbours: list[tuple[Case, list[Answer]]] = field(default_factory=list)
    accepted: dict[str, int] = field(default_factory=dict)
    """Neighbour event_id -> the receipt id its acceptance named."""
    seconds: float = 0.0

    def record(self, case: Case, answers: list[Answer]) -> None:
        if case.neighbour is not None:
            self._neighbour(case, answers)
            return
        self.cases += 1
        self.mutations[case.mutation.partition("[")[0].partition("+")[0]] += 1
        for answer in answers:
            self.requests += 1
            self.outcomes[answer.outcome] += 1
            if case.authenticated:
                self.signed_outcomes[answer.outcome] += 1
            if answer.status is not None and answer.status >= 500:
                self.server_errors.append((case, answer))
            elif answer.status is None:
                self.broken.append((case, answer))

    def _neighbour(self, case: Case, answers: list[Answer]) -> None:
        self.neighbours += 1
        self.requests += len(answers)
        try:
            replies = [json.loads(a.body) if a.status == 200 else {} for a in answers]
        except ValueError:
            replies = [{}]
        expected = ["accepted"] + ["duplicate"] * (len(answers) - 1)
        ids = {reply.get("receipt_id") for reply in replies}
        if [r.get("status") for r in replies] != expected or len(ids) != 1 or None in ids:
            self.failed_neighbours.append((case, answers))
            return
        assert case.neighbour is not None
        self.accepted[case.neighbour] = replies[0]["receipt_id"]


# -- the client ---------------------------------------------------------------------------------------


async def send(host: str, port: int, case: Case, timeout: float = TIMEOUT_SECONDS) -> list[Answer]:
    """Send the case (twice for a replay, one after the other), each on its own connection."""
    answers = []
    for _ in range(case.sends):
        answers.append(await _exchange(host, port, case.request(f"{host}:{port}"), timeout))
    return answers


async def _exchange(host: str, port: int, request: bytes, timeout: float) -> Answer:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        return Answer(None, error=f"connection error ({type(exc).__name__})")

    async def write() -> None:
        try:
            writer.write(request)
            await writer.drain()
        except OSError:
            pass  # the server answered early (413, 400) and closed: its answer is still read below

    writing = asyncio.create_task(write())
    received = bytearray()
    error = ""
    try:
        async with asyncio.timeout(timeout):
            while chunk := await reader.read(65536):
                received += chunk
    except TimeoutError:
        error = "timeout"
    except OSError as exc:
        error = f"connection error ({type(exc).__name__})"
    finally:
        writing.cancel()
        writer.close()
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return Answer(None, bytes(received[:500]), error or "connection error (no answer)")
    return Answer(status, body)


async def _run_family(
    host: str, port: int, generator: Generator, count: int, concurrency: int
) -> FamilyResult:
    result = FamilyResult(generator.family)
    stream = generator.cases(count)
    started = time.perf_counter()

    async def lane() -> None:
        for case in stream:  # shared: each lane takes the next case as soon as it is free
            result.record(case, await send(host, port, case))

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


def run_fuzz(
    base_url: str,
    public_url: str,
    cases: int,
    seed: int = 1,
    concurrency: int = 16,
    families: tuple[str, ...] = tuple(FAMILIES),
    run: str | None = None,
) -> list[FamilyResult]:
    """Fuzz every family of a running `connector serve` at `base_url` (configured with `server_env`)."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    run = run or uuid.uuid4().hex[:8]
    results = []
    for family in families:
        generator = Generator(family, seed, public_url, run)
        results.append(asyncio.run(_run_family(host, int(port), generator, cases, concurrency)))
    return results


# -- checks and the report ----------------------------------------------------------------------------


def stored_once(database_url: str, data_dir: str, accepted: dict[str, int]) -> list[str]:
    """Problems with the accepted neighbours in the ledger: each must be one generic receipt, the one named."""
    from sqlalchemy import func, select

    from connector.config import load_settings
    from connector.store.db import make_engine
    from connector.store.models import Receipt

    settings = load_settings(environ={"DATABASE_URL": database_url, "CONNECTOR_DATA_DIR": data_dir})
    engine = make_engine(settings)
    found: dict[str, tuple[int, int]] = {}
    ids = list(accepted)
    try:
        with engine.connect() as connection:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = connection.execute(
                    select(Receipt.event_id, func.count(), func.min(Receipt.id))
                    .where(Receipt.source == "generic", Receipt.event_id.in_(chunk))
                    .group_by(Receipt.event_id)
                )
                found.update({row[0]: (row[1], row[2]) for row in rows})
    finally:
        engine.dispose()
    problems = []
    for event_id, receipt_id in accepted.items():
        count, first = found.get(event_id, (0, None))
        if count != 1 or first != receipt_id:
            problems.append(f"{event_id}: {count} receipts (answered receipt {receipt_id}, stored {first})")
    return problems


def web_rss(pid: int) -> int:
    """Resident memory of the gunicorn master and its workers (bytes)."""
    import psutil

    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a worker that exited meanwhile
            total += proc.memory_info().rss
    return total


def _excerpt(data: bytes, limit: int = 160) -> str:
    return repr(data[:limit]) + ("..." if len(data) > limit else "")


def summary(results: list[FamilyResult]) -> str:
    lines = [
        f"{'family':<9} {'cases':>6} {'requests':>8} {'2xx':>6} {'4xx':>6} {'5xx':>4} {'conn/timeout':>12} "
        f"{'neighbours':>10} {'failed':>6} {'seconds':>7}  4xx by code"
    ]
    for r in results:
        four = {k: v for k, v in sorted(r.outcomes.items()) if k.startswith("4")}
        five = sum(v for k, v in r.outcomes.items() if k.startswith("5"))
        broken = sum(v for k, v in r.outcomes.items() if not k[0].isdigit())
        lines.append(
            f"{r.family:<9} {r.cases:>6} {r.requests:>8} {r.outcomes['2xx']:>6} {sum(four.values()):>6} {five:>4} "
            f"{broken:>12} {r.neighbours:>10} {len(r.failed_neighbours):>6} {r.seconds:>7.1f}  {four}"
        )
    return "\n".join(lines)


def details(results: list[FamilyResult]) -> str:
    lines = []
    for r in results:
        signed = {k: v for k, v in sorted(r.signed_outcomes.items())}
        lines.append(f"{r.family}: answers to validly authenticated cases {signed}")
        lines.append(f"{r.family}: mutations {dict(sorted(r.mutations.items()))}")
        for case, answer in r.server_errors[:SHOWN]:
            lines.append(
                f"  5xx {answer.status} {case.describe()} {case.path[:80]} request {_excerpt(case.body)} "
                f"answer {_excerpt(answer.body, 300)}"
            )
        for case, answers in r.failed_neighbours[:SHOWN]:
            shown = [(a.status, a.error, _excerpt(a.body, 200)) for a in answers]
            lines.append(f"  failed neighbour {case.neighbour}: {shown}")
        for case, answer in r.broken[:SHOWN]:
            lines.append(f"  {answer.outcome}: {case.describe()} request of {len(case.body)} bytes")
    return "\n".join(lines)


def write_failures(results: list[FamilyResult], path: Path, host: str) -> int:
    """One JSON line per failing case, with the raw request (base64) to replay it with `nc`."""
    count = 0
    with path.open("w") as out:
        for r in results:
            failing = [(c, [a]) for c, a in r.server_errors] + r.failed_neighbours
            for case, answers in failing:
                out.write(
                    json.dumps(
                        {
                            "case": case.describe(),
                            "statuses": [a.status for a in answers],
                            "answers": [a.body[:2000].decode("utf-8", "replace") for a in answers],
                            "request_base64": base64.b64encode(case.request(host)).decode(),
                        }
                    )
                    + "\n"
                )
                count += 1
    return count


# -- the served connector -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"connector serve exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server on {port} did not become ready")


def ensure_database(database_url: str) -> None:
    """Create the PostgreSQL database the URL names when it does not exist yet."""
    if not database_url.startswith("postgres"):
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(drivername="postgresql+psycopg")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            ).first()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        admin.dispose()


def drop_queue(redis_url: str, name: str) -> None:
    """Remove the run's RQ queue and its jobs (no worker ran to take them)."""
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(redis_url)
    Queue(name, connection=connection).delete(delete_jobs=True)
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary data dir")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--cases", type=int, default=10_000, help="cases per family")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--processes", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated subset")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="connector-fuzz-"))
    database_url = args.database_url or f"sqlite:///{data_dir / 'ledger.db'}"
    ensure_database(database_url)
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    queue = f"fuzz-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update(server_env(public_url))
    env.update(
        CONNECTOR_DATA_DIR=str(data_dir),
        CONNECTOR_LOG_LEVEL="WARNING",
        CONNECTOR_JOBS__QUEUE=queue,
        DATABASE_URL=database_url,
        REDIS_URL=args.redis_url,
        PYTHONPATH=str(ROOT),
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    database = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    families = tuple(f for f in args.families.split(",") if f)
    print(f"cores: {os.cpu_count()}  gunicorn: {args.processes} processes  database: {database}")
    print(
        f"cases: {args.cases} per family ({', '.join(families)}), seed {args.seed}, {args.concurrency} in flight"
    )
    log_path = data_dir / "serve.log"
    failed = True
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "connector",
                "serve",
                "--port",
                str(port),
                "--processes",
                str(args.processes),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_up(port, proc)
            before = web_rss(proc.pid)
            started = time.perf_counter()
            results, memory, run = [], [], uuid.uuid4().hex[:8]
            for n, family in enumerate(families):  # a family named twice gets ids of its own each time
                tag = f"{run}{n if families.count(family) > 1 else ''}"
                results += run_fuzz(
                    public_url, public_url, args.cases, args.seed, args.concurrency, (family,), tag
                )
                memory.append(f"{family} {web_rss(proc.pid) / 2**20:.0f} MiB")
                print(f"  {family}: {results[-1].cases} cases in {results[-1].seconds:.1f}s", flush=True)
            elapsed = time.perf_counter() - started
            after = web_rss(proc.pid)
            accepted = {k: v for r in results for k, v in r.accepted.items()}
            problems = stored_once(database_url, str(data_dir), accepted)
            print()
            print(summary(results))
            print()
            print(details(results))
            print(
                f"\nweb memory (RSS, master + workers): before {before / 2**20:.0f} MiB, after {after / 2**20:.0f} MiB (after each family: {', '.join(memory)})"
            )
            print(f"run time: {elapsed:.1f}s for {sum(r.requests for r in results)} requests")
            print(
                f"neighbours stored exactly once: {len(accepted) - len(problems)} of {len(accepted)} accepted"
            )
            for problem in problems[:SHOWN]:
                print(f"  {problem}")
            server_errors = sum(len(r.server_errors) for r in results)
            failed_neighbours = sum(len(r.failed_neighbours) for r in results)
            print(f"5xx: {server_errors}  failed neighbours: {failed_neighbours}")
            failed = bool(server_errors or failed_neighbours or problems)
            if server_errors or failed_neighbours:
                count = write_failures(results, data_dir / "failing-cases.jsonl", f"127.0.0.1:{port}")
                print(
                    f"{count} failing cases written to {data_dir / 'failing-cases.jsonl'}; server log {log_path}"
                )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            drop_queue(args.redis_url, queue)
    if not failed:
        shutil.rmtree(data_dir, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
