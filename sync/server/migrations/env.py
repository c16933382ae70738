"""Alembic environment, configured in code by sync.server.db.migrate (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from sync.server.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    if connection.dialect.name == "postgresql":
        # several server processes may start at once: one migrates, the others wait
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727001)")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
