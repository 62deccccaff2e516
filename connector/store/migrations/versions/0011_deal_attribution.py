"""deal_attribution: attribution written onto opportunities and deals (issue 17)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "deal_attributions",
        sa.Column("id", ID, nullable=False),
        sa.Column("crm", sa.String(length=32), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("learned_via", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("submission_id", ID, nullable=True),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("receipt_id", ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("fields_written", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_token", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["receipt_id"], ["receipts.id"]),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("crm", "object_type", "record_id", name="uq_deal_attributions_record"),
    )
    with op.batch_alter_table("deal_attributions", schema=None) as batch_op:
        batch_op.create_index("ix_deal_attributions_status", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_deal_attributions_status_updated", ["status", "updated_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_deal_attributions_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_deal_attributions_submission_id"), ["submission_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deal_attributions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deal_attributions_submission_id"))
        batch_op.drop_index(batch_op.f("ix_deal_attributions_event_id"))
        batch_op.drop_index("ix_deal_attributions_status_updated")
        batch_op.drop_index("ix_deal_attributions_status")
    op.drop_table("deal_attributions")
