"""The kiosk's sync engine: push redemptions, pull feeds, never block a scan.

A :class:`SyncEngine` runs one background thread. Each cycle:

1. ``POST /device/hello`` with this counter's health (version, pending count,
   clock offset, last error). The answer's server time, against the request's
   send/receive midpoint, gives the clock offset (server minus local), stored
   as meta ``clock_offset_ms``. A ``device_revoked`` refusal is remembered in
   meta ``device_revoked`` and the records stay pending, untouched.
2. Push pending records, oldest first, in batches. The answer must name every
   record that was sent, each with a known status; anything else (garbage,
   wrong types, a 200 that drops a record) is a failed attempt and nothing is
   marked. Only acknowledged records are marked synced, so a cut connection or
   a server restarted mid-batch costs a resend, which the server's
   idempotency (by record uuid) makes harmless.
   The server answers per record: one it ``rejected`` (a failed signature or
   chain check) is kept and counted as quarantined (never deleted, never
   resent), a ``review`` line keeps its ``flags``; the others go on.
3. Upload the refusal log (``POST /refusals``, idempotent by refusal id); a
   server without that endpoint (404) is skipped and the refusals wait.
4. Pull the key, revocation and roster feeds from their cursors (a snapshot
   the first time, in pages that a cut connection does not lose: kiosk.snapshots), and this device's status feed (records that later turned
   out to be duplicates, or whose valid redemption was duplicated elsewhere,
   or that the union office put under review or decided).

A hello whose answer says ``status: revoked`` is treated like a 403
``device_revoked``; a clock offset within the tolerance lowers a clock mark
left by a clock that ran ahead (:meth:`KioskService.clock_agreed`).

Between cycles it sleeps ``sync_interval`` seconds while online, or an
exponential backoff with jitter (up to 5 minutes) while not; :meth:`notify`
(called by the window after each redemption) wakes it at once, so a
redemption is uploaded within a second or two when the network is up.

Everything goes through :class:`kiosk.engine.store.Store`, whose writes are
short transactions: the scan path never waits on the network. The sync
state (meta ``online``, ``last_sync``, ``clock_offset_ms``...) is gathered
during a cycle and written in one commit at its end, success or failure.
Listeners (:meth:`SyncEngine.add_listener`, e.g. the window's status bar)
are told the new :class:`SyncStatus` after every cycle.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sync import protocol as P

from .engine.clock import Clock
from .engine.db import int_or_none
from .engine.facts import FeedEntries, TrustedKey
from .engine.feeds import CURSOR_OF, Feed
from .engine.peerstore import LISTEN_META, peers_from_feed, reportable_listen
from .engine.service import KioskService
from .engine.store import Store
from .engine.tally import business_day_metas
from .errors import KioskError
from .feedmap import feed_entries
from .http import HttpClient, SyncError
from .snapshots import pull_snapshot
from .syncresult import SyncListener, SyncResult, SyncStatus, answer_detail, bad_answer

__all__ = ["BATCH_SIZE", "SyncEngine", "SyncListener", "SyncResult", "SyncStatus"]

log = logging.getLogger("cinepass.sync")

BATCH_SIZE = 500
MAX_BACKOFF_S = 300.0
FEED_PAGE = 5000


class SyncEngine:
    """Background sync for one kiosk (a data folder or an open :class:`KioskService`)."""

    def __init__(
        self,
        home_or_service: Path | str | KioskService,
        *,
        interval: float | None = None,
        batch_size: int = BATCH_SIZE,
        client: HttpClient | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> None:
        if isinstance(home_or_service, KioskService):
            self.service = home_or_service
            self._owns_service = False
        else:
            self.service = KioskService.open(Path(home_or_service))
            self._owns_service = True
        self.store: Store = self.service.store
        cfg = self.service.config
        self.interval = float(interval if interval is not None else cfg.sync_interval)
        self.batch_size = max(1, min(batch_size, P.MAX_BATCH))
        self._client = client
        self._timeout = timeout
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._cycle_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._last_error = ""
        self._state: dict[str, str] = {}  # meta to write at the end of this cycle
        self._listeners: list[SyncListener] = []
        self.last_result: SyncResult | None = None

    # -- public API ---------------------------------------------------------

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cinepass-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread; an upload in flight finishes or times out first."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._owns_service:
            self.service.close()

    @property
    def crashed(self) -> bool:
        """The thread was started and ended without :meth:`stop` (the watchdog restarts it)."""
        return self._thread is not None and not self._thread.is_alive()

    def notify(self) -> None:
        """A redemption was just recorded: sync now instead of at the next tick."""
        self._wake.set()

    def status(self) -> SyncStatus:
        """online, last_sync, pending, conflicts, clock offset, last error."""
        counts = self.store.counts()
        meta = self.store.get_meta
        return {
            "online": meta("online") == "1",
            "last_sync": self.store.meta_int("last_sync"),
            "pending": counts["pending"],
            "conflicts": counts["conflicts"],
            "clock_offset_ms": self.store.meta_int("clock_offset_ms"),
            "device_revoked": meta("device_revoked") == "1",
            "last_error": meta("last_sync_error") or None,
            "failures": self._failures,
        }

    def add_listener(self, callback: SyncListener) -> None:
        """Call ``callback(status)`` after every cycle, from the thread that ran it.

        That is the sync thread for the background loop (or the caller of
        :meth:`sync_now`): a GUI must hop to its own thread (the window wraps
        this in a Qt signal). A listener that raises is logged with its
        traceback and does not stop the sync or the other listeners.
        """
        self._listeners.append(callback)

    def _emit(self) -> None:
        if not self._listeners:
            return
        try:
            status = self.status()
        except KioskError:
            log.exception("cannot read the sync status for the listeners")
            return
        for callback in list(self._listeners):
            try:
                callback(status)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the sync
                log.exception("sync listener %r failed", callback)

    def sync_now(self) -> SyncResult:
        """Run one full cycle in the calling thread; never raises for network trouble."""
        with self._cycle_lock:
            result = self._cycle()
        self.last_result = result
        self._emit()
        return result

    # -- the loop -----------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            result = self.sync_now()
            if result.ok:
                delay = self.interval
            else:
                base = min(MAX_BACKOFF_S, self.interval * (2 ** min(self._failures, 10)))
                delay = base * random.uniform(0.5, 1.5)
            self._wake.wait(delay)
            self._wake.clear()

    def _http(self) -> HttpClient:
        if self._client is None:
            cfg = self.service.config
            if not cfg.server_url:
                raise SyncError("standalone", "this kiosk is standalone (no server configured)")
            try:
                token = self.service.paths.token.read_text(encoding="utf-8").strip()
            except OSError:
                raise SyncError(
                    "not_enrolled", "no device token: enrol this kiosk ('cinepass-kiosk enroll')"
                ) from None
            self._client = HttpClient(
                cfg.server_url,
                token=token,
                ca_bundle=cfg.ca_bundle or None,
                allow_http=cfg.allow_http,
                **({"timeout": self._timeout} if self._timeout else {}),
            )
        return self._client

    def _cycle(self) -> SyncResult:
        result = SyncResult(ok=False)
        self._state = {}
        try:
            client = self._http()
            self._hello(client, result)
            self._push(client, result)
            self._push_refusals(client, result)
            self._pull(client, result)
            if result.uploaded:  # report the new pending count (the office sees it)
                self._hello(client, result)
        except KioskError as exc:  # network trouble, or e.g. the store refused an entry
            return self._failed(result, exc)
        except Exception as exc:  # noqa: BLE001 - the sync thread must outlive any surprise
            log.exception("unexpected error during sync")
            return self._failed(
                result, SyncError("internal", f"unexpected {type(exc).__name__} during sync")
            )
        now = str(int(time.time() * 1000))
        self._state.update(last_sync=now, revocations_synced_at=now, online="1", last_sync_error="")
        try:
            self._save_state()
        except KioskError as exc:
            return self._failed(result, exc)
        result.ok = True
        result.pending = self.store.counts()["pending"]
        self._failures = 0
        self._last_error = ""
        return result

    def _save_state(self) -> None:
        """The cycle's sync state in one commit (one fsync instead of one per value)."""
        state, self._state = self._state, {}
        self.store.set_metas(state)

    def _failed(self, result: SyncResult, exc: KioskError) -> SyncResult:
        self._failures += 1
        self._last_error = f"{exc.reason}: {exc.message}"
        result.error, result.error_message = exc.reason, exc.message
        try:
            result.pending = self.store.counts()["pending"]
            if exc.reason == "device_revoked":
                result.revoked = True
                self._state["device_revoked"] = "1"
            self._state.update(online="0", last_sync_error=self._last_error[:500])
            self._save_state()
        except KioskError:
            log.exception("cannot record the sync failure")
        log.warning("sync failed: %s", exc.reason)
        return result

    def _meta(self, key: str) -> str | None:
        """A meta value as this cycle will leave it (its own changes are written at the end)."""
        return self._state[key] if key in self._state else self.store.get_meta(key)

    # -- steps --------------------------------------------------------------

    def _health(self) -> dict[str, Any]:
        """The health report (kiosk.ops.health: OS, disk, backups...) plus the sync facts.

        The last error goes through the log redaction there, so nothing secret
        in an exception message reaches the server.
        """
        from . import __version__
        from .ops.health import collect

        offset = int_or_none(self._meta("clock_offset_ms")) or 0
        counts = self.store.counts()
        pending = counts["pending"]
        try:
            report = collect(
                self.service.paths,
                pending=pending,
                clock_offset=offset / 1000,
                last_error=self._last_error or None,
            )
        except Exception:  # noqa: BLE001 - a broken extra must not stop the upload
            log.exception("health report failed")
            report = {"version": __version__}
        report.update(pending=pending, clock_offset_ms=offset, quarantined=counts["quarantined"])
        report["listen"] = reportable_listen(self._meta(LISTEN_META))  # the LAN peer service
        report["last_error"] = report.get("last_error") or ""
        return P.Health.model_validate(report).model_dump()

    def _hello(self, client: HttpClient, result: SyncResult) -> None:
        t0 = time.time() * 1000
        raw = client.post(f"{P.API_PREFIX}/device/hello", {"health": self._health()})
        t1 = time.time() * 1000
        try:
            info = P.DeviceInfo.model_validate(raw)
        except ValidationError as exc:
            raise bad_answer(str(exc.errors()[0]["msg"])) from None
        if info.status == "revoked":  # said in words rather than with a 403: the same
            raise SyncError("device_revoked", "this counter was disconnected (device revoked)", 403)
        offset = int(info.time_ms - (t0 + t1) / 2)
        result.clock_offset_ms = offset
        self._state["clock_offset_ms"] = str(offset)
        if abs(offset) <= Clock.TOLERANCE_MS:
            self._state.update(self.service.clock_agreed(info.time_ms))
        self._state.update(business_day_metas(info.timezone, info.day_starts))
        if self._meta("device_revoked") == "1":
            self._state["device_revoked"] = "0"

    def _push(self, client: HttpClient, result: SyncResult) -> None:
        while True:
            batch = self.store.pending_records(self.batch_size)
            if not batch:
                return
            body = {
                "records": [rec.to_json(sig) for rec, sig in batch],
                "health": self._health(),
            }
            raw = client.post(f"{P.API_PREFIX}/records", body)
            try:
                answer = P.UploadResponse.model_validate(raw)
            except ValidationError as exc:
                raise bad_answer(str(exc.errors()[0]["msg"])) from None
            sent = {rec.uuid for rec, _ in batch}
            got = {r.uuid: r for r in answer.results}
            if set(got) != sent:
                raise bad_answer(
                    f"{len(sent - set(got))} of {len(sent)} records were not acknowledged"
                )
            self.store.mark_synced({u: (r.status, answer_detail(r)) for u, r in got.items()})
            result.uploaded += len(got)
            result.duplicates += sum(1 for r in got.values() if r.status == "duplicate")
            result.quarantined += sum(1 for r in got.values() if r.status == "rejected")
            if len(batch) < self.batch_size:
                return

    def _push_refusals(self, client: HttpClient, result: SyncResult) -> None:
        """Upload the refusal log (idempotent by id); an older server without it is skipped."""
        counter = self.service.config.counter
        while True:
            batch = self.store.pending_refusals(self.batch_size)
            if not batch:
                return
            body = {"refusals": [r.to_json(counter) for r in batch]}
            try:
                raw = client.post(f"{P.API_PREFIX}/refusals", body)
            except SyncError as exc:
                if exc.status == 404:
                    log.info("the server takes no refusal log yet; kept for later")
                    return
                raise
            try:
                P.RefusalAck.model_validate(raw)
            except ValidationError as exc:
                raise bad_answer(str(exc.errors()[0]["msg"])) from None
            self.store.mark_refusals_uploaded([r.id for r in batch], int(time.time() * 1000))
            result.refusals += len(batch)
            if len(batch) < self.batch_size:
                return

    def _pull(self, client: HttpClient, result: SyncResult) -> None:
        self._pull_keys(client)
        self._pull_peers(client)
        result.revocations += self._pull_feed(client, "revocation")
        result.roster += self._pull_feed(client, "roster")
        result.status_updates += self._pull_status(client)

    def _page(self, client: HttpClient, path: str, params: dict[str, Any] | None) -> P.FeedPage:
        raw = client.get(path, params)
        try:
            return P.FeedPage.model_validate(raw)
        except ValidationError as exc:
            raise bad_answer(str(exc.errors()[0]["msg"])) from None

    def _pull_keys(self, client: HttpClient) -> None:
        page = self._page(client, f"{P.API_PREFIX}/feeds/keys/snapshot", None)
        try:
            keys = [P.TrustedKeyOut.model_validate(e) for e in page.entries]
        except ValidationError as exc:
            raise bad_answer(str(exc.errors()[0]["msg"])) from None
        wanted = {(bytes.fromhex(k.public_key), k.issuer) for k in keys if k.active}
        have = {(k.raw, k.issuer) for k in self.store.trusted_keys() if k.source == "server"}
        local = [k for k in self.store.trusted_keys() if k.source != "server"]
        if wanted != have:
            self.store.set_trusted_keys(
                local + [TrustedKey(raw=r, issuer=i) for r, i in sorted(wanted)]
            )

    def _pull_peers(self, client: HttpClient) -> None:
        """The counters of this cinema (docs/lan-peers.md); an older server has no such feed."""
        try:
            page = self._page(client, f"{P.API_PREFIX}/feeds/{P.PEERS_FEED}/snapshot", None)
        except SyncError as exc:
            if exc.status == 404:
                return
            raise
        try:
            self.store.set_peers(peers_from_feed(page.entries))
        except ValidationError as exc:
            raise bad_answer(str(exc.errors()[0]["msg"])) from None

    def _pull_feed(self, client: HttpClient, feed: Feed) -> int:
        cursor = self.store.get_cursor(CURSOR_OF[feed])
        applied = 0
        if cursor is None or not cursor.isdigit():  # in pages, resumable (kiosk.snapshots)
            return pull_snapshot(client.get, self.store, feed)
        since = int(cursor)
        for _ in range(1000):
            page = self._page(
                client, f"{P.API_PREFIX}/feeds/{feed}", {"since": since, "limit": FEED_PAGE}
            )
            if page.cursor < since:
                raise bad_answer(f"the {feed} cursor went backwards")
            entries = self._entries(feed, page.entries)
            self.store.apply_feed(feed, entries, str(page.cursor))
            applied += len(entries)
            since = page.cursor
            if not page.more:
                break
        return applied

    @staticmethod
    def _entries(feed: Feed, raw: list[dict[str, Any]]) -> FeedEntries:
        try:
            return feed_entries(feed, raw)
        except ValidationError as exc:
            raise bad_answer(str(exc.errors()[0]["msg"])) from None

    def _pull_status(self, client: HttpClient) -> int:
        cursor = self.store.get_cursor("status")
        since = int(cursor) if cursor and cursor.isdigit() else 0
        count = 0
        for _ in range(1000):
            page = self._page(
                client, f"{P.API_PREFIX}/feeds/status", {"since": since, "limit": FEED_PAGE}
            )
            try:
                changes = [P.StatusOut.model_validate(e) for e in page.entries]
            except ValidationError as exc:
                raise bad_answer(str(exc.errors()[0]["msg"])) from None
            latest: dict[str, tuple[str, dict[str, Any] | None]] = {}
            for c in changes:
                latest[c.uuid] = (c.status, answer_detail(c))
            known = {u: v for u, v in latest.items() if self.store.record(u) is not None}
            self.store.mark_synced(known, cursor=("status", str(page.cursor)))
            count += len(changes)
            since = page.cursor
            if not page.more:
                break
        return count
