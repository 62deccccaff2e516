"""The Failures page: failed receipts, CRM writes, conversions and deal attributions, newest first, filtered
and paginated.

Each kind is read from its (status, time) index; the kinds are merged by time, and a page continues from a
cursor (time, kind, id) rather than an offset, so page 1,000 costs what page 1 does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from connector.admin.queries.bounded import bounded_count
from connector.store.models import (
    Conversion,
    ConversionStatus,
    CrmWrite,
    DealAttribution,
    DealAttributionStatus,
    Receipt,
    ReceiptStatus,
    Submission,
    WriteStatus,
)
from connector.timeutil import as_utc, parse_iso

if TYPE_CHECKING:
    Rows = Select[*tuple[Any, ...]]
    """A select of any columns (the three kinds' rows share their labels, not their types)."""

KINDS = ("receipt", "crm_write", "conversion", "deal")
"""What can fail, in the order ties on time are broken."""

KIND_LABELS = {
    "receipt": "Receipt",
    "crm_write": "CRM write",
    "conversion": "Conversion",
    "deal": "Deal attribution",
}
KIND_SINGULARS = {
    "receipt": "receipt",
    "crm_write": "CRM write",
    "conversion": "conversion",
    "deal": "deal attribution",
}
KIND_PLURALS = {
    "receipt": "receipts",
    "crm_write": "CRM writes",
    "conversion": "conversions",
    "deal": "deal attributions",
}

PAGE = 50
"""Failures per page."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class FilterError(ValueError):
    """A filter value the page cannot use (shown to the user as it is)."""


@dataclass(frozen=True)
class Filters:
    """What the user narrowed the list to; empty strings and None mean "any"."""

    kind: str = ""
    source: str = ""
    reason: str = ""
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        """From the query string (or a form); a bad value is a FilterError naming it."""
        kind = (args.get("kind") or "").strip()
        if kind and kind not in KINDS:
            raise FilterError(f"kind must be one of {', '.join(KINDS)}")
        dates = {}
        for name in ("since", "until"):
            text = (args.get(name) or "").strip()
            dates[name] = parse_iso(text) if text else None
            if text and dates[name] is None:
                raise FilterError(f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 time")
        if dates["until"] is not None and len((args.get("until") or "").strip()) == 10:
            dates["until"] = dates["until"].replace(hour=23, minute=59, second=59, microsecond=999999)
        return cls(
            kind=kind,
            source=(args.get("source") or "").strip()[:64],
            reason=(args.get("reason") or "").strip()[:200],
            since=dates["since"],
            until=dates["until"],
        )

    def kinds(self) -> tuple[str, ...]:
        return (self.kind,) if self.kind else KINDS

    def as_args(self) -> dict[str, str]:
        """The filters as query-string values (for links to the next page)."""
        values = {"kind": self.kind, "source": self.source, "reason": self.reason}
        values["since"] = self.since.isoformat() if self.since else ""
        values["until"] = self.until.isoformat() if self.until else ""
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class Failure:
    """One failed thing, as the page lists it."""

    kind: str
    id: int
    at: datetime | None
    source: str
    target: str
    reason: str
    error: str
    attempts: int
    event_key: str

    @property
    def cursor(self) -> str:
        """`<microseconds since 1970>|<kind>|<id>`: plain characters, safe in a query string as they are."""
        return f"{(self.at - EPOCH) // MICROSECOND if self.at else 0}|{self.kind}|{self.id}"

    @property
    def item(self) -> str:
        """`kind:id`, as the replay form and the outcome page name it."""
        return f"{self.kind}:{self.id}"


_SubmissionOfWrite = aliased(Submission)
_ReceiptOfConversion = aliased(Receipt)
_SubmissionOfDeal = aliased(Submission)


def _statement(kind: str) -> tuple[Rows, Any, Any, Any, Any]:
    """(select of the kind's rows as the page lists them, its time, id, source and error columns)."""
    stmt: Rows
    if kind == "receipt":
        stmt = select(
            literal("receipt").label("kind"),
            Receipt.id,
            Receipt.received_at.label("at"),
            Receipt.source,
            literal("").label("target"),
            literal("").label("reason"),
            Receipt.last_error.label("error"),
            Receipt.attempts,
            Receipt.event_id,
            Receipt.id.label("receipt_id"),
        )
        return stmt, Receipt.received_at, Receipt.id, Receipt.source, Receipt.last_error
    if kind == "crm_write":
        source = _SubmissionOfWrite.source
        stmt = select(
            literal("crm_write").label("kind"),
            CrmWrite.id,
            CrmWrite.updated_at.label("at"),
            source.label("source"),
            (CrmWrite.crm + " " + CrmWrite.object_type).label("target"),
            func.coalesce(CrmWrite.outcome, "").label("reason"),
            CrmWrite.last_error.label("error"),
            CrmWrite.attempts,
            CrmWrite.event_id,
            _SubmissionOfWrite.receipt_id,
        ).join(_SubmissionOfWrite, _SubmissionOfWrite.id == CrmWrite.submission_id)
        return stmt, CrmWrite.updated_at, CrmWrite.id, source, CrmWrite.last_error
    if kind == "deal":
        source = _SubmissionOfDeal.source
        stmt = select(
            literal("deal").label("kind"),
            DealAttribution.id,
            DealAttribution.updated_at.label("at"),
            func.coalesce(source, "").label("source"),
            (DealAttribution.crm + " " + DealAttribution.object_type + " " + DealAttribution.record_id).label(
                "target"
            ),
            literal("").label("reason"),
            DealAttribution.last_error.label("error"),
            DealAttribution.attempts,
            DealAttribution.event_id,
            DealAttribution.receipt_id,
        ).outerjoin(_SubmissionOfDeal, _SubmissionOfDeal.id == DealAttribution.submission_id)
        return stmt, DealAttribution.updated_at, DealAttribution.id, source, DealAttribution.last_error
    source = _ReceiptOfConversion.source
    stmt = select(
        literal("conversion").label("kind"),
        Conversion.id,
        Conversion.updated_at.label("at"),
        func.coalesce(source, "").label("source"),
        (Conversion.event_type + " " + Conversion.pixel_id).label("target"),
        func.coalesce(Conversion.reason, "").label("reason"),
        Conversion.last_error.label("error"),
        Conversion.attempts,
        Conversion.event_id,
        Conversion.receipt_id,
    ).outerjoin(_ReceiptOfConversion, _ReceiptOfConversion.id == Conversion.receipt_id)
    return stmt, Conversion.updated_at, Conversion.id, source, Conversion.last_error


SCANNED = 2000
"""How many of the newest failures of each kind (within the dates) the reason and source filters look at:
they read each row, so they stay within a window the status index hands over."""


def _status(kind: str) -> tuple[Any, Any, Any]:
    """(the kind's "failed" condition, its time column, its id column): what its (status, time) index holds."""
    if kind == "receipt":
        return Receipt.status == ReceiptStatus.FAILED, Receipt.received_at, Receipt.id
    if kind == "crm_write":
        return CrmWrite.status == WriteStatus.FAILED, CrmWrite.updated_at, CrmWrite.id
    if kind == "deal":
        failed = DealAttribution.status == DealAttributionStatus.FAILED
        return failed, DealAttribution.updated_at, DealAttribution.id
    return Conversion.status == ConversionStatus.FAILED, Conversion.updated_at, Conversion.id


def reads_rows(kind: str, filters: Filters) -> bool:
    """Does this filter look inside rows (so it is limited to the newest SCANNED failures of the kind)?"""
    return bool(filters.reason or (filters.source and kind != "receipt"))


def _index_range(kind: str, filters: Filters) -> list[ColumnElement[bool]]:
    failed, at, _row_id = _status(kind)
    conditions = [failed]
    if kind == "receipt" and filters.source:
        conditions.append(Receipt.source == filters.source)  # (source, received_at, status) index
    if filters.since is not None:
        conditions.append(at >= filters.since)
    if filters.until is not None:
        conditions.append(at <= filters.until)
    return conditions


def _filtered(session: Session, kind: str, filters: Filters) -> tuple[Rows, Any, Any]:
    stmt, at, row_id, source, error = _statement(kind)
    stmt = stmt.where(*_index_range(kind, filters))
    if reads_rows(kind, filters):
        # The window as a time bound (the SCANNED-th newest failure's), so both planners read an index range.
        oldest = session.scalar(
            select(at).where(*_index_range(kind, filters)).order_by(at.desc()).offset(SCANNED - 1).limit(1)
        )
        if oldest is not None:
            stmt = stmt.where(at >= oldest)
        if filters.source:
            stmt = stmt.where(source == filters.source)
        if filters.reason:
            pattern = f"%{_escape_like(filters.reason.lower())}%"
            conditions: list[ColumnElement[bool]] = [func.lower(error).like(pattern, escape="\\")]
            if kind == "conversion":
                conditions.append(Conversion.reason == filters.reason.lower())
            stmt = stmt.where(or_(*conditions))
    return stmt, at, row_id


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _parse_cursor(cursor: str | None) -> tuple[datetime, int, int] | None:
    if not cursor:
        return None
    parts = cursor.split("|")
    if len(parts) != 3 or not parts[0].isdigit() or parts[1] not in KINDS or not parts[2].isdigit():
        raise FilterError("the page cursor is not one this page made; start from the first page")
    return EPOCH + int(parts[0]) * MICROSECOND, KINDS.index(parts[1]), int(parts[2])


def page(
    session: Session, filters: Filters, cursor: str | None = None, limit: int = PAGE
) -> tuple[list[Failure], str | None]:
    """One page of failures after `cursor`, newest first, and the cursor of the next page (None: last)."""
    after = _parse_cursor(cursor)
    rows: list[Any] = []
    for kind in filters.kinds():
        stmt, at, row_id = _filtered(session, kind, filters)
        if after is not None:
            moment, rank, last_id = after
            mine = KINDS.index(kind)
            if mine < rank:
                stmt = stmt.where(at <= moment)
            elif mine == rank:
                stmt = stmt.where(or_(at < moment, and_(at == moment, row_id < last_id)))
            else:
                stmt = stmt.where(at < moment)
        rows += session.execute(stmt.order_by(at.desc(), row_id.desc()).limit(limit + 1)).all()
    rows.sort(
        key=lambda r: (as_utc(r.at).timestamp() if r.at else 0.0, KINDS.index(r.kind), r.id), reverse=True
    )
    failures = [_failure(r) for r in rows[: limit + 1]]
    more = len(failures) > limit
    failures = failures[:limit]
    return failures, (failures[-1].cursor if more and failures else None)


def _failure(r: Any) -> Failure:
    return Failure(
        kind=r.kind,
        id=r.id,
        at=as_utc(r.at),
        source=r.source or "",
        target=r.target or "",
        reason=r.reason or "",
        error=r.error or "",
        attempts=r.attempts or 0,
        event_key=r.event_id or (f"receipt:{r.receipt_id}" if r.receipt_id else ""),
    )


def counts(session: Session, filters: Filters) -> dict[str, tuple[int, bool]]:
    """Per kind: how many failures match (capped), and whether there are more than the cap."""
    result = {}
    for kind in filters.kinds():
        if reads_rows(kind, filters):
            stmt, _at, row_id = _filtered(session, kind, filters)
            ids = stmt.with_only_columns(row_id)
        else:  # the index range alone, without the joins the page's rows need
            _failed, _at, row_id = _status(kind)
            ids = select(row_id).where(*_index_range(kind, filters))
        result[kind] = bounded_count(session, ids)
    return result


REPLAY_ALL_CAP = 10_000
"""Most failures one "replay all that match" queues (the rest wait for the next press)."""


def matching_ids(session: Session, filters: Filters, cap: int = REPLAY_ALL_CAP) -> dict[str, list[int]]:
    """The ids of every failure that matches, per kind, oldest first, up to `cap` in all."""
    found: dict[str, list[int]] = {}
    left = cap
    for kind in filters.kinds():
        stmt, at, row_id = _filtered(session, kind, filters)
        ids = list(session.scalars(stmt.with_only_columns(row_id).order_by(at, row_id).limit(left)))
        found[kind] = ids
        left -= len(ids)
        if left <= 0:
            break
    return found


def parse_items(values: list[str]) -> dict[str, list[int]]:
    """`kind:id` strings (from a form or a link) grouped by kind; anything else is a FilterError."""
    grouped: dict[str, list[int]] = {kind: [] for kind in KINDS}
    for value in values:
        kind, _, number = value.partition(":")
        if kind not in KINDS or not number.isdigit():
            raise FilterError(
                f"not a failure: {value[:80]!r} (expected kind:id, kind one of {', '.join(KINDS)})"
            )
        grouped[kind].append(int(number))
    return {k: v for k, v in grouped.items() if v}


@dataclass(frozen=True)
class Outcome:
    """Where a replayed item is now."""

    kind: str
    id: int
    status: str
    done: bool
    error: str
    event_key: str


_DONE = {
    "receipt": (ReceiptStatus.PROCESSED, ReceiptStatus.FAILED),
    "crm_write": (WriteStatus.WRITTEN, WriteStatus.FAILED),
    "conversion": ConversionStatus.FINAL,
    "deal": (
        DealAttributionStatus.WRITTEN,
        DealAttributionStatus.FAILED,
        *DealAttributionStatus.REVISIT,
        DealAttributionStatus.DELETED,
    ),
}


def outcomes(session: Session, items: dict[str, list[int]]) -> list[Outcome]:
    """The current status of each item (by primary key), in the order given."""
    found: list[Outcome] = []
    for kind, ids in items.items():
        stmt: Rows
        if kind == "receipt":
            stmt = select(
                Receipt.id, Receipt.status, Receipt.last_error, Receipt.event_id, Receipt.id.label("rid")
            )
            stmt = stmt.where(Receipt.id.in_(ids))
        elif kind == "crm_write":
            stmt = (
                select(
                    CrmWrite.id,
                    CrmWrite.status,
                    CrmWrite.last_error,
                    CrmWrite.event_id,
                    Submission.receipt_id,
                )
                .join(Submission, Submission.id == CrmWrite.submission_id)
                .where(CrmWrite.id.in_(ids))
            )
        elif kind == "deal":
            stmt = select(
                DealAttribution.id,
                DealAttribution.status,
                DealAttribution.last_error,
                DealAttribution.event_id,
                DealAttribution.receipt_id,
            ).where(DealAttribution.id.in_(ids))
        else:
            stmt = select(
                Conversion.id,
                Conversion.status,
                Conversion.last_error,
                Conversion.event_id,
                Conversion.receipt_id,
            ).where(Conversion.id.in_(ids))
        by_id = {r[0]: r for r in session.execute(stmt).all()}
        for item_id in ids:
            row = by_id.get(item_id)
            if row is None:
                continue
            key = row[3] or (f"receipt:{row[4]}" if row[4] else "")
            found.append(Outcome(kind, item_id, row[1], row[1] in _DONE[kind], row[2] or "", key))
    return found
