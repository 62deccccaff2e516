"""conversions: send state on the conversions ledger, and every request made to OpenAI

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversion_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pixel_id", sa.String(length=128), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("attempt_token", sa.String(length=32), nullable=True),
        sa.Column("event_ids", sa.JSON(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("validate_only", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("elapsed_ms", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("conversion_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversion_requests_attempt_token"), ["attempt_token"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_conversion_requests_pixel_id"), ["pixel_id"], unique=False)

    op.create_table(
        "conversion_request_events",
        sa.Column("request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("conversion_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversion_id"],
            ["conversions.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["conversion_requests.id"],
        ),
        sa.PrimaryKeyConstraint("request_id", "conversion_id"),
    )
    with op.batch_alter_table("conversion_request_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversion_request_events_conversion_id"), ["conversion_id"], unique=False
        )

    with op.batch_alter_table("conversions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("receipt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(sa.Column("timestamp_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("attempt_token", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_conversions_attempt_token"), ["attempt_token"], unique=False)
        batch_op.create_index("ix_conversions_pixel_status", ["pixel_id", "status", "id"], unique=False)
        batch_op.create_foreign_key("fk_conversions_receipt_id", "receipts", ["receipt_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("conversions", schema=None) as batch_op:
        batch_op.drop_constraint("fk_conversions_receipt_id", type_="foreignkey")
        batch_op.drop_index("ix_conversions_pixel_status")
        batch_op.drop_index(batch_op.f("ix_conversions_attempt_token"))
        batch_op.drop_column("updated_at")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("attempt_token")
        batch_op.drop_column("reason")
        batch_op.drop_column("timestamp_ms")
        batch_op.drop_column("receipt_id")

    with op.batch_alter_table("conversion_request_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversion_request_events_conversion_id"))

    op.drop_table("conversion_request_events")
    with op.batch_alter_table("conversion_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversion_requests_pixel_id"))
        batch_op.drop_index(batch_op.f("ix_conversion_requests_attempt_token"))

    op.drop_table("conversion_requests")
