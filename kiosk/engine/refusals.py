"""The counter's refusals: the ones about the counter itself, and the log the office reads.

Two things live here, both Qt-free and network-free:

* :func:`counter_refusal` - while the union office has revoked this counter,
  or its clock is known to run behind, every verdict becomes a refusal
  (``device_revoked`` / ``clock_behind``): a revoked counter's records can
  never be uploaded, and a clock behind would admit expired vouchers and
  write backdated records that win a first-use dispute.
* :class:`RefusalStore` - every refusal is already logged in ``attempts``
  (the tally counts them); this part hands them to the sync client, which
  uploads them to ``POST /api/v1/refusals``, and marks them uploaded. What is
  sent names the voucher only when its signature was verified; otherwise
  only a SHA-256 of the scanned text (:func:`text_hash`): an unreadable or
  forged code is evidence, not something to spread.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from kiosk.engine.db import Database
from kiosk.engine.verdict import Verdict

#: reasons given before (or because) the voucher's signature was verified: the
#: id such a code claims is not known to be a voucher's, so it is never uploaded
UNVERIFIED_REASONS = ("not_a_voucher", "malformed", "unknown_key", "bad_signature", "unknown_code")


def text_hash(text: str) -> str:
    """SHA-256 (hex) of a scanned text as the verifier saw it (stripped)."""
    data = text.strip().encode("utf-8", "surrogatepass") if isinstance(text, str) else b""
    return hashlib.sha256(data).hexdigest()


def counter_refusal(
    v: Verdict, *, revoked: bool, behind: bool, behind_ms: int = 0
) -> Verdict | None:
    """The refusal that replaces ``v`` while the counter cannot be trusted, else None.

    ``device_revoked`` comes first: enrolling again is the only way out. The
    voucher (if verified) stays in the answer, so the clerk and the log still
    see what was scanned; ``detail["was"]`` keeps the verdict it replaced.
    """
    if revoked:
        return replace(v, reason="device_revoked", detail={"was": v.reason}, record_uuid=None)
    if behind:
        return replace(
            v,
            reason="clock_behind",
            detail={"was": v.reason, "behind_ms": behind_ms},
            record_uuid=None,
            clock_warning=True,
        )
    return None


@dataclass(frozen=True)
class Refusal:
    """One logged refusal as it is uploaded (``voucher`` only when verified)."""

    id: str
    at: int
    reason: str
    voucher: str | None
    text_hash: str | None
    format: str
    staff: str
    source: str

    def to_json(self, counter: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "reason": self.reason,
            "voucher": self.voucher,
            "text_hash": self.text_hash,
            "format": self.format,
            "staff": self.staff,
            "source": self.source,
            "counter": counter[:200],
        }


class RefusalStore(Database):
    """The refusal-log part of the store (see the module docstring)."""

    def pending_refusals(self, limit: int) -> list[Refusal]:
        """Refusals not yet stored by the server, oldest first."""
        rows = self.read(
            "SELECT uuid, at, reason, short_code, text_hash, format, staff, source FROM attempts"
            " WHERE uploaded_at IS NULL AND uuid IS NOT NULL ORDER BY id LIMIT ?",
            (limit,),
        )
        return [
            Refusal(
                id=r[0],
                at=int(r[1]),
                reason=r[2],
                # a hash is kept exactly when the voucher was not verified (see service)
                voucher=None if r[4] is not None or r[2] in UNVERIFIED_REASONS else r[3],
                text_hash=r[4],
                format=r[5],
                staff=r[6],
                source=r[7],
            )
            for r in rows
        ]

    def mark_refusals_uploaded(self, ids: Sequence[str], at_ms: int) -> None:
        """The server has these refusals (one commit)."""
        if not ids:
            return
        with self.write() as conn:
            conn.exec_driver_sql(
                "UPDATE attempts SET uploaded_at = ? WHERE uuid = ?", [(at_ms, i) for i in ids]
            )
