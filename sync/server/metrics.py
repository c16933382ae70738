"""``GET /metrics``: the server's figures for Prometheus (docs/server.md lists every name).

Two kinds of figures, kept apart on purpose:

* **What a process saw** (requests, their latency, records ingested): counters
  and histograms of ``prometheus_client``, labelled by the *route template*
  (``/api/v1/feeds/{feed}``), never the raw path, so a scan of made-up paths
  cannot grow the label set. With ``--workers N`` every process writes its
  own values to files in a private directory (``PROMETHEUS_MULTIPROC_DIR``,
  made 0700 and empty by :func:`prepare_multiprocess` before the workers
  start) and a scrape, whichever process answers it, sums them all.
* **What the database holds** (records per status, feed heads, open alerts,
  active holds): read from the database at scrape time by
  :class:`StateCollector`, so they are the same whichever process answers and
  no process has to agree with another about them.

Off loopback the figures are counts only, never a voucher or a name; still a
deployment can ask for a bearer token (``--metrics-token-file``).
"""

from __future__ import annotations

import hmac
import os
import shutil
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from sync.errors import EXIT_USAGE, CinePassError
from sync.office.alerts_models import Alert

from .models import FeedEvent, FeedHead, OnlineHold, Redemption, now_ms

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_PATH = "/metrics"

#: this process's own metrics (in multiprocess mode their values live in files)
REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "cinepass_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "cinepass_http_request_duration_seconds",
    "time to answer an HTTP request, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
INGESTED = Counter(
    "cinepass_ingest_records",
    "records uploaded by counters, by the answer each got",
    ["status"],
    registry=REGISTRY,
)


class MetricsTokenError(CinePassError):
    """``--metrics-token-file`` cannot be read or is too short (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__("bad_metrics_token", message, exit_code=EXIT_USAGE)


def read_token(path: str | None) -> str | None:
    """The bearer token of ``--metrics-token-file`` (None without the flag)."""
    if path is None:
        return None
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise MetricsTokenError(
            f"无法读取指标令牌文件 / cannot read --metrics-token-file {path}: {exc}"
        ) from None
    if len(token) < 16:
        raise MetricsTokenError(f"指标令牌太短 / the token in {path} is under 16 characters")
    return token


def prepare_multiprocess(folder: Path) -> Path:
    """Make ``folder`` the empty, private (0700) home of every worker's metric files.

    Emptied at start: files of an earlier run would add its counts to this
    one's. Refuses (exit 2) a folder that is a link or belongs to someone else.
    """
    if folder.is_symlink():
        raise MetricsTokenError(f"指标目录是链接 / the metrics folder {folder} is a link")
    if folder.exists():
        info = folder.stat()
        if info.st_uid != os.getuid():
            raise MetricsTokenError(
                f"指标目录属于其他用户 / the metrics folder {folder} belongs to another user"
            )
        shutil.rmtree(folder)
    folder.mkdir(mode=0o700, parents=True)
    os.chmod(folder, stat.S_IRWXU)
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder


def ingested(results: Iterable[dict[str, Any]]) -> None:
    """Count the answers of one upload (the records router calls it)."""
    counts: dict[str, int] = {}
    for r in results:
        s = str(r.get("status", ""))
        counts[s] = counts.get(s, 0) + 1
    for s, n in counts.items():
        INGESTED.labels(status=s).inc(n)


class StateCollector(Collector):
    """Gauges read from the database at scrape time (the same from every process)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("cinepass_database_up", "1 if the database answered this scrape")
        try:
            with self.sessions() as s:
                families = list(_state(s))
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families


def _state(s: Session) -> Iterator[Metric]:
    records = GaugeMetricFamily(
        "cinepass_records", "stored redemption records by status", labels=["status"]
    )
    for status, n in s.execute(
        select(Redemption.status, func.count()).group_by(Redemption.status)
    ).all():
        records.add_metric([str(status)], int(n))
    yield records
    heads = GaugeMetricFamily(
        "cinepass_feed_head",
        "the newest event of each feed (all: the global head)",
        labels=["feed"],
    )
    heads.add_metric(["all"], int(s.scalar(select(FeedHead.seq).where(FeedHead.id == 1)) or 0))
    for feed, seq in s.execute(
        select(FeedEvent.feed, func.max(FeedEvent.seq)).group_by(FeedEvent.feed)
    ).all():
        heads.add_metric([str(feed)], int(seq or 0))
    yield heads
    yield _one(
        "cinepass_alerts_open",
        "alerts not yet closed",
        s.scalar(select(func.count()).select_from(Alert).where(Alert.status == "open")),
    )
    yield _one(
        "cinepass_holds_active",
        "online partner holds in force",
        s.scalar(
            select(func.count())
            .select_from(OnlineHold)
            .where(OnlineHold.active.is_not(None), OnlineHold.expires_at > now_ms())
        ),
    )


def _one(name: str, doc: str, value: Any) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc)
    g.add_metric([], int(value or 0))
    return g


def exposition(sessions: sessionmaker[Session]) -> bytes:
    """The text Prometheus scrapes: this process's (or all workers') figures, the database's."""
    registry = CollectorRegistry()
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(StateCollector(sessions))
    return generate_latest(registry)


class _Forward(Collector):
    """This process's registry inside the scrape's registry (single-process mode)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()


def install(app: FastAPI, token: str | None) -> None:
    """Serve ``GET /metrics`` on ``app`` (bearer ``token`` required if one is set)."""

    @app.get(METRICS_PATH, include_in_schema=False)
    def metrics(request: Request) -> Response:
        if token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return Response(
                    "指标需要令牌 / /metrics needs the bearer token of --metrics-token-file\n",
                    status_code=401,
                    media_type="text/plain; charset=utf-8",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        body = exposition(request.app.state.sessions)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


Scope = dict[str, Any]


def route_template(scope: Any) -> str:
    """The template of the route that answered (``unmatched`` when none did)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return "unmatched"
    return str(scope.get("root_path", "")) + path


class RequestMetrics:
    """ASGI middleware: count and time every HTTP request by its route template."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status: list[int] = [500]

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            observe(scope["method"], route_template(scope), status[0], start)


def observe(method: str, route: str, status: int, start: float) -> None:
    REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    LATENCY.labels(method=method, route=route).observe(time.perf_counter() - start)


__all__: Sequence[str] = (
    "INGESTED",
    "METRICS_PATH",
    "MULTIPROC_ENV",
    "RequestMetrics",
    "exposition",
    "ingested",
    "install",
    "prepare_multiprocess",
    "read_token",
)
