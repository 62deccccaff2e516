"""report_facts: the report's narrow facts per submission and their profiles (issue 17)

report_profiles holds each distinct kind, form and attribution of both touches; report_facts one row per
submission with its profile, person, time, the conversions sent for it (`sent`, kept by the triggers
below in the transaction that changes a conversion) and, per lens, the person's previous submission into
the same group (connector.store.report_facts). The report reads these instead of grouping a million
submissions by person and joining a million conversions. The facts are keyed by (profile, sent, submission)
and SQLite stores them in that order (WITHOUT ROWID), so the report's aggregate needs no sort. Filled
here from the rows already stored.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from connector.store.report_columns import TOUCH_COLUMNS, TOUCHES
from connector.store.report_facts import PREV_COLUMNS, sent_sql
from connector.store.report_writes import rebuild

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INDEXES = (
    ("ix_report_facts_submission_id", ["submission_id"], True),
    ("ix_report_facts_event_id", ["event_id", "at", "profile_id", "submission_id"], False),
    ("ix_report_facts_person_key", ["person_key"], False),
    ("ix_report_facts_at", ["at"], False),
)
SENT_COLUMNS = ("status", "submission_id", "event_type", "custom_event_name")
"""The conversion columns a `sent` list is made of."""


def upgrade() -> None:
    op.create_table(
        "report_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("form_id", sa.String(length=255), nullable=True),
        *(
            sa.Column(f"{touch}_{name}", sa.String(length=length), nullable=True)
            for touch in TOUCHES
            for name, length in TOUCH_COLUMNS.items()
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "report_facts",
        sa.Column("profile_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sent", sa.Text(), nullable=False),
        sa.Column("submission_id", ID, autoincrement=False, nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("person_key", sa.String(length=16), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=True) for name in PREV_COLUMNS),
        sa.PrimaryKeyConstraint("profile_id", "sent", "submission_id"),
        sqlite_with_rowid=False,
    )
    for name, columns, unique in INDEXES:
        op.create_index(name, "report_facts", columns, unique=unique)
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()
    rebuild(op.get_bind())


def _set(row: str, dialect: str) -> str:
    return (
        f"UPDATE report_facts SET sent = {sent_sql(dialect, f'{row}.submission_id')} "
        f"WHERE submission_id = {row}.submission_id;"
    )


def _changed(differ: str) -> str:
    moved = " OR ".join(f"OLD.{c} {differ} NEW.{c}" for c in SENT_COLUMNS)
    return f"(OLD.status = 'sent' OR NEW.status = 'sent') AND ({moved})"


def _sqlite_triggers() -> None:
    of = ", ".join(SENT_COLUMNS)
    op.execute(
        "CREATE TRIGGER report_facts_sent_insert AFTER INSERT ON conversions WHEN NEW.status = 'sent' "
        f"BEGIN {_set('NEW', 'sqlite')} END"
    )
    op.execute(
        f"CREATE TRIGGER report_facts_sent_update AFTER UPDATE OF {of} ON conversions "
        f"WHEN {_changed('IS NOT')} BEGIN {_set('OLD', 'sqlite')} {_set('NEW', 'sqlite')} END"
    )
    op.execute(
        "CREATE TRIGGER report_facts_sent_delete AFTER DELETE ON conversions WHEN OLD.status = 'sent' "
        f"BEGIN {_set('OLD', 'sqlite')} END"
    )


def _postgresql_triggers() -> None:
    op.execute(
        "CREATE FUNCTION report_facts_sent() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP <> 'INSERT' THEN {_set('OLD', 'postgresql')} END IF; "
        f"IF TG_OP <> 'DELETE' THEN {_set('NEW', 'postgresql')} END IF; "
        "RETURN NULL; END $$"
    )
    of = ", ".join(SENT_COLUMNS)
    for event, when in (
        ("INSERT", "NEW.status = 'sent'"),
        (f"UPDATE OF {of}", _changed("IS DISTINCT FROM")),
        ("DELETE", "OLD.status = 'sent'"),
    ):
        name = event.split()[0].lower()
        op.execute(
            f"CREATE TRIGGER report_facts_sent_{name} AFTER {event} ON conversions "
            f"FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION report_facts_sent()"
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER report_facts_sent_{name}" + (" ON conversions" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION report_facts_sent()")
    for name, _columns, _unique in reversed(INDEXES):
        op.drop_index(name, table_name="report_facts")
    op.drop_table("report_facts")
    op.drop_table("report_profiles")
