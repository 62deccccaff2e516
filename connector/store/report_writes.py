"""Write the report's facts (connector.store.report_facts): for the people a flush touched, in its
transaction, and for a whole ledger at once (migration 0013's backfill, bench/report.py's prefill)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from connector.store.report_facts import DIMS, PREV_COLUMNS, epoch, prevs, profile_key, sent_sql

PROFILES = sa.table(
    "report_profiles", sa.column("id", sa.Integer), sa.column("key", sa.String), *(sa.column(d) for d in DIMS)
)
FACTS = sa.table(
    "report_facts",
    sa.column("submission_id", sa.Integer),
    sa.column("event_id", sa.String),
    sa.column("person_key", sa.String),
    sa.column("at", sa.BigInteger),
    sa.column("profile_id", sa.Integer),
    sa.column("sent", sa.String),
    *(sa.column(c, sa.BigInteger) for c in PREV_COLUMNS),
)
SUBMISSIONS = sa.table(
    "submissions",
    sa.column("id", sa.Integer),
    sa.column("event_id", sa.String),
    sa.column("person_key", sa.String),
    sa.column("submitted_at", sa.DateTime(timezone=True)),
    *(sa.column(d) for d in DIMS),
)
BATCH = 5000
"""Rows per statement of a rebuild."""


def _insert(connection: Connection, table: Any) -> Any:
    return (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(table)


def _profile_ids(connection: Connection, profiles: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Profile key -> id, inserting the profiles not stored yet."""
    wanted = {profile_key(p): p for p in profiles}
    if not wanted:
        return {}
    keys = sorted(wanted)
    found = dict(
        connection.execute(sa.select(PROFILES.c.key, PROFILES.c.id).where(PROFILES.c.key.in_(keys))).all()
    )
    missing = [{"key": k, **wanted[k]} for k in keys if k not in found]
    if missing:
        connection.execute(
            _insert(connection, PROFILES).on_conflict_do_nothing(index_elements=["key"]), missing
        )
        found.update(
            connection.execute(
                sa.select(PROFILES.c.key, PROFILES.c.id).where(
                    PROFILES.c.key.in_([m["key"] for m in missing])
                )
            ).all()
        )
    return found


def _submissions(connection: Connection) -> Any:
    """The submissions' columns facts are made of, with their `sent` lists."""
    sent: Any = sa.literal_column(sent_sql(connection.dialect.name, "submissions.id")).label("sent")
    return sa.select(*SUBMISSIONS.c, sent)


def _fact_rows(connection: Connection, submissions: Sequence[Any]) -> list[dict[str, Any]]:
    """The facts of one or more people's complete submission lists (prevs computed per person)."""
    profiles = {s.id: {d: getattr(s, d) for d in DIMS} for s in submissions}
    ids = _profile_ids(connection, profiles.values())
    people: dict[str | None, list[Any]] = defaultdict(list)
    for s in submissions:
        people[s.person_key].append(s)
    rows = []
    for person, theirs in people.items():
        computed = prevs([(s.id, epoch(s.submitted_at), profiles[s.id]) for s in theirs])
        for s in theirs:
            rows.append(
                {
                    "submission_id": s.id,
                    "event_id": s.event_id,
                    "person_key": person,
                    "at": epoch(s.submitted_at),
                    "profile_id": ids[profile_key(profiles[s.id])],
                    "sent": s.sent,
                    **computed[s.id],
                }
            )
    return rows


def _upsert(connection: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    statement = _insert(connection, FACTS)
    keep = ["event_id", "person_key", "at", "profile_id", "sent", *PREV_COLUMNS]
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["submission_id"], set_={c: statement.excluded[c] for c in keep}
        ),
        rows,
    )


def refresh(connection: Connection, person_keys: Collection[str | None], new_ids: Collection[int]) -> None:
    """Rewrite the facts of every submission of these people and of the submissions `new_ids`, in the
    caller's transaction."""
    keys = sorted({k for k in person_keys if k is not None})
    ids = set(new_ids)
    if keys:
        ids.update(
            connection.execute(sa.select(FACTS.c.submission_id).where(FACTS.c.person_key.in_(keys))).scalars()
        )
    if not ids:
        return
    found = connection.execute(_submissions(connection).where(SUBMISSIONS.c.id.in_(sorted(ids)))).all()
    _upsert(connection, _fact_rows(connection, found))


def _by_person(connection: Connection) -> Iterator[list[Any]]:
    """Every submission, in runs of whole people (ordered by person key)."""
    batch: list[Any] = []
    result = connection.execute(
        _submissions(connection)
        .order_by(SUBMISSIONS.c.person_key, SUBMISSIONS.c.id)
        .execution_options(yield_per=BATCH)
    )
    for row in result:
        if len(batch) >= BATCH and batch[-1].person_key != row.person_key:
            yield batch
            batch = []
        batch.append(row)
    if batch:
        yield batch


def rebuild(connection: Connection) -> None:
    """The facts of every submission, from scratch (the table emptied first)."""
    connection.execute(sa.delete(FACTS))
    for batch in _by_person(connection):
        connection.execute(_insert(connection, FACTS), _fact_rows(connection, batch))


WATCHED = ("person_key", "event_id", "submitted_at", *DIMS)
"""A submission's columns its facts are made of."""


def after_flush(session: Any, _context: Any) -> None:
    """Session hook: the facts of the people whose submissions this flush wrote, in its transaction."""
    new_ids: list[int] = []
    keys: set[str | None] = set()
    gone: list[int] = []
    for obj in session.new:
        if getattr(obj, "__tablename__", None) == "submissions":
            new_ids.append(obj.id)
            keys.add(obj.person_key)
    for obj in session.dirty:
        if getattr(obj, "__tablename__", None) != "submissions":
            continue
        state = sa.inspect(obj)
        history = state.attrs.person_key.history
        if any(state.attrs[c].history.has_changes() for c in WATCHED):
            keys.update([obj.person_key, *history.deleted])
            new_ids.append(obj.id)
    for obj in session.deleted:
        if getattr(obj, "__tablename__", None) == "submissions":
            gone.append(obj.id)
            keys.add(obj.person_key)
    if not (new_ids or keys or gone):
        return
    connection = session.connection()
    if gone:
        connection.execute(sa.delete(FACTS).where(FACTS.c.submission_id.in_(gone)))
    refresh(connection, keys, new_ids)
