"""The kiosk store's tables that are used through SQLAlchemy Core, by their columns.

Only the record chain (``records``) and the conflicts it reports are inserted
as Core tables (:mod:`kiosk.engine.chain`); every other table is read and
written with plain SQL, so declaring it again here would only be a second
copy of the migrations to keep in step. Alembic's ``versions/`` scripts are
the source of truth for the whole schema (types, keys, indexes): here the two
are lightweight ``sa.table`` clauses that name their columns, enough to build
the SELECTs and INSERTs, so the types are not written down twice.
Kept apart from :mod:`kiosk.engine.store` so that importing the store (and
running ``cinepass-kiosk verify``, which only reads through sqlite3) does not
pay for importing SQLAlchemy; the write paths import this module on first use.
"""

from __future__ import annotations

import sqlalchemy as sa

#: the columns of ``records`` (0001_initial; ``server_*`` from 0002, as at head)
RECORD_COLUMNS = (
    "seq uuid device kind voucher token cinema format staff at voids prev v hash sig"
    " synced_at server_status server_detail"
).split()
#: the columns of ``conflicts`` (0002_roster_conflicts)
CONFLICT_COLUMNS = "id record_uuid first_record_uuid cinema device staff at received_at".split()

records = sa.table("records", *map(sa.column, RECORD_COLUMNS))
conflicts_t = sa.table("conflicts", *map(sa.column, CONFLICT_COLUMNS))
