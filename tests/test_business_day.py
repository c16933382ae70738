"""One business day for one redemption (issue 11, item 7), through the real commands.

On a UTC machine (``TZ=UTC`` in every command's environment) a redemption at
2026-12-02 16:30 UTC (00:30 in China on 12-03) counts to 2026-12-02, and one
at 23:00 UTC (07:00 in China) to 12-03, in the kiosk's tally, the manager's
export and the union's settlement alike; a cinema's changed day start reaches
its counter on the next sync.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from kiosk.engine.clock import Clock
from kiosk.engine.service import KioskService
from sync import issuing
from sync.businessday import DEFAULT, BusinessDay, BusinessDayError
from sync.office.batches import record_batch
from sync.office.issuers import signing_key
from sync.server.db import make_engine, migrate, session_scope
from sync.server.embedded import EmbeddedServer
from sync.server.models import Device

pytestmark = pytest.mark.timeout(300)

BIN = Path(sys.executable).parent
UTC_ENV = {**os.environ, "TZ": "UTC"}


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


AT_0030_CST = ms("2026-12-02T16:30:00+00:00")  # 2026-12-03 00:30 in China
AT_0700_CST = ms("2026-12-02T23:00:00+00:00")  # 2026-12-03 07:00 in China


def test_the_definition() -> None:
    assert DEFAULT.day_of(AT_0030_CST) == date(2026, 12, 2)
    assert DEFAULT.day_of(AT_0700_CST) == date(2026, 12, 3)
    assert DEFAULT.hour_of(AT_0030_CST) == "00"
    start, end = DEFAULT.bounds(date(2026, 12, 2))
    assert (start, end) == (ms("2026-12-02T06:00+08:00"), ms("2026-12-03T06:00+08:00"))
    midnight = BusinessDay("Asia/Shanghai", "0:00")
    assert midnight.day_starts == "00:00" and midnight.day_of(AT_0030_CST) == date(2026, 12, 3)
    # a day across a daylight saving change is 23 hours long, still from 06:00 to 06:00
    berlin = BusinessDay("Europe/Berlin", "06:00")
    start, end = berlin.bounds(date(2026, 3, 28))  # clocks go forward on the 29th, 02:00
    assert end - start == 23 * 3_600_000
    assert DEFAULT.month_of(ms("2026-12-01T05:59+08:00")) == "2026-11"
    for bad in (("Mars/Olympus", "06:00"), ("Asia/Shanghai", "24:00"), ("UTC", "6h")):
        with pytest.raises(BusinessDayError):
            BusinessDay(*bad)


def cmd(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        capture_output=True,
        text=True,
        env=UTC_ENV,
        timeout=120,
        check=False,
    )


def ok(*argv: str) -> str:
    r = cmd(*argv)
    assert r.returncode == 0, (argv, r.stdout, r.stderr)
    return r.stdout


EXPORT = """
import sys, datetime as dt
from pathlib import Path
from kiosk.config import load_config
from kiosk.engine.service import KioskService
from kiosk.ui.jobs import export_job
home, out = Path(sys.argv[1]), Path(sys.argv[2])
svc = KioskService.open(home)
cfg = load_config(svc.paths.config)
job = export_job("csv", dt.date(2026, 12, 1), dt.date(2026, 12, 3), out, cfg)
print(job(svc))
svc.close()
"""


def kiosk_export(home: Path, out: Path) -> dict[str, int]:
    """Accepted per day in the manager's CSV export (run on the UTC machine)."""
    r = subprocess.run(
        [sys.executable, "-c", EXPORT, str(home), str(out)],
        capture_output=True,
        text=True,
        env=UTC_ENV,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.strip().splitlines()[-1])
    with path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))[1:]
    return {d: int(n) for d, section, item, n in rows if section == "汇总" and item == "核销成功"}


def tally(home: Path, day: str) -> dict[str, object]:
    out = ok("cinepass-kiosk", "--home", str(home), "tally", "--date", day, "--json")
    data: dict[str, object] = json.loads(out)
    return data


def settlement(db: str) -> list[dict[str, object]]:
    out = ok("cinepass-admin", "--db", db, "report", "--month", "2026-12", "--format", "json")
    [cinema] = json.loads(out)["cinemas"]
    by_day: list[dict[str, object]] = cinema["by_day"]
    return by_day


