"""What arrived and what became of it: the last 24 hours per source, failures since, conversions by
status. Every query reads an index range: (source, received_at, status) for receipts, (status, ...) for
the CRM writes and conversions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.store.models import (
    Conversion,
    ConversionStatus,
    CrmWrite,
    Receipt,
    ReceiptStatus,
    WriteStatus,
)
from connector.timeutil import as_utc, utcnow

DAY = timedelta(hours=24)
CONVERSION_STATUSES = (ConversionStatus.PENDING, ConversionStatus.SENDING, *ConversionStatus.FINAL)


@dataclass
class SourceDay:
    """One source's last 24 hours."""

    source: str
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def received(self) -> int:
        return sum(self.by_status.values())

    @property
    def processed(self) -> int:
        return self.by_status.get(ReceiptStatus.PROCESSED, 0)

    @property
    def failed(self) -> int:
        return self.by_status.get(ReceiptStatus.FAILED, 0)

    @property
    def waiting(self) -> int:
        return self.received - self.processed - self.failed


def last_day_by_source(session: Session, sources: list[str], now: datetime | None = None) -> list[SourceDay]:
    """Receipts received in the last 24 hours, per source and status (sources with none included)."""
    since = (now or utcnow()) - DAY
    days = {name: SourceDay(name) for name in sources}
    rows = session.execute(
        select(Receipt.source, Receipt.status, func.count())
        .where(Receipt.source.in_(sources), Receipt.received_at >= since)
        .group_by(Receipt.source, Receipt.status)
    )
    for source, status, count in rows:
        days[source].by_status[status] = count
    return list(days.values())


def last_deliveries(session: Session, sources: list[str]) -> dict[str, datetime | None]:
    """When each source last delivered: one statement of one index lookup per source (the newest entry
    of its (source, received_at) range), so one round trip whatever the number of sources."""
    if not sources:
        return {}
    newest = [
        select(func.max(Receipt.received_at)).where(Receipt.source == name).scalar_subquery()
        for name in sources
    ]
    row = session.execute(select(*newest)).one()
    return {name: as_utc(at) if at else None for name, at in zip(sources, row, strict=True)}


def recent_errors(
    session: Session, source: str, limit: int = 3, now: datetime | None = None
) -> list[Receipt]:
    """The newest failed or retrying receipts of `source` in the last 24 hours, with their errors."""
    since = (now or utcnow()) - DAY
    return list(
        session.scalars(
            select(Receipt)
            .where(
                Receipt.source == source,
                Receipt.received_at >= since,
                Receipt.status.in_((ReceiptStatus.FAILED, ReceiptStatus.RETRYING)),
            )
            .order_by(Receipt.received_at.desc())
            .limit(limit)
        )
    )


def failed_since(session: Session, now: datetime | None = None) -> dict[str, int]:
    """CRM writes and conversions that failed for good in the last 24 hours."""
    since = (now or utcnow()) - DAY
    writes = session.scalar(
        select(func.count())
        .select_from(CrmWrite)
        .where(CrmWrite.status == WriteStatus.FAILED, CrmWrite.updated_at >= since)
    )
    conversions = session.scalar(
        select(func.count())
        .select_from(Conversion)
        .where(Conversion.status == ConversionStatus.FAILED, Conversion.updated_at >= since)
    )
    return {"crm_writes": int(writes or 0), "conversions": int(conversions or 0)}


def conversions_by_status(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Conversions updated in the last 24 hours, by status: one (status, updated_at) index range each, in
    one statement."""
    since = (now or utcnow()) - DAY
    counts = [
        select(func.count())
        .select_from(Conversion)
        .where(Conversion.status == status, Conversion.updated_at >= since)
        .scalar_subquery()
        for status in CONVERSION_STATUSES
    ]
    row = session.execute(select(*counts)).one()
    return {status: int(count) for status, count in zip(CONVERSION_STATUSES, row, strict=True) if count}
