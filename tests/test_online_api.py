"""Issue 14, the partner API, through the reference client against a real server on loopback.

Check, hold, confirm, release, expiry, cancel, idempotent replays (also after
a restart), forged, stale and replayed signatures, a partner outside its
cinemas, the error shape, the settlement line and the partner CLI; the race
of 20 concurrent holds is in tests/test_online_race.py.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from syncsupport import Central, ThreadServer
from waitfor import wait_for

from sync.admin import main as admin_main
from sync.office.cinemas import business_day
from sync.office.reports import monthly
from sync.partner_client import PREFIX, PartnerApiError, PartnerClient, signature
from sync.server import feeds
from sync.server.models import OnlineHold, Redemption, now_ms
from sync.voucher.codec import decode_voucher

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[1]


def add_partner(
    central: Central, capsys: pytest.CaptureFixture[str], *cinemas: str, name: str = "Maoyan"
) -> PartnerClient:
    """``cinepass-admin partner add --json`` and a client with what it printed."""
    capsys.readouterr()
    argv = ["--db", central.url_db, "partner", "add", "--name", name, "--json"]
    for c in cinemas:
        argv += ["--cinema", c]
    assert admin_main(argv) == 0
    creds = json.loads(capsys.readouterr().out)
    assert set(creds) == {"id", "secret"}
    return PartnerClient(central.url, creds["id"], creds["secret"])


def refused(call: Any, *args: Any, **kw: Any) -> PartnerApiError:
    with pytest.raises(PartnerApiError) as info:
        call(*args, **kw)
    return info.value


def short(token: str) -> str:
    return decode_voucher(token).voucher.short_code


def revocations(central: Central, cti: str) -> list[str]:
    with central.session() as s:
        entries, _cursor, _more = feeds.read(s, "revocation", 0, 5000)
    return [e["action"] for e in entries if e["cti"] == cti]


def test_the_worked_example_of_the_docs_signs_to_the_documented_bytes() -> None:
    body = b'{"code":"ABCD-EFGH-JKMN-PQRS","cinema":"CIN-A","format":"2D"}'
    sig = signature("cps-example-secret-0000", "POST", "/api/v1/online/check", "1767225600", body)
    assert sig == "3f9ddb9cbd2aac4c3879e2195794b421acee3c5db045570bf1382e590a4bc478"
    doc = (ROOT / "docs" / "online-api.md").read_text(encoding="utf-8")
    assert sig in doc and body.decode() in doc
    assert "3a4313c7c96092e921a73e4fef27248dee0f3199afc3ca229c1f807ff49023bf" in doc  # sha256


def test_check_hold_release_confirm_cancel_on_one_ledger(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    token = central.issue(1, holder="张三丰", cinemas=("CIN-A", "CIN-B"))[0]
    code, cti = short(token), decode_voucher(token).voucher.cti.hex()
    maoyan = add_partner(central, capsys, "CIN-A")
    other = add_partner(central, capsys, name="Taopiaopiao")  # every cinema
    c = maoyan.check(code, "CIN-A", "2D")
    assert c["usable"] is True and c["voucher"] == code and c["holder"] == "张**"
    assert c["formats"] == ["2D", "3D"] and c["uses_left"] == 1 and c["admissions"] == 1
    assert c["valid_until"].endswith("Z")
    # a hold keeps every other partner off; its release frees the voucher
    h = maoyan.hold(code, "CIN-A", "2D", "order-1")
    assert h["status"] == "held" and h["hold_id"].startswith("hd_")
    assert refused(other.hold, code, "CIN-A", "2D", "x-1").error == "held_by_other"
    assert refused(other.check, code, "CIN-A", "2D").error == "held_by_other"
    assert maoyan.release(h["hold_id"]) == {"status": "released", "hold_id": h["hold_id"]}
    assert maoyan.release(h["hold_id"])["status"] == "released"  # again: the same answer
    assert refused(maoyan.confirm, h["hold_id"]).error == "hold_ended"
    # another partner cannot touch this partner's hold
    h = maoyan.hold(code, "CIN-A", "3D", "order-2")
    assert refused(other.confirm, h["hold_id"]).error == "unknown_hold"
    done = maoyan.confirm(h["hold_id"])
    assert done["status"] == "confirmed" and done["record_id"]
    assert maoyan.confirm(h["hold_id"]) == done  # confirming twice is one use
    assert refused(other.check, code, "CIN-B", "2D").error == "already_redeemed"
    assert refused(maoyan.release, h["hold_id"]).error == "already_confirmed"
    with central.session() as s:
        line = s.get(Redemption, done["record_id"])
        assert line is not None
        assert (line.source, line.partner, line.order_ref) == (
            "online",
            maoyan.partner_id,
            "order-2",
        )
        assert (line.status, line.kind, line.cinema, line.format) == (
            "valid",
            "redeem",
            "CIN-A",
            "3D",
        )
        assert line.device == f"online:{maoyan.partner_id}" and line.voucher == cti
        month = business_day(s, "CIN-A").month_of(line.at)  # the cinema's business month
        report = monthly(s, month, "CIN-A")
    cin = report["cinemas"][0]
    assert cin["valid_total"] == 1 and cin["valid"][0]["record"] == done["record_id"]
    assert revocations(central, cti) == ["held", "released", "held", "released", "redeemed"]
    # a refund before the show: the voucher is usable again, the counters are told
    x = maoyan.cancel(done["record_id"], "refund before the show")
    assert x["status"] == "cancelled" and x["record_id"] == done["record_id"] and x["void_id"]
    assert maoyan.cancel(done["record_id"], "refund before the show") == x
    assert refused(other.cancel, done["record_id"], "mine").error == "unknown_record"
    assert other.check(code, "CIN-B", "2D")["uses_left"] == 1
    assert revocations(central, cti)[-1] == "unredeemed"
    with central.session() as s:
        void_line = s.get(Redemption, done["record_id"])
        assert void_line is not None and void_line.status == "void"
        hold = s.get(OnlineHold, h["hold_id"])
        assert hold is not None and hold.status == "cancelled"
        assert hold.cancel_reason == "refund before the show"


def test_a_hold_expires_and_the_counters_are_told(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    code = short(central.issue(1)[0])
    p = add_partner(central, capsys)
    h = p.hold(code, "CIN-A", "2D", "o-9", hold_seconds=1)

    def usable() -> bool:
        try:
            return bool(p.check(code, "CIN-A", "2D")["usable"])
        except PartnerApiError as exc:
            assert exc.error == "held_by_other"
            return False

    wait_for(usable, timeout=10, step=0.2)
    assert refused(p.confirm, h["hold_id"]).error == "hold_expired"
    assert p.release(h["hold_id"])["status"] == "expired"
    with central.session() as s:
        row = s.get(OnlineHold, h["hold_id"])
        assert row is not None and row.status == "expired" and row.active is None
        cti = row.voucher
    assert revocations(central, cti) == ["held", "released"]
    assert p.hold(code, "CIN-A", "2D", "o-10")["status"] == "held"


def test_the_same_idempotency_key_gives_the_same_answer_also_after_a_restart(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    code = short(central.issue(1)[0])
    p = add_partner(central, capsys)
    first = p.hold(code, "CIN-A", "2D", "order-7", key="k-7")
    assert p.hold(code, "CIN-A", "2D", "order-7", key="k-7") == first
    assert central.server is not None
    central.server.stop()
    srv = ThreadServer(central.engine).start()
    try:
        p2 = PartnerClient(srv.url, p.partner_id, p.secret)
        assert p2.hold(code, "CIN-A", "2D", "order-7", key="k-7") == first
        e = refused(p2.hold, code, "CIN-A", "2D", "order-8", key="k-7")
        assert (e.status, e.error) == (409, "idempotency_mismatch")
        c1 = p2.confirm(first["hold_id"], key="c-7")
        assert p2.confirm(first["hold_id"], key="c-7") == c1
    finally:
        srv.stop()
    with central.session() as s:
        assert len(s.scalars(select(OnlineHold)).all()) == 1


def raw(client: PartnerClient, path: str, data: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    req = urllib.request.Request(client.server + path, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 (loopback http)
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_forged_stale_and_replayed_signatures_are_refused(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    code = short(central.issue(1)[0])
    p = add_partner(central, capsys)
    path = f"{PREFIX}/check"
    data = json.dumps({"code": code, "cinema": "CIN-A", "format": "2D"}).encode()
    forged = PartnerClient(p.server, p.partner_id, "not-the-secret")
    assert raw(p, path, data, forged.headers("POST", path, data)) == (
        401,
        {"error": "bad_signature", "message": "签名无效 / the signature does not match"},
    )
    stranger = PartnerClient(p.server, "pt_000000000000", p.secret)
    assert raw(p, path, data, stranger.headers("POST", path, data))[1]["error"] == "bad_signature"
    stale = p.headers("POST", path, data, timestamp=str(int(time.time()) - 400))
    assert raw(p, path, data, stale)[:1] == (401,)
    assert raw(p, path, data, stale)[1]["error"] == "stale_timestamp"
    # the body is signed: the same headers over another body are forged
    good = p.headers("POST", path, data)
    other = data.replace(b"CIN-A", b"CIN-B")
    assert raw(p, path, other, good)[1]["error"] == "bad_signature"
    assert raw(p, path, data, good)[0] == 200
    assert raw(p, path, data, good) == (
        401,
        {"error": "replayed", "message": raw(p, path, data, good)[1]["message"]},
    )
    missing = {"Content-Type": "application/json"}
    assert raw(p, path, data, missing)[1]["error"] == "bad_signature"
    # the online API's error shape holds for bad JSON and bad fields too
    bad = b"{not json"
    assert raw(p, path, bad, p.headers("POST", path, bad)) == (
        400,
        {"error": "bad_json", "message": "the request body is not valid JSON"},
    )
    extra = json.dumps({"code": code, "cinema": "CIN-A"}).encode()
    assert raw(p, path, extra, p.headers("POST", path, extra))[1]["error"] == "invalid_request"
    hold_path = f"{PREFIX}/holds"
    assert raw(p, hold_path, data, p.headers("POST", hold_path, data))[1]["error"] in (
        "invalid_request",  # no order_ref
    )
    body = json.dumps({"code": code, "cinema": "CIN-A", "format": "2D", "order_ref": "o"}).encode()
    status, answer = raw(p, hold_path, body, p.headers("POST", hold_path, body))
    assert (status, answer["error"]) == (400, "missing_idempotency_key")
    # a revoked partner is refused from its next request
    assert admin_main(["--db", central.url_db, "partner", "revoke", p.partner_id]) == 0
    assert refused(p.check, code, "CIN-A", "2D").error == "partner_revoked"


def test_a_partner_acts_only_for_its_cinemas_and_the_voucher_s_rules(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    p = add_partner(central, capsys, "CIN-A")
    anywhere = add_partner(central, capsys, name="All")
    code = short(central.issue(1)[0])
    e = refused(p.hold, code, "CIN-B", "2D", "o-1")
    assert (e.status, e.error) == (403, "wrong_cinema")
    assert refused(anywhere.check, code, "NOPE", "2D").error == "wrong_cinema"
    scoped = short(central.issue(1, cinemas=("CIN-B",))[0])
    assert refused(p.check, scoped, "CIN-A", "2D").error == "wrong_cinema"
    three = short(central.issue(1, formats=("3D",))[0])
    assert refused(p.check, three, "CIN-A", "2D").error == "wrong_format"
    e = refused(p.check, "0000-0000-0000-0000", "CIN-A", "2D")
    assert (e.status, e.error) == (404, "unknown_code")
    old = short(central.issue(1, now=int(time.time()) - 400 * 86400)[0])
    assert refused(p.check, old, "CIN-A", "2D").error == "expired"
    soon = short(central.issue(1, now=int(time.time()) + 86400)[0])
    assert refused(p.check, soon, "CIN-A", "2D").error == "not_yet_valid"
    lost = short(central.issue(1)[0])
    assert admin_main(["--db", central.url_db, "freeze", lost, "--reason", "lost"]) == 0
    assert refused(p.hold, lost, "CIN-A", "2D", "o-2").error == "frozen"
    assert refused(p.hold, code, "CIN-A", "2D", "o\u0001x").error == "bad_text"
    assert refused(p.hold, code, "CIN-A", "2D", "o", hold_seconds=1801).error == "invalid_request"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_partner_add_list_revoke_on_the_command_line(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", central.url_db]
    assert admin_main([*db, "partner", "add", "--name", "Maoyan", "--cinema", "CIN-A"]) == 0
    out = capsys.readouterr().out
    pid = re.search(r"id:\s+(pt_[0-9a-f]{12})", out)
    secret = re.search(r"secret:\s+(\S+)", out)
    assert pid and secret and "只显示这一次" in out
    assert admin_main([*db, "partner", "add", "--name", "X", "--cinema", "NOPE"]) == 2
    capsys.readouterr()
    assert admin_main([*db, "partner", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {
            "id": pid.group(1),
            "name": "Maoyan",
            "cinemas": ["CIN-A"],
            "status": "active",
            "created_at": rows[0]["created_at"],
            "revoked_at": None,
        }
    ]
    assert secret.group(1) not in json.dumps(rows)
    assert admin_main([*db, "partner", "revoke", pid.group(1)]) == 0
    assert admin_main([*db, "partner", "revoke", pid.group(1)]) == 2
    assert admin_main([*db, "partner", "revoke", "pt_nope"]) == 2
    capsys.readouterr()
    assert admin_main([*db, "partner", "list"]) == 0
    assert "revoked" in capsys.readouterr().out


def test_bad_text_and_odd_ids_are_refused_not_crashed(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    p = add_partner(central, capsys)
    code = short(central.issue(1)[0])
    for cinema in ("CIN\ud800", "CIN\u0000A"):
        e = refused(p.check, code, cinema, "2D")
        assert (e.status, e.error) == (422, "bad_text")
    assert refused(p.hold, code, "CIN-A", "2D", "o\ud800", key="k").error == "bad_text"
    assert refused(p.confirm, "hd_%ED%A0%80").error == "unknown_hold"
    assert refused(p.release, "nope").error == "unknown_hold"
    assert refused(p.cancel, "x" * 300, "r").error == "unknown_record"
    e = refused(p.hold, code, "CIN-A", "2D", "o", key="bad key with spaces")
    assert e.error == "bad_idempotency_key"


def test_the_cinepass_partner_command(
    central: Central,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sync.partner_cli import main as partner_main

    p = add_partner(central, capsys)
    code = short(central.issue(1)[0])
    creds = tmp_path / "partner.json"
    creds.write_text(json.dumps({"id": p.partner_id, "secret": p.secret}))
    base = ["--server", central.url, "--credentials", str(creds)]

    def run(*argv: str) -> tuple[int, dict[str, Any]]:
        capsys.readouterr()
        rc = partner_main([*base, *argv])
        return rc, json.loads(capsys.readouterr().out)

    assert run("check", code, "--cinema", "CIN-A")[1]["usable"] is True
    rc, h = run("hold", code, "--cinema", "CIN-A", "--order-ref", "cli-1", "--seconds", "60")
    assert rc == 0 and h["status"] == "held"
    assert run("release", h["hold_id"]) == (0, {"status": "released", "hold_id": h["hold_id"]})
    rc, h = run("hold", code, "--cinema", "CIN-A", "--order-ref", "cli-2", "--key", "cli-2")
    rc, c = run("confirm", h["hold_id"])
    assert rc == 0 and c["status"] == "confirmed"
    assert run("check", code, "--cinema", "CIN-A") == (
        1,
        {"error": "already_redeemed", "message": "此券已使用 / voucher already used"},
    )
    # the id and secret from the environment instead of a file
    monkeypatch.setenv("CINEPASS_PARTNER_ID", p.partner_id)
    monkeypatch.setenv("CINEPASS_PARTNER_SECRET", p.secret)
    monkeypatch.setenv("CINEPASS_SERVER", central.url)
    capsys.readouterr()
    assert partner_main(["cancel", c["record_id"], "--reason", "refund"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "cancelled"
    monkeypatch.delenv("CINEPASS_PARTNER_SECRET")
    with pytest.raises(SystemExit) as info:
        partner_main(["check", code, "--cinema", "CIN-A"])
    assert info.value.code == 2 and "CINEPASS_PARTNER_SECRET" in capsys.readouterr().err


def test_old_signatures_and_answers_are_forgotten_by_the_next_write(
    central: Central, capsys: pytest.CaptureFixture[str]
) -> None:
    from sync.server.models import OnlineRequest, OnlineSignature

    p = add_partner(central, capsys)
    code = short(central.issue(1)[0])
    long_ago = now_ms() - 2 * 86_400_000
    with central.session() as s:
        s.add(OnlineSignature(signature="0" * 64, partner=p.partner_id, at=long_ago))
        s.add(
            OnlineRequest(
                partner=p.partner_id,
                key="old",
                fingerprint="f" * 64,
                status_code=200,
                response={},
                at=long_ago,
            )
        )
    p.check(code, "CIN-A", "2D")  # a read prunes nothing
    with central.session() as s:
        assert s.get(OnlineSignature, "0" * 64) is not None
    p.hold(code, "CIN-A", "2D", "o-1")
    with central.session() as s:
        assert s.get(OnlineSignature, "0" * 64) is None
        assert s.get(OnlineRequest, (p.partner_id, "old")) is None
        assert len(s.scalars(select(OnlineSignature)).all()) == 2  # the check's and the hold's
