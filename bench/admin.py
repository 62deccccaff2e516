"""Benchmark: each admin console page's server time with 1,000,000 receipts and 1,000,000 conversions.

    .venv/bin/python bench/admin.py --database sqlite [--receipts 1000000] [--conversions 1000000]
    .venv/bin/python bench/admin.py --database postgresql://postgres@127.0.0.1:5432/test [--rounds 7]

The ledger (a migrated, empty database, filled in bulk: sqlite3 executemany, PostgreSQL COPY) is 100 days
of traffic, so about 10,000 receipts and 10,000 conversions in the last 24 hours: receipts from every
registered source (mostly processed, a few failed or retrying), conversions mostly sent (some failed,
expired, skipped), and 10,000 audit entries. A SQLite file is kept for the next run (--fresh rebuilds it);
on PostgreSQL a database named bench_admin is created on the server (and kept). Each page of PAGES is
requested through the Flask test client by a signed-in admin, `--rounds` times interleaved (A B C A B C
...), and the median and worst server time printed; the goal is under 300 ms each.

The other console pages add theirs to PAGES (and rows they need to PREFILL).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import connector.sources  # noqa: E402, F401  (registers every source)
from bench import admin_data, admin_rules  # noqa: E402
from connector.intake import registry  # noqa: E402
from connector.store.migrate import upgrade  # noqa: E402
from connector.store.models import Receipt  # noqa: E402

PAGES: list[tuple[str, str]] = [
    ("overview", "/admin/"),
    ("sources", "/admin/sources"),
    ("audit", "/admin/audit"),
    ("audit, page 2", "/admin/audit?before={audit_page_2}"),
    ("users", "/admin/users"),
    *admin_rules.PAGES,
    *admin_data.PAGES,
]
"""(name, path) of every page timed; `{name}` in a path is filled from `marks()` after the prefill."""

GOAL_MS = 300.0
HISTORY = timedelta(days=100)
CHUNK = 20_000
PASSWORD = "bench-password-0123"
ADMIN = "bench-admin@example.com"
NOW = datetime.now(UTC)


def _moment(rng: random.Random) -> datetime:
    return NOW - HISTORY * rng.random()


def _stamp(moment: datetime, sqlite: bool) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else moment.isoformat()


def receipt_rows(n: int, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(16)
    sources = [s.name for s in registry.all_sources()]
    weights = [40 if name in ("wordpress", "generic", "gravity_forms") else 5 for name in sources]
    statuses = ("processed", "failed", "retrying")
    for i in range(1, n + 1):
        received = _stamp(_moment(rng), sqlite)
        status = rng.choices(statuses, (980, 19, 1))[0]
        error = "BadPayload: no email field" if status != "processed" else None
        # A receipt waiting for its retry has its time set (without one it would count as overdue).
        retry_at = _stamp(NOW + timedelta(minutes=30), sqlite) if status == "retrying" else None
        source = rng.choices(sources, weights)[0]
        row = (i, source, f"bench-{i}", f"evt-{i}", received, "application/json", "{}", status, 1, 0, error)
        yield (*row, retry_at)


RECEIPT_COLUMNS = (
    "id, source, delivery_key, event_id, received_at, content_type, headers, status, attempts, duplicates,"
    " last_error, next_attempt_at"
)


def conversion_rows(n: int, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(17)
    statuses = ("sent", "failed", "expired", "skipped", "validated")
    for i in range(1, n + 1):
        created = _moment(rng)
        status = rng.choices(statuses, (9300, 300, 200, 150, 50))[0]
        yield (
            i,
            "px_bench_main" if i % 5 else "px_shop",
            "lead_created",
            "",
            f"evt-{i}",
            "submission",
            "{}",
            status,
            1,
            _stamp(created, sqlite),
            _stamp(created + timedelta(seconds=3), sqlite),
        )


CONVERSION_COLUMNS = (
    "id, pixel_id, event_type, custom_event_name, event_id, trigger, payload, status, attempts, created_at,"
    " updated_at"
)


def audit_rows(n: int, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(18)
    for i in range(1, n + 1):
        before = json.dumps({"field": f"Old_{i}__c"})
        after = json.dumps({"field": f"New_{i}__c"})
        at = _stamp(_moment(rng), sqlite)
        yield (i, at, "editor@example.com", "mapping.edit", f"salesforce/Lead: rule {i}", before, after)


AUDIT_COLUMNS = "id, at, actor, action, target, before, after"

PREFILL: list[tuple[str, str, Callable[[int, bool], Iterator[tuple[Any, ...]]], str]] = [
    ("receipts", RECEIPT_COLUMNS, receipt_rows, "receipts"),
    ("conversions", CONVERSION_COLUMNS, conversion_rows, "conversions"),
    ("admin_audit", AUDIT_COLUMNS, audit_rows, "audit"),
    *admin_rules.PREFILL,
    *admin_data.PREFILL,
]
"""(table, columns, row generator, name of its --count key) written in bulk into the empty ledger."""


def bulk_insert(engine: Engine, table: str, columns: str, rows: Iterator[tuple[Any, ...]]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN")  # the engine's connections autocommit: one transaction, not a million
            marks = ", ".join("?" for _ in columns.split(","))
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= CHUNK:
                    cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", batch)
                    batch.clear()
            if batch:
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", batch)
        else:
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def database_url(arg: str, fresh: bool) -> str:
    if arg == "sqlite":
        path = ROOT / "bench" / ".admin-bench.db"
        if fresh and path.exists():
            path.unlink()
        return f"sqlite:///{path}"
    base = make_url(arg).set(drivername="postgresql+psycopg")
    server = create_engine(base, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = 'bench_admin'"))
        if fresh and exists:
            connection.execute(text("DROP DATABASE bench_admin WITH (FORCE)"))
            exists = False
        if not exists:
            connection.execute(text("CREATE DATABASE bench_admin"))
    server.dispose()
    return base.set(database="bench_admin").render_as_string(hide_password=False)


def prefill(engine: Engine, counts: dict[str, int]) -> None:
    upgrade(engine)
    with engine.connect() as connection:
        if connection.scalar(select(func.count()).select_from(Receipt.__table__)):
            print("ledger already filled (use --fresh to rebuild)")
            return
    sqlite = engine.dialect.name == "sqlite"
    for table, columns, rows, key in PREFILL:
        started = time.perf_counter()
        bulk_insert(engine, table, columns, rows(counts.get(key, 0), sqlite))
        print(f"  {table}: {counts.get(key, 0):,} rows in {time.perf_counter() - started:.0f} s", flush=True)
    admin_data.after_prefill(engine)
    if sqlite:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


def marks(engine: Engine) -> dict[str, str]:
    """Values the page paths name: the audit id a second page starts before."""
    with engine.connect() as connection:
        newest = connection.scalar(text("SELECT MAX(id) FROM admin_audit")) or 0
    return {"audit_page_2": str(max(1, newest - 50)), **admin_rules.marks(engine), **admin_data.marks(engine)}


def signed_in_client(app: Any) -> Any:
    from connector.admin.users import add_user, find

    ctx = app.extensions["connector"]
    with ctx.sessions() as session, session.begin():
        if find(session, ADMIN) is None:
            add_user(session, ADMIN, "admin", PASSWORD)
    client = app.test_client()
    page = client.get("/admin/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page[:300]
    answer = client.post(
        "/admin/sign-in", data={"email": ADMIN, "password": PASSWORD, "csrf_token": token[1]}
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="sqlite", help="sqlite, or a PostgreSQL server URL")
    parser.add_argument("--receipts", type=int, default=1_000_000)
    parser.add_argument("--conversions", type=int, default=1_000_000)
    parser.add_argument("--audit", type=int, default=10_000)
    parser.add_argument("--stage-changes", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--fresh", action="store_true", help="rebuild the ledger")
    args = parser.parse_args()

    from connector.app import create_app
    from connector.config import load_settings

    url = database_url(args.database, args.fresh)
    data_dir = ROOT / "bench" / ".admin-bench-data"
    environ = {
        "DATABASE_URL": url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "CONNECTOR_DATA_DIR": str(data_dir),
        "CONNECTOR_JOBS__QUEUE": "bench-admin",
    }
    double, crm_environ = admin_rules.live_crm(data_dir)  # the Mappings and Stage rules pages read the CRM
    environ.update(crm_environ)
    environ.update(admin_data.ENVIRON)  # the Conversions page shows the prefilled conversions' pixels
    settings = load_settings(environ=environ)
    app = create_app(settings)
    engine = app.extensions["connector"].engine
    print(f"{engine.dialect.name}: prefill", flush=True)
    counts = {"receipts": args.receipts, "conversions": args.conversions, "audit": args.audit}
    prefill(engine, {**counts, "stage_changes": args.stage_changes})
    values = marks(engine)
    client = signed_in_client(app)
    pages = [(name, path.format(**values)) for name, path in PAGES]
    pages += [
        (n, p.format(**values)) for n, p in admin_rules.WITH_SUBMISSIONS if values["preview_submission"]
    ]
    cold: dict[str, float] = {}
    for name, path in pages:  # warm: templates compiled, pools open, caches filled (CRM describes too)
        started = time.perf_counter()
        answer = client.get(path)
        cold[name] = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, (path, answer.status_code, answer.get_data(as_text=True)[:300])
    times: dict[str, list[float]] = {name: [] for name, _ in pages}
    for _ in range(args.rounds):
        for name, path in pages:
            started = time.perf_counter()
            answer = client.get(path)
            times[name].append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, (path, answer.status_code)
    print(
        f"\n{engine.dialect.name}, {args.receipts:,} receipts, {args.conversions:,} conversions, {args.rounds} rounds"
    )
    print(f"{'page':<28} {'median ms':>10} {'worst ms':>10} {'first ms':>10}")
    slow = []
    for name, _path in pages:
        median = statistics.median(times[name])
        print(f"{name:<28} {median:>10.1f} {max(times[name]):>10.1f} {cold[name]:>10.1f}")
        if median > GOAL_MS:
            slow.append(name)
    print(f"goal: under {GOAL_MS:.0f} ms each: {'met' if not slow else 'missed by ' + ', '.join(slow)}")
    app.extensions["connector"].close()
    double.stop()


if __name__ == "__main__":
    main()
