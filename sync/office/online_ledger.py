"""A partner's ledger lines: its own hash chain, then settlement and the monitor (issue 14).

Apart from :mod:`.online` so each stays small. A confirmed hold (and its
cancel's void) is a row of ``redemption`` like a counter's record, on the
chain of ``device`` = ``online:<partner id>``; every new line then goes
through the same steps as a counter's: a line of a signed month becomes an
adjustment of the next open one, and the monitor is told. Written with
statements built once (SQLAlchemy Core: docs/online-api.md, "Speed").
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from sync.records import GENESIS_HASH
from sync.server.models import now_ms

from .online_usable import R
from .partners import PartnerIdentity
from .signoff_models import LineChange, record_adjustments

HoldRow = Any  # a row of online_hold (or an OnlineHold): voucher, cinema, format, order_ref

SOURCE = "online"
CHAIN_HEAD = (
    select(R.c.seq, R.c.hash)
    .where(R.c.device == bindparam("device"))
    .order_by(R.c.seq.desc())
    .limit(1)
)
LINE_INSERT = insert(R)

#: told of each line an online request writes: (record uuid, device) (the server's
#: alerts inbox, issue 13)
OnLine = Callable[[str, str], None]


def device_of(partner_id: str) -> str:
    """The ``device`` column of a partner's lines (and of its feed entries)."""
    return f"online:{partner_id}"


def write_line(
    session: Session,
    partner: PartnerIdentity,
    hold: HoldRow,
    token: str,
    kind: str,
    voids: str = "",
    *,
    record: str | None = None,
    at: int | None = None,
) -> dict[str, Any]:
    """A ledger line of the partner's chain (hash over its fields and the previous hash),
    inserted; returns its columns."""
    device = device_of(partner.id)
    conn = session.connection()
    last = conn.execute(CHAIN_HEAD, {"device": device}).first()
    seq, prev = (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH.hex())
    fields = {
        "uuid": record or str(uuid.uuid4()),
        "v": 1,
        "device": device,
        "seq": seq + 1,
        "kind": kind,
        "voucher": hold.voucher,
        "token": token,
        "cinema": hold.cinema,
        "format": hold.format,
        "staff": partner.name[:64],
        "at": now_ms() if at is None else at,
        "voids": voids,
        "prev": prev,
    }
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    line = {
        **fields,
        "hash": digest,
        "sig": partner.signature,
        "status": "void" if kind == "void" else "valid",
        "duplicate_of": None,
        "problem": None,
        "received_at": fields["at"],
        "chain_gap": False,
        "chain_fork": False,
        "flags": [],
        "source": SOURCE,
        "partner": partner.id,
        "order_ref": hold.order_ref,
    }
    conn.execute(LINE_INSERT, line)
    return line


def settled(
    session: Session, line: dict[str, Any], before: str | None, on_line: OnLine | None
) -> None:
    """What every counter line goes through after its status is set: a line of a signed
    month becomes an adjustment of the next open one (docs/settlement.md), and the monitor
    is told."""
    change = LineChange(
        line["uuid"],
        line["cinema"],
        int(line["at"]),
        line["kind"],
        line["format"],
        before,
        line["status"],
        line["voucher"],
    )
    record_adjustments(session, [change])
    if on_line is not None and before is None:
        on_line(line["uuid"], line["device"])
