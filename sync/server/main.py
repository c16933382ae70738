"""``cinepass-server --db URL [--host 127.0.0.1] [--port 8700]``: run the central server.

Migrates the database to the newest schema first (safe with several
processes starting at once), then serves the API with uvicorn. Exit codes
follow the admin tool: 2 bad arguments, 3 database or port unavailable, or a
SQLite file others can read (it holds every voucher's QR text, a bearer
credential: ``chmod 600`` it, or start with ``--allow-world-readable-db``).

``--trusted-proxy CIDR`` (repeatable) names the reverse proxies (nginx)
whose ``X-Forwarded-For`` is believed for enrolment rate limits; without it
the header is ignored (docs/server.md).

``--workers N`` runs N processes on one PostgreSQL (:mod:`sync.server.workers`);
each builds its app from the same flags through :func:`configure` and
:func:`build_app`, so a new flag is wired in those two places only.
``--upgrade-only`` migrates and exits (deployments run it before a restart).
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from sync.errors import CinePassError

from . import alerts_mail, alerts_worker, metrics, workers
from .db import (
    check_db_url,
    default_db_url,
    head_revision,
    make_engine,
    migrate,
    warm_pool,
    world_readable,
)


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
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes on one PostgreSQL (default 1; SQLite: 1 only)",
    )
    p.add_argument("--metrics-token-file", default=None, help="/metrics asks for this bearer token")
    p.add_argument(
        "--upgrade-only", action="store_true", help="migrate the database to this version, exit"
    )
    alerts_mail.add_flags(p)  # --alert-smtp HOST:PORT --alert-mail-from/-to ... (issue 13)
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


def configure(args: argparse.Namespace) -> None:
    """Settings every process of the server takes from the flags (raises CinePassError).

    Runs in ``cinepass-server`` itself and again in each ``--workers`` process,
    before :func:`build_app`: a flag that configures a module belongs here.
    """
    alerts_worker.configure_from(
        args.alert_rules,
        args.alert_webhook,
        args.alert_webhook_secret_file,
        alerts_mail.from_args(args),
        args.alert_digest_hour,
    )


def build_app(args: argparse.Namespace, engine: Engine) -> Any:
    """The ASGI app the flags describe (the same in the single process and every worker)."""
    from .app import create_app

    app = create_app(
        engine,
        trusted_proxies=_proxies(args.trusted_proxy) or [],
        console=not args.no_console,
        member_page=not args.no_member_page,
        metrics_token=metrics.read_token(args.metrics_token_file),
    )
    warm_pool(engine)
    freeze_heap()
    return app


def freeze_heap() -> None:
    """Leave what start-up built out of the garbage collector's full passes.

    Imports, the app, its routes and schemas and the ORM's mappings are some
    160,000 objects that live as long as the process. Python's full
    collection walks them all, holding the GIL: 50 to 130 ms, a few times a
    minute under load, every request of the process waiting meanwhile (on 4
    processes sharing 2 cores, up to 257 ms; bench/online.py). Frozen, they
    are never walked again; what requests allocate is collected as before.
    """
    gc.collect()
    gc.freeze()


def worker_app() -> Any:
    """The app of one ``--workers`` process (uvicorn's factory; the parent migrated)."""
    args = build_parser().parse_args(workers.worker_argv())
    _log_setup(args.log_level)
    configure(args)
    return build_app(args, make_engine(args.db or default_db_url()))


def _log_setup(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _refuse(exc: CinePassError) -> int:
    print(f"cinepass-server: {exc.message}", file=sys.stderr)
    return exc.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    _log_setup(args.log_level)
    url = args.db or default_db_url()
    try:
        check_db_url(url)  # the one check cinepass-admin makes too (exit 2, one line)
        workers.check_workers(url, args.workers)
    except CinePassError as exc:
        return _refuse(exc)
    proxies = _proxies(args.trusted_proxy)
    if proxies is None:
        return 2
    if not _check_file(url, args.allow_world_readable_db):
        return 3
    try:
        configure(args)
        metrics.read_token(args.metrics_token_file)  # refused now, not in every worker
    except CinePassError as exc:
        return _refuse(exc)
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
    if args.upgrade_only:
        print(f"cinepass-server: 数据库已是最新 / the database is at {head_revision()}")
        return 0
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "ssl_certfile": args.ssl_certfile,
        "ssl_keyfile": args.ssl_keyfile,
        "timeout_graceful_shutdown": 5,
        "proxy_headers": False,  # forwarded headers: only --trusted-proxy counts (the app)
    }
    if args.workers > 1:
        engine.dispose()  # each worker opens its own pool
        rc = workers.serve(argv, args.workers, options)
        if rc == 3:
            print(f"cinepass-server: cannot listen on {args.host}:{args.port}", file=sys.stderr)
        return rc
    import uvicorn

    try:
        uvicorn.run(build_app(args, engine), **options)
    except OSError as exc:
        print(f"cinepass-server: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
