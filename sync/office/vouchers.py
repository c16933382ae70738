"""Issued vouchers after the fact: find one, freeze, unfreeze, reissue.

Every change counters must learn (a freeze, an unfreeze, the replacement
voucher) is appended to the feeds in the caller's transaction, so a change
is either committed together with its announcement or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.issuing import IssueOptions, create_voucher
from sync.server import feeds
from sync.server.models import FREEZE_REASONS, Voucher, now_ms
from sync.voucher.codec import PREFIX, decode_voucher
from sync.voucher.errors import VoucherError
from sync.voucher.shortcode import encode_short_code, parse_short_code

from .batches import record_batch
from .errors import OfficeError
from .issuers import signing_key

#: A replacement is valid at least this long, even if the old one expires sooner.
MIN_REPLACEMENT_S = 86400


def find_voucher(session: Session, text: str) -> Voucher:
    """A voucher by short code (as typed: any case, dashes or not) or by its QR text."""
    text = text.strip()
    try:
        cti = (
            decode_voucher(text).voucher.cti if text.startswith(PREFIX) else parse_short_code(text)
        )
    except VoucherError as exc:
        raise OfficeError(
            "bad_voucher", f"not a short code or voucher QR text: {exc.message}"
        ) from exc
    v = session.get(Voucher, cti.hex())
    if v is None:
        raise OfficeError(
            "unknown_voucher", f"voucher {encode_short_code(cti)} was not issued here"
        )
    return v


#: Member refs per ``IN (...)`` query: far below every database's parameter limit.
REFS_PER_QUERY = 500


def held_in_campaign(
    session: Session, member_refs: Sequence[str], campaign: str | None
) -> dict[str, int]:
    """How many vouchers each of ``member_refs`` already holds in ``campaign``.

    Only members who hold any are in the answer. A voucher replaced by a
    reissue is not counted (its replacement is); ``campaign`` None means the
    vouchers issued without one.
    """
    same = Voucher.campaign.is_(None) if campaign is None else Voucher.campaign == campaign
    held: dict[str, int] = {}
    for i in range(0, len(member_refs), REFS_PER_QUERY):
        chunk = list(member_refs[i : i + REFS_PER_QUERY])
        q = (
            select(Voucher.member_ref, func.count())
            .where(same, Voucher.member_ref.in_(chunk), Voucher.replaced_by.is_(None))
            .group_by(Voucher.member_ref)
        )
        held.update({ref: int(n) for ref, n in session.execute(q) if ref is not None})
    return held


def freeze(session: Session, voucher: Voucher, reason: str) -> None:
    """Block ``voucher`` at every counter (from their next sync)."""
    if reason not in FREEZE_REASONS:
        raise OfficeError("bad_reason", f"--reason must be one of {', '.join(FREEZE_REASONS)}")
    if voucher.status == "frozen":
        raise OfficeError(
            "already_frozen",
            f"voucher {voucher.short_code} is already frozen ({voucher.freeze_reason})",
        )
    voucher.status, voucher.freeze_reason = "frozen", reason
    feeds.publish_revocations(
        session, [feeds.revocation_entry(voucher.cti, "freeze", reason=reason)]
    )


def unfreeze(session: Session, voucher: Voucher) -> None:
    """Lift a freeze (not on a voucher that was replaced: freeze the new one instead)."""
    if voucher.status != "frozen":
        raise OfficeError("not_frozen", f"voucher {voucher.short_code} is not frozen")
    if voucher.replaced_by:
        raise OfficeError(
            "replaced",
            f"voucher {voucher.short_code} was replaced by "
            f"{encode_short_code(bytes.fromhex(voucher.replaced_by))}: freeze that one instead",
        )
    voucher.status, voucher.freeze_reason = "active", None
    feeds.publish_revocations(session, [feeds.revocation_entry(voucher.cti, "unfreeze")])


def reissue(session: Session, old: Voucher) -> Voucher:
    """Freeze ``old`` (reason replaced) and issue a new voucher to the same member.

    The replacement keeps the old one's holder, member reference, formats,
    cinemas, campaign, admissions and expiry date: it replaces a lost card,
    it does not extend the benefit. Signed with the issuer's current key, by
    :func:`sync.issuing.create_voucher` like every other voucher.
    """
    if old.replaced_by:
        raise OfficeError("already_replaced", f"voucher {old.short_code} was already reissued")
    _iss, kid, key = signing_key(session, old.issuer_code)
    t = now_ms() // 1000
    options = IssueOptions(
        iss=old.issuer_code,
        formats=tuple(old.formats),
        cinemas=tuple(old.cinemas) if old.cinemas is not None else None,
        campaign=old.campaign,
        admissions=old.admissions,
    )
    item = create_voucher(
        key,
        options,
        now=t,
        exp=max(old.exp, t + MIN_REPLACEMENT_S),
        holder=old.holder,
        sub=old.member_ref,
    )
    record_batch(session, [item], kid, f"reissue-{old.short_code}")
    if old.status != "frozen":
        freeze(session, old, "replaced")
    else:
        old.freeze_reason = "replaced"
    old.replaced_by = item.cti_hex
    new = session.get(Voucher, item.cti_hex)
    assert new is not None  # just inserted in this session
    return new
