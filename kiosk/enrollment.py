"""Enrolling a counter with the central server (``cinepass-kiosk enroll``).

The kiosk keeps its own Ed25519 device key (made here if missing, 0600) and
sends only the public half. The server answers with a device id, the cinema,
an API token, the trusted issuer keys and the first revocation list and
roster (from a server that pages them, only their cursors: the lists are then
pulled page by page once enrolled, docs/feeds.md). They are written in the order that keeps a half-finished enrolment
harmless: the store first (keys, feeds), then the token (0600), and the
config last, because a config with a ``device_id`` is what says "enrolled".
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sync import protocol as P
from sync.voucher.errors import KeyFileError
from sync.voucher.keys import PrivateKey, load_private_key, save_private_key, write_secret_file

from .config import KioskConfig, load_config, save_config
from .engine.facts import TrustedKey
from .engine.feeds import Feed
from .engine.store import Store
from .engine.tally import business_day_metas
from .errors import ConfigError, NotSetUp, UsageError
from .feedmap import feed_entries
from .http import HttpClient, SyncError
from .snapshots import pull_snapshot

# what the server says about a code, and how the clerk should read it (exit 2: bad input)
CODE_ERRORS = {
    "bad_code": "the enrolment code is wrong: check it, or ask the union office for a new one",
    "code_used": "this enrolment code was already used: ask the union office for a new one",
    "code_expired": "this enrolment code has expired (24 h): ask the union office for a new one",
    "rate_limited": "too many wrong codes were tried: wait 15 minutes, then try the right one",
}


def _device_key(path: Path) -> tuple[PrivateKey, bool]:
    """The existing device key, or a new one (saved only once the server said yes)."""
    if path.exists():
        try:
            return load_private_key(path), False
        except KeyFileError as exc:
            raise ConfigError("bad_device_key", f"device key {path}: {exc.message}") from exc
    return PrivateKey.generate(), True


def _check_no_foreign_pending(store_path: Path) -> None:
    """Refuse to enrol over unsynced records of another identity.

    Records are signed for the device id they were made under; after a new
    enrolment the server would refuse them forever (wrong device) and every
    sync would fail behind them. Better to say so now, before the code is used.
    """
    if not store_path.exists():
        return
    store = Store.open(store_path)
    try:
        pending = store.pending_records(1)
        if pending:
            count = store.counts()["pending"]
            who = pending[0][0].device or "standalone mode"
            raise UsageError(
                "pending_records",
                f"this kiosk has {count} unsynced redemptions recorded as {who}: sync them "
                "(or back up this data folder and ask the union office) before enrolling again",
            )
    finally:
        store.close()


def enroll(
    home: Path,
    server_url: str,
    code: str,
    *,
    ca_bundle: str | None = None,
    allow_http: bool = False,
    name: str | None = None,
) -> dict[str, Any]:
    """Enrol the kiosk in ``home``; returns {device_id, cinema, keys, revocations, roster}."""
    from .paths import KioskPaths

    paths = KioskPaths(Path(home))
    code = code.strip()
    if not code or len(code) > 64:
        raise UsageError(
            "bad_code", "give the enrolment code printed by 'cinepass-admin device code'"
        )
    if ca_bundle and not Path(ca_bundle).is_file():
        raise UsageError("bad_ca_bundle", f"CA bundle {ca_bundle} does not exist")
    client = HttpClient(server_url, ca_bundle=ca_bundle, allow_http=allow_http)
    _check_no_foreign_pending(paths.store)
    key, new_key = _device_key(paths.device_key)
    body = {
        "code": code,
        "public_key": key.public.raw.hex(),
        "name": (name or socket.gethostname())[:200],
        "snapshots": "paged",  # an older server ignores it and sends the whole lists
    }
    try:
        raw = client.post(f"{P.API_PREFIX}/enrol", body)
    except SyncError as exc:
        if exc.reason in CODE_ERRORS:
            raise UsageError(exc.reason, CODE_ERRORS[exc.reason]) from None
        raise
    finally:
        client.close()
    try:
        answer = P.EnrolResponse.model_validate(raw)
        keys = [TrustedKey(raw=bytes.fromhex(k.public_key), issuer=k.issuer) for k in answer.keys]
        revs = feed_entries("revocation", answer.revocations.entries)
        roster = feed_entries("roster", answer.roster.entries)
    except (ValidationError, ValueError) as exc:
        raise SyncError(
            "bad_answer", f"the server sent a malformed enrolment answer: {exc}"
        ) from None

    lists: tuple[tuple[Feed, P.FeedPage], ...] = (
        ("revocation", answer.revocations),
        ("roster", answer.roster),
    )
    paths.ensure()
    if new_key:
        save_private_key(paths.device_key, key)
    store = Store.open(paths.store)
    try:
        store.set_trusted_keys(keys)
        # the same snapshot-apply as a first sync (a snapshot has no "unredeemed" entries);
        # a paged answer (more: true) leaves the feed to the pages pulled below
        for feed, page in lists:
            if page.more:
                store.begin_snapshot(feed)  # fresh: never a page token of an earlier server
            else:
                store.replace_feed(feed, revs if feed == "revocation" else roster, str(page.cursor))
        store.set_cursor("status", "0")
        store.set_metas(
            {"device_revoked": "0", "last_sync": str(answer.time_ms), "online": "1"}
            | business_day_metas(answer.timezone, answer.day_starts)
        )
    finally:
        store.close()

    write_secret_file(paths.token, answer.token.encode("utf-8"))
    try:
        cfg = load_config(paths.config)
    except NotSetUp:
        cfg = KioskConfig()
    except ConfigError:
        cfg = KioskConfig()
    cfg.cinema = answer.cinema
    cfg.device_id = answer.device_id
    cfg.server_url = client.base_url
    cfg.ca_bundle = ca_bundle or ""
    cfg.allow_http = allow_http
    if not cfg.counter:
        cfg.counter = body["name"]
    save_config(paths.config, cfg)
    counts = {"revocations": len(revs), "roster": len(roster)}
    paged = [feed for feed, page in lists if page.more]
    pending = pull_pages(
        paths.store, client.base_url, answer.token, paged, counts, ca_bundle, allow_http
    )
    return {
        "device_id": answer.device_id,
        "cinema": answer.cinema,
        "cinema_name": answer.cinema_name,
        "server": client.base_url,
        "keys": len(keys),
        **counts,
    } | ({"pending_snapshots": pending} if pending else {})


def pull_pages(
    store_path: Path,
    server_url: str,
    token: str,
    feeds: list[Feed],
    counts: dict[str, int],
    ca_bundle: str | None,
    allow_http: bool,
) -> list[str]:
    """Pull the paged snapshots a paged enrolment answer left out; the feeds not finished.

    Runs once the counter is enrolled (token and config written): a cut
    connection then costs nothing, the next sync goes on from the last staged
    page (:func:`kiosk.snapshots.pull_snapshot`), and the code is not wasted.
    """
    if not feeds:
        return []
    client = HttpClient(server_url, token=token, ca_bundle=ca_bundle, allow_http=allow_http)
    store = Store.open(store_path)
    try:
        for i, feed in enumerate(feeds):
            try:
                n = pull_snapshot(client.get, store, feed)
            except SyncError:
                return list(feeds[i:])
            counts["revocations" if feed == "revocation" else "roster"] = n
        return []
    finally:
        store.close()
        client.close()
