"""Alembic environment for the kiosk store.

No ``alembic.ini``: :func:`kiosk.engine.store.migrate` builds the Config in
code and hands over an open connection in ``config.attributes["connection"]``,
so the same code runs from a checkout, a wheel and a PyInstaller bundle.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by a bare `alembic` command
    raise RuntimeError("run the kiosk migrations through kiosk.engine.store.migrate()")

context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
