"""Issuers and their Ed25519 signing keys.

The private key lives in a file (0600) the database names; the database holds
the public half, which kiosks learn from the key feed. Rotation adds a key:
the old one stays trusted for the vouchers it already signed.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.server.db import check_db_url
from sync.server.feeds import publish_key
from sync.server.models import Issuer, IssuerKey, now_ms
from sync.voucher.keys import PrivateKey, PublicKey, load_private_key

from .errors import OfficeError

ISSUER_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")


def check_issuer_code(code: str) -> str:
    """The issuer code, stripped, or a refusal saying what one looks like."""
    code = code.strip()
    if not ISSUER_RE.match(code):
        raise OfficeError(
            "bad_issuer",
            f"--issuer {code!r}: use upper-case letters, digits, - and _ (max 32), e.g. ACFTU-SH",
        )
    return code


def key_dir_for(url: str) -> Path:
    """Where issuer private keys live: ``keys/`` next to a SQLite file, else the data dir."""
    parsed = check_db_url(url)  # a URL CinePass can use, or one line saying which ones
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(str(parsed.database)).resolve().parent / "keys"
    import platformdirs

    return Path(platformdirs.user_data_dir("cinepass-admin", appauthor=False)) / "keys"


def active_kids(session: Session, code: str) -> list[str]:
    """The kids of ``code``'s trusted keys (empty: the issuer has none yet)."""
    rows = session.execute(
        select(IssuerKey).where(IssuerKey.issuer_code == code, IssuerKey.active.is_(True))
    ).scalars()
    return [k.kid for k in rows]


def add_signing_key(
    session: Session, code: str, name: str | None, key: PrivateKey, path: Path
) -> IssuerKey:
    """Record ``key`` (its file already written at ``path``) as ``code``'s signing key.

    Creates the issuer on its first key; ``name`` (printed on cards) replaces
    the old one when given. The key is announced on the key feed in the same
    transaction.
    """
    issuer = session.get(Issuer, code)
    if issuer is None:
        session.add(Issuer(code=code, name=name or code))
    elif name:
        issuer.name = name
    session.flush()
    row = IssuerKey(
        kid=key.public.kid.hex(),
        issuer_code=code,
        public_raw=key.public.raw,
        private_key_path=str(path),
        active=True,
        created_at=now_ms(),
    )
    session.add(row)
    session.flush()
    publish_key(session, row)
    return row


def trusted_keys(session: Session, issuer: str | None = None) -> list[tuple[str, str, PublicKey]]:
    """(issuer code, kid, public key) of every trusted key, newest (signing) first."""
    q = select(IssuerKey).where(IssuerKey.active.is_(True))
    if issuer:
        q = q.where(IssuerKey.issuer_code == issuer)
    rows = session.execute(q.order_by(IssuerKey.created_at.desc(), IssuerKey.kid)).scalars()
    return [(r.issuer_code, r.kid, PublicKey.from_raw(r.public_raw)) for r in rows]


def issuer_label(session: Session, code: str) -> str:
    """``CODE Name`` as printed on cards (just the code when the name is the code)."""
    row = session.get(Issuer, code)
    return f"{code} {row.name}" if row and row.name != code else code


def signing_key(session: Session, issuer: str | None) -> tuple[str, str, PrivateKey]:
    """(issuer code, kid, private key) of the newest active key that has a key file."""
    codes = [c for (c,) in session.execute(select(Issuer.code).order_by(Issuer.code))]
    if not codes:
        raise OfficeError(
            "no_issuer", "no issuer key yet: run `cinepass-admin init --issuer CODE` first"
        )
    if issuer is None:
        if len(codes) > 1:
            raise OfficeError(
                "issuer_ambiguous", f"several issuers ({', '.join(codes)}): pass --issuer CODE"
            )
        issuer = codes[0]
    elif issuer not in codes:
        raise OfficeError(
            "no_issuer", f"issuer {issuer} has no key: run `cinepass-admin init --issuer {issuer}`"
        )
    row = session.execute(
        select(IssuerKey)
        .where(
            IssuerKey.issuer_code == issuer,
            IssuerKey.active.is_(True),
            IssuerKey.private_key_path.is_not(None),
        )
        .order_by(IssuerKey.created_at.desc(), IssuerKey.kid)
        .limit(1)
    ).scalar_one_or_none()
    if row is None or row.private_key_path is None:
        raise OfficeError(
            "no_issuer",
            f"issuer {issuer} has no signing key: run `init --issuer {issuer} --rotate`",
        )
    key = load_private_key(Path(row.private_key_path))
    if key.public.raw != row.public_raw:
        raise OfficeError(
            "key_mismatch",
            f"key file {row.private_key_path} does not hold the key {row.kid} the database names",
        )
    return issuer, row.kid, key


MAX_HOTLINE = 64
MAX_AFTER_SALES = 500


def one_line(value: str, flag: str, limit: int) -> str:
    """``value`` with its white space folded to one line, or a refusal naming ``flag``."""
    text = " ".join(value.split())
    if len(text) > limit or any(unicodedata.category(c) == "Cc" for c in text):
        raise OfficeError(
            "bad_text",
            f"{flag} 过长或含控制字符 / {flag} must be one line of at most {limit} characters",
        )
    return text


def check_card_text(value: str | None, flag: str, limit: int) -> str | None:
    """A hotline or after-sales text as the card prints it (None: not given or blank)."""
    return None if value is None else one_line(value, flag, limit) or None


def set_card_contact(
    session: Session, code: str, *, hotline: str | None, after_sales: str | None
) -> Issuer:
    """Store the hotline and after-sales text ``code``'s cards print (``""`` clears one)."""
    issuer = session.get(Issuer, code)
    if issuer is None:
        raise OfficeError(
            "no_issuer", f"issuer {code} has no key: run `cinepass-admin init --issuer {code}`"
        )
    if hotline is not None:
        issuer.hotline = check_card_text(hotline, "--hotline", MAX_HOTLINE)
    if after_sales is not None:
        issuer.after_sales = check_card_text(after_sales, "--after-sales", MAX_AFTER_SALES)
    return issuer


def card_contact(session: Session, code: str) -> tuple[str | None, str | None]:
    """(hotline, after-sales text) stored for issuer ``code`` (None where none is set)."""
    row = session.get(Issuer, code)
    return (row.hotline, row.after_sales) if row else (None, None)
