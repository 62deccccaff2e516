"""receipts and crm_writes are leased like conversions and stage changes: an attempt token (the fence),
and for crm_writes a lease end and a next-attempt time

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempt_token", sa.String(length=32), nullable=True))
    with op.batch_alter_table("crm_writes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempt_token", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crm_writes", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("attempt_token")
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.drop_column("attempt_token")
