"""conversions: the status index also covers the event name, so /metrics counts from the index alone

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversions_status_event", ["status", "event_type", "custom_event_name"], unique=False
        )
        batch_op.drop_index("ix_conversions_status")


def downgrade() -> None:
    with op.batch_alter_table("conversions", schema=None) as batch_op:
        batch_op.create_index("ix_conversions_status", ["status"], unique=False)
        batch_op.drop_index("ix_conversions_status_event")
