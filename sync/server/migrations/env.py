"""Alembic environment, configured in code by sync.server.db.migrate (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from sync.server.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # a batch migration rebuilds a table (copy, DROP, rename): with foreign keys
        # on, dropping a referenced table fails. SQLite's documented procedure for
        # schema changes turns them off outside the transaction and checks after.
        # (on the driver's connection: SQLAlchemy would BEGIN first, where the PRAGMA is a no-op)
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        # several server processes may start at once: one migrates, the others wait.
        # Alembic runs SQLite's steps one transaction each (its DDL is "not
        # transactional"), so a second process could read the version between two
        # steps and run the next one twice ("duplicate column"): this transaction
        # (BEGIN IMMEDIATE, sync.server.db_sqlite) holds the writer lock for them all
        connection.begin()
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
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows without their parent: {broken[:5]}")
    connection.commit()
    if sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
