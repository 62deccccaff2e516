"""stages: CRM stage changes (deduplicated per delivery and per change) and the polling watermarks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stage_watermarks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "stage_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("crm", sa.String(length=32), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=255), nullable=False),
        sa.Column("pipeline", sa.String(length=255), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(length=32), nullable=False),
        sa.Column("delivery_key", sa.String(length=255), nullable=False),
        sa.Column("change_key", sa.String(length=64), nullable=False),
        sa.Column("receipt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_token", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rule", sa.String(length=128), nullable=True),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("attributed_event_id", sa.String(length=255), nullable=True),
        sa.Column("conversion_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversion_id"],
            ["conversions.id"],
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["receipts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("change_key", name="uq_stage_changes_change"),
        sa.UniqueConstraint("crm", "delivery_key", name="uq_stage_changes_delivery"),
    )
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stage_changes_attributed_event_id"), ["attributed_event_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_stage_changes_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stage_changes_receipt_id"), ["receipt_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stage_changes_record_id"), ["record_id"], unique=False)
        batch_op.create_index("ix_stage_changes_status", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_changes_status")
        batch_op.drop_index(batch_op.f("ix_stage_changes_record_id"))
        batch_op.drop_index(batch_op.f("ix_stage_changes_receipt_id"))
        batch_op.drop_index(batch_op.f("ix_stage_changes_event_id"))
        batch_op.drop_index(batch_op.f("ix_stage_changes_attributed_event_id"))

    op.drop_table("stage_changes")
    op.drop_table("stage_watermarks")