def test_tally_export_and_settlement_agree_on_a_utc_machine(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    ok("cinepass-admin", "--db", db, "init", "--issuer", "ACFTU-SH", "--name", "上海市总工会")
    ok("cinepass-admin", "--db", db, "cinema", "add", "SH01", "上海一号影院")  # the defaults
    listed = json.loads(ok("cinepass-admin", "--db", db, "cinema", "list", "--json"))
    assert (listed[0]["timezone"], listed[0]["day_starts"]) == ("Asia/Shanghai", "06:00")
    # two vouchers valid since 2026-12-01, signed and recorded as `issue` does
    engine = make_engine(db)
    with session_scope(engine) as s:
        code, kid, key = signing_key(s, None)
        options = issuing.make_options(code, cinemas="SH01")
        batch = issuing.create_batch(
            key, options, count=2, now=ms("2026-12-01T00:00+08:00") // 1000
        )
        record_batch(s, batch, kid, "test")
    engine.dispose()
    server = EmbeddedServer(migrate(db)).start()
    try:
        enrol = ok("cinepass-admin", "--db", db, "device", "code", "--cinema", "SH01")
        home = tmp_path / "kiosk"
        ok(
            "cinepass-kiosk",
            "--home",
            str(home),
            "enroll",
            "--server",
            server.url,
            "--code",
            enrol.strip().splitlines()[-1],
        )
        # the counter has been in service since the vouchers' first day: its records
        # of 12-02/12-03 are then after its enrolment (the server flags earlier ones)
        with session_scope(engine) as s:
            s.execute(update(Device).values(enrolled_at=ms("2026-12-01T00:00+08:00")))
        clock = Clock.fixed(AT_0030_CST)
        with KioskService.open(home, clock=clock) as svc:
            assert svc.redeem(batch[0].token, fmt="2D", staff="王", source="typed").accepted
            clock.set(AT_0700_CST)
            assert svc.redeem(batch[1].token, fmt="2D", staff="王", source="typed").accepted
        ok("cinepass-kiosk", "--home", str(home), "sync")

        first, second = tally(home, "2026-12-02"), tally(home, "2026-12-03")
        assert (first["accepted"], first["by_hour"]) == (1, {"00": 1})
        assert (second["accepted"], second["by_hour"]) == (1, {"07": 1})
        assert kiosk_export(home, tmp_path / "exports") == {
            "2026-12-01": 0,
            "2026-12-02": 1,
            "2026-12-03": 1,
        }
        assert settlement(db) == [
            {"day": "2026-12-02", "format": "2D", "count": 1},
            {"day": "2026-12-03", "format": "2D", "count": 1},
        ]
        csv_out = ok("cinepass-admin", "--db", db, "report", "--month", "2026-12")
        valid_days = sorted(x.split(",")[2] for x in csv_out.splitlines() if x.startswith("valid,"))
        assert valid_days == ["2026-12-02", "2026-12-03"]

        # the office moves SH01's day start to midnight: the counter learns it on its next sync
        ok("cinepass-admin", "--db", db, "cinema", "set", "SH01", "--day-starts", "00:00")
        ok("cinepass-kiosk", "--home", str(home), "sync")
        assert tally(home, "2026-12-03")["accepted"] == 2
        assert tally(home, "2026-12-02")["accepted"] == 0
        assert settlement(db) == [{"day": "2026-12-03", "format": "2D", "count": 2}]
    finally:
        server.stop()


def test_bad_business_day_settings_are_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    ok("cinepass-admin", "--db", db, "init", "--issuer", "ACFTU-SH")
    for flags, word in (
        (["--timezone", "Mars/Olympus"], "unknown time zone"),
        (["--day-starts", "25:00"], "HH:MM"),
    ):
        r = cmd("cinepass-admin", "--db", db, "cinema", "add", "SH01", "一号", *flags)
        assert r.returncode == 2 and word in r.stderr and len(r.stderr.strip().splitlines()) == 1
    ok("cinepass-admin", "--db", db, "cinema", "add", "SH01", "一号", "--timezone", "Asia/Urumqi")
    r = cmd("cinepass-admin", "--db", db, "cinema", "set", "SH01")
    assert r.returncode == 2 and "--day-starts" in r.stderr
    r = cmd("cinepass-admin", "--db", db, "cinema", "set", "NOPE", "--day-starts", "05:00")
    assert r.returncode == 2 and "NOPE" in r.stderr
