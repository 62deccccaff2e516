"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from connector.store.migrate import current_revision, upgrade
from connector.store.models import Base


def test_migrations_match_models_and_are_idempotent(ctx):
    upgrade(ctx.engine)  # a second run finds nothing to do
    assert current_revision(ctx.engine) == "0007"
    with ctx.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
