"""Alert evaluation inside the server, off the request path: an inbox in the DB, one evaluator.

How it runs
-----------
* **An upload** (records or refusals) adds one row to ``alert_inbox`` in its
  own transaction (:func:`after_upload`: the device and the ids it stored) and,
  once that commits, wakes this process's :class:`AlertsWorker`. That is all
  the request does: no rule runs before its answer (issue 13's regression: the
  rules had cost a 10,000-record upload 17 s instead of 6).
* **The worker** of whichever process holds the ``eval`` lease (a row of
  ``alert_lease``, taken with a conditional UPDATE; renewed while it works,
  free again 10 s after its holder stops) reads the inbox, evaluates the rows
  it names with a reader that takes no write lock, and in **one** short write
  transaction deletes those inbox rows and stores the alerts
  (:func:`sync.office.alerts.raise_all`). The DELETE must remove every row it
  read, else the transaction rolls back: each upload is evaluated exactly
  once, by exactly one process, and an upload is never lost (a crash leaves its
  inbox row for the next holder). The holder also looks at the inbox every
  ``poll_s`` (0.5 s), so an upload that another process answered raises its
  alert within about a second; a local upload wakes it at once, and it waits
  ``gather_s`` for more so a busy sync is evaluated a few batches at a time.
* **On a schedule.** Every ``sweep_s`` seconds the holder of the ``sweep``
  lease runs the time-based rules (``silent_counter``).
* **Several server processes.** Besides the leases, one open alert per rule and
  subject is a unique index (``alert.open_key``): see
  :func:`sync.office.alerts.raise_alert`. Webhook and mail notices are claimed
  with conditional UPDATEs, so one process sends each.

``cinepass-server`` sets the rules and the notifications with :func:`configure`
before it builds the app; :func:`sync.server.app.create_app` calls
:func:`install`. The threads end when their app is garbage-collected.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, create_engine, delete, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from sync.errors import CinePassError
from sync.issuing import DISPLAY_TZ
from sync.office import alert_rules
from sync.office.alerts import Finding, raise_all
from sync.office.alerts_batch import Batch, load_batch
from sync.office.alerts_config import RuleSettings, load_rules
from sync.office.alerts_digest import digest
from sync.office.alerts_models import Alert, AlertInbox, AlertLease, AlertNotice

from . import alerts_mail, alerts_webhook
from .db import make_sessionmaker, session_scope
from .models import Redemption, now_ms

log = logging.getLogger("cinepass.alerts")
RefusalKey = tuple[str, str]  # (device, refusal id)
_TAKE = 40  # inbox rows read at a time (40 uploads of up to 1,000 records)
#: an evaluation takes inbox rows until they name this many records (or the inbox is
#: empty): a counter's upload is one row of up to 1,000 records, an online use one row of
#: one, and every rule's queries run once per evaluation (``burst`` reads the device's
#: whole window), so online uses are evaluated hundreds at a time, not 40
_BATCH_RECORDS = 1000
EVAL_TTL_MS = 10_000  # a stopped evaluator's lease is free again after this


_INBOX = insert(cast(Table, AlertInbox.__table__))


class InboxTaken(CinePassError):
    """Another process evaluated these inbox rows first (its alerts stand; ours roll back)."""

    def __init__(self) -> None:
        super().__init__("inbox_taken", "告警收件箱已被其他进程处理 / inbox rows taken elsewhere")


@dataclass(frozen=True)
class AlertSettings:
    """What ``cinepass-server`` was told: the rules, the webhook, how often to sweep."""

    rules: RuleSettings = field(default_factory=RuleSettings)
    webhook: alerts_webhook.Webhook | None = None
    mail: alerts_mail.Mail | None = None
    #: send the previous day's digest (webhook and mail) at this hour, CST; None: never
    digest_hour: int | None = None
    sweep_s: float = 30.0
    #: after a local upload wakes it, wait this long for more before evaluating: under
    #: load one evaluation covers several uploads (its queries are per batch), well
    #: inside the 5 s; the evaluator also looks at the inbox every ``poll_s``
    gather_s: float = 1.0
    poll_s: float = 0.5


_CONFIG: list[AlertSettings] = [AlertSettings()]
_WORKERS: weakref.WeakKeyDictionary[Engine, AlertsWorker] = weakref.WeakKeyDictionary()


def configure(settings: AlertSettings) -> None:
    """The settings every app built after this call evaluates with."""
    _CONFIG[0] = settings


def configure_from(
    rules_file: str | None,
    url: str | None,
    secret_file: str | None,
    mail: alerts_mail.Mail | None = None,
    digest_hour: int | None = None,
) -> None:
    """``cinepass-server --alert-rules --alert-webhook ... --alert-smtp ...`` (exit 2)."""
    hook = alerts_webhook.Webhook.of(url, secret_file) if url else None
    if digest_hour is not None and not 0 <= digest_hour <= 23:
        raise alerts_mail.MailError("日报时间应为 0-23 / --alert-digest-hour must be 0 to 23")
    settings = AlertSettings(load_rules(rules_file), hook, mail=mail, digest_hour=digest_hour)
    configure(settings)


def install(owner: object, engine: Engine) -> AlertsWorker:
    """Start this process's worker for ``engine``; it lives as long as ``owner`` (the app)."""
    worker = AlertsWorker(engine, _CONFIG[0], owner=owner)
    _WORKERS[engine] = worker
    worker.start()
    return worker


