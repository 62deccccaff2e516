"""Benchmark: the AI pipeline report over a ledger of N submissions (default 1,000,000) with their deals.

    .venv/bin/python bench/report.py --database sqlite [--rows 1000000] [--rounds 5]
    .venv/bin/python bench/report.py --database postgresql://postgres@127.0.0.1:5432/test

The ledger (a migrated, empty database, filled in bulk: sqlite3 executemany, PostgreSQL COPY; then the
report's facts and opportunity records rebuilt from it, as migrations 0013 and 0014 do) is a year of
leads: 70% unique people (the rest come back), a mix of AI sources and other channels, a sent lead_created
conversion for each, and for 8% a deal whose stage changes the resolver has handled (an appointment rule
for every deal, Closed Won for a third of them with its amount and order_created conversion, one in ten
wins also Won -> Lost -> Won). A SQLite file is kept for the next run (--fresh rebuilds it); a PostgreSQL
database named bench_report is created on the server. Each combination of grouping, touch model, range and
trend is timed `--rounds` times, interleaved (A B C A B C ...), and the median printed; --breakdown then
times each of its statements alone.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scale_prefill import SUBMISSION_COLUMNS as PREFILL_SUBMISSION_COLUMNS  # noqa: E402
from connector.config import Settings, StagesSettings  # noqa: E402
from connector.report import ReportQuery, build_report, tally  # noqa: E402
from connector.report.build import _connect  # noqa: E402
from connector.store.migrate import upgrade  # noqa: E402
from connector.store.report_columns import TOUCH_COLUMNS, report_values  # noqa: E402
from connector.store.report_columns import TOUCHES as REPORT_TOUCHES  # noqa: E402
from connector.store.report_records import StageNames  # noqa: E402
from connector.store.report_records import rebuild as rebuild_records  # noqa: E402
from connector.store.report_writes import rebuild  # noqa: E402

END = datetime(2026, 12, 1, tzinfo=UTC)
HISTORY_DAYS = 365
CHUNK = 20_000

TOUCHES = [  # (weight, channel, ai_source, utm_source, utm_medium, utm_campaign, landing page)
    (18, "ai_assistant", "chatgpt", "chatgpt.com", "referral", "", "https://site.test/pricing"),
    (6, "openai_ads", "openai_ads", "chatgpt", "paid_ai", "spring-ads", "https://site.test/"),
    (5, "ai_assistant", "claude", "claude.ai", "referral", "", "https://site.test/blog/ai"),
    (5, "ai_assistant", "perplexity", "perplexity.ai", "referral", "", "https://site.test/docs"),
    (4, "ai_assistant", "gemini", "gemini.google.com", "referral", "", "https://site.test/docs"),
    (2, "ai_assistant", "copilot", "copilot.microsoft.com", "referral", "", "https://site.test/"),
    (22, "organic_search", "none", "", "", "", "https://site.test/"),
    (14, "paid_search", "none", "google", "cpc", "brand", "https://site.test/lp/brand"),
    (8, "paid_social", "none", "linkedin", "paid_social", "abm-q3", "https://site.test/lp/abm"),
    (6, "email", "none", "newsletter", "email", "monthly", "https://site.test/blog"),
    (10, "direct", "none", "", "", "", "https://site.test/"),
]
WEIGHTS = [t[0] for t in TOUCHES]
RULES = {
    "demo": {
        "crm": "hubspot",
        "object": "deal",
        "stage": "appointmentscheduled",
        "event": "appointment_scheduled",
    },
    "won": {"crm": "hubspot", "object": "deal", "stage": "closedwon", "event": "order_created"},
}
SETTINGS = replace(Settings(), stages=StagesSettings(rules=RULES))

SUBMISSION_COLUMNS = [
    *PREFILL_SUBMISSION_COLUMNS,
    "person_key",
    *(f"{touch}_{name}" for touch in REPORT_TOUCHES for name in TOUCH_COLUMNS),
]
CONVERSION_COLUMNS = [
    "id",
    "pixel_id",
    "event_type",
    "custom_event_name",
    "event_id",
    "submission_id",
    "trigger",
    "payload",
    "timestamp_ms",
    "status",
    "attempts",
    "created_at",
    "updated_at",
    "sent_at",
]
STAGE_COLUMNS = [
    "id",
    "crm",
    "object_type",
    "record_id",
    "stage",
    "entered_at",
    "via",
    "delivery_key",
    "change_key",
    "fields",
    "status",
    "attempts",
    "rule",
    "event_id",
    "attributed_event_id",
    "conversion_id",
    "amount",
    "currency",
    "created_at",
    "updated_at",
]


def _touch(prefix: str, pick: tuple[Any, ...]) -> dict[str, str]:
    _w, channel, ai, source, medium, campaign, page = pick
    values = {
        "channel": channel,
        "ai_source": ai,
        "utm_source": source,
        "utm_medium": medium,
        "utm_campaign": campaign,
        "landing_page": page + (f"?utm_source={source}" if source else ""),
    }
    return {f"{prefix}_{k}": v for k, v in values.items() if v}


def rows(n: int, seed: int = 17) -> Any:
    """Yield (submission, conversions, stage changes) row tuples for submission ids 1..n."""
    rnd = random.Random(seed)
    people = int(n * 0.7)
    conversion_id = stage_id = 0
    for sid in range(1, n + 1):
        at = END - timedelta(seconds=rnd.randrange(HISTORY_DAYS * 86400))
        person = rnd.randrange(people)
        email = f"person{person}@example.com"
        event_id = f"evt-{sid:08d}"
        first = rnd.choices(TOUCHES, WEIGHTS)[0]
        latest = first if rnd.random() < 0.6 else rnd.choices(TOUCHES, WEIGHTS)[0]
        attribution = {
            **_touch("first", first),
            **_touch("latest", latest),
            "event_id": event_id,
            "consent": "granted",
        }
        kind = "booking" if rnd.random() < 0.05 else "form"
        derived = report_values(email, event_id, sid, attribution)
        submission = (
            sid,
            sid,
            "wordpress" if kind == "form" else "calendly",
            kind,
            rnd.choice(("contact", "demo", "trial")),
            event_id,
            email,
            json.dumps({"email": email}),
            json.dumps(attribution),
            "{}",
            at,
            at,
            *(derived[c] for c in SUBMISSION_COLUMNS[12:]),
        )
        conversions = []
        conversion_id += 1
        lead_payload = {"id": event_id, "type": "lead_created", "data": {"type": "customer_action"}}
        conversions.append(_conversion(conversion_id, "lead_created", event_id, sid, lead_payload, at))
        stages = []
        if rnd.random() < 0.08:
            deal = f"deal-{sid}"
            demo_at = at + timedelta(days=rnd.uniform(1, 20))
            stage_id += 1
            stages.append(
                _stage(stage_id, deal, "appointmentscheduled", demo_at, "expired", "demo", event_id, None)
            )
            if rnd.random() < 0.33:
                won_at = demo_at + timedelta(days=rnd.uniform(5, 90))
                currency = "USD" if rnd.random() < 0.8 else "EUR"
                amount = rnd.randrange(1000, 5_000_000)
                conversion_id += 1
                order = {
                    "id": f"won-{sid}",
                    "type": "order_created",
                    "data": {"type": "contents", "amount": amount, "currency": currency},
                }
                conversions.append(
                    _conversion(conversion_id, "order_created", f"won-{sid}", sid, order, won_at)
                )
                stage_id += 1
                stages.append(
                    _stage(
                        stage_id,
                        deal,
                        "closedwon",
                        won_at,
                        "converted",
                        "won",
                        event_id,
                        conversion_id,
                        (amount, currency),
                    )
                )
                if rnd.random() < 0.1:
                    for offset, stage, status in (
                        (1, "closedlost", "no_rule"),
                        (2, "closedwon", "already_converted"),
                    ):
                        stage_id += 1
                        rule = "won" if stage == "closedwon" else None
                        stages.append(
                            _stage(
                                stage_id,
                                deal,
                                stage,
                                won_at + timedelta(days=offset),
                                status,
                                rule,
                                event_id if rule else None,
                                None,
                            )
                        )
        yield submission, conversions, stages


def _conversion(cid: int, kind: str, event_id: str, sid: int, payload: dict, at: datetime) -> tuple:
    ms = int(at.timestamp() * 1000)
    return (
        cid,
        "px_bench",
        kind,
        "",
        event_id,
        sid,
        "submission",
        json.dumps(payload),
        ms,
        "sent",
        1,
        at,
        at,
        at,
    )


def _stage(
    sc_id: int,
    deal: str,
    stage: str,
    at: datetime,
    status: str,
    rule: str | None,
    event_id: str | None,
    conversion_id: int | None,
    amount: tuple[int, str] | None = None,
) -> tuple:
    key = f"{deal}:{stage}:{int(at.timestamp())}"
    return (
        sc_id,
        "hubspot",
        "deals",
        deal,
        stage,
        at,
        "webhook",
        key,
        key[-64:],
        "{}",
        status,
        1,
        rule,
        None,
        event_id,
        conversion_id,
        *(amount or (None, None)),
        at,
        at,
    )


def fill(engine: Engine, n: int) -> None:
    """Load n submissions with their conversions and stage changes, in chunks."""
    tables = (
        ("submissions", SUBMISSION_COLUMNS),
        ("conversions", CONVERSION_COLUMNS),
        ("stage_changes", STAGE_COLUMNS),
    )
    buffers: list[list[tuple]] = [[], [], []]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        postgres = engine.dialect.name == "postgresql"
        if postgres:
            cursor.execute("SET session_replication_role = replica")  # no receipts: skip the foreign keys
        else:
            cursor.execute("PRAGMA foreign_keys = OFF")

        def flush() -> None:
            for (table, columns), buffer in zip(tables, buffers, strict=True):
                if not buffer:
                    continue
                if postgres:
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in buffer:
                            copy.write_row(row)
                else:
                    marks = ", ".join("?" for _ in columns)
                    cursor.executemany(
                        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                        [tuple(_sqlite(v) for v in row) for row in buffer],
                    )
                buffer.clear()
            raw.commit()

        for done, (submission, conversions, stages) in enumerate(rows(n), start=1):
            buffers[0].append(submission)
            buffers[1].extend(conversions)
            buffers[2].extend(stages)
            if done % CHUNK == 0:
                flush()
                print(f"\r  {done:,} submissions", end="", file=sys.stderr, flush=True)
        flush()
        print(file=sys.stderr)
        if postgres:
            cursor.execute("SET session_replication_role = origin")
        raw.commit()
    finally:
        raw.close()
    analyze = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # Statistics first: without them PostgreSQL walked the submissions for the facts' rebuild in a
        # plan that took over 30 minutes (320 s with them, at load average 10).
        connection.execute(text(analyze))
    with engine.begin() as connection:  # the bulk load bypassed the flush hook and (PG) the triggers
        rebuild(connection)
        rebuild_records(connection, StageNames.from_settings(SETTINGS))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(analyze))


def _sqlite(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _engine(database: str, fresh: bool, rows_wanted: int) -> tuple[Engine, bool]:
    """The engine, and whether the ledger must be filled."""
    if database == "sqlite":
        path = ROOT / "data" / f"bench_report_{rows_wanted}.db"
        path.parent.mkdir(exist_ok=True)
        if fresh and path.exists():
            path.unlink()
        engine = create_engine(f"sqlite:///{path}")
    else:
        base = make_url(database).set(drivername="postgresql+psycopg")
        name = f"bench_report_{rows_wanted}"
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if exists and fresh:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                exists = None
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        engine = create_engine(base.set(database=name))
    upgrade(engine)
    with engine.connect() as connection:
        count = connection.scalar(text("SELECT COUNT(*) FROM submissions"))
    return engine, count == 0


COMBOS = [
    ("ai_source, first touch, all time", ReportQuery(by="ai_source", touch="first")),
    ("channel, latest touch, all time", ReportQuery(by="channel", touch="latest")),
    ("ai_source, any AI touch, all time", ReportQuery(by="ai_source", touch="any")),
    ("ai_source, first, last 90 days, weekly", ReportQuery(since=date(2026, 9, 2), trend="week")),
    ("utm_campaign, first, by won date, monthly", ReportQuery(by="utm_campaign", date="won", trend="month")),
    (
        "landing_page, latest, last 30 days",
        ReportQuery(by="landing_page", touch="latest", since=date(2026, 11, 1)),
    ),
]


def statements(engine: Engine, query: ReportQuery) -> list[tuple[str, Any]]:
    """The statements build_report runs for `query`, named."""
    dialect = engine.dialect.name
    found: list[tuple[str, Any]] = [("profiles", tally.profiles())]
    if query.date == "lead":
        found.append(("lead facts", tally.lead_facts(query, dialect)))
    else:
        found.append(("won facts", tally.won_facts(query)))
    if query.date == "lead" and dialect == "sqlite":
        found.append(("lead records", tally.lead_records(query, dialect)))
    else:
        found.append(("record facts", tally.record_facts(query, dialect)))
    return found


def breakdown(engine: Engine, settings: Settings, rounds: int) -> None:
    """Each combination's statements timed alone (all rows fetched), medians of `rounds`; the rest of the
    report's time is folding rows in Python."""
    for name, query in COMBOS:
        parts = []
        for label, statement in statements(engine, query):
            times, count = [], 0
            for _round in range(rounds):
                started = time.perf_counter()
                with _connect(engine) as connection:
                    count = len(connection.execute(statement).all())
                times.append(time.perf_counter() - started)
            parts.append(f"{label} {statistics.median(times) * 1000:.0f} ms ({count:,} rows)")
        print(f"  {name:45s} " + ", ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="sqlite", help="sqlite, or a PostgreSQL URL")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="rebuild the ledger")
    parser.add_argument("--breakdown", action="store_true", help="also time each statement alone")
    args = parser.parse_args()
    engine, empty = _engine(args.database, args.fresh, args.rows)
    if empty:
        started = time.perf_counter()
        fill(engine, args.rows)
        print(f"prefill: {args.rows:,} submissions in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    settings = SETTINGS
    with engine.connect() as connection:
        counts = {
            t: connection.scalar(text(f"SELECT COUNT(*) FROM {t}"))
            for t in ("submissions", "conversions", "stage_changes")
        }
    print(f"{engine.dialect.name}: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
    build_report(engine, settings, COMBOS[0][1])  # warm: the caches, and the records for these stage names
    times: dict[str, list[float]] = {name: [] for name, _q in COMBOS}
    cpu: dict[str, list[float]] = {name: [] for name, _q in COMBOS}
    for _round in range(args.rounds):
        for name, query in COMBOS:
            started, started_cpu = time.perf_counter(), time.process_time()
            report = build_report(engine, settings, query)
            times[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - started_cpu)
            assert report.rows
    # On a shared machine the wall time includes waiting for a core; this process's CPU time does not
    # (with SQLite the queries run in this process; with PostgreSQL in the server, so it is small).
    load = os.getloadavg()[0]
    print(f"  (load average {load:.1f} on {os.cpu_count()} cores)")
    for name, _query in COMBOS:
        wall, used = statistics.median(times[name]) * 1000, statistics.median(cpu[name]) * 1000
        print(f"  {name:45s} median {wall:7.0f} ms wall, {used:7.0f} ms CPU in this process")
    if args.breakdown:
        print(f"  statements alone (load average {os.getloadavg()[0]:.1f}):")
        breakdown(engine, settings, args.rounds)
    engine.dispose()


if __name__ == "__main__":
    main()
