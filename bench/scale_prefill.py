"""Bulk prefill for bench/scale.py: N receipts, their submissions and their conversions, written in bulk
(sqlite3 executemany, PostgreSQL COPY) into a migrated, empty ledger.

The mix is a long-lived site's: six months of history, mostly processed receipts and sent conversions,
a few failed, expired and skipped ones, five pixels (most rows on the main one), 5% booking leads, purged
bodies, and a handful of conversions waiting for a retry later today.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

PIXELS = ("px_bench_main", "px_shop", "px_blog", "px_docs", "px_events")
PIXEL_WEIGHTS = (60, 10, 10, 10, 10)
SOURCES = ("wordpress", "contact_form_7", "gravity_forms", "generic", "calendly")
CONVERSION_STATUSES = ("sent", "failed", "expired", "skipped", "validated", "pending")
CONVERSION_WEIGHTS = (9200, 300, 200, 200, 99, 1)
HISTORY = timedelta(days=180)
CHUNK = 20_000

RECEIPT_COLUMNS = [
    "id",
    "source",
    "delivery_key",
    "event_id",
    "received_at",
    "content_type",
    "headers",
    "body",
    "body_purged_at",
    "status",
    "attempts",
    "processed_at",
    "job_id",
    "last_error",
    "duplicates",
]
SUBMISSION_COLUMNS = [
    "id",
    "receipt_id",
    "source",
    "kind",
    "form_id",
    "event_id",
    "email",
    "contact",
    "attribution",
    "meta",
    "submitted_at",
    "created_at",
]
CONVERSION_COLUMNS = [
    "id",
    "pixel_id",
    "event_type",
    "custom_event_name",
    "event_id",
    "submission_id",
    "receipt_id",
    "trigger",
    "payload",
    "timestamp_ms",
    "status",
    "reason",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "updated_at",
    "sent_at",
]


def event_id(n: int) -> str:
    """The event_id of prefilled row `n` (so a benchmark can look one up)."""
    return f"hist-{n:08d}-{(n * 2654435761) % 2**32:08x}"


def _receipt(n: int, at: datetime, now: datetime) -> tuple:
    eid, source = event_id(n), SOURCES[n % len(SOURCES)]
    purged = at < now - timedelta(days=90)
    failed = n % 37 == 0
    body = (
        None
        if purged
        else (f'{{"email": "lead{n}@example.com", "event_id": "{eid}", {_ATTRIBUTION}}}').encode()
    )
    return (
        n,
        source,
        f"{source}:{n}",
        eid,
        at,
        "application/json",
        '{"content-type": "application/json"}',
        body,
        at + timedelta(days=90) if purged else None,
        "failed" if failed else "processed",
        3 if failed else 1,
        None if failed else at + timedelta(seconds=1),
        f"receipt-{n}",
        "mapping: no email" if failed else None,
        0,
    )


_ATTRIBUTION = (
    '"first_utm_source": "chatgpt.com", "first_utm_medium": "referral", "latest_utm_source": "chatgpt",'
    ' "oppref": "b3BwcmVmLWV4YW1wbGU="'
)


def _submission(n: int, at: datetime, now: datetime) -> tuple:
    eid, source = event_id(n), SOURCES[n % len(SOURCES)]
    email = f"lead{n}@example.com"
    return (
        n,
        n,
        source,
        "booking" if source == "calendly" and n % 4 == 0 else "form",
        f"form-{n % 12}",
        eid,
        email,
        f'{{"email": "{email}", "first_name": "Hist"}}',
        f'{{{_ATTRIBUTION}, "event_id": "{eid}"}}',
        "{}",
        at,
        at + timedelta(seconds=1),
    )


def _conversion(n: int, at: datetime, now: datetime, pixel: str, status: str) -> tuple:
    eid = event_id(n)
    sent = status in ("sent", "validated")
    waiting = status == "pending"
    stamp = int(at.timestamp() * 1000)
    return (
        n,
        pixel,
        "lead_created",
        "",
        eid,
        n,
        n,
        "submission",
        f'{{"id": "{eid}", "type": "lead_created", "timestamp_ms": {stamp}, "user": "lead{n}@example.com"}}',
        stamp,
        status,
        {"failed": "rejected", "expired": "expired", "skipped": "no_consent", "pending": "retry"}.get(status),
        2 if waiting else 1,
        now + timedelta(hours=6) if waiting else None,
        None if sent else f"{status} in the prefill",
        at,
        at + timedelta(seconds=2),
        at + timedelta(seconds=2) if sent else None,
    )


def _chunks(table: str, count: int, now: datetime, seed: int) -> Iterator[list[tuple]]:
    """`table`'s rows 1..count in chunks; the same history for each table (row n of one is row n's)."""
    rnd = random.Random(seed)
    pixels = rnd.choices(PIXELS, PIXEL_WEIGHTS, k=count)
    statuses = rnd.choices(CONVERSION_STATUSES, CONVERSION_WEIGHTS, k=count)
    start, step = now - HISTORY, HISTORY / max(count, 1)
    for first in range(0, count, CHUNK):
        span = range(first, min(first + CHUNK, count))
        if table == "receipts":
            yield [_receipt(i + 1, start + step * i, now) for i in span]
        elif table == "submissions":
            yield [_submission(i + 1, start + step * i, now) for i in span]
        else:
            yield [_conversion(i + 1, start + step * i, now, pixels[i], statuses[i]) for i in span]


def prefill(engine: Engine, count: int, seed: int = 15) -> None:
    """Write `count` receipts, submissions and conversions (ids 1..count) into an empty, migrated ledger."""
    now = datetime.now(UTC)
    if engine.dialect.name == "sqlite":
        _sqlite(engine, count, now, seed)
    else:
        _postgresql(engine, count, now, seed)


def _sqlite_value(value: Any) -> Any:
    # SQLAlchemy's SQLite DateTime storage format (naive UTC text), so range comparisons match its binds.
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def _insert_sql(table: str, columns: list[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


COLUMNS = {"receipts": RECEIPT_COLUMNS, "submissions": SUBMISSION_COLUMNS, "conversions": CONVERSION_COLUMNS}
TABLES = tuple(COLUMNS)

COUNTS = (
    "INSERT INTO ledger_counts (ledger, status, event_type, custom_event_name, shard, total)"
    " SELECT 'receipts', status, '', '', 0, count(*) FROM receipts GROUP BY status",
    "INSERT INTO ledger_counts (ledger, status, event_type, custom_event_name, shard, total)"
    " SELECT 'conversions', status, event_type, custom_event_name, 0, count(*) FROM conversions"
    " GROUP BY status, event_type, custom_event_name",
)
"""What SQLite's count triggers would have written, in one pass (migration 0008 fills them the same way)."""


