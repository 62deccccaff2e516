"""Store receipts durably before answering, and acknowledge redeliveries without storing them twice.

Concurrent requests in one process share a transaction (group commit, leader and followers): the request
that finds no commit under way leads: it takes whatever receipts are waiting, its own among them, inserts
them in one statement, commits once, passes the lead to the first request that arrived meanwhile, queues
the batch's job in one Redis round trip and wakes each request of its batch. No thread is woken to write
and none waits for its own commit's hand-back. Every request still gets its answer only after its receipt
is committed.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from connector.context import Context
from connector.intake.base import Delivery, Source
from connector.intake.host_lock import HostLock, lock_path
from connector.intake.receipt_insert import commit_new_receipts, insert_new_receipts
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
    return ctx.kept("receipt_writer", ReceiptWriter).store(
        receipt_values(source, request, submission), STORE_TIMEOUT_SECONDS
    )


class Waiter:
    """One request's place in the group commit: a lock taken now and released once, either with the
    request's answer or with the lead (lighter than a Future, whose condition allocates a lock per wait)."""

    __slots__ = ("_done", "_result", "_error", "lead")

    def __init__(self) -> None:
        self._done = threading.Lock()
        self._done.acquire()
        self._result: StoredReceipt | None = None
        self._error: BaseException | None = None
        self.lead = False

    def set_result(self, result: StoredReceipt) -> None:
        self._result = result
        self._done.release()

    def set_exception(self, error: BaseException) -> None:
        self._error = error
        self._done.release()

    def take_lead(self) -> None:
        self.lead = True
        self._done.release()

    def woken(self, timeout: float) -> bool:
        return self._done.acquire(timeout=timeout)

    def answer(self) -> StoredReceipt:
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


Pending = tuple[dict[str, Any], Waiter]
"""A receipt's values and the request waiting for its answer."""


@dataclass
class _Committed:
    """A batch once committed: each request's answer but the new receipts' `queued`, and the jobs to queue
    (the new receipts' ids, the job id stored on them)."""

    results: list[StoredReceipt | BaseException]
    jobs: list[tuple[list[int], str]]


