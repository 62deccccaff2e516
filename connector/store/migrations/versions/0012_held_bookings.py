"""held_bookings: a booking lead's hold as an indexed column instead of a flag in its meta JSON (issue 15)

The sweeper's search for holds whose release job was lost read every old booking's JSON; with
`submissions.held_since` and a partial index over the non-null values it reads only the leads held now.
Leads flagged `awaiting_beacon` in their meta are moved over, held since their creation. And the console's
list of stage changes of one status, newest first, gets an index in that order.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

FLAG = "awaiting_beacon"
"""The meta key that marked a held lead before this revision."""

INDEX = "ix_submissions_held_since"
STATUS_INDEX = "ix_stage_changes_status_id"
HELD = sa.text("held_since IS NOT NULL")

submissions = sa.table(
    "submissions",
    sa.column("id", sa.Integer()),
    sa.column("meta", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("held_since", sa.DateTime(timezone=True)),
)


def _flagged(dialect: str) -> sa.TextClause:
    if dialect == "postgresql":
        return sa.text(f"(meta ->> '{FLAG}') = 'true'")
    return sa.text(f"json_extract(meta, '$.{FLAG}') = 1")


def upgrade() -> None:
    op.add_column("submissions", sa.Column("held_since", sa.DateTime(timezone=True), nullable=True))
    op.create_index(INDEX, "submissions", ["held_since"], sqlite_where=HELD, postgresql_where=HELD)
    op.create_index(STATUS_INDEX, "stage_changes", ["status", "id"])
    connection = op.get_bind()
    flagged = connection.execute(
        sa.select(submissions.c.id, submissions.c.meta, submissions.c.created_at).where(
            _flagged(connection.dialect.name)
        )
    ).all()
    for row in flagged:
        meta = {k: v for k, v in (row.meta or {}).items() if k != FLAG}
        connection.execute(
            submissions.update()
            .where(submissions.c.id == row.id)
            .values(held_since=row.created_at, meta=meta)
        )


def downgrade() -> None:
    connection = op.get_bind()
    held = connection.execute(
        sa.select(submissions.c.id, submissions.c.meta).where(submissions.c.held_since.isnot(None))
    ).all()
    for row in held:
        connection.execute(
            submissions.update()
            .where(submissions.c.id == row.id)
            .values(meta={**(row.meta or {}), FLAG: True})
        )
    op.drop_index(STATUS_INDEX, table_name="stage_changes")
    op.drop_index(INDEX, table_name="submissions")
    with op.batch_alter_table("submissions") as batch_op:
        batch_op.drop_column("held_since")