def _sqlite(engine: Engine, count: int, now: datetime, seed: int) -> None:
    """Indexes and count triggers off while the rows go in, built once at the end: sorted index builds
    instead of 1,000,000 random B-tree inserts per index."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        marks = ", ".join("?" * len(TABLES))
        schema = cursor.execute(
            f"SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')"
            f" AND tbl_name IN ({marks}) AND sql IS NOT NULL",
            TABLES,
        ).fetchall()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("BEGIN")
        for kind, name, _ in schema:
            cursor.execute(f'DROP {kind.upper()} "{name}"')
        for table, columns in COLUMNS.items():
            for chunk in _chunks(table, count, now, seed):
                cursor.executemany(
                    _insert_sql(table, columns), [tuple(map(_sqlite_value, row)) for row in chunk]
                )
        for _, _, sql in schema:
            cursor.execute(sql)
        for sql in COUNTS:
            cursor.execute(sql)
        cursor.execute("COMMIT")
        cursor.close()
    finally:
        raw.close()


def _postgresql(engine: Engine, count: int, now: datetime, seed: int) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            (list(TABLES),),
        )
        indexes = cursor.fetchall()  # the constraints' own indexes stay: the keys are checked as rows go in
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        for table, columns in COLUMNS.items():
            # One COPY per table in id order: the foreign keys find their parents, already written.
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for chunk in _chunks(table, count, now, seed):
                    for row in chunk:
                        copy.write_row(row)
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {count})")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        raw.commit()
        cursor.execute("ANALYZE")  # autovacuum's analyze would have run on a ledger this old
        raw.commit()
        cursor.close()
    finally:
        raw.close()
