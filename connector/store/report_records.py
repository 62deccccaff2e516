"""The report's opportunity records (report_records, migration 0014): one row per CRM record that entered
an opportunity stage, kept by triggers in the transaction that writes its stage changes or its deal
attribution, so the report no longer groups every stage change on every read.

A row holds the record's lead (the event id the stage resolver attributed one of its changes to, else the
one the connector wrote onto the deal), its first won time and the won change whose amount counts (the
converted one, else the first). Which stages make an opportunity or a win is configuration
(`[report] opportunity_stages`, `won_stages`, the stage rules): the names the rows were computed with are
stored beside them (report_stage_names, with their fingerprint), and the triggers read them there, so every
row always agrees with the stored names. A report whose settings name other stages rebuilds the table once
(`ensure`, logged) before reading it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, and_, case, func, literal_column, or_, select

from connector.config import Settings
from connector.events.stage_rules import StageRules

log = logging.getLogger(__name__)

STAGE_CHANGES = sa.table(
    "stage_changes",
    sa.column("id", sa.BigInteger),
    sa.column("crm", sa.String),
    sa.column("object_type", sa.String),
    sa.column("record_id", sa.String),
    sa.column("stage", sa.String),
    sa.column("entered_at", sa.DateTime(timezone=True)),
    sa.column("rule", sa.String),
    sa.column("attributed_event_id", sa.String),
    sa.column("conversion_id", sa.BigInteger),
    sa.column("amount", sa.BigInteger),
    sa.column("currency", sa.String),
)
DEALS = sa.table(
    "deal_attributions",
    sa.column("crm", sa.String),
    sa.column("object_type", sa.String),
    sa.column("record_id", sa.String),
    sa.column("event_id", sa.String),
)
NAMES = sa.table("report_stage_names", sa.column("kind", sa.String), sa.column("name", sa.String))
RECORDS = sa.table(
    "report_records",
    sa.column("crm", sa.String),
    sa.column("object_type", sa.String),
    sa.column("record_id", sa.String),
    sa.column("event_id", sa.String),
    sa.column("won_at", sa.DateTime(timezone=True)),
    sa.column("won_change_id", sa.BigInteger),
    sa.column("amount", sa.BigInteger),
    sa.column("currency", sa.String),
)
RECORD_COLUMNS = tuple(c.name for c in RECORDS.columns)
KEY = ("crm", "object_type", "record_id")

CHANGE_COLUMNS = (
    *KEY,
    "stage",
    "entered_at",
    "rule",
    "attributed_event_id",
    "conversion_id",
    "amount",
    "currency",
)
"""The stage change columns a record's row is made of (the triggers watch these)."""
DEAL_COLUMNS = (*KEY, "event_id")
"""The deal attribution columns a record's row is made of."""

LOCK_CLASS = 17_014
"""PostgreSQL advisory lock class: one writer of a record's row at a time (the object is the key's hash)."""

FINGERPRINT = "fingerprint"


@dataclass(frozen=True)
class StageNames:
    """Which stages make an opportunity and which a won deal (casefolded names; rule names)."""

    opportunity: frozenset[str]
    won: frozenset[str]
    won_rules: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> StageNames:
        rules = StageRules.from_mapping(settings.stages.rules).rules
        won = frozenset(s.casefold() for s in settings.report.won_stages)
        return cls(
            opportunity=frozenset(s.casefold() for s in settings.report.opportunity_stages) | won,
            won=won,
            won_rules=frozenset(r.name for r in rules if r.stage.casefold() in won),
        )

    def rows(self) -> list[dict[str, str]]:
        return [
            {"kind": kind, "name": name}
            for kind, names in (
                ("opportunity", self.opportunity),
                ("won", self.won),
                ("won_rule", self.won_rules),
            )
            for name in sorted(names)
        ]

    @property
    def fingerprint(self) -> str:
        text = "\x1e".join(f"{r['kind']}\x1f{r['name']}" for r in self.rows())
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _named(kind: str) -> Any:
    return select(NAMES.c.name).where(NAMES.c.kind == literal_column(f"'{kind}'"))


def computed(key: tuple[Any, Any, Any] | None = None) -> sa.Select[Any]:
    """The rows of report_records as the stored stage names make them: of every record, or of the record
    whose (crm, object type, record id) are the SQL expressions `key`."""
    sc = STAGE_CHANGES
    opportunity = or_(sc.c.rule.isnot(None), func.lower(sc.c.stage).in_(_named("opportunity")))
    won = or_(func.lower(sc.c.stage).in_(_named("won")), sc.c.rule.in_(_named("won_rule")))
    where = [opportunity]
    if key is not None:
        where += [sc.c[c] == k for c, k in zip(KEY, key, strict=True)]
    grouped = (
        select(
            sc.c.crm,
            sc.c.object_type,
            sc.c.record_id,
            func.max(sc.c.attributed_event_id).label("attributed_event_id"),
            func.min(case((won, sc.c.entered_at))).label("won_at"),
            # The won change that was converted, else the first one (an expired won change).
            func.coalesce(
                func.min(case((and_(won, sc.c.conversion_id.isnot(None)), sc.c.id))),
                func.min(case((won, sc.c.id))),
            ).label("won_change_id"),
        )
        .where(*where)
        .group_by(sc.c.crm, sc.c.object_type, sc.c.record_id)
        .subquery("g")
    )
    written = select(DEALS.c.event_id).where(*(DEALS.c[c] == grouped.c[c] for c in KEY)).scalar_subquery()
    change = sc.alias("w")
    return select(
        grouped.c.crm,
        grouped.c.object_type,
        grouped.c.record_id,
        func.coalesce(grouped.c.attributed_event_id, written).label("event_id"),
        grouped.c.won_at,
        grouped.c.won_change_id,
        change.c.amount,
        change.c.currency,
    ).select_from(grouped.outerjoin(change, change.c.id == grouped.c.won_change_id))


