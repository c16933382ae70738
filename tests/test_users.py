"""Console accounts: office functions, ``cinepass-admin user ...``, the schema migration."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import inspect, select, text
from syncsupport import Central

from sync.admin import main as admin_main
from sync.office import users
from sync.office.errors import OfficeError
from sync.server.db import make_engine, migrate, session_scope
from sync.server.models import AuditEntry

pytestmark = pytest.mark.timeout(120)
PW = "correct horse 1"


def add(central: Central, name: str, role: str = "operator", cinema: str | None = None) -> None:
    with central.session() as s:
        users.add_user(s, name, role, PW, cinema=cinema, actor="test")


def test_add_rules_and_argon2_hash(central_db: Central) -> None:
    add(central_db, "li")
    with central_db.session() as s:
        u = users.get_user(s, "li")
        assert u.password_hash.startswith("$argon2id$") and PW not in u.password_hash
        for name, role, pw, cinema, reason in [
            ("li", "operator", PW, None, "user_exists"),
            ("x y", "operator", PW, None, "bad_name"),
            ("wang", "boss", PW, None, "bad_role"),
            ("wang", "operator", "short", None, "weak_password"),
            ("wang", "cinema", PW, None, "no_cinema"),
            ("wang", "cinema", PW, "NOPE", "unknown_cinema"),
            ("wang", "auditor", PW, "CIN-A", "bad_cinema"),
        ]:
            with pytest.raises(OfficeError) as err:
                users.add_user(s, name, role, pw, cinema=cinema, actor="test")
            assert err.value.reason == reason
    with central_db.session() as s:
        actions = [a.action for a in s.scalars(select(AuditEntry))]
    assert actions == ["user.add"]


def test_five_wrong_passwords_lock_for_15_minutes(central_db: Central) -> None:
    add(central_db, "li")
    t0 = 1_800_000_000_000
    for i in range(4):
        with central_db.session() as s:
            assert users.check_login(s, "li", "wrong", now=t0 + i).reason == "bad_login"
    with central_db.session() as s:
        res = users.check_login(s, "li", "wrong", now=t0 + 5)
        assert res.reason == "locked" and res.locked_until == t0 + 5 + users.LOCK_S * 1000
    with central_db.session() as s:  # the right password does not open a locked account
        assert users.check_login(s, "li", PW, now=t0 + 60_000).reason == "locked"
    with central_db.session() as s:
        assert users.check_login(s, "li", PW, now=t0 + 5 + users.LOCK_S * 1000).user is not None
    with central_db.session() as s:
        assert users.check_login(s, "nobody", PW).reason == "bad_login"
        assert [a.action for a in s.scalars(select(AuditEntry))] == ["user.add", "user.locked"]


def test_totp_disable_and_sessions(central_db: Central) -> None:
    add(central_db, "admin1", "admin")
    with central_db.session() as s:
        secret = users.set_totp(s, "admin1", True, actor="test")
    assert secret
    with central_db.session() as s:
        assert users.check_login(s, "admin1", PW).reason == "totp_required"
        assert users.check_login(s, "admin1", PW, "000000").reason in ("bad_totp",)
        ok = users.check_login(s, "admin1", PW, pyotp.TOTP(secret).now())
        assert ok.user is not None
        token, csrf = users.open_session(s, ok.user, "127.0.0.1")
    with central_db.session() as s:
        found = users.resume_session(s, token)
        assert found is not None and found[1].csrf == csrf
        assert users.resume_session(s, token + "x") is None
    with central_db.session() as s:  # idle for more than 30 minutes: gone
        row = users.resume_session(s, token)
        assert row is not None
        late = row[1].last_seen + users.IDLE_S * 1000 + 1
        assert users.resume_session(s, token, now=late) is None
    with central_db.session() as s:
        assert users.resume_session(s, token) is None
        token, _ = users.open_session(s, users.get_user(s, "admin1"))
    with central_db.session() as s:
        users.disable_user(s, "admin1", actor="test")
    with central_db.session() as s:
        assert users.resume_session(s, token) is None
        assert users.check_login(s, "admin1", PW, pyotp.TOTP(secret).now()).reason == "disabled"


UserCli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def user_cli(
    central_db: Central, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> UserCli:
    """``user_cli("add", "zhang", ..., stdin=...)``: ``cinepass-admin user ...`` on the
    test database, returning (exit code, stdout, stderr)."""

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        rc = admin_main(["--db", central_db.url_db, "user", *args])
        out = capsys.readouterr()
        return rc, out.out, out.err

    return run


def test_cli_user_commands(central_db: Central, user_cli: UserCli) -> None:
    rc, out, _ = user_cli("add", "zhang", "--role", "admin", "--password-stdin", stdin=PW + "\n")
    assert rc == 0 and "zhang" in out
    rc, _, err = user_cli(
        "add", "cin", "--role", "cinema", "--cinema", "CIN-A", "--password-stdin", stdin=PW + "\n"
    )
    assert rc == 0
    rc, _, err = user_cli("add", "zhang", "--role", "admin", "--password-stdin", stdin=PW + "\n")
    assert rc == 2 and "already exists" in err and len(err.strip().splitlines()) == 1
    rc, _, err = user_cli("add", "q", "--role", "operator", "--password-stdin", stdin="")
    assert rc == 2 and "empty" in err
    rc, out, _ = user_cli("list", "--json")
    rows = json.loads(out)
    assert rc == 0 and [(r["name"], r["role"], r["cinema"]) for r in rows] == [
        ("cin", "cinema", "CIN-A"),
        ("zhang", "admin", None),
    ]
    assert "password_hash" not in rows[0]
    new = "another pass 2"
    rc, _, _ = user_cli("passwd", "zhang", "--password-stdin", stdin=new + "\n")
    assert rc == 0
    with central_db.session() as s:
        assert users.check_login(s, "zhang", new).user is not None
    rc, out, _ = user_cli("totp", "zhang")
    assert rc == 0 and "otpauth://totp/" in out
    rc, _, _ = user_cli("disable", "zhang")
    assert rc == 0
    rc, _, err = user_cli("disable", "zhang")
    assert rc == 2 and "already disabled" in err
    rc, _, err = user_cli("passwd", "ghost", "--password-stdin", stdin=new + "\n")
    assert rc == 2 and "ghost" in err
    with central_db.session() as s:
        log = [
            (a.actor.startswith("cli:"), a.action, a.subject) for a in s.scalars(select(AuditEntry))
        ]
    assert log == [
        (True, "user.add", "zhang"),
        (True, "user.add", "cin"),
        (True, "user.passwd", "zhang"),
        (True, "user.totp", "zhang"),
        (True, "user.disable", "zhang"),
    ]


def test_upgrade_from_0001_keeps_data_and_downgrades(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from sync.server.db import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    command.upgrade(cfg, "0001")
    with engine.begin() as c:
        c.execute(text("INSERT INTO cinema (code, name, created_at) VALUES ('OLD', 'Old', 1)"))
    assert "console_user" not in inspect(engine).get_table_names()
    migrate(engine)
    names = set(inspect(engine).get_table_names())
    assert {"console_user", "console_session", "audit_log", "cinema"} <= names
    with session_scope(engine) as s:
        users.add_user(s, "old-cinema", "cinema", PW, cinema="OLD", actor="test")
    with session_scope(engine) as s:
        assert users.check_login(s, "old-cinema", PW).user is not None
    command.downgrade(cfg, "0001")
    names = set(inspect(engine).get_table_names())
    assert "console_user" not in names and "cinema" in names
    with engine.connect() as c:
        assert c.execute(text("SELECT name FROM cinema")).scalar() == "Old"
    engine.dispose()


def test_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    """Alembic finds nothing to add or change between head and the models (users, audit)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from sync.server.models import Base

    engine = migrate(f"sqlite:///{tmp_path / 'head.sqlite3'}")
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), Base.metadata)
    ours = [
        d for d in diff if any(n in repr(d) for n in ("console_", "audit_log", "ix_redemption_"))
    ]
    assert ours == []
    engine.dispose()


def test_admins_can_be_required_to_use_totp(central_db: Central) -> None:
    add(central_db, "boss", "admin")
    add(central_db, "op", "operator")
    with central_db.session() as s:
        assert users.check_login(s, "boss", PW, admin_totp=True).reason == "totp_setup_required"
        assert users.check_login(s, "op", PW, admin_totp=True).user is not None
        assert users.check_login(s, "boss", PW).user is not None  # not required: fine
        secret = users.set_totp(s, "boss", True, actor="test")
    with central_db.session() as s:
        code = pyotp.TOTP(secret).now()
        assert users.check_login(s, "boss", PW, code, admin_totp=True).user is not None
