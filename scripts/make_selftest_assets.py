"""Generate the self-test's bundled assets once: ``resources/selftest/``.

Writes ``demo-issuer.pem`` (the PUBLIC key of a throw-away demo issuer),
``voucher.txt`` (a voucher that key signed, valid for a century so the
self-test never expires) and ``voucher.png`` (its QR code, real pixels
that the bundled decoders must read). The demo private key is generated in
memory and discarded: it is never written anywhere, so nobody can mint
vouchers for the demo key, and no counter trusts it (the self-test checks
it in isolation, outside the store). Run:
``.venv/bin/python scripts/make_selftest_assets.py`` and commit the outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import segno

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sync.voucher import PrivateKey, encode_voucher, make_voucher  # noqa: E402

OUT = ROOT / "resources" / "selftest"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    key = PrivateKey.generate()  # in memory only
    voucher = make_voucher(
        "SELFTEST", valid_days=36500, now=1_767_225_600, holder="自*检", campaign="self-test"
    )
    text = encode_voucher(voucher, key)
    (OUT / "demo-issuer.pem").write_bytes(key.public.to_pem())
    (OUT / "voucher.txt").write_text(text + "\n", encoding="ascii")
    # make_qr, not make: short texts would become Micro QR, which zbar cannot read
    segno.make_qr(text, error="m").save(str(OUT / "voucher.png"), scale=6, border=4)
    print(f"wrote {OUT} (voucher {voucher.short_code}, {len(text)} characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
