"""Ledger tables: every accepted request, what it became, and what happened to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from connector.store import report_writes
from connector.store.fit import fit_instance
from connector.store.report_columns import fill_report_columns
from connector.timeutil import utcnow


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class ReceiptStatus:
    """Life of a receipt: received -> processing -> processed, or retrying -> ... -> failed."""

    RECEIVED = "received"
    PROCESSING = "processing"
    RETRYING = "retrying"
    PROCESSED = "processed"
    FAILED = "failed"
    PENDING = (RECEIVED, RETRYING)


class Receipt(Base):
    """One accepted webhook or beacon, stored before we answer."""

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("source", "delivery_key", name="uq_receipts_source_delivery_key"),
        Index("ix_receipts_status_received_at", "status", "received_at"),
        # The admin console's 24-hour counts and last delivery per source read only this index.
        Index("ix_receipts_source_received_at", "source", "received_at", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    delivery_key: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    content_type: Mapped[str] = mapped_column(String(255), default="")
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    body_purged_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=ReceiptStatus.RECEIVED)
    attempts: Mapped[int] = mapped_column(default=0)
    attempt_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    job_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    duplicates: Mapped[int] = mapped_column(default=0)


class TouchColumns:
    """The report's grouping columns of both touches (lengths: connector.store.report_columns.TOUCH_COLUMNS),
    on a submission and on a report profile."""

    first_channel: Mapped[str | None] = mapped_column(String(32))
    first_ai_source: Mapped[str | None] = mapped_column(String(32))
    first_utm_source: Mapped[str | None] = mapped_column(String(100))
    first_utm_medium: Mapped[str | None] = mapped_column(String(100))
    first_utm_campaign: Mapped[str | None] = mapped_column(String(100))
    first_landing_page: Mapped[str | None] = mapped_column(String(200))
    latest_channel: Mapped[str | None] = mapped_column(String(32))
    latest_ai_source: Mapped[str | None] = mapped_column(String(32))
    latest_utm_source: Mapped[str | None] = mapped_column(String(100))
    latest_utm_medium: Mapped[str | None] = mapped_column(String(100))
    latest_utm_campaign: Mapped[str | None] = mapped_column(String(100))
    latest_landing_page: Mapped[str | None] = mapped_column(String(200))


class Submission(TouchColumns, Base):
    """What a receipt became: the normalized contact, attribution and form metadata."""

    __tablename__ = "submissions"
    __table_args__ = (
        # The report's grouped scans by lead date read only these (migration 0010).
        Index(
            "ix_submissions_report_first",
            "submitted_at",
            "kind",
            "person_key",
            "first_channel",
            "first_ai_source",
            "latest_ai_source",
        ),
        Index(
            "ix_submissions_report_latest",
            "submitted_at",
            "kind",
            "person_key",
            "latest_channel",
            "latest_ai_source",
            "first_ai_source",
        ),
        # The console's search by oppref (migration 0009); its queries spell the expression the same way.
        Index("ix_submissions_oppref", text("(attribution ->> 'oppref')")),
        # Only the booking leads held now: the sweeper's lookup stays as small as that set (migration 0012).
        Index(
            "ix_submissions_held_since",
            "held_since",
            sqlite_where=text("held_since IS NOT NULL"),
            postgresql_where=text("held_since IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"), unique=True)
    source: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="form")
    form_id: Mapped[str | None] = mapped_column(String(255))
    event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    contact: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attribution: Mapped[dict[str, Any]] = mapped_column(default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    submitted_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    held_since: Mapped[datetime | None]
    """When a booking lead began waiting for its beacon (connector.bookings.release); None once released."""
    # What the report groups by (this and TouchColumns), copied from `attribution` on every write
    # (connector.store.report_columns), so a report over a million rows reads narrow columns, not JSON.
    person_key: Mapped[str | None] = mapped_column(String(16))


class FormEventClaim(Base):
    """The first form submission of an event_id, taken in the transaction that keeps it: a later one from
    any form source (the site's plugin and a form add-on both posting the entry) is its duplicate."""

    __tablename__ = "form_event_claims"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WriteStatus:
    """Life of a CRM write: pending -> sending -> written, or failed (rejected for good)."""

    PENDING = "pending"
    SENDING = "sending"
    WRITTEN = "written"
    FAILED = "failed"


class CrmWrite(Base):
    """One attempt-tracked write of a submission to a CRM object."""

    __tablename__ = "crm_writes"
    __table_args__ = (
        UniqueConstraint("submission_id", "crm", "object_type", name="uq_crm_writes_target"),
        # The console's Failures page: failed writes, newest first (migration 0009).
        Index("ix_crm_writes_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    crm: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(64))
    crm_object_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default=WriteStatus.PENDING)
    outcome: Mapped[str | None] = mapped_column(String(32))
    fields_written: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    attempt_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ConversionStatus:
    """Life of a conversion: pending -> sending -> sent / validated / failed / expired; or final at once."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    VALIDATED = "validated"
    WOULD_SEND = "would_send"
    FAILED = "failed"
    EXPIRED = "expired"
    SKIPPED = "skipped"
    FINAL = (SENT, VALIDATED, WOULD_SEND, FAILED, EXPIRED, SKIPPED)


class Conversion(Base):
    """One server event for OpenAI's Conversions API; the unique key makes it sendable once."""

    __tablename__ = "conversions"
    __table_args__ = (
        UniqueConstraint(
            "pixel_id", "event_type", "custom_event_name", "event_id", name="uq_conversions_dedup"
        ),
        # Leads with status, so the /metrics count by (status, event name) reads only the index.
        Index("ix_conversions_status_event", "status", "event_type", "custom_event_name"),
        Index("ix_conversions_pixel_status", "pixel_id", "status", "id"),
        # The console's Failures page: failed conversions, newest first (migration 0009).
        Index("ix_conversions_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    pixel_id: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(64))
    custom_event_name: Mapped[str] = mapped_column(String(64), default="")
    event_id: Mapped[str] = mapped_column(String(255), index=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"))
    trigger: Mapped[str] = mapped_column(String(64), default="submission")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timestamp_ms: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=ConversionStatus.PENDING)
    reason: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(default=0)
    attempt_token: Mapped[str | None] = mapped_column(String(32), index=True)
    lease_until: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class ConversionRequest(Base):
    """One HTTP exchange with the Conversions API (or a send in flight whose answer was never recorded)."""

    __tablename__ = "conversion_requests"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    pixel_id: Mapped[str] = mapped_column(String(128), index=True)
    url: Mapped[str] = mapped_column(String(2048), default="")
    attempt_token: Mapped[str | None] = mapped_column(String(32), index=True)
    event_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    event_count: Mapped[int] = mapped_column(default=0)
    validate_only: Mapped[bool] = mapped_column(default=False)
    status_code: Mapped[int | None]
    body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    elapsed_ms: Mapped[int | None]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversionRequestEvent(Base):
    """Which conversions one request carried (so `events show` lists each conversion's exchanges)."""

    __tablename__ = "conversion_request_events"

    request_id: Mapped[int] = mapped_column(ForeignKey("conversion_requests.id"), primary_key=True)
    conversion_id: Mapped[int] = mapped_column(ForeignKey("conversions.id"), primary_key=True, index=True)


class JournalEntry(Base):
    """Append-only story of what happened, shown by `connector events show`."""

    __tablename__ = "journal"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"), index=True)
    event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Booking(Base):
    """One Calendly invitee or Cal.com booking: the browser beacon and the webhook meet here, in any order."""

    __tablename__ = "bookings"
    __table_args__ = (UniqueConstraint("provider", "booking_key", name="uq_bookings_provider_key"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    booking_key: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    attribution: Mapped[dict[str, Any]] = mapped_column(default=dict)
    beacon_receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"), index=True)
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"), index=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    rescheduled_to: Mapped[str | None] = mapped_column(String(255))
    canceled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StageChangeStatus:
    """Life of a stage change: pending -> resolving -> one final outcome (retrying goes back to pending)."""

    PENDING = "pending"
    RESOLVING = "resolving"
    CONVERTED = "converted"
    NO_RULE = "no_rule"
    ALREADY = "already_converted"
    EXPIRED = "expired"
    UNATTRIBUTABLE = "unattributable"
    DELETED = "record_deleted"
    SKIPPED = "skipped"
    FAILED = "failed"


class StageChange(Base):
    """One CRM record entering a stage, from a webhook, an outbound message, a flow or a poll.

    `delivery_key` deduplicates redeliveries of one notification; `change_key` (crm, object, record, stage,
    entered-at second) deduplicates the same change arriving by push and by poll.
    """

    __tablename__ = "stage_changes"
    __table_args__ = (
        UniqueConstraint("crm", "delivery_key", name="uq_stage_changes_delivery"),
        UniqueConstraint("change_key", name="uq_stage_changes_change"),
        Index("ix_stage_changes_status", "status", "next_attempt_at"),
        # The console's stage changes of one status, newest first (migration 0012).
        Index("ix_stage_changes_status_id", "status", "id"),
        # The report walks each record's changes in order, with what links them to a lead (0010).
        Index(
            "ix_stage_changes_report",
            "crm",
            "object_type",
            "record_id",
            "entered_at",
            "stage",
            "rule",
            "attributed_event_id",
            "conversion_id",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    crm: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(64), index=True)
    stage: Mapped[str] = mapped_column(String(255))
    pipeline: Mapped[str | None] = mapped_column(String(255))
    entered_at: Mapped[datetime]
    via: Mapped[str] = mapped_column(String(32))
    delivery_key: Mapped[str] = mapped_column(String(255))
    change_key: Mapped[str] = mapped_column(String(64))
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"), index=True)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(24), default=StageChangeStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    attempt_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    rule: Mapped[str | None] = mapped_column(String(128))
    event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    attributed_event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    conversion_id: Mapped[int | None] = mapped_column(ForeignKey("conversions.id"))
    # The record's amount (minor units) and currency when a rule resolved the change, sent or not (0010):
    # the report's won revenue for a change that expired before it reached us.
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DealAttributionStatus:
    """Life of a deal attribution: pending -> sending -> written, or one final outcome."""

    PENDING = "pending"
    SENDING = "sending"
    WRITTEN = "written"
    FAILED = "failed"
    UNATTRIBUTED = "unattributed"
    NO_MAPPING = "no_mapping"
    DELETED = "record_deleted"
    REVISIT = (UNATTRIBUTED, NO_MAPPING, FAILED)
    """Outcomes a later stage change of the same record looks at again."""


class DealAttribution(Base):
    """The attribution written onto one opportunity or deal: one row per record, written once."""

    __tablename__ = "deal_attributions"
    __table_args__ = (
        UniqueConstraint("crm", "object_type", "record_id", name="uq_deal_attributions_record"),
        Index("ix_deal_attributions_status", "status", "next_attempt_at"),
        Index("ix_deal_attributions_status_updated", "status", "updated_at"),  # the Failures page
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    crm: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(64))
    learned_via: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[str | None] = mapped_column(String(64))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"))
    status: Mapped[str] = mapped_column(String(16), default=DealAttributionStatus.PENDING)
    fields_written: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    attempt_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Visitor(Base):
    """A browser known by the connector's first-party cookie: its first touch, kept past script-cookie caps."""

    __tablename__ = "visitors"

    visitor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_touch: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)


class StageWatermark(Base):
    """How far the polling fallback has read, per CRM object (the entered-at time of the last change)."""

    __tablename__ = "stage_watermarks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AdminUser(Base):
    """A person who signs in to the admin console, with one role (viewer < editor < admin)."""

    __tablename__ = "admin_users"
    __table_args__ = (UniqueConstraint("email", name="uq_admin_users_email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_sign_in_at: Mapped[datetime | None]


class AdminAudit(Base):
    """One change made in the admin console (or to its users from the command line): who, when, what."""

    __tablename__ = "admin_audit"
    __table_args__ = (Index("ix_admin_audit_actor_id", "actor", "id"),)  # the Audit page's "who" filter

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(512))
    before: Mapped[Any | None] = mapped_column(JSON)
    after: Mapped[Any | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))


class AdminSignInFailure(Base):
    """A refused console sign-in; recent ones per email and per IP rate-limit the next attempts."""

    __tablename__ = "admin_sign_in_failures"
    __table_args__ = (
        Index("ix_admin_sign_in_failures_email_at", "email", "at"),
        Index("ix_admin_sign_in_failures_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    email: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str] = mapped_column(String(64))


class LedgerCount(Base):
    """Rows of `ledger` (receipts, conversions) per status and event name, and Conversions API requests
    (ledger "requests") per answer and HTTP status (in `event_type`), kept by database triggers (migrations
    0008, 0015, connector.store.counts): /metrics reads these instead of counting the ledger."""

    __tablename__ = "ledger_counts"

    ledger: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    custom_event_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    shard: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    """0: the folded count; PostgreSQL: a transaction's delta, under its transaction id."""
    total: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportProfile(TouchColumns, Base):
    """One distinct kind, form and attribution of both touches among the submissions (the report's
    grouping dimensions; connector.store.report_facts, migration 0013)."""

    __tablename__ = "report_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str | None] = mapped_column(String(16))
    form_id: Mapped[str | None] = mapped_column(String(255))


class ReportFact(Base):
    """A submission as the report counts it: its profile, person, time, the conversions sent for it and,
    per lens, the person's previous submission into the same group (connector.store.report_facts).
    Written in the transaction that writes the submission (connector.store.report_writes); `sent` also by
    the conversions' triggers (migration 0013). Keyed by profile and `sent` first, so the report's
    aggregate walks the rows in its GROUP BY's order (SQLite stores the table in that order)."""

    __tablename__ = "report_facts"
    __table_args__ = (
        Index("ix_report_facts_submission_id", "submission_id", unique=True),
        # Covers the records' join to their facts (PostgreSQL reads it alone: 2.4 -> 0.9 s at 1,000,000).
        Index("ix_report_facts_event_id", "event_id", "at", "profile_id", "submission_id"),
        Index("ix_report_facts_person_key", "person_key"),
        Index("ix_report_facts_at", "at"),
        {"sqlite_with_rowid": False},
    )

    profile_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sent: Mapped[str] = mapped_column(Text, primary_key=True)
    """The conversions sent for the submission: `type:custom` items, sorted, comma separated ('': none)."""
    submission_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    event_id: Mapped[str | None] = mapped_column(String(255))
    person_key: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[int] = mapped_column(BigInteger)
    """submitted_at in whole seconds since 1970 (UTC)."""
    p_first_channel: Mapped[int | None] = mapped_column(BigInteger)
    p_latest_channel: Mapped[int | None] = mapped_column(BigInteger)
    p_any_channel_first: Mapped[int | None] = mapped_column(BigInteger)
    p_any_channel_latest: Mapped[int | None] = mapped_column(BigInteger)
    p_first_ai_source: Mapped[int | None] = mapped_column(BigInteger)
    p_latest_ai_source: Mapped[int | None] = mapped_column(BigInteger)
    p_any_ai_source_first: Mapped[int | None] = mapped_column(BigInteger)
    p_any_ai_source_latest: Mapped[int | None] = mapped_column(BigInteger)
    p_first_utm_source: Mapped[int | None] = mapped_column(BigInteger)
    p_latest_utm_source: Mapped[int | None] = mapped_column(BigInteger)
    p_any_utm_source_first: Mapped[int | None] = mapped_column(BigInteger)
    p_any_utm_source_latest: Mapped[int | None] = mapped_column(BigInteger)
    p_first_utm_medium: Mapped[int | None] = mapped_column(BigInteger)
    p_latest_utm_medium: Mapped[int | None] = mapped_column(BigInteger)
    p_any_utm_medium_first: Mapped[int | None] = mapped_column(BigInteger)
    p_any_utm_medium_latest: Mapped[int | None] = mapped_column(BigInteger)
    p_first_utm_campaign: Mapped[int | None] = mapped_column(BigInteger)
    p_latest_utm_campaign: Mapped[int | None] = mapped_column(BigInteger)
    p_any_utm_campaign_first: Mapped[int | None] = mapped_column(BigInteger)
    p_any_utm_campaign_latest: Mapped[int | None] = mapped_column(BigInteger)
    p_first_landing_page: Mapped[int | None] = mapped_column(BigInteger)
    p_latest_landing_page: Mapped[int | None] = mapped_column(BigInteger)
    p_any_landing_page_first: Mapped[int | None] = mapped_column(BigInteger)
    p_any_landing_page_latest: Mapped[int | None] = mapped_column(BigInteger)
    p_form: Mapped[int | None] = mapped_column(BigInteger)
    p_any_form: Mapped[int | None] = mapped_column(BigInteger)


class ReportRecord(Base):
    """A CRM record that entered an opportunity stage, as the report counts it: its lead's event id, first
    won time and the won change whose amount counts. Kept by triggers on stage_changes and
    deal_attributions in the transaction that writes them, for the stage names report_stage_names holds
    (connector.store.report_records, migration 0014)."""

    __tablename__ = "report_records"
    __table_args__ = (
        # The records' join to their facts, and the records won in a range.
        Index("ix_report_records_event_id", "event_id", "won_at", "amount", "currency"),
        Index("ix_report_records_won_at", "won_at", "event_id"),
        {"sqlite_with_rowid": False},
    )

    crm: Mapped[str] = mapped_column(String(32), primary_key=True)
    object_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(255))
    won_at: Mapped[datetime | None]
    won_change_id: Mapped[int | None] = mapped_column(BigInteger)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))


class ReportStageName(Base):
    """A stage name (or stage rule name) report_records was computed with, by kind (`opportunity`, `won`,
    `won_rule`), and their `fingerprint` (connector.store.report_records)."""

    __tablename__ = "report_stage_names"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)


# Every row the ORM writes fits its columns (connector.store.fit); core inserts fit their values themselves.
# The report's columns first (connector.store.report_columns), so that fit_instance sees them too.
event.listen(Submission, "before_insert", fill_report_columns)
event.listen(Submission, "before_update", fill_report_columns)
event.listen(Base, "before_insert", fit_instance, propagate=True)
event.listen(Base, "before_update", fit_instance, propagate=True)
# The report's facts of the people a flush wrote submissions of, in the same transaction.
event.listen(Session, "after_flush", report_writes.after_flush)
