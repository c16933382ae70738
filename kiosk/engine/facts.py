"""The kiosk engine's plain data: feed entries, trusted keys, and what is known of a voucher.

Kept apart from the store so the pure verifier (:mod:`kiosk.engine.verify`)
and the feed mapping (:mod:`kiosk.feedmap`) can name these types without
importing the database layer, and so a test can build them from nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from sync.voucher.keys import kid_for

RevocationAction = Literal["freeze", "unfreeze", "redeemed", "unredeemed", "held", "released"]
#: the server's verdicts on an uploaded record (:data:`sync.protocol.LineStatus`):
#: ``rejected`` is quarantined (failed a signature or chain check), ``review`` is
#: held for the union office with its flags; both rows are kept here, never deleted
SERVER_STATUSES = ("valid", "duplicate", "void", "rejected", "review")


@dataclass(frozen=True)
class RevocationEntry:
    """One entry of the server's revocation feed.

    ``freeze`` blocks the voucher (``reason``: lost, stolen, fraud, replaced,
    frozen...), ``unfreeze`` lifts that, ``redeemed`` says it was used at
    another counter (``cinema``/``device``/``staff`` at ``at_ms``), and
    ``unredeemed`` withdraws that (the use was voided at its counter, so the
    voucher is usable again). ``held`` is an online partner's hold (kept as a
    freeze with reason ``held`` whose ``at_ms`` is when it lapses);
    ``released`` ends it like an unfreeze.
    """

    cti: bytes
    action: RevocationAction
    reason: str
    at_ms: int
    cinema: str = ""
    device: str = ""
    staff: str = ""


@dataclass(frozen=True)
class RosterEntry:
    """An issued voucher (for typed short codes); ``removed`` drops it."""

    cti: bytes
    token: str
    removed: bool = False


@dataclass(frozen=True)
class TrustedKey:
    """A trusted issuer public key (raw 32 bytes) and the issuer it belongs to."""

    raw: bytes
    issuer: str
    source: str = "server"

    @property
    def kid(self) -> bytes:
        return kid_for(self.raw)


@dataclass(frozen=True, kw_only=True)
class Revocation(RevocationEntry):
    """A frozen voucher as the verifier sees it: the freeze entry that froze it.

    The same fields as the feed's entry (one definition of the reason, when
    and where), except that the id and the action go without saying once the
    store has found it: ``Revocation(reason="stolen", at_ms=1)``.
    """

    cti: bytes = b""
    action: RevocationAction = "freeze"


@dataclass(frozen=True)
class Use:
    """One earlier redemption of a voucher, here or (``remote``) elsewhere."""

    at_ms: int
    cinema: str
    device: str
    staff: str
    remote: bool
    record_uuid: str = ""


@dataclass(frozen=True)
class VoucherFacts:
    """Everything the verifier needs to know about one voucher id, read at one moment.

    One value instead of separate ``revocation()`` / ``uses()`` calls: the
    store fills it in one round trip, and nothing stateful sits between the
    two questions (the verdict runs inside the redemption's write
    transaction, so the value cannot go stale before the insert).
    ``uses`` are local non-voided redemptions first, then remote ones, each
    oldest first.
    """

    revocation: Revocation | None = None
    uses: tuple[Use, ...] = ()


NO_FACTS = VoucherFacts()

#: the entries of one feed page: revocations or roster rows
FeedEntries: TypeAlias = Sequence[RevocationEntry] | Sequence[RosterEntry]
