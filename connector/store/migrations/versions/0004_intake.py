"""bookings (the join of booking webhooks and browser beacons, with cancellation state) and visitors

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bookings",
        sa.Column("id", ID, nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("booking_key", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("attribution", sa.JSON(), nullable=False),
        sa.Column("beacon_receipt_id", ID, nullable=True),
        sa.Column("receipt_id", ID, nullable=True),
        sa.Column("submission_id", ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rescheduled_to", sa.String(length=255), nullable=True),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["beacon_receipt_id"], ["receipts.id"]),
        sa.ForeignKeyConstraint(["receipt_id"], ["receipts.id"]),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "booking_key", name="uq_bookings_provider_key"),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bookings_event_id"), ["event_id"], unique=False)

    op.create_table(
        "visitors",
        sa.Column("visitor_id", sa.String(length=64), nullable=False),
        sa.Column("first_touch", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("visitor_id"),
    )


def downgrade() -> None:
    op.drop_table("visitors")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bookings_event_id"))
    op.drop_table("bookings")
