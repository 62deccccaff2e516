"""report_indexes: what the AI pipeline report needs (issue 17)

The submissions' report columns (person key; channel, AI source, UTMs and landing page of each touch),
backfilled from the attribution JSON; covering indexes for the report's grouped scans by lead date, and
for its walk over the stage changes of each CRM record; the amount and currency of a stage change's record
when a rule resolved it, so a won change that expired unsent keeps its revenue.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from connector.store.report_columns import TOUCH_COLUMNS, TOUCHES, report_values

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = [("person_key", 16)] + [
    (f"{touch}_{name}", length) for touch in TOUCHES for name, length in TOUCH_COLUMNS.items()
]

INDEXES = {
    "ix_submissions_report_first": (
        "submissions",
        ["submitted_at", "kind", "person_key", "first_channel", "first_ai_source", "latest_ai_source"],
    ),
    "ix_submissions_report_latest": (
        "submissions",
        ["submitted_at", "kind", "person_key", "latest_channel", "latest_ai_source", "first_ai_source"],
    ),
    "ix_stage_changes_report": (
        "stage_changes",
        [
            "crm",
            "object_type",
            "record_id",
            "entered_at",
            "stage",
            "rule",
            "attributed_event_id",
            "conversion_id",
        ],
    ),
}

BACKFILL_BATCH = 5000
"""Submissions read and updated per round of the backfill."""


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        for name, length in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amount", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
    _backfill_amounts()
    _backfill()
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, (table, _columns) in reversed(INDEXES.items()):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.drop_column("currency")
        batch_op.drop_column("amount")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        for name, _length in reversed(COLUMNS):
            batch_op.drop_column(name)


def _backfill() -> None:
    """Every existing submission gets the columns a new one is written with, in batches by id."""
    connection = op.get_bind()
    table = sa.table(
        "submissions",
        sa.column("id", sa.Integer),
        sa.column("receipt_id", sa.Integer),
        sa.column("email", sa.String),
        sa.column("event_id", sa.String),
        sa.column("attribution", sa.JSON),
        *(sa.column(name, sa.String) for name, _length in COLUMNS),
    )
    update = (
        table.update()
        .where(table.c.id == sa.bindparam("row_id"))
        .values({name: sa.bindparam(f"v_{name}") for name, _length in COLUMNS})
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, table.c.receipt_id, table.c.email, table.c.event_id, table.c.attribution)
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BACKFILL_BATCH)
        ).all()
        if not rows:
            return
        params = []
        for row in rows:
            values = report_values(row.email, row.event_id, row.receipt_id, row.attribution)
            params.append({"row_id": row.id, **{f"v_{k}": v for k, v in values.items()}})
        connection.execute(update, params)
        last = rows[-1].id


def _backfill_amounts() -> None:
    """A converted stage change gets the amount and currency its conversion was sent with."""
    changes = sa.table(
        "stage_changes",
        sa.column("conversion_id", sa.Integer),
        sa.column("amount", sa.BigInteger),
        sa.column("currency", sa.String),
    )
    conversions = sa.table("conversions", sa.column("id", sa.Integer), sa.column("payload", sa.JSON))

    def sent(value: sa.ColumnElement[object]) -> sa.ScalarSelect[object]:
        return sa.select(value).where(conversions.c.id == changes.c.conversion_id).scalar_subquery()

    op.get_bind().execute(
        changes.update()
        .where(changes.c.conversion_id.isnot(None))
        .values(
            amount=sent(conversions.c.payload[("data", "amount")].as_integer()),
            currency=sent(conversions.c.payload[("data", "currency")].as_string()),
        )
    )
