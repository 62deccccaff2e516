"""hot_path_indexes: indexes for the hot queries (issue 15: flat at 1,000,000 rows)

`events show` finds a submission's conversions (conversions.submission_id) and an event's bookings by
receipt, beacon receipt and lead; without these each lookup scanned its whole table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEXES = (
    ("conversions", "submission_id"),
    ("bookings", "receipt_id"),
    ("bookings", "beacon_receipt_id"),
    ("bookings", "submission_id"),
)


def upgrade() -> None:
    for table, column in INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
