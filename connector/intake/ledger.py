"""Store receipts durably before answering, and acknowledge redeliveries without storing them twice.

Concurrent requests in one process share a transaction (group commit): a writer thread takes whatever
receipts are waiting, inserts them in one statement, commits once, enqueues them in one Redis round trip,
and wakes each request. Every request still gets its answer only after its receipt is committed.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import secrets
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from connector.context import Context
from connector.intake.base import Delivery, Source
from connector.intake.host_lock import HostLock
from connector.intake.receipt_insert import insert_new_receipts
from connector.intake.request import IncomingRequest
from connector.journal import record
from connector.queue.defaults import RECEIPT_FAILURE_TTL_SECONDS
from connector.queue.push import push
from connector.store.fit import fit_values
from connector.store.models import JournalEntry, Receipt, ReceiptStatus
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
        self._connection: Connection | None = None
        self._host_lock = HostLock(ctx.engine)

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
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _write(
        self, batch: list[tuple[dict[str, Any], Future[StoredReceipt]]]
    ) -> list[StoredReceipt | BaseException]:
        """One commit for the batch; each request gets its own answer. The first copy of a delivery key
        is stored, every later one (a redelivery, or a copy in this very batch) is a duplicate. A row the
        database refuses is answered alone: the batch is then written row by row."""
        job_id = new_batch_job_id()
        rows, cuts = [], []
        for values, _future in batch:
            fitted, cut = fit_values(Receipt, {**values, "job_id": job_id})
            rows.append(fitted)
            cuts.append(cut)
        first: dict[tuple[str, str], int] = {}
        for n, values in enumerate(rows):
            first.setdefault(_key(values), n)
        unique = [rows[n] for n in sorted(first.values())]
        try:
            new_ids = self._insert_once_more_if_dropped(unique, rows, cuts)
        except OperationalError:
            raise  # the database is unreachable or locked: every request answers 503
        except SQLAlchemyError:
            if len(unique) == 1:
                raise
            log.warning("group commit of %d receipts refused; writing them one by one", len(unique))
            return self._write_one_by_one(batch)
        queued = enqueue_receipts(self.ctx, sorted(new_ids.values()), job_id) if new_ids else False
        stored = {_key(rows[n]) for n in first.values() if _key(rows[n]) in new_ids}
        duplicates = [v for n, v in enumerate(rows) if _key(v) not in stored or first[_key(v)] != n]
        duplicate_ids: dict[tuple[str, str], int] = {}
        if duplicates:
            with self._host_lock.held():
                duplicate_ids = _acknowledge_duplicates(self.ctx, duplicates)
        results: list[StoredReceipt | BaseException] = []
        for n, values in enumerate(rows):
            key = _key(values)
            if key in stored and first[key] == n:
                results.append(StoredReceipt(new_ids[key], duplicate=False, queued=queued))
            else:
                results.append(StoredReceipt(duplicate_ids[key], duplicate=True))
        return results

    def _insert_once_more_if_dropped(
        self, unique: list[dict[str, Any]], rows: list[dict[str, Any]], cuts: list[list[str]]
    ) -> dict[tuple[str, str], int]:
        """`_insert`, tried again on a new connection when the database had dropped the pooled one
        (a restart, a proxy that cut it): connections are not pinged before every use."""
        try:
            return self._insert(unique, rows, cuts)
        except OperationalError as exc:
            if not exc.connection_invalidated:
                raise
            log.warning("database connection dropped; the group commit is tried once more: %s", exc)
            return self._insert(unique, rows, cuts)

    def _insert(
        self, unique: list[dict[str, Any]], rows: list[dict[str, Any]], cuts: list[list[str]]
    ) -> dict[tuple[str, str], int]:
        """Insert the new keys in one transaction, with a journal line for each value cut to fit."""
        connection = self._held_connection()
        with self._host_lock.held(), connection.begin():
            inserted = insert_new_receipts(connection, unique)
            new_ids = {(row.source, row.delivery_key): row.id for row in inserted}
            notes = [
                _cut_note(new_ids[_key(values)], values, cut)
                for values, cut in zip(rows, cuts, strict=True)
                if cut and _key(values) in new_ids
            ]
            if notes:
                connection.execute(insert(JournalEntry), notes)
        return new_ids

    def _held_connection(self) -> Connection:
        """The writer's own connection, kept between commits: a checkout and a return to the pool per
        batch cost about as much CPU as the insert. One the database dropped reconnects on next use."""
        if self._connection is None or self._connection.closed:
            self._connection = self.ctx.engine.connect()
        return self._connection

    def _write_one_by_one(
        self, batch: list[tuple[dict[str, Any], Future[StoredReceipt]]]
    ) -> list[StoredReceipt | BaseException]:
        results: list[StoredReceipt | BaseException] = []
        for item in batch:
            try:
                results.append(self._write([item])[0])
            except SQLAlchemyError as exc:
                log.error("receipt of source %s refused by the database: %s", item[0].get("source"), exc)
                results.append(exc)
        return results


def _key(values: dict[str, Any]) -> tuple[str, str]:
    return values["source"], values["delivery_key"]


def _cut_note(receipt_id: int, values: dict[str, Any], cut: list[str]) -> dict[str, Any]:
    return {
        "receipt_id": receipt_id,
        "event_id": values.get("event_id"),
        "at": utcnow(),
        "kind": "received",
        "message": f"value(s) longer than their column cut to fit: {', '.join(cut)}",
        "details": {"cut": cut},
    }


_batch_ids = itertools.count()
_batch_prefix = f"intake-{secrets.token_hex(6)}"


def new_batch_job_id() -> str:
    """Job id for one intake batch; stored on each of its receipts so the sweeper can check the job.
    A random prefix per process and a counter: unique without a call to the OS per batch."""
    return f"{_batch_prefix}-{next(_batch_ids)}"


def _new_prefix() -> None:
    global _batch_prefix  # a forked gunicorn worker must not repeat its parent's (or a sibling's) ids
    _batch_prefix = f"intake-{secrets.token_hex(6)}"


os.register_at_fork(after_in_child=_new_prefix)


def enqueue_receipts(ctx: Context, receipt_ids: list[int], job_id: str) -> bool:
    """Queue one job for a batch of receipts (the intake path); False when Redis is unreachable."""
    try:
        push(
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
