"""hot_path_indexes: indexes for the hot queries, and status counts kept by triggers (issue 15: flat at
1,000,000 rows)

`events show` finds a submission's conversions (conversions.submission_id) and an event's bookings by
receipt, beacon receipt and lead; without these each lookup scanned its whole table. /metrics counted the
receipts and conversions by status on every scrape; ledger_counts holds those counts, kept by triggers
on both databases (see connector.store.counts) and filled here from the rows already stored.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
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

LABELS: dict[str, tuple[str, ...]] = {"receipts": (), "conversions": ("event_type", "custom_event_name")}
"""Each counted table's event name columns (receipts have none)."""


def labels(table: str, row: str) -> tuple[str, str]:
    """The event_type and custom_event_name of `row` in `table` ('' where the table has none)."""
    columns = LABELS[table]
    return (f"{row}.{columns[0]}", f"{row}.{columns[1]}") if columns else ("''", "''")


def changed(table: str, differ: str) -> str:
    """SQL: a counted column of OLD/o differs from NEW/n (`differ`: IS NOT, IS DISTINCT FROM)."""
    old, new = ("OLD", "NEW") if differ == "IS NOT" else ("o", "n")
    return " OR ".join(f"{old}.{c} {differ} {new}.{c}" for c in ("status", *LABELS[table]))


KEY = "ledger, status, event_type, custom_event_name, shard"


def upgrade() -> None:
    for table, column in INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)
    op.create_table(
        "ledger_counts",
        sa.Column("ledger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("custom_event_name", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("ledger", "status", "event_type", "custom_event_name", "shard"),
    )
    for table in LABELS:
        event_type, custom = labels(table, "t")
        group = ", ".join(["t.status", *(f"t.{c}" for c in LABELS[table])])
        op.execute(
            f"INSERT INTO ledger_counts ({KEY}, total) SELECT '{table}', t.status, {event_type}, "
            f"{custom}, 0, count(*) FROM {table} t GROUP BY {group}"
        )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    """Row triggers adding to the key's one row (SQLite has one writer at a time: no contention)."""
    for table in LABELS:

        def add(row: str, delta: int, table: str = table) -> str:
            event_type, custom = labels(table, row)
            return (
                f"INSERT INTO ledger_counts ({KEY}, total) "
                f"VALUES ('{table}', {row}.status, {event_type}, {custom}, 0, {delta}) "
                f"ON CONFLICT ({KEY}) DO UPDATE SET total = total + {delta};"
            )

        op.execute(
            f"CREATE TRIGGER ledger_counts_{table}_insert AFTER INSERT ON {table} BEGIN {add('NEW', 1)} END"
        )
        op.execute(
            f"CREATE TRIGGER ledger_counts_{table}_update AFTER UPDATE ON {table} WHEN {changed(table, 'IS NOT')} "
            f"BEGIN {add('OLD', -1)} {add('NEW', 1)} END"
        )
        op.execute(
            f"CREATE TRIGGER ledger_counts_{table}_delete AFTER DELETE ON {table} BEGIN {add('OLD', -1)} END"
        )


def _postgresql_triggers() -> None:
    """Statement triggers over the transition tables: one delta row per key and transaction, never a
    row another transaction writes (no lock waits, no deadlocks between writers)."""
    for table in LABELS:
        o_type, o_custom = labels(table, "o")
        n_type, n_custom = labels(table, "n")
        differs = changed(table, "IS DISTINCT FROM")

        def upsert(select: str, table: str = table) -> str:
            return (
                f"INSERT INTO ledger_counts ({KEY}, total) "
                f"SELECT '{table}', status, event_type, custom_event_name, txid_current(), sum(delta) "
                f"FROM ({select}) d GROUP BY status, event_type, custom_event_name "
                "HAVING sum(delta) <> 0 ORDER BY status, event_type, custom_event_name "
                f"ON CONFLICT ({KEY}) DO UPDATE SET total = ledger_counts.total + EXCLUDED.total;"
            )

        inserted = upsert(
            f"SELECT n.status, {n_type} AS event_type, {n_custom} AS custom_event_name, 1 AS delta FROM new_rows n"
        )
        deleted = upsert(
            f"SELECT o.status, {o_type} AS event_type, {o_custom} AS custom_event_name, -1 AS delta FROM old_rows o"
        )
        updated = upsert(
            f"SELECT o.status, {o_type} AS event_type, {o_custom} AS custom_event_name, -1 AS delta "
            f"FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {differs} "
            f"UNION ALL SELECT n.status, {n_type}, {n_custom}, 1 "
            f"FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {differs}"
        )
        op.execute(
            f"CREATE FUNCTION ledger_counts_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP = 'INSERT' THEN {inserted} "
            f"ELSIF TG_OP = 'DELETE' THEN {deleted} "
            f"ELSE {updated} END IF; RETURN NULL; END $$"
        )
        for event, tables in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            op.execute(
                f"CREATE TRIGGER ledger_counts_{table}_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION ledger_counts_{table}()"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in LABELS:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER ledger_counts_{table}_{event}" + (f" ON {table}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION ledger_counts_{table}()")
    op.drop_table("ledger_counts")
    for table, column in reversed(INDEXES):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
