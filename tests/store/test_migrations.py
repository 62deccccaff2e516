"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from connector.store.migrate import alembic_config, current_revision, upgrade
from connector.store.models import Base


def test_migrations_match_models_and_are_idempotent(ctx):
    upgrade(ctx.engine)  # a second run finds nothing to do
    head = ScriptDirectory.from_config(alembic_config(ctx.engine)).get_current_head()
    assert head is not None and head >= "0011"
    assert current_revision(ctx.engine) == head
    with ctx.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_0007_gives_each_existing_form_event_id_to_its_first_lead(settings):
    from sqlalchemy import text

    from connector.store.db import make_engine

    engine = make_engine(settings)
    upgrade(engine, "0006")
    now = "2026-12-01 10:00:00+00:00"
    with engine.begin() as connection:
        for n, source in enumerate(("contact_form_7", "wordpress", "calendly", "generic"), start=1):
            connection.execute(
                text(
                    "INSERT INTO receipts (id, source, delivery_key, received_at, content_type, headers,"
                    " status, attempts, duplicates) VALUES (:n, :source, :key, :now, '', '{}', 'processed', 1, 0)"
                ),
                {"n": n, "source": source, "key": f"k{n}", "now": now},
            )
            kind, event_id = (
                ("booking", "evt-1") if source == "calendly" else ("form", None if n == 4 else "evt-1")
            )
            connection.execute(
                text(
                    "INSERT INTO submissions (id, receipt_id, source, kind, event_id, contact, attribution, meta,"
                    " submitted_at, created_at) VALUES (:n, :n, :source, :kind, :event_id, '{}', '{}', '{}', :now, :now)"
                ),
                {"n": n, "source": source, "kind": kind, "event_id": event_id, "now": now},
            )
    upgrade(engine)
    with engine.connect() as connection:
        claims = connection.execute(text("SELECT event_id, receipt_id, source FROM form_event_claims")).all()
    engine.dispose()
    assert [tuple(c) for c in claims] == [("evt-1", 1, "contact_form_7")]


def test_0012_moves_each_held_booking_lead_to_held_since(settings):
    import json

    from sqlalchemy import text

    from connector.jobs.bookings import held_statement
    from connector.store.db import make_engine
    from connector.timeutil import utcnow

    engine = make_engine(settings)
    upgrade(engine, "0011")
    created = "2026-12-01 10:00:00+00:00"
    metas = [{"awaiting_beacon": True, "provider": "calendly"}, {"provider": "calendly"}]
    with engine.begin() as connection:
        for n, meta in enumerate(metas, start=1):
            connection.execute(
                text(
                    "INSERT INTO receipts (id, source, delivery_key, received_at, content_type, headers,"
                    " status, attempts, duplicates) VALUES (:n, 'calendly', :key, :now, '', '{}', 'processed', 1, 0)"
                ),
                {"n": n, "key": f"k{n}", "now": created},
            )
            connection.execute(
                text(
                    "INSERT INTO submissions (id, receipt_id, source, kind, contact, attribution, meta,"
                    " submitted_at, created_at) VALUES (:n, :n, 'calendly', 'booking', '{}', '{}', :meta, :now, :now)"
                ),
                {"n": n, "meta": json.dumps(meta), "now": created},
            )
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, held_since, meta FROM submissions ORDER BY id")).all()
        held = connection.execute(held_statement(utcnow())).scalars().all()
    engine.dispose()
    metas_after = [r.meta if isinstance(r.meta, dict) else json.loads(r.meta) for r in rows]
    assert [r.held_since is not None for r in rows] == [True, False]
    assert metas_after == [{"provider": "calendly"}, {"provider": "calendly"}], "the flag left the JSON"
    assert held == [1], "the sweeper finds the lead held before the migration"
