"""The case file as user actions, for every channel: the client's profile, consent, the
plan's goals, closing and reopening. Each asks the access policy first (a refusal is
audited and raised as ``NotAllowed``); what the case file cannot hold is ``Invalid``, with
words a person can act on; a closed case refusing a change, or a case without a closing
report refusing to close, is ``Refused``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from casework import policy
from casework.errors import CaseworkError, Invalid
from casework.identity import Actor
from storage.casefile import (
    CLIENT_GROUPS,
    GOAL_STATUSES,
    CaseClosed,
    CaseFile,
    CaseNotClosed,
    ConsentRecord,
    Goal,
    NoClosingReport,
    Profile,
)
from storage.store import Case, NotFound, StorageError, Store

__all__ = [
    "CLIENT_GROUPS",
    "GOAL_STATUSES",
    "Closed",
    "Refused",
    "add_goal",
    "age_or_birth_year",
    "close",
    "record_consent",
    "reopen",
    "set_goal_status",
    "set_profile",
]

PROFILE_FIELDS = ("client_name", "birth_year", "client_group", "caregiver", "worker_id")


class Refused(CaseworkError):
    """The case file's own rules refuse it: a closed case's plan, closing without a closing
    report, reopening an open case."""


@dataclass(frozen=True, slots=True)
class Closed:
    case: Case
    report_session: str
    paused_schedules: list[int]


def age_or_birth_year(text: str, today: date) -> int | None:
    """A birth year from what a person types for "age or year of birth": ``8`` is an age,
    ``2017`` a year. ``None`` for an empty answer; ``Invalid`` for anything else."""
    text = text.strip()
    if not text:
        return None
    if not text.isdecimal() or len(text) > 4:
        raise Invalid("age_bad")
    number = int(text)
    if number <= 120:
        return today.year - number
    if 1890 <= number <= today.year:
        return number
    raise Invalid("age_bad")


def set_profile(store: Store, actor: Actor | int, case: Case, **changes: Any) -> Profile:
    """Change some fields of the case's profile; fields not given stay, ``None`` clears."""
    policy.require(store, actor, "case.profile.edit", case.id)
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise Invalid(f"a profile has no field {', '.join(sorted(unknown))}")
    worker = changes.get("worker_id")
    if worker is not None:
        staff = {
            int(m["id"]) for m in store.members(case.id) if m["role"] in ("worker", "supervisor")
        }
        if int(worker) not in staff:
            raise Invalid("the responsible worker must be a worker on the case")
    try:
        return CaseFile(store).set_profile(case.id, _person(actor), **changes)
    except (StorageError, ValueError) as exc:
        raise Invalid(str(exc)) from exc


def record_consent(
    store: Store,
    actor: Actor | int,
    case: Case,
    *,
    by: str,
    role: str,
    method: str,
    on: str,
    agreed: bool = True,
) -> ConsentRecord:
    """Record consent given outside the consent interview (spoken, or a signed paper form):
    who agreed, in what role, how and on which day (YYYY-MM-DD)."""
    policy.require(store, actor, "consent.record", case.id)
    try:
        return CaseFile(store).record_consent(
            case.id, agreed=agreed, by=by, role=role, method=method, on=on, actor_id=_person(actor)
        )
    except StorageError as exc:
        raise Invalid(str(exc)) from exc


def add_goal(
    store: Store,
    actor: Actor | int,
    case: Case,
    title: str,
    *,
    area: str | None = None,
    activities: str | None = None,
    target: str | None = None,
) -> Goal:
    policy.require(store, actor, "plan.edit", case.id)
    try:
        return CaseFile(store).add_goal(
            case.id,
            title,
            area=area,
            activities=activities,
            target=target,
            actor_id=_person(actor),
        )
    except CaseClosed as exc:
        raise Refused(str(exc)) from exc
    except StorageError as exc:
        raise Invalid(str(exc)) from exc


def set_goal_status(store: Store, actor: Actor | int, case: Case, number: int, status: str) -> Goal:
    policy.require(store, actor, "plan.edit", case.id)
    if status not in GOAL_STATUSES:
        raise Invalid(f"unknown status {status!r}; use one of {', '.join(GOAL_STATUSES)}")
    if store.case(case.id).status == "closed":
        raise Refused(f"case {case.code} is closed; reopen it to change its plan")
    try:
        return CaseFile(store).set_goal_status(case.id, number, status, _person(actor))
    except NotFound as exc:
        raise Invalid(str(exc)) from exc


def close(store: Store, actor: Actor | int, case: Case) -> Closed:
    """Close the case: it needs a closing report written since it was (re)opened; its active
    schedules are paused."""
    policy.require(store, actor, "case.close", case.id)
    try:
        event = CaseFile(store).close(case.id, _person(actor))
    except (CaseClosed, NoClosingReport) as exc:
        raise Refused(str(exc)) from exc
    return Closed(store.case(case.id), str(event["session_id"]), json.loads(event["schedules"]))


def reopen(store: Store, actor: Actor | int, case: Case, reason: str) -> list[int]:
    """Reopen a closed case, with the reason. Returns the schedules closing paused (they stay
    paused: the worker resumes those still wanted)."""
    policy.require(store, actor, "case.close", case.id)
    casefile = CaseFile(store)
    try:
        casefile.reopen(case.id, reason, _person(actor))
    except CaseNotClosed as exc:
        raise Refused(str(exc)) from exc
    except StorageError as exc:
        raise Invalid(str(exc)) from exc
    closed = [e for e in casefile.events(case.id) if e["kind"] == "closed"]
    return [int(s) for s in json.loads(closed[-1]["schedules"])] if closed else []


def _person(actor: Actor | int) -> int:
    return actor if isinstance(actor, int) else actor.person_id
