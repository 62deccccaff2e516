"""The durable ledger: SQLAlchemy models, engine set-up and Alembic migrations."""
