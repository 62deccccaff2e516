"""report_records: the report's opportunity records, kept per record by triggers (issue 17)

One row per CRM record that entered an opportunity stage (its lead's event id, first won time, the won
change's amount), computed with the stage names stored in report_stage_names; triggers on stage_changes
and deal_attributions rewrite a record's row in the transaction that changes one of its rows
(connector.store.report_records). The report read every stage change grouped per record before. Filled
here with the default configuration's stage names; a report whose settings name other stages rebuilds
the table once (and logs it).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from connector.config import Settings
from connector.store.report_records import StageNames, create_triggers, drop_triggers, rebuild

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_report_records_event_id", ["event_id", "won_at", "amount", "currency"]),
    ("ix_report_records_won_at", ["won_at", "event_id"]),
)


def upgrade() -> None:
    op.create_table(
        "report_stage_names",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("kind", "name"),
    )
    op.create_table(
        "report_records",
        sa.Column("crm", sa.String(length=32), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("won_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("won_change_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.PrimaryKeyConstraint("crm", "object_type", "record_id"),
        sqlite_with_rowid=False,
    )
    for name, columns in INDEXES:
        op.create_index(name, "report_records", columns)
    connection = op.get_bind()
    create_triggers(connection)
    rebuild(connection, StageNames.from_settings(Settings()))


def downgrade() -> None:
    drop_triggers(op.get_bind())
    for name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name="report_records")
    op.drop_table("report_records")
    op.drop_table("report_stage_names")
