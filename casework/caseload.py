"""A worker's caseload (a supervisor's: the team's too), with the figures that say where to
look first: members, last contact, next check-in due, compliance, open flags and overdue
follow-ups. Read for all cases at once, so a caseload of hundreds of cases stays fast.

Which cases appear is the access policy's answer to ``case.view`` for each case, from the
person's relations to every case read in one query.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from casework import notify, policy
from casework.identity import Actor
from flows.recurrence import next_due
from storage.desk import DeskStore
from storage.flags import Flags, FollowUps
from storage.schedules import Schedules
from storage.store import Store

COMPLIANCE_WEEKS = 8
MAX_QUERY = 60

__all__ = ["COMPLIANCE_WEEKS", "CaseRow", "Member", "by_worker", "caseload", "visible_case_ids"]


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One line of a caseload."""

    id: int
    code: str
    title: str | None
    status: str
    relations: frozenset[str]
    members: list[Member]
    workers: list[Member]
    last_contact: str | None
    next_due: datetime | None
    completed: int
    missed: int
    open_flags: int | None = None
    overdue_followups: int | None = None
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def mine(self) -> bool:
        """The person is a worker on the case (not only the supervisor of one)."""
        return "worker" in self.relations

    @property
    def compliance(self) -> float | None:
        """Completed / (completed + missed) scheduled check-ins over the period."""
        decided = self.completed + self.missed
        return self.completed / decided if decided else None


def visible_case_ids(store: Store, actor: Actor | int, action: str = "case.view") -> list[int]:
    """The ids of the cases the person may perform ``action`` on."""
    person = actor if isinstance(actor, int) else actor.person_id
    relations = DeskStore(store).relations_by_case(person)
    return [cid for cid, rel in relations.items() if policy.permits(rel, action)]


def caseload(
    store: Store, actor: Actor, now: datetime, *, query: str | None = None
) -> list[CaseRow]:
    """The cases the person may view, by code, narrowed to those whose code, title or a
    member's name contains ``query``. The view is audited (how many cases were listed)."""
    desk = DeskStore(store)
    relations = desk.relations_by_case(actor.person_id)
    ids = [cid for cid, rel in relations.items() if policy.permits(rel, "case.view")]
    query = (query or "").strip()[:MAX_QUERY]
    if query and ids:
        found = desk.find_cases(ids, query)
        ids = [cid for cid in ids if cid in found]
    cases = desk.cases(ids)
    members = desk.members(ids)
    last = desk.last_contact(ids)
    counts = desk.compliance(ids, now - timedelta(weeks=COMPLIANCE_WEEKS), now)
    due: dict[int, datetime] = {}
    for schedule in Schedules(store).of_cases(ids):
        if schedule.state != "active":
            continue
        nxt = next_due(schedule.rule, max(now, schedule.active_from))
        if nxt is not None and (schedule.case_id not in due or nxt < due[schedule.case_id]):
            due[schedule.case_id] = nxt
    flags, followups = _open_work(store, ids, now)
    rows = []
    for case in cases:
        people = [Member(int(m["id"]), str(m["name"]), str(m["role"])) for m in members[case.id]]
        done, missed = counts.get(case.id, (0, 0))
        rows.append(
            CaseRow(
                id=case.id,
                code=case.code,
                title=case.title,
                status=case.status,
                relations=relations[case.id],
                members=people,
                workers=[m for m in people if m.role == "worker"],
                last_contact=last.get(case.id),
                next_due=due.get(case.id),
                completed=done,
                missed=missed,
                open_flags=flags.get(case.id, 0),
                overdue_followups=followups.get(case.id, 0),
            )
        )
    store.audit(actor.person_id, "desk.caseload.view", "person", actor.person_id, count=len(rows))
    return rows


def _open_work(
    store: Store, case_ids: list[int], now: datetime
) -> tuple[dict[int, int], dict[int, int]]:
    """Per case: flags standing and not yet acknowledged, and open follow-ups overdue today
    (the local day of ``CASEFLOW_TZ``)."""
    flags: dict[int, int] = defaultdict(int)
    followups: dict[int, int] = defaultdict(int)
    for flag in Flags(store).of_cases(case_ids, open_only=True):
        flags[flag.case_id] += 1
    for task in FollowUps(store).of_cases(case_ids, due_before=notify.local_day(now)):
        followups[task.case_id] += 1
    return flags, followups


def by_worker(rows: list[CaseRow]) -> dict[str, list[CaseRow]]:
    """A supervisor's team cases grouped by worker name (a case with two workers under
    each); the person's own cases are left out."""
    groups: dict[str, list[CaseRow]] = defaultdict(list)
    for row in rows:
        if row.mine:
            continue
        for worker in row.workers or [Member(0, "—", "worker")]:
            groups[worker.name].append(row)
    return dict(sorted(groups.items()))
