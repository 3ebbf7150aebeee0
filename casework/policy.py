"""Who may do what on a case: the one place that decides, for every channel.

A person's rights on a case come from how they stand to *that case*
(``Store.case_relations``): a worker on it, the supervisor of a worker on it, or a caregiver
or client on it. A global role never grants anything on a case by itself. The table below
reads like the policy a supervisor would write on paper; ``tests/test_policy.py`` walks every
action against every relation, so a new action without a rule fails there.

Refusals are audited (collapsed to one row per person, action and thing an hour, so a
flood leaves bounded rows) and look, to the person, like a missing thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from casework.errors import NotAllowed
from casework.identity import Actor
from storage.store import Store

Relations = frozenset[str]


@dataclass(frozen=True, slots=True)
class Rule:
    """A named predicate over a person's relations to a case; ``|`` and ``&`` compose."""

    name: str
    test: Callable[[Relations], bool]

    def __call__(self, relations: Relations) -> bool:
        return self.test(relations)

    def __or__(self, other: Rule) -> Rule:
        return Rule(f"{self.name} | {other.name}", lambda r: self(r) or other(r))

    def __and__(self, other: Rule) -> Rule:
        return Rule(f"{self.name} & {other.name}", lambda r: self(r) and other(r))


def _has(relation: str) -> Rule:
    return Rule(f"is_{relation}_on_case", lambda r: relation in r)


is_worker_on_case = _has("worker")
is_supervisor_of_case_worker = _has("supervisor")
is_caregiver_on_case = _has("caregiver")
is_client_on_case = _has("client")
is_respondent_on_case = is_caregiver_on_case | is_client_on_case
is_staff_on_case = is_worker_on_case | is_supervisor_of_case_worker

RULES: dict[str, Rule] = {
    # the case and its people
    "case.view": is_staff_on_case,
    "case.edit": is_worker_on_case,
    "case.close": is_worker_on_case,  # and reopening, with a reason
    # the case file
    "case.profile.edit": is_worker_on_case,
    "consent.record": is_worker_on_case,
    "plan.edit": is_worker_on_case,
    "member.invite": is_worker_on_case,
    "member.link": is_worker_on_case,
    # interviews
    "interview.run": is_worker_on_case,  # worker-administered flows, and a client's scales
    "checkin.answer": is_respondent_on_case,  # a caregiver's or client's own check-in
    "note.create": is_worker_on_case | is_respondent_on_case,
    # records
    "record.view": is_staff_on_case,
    "record.sign": is_staff_on_case,
    "record.amend": is_worker_on_case,
    "record.export": is_staff_on_case,
    "scores.view": is_staff_on_case,
    "voice.replay": is_staff_on_case,
    # scheduled check-ins
    "schedule.view": is_staff_on_case,
    "schedule.create": is_worker_on_case,
    "schedule.change": is_worker_on_case,
    "compliance.view": is_staff_on_case,
    # what calls for action
    "flag.view": is_staff_on_case,
    "flag.ack": is_staff_on_case,
    "followup.view": is_staff_on_case,
    "followup.done": is_staff_on_case,
}

ACTIONS = tuple(RULES)


def _person(actor: Actor | int) -> int:
    return actor if isinstance(actor, int) else actor.person_id


def allowed(store: Store, actor: Actor | int, action: str, case_id: int) -> bool:
    """Whether the person may perform ``action`` on the case. Unknown actions: never."""
    rule = RULES.get(action)
    if rule is None:
        return False
    return rule(store.case_relations(case_id, _person(actor)))


def permits(relations: Relations, action: str) -> bool:
    """``allowed`` for relations already read (a caseload reads them for all cases at once
    with ``DeskStore.relations_by_case``). Unknown actions: never."""
    rule = RULES.get(action)
    return rule is not None and rule(relations)


def require(
    store: Store,
    actor: Actor | int,
    action: str,
    case_id: int,
    *,
    entity: str = "case",
    entity_id: object = None,
) -> None:
    """Raise ``NotAllowed`` unless the person may perform the action; a refusal is audited
    with the action and the case."""
    if allowed(store, actor, action, case_id):
        return
    store.audit_refusal(
        _person(actor), action, entity, case_id if entity_id is None else entity_id, case_id
    )
    raise NotAllowed(action)


def may_open_cases(actor: Actor) -> bool:
    """Opening a new case is the one right that comes from the global role: a registered
    worker or supervisor (who then becomes the new case's worker)."""
    return actor.is_worker


def refuse_stranger(store: Store, telegram_user_id: int, action: str) -> None:
    """A person we do not know tried something: at most one audit row an hour each."""
    store.audit_refusal(None, action, "telegram_user", telegram_user_id)


__all__ = [
    "ACTIONS",
    "RULES",
    "Rule",
    "allowed",
    "is_caregiver_on_case",
    "is_client_on_case",
    "is_staff_on_case",
    "is_supervisor_of_case_worker",
    "is_worker_on_case",
    "may_open_cases",
    "permits",
    "refuse_stranger",
    "require",
]
