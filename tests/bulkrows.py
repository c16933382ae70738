"""Rows for filling a central database fast (tests and benches of a million entries).

Issuing 200,000 signed vouchers takes minutes; a test of the *lists* (paged
snapshots, the enrolment answer) only needs voucher rows that are frozen, so
they go straight into the table. Their token is not a real QR text: nothing
here redeems them.
"""

from __future__ import annotations

import os
from typing import Any


def frozen_voucher_rows(n: int, issuer: str, kid: str) -> list[dict[str, Any]]:
    """``n`` frozen ``voucher`` rows (random ids) for ``insert(Voucher)``."""
    same = {"issuer_code": issuer, "kid": kid, "formats": ["2D"], "admissions": 1}
    same |= {"iat": 0, "nbf": 0, "exp": 2**31, "token": "x", "batch": "bulk", "issued_at": 0}
    same |= {"status": "frozen", "freeze_reason": "lost"}
    return [same | {"cti": os.urandom(10).hex(), "short_code": f"F{i}"} for i in range(n)]
