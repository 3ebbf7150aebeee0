"""Signing in to the desk without passwords: one-time links, and the browser's session.

A worker gets a link from the bot (``/desk``) or from an administrator (``caseflow desk link
WORKER``). The link holds a random token that works once, within 15 minutes; spending it
starts a desk session, whose random id the browser keeps in a signed cookie. A session ends
when the worker signs out or after a spell without requests (30 minutes unless configured).
Only SHA-256 hashes of tokens and session ids are stored. Every step is audited: the link
made (for whom, by whom, through which door), the sign-in, a refused link, the sign-out.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from casework.errors import Invalid, NotFound
from casework.identity import WORKER_ROLES, Actor, actor_from_row
from storage.desk import DeskStore
from storage.store import NotFound as StoreNotFound
from storage.store import Store

LINK_LIFETIME = timedelta(minutes=15)
IDLE_TIMEOUT = timedelta(minutes=30)
# A session's last-seen time is written at most this often: a page view is a read, and a
# write per request would only add contention with the bot for nothing.
TOUCH_EVERY = timedelta(seconds=30)

__all__ = [
    "IDLE_TIMEOUT",
    "LINK_LIFETIME",
    "DeskSession",
    "first_worker",
    "issue_link",
    "redeem_link",
    "resume",
    "sign_out",
    "token_hash",
    "worker_by_key",
]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _usable(row: dict[str, Any]) -> bool:
    return str(row["role"]) in WORKER_ROLES


def worker_by_key(store: Store, key: str) -> dict[str, Any]:
    """A worker named by Telegram user id or by the login of their linked OS account."""
    key = key.strip()
    row = None
    if key.lstrip("-").isdecimal() and len(key) < 20:
        row = store.person_by_telegram(int(key))
    if row is None:
        row = store.person_by_login(key)
    if row is None or not _usable(row):
        raise NotFound(f"no registered worker {key[:40]!r}")
    return row


def issue_link(
    store: Store, person_id: int, now: datetime, *, created_by: int | None, via: str
) -> str:
    """A new one-time sign-in token for a worker, supervisor or administrator."""
    try:
        person = store.person(person_id)
    except StoreNotFound as exc:
        raise NotFound(f"no person {person_id}") from exc
    if not _usable(person):
        raise Invalid("only workers and supervisors sign in to the desk")
    token = secrets.token_urlsafe(32)
    DeskStore(store).add_signin(
        token_hash(token), person_id, created_by, via, now, now + LINK_LIFETIME
    )
    return token


@dataclass(frozen=True, slots=True)
class DeskSession:
    """A signed-in browser: the secret the cookie carries, and who it is."""

    token: str
    actor: Actor


def redeem_link(store: Store, token: str, now: datetime) -> DeskSession:
    """Spend a sign-in token and start a desk session. NotFound for a token that is
    unknown, used or expired (all look the same, and the refusal is audited)."""
    desk = DeskStore(store)
    hashed = token_hash(token) if 0 < len(token) <= 128 else ""
    session_token = secrets.token_urlsafe(32)
    person = None
    with store.atomic():
        person_id = desk.use_signin(hashed, now) if hashed else None
        person = store.person(person_id) if person_id is not None else None
        if person is not None and _usable(person):
            desk.add_session(token_hash(session_token), int(person["id"]), now)
            store.audit(int(person["id"]), "desk.signin", "person", person["id"], channel="desk")
    if person is None or not _usable(person):
        # Outside the transaction: a refusal is recorded even though nothing else is.
        store.audit_refusal(None, "desk.signin", "signin_link", hashed[:16] or None)
        raise NotFound("sign-in link")
    return DeskSession(session_token, actor_from_row(person, "desk"))


def resume(
    store: Store, session_token: str, now: datetime, idle: timedelta = IDLE_TIMEOUT
) -> Actor | None:
    """The person a desk session belongs to, or None when it is unknown, signed out or idle
    for longer than ``idle`` (then it ends, audited)."""
    desk = DeskStore(store)
    hashed = token_hash(session_token)
    row = desk.session(hashed)
    if row is None or row["ended_at"] is not None:
        return None
    seen = datetime.fromisoformat(str(row["last_seen_at"]))
    if now - seen > idle:
        with store.atomic():
            if desk.end_session(hashed, now, "idle"):
                store.audit(int(row["person_id"]), "desk.expired", "person", row["person_id"])
        return None
    if now - seen >= TOUCH_EVERY:
        desk.touch_session(hashed, now)
    try:
        person = store.person(int(row["person_id"]))
    except StoreNotFound:
        return None
    if not _usable(person):
        return None
    return actor_from_row(person, "desk")


def sign_out(store: Store, session_token: str, now: datetime) -> None:
    desk = DeskStore(store)
    hashed = token_hash(session_token)
    row = desk.session(hashed)
    with store.atomic():
        if row is not None and desk.end_session(hashed, now, "signout"):
            store.audit(int(row["person_id"]), "desk.signout", "person", row["person_id"])


@dataclass(frozen=True, slots=True)
class FirstWorker:
    person_id: int
    name: str
    created: bool


def first_worker(store: Store, login: str) -> FirstWorker | None:
    """The worker linked to the OS account ``login``. On a database with no worker at all,
    that account is registered as the first worker (audited) so that a fresh install can be
    used at once; on any other database an unlinked account gets None."""
    row = store.person_by_login(login)
    if row is not None:
        return FirstWorker(int(row["id"]), str(row["name"]), False) if _usable(row) else None
    with store.atomic():
        if DeskStore(store).workers():
            return None
        person_id = store.add_person(login, "worker", local_user=login)
        store.audit(
            person_id, "desk.first_worker", "person", person_id, os_user=login, channel="terminal"
        )
    return FirstWorker(person_id, login, True)
