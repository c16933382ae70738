"""Idempotency-Key: a partner's retry gets the first answer, kept with it (issue 14).

The answer is stored in the transaction that made it, so both or neither exist;
a refusal keeps nothing and a retry may succeed later (docs/online-api.md).
Apart from :mod:`.online` so each stays small.

Two ways to run a request once. :func:`once` (release, cancel) takes the
feed-head lock first, so a concurrent request with the same key waits for it
and then finds the answer. :func:`kept` (hold, confirm: the hot path) lets
the operation claim the key with its answer *before* it takes the lock
(:class:`Keeper`): on PostgreSQL the key's row is inserted ``ON CONFLICT DO
NOTHING``, so a concurrent request with the same key waits on that row alone,
then finds the first answer; the lock is held only for what needs it (docs/online-api.md, "Speed").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from sync.server.models import OnlineRequest, now_ms

from .online import lock
from .partners import OnlineError, PartnerIdentity

_Q = cast(Table, OnlineRequest.__table__)
#: built once (SQLAlchemy Core: see docs/online-api.md, "Speed")
ANSWERED = select(_Q.c.fingerprint, _Q.c.response).where(
    _Q.c.partner == bindparam("partner"), _Q.c.key == bindparam("key")
)
REMEMBER = insert(_Q)
#: PostgreSQL's claim: a concurrent request's row with the same key makes this one wait
#: for its transaction, then insert nothing if it committed (rowcount 0), or insert if it
#: rolled back: what a savepoint around :data:`REMEMBER` did, in one statement, not three
CLAIM = postgresql.insert(_Q).on_conflict_do_nothing(index_elements=["partner", "key"])
AMEND = (
    update(_Q)
    .where(_Q.c.partner == bindparam("p"), _Q.c.key == bindparam("k"))
    .values(response=bindparam("answer"))
)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What an Idempotency-Key is bound to: the method, the path and the body's bytes."""
    digest = hashlib.sha256(body).hexdigest()
    return hashlib.sha256(f"{method.upper()}\n{path}\n{digest}".encode()).hexdigest()


def remembered(
    session: Session, partner: PartnerIdentity, key: str, print_: str
) -> dict[str, Any] | None:
    """The answer already given to this key (None: a new request); another body: mismatch."""
    row = session.connection().execute(ANSWERED, {"partner": partner.id, "key": key}).first()
    if row is None:
        return None
    if row.fingerprint != print_:
        raise OnlineError(
            "idempotency_mismatch",
            "同一 Idempotency-Key 用于不同请求 / this Idempotency-Key was used for another request",
        )
    return dict(row.response)


def remember(
    session: Session,
    partner: PartnerIdentity,
    key: str,
    print_: str,
    answer: dict[str, Any],
    stmt: Any = REMEMBER,
) -> int:
    """Keep ``answer`` for ``key`` in the transaction that made it (so both or neither);
    the rows inserted (0: :data:`CLAIM` met a committed answer)."""
    row = {
        "partner": partner.id,
        "key": key,
        "fingerprint": print_,
        "status_code": 200,
        "response": answer,
        "at": now_ms(),
    }
    return int(session.connection().execute(stmt, row).rowcount)


def once(
    session: Session,
    partner: PartnerIdentity,
    key: str | None,
    print_: str,
    operation: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Run ``operation`` at most once per ``key``: a replay gets the first answer.

    The feed-head lock comes first, so a concurrent request with the same key
    waits and then finds the answer. Only answers are kept: a refusal rolls
    back, and a retry with the same key may succeed later (docs/online-api.md).
    """
    lock(session)
    if key is not None:
        prior = remembered(session, partner, key, print_)
        if prior is not None:
            return prior
    answer = operation()
    if key is not None:
        remember(session, partner, key, print_, answer)
    return answer


@dataclass(frozen=True)
class Keeper:
    """The Idempotency-Key of one request, claimed by its operation (see the module docstring)."""

    session: Session
    partner: PartnerIdentity
    key: str | None
    print_: str

    def claim(self, answer: dict[str, Any]) -> dict[str, Any] | None:
        """Keep ``answer`` for the key now, before the work that makes it true.

        None: this request is the first with the key (the row is kept if the
        transaction commits, gone with it if refused). Else the answer a
        concurrent request with the key committed meanwhile (this one waited
        on the key's row), or ``idempotency_mismatch``.
        """
        if self.key is None:
            return None
        if self.session.get_bind().dialect.name == "sqlite":
            # one transaction at a time (BEGIN IMMEDIATE): kept() looked the key up in this
            # very transaction, so nobody can have claimed it since; no savepoint needed
            remember(self.session, self.partner, self.key, self.print_, answer)
            return None
        if remember(self.session, self.partner, self.key, self.print_, answer, CLAIM):
            return None
        prior = remembered(self.session, self.partner, self.key, self.print_)
        if prior is None:  # cannot be: the row that clashed was committed
            raise OnlineError(
                "conflict", "并发修改，请重试 / a concurrent change got in first; retry"
            )
        return prior

    def amend(self, answer: dict[str, Any]) -> None:
        """The answer turned out otherwise (a concurrent request did the work): keep that."""
        if self.key is not None:
            params = {"p": self.partner.id, "k": self.key, "answer": answer}
            self.session.connection().execute(AMEND, params)


def kept(
    session: Session,
    partner: PartnerIdentity,
    key: str | None,
    print_: str,
    operation: Callable[[Keeper], dict[str, Any]],
) -> dict[str, Any]:
    """Run ``operation`` at most once per ``key``; it claims the key itself (:class:`Keeper`).

    A replay whose answer is already committed gets it here, before any lock.
    """
    if key is not None:
        prior = remembered(session, partner, key, print_)
        if prior is not None:
            return prior
    return operation(Keeper(session, partner, key, print_))


def answered_meanwhile(
    session: Session, partner: PartnerIdentity, key: str | None, print_: str, refusal: str
) -> dict[str, Any] | None:
    """The answer a concurrent send of the same key committed while this one was refused.

    Call after the refused transaction's rollback, so only committed rows are
    read, never this request's own claim. On PostgreSQL two sends of one hold
    can both find the key unanswered (:func:`kept`); the second then sees the
    first's hold and would answer ``held_by_other``, where a retry must get the
    first answer. None: no such answer, or one for another body (the refusal
    stands).
    """
    if key is None or refusal == "idempotency_mismatch":
        return None
    try:
        return remembered(session, partner, key, print_)
    except OnlineError:
        return None
