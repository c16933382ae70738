"""A counter driven by hand: enrolled through the real API, records signed with its own key.

The server tests use it to send exactly the records an attacker (or a
counter with a wrong clock) would: every record is a real
:class:`sync.records.Record` sealed by the enrolled device's private key.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select
from syncsupport import Central

from sync.records import GENESIS_HASH, Record
from sync.server.models import Device, Redemption, now_ms
from sync.voucher import PrivateKey, decode_voucher

API = "/api/v1"


class RawDevice:
    """A device driven by hand: enrolled through the API, records built and signed here."""

    def __init__(self, central: Central, cinema: str = "CIN-A") -> None:
        self.central = central
        self.key = PrivateKey.generate()
        r = requests.post(
            central.url + API + "/enrol",
            json={"code": central.code(cinema), "public_key": self.key.public.raw.hex()},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        self.id, self.token, self.cinema = body["device_id"], body["token"], body["cinema"]
        self.seq, self.prev = 0, GENESIS_HASH
        self.t0 = self.last_at = now_ms()

    @classmethod
    def of_kiosk(cls, central: Central, home: Path, cinema: str = "CIN-A") -> RawDevice:
        """A real kiosk enrolled by ``kiosk.enrollment`` (its own key and token files)."""
        from syncsupport import enrolled_kiosk

        from kiosk.config import load_config
        from kiosk.paths import KioskPaths
        from sync.voucher.keys import load_private_key

        enrolled_kiosk(central, home, cinema)
        paths = KioskPaths(home)
        cfg = load_config(paths.config)
        self = cls.__new__(cls)
        self.central, self.key = central, load_private_key(paths.device_key)
        self.id, self.cinema = cfg.device_id, cfg.cinema
        self.token = paths.token.read_text(encoding="utf-8").strip()
        self.seq, self.prev = 0, GENESIS_HASH
        self.t0 = self.last_at = now_ms()
        return self

    def record(
        self,
        token: str,
        *,
        at: int | None = None,
        kind: str = "redeem",
        voids: str = "",
        seq: int | None = None,
        prev: bytes | None = None,
        fmt: str = "2D",
        cinema: str | None = None,
    ) -> dict[str, Any]:
        """A record signed with this device's key (``at`` defaults to now, never backwards)."""
        if at is None:
            at = self.last_at = max(now_ms(), self.last_at)
        self.seq = self.seq + 1 if seq is None else seq
        rec = Record(
            uuid=str(uuid.uuid4()),
            device=self.id,
            seq=self.seq,
            kind=kind,
            voucher=decode_voucher(token).voucher.cti,
            token=token,
            cinema=self.cinema if cinema is None else cinema,
            format=fmt,
            staff="s",
            at=at,
            voids=voids,
            prev=self.prev if prev is None else prev,
        )
        self.prev = rec.hash()
        return rec.to_json(rec.sign(self.key))

    def post(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return requests.post(
            self.central.url + API + path,
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            **kw,
        )

    def enrolled_before(self, ms: int) -> None:
        """Pretend the office enrolled this counter ``ms`` earlier (records may be that old)."""
        with self.central.session() as s:
            device = s.get(Device, self.id)
            device.enrolled_at -= ms
        self.t0 -= ms

    def post_raw(self, path: str, raw: bytes) -> requests.Response:
        """``raw`` bytes as a JSON body (malformed on purpose)."""
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        return requests.post(self.central.url + API + path, data=raw, headers=headers, timeout=10)

    def hello(self, **health: Any) -> requests.Response:
        return self.post("/device/hello", {"health": health})

    def upload(
        self, records: list[dict[str, Any]], health: dict[str, Any] | None = None
    ) -> dict[str, dict[str, Any]]:
        body: dict[str, Any] = {"records": records}
        if health is not None:
            body["health"] = health
        r = self.post("/records", body)
        assert r.status_code == 200, r.text
        return {x["uuid"]: x for x in r.json()["results"]}


def stored(central: Central) -> dict[str, Redemption]:
    with central.session() as s:
        return {r.uuid: r for r in s.scalars(select(Redemption))}