def worker_for(engine: Engine) -> AlertsWorker | None:
    return _WORKERS.get(engine)


def take_inbox(session: Session) -> list[Any]:
    """The oldest inbox rows, in pages of :data:`_TAKE`, until they name
    :data:`_BATCH_RECORDS` records or the inbox ends (one evaluation's worth)."""
    cols = (AlertInbox.id, AlertInbox.device, AlertInbox.records, AlertInbox.refusals)
    rows: list[Any] = []
    records = 0
    while records < _BATCH_RECORDS:
        q = select(*cols).order_by(AlertInbox.id).limit(_TAKE)
        if rows:
            q = q.where(AlertInbox.id > rows[-1][0])
        page = session.execute(q).all()
        rows += page
        records += sum(len(r[2]) + len(r[3]) for r in page)
        if len(page) < _TAKE:
            break
    return rows


def after_upload(
    session: Session,
    *,
    records: Iterable[str] = (),
    refusals: Iterable[RefusalKey] = (),
    device: str = "",
) -> None:
    """Note what this upload stored in the inbox (its transaction) and wake the worker on commit.

    ``records`` are the uploaded record uuids of ``device`` (a stored line, or a
    quarantined record), ``refusals`` (device, refusal id) pairs.
    """
    recs, refs = list(records), list(refusals)
    if not recs and not refs:
        return
    dev = device or (refs[0][0] if refs else "")
    row = {
        "device": dev,
        "records": recs,
        "refusals": [i for _d, i in refs],
        "created_at": now_ms(),
    }
    session.connection().execute(_INBOX, row)  # Core: no unit of work for one row
    bind = session.get_bind()
    worker = _WORKERS.get(bind) if isinstance(bind, Engine) else None
    if worker is not None:
        event.listen(session, "after_commit", lambda _s: worker.wake(), once=True)


