"""Bulk prefill for bench/scale.py: N receipts, their submissions and their conversions, and the
Conversions API requests that carried them (one per 10 conversions), written in bulk (sqlite3 executemany,
PostgreSQL COPY) into a migrated, empty ledger.

The mix is a long-lived site's: six months of history, mostly processed receipts and sent conversions,
a few failed, expired and skipped ones, five pixels (most rows on the main one), 5% booking leads, purged
bodies, a handful of conversions waiting for a retry later today, and 3% of the requests retried, refused
or unanswered.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from connector.conversions.dispatch import LOST

PIXELS = ("px_bench_main", "px_shop", "px_blog", "px_docs", "px_events")
PIXEL_WEIGHTS = (60, 10, 10, 10, 10)
SOURCES = ("wordpress", "contact_form_7", "gravity_forms", "generic", "calendly")
CONVERSION_STATUSES = ("sent", "failed", "expired", "skipped", "validated", "pending")
CONVERSION_WEIGHTS = (9200, 300, 200, 200, 99, 1)
HISTORY = timedelta(days=180)
CHUNK = 20_000
PER_REQUEST = 10
"""Conversions per Conversions API request: a trickle's batches (the sender takes what waits)."""
ANSWERS: tuple[tuple[int | None, str | None], ...] = (
    (200, None),
    (503, "HTTP 503"),
    (429, "HTTP 429"),
    (400, "HTTP 400"),
    (401, "HTTP 401"),
    (None, "ConnectError: connection refused"),
    (None, LOST),
)
ANSWER_WEIGHTS = (9700, 120, 60, 50, 10, 40, 20)

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
REQUEST_COLUMNS = [
    "id",
    "pixel_id",
    "url",
    "attempt_token",
    "event_ids",
    "event_count",
    "validate_only",
    "status_code",
    "body",
    "error",
    "elapsed_ms",
    "started_at",
]
REQUEST_EVENT_COLUMNS = ["request_id", "conversion_id"]
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


def _request(k: int, at: datetime, pixel: str, answer: tuple[int | None, str | None]) -> tuple:
    """Request `k`: the one exchange that carried conversions (k-1)*PER_REQUEST+1 .. k*PER_REQUEST."""
    code, error = answer
    first = (k - 1) * PER_REQUEST + 1
    return (
        k,
        pixel,
        "https://api.openai.com/v1/conversions/events",
        f"{(k * 2654435761) % 2**64:032x}",
        json.dumps([event_id(n) for n in range(first, first + PER_REQUEST)]),
        PER_REQUEST,
        False,
        code,
        '{"events_received": 10}' if code == 200 else None,
        error,
        None if code is None else 180,
        at,
    )


def requests(count: int) -> int:
    """The Conversions API requests of a `count`-row ledger."""
    return count // PER_REQUEST


def request_answer(code: int | None, error: str | None) -> tuple[str, str]:
    """(answer, HTTP status or '') as ledger_counts keeps a request (migration 0015)."""
    if code is not None:
        return "answered", str(code)
    return ("no_response" if error == LOST else "network_error"), ""


def _chunks(table: str, count: int, now: datetime, seed: int) -> Iterator[list[tuple]]:
    """`table`'s rows in chunks; the same history for each table (row n of one is row n's; request k
    carried conversions (k-1)*PER_REQUEST+1 .. k*PER_REQUEST)."""
    rnd = random.Random(seed)
    pixels = rnd.choices(PIXELS, PIXEL_WEIGHTS, k=count)
    statuses = rnd.choices(CONVERSION_STATUSES, CONVERSION_WEIGHTS, k=count)
    answers = random.Random(seed + 1).choices(ANSWERS, ANSWER_WEIGHTS, k=requests(count))
    start, step = now - HISTORY, HISTORY / max(count, 1)
    sizes = {
        "conversion_requests": requests(count),
        "conversion_request_events": requests(count) * PER_REQUEST,
    }
    rows = sizes.get(table, count)
    for first in range(0, rows, CHUNK):
        span = range(first, min(first + CHUNK, rows))
        if table == "receipts":
            yield [_receipt(i + 1, start + step * i, now) for i in span]
        elif table == "submissions":
            yield [_submission(i + 1, start + step * i, now) for i in span]
        elif table == "conversions":
            yield [_conversion(i + 1, start + step * i, now, pixels[i], statuses[i]) for i in span]
        elif table == "conversion_requests":
            last = [(i + 1) * PER_REQUEST - 1 for i in span]  # sent after its last conversion
            yield [
                _request(i + 1, start + step * n + timedelta(seconds=3), pixels[n], answers[i])
                for i, n in zip(span, last, strict=True)
            ]
        else:
            yield [(i // PER_REQUEST + 1, i + 1) for i in span]


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


COLUMNS = {
    "receipts": RECEIPT_COLUMNS,
    "submissions": SUBMISSION_COLUMNS,
    "conversions": CONVERSION_COLUMNS,
    "conversion_requests": REQUEST_COLUMNS,
    "conversion_request_events": REQUEST_EVENT_COLUMNS,
}
TABLES = tuple(COLUMNS)

COUNTS = (
    "INSERT INTO ledger_counts (ledger, status, event_type, custom_event_name, shard, total)"
    " SELECT 'receipts', status, '', '', 0, count(*) FROM receipts GROUP BY status",
    "INSERT INTO ledger_counts (ledger, status, event_type, custom_event_name, shard, total)"
    " SELECT 'conversions', status, event_type, custom_event_name, 0, count(*) FROM conversions"
    " GROUP BY status, event_type, custom_event_name",
)
"""What SQLite's count triggers would have written, in one pass (migration 0008 fills them the same way;
the requests' counts are added up as they are written)."""


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
        answered: Counter[tuple[str, str]] = Counter()
        for table, columns in COLUMNS.items():
            for chunk in _chunks(table, count, now, seed):
                cursor.executemany(
                    _insert_sql(table, columns), [tuple(map(_sqlite_value, row)) for row in chunk]
                )
                if table == "conversion_requests":
                    answered.update(request_answer(row[7], row[9]) for row in chunk)
        for _, _, sql in schema:
            cursor.execute(sql)
        for sql in COUNTS:
            cursor.execute(sql)
        cursor.executemany(
            "INSERT INTO ledger_counts (ledger, status, event_type, custom_event_name, shard, total)"
            " VALUES ('requests', ?, ?, '', 0, ?)",
            [(answer, code, n) for (answer, code), n in answered.items()],
        )
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
            if "id" in columns:
                rows = requests(count) if table == "conversion_requests" else count
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {rows})")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        raw.commit()
        # What autovacuum does to a ledger this old: statistics, hint bits, the visibility map (index-only
        # scans skip the heap). Done here, before measuring, so neither ledger pays for it while measured
        # (and a server with autovacuum off, as this benchmark box, still measures a steady state).
        raw.driver_connection.autocommit = True
        cursor.execute("VACUUM (ANALYZE)")
        cursor.close()
    finally:
        raw.close()
