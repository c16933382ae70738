"""The schema changes of issue 10/11 (kiosk side): upgraded from the first released schemas.

* kiosk store ``0003_refusal_log``: refusals logged by a 0001-era kiosk get ids
  and are uploaded, without the claimed id of a code that was not verified;
* server ``0003_refusals``: the ``refusals`` table appears on a database made
  at the first released schema, and the endpoint stores into it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from ops_support import make_kiosk, revision, run_alembic
from sqlalchemy import inspect

from kiosk.cli import main as kiosk_main
from kiosk.engine.db import HEAD_REVISION, MIGRATIONS_DIR
from kiosk.engine.service import KioskService
from sync.server.db import MIGRATIONS, make_engine, migrate
from sync.voucher import PrivateKey

pytestmark = pytest.mark.timeout(120)


def test_a_first_schema_kiosk_uploads_its_old_refusals(
    tmp_path: Path, issuer_key: PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = make_kiosk(tmp_path / "k", issuer_key, redemptions=1)
    run_alembic(paths.store, MIGRATIONS_DIR, "downgrade", "0001")
    conn = sqlite3.connect(paths.store)
    conn.executemany(
        "INSERT INTO attempts (at, reason, short_code, format, staff, source) VALUES (?,?,?,?,?,?)",
        [
            (1_000, "expired", "AAAA-BBBB-CCCC-DDDD", "2D", "王", "camera"),
            (2_000, "bad_signature", "EEEE-FFFF-GGGG-HHHH", "2D", "王", "camera"),
        ],
    )
    conn.commit()
    conn.close()
    capsys.readouterr()
    assert kiosk_main(["--home", str(paths.home), "status", "--json"]) == 0  # opens = migrates
    st = json.loads(capsys.readouterr().out)
    assert revision(paths.store) == HEAD_REVISION
    assert st["refusals_pending"] == 2 and st["records"] == 1 and st["quarantined"] == 0
    with KioskService.open(paths.home) as svc:
        old = svc.store.pending_refusals(10)
    assert [(r.reason, r.voucher) for r in old] == [
        ("expired", "AAAA-BBBB-CCCC-DDDD"),
        ("bad_signature", None),  # a forged code's claimed id is never sent
    ]
    assert len({r.id for r in old}) == 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_server_gains_the_refusals_table_from_the_first_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    cfg = Config()  # as sync.server.db.migrate builds it
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    command.upgrade(cfg, "0001")
    assert "refusals" not in inspect(engine).get_table_names()
    migrate(engine)
    cols = {c["name"] for c in inspect(engine).get_columns("refusals")}
    assert {"device", "id", "cinema", "reason", "voucher", "text_hash", "at"} <= cols
    engine.dispose()
