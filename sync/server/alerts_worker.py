"""Alert evaluation inside the server process: after each upload, and on a schedule.

How it runs
-----------
* **After an upload.** The records and refusals routers call
  :func:`after_upload` with what they stored; it waits for the request's
  commit (a session ``after_commit`` listener: nothing is evaluated that could
  still roll back) and hands the ids to this process's :class:`AlertsWorker`.
  Its thread evaluates everything queued in one transaction
  (:func:`sync.office.alert_rules.evaluate`, then
  :func:`sync.office.alerts.raise_all`), typically within milliseconds; the
  upload's answer never waits for it.
* **On a schedule.** Every ``sweep_s`` seconds one process (the holder of the
  ``sweep`` lease, a row in ``alert_lease``) runs the time-based rules
  (``silent_counter``) and a catch-up sweep: records and refusals received
  since its last position that this process did not evaluate itself (an
  upload handled by a process that died before evaluating it, or by another
  process) are evaluated too. Evaluation is idempotent (evidence is a set).
* **Several server processes.** Each evaluates its own uploads; the alert
  row is the unit of exclusion: one open alert per rule and subject is a
  unique index (``alert.open_key``), the open row is read ``FOR UPDATE``, and
  a losing insert merges into the winner's row (see
  :func:`sync.office.alerts.raise_alert`). Leases and webhook notices are
  claimed with conditional UPDATEs, so one process runs the schedule and one
  posts each notice.

``cinepass-server`` sets the rules and the webhook with :func:`configure`
before it builds the app; :func:`sync.server.app.create_app` calls
:func:`install`. The thread ends when its app is garbage-collected.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sync.office import alert_rules
from sync.office.alerts import Finding, raise_all
from sync.office.alerts_batch import Batch
from sync.office.alerts_config import RuleSettings, load_rules
from sync.office.alerts_models import Alert, AlertLease

from . import alerts_webhook
from .db import make_sessionmaker, session_scope
from .models import Redemption, Refusal, now_ms

log = logging.getLogger("cinepass.alerts")
_CHUNK = 500
_SWEEP_LIMIT = 5000
RefusalKey = tuple[str, str]  # (device, refusal id)


@dataclass(frozen=True)
class AlertSettings:
    """What ``cinepass-server`` was told: the rules, the webhook, how often to sweep."""

    rules: RuleSettings = field(default_factory=RuleSettings)
    webhook: alerts_webhook.Webhook | None = None
    sweep_s: float = 30.0
    #: after the first upload, wait this long for more before evaluating: under load one
    #: evaluation covers many uploads (its queries are per batch), well inside the 5 s
    gather_s: float = 0.25


_CONFIG: list[AlertSettings] = [AlertSettings()]
_WORKERS: weakref.WeakKeyDictionary[Engine, AlertsWorker] = weakref.WeakKeyDictionary()


def configure(settings: AlertSettings) -> None:
    """The settings every app built after this call evaluates with."""
    _CONFIG[0] = settings


def configure_from(rules_file: str | None, url: str | None, secret_file: str | None) -> None:
    """``cinepass-server --alert-rules --alert-webhook --alert-webhook-secret-file`` (exit 2)."""
    hook = alerts_webhook.Webhook.of(url, secret_file) if url else None
    configure(AlertSettings(rules=load_rules(rules_file), webhook=hook))


def install(owner: object, engine: Engine) -> AlertsWorker:
    """Start this process's worker for ``engine``; it lives as long as ``owner`` (the app)."""
    worker = AlertsWorker(engine, _CONFIG[0], owner=owner)
    _WORKERS[engine] = worker
    worker.start()
    return worker


def worker_for(engine: Engine) -> AlertsWorker | None:
    return _WORKERS.get(engine)


def after_upload(
    session: Session, *, records: Iterable[str] = (), refusals: Iterable[RefusalKey] = ()
) -> None:
    """Evaluate these rows once ``session`` commits (the one-line hook of the routers)."""
    bind = session.get_bind()
    worker = _WORKERS.get(bind) if isinstance(bind, Engine) else None
    if worker is None:
        return
    recs, refs = list(records), list(refusals)

    def committed(_s: Session) -> None:
        worker.submit(recs, refs)

    event.listen(session, "after_commit", committed, once=True)