def _sql(statement: Any, dialect: Any) -> str:
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def refresh_sql(dialect: Any, key: tuple[str, str, str]) -> str:
    """SQL statements (each ending in ';') that rewrite the row of the record whose key columns are the SQL
    expressions `key` (a trigger's OLD./NEW. columns, a function's parameters)."""
    match = " AND ".join(f"{c} = {k}" for c, k in zip(KEY, key, strict=True))
    rows = _sql(computed(tuple(literal_column(k) for k in key)), dialect)  # type: ignore[arg-type]
    columns = ", ".join(RECORD_COLUMNS)
    insert = f"INSERT INTO report_records ({columns}) {rows}"
    if dialect.name == "postgresql":
        kept = ", ".join(f"{c} = EXCLUDED.{c}" for c in RECORD_COLUMNS if c not in KEY)
        insert += f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {kept}"
    return f"DELETE FROM report_records WHERE {match}; {insert};"


def create_triggers(connection: Connection) -> None:
    """The triggers that keep report_records in the transaction writing a stage change or deal attribution."""
    dialect = connection.dialect
    if dialect.name == "postgresql":
        params = ("p_crm", "p_object_type", "p_record_id")
        lock = f"PERFORM pg_advisory_xact_lock({LOCK_CLASS}, hashtext(p_crm || ':' || p_object_type || ':' || p_record_id));"
        connection.exec_driver_sql(
            "CREATE FUNCTION report_records_refresh(p_crm text, p_object_type text, p_record_id text) "
            f"RETURNS void LANGUAGE plpgsql AS $$ BEGIN {lock} {refresh_sql(dialect, params)} END $$"
        )
        moved = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in KEY)
        connection.exec_driver_sql(
            "CREATE FUNCTION report_records_kept() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF TG_OP <> 'INSERT' THEN PERFORM report_records_refresh(OLD.crm, OLD.object_type, OLD.record_id);"
            " END IF; "
            f"IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND ({moved})) THEN "
            "PERFORM report_records_refresh(NEW.crm, NEW.object_type, NEW.record_id); END IF; "
            "RETURN NULL; END $$"
        )
        for table, columns in (("stage_changes", CHANGE_COLUMNS), ("deal_attributions", DEAL_COLUMNS)):
            changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
            for event, when in (
                ("INSERT", ""),
                (f"UPDATE OF {', '.join(columns)}", f" WHEN ({changed})"),
                ("DELETE", ""),
            ):
                name = f"report_records_{table}_{event.split()[0].lower()}"
                connection.exec_driver_sql(
                    f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} "
                    "EXECUTE FUNCTION report_records_kept()"
                )
        return
    old = refresh_sql(dialect, ("OLD.crm", "OLD.object_type", "OLD.record_id"))
    new = refresh_sql(dialect, ("NEW.crm", "NEW.object_type", "NEW.record_id"))
    for table, columns in (("stage_changes", CHANGE_COLUMNS), ("deal_attributions", DEAL_COLUMNS)):
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)
        for event, when, body in (
            ("INSERT", "", new),
            (f"UPDATE OF {', '.join(columns)}", f" WHEN {changed}", f"{old} {new}"),
            ("DELETE", "", old),
        ):
            name = f"report_records_{table}_{event.split()[0].lower()}"
            connection.exec_driver_sql(
                f"CREATE TRIGGER {name} AFTER {event} ON {table}{when} BEGIN {body} END"
            )


def drop_triggers(connection: Connection) -> None:
    postgresql = connection.dialect.name == "postgresql"
    for table in ("stage_changes", "deal_attributions"):
        for event in ("insert", "update", "delete"):
            on = f" ON {table}" if postgresql else ""
            connection.exec_driver_sql(f"DROP TRIGGER report_records_{table}_{event}{on}")
    if postgresql:
        connection.exec_driver_sql("DROP FUNCTION report_records_kept()")
        connection.exec_driver_sql("DROP FUNCTION report_records_refresh(text, text, text)")


def stored_fingerprint(connection: Connection) -> str | None:
    return connection.scalar(select(NAMES.c.name).where(NAMES.c.kind == FINGERPRINT))


def rebuild(connection: Connection, names: StageNames) -> int:
    """Store `names` and every record's row computed with them, in the caller's transaction; the number of
    records. On PostgreSQL the writers of rows wait meanwhile (and this waits for those in flight)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE report_records IN EXCLUSIVE MODE")
    connection.execute(sa.delete(NAMES))
    connection.execute(sa.insert(NAMES), [*names.rows(), {"kind": FINGERPRINT, "name": names.fingerprint}])
    connection.execute(sa.delete(RECORDS))
    connection.execute(sa.insert(RECORDS).from_select(list(RECORD_COLUMNS), computed()))
    return int(connection.scalar(select(func.count()).select_from(RECORDS)) or 0)


def ensure(engine: Engine, names: StageNames) -> None:
    """Make report_records be computed with `names`: rebuilt (once, logged) when the stored ones differ."""
    with engine.connect() as connection:
        if stored_fingerprint(connection) == names.fingerprint:
            return
    started = time.perf_counter()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("LOCK TABLE report_records IN EXCLUSIVE MODE")
        if stored_fingerprint(connection) == names.fingerprint:  # another process rebuilt it meanwhile
            return
        count = rebuild(connection, names)
    log.warning(
        "report: the opportunity records were kept for other stage settings; rebuilt %d records "
        "for the current [report] stages and stage rules in %.1f s",
        count,
        time.perf_counter() - started,
    )
