"""Typed FastAPI dependencies: the per-request session, the calling device, the client.

The app keeps exactly one thing of its own, the sessionmaker on
``app.state.sessions`` (see :func:`sync.server.app.create_app`); everything a
route needs is reached through these aliases, so a route's signature says
what it uses and a test can build the app on any engine.

One session per request, opened and closed here only. It is a
``scope="function"`` dependency: it commits *before* the response is sent,
so "accepted" always means "committed", and a failing commit still reaches
the error handlers (409/503) instead of being lost after a 200. A route that
must not hold the database across slow work (SQLite's ``BEGIN IMMEDIATE``
takes the write lock even for reads) ends its read transaction early with
``session.commit()``; the next statement begins a new one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session, sessionmaker

from sync.voucher.keys import PublicKey

from . import enrolment
from .db import session_scope


def open_session(request: Request) -> Iterator[Session]:
    """The request's session: commit on success, roll back on any error, always closed."""
    maker: sessionmaker[Session] = request.app.state.sessions
    with session_scope(maker) as session:
        yield session


SessionDep = Annotated[Session, Depends(open_session, scope="function")]


@dataclass(frozen=True)
class DeviceIdentity:
    """The enrolled, active counter behind the request's bearer token."""

    id: str
    cinema: str
    public_key: PublicKey


def current_device(
    session: SessionDep, authorization: Annotated[str | None, Header()] = None
) -> DeviceIdentity:
    """Authenticate the bearer token (401/403), then end the read so no lock is held."""
    device = enrolment.authenticate(session, authorization)
    identity = DeviceIdentity(
        device.id, device.cinema, PublicKey.from_raw(bytes(device.public_raw))
    )
    session.commit()
    return identity


CurrentDevice = Annotated[DeviceIdentity, Depends(current_device)]


Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def _trusted(host: str, proxies: Networks) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_addr(request: Request) -> str:
    """The address enrolment guesses are counted against.

    The TCP peer, unless the peer is one of the trusted proxies the operator
    named (``cinepass-server --trusted-proxy CIDR``, on ``app.state``): then
    the nearest address in ``X-Forwarded-For`` that is not itself a trusted
    proxy (a client can prepend anything to that header, but not what the
    proxy appended after it). Without trusted proxies the header is ignored,
    so a client cannot buy fresh guesses by inventing addresses.
    """
    peer = request.client.host if request.client else "unknown"
    proxies: Networks = getattr(request.app.state, "trusted_proxies", ())
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = ",".join(request.headers.getlist("x-forwarded-for")).split(",")
    for hop in reversed([h.strip() for h in hops if h.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a garbled chain: count the proxy itself
        if not _trusted(hop, proxies):
            return hop
    return peer


ClientAddr = Annotated[str, Depends(client_addr)]
