"""bench/admin.py's rows and pages for the Events, Failures and Conversions pages.

Every receipt becomes a submission (email `lead<N>@example.com`, oppref `opp-<N>` on a third of them) and a
HubSpot contact write (record `hs-<N>`; 1 % failed); every tenth conversion shares a request to OpenAI with
its nine neighbours (2 % of requests refused with an HTTP 400 body). Ids line up with bench/admin.py's
receipts and conversions: row N belongs to event `evt-<N>`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime.now(UTC)
HISTORY = timedelta(days=100)
PER_REQUEST = 10
"""Conversions per request to OpenAI."""

PIXELS = {"main": "px_bench_main", "shop": "px_shop"}
"""The pixels bench/admin.py's conversions name, configured so the Conversions page shows both."""

ENVIRON = {
    **{f"CONNECTOR_CONVERSIONS__PIXELS__{name.upper()}__PIXEL_ID": pid for name, pid in PIXELS.items()},
    "CONNECTOR_CONVERSIONS__PIXELS__SHOP__SOURCES": '["forms/wpforms"]',
}


def _stamp(moment: datetime, sqlite: bool) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else moment.isoformat()


def _moment(i: int, n: int) -> datetime:
    """Row i of n, spread evenly over the history, oldest first (ids grow with time, as in a real ledger)."""
    return NOW - HISTORY * (1 - i / max(n, 1))


def submission_rows(n: int, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    for i in range(1, n + 1):
        email = f"lead{i}@example.com"
        attribution: dict[str, str] = {"event_id": f"evt-{i}", "first_utm_source": "chatgpt.com"}
        if i % 3 == 0:
            attribution["oppref"] = f"opp-{i}"
        at = _stamp(_moment(i, n), sqlite)
        yield (
            i,
            i,
            "generic",
            "form",
            f"evt-{i}",
            email,
            json.dumps({"email": email, "first_name": "Ada"}),
            json.dumps(attribution),
            "{}",
            at,
            at,
        )


SUBMISSION_COLUMNS = (
    "id, receipt_id, source, kind, event_id, email, contact, attribution, meta, submitted_at, created_at"
)


def crm_write_rows(n: int, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(19)
    fields = json.dumps({"email": "x", "first_utm_source": "chatgpt.com", "openai_oppref": "opp"})
    for i in range(1, n + 1):
        failed = rng.random() < 0.01
        at = _stamp(_moment(i, n) + timedelta(seconds=2), sqlite)
        yield (
            i,
            i,
            f"evt-{i}",
            "hubspot",
            "contacts",
            None if failed else f"hs-{i}",
            "failed" if failed else "written",
            "rejected" if failed else "created",
            "{}" if failed else fields,
            1,
            "PermanentError: PROPERTY_DOESNT_EXIST first_utm_source" if failed else None,
            at,
            at,
        )


CRM_WRITE_COLUMNS = (
    "id, submission_id, event_id, crm, object_type, crm_object_id, status, outcome, fields_written, attempts,"
    " last_error, created_at, updated_at"
)


def request_rows(n: int, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(20)
    for r in range(1, n // PER_REQUEST + 1):
        first = (r - 1) * PER_REQUEST + 1
        ids = [f"evt-{i}" for i in range(first, first + PER_REQUEST)]
        refused = rng.random() < 0.02
        body = '{"error": {"code": "invalid_event", "param": "events[3].timestamp_ms"}}' if refused else "{}"
        pixel = "px_bench_main" if r % 5 else "px_shop"
        yield (
            r,
            pixel,
            "https://bzr.openai.com/v1/events",
            json.dumps(ids),
            PER_REQUEST,
            False,
            400 if refused else 200,
            body,
            40,
            _stamp(_moment(first, n), sqlite),
        )


REQUEST_COLUMNS = (
    "id, pixel_id, url, event_ids, event_count, validate_only, status_code, body, elapsed_ms, started_at"
)


def request_link_rows(n: int, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    for i in range(1, n // PER_REQUEST * PER_REQUEST + 1):
        yield ((i - 1) // PER_REQUEST + 1, i)


PREFILL: list[tuple[str, str, Callable[[int, bool], Iterator[tuple[Any, ...]]], str]] = [
    ("submissions", SUBMISSION_COLUMNS, submission_rows, "receipts"),
    ("crm_writes", CRM_WRITE_COLUMNS, crm_write_rows, "receipts"),
    ("conversion_requests", REQUEST_COLUMNS, request_rows, "conversions"),
    ("conversion_request_events", "request_id, conversion_id", request_link_rows, "conversions"),
]
"""Rows after bench/admin.py's receipts and conversions (they reference both)."""

PAGES: list[tuple[str, str]] = [
    ("events", "/admin/events"),
    ("events, older page", "/admin/events?before={events_page_2}"),
    ("events, search event_id", "/admin/events?q=evt-{middle}"),
    ("events, search email", "/admin/events?q=LEAD{middle}@example.com"),
    ("events, search oppref", "/admin/events?q=opp-{middle_oppref}"),
    ("events, search CRM id", "/admin/events?q={middle_record}"),
    ("events, search no match", "/admin/events?q=nothing-has-this-id"),
    ("event story", "/admin/events/evt-{middle}"),
    ("failures", "/admin/failures"),
    ("failures, page 2", "/admin/failures?after={failures_page_2}"),
    ("failures, filtered", "/admin/failures?kind=receipt&source=generic&reason=email"),
    ("failures, reason no match", "/admin/failures?reason=nothing-like-this"),
    ("conversions", "/admin/conversions"),
]


def marks(engine: Any) -> dict[str, str]:
    """The cursors of the second pages (below the 50th newest receipt, after the 50th newest failure), and the
    event in the middle of the ledger that the searches and the story look up (with its CRM record)."""
    from sqlalchemy import func, select

    from connector.admin.queries import failures
    from connector.store.db import make_session_factory
    from connector.store.models import CrmWrite, Receipt

    with make_session_factory(engine)() as session:
        newest = session.scalar(select(func.max(Receipt.id))) or 0
        _items, cursor = failures.page(session, failures.Filters())
        middle = max(3, newest // 2)
        record = session.scalar(
            select(CrmWrite.crm_object_id)
            .where(CrmWrite.id >= middle, CrmWrite.crm_object_id.is_not(None))
            .limit(1)
        )
    return {
        "events_page_2": str(max(1, newest - 50)),
        "failures_page_2": cursor or "",
        "middle": str(middle),
        "middle_oppref": str(middle - middle % 3),
        "middle_record": record or "none",
    }


def after_prefill(engine: Any) -> None:
    """Conversion N is submission N's lead_created (bench/admin.py's conversions name no submission; the
    story's plan depends on that column's statistics, so it must look like a real ledger's)."""
    from sqlalchemy import text

    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE conversions SET submission_id = id"
                " WHERE id <= (SELECT COALESCE(MAX(id), 0) FROM submissions)"
            )
        )