class AlertsWorker:
    """One thread evaluating the inbox and the schedule; one sending notices."""

    def __init__(
        self, engine: Engine, settings: AlertSettings, owner: object | None = None
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.sessions: sessionmaker[Session] = make_sessionmaker(engine)
        self.reader = read_engine(engine)
        self.me = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:64]
        self._owner = weakref.ref(owner) if owner is not None else None
        self._wake = threading.Event()
        self._send = threading.Event()
        self._stop = threading.Event()
        self.evaluations = 0
        self._threads = [
            threading.Thread(target=self._run, name="cinepass-alerts", daemon=True),
            threading.Thread(target=self._run_sender, name="cinepass-alert-notices", daemon=True),
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        self._send.set()
        self._wake.set()
        for t in self._threads:
            t.join(5)
        try:
            with session_scope(self.sessions) as s:  # let another process take over at once
                s.execute(
                    update(AlertLease)
                    .where(AlertLease.holder == self.me)
                    .values(holder="", until=0)
                    .execution_options(synchronize_session=False)
                )
        except SQLAlchemyError as exc:  # the database went first: the lease lapses by itself
            log.warning("alerts: lease not released (%s)", exc.__class__.__name__)

    def wake(self) -> None:
        """An upload committed: evaluate soon (called from the request's after_commit)."""
        self._wake.set()

    def submit(self, records: Sequence[str], refusals: Sequence[RefusalKey]) -> None:
        """Queue stored rows for evaluation (what an upload does; the bench and tests call it)."""
        by_device: dict[str, tuple[list[str], list[RefusalKey]]] = {}
        if records:
            with Session(self.reader) as rs:
                rows = rs.execute(
                    select(Redemption.device, Redemption.uuid).where(
                        Redemption.uuid.in_(list(records))
                    )
                ).all()
            for d, u in rows:
                by_device.setdefault(d, ([], []))[0].append(u)
        for d, i in refusals:
            by_device.setdefault(d, ([], []))[1].append((d, i))
        with session_scope(self.sessions) as s:
            for d, (recs, refs) in by_device.items():
                after_upload(s, records=recs, refusals=refs, device=d)
        self.wake()

    def idle(self) -> bool:
        """Nothing uploaded is still waiting to be evaluated (tests wait for it)."""
        with Session(self.reader) as rs:
            return not rs.scalar(select(func.count()).select_from(AlertInbox))

    def _alive(self) -> bool:
        return not self._stop.is_set() and (self._owner is None or self._owner() is not None)

    def _run(self) -> None:
        next_tick = 0.0
        while self._alive():
            if self._wake.wait(self.settings.poll_s):
                self._stop.wait(self.settings.gather_s)  # let a busy sync's next batches land
            self._wake.clear()
            if not self._alive():
                break
            try:
                self.drain(rest=False)
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.settings.sweep_s
                    self.tick()
            except Exception:  # noqa: BLE001 (the thread must outlive a bad evaluation)
                log.exception("alert evaluation failed (its inbox rows stay: retried)")
                self._stop.wait(1.0)

    def _run_sender(self) -> None:
        while self._alive():
            channels = [c for c in (self.settings.webhook, self.settings.mail) if c is not None]
            timeout = 5.0
            if channels:
                try:
                    for channel in channels:
                        alerts_webhook.deliver_due(self.sessions, channel)
                    due = alerts_webhook.next_due(self.sessions)
                    if due is not None:
                        timeout = min(5.0, max(0.05, (due - now_ms()) / 1000))
                except Exception:  # noqa: BLE001
                    log.exception("alert notice delivery failed")
            self._send.wait(timeout)
            self._send.clear()

    def drain(self, *, rest: bool = True) -> list[Alert]:
        """Evaluate the inbox until it is empty, if this process holds the ``eval`` lease.

        ``rest=False`` (the worker's loop): stop after an evaluation that took the
        inbox to its end. What committed meanwhile has woken the worker and waits
        for the next ``gather_s``: under a steady stream of single-record uploads
        (the online API's confirms) evaluating at once again meant one evaluation
        per few records, each paying the rules' fixed cost of a dozen queries.
        """
        new: list[Alert] = []
        while True:
            t = now_ms()
            with Session(self.reader) as rs:  # an empty inbox costs one read, no write
                rows = take_inbox(rs)
            if not rows:
                return new
            with session_scope(self.sessions) as s:
                if take_lease(s, "eval", self.me, t, EVAL_TTL_MS) is None:
                    return new
            with Session(self.reader) as rs:
                recs = [(d, u) for _i, d, us, _r in rows for u in us]
                refs = [(d, r) for _i, d, _u, rs_ in rows for r in rs_]
                findings = self.findings(rs, load_batch(rs, recs, refs, t))
            try:
                new += self.store(findings, taken=[r[0] for r in rows])
            except InboxTaken:
                return new
            if not rest and len(recs) + len(refs) < _BATCH_RECORDS:
                return new

    def evaluate(self, records: Sequence[str], refusals: Sequence[RefusalKey]) -> list[Alert]:
        """Evaluate these stored rows now, outside the inbox (tests and the bench call it)."""
        with Session(self.reader) as rs:
            devices = dict(
                rs.execute(
                    select(Redemption.uuid, Redemption.device).where(
                        Redemption.uuid.in_(list(records))
                    )
                ).all()
            )
            recs = [(devices[u], u) for u in records if u in devices]
            batch = load_batch(rs, recs, list(refusals), now_ms())
            findings = self.findings(rs, batch)
        return self.store(findings)

    def findings(self, rs: Session, batch: Batch) -> list[Finding]:
        self.evaluations += 1
        return alert_rules.evaluate(rs, batch, self.settings.rules)

    def store(self, findings: list[Finding], taken: Sequence[int] = ()) -> list[Alert]:
        """Store findings (and consume ``taken`` inbox rows) in one short write transaction."""
        if not findings and not taken:
            return []
        with session_scope(self.sessions) as s:
            if taken:
                gone = s.execute(
                    delete(AlertInbox)
                    .where(AlertInbox.id.in_(list(taken)))
                    .execution_options(synchronize_session=False)
                )
                if getattr(gone, "rowcount", 0) != len(taken):
                    raise InboxTaken()  # rolls back: the other process's alerts stand
            new = raise_all(
                s,
                findings,
                notify=self.settings.webhook is not None,
                mail=self.settings.mail is not None,
            )
        if new:
            self._send.set()
            log.warning("alerts: %s", ", ".join(f"{a.rule} {a.subject_key}" for a in new))
        return new

    def tick(self, now: int | None = None) -> list[Alert]:
        """The scheduled part, if this process holds the ``sweep`` lease: the time rules."""
        t = now_ms() if now is None else now
        with session_scope(self.sessions) as s:
            position = take_lease(s, "sweep", self.me, t, int(self.settings.sweep_s * 3000))
        if position is None:
            return []
        with Session(self.reader) as rs:
            findings = self.findings(rs, Batch([], [], t, scheduled=True))
        self.send_digest(t)
        return self.store(findings)

    def send_digest(self, t: int) -> bool:
        """At ``digest_hour`` (CST), queue the previous day's digest, once a day across processes.

        The ``digest`` lease row's ``position`` is the last day sent (its ordinal); it
        moves with a conditional UPDATE, so exactly one process queues each day's
        notices (webhook ``digest``, mail ``mail:digest``), sent and retried as any.
        """
        hour, channels = self.settings.digest_hour, []
        if self.settings.webhook is not None:
            channels.append("digest")
        if self.settings.mail is not None:
            channels.append("mail:digest")
        local = datetime.fromtimestamp(t / 1000, DISPLAY_TZ)
        if hour is None or not channels or local.hour < hour:
            return False
        day = local.date() - timedelta(days=1)
        with session_scope(self.sessions) as s:
            if s.get(AlertLease, "digest") is None:  # the first day ever: no day sent yet
                try:
                    with s.begin_nested():
                        s.add(AlertLease(name="digest", holder="", until=0, position=0))
                except IntegrityError:
                    pass  # another process made it first; the UPDATE below decides
            won = s.execute(
                update(AlertLease)
                .where(AlertLease.name == "digest", AlertLease.position < day.toordinal())
                .values(position=day.toordinal())
                .execution_options(synchronize_session=False)
            )
            if getattr(won, "rowcount", 0) != 1:
                return False
            payload = digest(s, day)
            s.add_all(
                AlertNotice(alert_id=0, event=e, payload=payload, next_at=0) for e in channels
            )
        self._send.set()
        return True


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
