"""Scheduled check-ins as user actions: create, pause, resume, remove, read compliance.

Every channel (Telegram's guided /schedule, ``caseflow schedule``, the desk) calls these;
the access policy and the flow checks live here once. A flow id is a claim wherever it
comes from (a button's data, a command's argument, a form): it must be a well-formed id of
a flow this installation has, and answered by the kind of member it is scheduled for.
"""

from __future__ import annotations

from datetime import datetime

from casework import policy
from casework.errors import Invalid, NotAllowed, NotFound
from casework.identity import Actor
from casework.interviews import ANSWERED_BY
from flows.problems import FlowError
from flows.recurrence import Recurrence
from flows.registry import FlowRegistry
from storage.schedules import ComplianceRow, Schedule, ScheduleRemoved, Schedules
from storage.store import NotFound as StoreNotFound
from storage.store import Store


def check_flow_for_member(
    store: Store, registry: FlowRegistry, case_id: int, member_id: int, flow_id: str
) -> str:
    """The member's role on the case, when ``flow_id`` is a flow they answer; else Invalid."""
    if not registry.known(flow_id):
        raise Invalid(f"no flow {flow_id[:40]!r} (see `caseflow flows list`)")
    try:
        respondent = registry.respondent(flow_id)
    except (FlowError, FileNotFoundError) as exc:
        raise Invalid(f"flow {flow_id!r} does not load") from exc
    relations = store.case_relations(case_id, member_id) & {"caregiver", "client"}
    if not relations:
        raise Invalid(f"person {member_id} is not a caregiver or client on this case")
    if respondent == "worker":
        raise Invalid(f"{flow_id!r} is answered by a worker; schedule flows members answer")
    if not relations & ANSWERED_BY.get(respondent, frozenset()):
        role = "/".join(sorted(relations))
        raise Invalid(f"{flow_id!r} is answered by a {respondent}, and this member is a {role}")
    return next(iter(sorted(relations)))


def create(
    store: Store,
    registry: FlowRegistry,
    actor: Actor | int,
    case_id: int,
    member_id: int,
    flow_id: str,
    rule: Recurrence,
    now: datetime,
) -> Schedule:
    """A new schedule of ``flow_id`` for a caregiver or client of the case."""
    policy.require(store, actor, "schedule.create", case_id)
    _refuse_closed(store, case_id)
    check_flow_for_member(store, registry, case_id, member_id, flow_id)
    person = actor if isinstance(actor, int) else actor.person_id
    return Schedules(store).create(case_id, member_id, flow_id, rule, person, now)


def _refuse_closed(store: Store, case_id: int) -> None:
    """A closed case sends no check-ins: closing paused its schedules, and nothing starts
    them again until the case is reopened (a follow-up after closing is the worker's)."""
    case = store.case(case_id)
    if case.status == "closed":
        raise Invalid(
            f"case {case.code} is closed; reopen it (with the reason) before scheduling check-ins"
        )


def get(store: Store, actor: Actor | int, schedule_id: int, action: str) -> Schedule:
    """A schedule the person may act on; another case's schedule looks like none at all."""
    try:
        schedule = Schedules(store).get(schedule_id)
    except StoreNotFound as exc:
        raise NotFound(f"no schedule {schedule_id}") from exc
    try:
        policy.require(
            store, actor, action, schedule.case_id, entity="schedule", entity_id=schedule_id
        )
    except NotAllowed as exc:
        raise NotFound(f"no schedule {schedule_id}") from exc
    return schedule


def change(store: Store, actor: Actor | int, schedule_id: int, verb: str, now: datetime) -> bool:
    """Pause, resume or remove; False when it was so already. Invalid for a removed one."""
    schedule = get(store, actor, schedule_id, "schedule.change")
    if verb == "resume":
        _refuse_closed(store, schedule.case_id)
    schedules = Schedules(store)
    person = actor if isinstance(actor, int) else actor.person_id
    verbs = {"pause": schedules.pause, "resume": schedules.resume, "remove": schedules.remove}
    try:
        return verbs[verb](schedule.id, person, now)
    except ScheduleRemoved as exc:
        raise Invalid(f"schedule {schedule_id} was removed") from exc


def of_case(store: Store, actor: Actor | int, case_id: int) -> list[Schedule]:
    policy.require(store, actor, "schedule.view", case_id)
    found = Schedules(store).all(case_id)
    person = actor if isinstance(actor, int) else actor.person_id
    store.audit(person, "schedules.read", "case", case_id, case_id, count=len(found))
    return found


def compliance(
    store: Store, actor: Actor | int, case_id: int, now: datetime, weeks: int = 8
) -> list[ComplianceRow]:
    policy.require(store, actor, "compliance.view", case_id)
    person = actor if isinstance(actor, int) else actor.person_id
    store.audit(person, "compliance.read", "case", case_id, case_id)
    return Schedules(store).compliance(case_id, now, weeks)


__all__ = ["change", "check_flow_for_member", "compliance", "create", "get", "of_case"]
