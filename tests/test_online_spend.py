"""Issue 14's speed work must not open holes: one commit per request, yet every signature once.

The signature is written in the request's own transaction; a refused request
rolls back and then spends it on its own, so replaying a refusal (which might
succeed later, e.g. once another order's hold lapsed) is ``replayed`` too.
The reference client keeps its connection (one per thread) and survives the
server closing it.
"""

from __future__ import annotations

import json
import threading

import pytest
from syncsupport import Central
from test_online_api import add_partner, raw, short

from sync.partner_client import PREFIX

pytestmark = pytest.mark.timeout(120)


def test_a_refused_request_cannot_be_replayed(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    code = short(central.issue(1)[0])
    p = add_partner(central, capsys, "CIN-A")
    other = add_partner(central, capsys, name="other")
    other.hold(code, "CIN-A", "2D", "theirs", hold_seconds=1)
    body = {"code": code, "cinema": "CIN-A", "format": "2D", "order_ref": "mine"}
    data = json.dumps(body).encode()
    headers = {**p.headers("POST", f"{PREFIX}/holds", data), "Idempotency-Key": "mine-1"}
    status, answer = raw(p, f"{PREFIX}/holds", data, headers)
    assert (status, answer["error"]) == (409, "held_by_other")
    status, answer = raw(p, f"{PREFIX}/holds", data, headers)  # the same bytes again
    assert (status, answer["error"]) == (401, "replayed")
    # refused before the operation (no Idempotency-Key on a hold): spent as well
    bare = p.headers("POST", f"{PREFIX}/holds", data + b" ")
    assert raw(p, f"{PREFIX}/holds", data + b" ", bare)[1]["error"] == "missing_idempotency_key"
    assert raw(p, f"{PREFIX}/holds", data + b" ", bare)[1]["error"] == "replayed"


def test_the_client_keeps_one_connection_per_thread(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    code = short(central.issue(1)[0])
    p = add_partner(central, capsys)
    p.check(code, "CIN-A", "2D")
    conn, reused = p.connection()
    assert reused
    p.check(code, "CIN-A", "2D")
    assert p.connection()[0] is conn  # the same connection for the next call
    seen: list[object] = []
    t = threading.Thread(target=lambda: seen.append(p.connection()[0]))
    t.start()
    t.join()
    assert seen[0] is not conn  # another thread: its own
    conn.close()  # as if the server had closed it while idle
    assert p.check(code, "CIN-A", "2D")["usable"]


def test_the_order_of_refusals_holds_with_one_worker_hop(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad JSON first, then a malformed Idempotency-Key, then the signature, then the fields
    (as with FastAPI's own parameters); a route without a body ignores what is sent."""
    code = short(central.issue(1)[0])
    p = add_partner(central, capsys)
    holds = f"{PREFIX}/holds"
    unsigned = {"Content-Type": "application/json", "Idempotency-Key": "bad key"}
    assert raw(p, holds, b"{nope", unsigned)[1]["error"] == "bad_json"
    assert raw(p, holds, b"{}", unsigned)[1]["error"] == "bad_idempotency_key"
    unsigned["Idempotency-Key"] = "k-1"
    assert raw(p, holds, b"{}", unsigned)[1]["error"] == "bad_signature"
    signed = {**p.headers("POST", holds, b"{}"), "Idempotency-Key": "k-1"}
    assert raw(p, holds, b"{}", signed) == (
        422,
        {"error": "invalid_request", "message": "code: Field required"},
    )
    assert raw(p, holds, b"{}", signed)[0] == 422  # an invalid body spends nothing
    hold = p.hold(code, "CIN-A", "2D", "o", key="k-2")
    path = f"{PREFIX}/holds/{hold['hold_id']}/confirm"
    status, answer = raw(p, path, b"{not json", p.headers("POST", path, b"{not json"))
    assert (status, answer["status"]) == (200, "confirmed")
