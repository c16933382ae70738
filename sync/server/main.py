"""``cinepass-server --db URL [--host 127.0.0.1] [--port 8700]``: run the central server.

Migrates the database to the newest schema first (safe with several
processes starting at once), then serves the API with uvicorn. Exit codes
follow the admin tool: 2 bad arguments, 3 database or port unavailable.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from sync.errors import CinePassError

from . import alerts_worker
from .db import DatabaseUrlError, check_db_url, default_db_url, migrate


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cinepass-server", description="CinePass central server")
    p.add_argument("--db", default=None, help="database URL (default: a SQLite file)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8700)
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.add_argument("--ssl-certfile", default=None, help="serve HTTPS with this certificate")
    p.add_argument("--ssl-keyfile", default=None)
    p.add_argument(
        "--alert-rules", default=None, help="alert thresholds (TOML, docs/monitoring.md)"
    )
    p.add_argument("--alert-webhook", default=None, help="POST new alerts here (signed JSON)")
    p.add_argument("--alert-webhook-secret-file", default=None, help="the webhook's HMAC secret")
    return p


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
            create_app(engine),
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            ssl_certfile=args.ssl_certfile,
            ssl_keyfile=args.ssl_keyfile,
            timeout_graceful_shutdown=5,
        )
    except OSError as exc:
        print(f"cinepass-server: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
