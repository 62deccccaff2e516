"""Store receipts durably before answering, and acknowledge redeliveries without storing them twice.

Concurrent requests in one process share a transaction (group commit): a writer thread takes whatever
receipts are waiting, inserts them in one statement, commits once, enqueues them in one Redis round trip,
and wakes each request. Every request still gets its answer only after its receipt is committed.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select, update

from connector.context import Context
from connector.intake.base import Delivery, Source
from connector.intake.request import IncomingRequest
from connector.journal import record
from connector.queue.defaults import RECEIPT_FAILURE_TTL_SECONDS
from connector.queue.enqueue import schedule
from connector.store.models import Receipt, ReceiptStatus
from connector.store.upsert import insert_ignoring_conflicts
from connector.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_BATCH = 128
"""Most receipts one group commit writes."""

STORE_TIMEOUT_SECONDS = 30
"""Longest a request waits for its receipt to be committed before answering 503."""

PROCESS_RECEIPTS = "connector.jobs.receipts.process_receipts"
"""The batch job, named rather than imported: a web process never loads the job code (RQ imports it in
the worker)."""


class StoreTimeout(Exception):
    """The ledger did not confirm the receipt in time."""


@dataclass(frozen=True)
class StoredReceipt:
    id: int
    duplicate: bool
    queued: bool = False


def receipt_values(source: Source[Any], request: IncomingRequest, submission: Delivery) -> dict[str, Any]:
    """The receipt row: raw body, the headers a re-parse needs (never the secret), the delivery key."""
    return {
        "source": source.name,
        "delivery_key": submission.delivery_key,
        "event_id": submission.event_id,
        "received_at": utcnow(),
        "content_type": request.content_type[:255],
        "headers": {name: request.header(name) for name in source.kept_headers if request.header(name)},
        "body": request.body,
        "status": ReceiptStatus.RECEIVED,
        "attempts": 0,
        "duplicates": 0,
    }


def store_receipt(
    ctx: Context, source: Source[Any], request: IncomingRequest, submission: Delivery
) -> StoredReceipt:
    """Commit the receipt and enqueue its job; a known delivery key is acknowledged as a duplicate."""
    future = _writer(ctx).submit(receipt_values(source, request, submission))
    try:
        return future.result(timeout=STORE_TIMEOUT_SECONDS)
    except TimeoutError:
        raise StoreTimeout(f"receipt not committed within {STORE_TIMEOUT_SECONDS}s") from None


_writers_lock = threading.Lock()


def _writer(ctx: Context) -> ReceiptWriter:
    writer = ctx.__dict__.get("receipt_writer")
    if writer is None or not writer.is_alive():
        with _writers_lock:
            writer = ctx.__dict__.get("receipt_writer")
            if writer is None or not writer.is_alive():
                writer = ReceiptWriter(ctx)
                writer.start()
                ctx.__dict__["receipt_writer"] = writer
    return writer


class ReceiptWriter(threading.Thread):
    """The group-commit thread of one process."""

    def __init__(self, ctx: Context):
        super().__init__(name="connector-receipt-writer", daemon=True)
        self.ctx = ctx
        self.pending: queue.SimpleQueue[tuple[dict[str, Any], Future[StoredReceipt]]] = queue.SimpleQueue()

    def submit(self, values: dict[str, Any]) -> Future[StoredReceipt]:
        future: Future[StoredReceipt] = Future()
        self.pending.put((values, future))
        return future

    def run(self) -> None:
        while True:
            batch = [self.pending.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.pending.get_nowait())
                except queue.Empty:
                    break
            try:
                results = self._write(batch)
            except Exception as exc:  # the database is down: every request in the batch answers 503
                for _values, future in batch:
                    future.set_exception(exc)
                continue
            for (_values, future), result in zip(batch, results, strict=True):
                future.set_result(result)

    def _write(self, batch: list[tuple[dict[str, Any], Future[StoredReceipt]]]) -> list[StoredReceipt]:
        job_id = new_batch_job_id()
        rows = [{**values, "job_id": job_id} for values, _future in batch]
        with self.ctx.engine.begin() as connection:
            inserted = connection.execute(_insert_new(connection.dialect.name), rows).all()
        new_ids = {(row.source, row.delivery_key): row.id for row in inserted}
        queued = enqueue_receipts(self.ctx, sorted(new_ids.values()), job_id) if new_ids else False
        duplicates = [values for values in rows if (values["source"], values["delivery_key"]) not in new_ids]
        duplicate_ids = _acknowledge_duplicates(self.ctx, duplicates) if duplicates else {}
        results = []
        for values in rows:
            key = (values["source"], values["delivery_key"])
            if key in new_ids:
                results.append(StoredReceipt(new_ids.pop(key), duplicate=False, queued=queued))
            else:  # a redelivery, or the same key twice in this batch
                results.append(StoredReceipt(duplicate_ids[key], duplicate=True))
        return results


def _insert_new(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: known delivery keys come back as no row."""
    table = Receipt.__table__
    return insert_ignoring_conflicts(dialect, table, ["source", "delivery_key"]).returning(
        table.c.id, table.c.source, table.c.delivery_key
    )


def new_batch_job_id() -> str:
    """Job id for one intake batch; stored on each of its receipts so the sweeper can check the job."""
    return f"intake-{secrets.token_hex(8)}"


def enqueue_receipts(ctx: Context, receipt_ids: list[int], job_id: str) -> bool:
    """Queue one job for a batch of receipts (the intake path); False when Redis is unreachable."""
    try:
        schedule(
            ctx,
            PROCESS_RECEIPTS,
            receipt_ids,
            job_id=job_id,
            description=f"process {len(receipt_ids)} receipt(s) from {receipt_ids[0]}",
            failure_ttl=RECEIPT_FAILURE_TTL_SECONDS,
        )
    except RedisError as exc:
        log.warning("queue unavailable, receipt_ids=%s left for the sweeper: %s", receipt_ids, exc)
        return False
    return True


def _acknowledge_duplicates(ctx: Context, duplicates: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    ids: dict[tuple[str, str], int] = {}
    with ctx.sessions.begin() as session:
        for values in duplicates:
            key = (values["source"], values["delivery_key"])
            existing_id = session.scalar(
                select(Receipt.id).where(Receipt.source == key[0], Receipt.delivery_key == key[1])
            )
            if existing_id is None:  # pragma: no cover - the original was deleted in between
                raise RuntimeError(f"delivery key {key[1]} conflicts but no receipt holds it")
            session.execute(
                update(Receipt).where(Receipt.id == existing_id).values(duplicates=Receipt.duplicates + 1)
            )
            record(
                session,
                "duplicate",
                f"redelivery of {key[1]} acknowledged, not processed again",
                receipt_id=existing_id,
                event_id=values["event_id"],
            )
            ids[key] = existing_id
            log.info(
                "duplicate delivery source=%s receipt_id=%s event_id=%s",
                key[0],
                existing_id,
                values["event_id"],
            )
    return ids


def request_from_receipt(receipt: Receipt) -> IncomingRequest:
    """Rebuild what the source saw at intake, so a job parses exactly the stored bytes."""
    return IncomingRequest(
        body=receipt.body or b"", content_type=receipt.content_type, headers=receipt.headers
    )
