"""form_event_claims: one form submission per event_id across form sources (the WordPress plugin's own
delivery and a form add-on's webhook of the same entry make one lead); existing leads claim theirs

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "form_event_claims",
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("receipt_id", ID, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["receipt_id"], ["receipts.id"]),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("form_event_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_event_claims_receipt_id"), ["receipt_id"], unique=False)
    # The leads kept before this revision: the first form submission of each event_id holds it.
    op.execute(
        """
        INSERT INTO form_event_claims (event_id, receipt_id, source, created_at)
        SELECT s.event_id, s.receipt_id, s.source, s.created_at
        FROM submissions s
        WHERE s.kind = 'form' AND s.event_id IS NOT NULL
          AND s.id = (SELECT MIN(f.id) FROM submissions f WHERE f.kind = 'form' AND f.event_id = s.event_id)
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("form_event_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_event_claims_receipt_id"))
    op.drop_table("form_event_claims")
