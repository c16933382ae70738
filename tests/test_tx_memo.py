"""sync.server.db.tx_memo: what one transaction read, forgotten at its end and at a flush."""

from __future__ import annotations

from pathlib import Path

from sync.office.cinemas import business_day, know_business_day
from sync.server.db import make_sessionmaker, migrate, tx_memo
from sync.server.models import Cinema


def test_the_memo_lives_for_one_transaction_and_a_flush_forgets_it(tmp_path: Path) -> None:
    engine = migrate(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        assert tx_memo(s, "k") == {}
        tx_memo(s, "k")["x"] = 1  # no transaction yet: nothing is kept
        assert tx_memo(s, "k") == {}
        s.add(Cinema(code="CIN-M", name="M", timezone="Asia/Shanghai", day_starts="06:00"))
        s.commit()
        assert business_day(s, "CIN-M").day_starts == "06:00"
        # what a statement of this transaction read is the answer: no second query
        know_business_day(s, "CIN-M", "Asia/Shanghai", "05:00")
        assert business_day(s, "CIN-M").day_starts == "05:00"
        s.commit()  # a new transaction asks the database again
        assert business_day(s, "CIN-M").day_starts == "06:00"
        cinema = s.get(Cinema, "CIN-M")
        assert cinema is not None
        cinema.day_starts = "04:00"
        s.flush()  # an ORM change may be the very row remembered: forgotten
        assert business_day(s, "CIN-M").day_starts == "04:00"
        s.rollback()
        assert business_day(s, "CIN-M").day_starts == "06:00"
        # a read of its own is not remembered: a pending change is autoflushed and seen
        cinema = s.get(Cinema, "CIN-M")
        assert cinema is not None
        cinema.day_starts = "03:00"
        assert business_day(s, "CIN-M").day_starts == "03:00"
    engine.dispose()