class ReceiptWriter:
    """The group commit of one process: the waiting receipts, and whether a request leads a commit now."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._state = threading.Lock()
        self._pending: list[Pending] = []
        self._leading = False
        self._connection: Connection | None = None
        self._host_lock = HostLock(lock_path(ctx.engine, ctx.settings.data_path))
        self._autocommit = ctx.engine.dialect.name == "postgresql"
        """The held connection commits each statement (PostgreSQL: an INSERT is atomic on its own)."""

    def store(self, values: dict[str, Any], timeout: float) -> StoredReceipt:
        """The receipt's answer once it is committed: written now if no commit is under way, else by the
        request leading the next one (perhaps this one, once the lead is passed to it)."""
        waiter = Waiter()
        with self._state:
            self._pending.append((values, waiter))
            lead = not self._leading
            self._leading = True
        if not lead:
            self._wait(waiter, timeout)
            lead = waiter.lead
        if lead:
            self._lead()
        return waiter.answer()

    def _wait(self, waiter: Waiter, timeout: float) -> None:
        if waiter.woken(timeout):
            return
        with self._state:
            waiting = not waiter.lead and any(w is waiter for _values, w in self._pending)
            if waiting:  # never taken: withdrawn, so no one passes it the lead
                self._pending = [p for p in self._pending if p[1] is not waiter]
        if waiting or not waiter.woken(timeout):
            raise StoreTimeout(f"receipt not committed within {timeout:g}s")

    def _lead(self) -> None:
        """Commit what is waiting, pass the lead on, queue the batch's job, answer each of its requests."""
        batch: list[Pending] = []
        committed: _Committed | BaseException
        try:
            # The batch is taken once the other web processes' commits are done: what arrived while this
            # request waited for the lock goes into this commit, not the next.
            with self._host_lock.held():
                batch = self._take()
                committed = self._commit(batch)
        except Exception as exc:  # the database is down: every request in the batch answers 503
            batch = batch or self._take()
            committed = exc
        finally:
            self._pass_lead()
        if isinstance(committed, BaseException):
            results: list[StoredReceipt | BaseException] = [committed] * len(batch)
        else:
            try:
                results = self._enqueue(committed)
            except Exception as exc:  # pragma: no cover - enqueue_receipts answers Redis errors itself
                results = [exc] * len(batch)
        for (_values, waiter), result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                waiter.set_exception(result)
            else:
                waiter.set_result(result)

    def _take(self) -> list[Pending]:
        with self._state:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        return batch

    def _pass_lead(self) -> None:
        """The first request that arrived during this commit leads the next; with none, no one leads."""
        with self._state:
            if self._pending:
                self._pending[0][1].take_lead()
            else:
                self._leading = False

    def _write(self, batch: list[tuple[dict[str, Any], Any]]) -> list[StoredReceipt | BaseException]:
        """Commit the batch and queue its job: each request's answer."""
        with self._host_lock.held():
            committed = self._commit(batch)
        return self._enqueue(committed)

    def _enqueue(self, committed: _Committed) -> list[StoredReceipt | BaseException]:
        """Queue the committed batch's job (outside the host lock: the other processes commit meanwhile)."""
        queued = {
            receipt_id: ok
            for ids, job_id in committed.jobs
            for ok in [enqueue_receipts(self.ctx, ids, job_id)]
            for receipt_id in ids
        }
        return [
            StoredReceipt(result.id, duplicate=False, queued=queued[result.id])
            if isinstance(result, StoredReceipt) and not result.duplicate
            else result
            for result in committed.results
        ]

    def _commit(self, batch: list[tuple[dict[str, Any], Any]]) -> _Committed:
        """One commit for the batch (the host lock held); each request gets its own answer. The first
        copy of a delivery key is stored, every later one (a redelivery, or a copy in this very batch) is
        a duplicate. A row the database refuses is answered alone: the batch is then written row by row."""
        job_id = new_batch_job_id()
        rows, cuts = [], []
        for values, _waiter in batch:
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
            return self._commit_one_by_one(batch)
        stored = {_key(rows[n]) for n in first.values() if _key(rows[n]) in new_ids}
        duplicates = [v for n, v in enumerate(rows) if _key(v) not in stored or first[_key(v)] != n]
        duplicate_ids = _acknowledge_duplicates(self.ctx, duplicates) if duplicates else {}
        results: list[StoredReceipt | BaseException] = []
        for n, values in enumerate(rows):
            key = _key(values)
            if key in stored and first[key] == n:
                results.append(StoredReceipt(new_ids[key], duplicate=False))
            else:
                results.append(StoredReceipt(duplicate_ids[key], duplicate=True))
        return _Committed(results, [(sorted(new_ids.values()), job_id)] if new_ids else [])

    def _commit_one_by_one(self, batch: list[tuple[dict[str, Any], Any]]) -> _Committed:
        """Each row in a commit (and a job) of its own: a refused row fails alone."""
        results: list[StoredReceipt | BaseException] = []
        jobs: list[tuple[list[int], str]] = []
        for item in batch:
            try:
                one = self._commit([item])
            except SQLAlchemyError as exc:
                log.error("receipt of source %s refused by the database: %s", item[0].get("source"), exc)
                results.append(exc)
                continue
            results += one.results
            jobs += one.jobs
        return _Committed(results, jobs)

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
        """Insert the new keys in one transaction, with a journal line for each value cut to fit. A batch
        with nothing cut is the INSERT alone, on the driver's connection: on PostgreSQL committed by the
        server as it runs (the answer comes once it is durable), one round trip, not three (BEGIN and
        COMMIT); on SQLite too, which writes a lone statement as a transaction of its own, taking the write
        lock at its start as BEGIN IMMEDIATE would."""
        connection = self._held_connection()
        if not any(cuts):
            return {(source, key): id_ for id_, source, key in commit_new_receipts(connection, unique)}
        if self._autocommit:
            connection = self.ctx.engine.connect()  # its journal lines must commit with it
        try:
            return self._insert_on(connection, unique, rows, cuts)
        finally:
            if connection is not self._connection:
                connection.close()

    def _insert_on(
        self,
        connection: Connection,
        unique: list[dict[str, Any]],
        rows: list[dict[str, Any]],
        cuts: list[list[str]],
    ) -> dict[tuple[str, str], int]:
        with connection.begin():
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
        if self._connection is not None and self._connection.invalidated:
            self._connection.close()  # a new one, set up as below (a reconnect would not keep AUTOCOMMIT)
        if self._connection is None or self._connection.closed:
            self._connection = self.ctx.engine.connect()
            if self._autocommit:
                self._connection.execution_options(isolation_level="AUTOCOMMIT")
        return self._connection


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