class AlertsWorker:
    """One thread evaluating uploads and the schedule; one posting webhook notices."""

    def __init__(
        self, engine: Engine, settings: AlertSettings, owner: object | None = None
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.sessions: sessionmaker[Session] = make_sessionmaker(engine)
        self.reader = read_engine(engine)
        self.me = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:64]
        self._owner = weakref.ref(owner) if owner is not None else None
        self._queue: queue.Queue[tuple[list[str], list[RefusalKey]]] = queue.Queue()
        self._done: deque[str] = deque(maxlen=200_000)
        self._done_set: set[str] = set()
        self._send = threading.Event()
        self._stop = threading.Event()
        self.evaluations = 0
        self._pending = 0
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, name="cinepass-alerts", daemon=True),
            threading.Thread(target=self._run_sender, name="cinepass-alert-webhook", daemon=True),
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        self._send.set()
        self._queue.put(([], []))
        for t in self._threads:
            t.join(5)

    def submit(self, records: Sequence[str], refusals: Sequence[RefusalKey]) -> None:
        with self._lock:
            self._pending += 1
        self._queue.put((list(records), list(refusals)))

    def idle(self) -> bool:
        """Nothing submitted is still waiting to be evaluated (tests wait for it)."""
        with self._lock:
            return self._pending == 0

    def _alive(self) -> bool:
        return not self._stop.is_set() and (self._owner is None or self._owner() is not None)

    def _run(self) -> None:
        next_tick = 0.0
        while self._alive():
            wait = max(0.0, next_tick - now_ms() / 1000)
            taken = 0
            recs: list[str] = []
            refs: list[RefusalKey] = []
            try:
                first = self._queue.get(timeout=min(wait, 5.0))
            except queue.Empty:
                first = None
            until = time.monotonic() + self.settings.gather_s
            while first is not None:  # coalesce what queues meanwhile into one evaluation
                taken += 1
                recs += first[0]
                refs += first[1]
                try:
                    first = self._queue.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    first = None
            try:
                if recs or refs:
                    self.evaluate(recs, refs)
                if now_ms() / 1000 >= next_tick:
                    next_tick = now_ms() / 1000 + self.settings.sweep_s
                    self.tick()
            except Exception:  # noqa: BLE001 (the thread must outlive a bad evaluation)
                log.exception("alert evaluation failed (the next sweep retries it)")
            finally:
                with self._lock:
                    self._pending -= taken

    def _run_sender(self) -> None:
        while self._alive():
            hook = self.settings.webhook
            timeout = 5.0
            if hook is not None:
                try:
                    alerts_webhook.deliver_due(self.sessions, hook)
                    due = alerts_webhook.next_due(self.sessions)
                    if due is not None:
                        timeout = min(5.0, max(0.05, (due - now_ms()) / 1000))
                except Exception:  # noqa: BLE001
                    log.exception("alert webhook delivery failed")
            self._send.wait(timeout)
            self._send.clear()

    def evaluate(self, records: Sequence[str], refusals: Sequence[RefusalKey]) -> list[Alert]:
        """Evaluate these stored rows now (the thread's work; tests and the bench call it too)."""
        with Session(self.reader) as rs:
            batch = Batch(load_records(rs, records), load_refusals(rs, refusals), now_ms())
            findings = alert_rules.evaluate(rs, batch, self.settings.rules)
        new = self._raise(findings)
        self._remember(records, refusals)
        return new

    def _raise(self, findings: list[Finding]) -> list[Alert]:
        """Store findings in a short write transaction (the reads ran without the write lock)."""
        self.evaluations += 1
        if not findings:
            return []
        with session_scope(self.sessions) as s:
            new = raise_all(s, findings, notify=self.settings.webhook is not None)
        if new:
            self._send.set()
            log.warning("alerts: %s", ", ".join(f"{a.rule} {a.subject_key}" for a in new))
        return new

    def _remember(self, records: Sequence[str], refusals: Sequence[RefusalKey]) -> None:
        for key in [*records, *(f"{d}:{i}" for d, i in refusals)]:
            if key not in self._done_set:
                if len(self._done) == self._done.maxlen:
                    self._done_set.discard(self._done[0])
                self._done.append(key)
                self._done_set.add(key)

    def tick(self, now: int | None = None) -> list[Alert]:
        """The scheduled part, if this process holds the lease: time rules, catch-up sweep."""
        t = now_ms() if now is None else now
        with session_scope(self.sessions) as s:
            position = take_lease(s, "sweep", self.me, t, int(self.settings.sweep_s * 3000))
        if position is None:
            return []
        until = t - 2000  # leave the uploads still being evaluated to their own process
        with Session(self.reader) as s:
            recs = s.scalars(
                select(Redemption.uuid)
                .where(Redemption.received_at > position, Redemption.received_at <= until)
                .order_by(Redemption.received_at)
                .limit(_SWEEP_LIMIT)
            ).all()
            refs = s.execute(
                select(Refusal.device, Refusal.id, Refusal.received_at)
                .where(Refusal.received_at > position, Refusal.received_at <= until)
                .order_by(Refusal.received_at)
                .limit(_SWEEP_LIMIT)
            ).all()
            late = [u for u in recs if u not in self._done_set]
            late_refs = [(d, i) for d, i, _r in refs if f"{d}:{i}" not in self._done_set]
            batch = Batch(load_records(s, late), load_refusals(s, late_refs), t, scheduled=True)
            findings = alert_rules.evaluate(s, batch, self.settings.rules)
        new = self._raise(findings)
        reached = until
        if len(recs) == _SWEEP_LIMIT or len(refs) == _SWEEP_LIMIT:
            reached = max(
                position, max(r[2] for r in refs) if refs else position
            )  # go on from here
        with session_scope(self.sessions) as s:
            s.execute(update(AlertLease).where(AlertLease.name == "sweep").values(position=reached))
        return new


