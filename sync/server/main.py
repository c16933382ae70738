"""``cinepass-server --db URL [--host 127.0.0.1] [--port 8700]``: run the central server.

Migrates the database to the newest schema first (safe with several
processes starting at once), then serves the API with uvicorn. Exit codes
follow the admin tool: 2 bad arguments, 3 database or port unavailable, or a
SQLite file others can read (it holds every voucher's QR text, a bearer
credential: ``chmod 600`` it, or start with ``--allow-world-readable-db``).

``--trusted-proxy CIDR`` (repeatable) names the reverse proxies (nginx)
whose ``X-Forwarded-For`` is believed for enrolment rate limits; without it
the header is ignored (docs/server.md).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from sync.errors import CinePassError

from . import alerts_worker
from .db import DatabaseUrlError, check_db_url, default_db_url, migrate, world_readable


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cinepass-server", description="CinePass central server")
    p.add_argument("--db", default=None, help="database URL (default: a SQLite file)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8700)
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.add_argument("--ssl-certfile", default=None, help="serve HTTPS with this certificate")
    p.add_argument("--ssl-keyfile", default=None)
    p.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="CIDR",
        help="a reverse proxy whose X-Forwarded-For is believed (repeatable; default: none)",
    )
    p.add_argument(
        "--allow-world-readable-db",
        action="store_true",
        help="serve even if others can read the SQLite file (not recommended)",
    )
    p.add_argument("--no-console", action="store_true", help="do not serve the web console")
    p.add_argument("--no-member-page", action="store_true", help="do not serve /m/ (members)")
    p.add_argument(
        "--alert-rules", default=None, help="alert thresholds (TOML, docs/monitoring.md)"
    )
    p.add_argument("--alert-webhook", default=None, help="POST new alerts here (signed JSON)")
    p.add_argument("--alert-webhook-secret-file", default=None, help="the webhook's HMAC secret")
    return p


def _proxies(values: Sequence[str]) -> list[str] | None:
    """The --trusted-proxy values as CIDRs, or None (with a message) if one is not."""
    out = []
    for v in values:
        try:
            out.append(str(ipaddress.ip_network(v.strip(), strict=False)))
        except ValueError:
            print(
                f"cinepass-server: --trusted-proxy 不是地址或网段 / {v!r} is not an address or CIDR",
                file=sys.stderr,
            )
            return None
    return out


def _check_file(url: str, allow: bool) -> bool:
    """Warn about a world-readable SQLite file; refuse it unless allowed."""
    open_files = world_readable(url)
    if not open_files:
        return True
    names = ", ".join(str(p) for p in open_files)
    print(
        f"cinepass-server: 数据库文件其他用户可读 / the database file can be read by every user "
        f"of this machine ({names}); it holds every voucher's QR text: chmod 600 it"
        + ("" if allow else ", or start with --allow-world-readable-db"),
        file=sys.stderr,
    )
    return allow


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    url = args.db or default_db_url()
    try:
        check_db_url(url)  # the one check cinepass-admin makes too (exit 2, one line)
    except DatabaseUrlError as exc:
        print(f"cinepass-server: {exc.message}", file=sys.stderr)
        return exc.exit_code
    proxies = _proxies(args.trusted_proxy)
    if proxies is None:
        return 2
    if not _check_file(url, args.allow_world_readable_db):
        return 3
    try:
        alerts_worker.configure_from(
            args.alert_rules, args.alert_webhook, args.alert_webhook_secret_file
        )
    except CinePassError as exc:
        print(f"cinepass-server: {exc.message}", file=sys.stderr)
        return exc.exit_code
    try:
        engine = migrate(url)
    except (SQLAlchemyError, OSError) as exc:
        print(
            f"cinepass-server: cannot open the database: {exc.__class__.__name__}: {exc}".splitlines()[
                0
            ],
            file=sys.stderr,
        )
        return 3
    import uvicorn

    from .app import create_app

    try:
        uvicorn.run(
            create_app(
                engine,
                trusted_proxies=proxies,
                console=not args.no_console,
                member_page=not args.no_member_page,
            ),
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            ssl_certfile=args.ssl_certfile,
            ssl_keyfile=args.ssl_keyfile,
            timeout_graceful_shutdown=5,
            proxy_headers=False,  # forwarded headers: only --trusted-proxy counts (the app)
        )
    except OSError as exc:
        print(f"cinepass-server: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
