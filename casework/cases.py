"""Cases and their people as user actions: find a case, open one, invite, join."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from casework import policy
from casework.errors import Invalid, NotAllowed, NotFound
from casework.identity import Actor
from storage.desk import DeskStore
from storage.store import Case, Store
from storage.store import NotFound as StoreNotFound

INVITE_DAYS = 7
CASE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,19}$")
INVITE_ROLES = ("caregiver", "client")


def case_for(store: Store, actor: Actor | int, code: str, action: str) -> Case:
    """The case with ``code`` if the person may perform ``action`` on it. A case they may
    not touch answers exactly like one that does not exist (the refusal is audited)."""
    try:
        case = store.case_by_code(code.strip().upper())
    except StoreNotFound as exc:
        raise NotFound(code) from exc
    try:
        policy.require(store, actor, action, case.id)
    except NotAllowed as exc:
        raise NotFound(code) from exc
    return case


def case_by_id(store: Store, actor: Actor | int, case_id: int, action: str) -> Case:
    try:
        case = store.case(case_id)
    except StoreNotFound as exc:
        raise NotFound(str(case_id)) from exc
    try:
        policy.require(store, actor, action, case.id)
    except NotAllowed as exc:
        raise NotFound(str(case_id)) from exc
    return case


def cases_where(store: Store, actor: Actor | int, action: str) -> list[Case]:
    """The cases the person may perform ``action`` on, by code."""
    person = actor if isinstance(actor, int) else actor.person_id
    rows = store.cases_of(person)
    return [
        store.case(int(r["id"]))
        for r in rows
        if policy.allowed(store, person, action, int(r["id"]))
    ]


def open_case(
    store: Store,
    actor: Actor,
    code: str,
    facts: dict[str, Any] | None = None,
    *,
    title: str | None = None,
) -> Case:
    """A new case with the actor as its worker. Only registered workers open cases."""
    if not policy.may_open_cases(actor):
        store.audit_refusal(actor.person_id, "case.create", "case", code[:20])
        raise NotAllowed("case.create")
    try:
        store.case_by_code(code)
    except StoreNotFound:
        return store.create_case(code, actor.person_id, title=title or None, facts=facts)
    raise Invalid(f"there is already a case {code}")


def next_code(store: Store) -> str:
    """The first free code of the form C-0001 from the number of cases on."""
    number = DeskStore(store).case_count() + 1
    while True:
        code = f"C-{number:04d}"
        if not store.case_exists(code):
            return code
        number += 1


@dataclass(frozen=True)
class Invite:
    token: str
    case: Case
    role: str
    expires: datetime


def invite(store: Store, actor: Actor | int, case: Case, role: str, now: datetime) -> Invite:
    """A one-time, expiring invitation for a caregiver or client to join the case."""
    if role not in INVITE_ROLES:
        raise Invalid(f"invite a caregiver or a client, not {role[:20]!r}")
    policy.require(store, actor, "member.invite", case.id)
    person = actor if isinstance(actor, int) else actor.person_id
    token = secrets.token_urlsafe(18)  # 24 characters of [A-Za-z0-9_-]
    expires = now + timedelta(days=INVITE_DAYS)
    store.create_invite(token, case.id, role, person, expires.isoformat())
    return Invite(token, case, role, expires)


@dataclass(frozen=True)
class Joined:
    case: Case
    person_id: int
    role: str
    inviter_id: int


def join(
    store: Store,
    token: str,
    person_id: int | None,
    now: datetime,
    *,
    new_person: dict[str, Any] | None = None,
) -> Joined:
    """Use an invitation: the person joins the case in the invitation's role, and only that
    role, whatever else they are elsewhere. A person not yet known is created from
    ``new_person`` (name, telegram_user_id, lang). Call inside the update's transaction."""
    row = store.invite(token) if 0 < len(token) <= 64 else None
    if row is None or row["used_by"] is not None or datetime.fromisoformat(row["expires_at"]) < now:
        raise NotFound("invite")
    role = str(row["role"])
    if role not in INVITE_ROLES:
        raise NotFound("invite")
    if person_id is None:
        if new_person is None:
            raise Invalid("no person to join")
        person_id = store.add_person(role=role, **new_person)
    if not store.use_invite(token, person_id):
        raise NotFound("invite")  # used a moment ago by someone else
    case = store.case(int(row["case_id"]))
    if not store.is_member(case.id, person_id):
        store.add_member(case.id, person_id, role, person_id)
    return Joined(case, person_id, role, int(row["created_by"]))


__all__ = [
    "CASE_CODE",
    "Invite",
    "Joined",
    "case_by_id",
    "case_for",
    "cases_where",
    "invite",
    "join",
    "next_code",
    "open_case",
]
