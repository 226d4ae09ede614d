"""Alembic environment: runs on the connection handed over by ``gis.db.migrate``
or, from the alembic CLI, on ``DATABASE_URL`` (see settings)."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

connection = context.config.attributes.get("connection")


def run() -> None:
    if connection is not None:
        context.configure(connection=connection, transaction_per_migration=False)
        with context.begin_transaction():
            context.run_migrations()
        return
    from gis.db import database_url, ensure_database

    url = database_url()
    ensure_database(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn)
        with context.begin_transaction():
            context.run_migrations()


run()
