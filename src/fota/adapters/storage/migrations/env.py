"""Alembic environment: runs migrations on the engine handed over by `database.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

from fota.adapters.storage.tables import metadata

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    # `alembic` run by hand: take the URL from the ini option or the environment.
    import os

    engine = create_engine(config.get_main_option("sqlalchemy.url") or os.environ["FOTA_DATABASE_URL"])

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