def read_engine(engine: Engine) -> Engine:
    """The engine evaluation reads through: on SQLite one without ``BEGIN IMMEDIATE``.

    Rules only read; on SQLite (WAL) a plain reader sees the committed rows
    without taking the write lock, so evaluating never holds up an upload.
    Findings are then written through the ordinary engine, whose transaction
    re-reads the open alert (:func:`sync.office.alerts.raise_alert`).
    PostgreSQL readers never block writers: the same engine.
    """
    if engine.dialect.name != "sqlite":
        return engine
    reader = create_engine(engine.url, connect_args={"timeout": 30})

    @event.listens_for(reader, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=30000")

    return reader


def take_lease(s: Session, name: str, me: str, t: int, ttl_ms: int) -> int | None:
    """Hold lease ``name`` for ``ttl_ms`` if it is free or ours; its position, else None."""
    if s.get(AlertLease, name) is None:
        try:
            with s.begin_nested():
                s.add(AlertLease(name=name, holder="", until=0, position=t))
        except IntegrityError:
            pass  # another process created it first
    won = s.execute(
        update(AlertLease)
        .where(AlertLease.name == name, (AlertLease.holder == me) | (AlertLease.until < t))
        .values(holder=me, until=t + ttl_ms)
        .execution_options(synchronize_session=False)
    )
    if getattr(won, "rowcount", 0) != 1:
        return None
    return s.scalar(select(AlertLease.position).where(AlertLease.name == name))


def load_records(s: Session, uuids: Sequence[str]) -> list[Redemption]:
    out: list[Redemption] = []
    wanted = sorted(set(uuids))
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        out.extend(s.scalars(select(Redemption).where(Redemption.uuid.in_(chunk))))
    return out


def load_refusals(s: Session, keys: Sequence[RefusalKey]) -> list[Refusal]:
    out: list[Refusal] = []
    wanted = sorted(set(keys))
    for i in range(0, len(wanted), _CHUNK):
        chunk: list[Any] = wanted[i : i + _CHUNK]
        out.extend(s.scalars(select(Refusal).where(tuple_(Refusal.device, Refusal.id).in_(chunk))))
    return out
