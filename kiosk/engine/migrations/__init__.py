"""Alembic migrations of the kiosk store (run in code by :mod:`kiosk.engine.store`)."""
