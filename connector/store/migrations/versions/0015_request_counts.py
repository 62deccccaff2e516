"""request_counts: the Conversions API requests counted by answer and HTTP status, kept by triggers
(issue 15: flat at 1,000,000 rows)

/metrics grouped the whole conversion_requests table on every scrape (a ledger sending for months holds
millions of requests; 100,000 took 0.12 s on PostgreSQL). ledger_counts (migration 0008) now keeps them too,
under ledger 'requests': `status` is the answer (answered, no_response, network_error, in_flight) and
`event_type` the HTTP status ('' when none arrived), kept by triggers on both databases in the
transaction that writes a request, and filled here from the requests already stored.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

LEDGER = "requests"
IN_FLIGHT = "in flight: no response recorded yet"
"""connector.conversions.outcomes.IN_FLIGHT: a request row written before its send."""
LOST = (
    "no response recorded: the worker stopped while this request was in flight; its events were claimed again"
)
"""connector.conversions.dispatch.LOST: a send whose worker died waiting for the answer."""

KEY = "ledger, status, event_type, custom_event_name, shard"


def answer(row: str) -> str:
    """SQL: the answer of request `row`, as the metric reads it (an in-flight row counts as none yet)."""
    return (
        f"CASE WHEN {row}.error = '{IN_FLIGHT}' THEN 'in_flight' "
        f"WHEN {row}.status_code IS NOT NULL THEN 'answered' "
        f"WHEN {row}.error = '{LOST}' THEN 'no_response' ELSE 'network_error' END"
    )


def code(row: str) -> str:
    """SQL: the HTTP status of request `row` as text, '' when no answer arrived."""
    return f"COALESCE(CAST({row}.status_code AS TEXT), '')"


def changed(old: str, new: str) -> str:
    """SQL: the counted key of request `old` differs from `new`'s."""
    return f"{answer(old)} <> {answer(new)} OR {code(old)} <> {code(new)}"


def upgrade() -> None:
    op.execute(
        f"INSERT INTO ledger_counts ({KEY}, total) SELECT '{LEDGER}', answer, code, '', 0, count(*) "
        f"FROM (SELECT {answer('r')} AS answer, {code('r')} AS code FROM conversion_requests r) k "
        "GROUP BY answer, code"
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    """Row triggers adding to the key's one row, as the receipts' and conversions' (0008)."""

    def add(row: str, delta: int) -> str:
        return (
            f"INSERT INTO ledger_counts ({KEY}, total) "
            f"VALUES ('{LEDGER}', {answer(row)}, {code(row)}, '', 0, {delta}) "
            f"ON CONFLICT ({KEY}) DO UPDATE SET total = total + {delta};"
        )

    op.execute(
        f"CREATE TRIGGER ledger_counts_requests_insert AFTER INSERT ON conversion_requests "
        f"BEGIN {add('NEW', 1)} END"
    )
    op.execute(
        f"CREATE TRIGGER ledger_counts_requests_update AFTER UPDATE ON conversion_requests "
        f"WHEN {changed('OLD', 'NEW')} BEGIN {add('OLD', -1)} {add('NEW', 1)} END"
    )
    op.execute(
        f"CREATE TRIGGER ledger_counts_requests_delete AFTER DELETE ON conversion_requests "
        f"BEGIN {add('OLD', -1)} END"
    )


def _postgresql_triggers() -> None:
    """Statement triggers over the transition tables: one delta row per key and transaction (0008)."""

    def upsert(select: str) -> str:
        return (
            f"INSERT INTO ledger_counts ({KEY}, total) "
            f"SELECT '{LEDGER}', status, event_type, '', txid_current(), sum(delta) "
            f"FROM ({select}) d GROUP BY status, event_type "
            "HAVING sum(delta) <> 0 ORDER BY status, event_type "
            f"ON CONFLICT ({KEY}) DO UPDATE SET total = ledger_counts.total + EXCLUDED.total;"
        )

    inserted = upsert(
        f"SELECT {answer('n')} AS status, {code('n')} AS event_type, 1 AS delta FROM new_rows n"
    )
    deleted = upsert(
        f"SELECT {answer('o')} AS status, {code('o')} AS event_type, -1 AS delta FROM old_rows o"
    )
    moved = f"FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {changed('o', 'n')}"
    updated = upsert(
        f"SELECT {answer('o')} AS status, {code('o')} AS event_type, -1 AS delta {moved} "
        f"UNION ALL SELECT {answer('n')}, {code('n')}, 1 {moved}"
    )
    op.execute(
        "CREATE FUNCTION ledger_counts_requests() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
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
            f"CREATE TRIGGER ledger_counts_requests_{event.lower()} AFTER {event} ON conversion_requests "
            f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION ledger_counts_requests()"
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for event in ("insert", "update", "delete"):
        op.execute(
            f"DROP TRIGGER ledger_counts_requests_{event}" + (" ON conversion_requests" if postgresql else "")
        )
    if postgresql:
        op.execute("DROP FUNCTION ledger_counts_requests()")
    op.execute(f"DELETE FROM ledger_counts WHERE ledger = '{LEDGER}'")
