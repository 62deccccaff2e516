"""A ledger table whose rows workers lease: the one claim / fence / release / overdue every job uses.

A row waits (`waiting` statuses), is claimed (`working`, a fresh attempt token, a lease), and ends with a
result written only where the row still holds that token (the fence). A worker that dies leaves its rows
`working` with a lease that runs out; they are ready again, and the next claim takes them with a new
token, so the late worker's result, if it ever comes, is discarded.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Select, or_, select, update
from sqlalchemy.orm import Session

from connector.timeutil import as_utc, utcnow


@dataclass(frozen=True)
class Claim:
    """What one claim took: its token, the ids now leased under it, the tokens of the lost attempts it
    took over (their in-flight records say so)."""

    token: str
    ids: list[int]
    stale_tokens: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class LeasedLedger:
    """One leased table. Its model has `id`, `status`, `attempts`, `attempt_token`, `lease_until`,
    `next_attempt_at` and `created_at` columns."""

    name: str
    model: Any
    waiting: tuple[str, ...]
    """Statuses a row waits in; the first is the one a released row returns to."""
    working: str
    """The status of a leased row."""
    counts_attempts: bool = True
    """Whether a claim is an attempt (False: attempts count judged results, e.g. a record the CRM read)."""
    created: str = "created_at"
    """The column that says when a row was first stored."""
    touched: str | None = None
    """A column set to the time of every claim and result, where the model does not do it itself."""

    def ready(self, now: datetime, due: bool = True) -> ColumnElement[bool]:
        """Waiting (and due, unless `due` is off), or leased by a worker whose lease is over."""
        return or_(*self.ready_branches(now, due))

    def ready_branches(self, now: datetime, due: bool = True) -> tuple[ColumnElement[bool], ...]:
        """`ready` as its two disjoint halves (waiting, lease over): a query per half reads a
        (..., status, id) index range of live rows, where one OR made SQLite read the table's history."""
        m = self.model
        waiting = m.status.in_(self.waiting)
        if due:
            waiting = waiting & self._due(now)
        return waiting, (m.status == self.working) & (m.lease_until < now)

    def ready_statements(
        self,
        columns: tuple[Any, ...],
        now: datetime,
        *where: ColumnElement[bool],
        due: bool = True,
        limit: int | None = None,
    ) -> list[Select[Any]]:
        """One SELECT of `columns` per half of `ready`, each the first `limit` ready rows by id."""
        m = self.model
        return [
            select(*columns).where(branch, *where).order_by(m.id).limit(limit)
            for branch in self.ready_branches(now, due)
        ]

    def ready_rows(
        self,
        session: Session,
        columns: tuple[Any, ...],
        *where: ColumnElement[bool],
        due: bool = True,
        limit: int | None = None,
        now: datetime | None = None,
    ) -> list[Any]:
        """The first `limit` ready rows by id (`columns` must include the model's id)."""
        now = utcnow() if now is None else now
        rows = [
            row
            for query in self.ready_statements(columns, now, *where, due=due, limit=limit)
            for row in session.execute(query)
        ]
        rows.sort(key=lambda row: row.id)
        return rows[:limit] if limit is not None else rows

    def _due(self, now: datetime) -> ColumnElement[bool]:
        m = self.model
        return m.next_attempt_at.is_(None) | (m.next_attempt_at <= now)

    def overdue(self, now: datetime, grace_seconds: float) -> ColumnElement[bool]:
        """For the sweeper: rows that should have been taken by now, yet nobody holds them alive."""
        m = self.model
        late = now - timedelta(seconds=grace_seconds)
        return or_(
            m.status.in_(self.waiting)
            & or_(m.next_attempt_at.is_(None) & (getattr(m, self.created) < late), m.next_attempt_at < late),
            (m.status == self.working) & (m.lease_until < now),
        )

    def has_overdue(self, session: Session, grace_seconds: float) -> bool:
        """Is any row overdue (for a sweep that kicks one job for the whole table)?"""
        return session.scalar(self.overdue_statement(utcnow(), grace_seconds)) is not None

    def overdue_statement(self, now: datetime, grace_seconds: float) -> Select[Any]:
        """One overdue row's id, if any (the sweep's look-up)."""
        return select(self.model.id).where(self.overdue(now, grace_seconds)).limit(1)

    def seconds_until_ready(self, session: Session, *where: ColumnElement[bool]) -> float | None:
        """When the next row matching `where` becomes ready: 0 when one is ready now, None when none
        waits. A job that ran a little early (RQ's scheduler keeps whole seconds) schedules itself again
        for this."""
        now = utcnow()
        ready_now, next_at, lease_end = (
            session.scalar(query) for query in self.next_ready_statements(now, *where)
        )
        if ready_now is not None:
            return 0.0
        moments = [(as_utc(t) - now).total_seconds() for t in (next_at, lease_end) if t is not None]
        return max(0.0, min(moments)) if moments else None

    def next_ready_statements(self, now: datetime, *where: ColumnElement[bool]) -> list[Select[Any]]:
        """For `seconds_until_ready`: a waiting row due now (any id), the earliest retry time, the earliest
        lease end. Each reads the live rows' index range and stops at the first, instead of an aggregate
        over every row matching `where`."""
        m = self.model
        waiting = m.status.in_(self.waiting)
        return [
            select(m.id).where(waiting, self._due(now), *where).limit(1),
            select(m.next_attempt_at)
            .where(waiting, m.next_attempt_at.is_not(None), *where)
            .order_by(m.next_attempt_at)
            .limit(1),
            select(m.lease_until)
            .where(m.status == self.working, m.lease_until.is_not(None), *where)
            .order_by(m.lease_until)
            .limit(1),
        ]

    def claim(
        self,
        session: Session,
        lease_seconds: float,
        *where: ColumnElement[bool],
        ids: list[int] | None = None,
        limit: int | None = None,
        due: bool = True,
    ) -> Claim:
        """Lease the ready rows among `ids` (or the first `limit` matching `where`), in the caller's
        transaction; rows another worker took in between stay theirs."""
        m = self.model
        now = utcnow()
        token = secrets.token_hex(16)
        columns = (m.id, m.attempt_token, m.status)
        if ids is not None:
            query = select(*columns).where(self.ready(now, due), m.id.in_(ids), *where)
            candidates = list(session.execute(query.order_by(m.id).limit(limit)))
        else:
            candidates = self.ready_rows(session, columns, *where, due=due, limit=limit, now=now)
        if not candidates:
            return Claim(token, [])
        values: dict[str, Any] = {
            "status": self.working,
            "attempt_token": token,
            "lease_until": now + timedelta(seconds=lease_seconds),
        }
        if self.counts_attempts:
            values["attempts"] = m.attempts + 1
        if self.touched:
            values[self.touched] = now
        picked = [c.id for c in candidates]
        session.execute(update(m).where(m.id.in_(picked), self.ready(now, due)).values(**values))
        # By id first: not every leased table indexes its attempt token.
        taken = list(
            session.scalars(select(m.id).where(m.id.in_(picked), m.attempt_token == token).order_by(m.id))
        )
        stale = {c.attempt_token for c in candidates if c.status == self.working and c.attempt_token}
        return Claim(token, taken, stale)

    def claim_rows(
        self, session: Session, lease_seconds: float, ids: list[int], due: bool = True
    ) -> tuple[str, list[Any]]:
        """Lease the ready rows among `ids` in one UPDATE ... RETURNING (no read before or after), in the
        caller's transaction; returns the token and the leased rows, by id. Rows another worker took in
        between stay theirs: the UPDATE's own WHERE is checked again under the row lock."""
        m = self.model
        now = utcnow()
        token = secrets.token_hex(16)
        values: dict[str, Any] = {
            "status": self.working,
            "attempt_token": token,
            "lease_until": now + timedelta(seconds=lease_seconds),
        }
        if self.counts_attempts:
            values["attempts"] = m.attempts + 1
        if self.touched:
            values[self.touched] = now
        statement = update(m).where(m.id.in_(ids), self.ready(now, due)).values(**values).returning(m)
        rows = session.scalars(statement, execution_options={"synchronize_session": False}).all()
        return token, sorted(rows, key=lambda row: row.id)

    def fence(self, token: str, *ids: int) -> ColumnElement[bool]:
        """Rows still leased under `token` (among `ids` when given)."""
        m = self.model
        clause = (m.attempt_token == token) & (m.status == self.working)
        return clause & m.id.in_(ids) if ids else clause

    def finish(self, session: Session, token: str, ids: list[int], **values: Any) -> int:
        """Write a result where the rows still hold `token`; returns how many did (0: lease lost)."""
        values.setdefault("lease_until", None)
        if self.touched:
            values.setdefault(self.touched, utcnow())
        return rowcount(session.execute(update(self.model).where(self.fence(token, *ids)).values(**values)))

    def release(
        self, session: Session, token: str, ids: list[int], delay_seconds: float, **values: Any
    ) -> int:
        """Put leased rows back to waiting, due in `delay_seconds` (fenced on `token`)."""
        values.setdefault("status", self.waiting[0])
        values["next_attempt_at"] = utcnow() + timedelta(seconds=max(delay_seconds, 0.0))
        return self.finish(session, token, ids, **values)


def rowcount(result: Any) -> int:
    """Rows an UPDATE touched (SQLAlchemy types `execute` as a plain Result)."""
    return cast(CursorResult[Any], result).rowcount
