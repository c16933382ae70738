"""``cinepass-server --workers N``: N server processes behind one port, on one PostgreSQL.

Uvicorn's own supervisor does the process work: the parent binds the port
once, starts N workers (spawned: each imports the app factory afresh), starts
a new one when one dies, and on SIGTERM/SIGINT stops them all and waits for
their requests to finish. The workers receive ``cinepass-server``'s own
arguments through :data:`ARGV_ENV` and build the same app the single process
does (:func:`sync.server.main.worker_app`), so a flag added to the CLI reaches
them without a second list of options.

Why several processes are safe: the app keeps no state of its own (docs/deploy.md).
Every decision that must happen once is the database's: the feed head row lock
orders writers and keeps the cursor dense, unique constraints keep one valid
use per voucher and one active hold, and what runs in the background is
either per request (hold expiry, under the head lock) or claimed through a
lease row (the alerts schedule) or a conditional UPDATE (each webhook notice).

SQLite stays one process: its writers take turns on one file lock, more
processes would only queue behind it (and a file on one machine has no use for
a load balancer); ``--workers 2`` with SQLite is refused (exit 2).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from sync.errors import EXIT_USAGE, CinePassError

from .metrics import prepare_multiprocess

#: the environment variable that carries ``cinepass-server``'s argv to its workers
ARGV_ENV = "CINEPASS_SERVER_ARGV"
#: the factory uvicorn imports in each worker
FACTORY = "sync.server.main:worker_app"
MAX_WORKERS = 64


class WorkersError(CinePassError):
    """``--workers`` cannot be used as given (exit 2)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason, message, exit_code=EXIT_USAGE)


def check_workers(url: str, workers: int) -> None:
    """Refuse a count outside 1..64, and more than one process on SQLite."""
    if not 1 <= workers <= MAX_WORKERS:
        raise WorkersError(
            "bad_workers",
            f"--workers 须为 1 到 {MAX_WORKERS} / --workers must be 1 to {MAX_WORKERS}, "
            f"not {workers}",
        )
    if workers > 1 and make_url(url).get_backend_name() == "sqlite":
        raise WorkersError(
            "workers_need_postgres",
            f"SQLite 只能单进程运行 / --workers {workers} needs PostgreSQL: a SQLite database "
            "is served by one process (its writers take turns on one file); drop --workers, "
            "or use --db postgresql+psycopg://USER@HOST/DB",
        )


def worker_argv() -> list[str]:
    """The arguments the parent passed on (in a worker process)."""
    raw = os.environ.get(ARGV_ENV)
    if raw is None:
        raise RuntimeError(f"{FACTORY} runs inside cinepass-server --workers only")
    argv = json.loads(raw)
    return [str(a) for a in argv]


def serve(argv: Sequence[str], workers: int, options: dict[str, Any]) -> int:
    """Run ``workers`` processes with uvicorn's supervisor; returns when all have stopped.

    The metric files live in a fresh private folder for this run (removed
    after): counts of a process that died stay in the sums, as counters must.
    Returns 3 if the port could not be bound (uvicorn exits 1 then).
    """
    import shutil

    import uvicorn

    folder = Path(tempfile.mkdtemp(prefix="cinepass-metrics-"))
    prepare_multiprocess(folder)
    os.environ[ARGV_ENV] = json.dumps(list(argv))
    try:
        uvicorn.run(FACTORY, factory=True, workers=workers, **options)
    except SystemExit as exc:  # uvicorn's answer to a port it cannot bind
        return 3 if exc.code else 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0
