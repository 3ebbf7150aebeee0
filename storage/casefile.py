"""The case file around the answers: the client's profile, consent, the intervention plan's
goals and their progress, the facts each session record sets (held on, number, stage), and
closing and reopening a case.

A completed session's ``flows.outcome.Outcome`` is written here in the transaction that
completes it (``write_outcome``), and again when an answer of it is amended, so the case
file never disagrees with the answers it was read from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flows.model import CLIENT_GROUPS, CONSENT_METHODS, CONSENT_ROLES
from flows.outcome import Outcome
from storage import store as _store
from storage.store import NotFound, StorageError, Store, _json

__all__ = [
    "CHILD_GROUPS",
    "CLIENT_GROUPS",
    "GOAL_STATUSES",
    "CaseClosed",
    "CaseFile",
    "CaseNotClosed",
    "ConsentRecord",
    "Goal",
    "GoalRating",
    "NoClosingReport",
    "Profile",
    "case_facts",
    "write_outcome",
]

CHILD_GROUPS = ("left_behind_child", "low_income_child", "child_in_difficulty", "family")
"""Groups whose client is a child (a family case is about a child in difficulty), whose
name flows pipe as ``case.child_name``."""
GOAL_STATUSES = ("active", "met", "partly_met", "not_met", "dropped")


class CaseClosed(StorageError):
    """The case is closed: reopen it (with a reason) first."""


class CaseNotClosed(StorageError):
    """The case is open, so it cannot be reopened."""


class NoClosingReport(StorageError):
    """A case closes with a completed closing report written since it was (re)opened."""


@dataclass(frozen=True, slots=True)
class Profile:
    case_id: int
    client_name: str | None
    birth_year: int | None
    client_group: str | None
    caregiver: str | None
    worker_id: int | None
    worker_name: str | None
    updated_at: str | None

    def age(self, today: date) -> int | None:
        """Age in whole years as of ``today`` (from the birth year: ±1)."""
        return today.year - self.birth_year if self.birth_year else None


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    id: int
    case_id: int
    session_id: str | None
    agreed: bool
    agreed_by: str
    agreed_role: str
    method: str
    agreed_on: str
    explained: list[str]
    recorded_by: int | None
    recorded_at: str


@dataclass(frozen=True, slots=True)
class GoalRating:
    session_id: str
    rating: int | None
    low: int | None
    high: int | None
    rated_on: str | None


@dataclass(frozen=True, slots=True)
class Goal:
    id: int
    case_id: int
    number: int
    title: str
    area: str | None
    activities: str | None
    target: str | None
    status: str
    created_at: str
    ratings: list[GoalRating] = field(default_factory=list)

    def fact(self) -> dict[str, Any]:
        """The goal as flows see it (``case.goals``)."""
        return {
            "number": self.number,
            "title": self.title,
            "area": self.area,
            "target": self.target,
            "status": self.status,
        }


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None


class CaseFile:
    """Profile, consent, goals and closing of cases in one ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- profile ------------------------------------------------------------------------

    def profile(self, case_id: int) -> Profile | None:
        row = self.store._one(
            "SELECT p.*, w.name AS worker_name FROM case_profiles p"
            " LEFT JOIN people w ON w.id = p.worker_id WHERE p.case_id = ?",
            (case_id,),
        )
        if row is None:
            return None
        return Profile(
            case_id=int(row["case_id"]),
            client_name=row["client_name"],
            birth_year=row["birth_year"],
            client_group=row["client_group"],
            caregiver=row["caregiver"],
            worker_id=row["worker_id"],
            worker_name=row["worker_name"],
            updated_at=row["updated_at"],
        )

    def set_profile(self, case_id: int, actor_id: int | None, **changes: Any) -> Profile:
        """Change some fields of a case's profile (``client_name``, ``birth_year``,
        ``client_group``, ``caregiver``, ``worker_id``); the others stay. ``None`` clears a
        field. Raises ``StorageError`` on a value the profile cannot hold."""
        allowed = {"client_name", "birth_year", "client_group", "caregiver", "worker_id"}
        unknown = set(changes) - allowed
        if unknown:
            raise StorageError(f"a profile has no field {', '.join(sorted(unknown))}")
        for key in ("client_name", "caregiver"):
            if key in changes:
                changes[key] = _clean(changes[key])
        group = changes.get("client_group")
        if group is not None and group not in CLIENT_GROUPS:
            raise StorageError(f"unknown group {group!r}; use one of {', '.join(CLIENT_GROUPS)}")
        year = changes.get("birth_year")
        if year is not None and not 1890 <= int(year) <= date.today().year:
            raise StorageError(f"birth year {year} is not a plausible year")
        worker = changes.get("worker_id")
        if worker is not None:
            self.store.person(int(worker))  # NotFound when there is no such person
        self.store.case(case_id)
        with self.store.atomic():
            self.store.db.execute(
                "INSERT INTO case_profiles (case_id, updated_at, updated_by) VALUES (?, ?, ?)"
                " ON CONFLICT (case_id) DO NOTHING",
                (case_id, _store._now(), actor_id),
            )
            if changes:
                assignments = ", ".join(f"{key} = ?" for key in sorted(changes))
                self.store.db.execute(
                    f"UPDATE case_profiles SET {assignments}, updated_at = ?, updated_by = ?"  # noqa: S608 - keys are checked above
                    " WHERE case_id = ?",
                    (*(changes[k] for k in sorted(changes)), _store._now(), actor_id, case_id),
                )
            self.store.audit(
                actor_id, "case.profile.edit", "case", case_id, case_id, fields=sorted(changes)
            )
        profile = self.profile(case_id)
        assert profile is not None
        return profile

    # -- consent ------------------------------------------------------------------------

    def _consent(self, row: Mapping[str, Any]) -> ConsentRecord:
        return ConsentRecord(
            id=int(row["id"]),
            case_id=int(row["case_id"]),
            session_id=row["session_id"],
            agreed=bool(row["agreed"]),
            agreed_by=str(row["agreed_by"]),
            agreed_role=str(row["agreed_role"]),
            method=str(row["method"]),
            agreed_on=str(row["agreed_on"]),
            explained=list(json.loads(row["explained"])),
            recorded_by=row["recorded_by"],
            recorded_at=str(row["recorded_at"]),
        )

    def record_consent(
        self,
        case_id: int,
        *,
        agreed: bool,
        by: str,
        role: str,
        method: str,
        on: str,
        explained: list[str] | None = None,
        actor_id: int | None,
        session_id: str | None = None,
    ) -> ConsentRecord:
        """Record that someone agreed (or declined) to the service being recorded."""
        with self.store.atomic():
            consent_id = self._insert_consent(
                case_id, agreed, by, role, method, on, explained or [], actor_id, session_id
            )
        return next(c for c in self.consents(case_id) if c.id == consent_id)

    def _insert_consent(
        self,
        case_id: int,
        agreed: bool,
        by: str,
        role: str,
        method: str,
        on: str,
        explained: list[str],
        actor_id: int | None,
        session_id: str | None,
    ) -> int:
        by = _clean(by) or ""
        if not by:
            raise StorageError("say who agreed")
        if role not in CONSENT_ROLES:
            raise StorageError(f"unknown role {role!r}; use one of {', '.join(CONSENT_ROLES)}")
        if method not in CONSENT_METHODS:
            raise StorageError(
                f"unknown way of agreeing {method!r}; use one of {', '.join(CONSENT_METHODS)}"
            )
        try:
            date.fromisoformat(on)
        except ValueError:
            raise StorageError(f"{on!r} is not a date; write it like 2026-03-02") from None
        cursor = self.store.db.execute(
            "INSERT INTO consents (case_id, session_id, agreed, agreed_by, agreed_role, method,"
            " agreed_on, explained, recorded_by, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                case_id,
                session_id,
                int(agreed),
                by,
                role,
                method,
                on,
                _json(list(explained)),
                actor_id,
                _store._now(),
            ),
        )
        consent_id = int(cursor.lastrowid or 0)
        self.store.audit(
            actor_id,
            "case.consent.record",
            "consent",
            consent_id,
            case_id,
            agreed=agreed,
            method=method,
        )
        return consent_id

    def consents(self, case_id: int) -> list[ConsentRecord]:
        """Every consent recorded on a case, oldest first; the last one holds."""
        rows = self.store._all(
            "SELECT * FROM consents WHERE case_id = ? ORDER BY agreed_on, id", (case_id,)
        )
        return [self._consent(r) for r in rows]

    def consent(self, case_id: int) -> ConsentRecord | None:
        """The consent that holds now: the latest one recorded."""
        found = self.consents(case_id)
        return found[-1] if found else None

    # -- goals --------------------------------------------------------------------------

    def _goal(self, row: Mapping[str, Any], ratings: list[GoalRating]) -> Goal:
        return Goal(
            id=int(row["id"]),
            case_id=int(row["case_id"]),
            number=int(row["number"]),
            title=str(row["title"]),
            area=row["area"],
            activities=row["activities"],
            target=row["target"],
            status=str(row["status"]),
            created_at=str(row["created_at"]),
            ratings=ratings,
        )

    def add_goal(
        self,
        case_id: int,
        title: str,
        *,
        area: str | None = None,
        activities: str | None = None,
        target: str | None = None,
        actor_id: int | None,
    ) -> Goal:
        """A new goal of the case's plan, numbered after the last one."""
        title = _clean(title) or ""
        if not title:
            raise StorageError("a goal needs a title")
        case = self.store.case(case_id)
        if case.status == "closed":
            raise CaseClosed(f"case {case.code} is closed; reopen it to change its plan")
        now = _store._now()
        with self.store.atomic():
            row = self.store._one(
                "SELECT COALESCE(MAX(number), 0) + 1 AS next FROM goals WHERE case_id = ?",
                (case_id,),
            )
            number = int((row or {}).get("next", 1))
            cursor = self.store.db.execute(
                "INSERT INTO goals (case_id, number, title, area, activities, target,"
                " created_by, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    case_id,
                    number,
                    title,
                    _clean(area),
                    (activities or "").strip() or None,
                    _clean(target),
                    actor_id,
                    now,
                    now,
                ),
            )
            goal_id = int(cursor.lastrowid or 0)
            self.store.audit(actor_id, "plan.goal.add", "goal", goal_id, case_id, number=number)
        return self.goal(case_id, number)

    def set_goal_status(self, case_id: int, number: int, status: str, actor_id: int | None) -> Goal:
        if status not in GOAL_STATUSES:
            raise StorageError(f"unknown status {status!r}; use one of {', '.join(GOAL_STATUSES)}")
        goal = self.goal(case_id, number)
        with self.store.atomic():
            self.store.db.execute(
                "UPDATE goals SET status = ?, updated_at = ? WHERE id = ?",
                (status, _store._now(), goal.id),
            )
            self.store.audit(actor_id, "plan.goal.status", "goal", goal.id, case_id, status=status)
        return self.goal(case_id, number)

    def goals(self, case_id: int) -> list[Goal]:
        """The case's goals by number, each with its progress ratings by the day the
        session was held."""
        rows = self.store._all("SELECT * FROM goals WHERE case_id = ? ORDER BY number", (case_id,))
        ratings: dict[int, list[GoalRating]] = {int(r["id"]): [] for r in rows}
        for r in self.store._all(
            "SELECT g.goal_id, g.session_id, g.rating, g.low, g.high, g.rated_on"
            " FROM goal_progress g JOIN goals ON goals.id = g.goal_id"
            " JOIN sessions s ON s.id = g.session_id"
            " WHERE goals.case_id = ? AND s.status = 'completed'"
            " ORDER BY COALESCE(g.rated_on, s.completed_at), s.completed_at, g.id",
            (case_id,),
        ):
            ratings[int(r["goal_id"])].append(
                GoalRating(r["session_id"], r["rating"], r["low"], r["high"], r["rated_on"])
            )
        return [self._goal(r, ratings[int(r["id"])]) for r in rows]

    def goal(self, case_id: int, number: int) -> Goal:
        for goal in self.goals(case_id):
            if goal.number == number:
                return goal
        raise NotFound(f"case {self.store.case(case_id).code} has no goal {number}")

    # -- closing ------------------------------------------------------------------------

    def events(self, case_id: int) -> list[dict[str, Any]]:
        """Closings and reopenings of a case, oldest first."""
        return self.store._all(
            "SELECT e.*, p.name AS actor_name FROM case_events e"
            " LEFT JOIN people p ON p.id = e.actor_id WHERE e.case_id = ? ORDER BY e.id",
            (case_id,),
        )

    def closing_report(self, case_id: int) -> str | None:
        """The closing report that closes the case: the latest completed session of a flow
        whose purpose is closing, written since the case was last reopened."""
        reopened = self.store._one(
            "SELECT MAX(at) AS at FROM case_events WHERE case_id = ? AND kind = 'reopened'",
            (case_id,),
        )
        since = (reopened or {}).get("at") or ""
        row = self.store._one(
            "SELECT s.id FROM sessions s"
            " WHERE s.case_id = ? AND s.status = 'completed' AND s.purpose = 'closing'"
            " AND s.completed_at > ? ORDER BY s.completed_at DESC LIMIT 1",
            (case_id, since),
        )
        return str(row["id"]) if row else None

    def close(self, case_id: int, actor_id: int | None, now: str | None = None) -> dict[str, Any]:
        """Close a case: it needs a closing report written since it was (re)opened. Its active
        schedules are paused (no more check-ins); returns the closing event."""
        case = self.store.case(case_id)
        if case.status == "closed":
            raise CaseClosed(f"case {case.code} is already closed")
        report = self.closing_report(case_id)
        if report is None:
            raise NoClosingReport(
                f"case {case.code} has no closing report since it was opened; "
                f"write one first: caseflow chat closing_report --case {case.code}"
            )
        at = now or _store._now()
        with self.store.atomic():
            paused = [
                int(r["id"])
                for r in self.store._all(
                    "SELECT id FROM schedules WHERE case_id = ? AND removed_at IS NULL"
                    " AND paused_at IS NULL ORDER BY id",
                    (case_id,),
                )
            ]
            for schedule_id in paused:
                self.store.db.execute(
                    "UPDATE schedules SET paused_at = ? WHERE id = ?", (at, schedule_id)
                )
                self.store.audit(actor_id, "schedule.pause", "schedule", schedule_id, case_id)
            self.store.db.execute("UPDATE cases SET status = 'closed' WHERE id = ?", (case_id,))
            self.store.db.execute(
                "INSERT INTO case_events (case_id, kind, at, actor_id, session_id, schedules)"
                " VALUES (?, 'closed', ?, ?, ?, ?)",
                (case_id, at, actor_id, report, _json(paused)),
            )
            self.store.audit(
                actor_id, "case.close", "case", case_id, case_id, schedules_paused=len(paused)
            )
        return self.events(case_id)[-1]

    def reopen(self, case_id: int, reason: str, actor_id: int | None) -> dict[str, Any]:
        """Reopen a closed case, with the reason. Schedules closing paused stay paused: the
        worker resumes those still wanted."""
        reason = (reason or "").strip()
        if not reason:
            raise StorageError("say why the case is reopened")
        case = self.store.case(case_id)
        if case.status != "closed":
            raise CaseNotClosed(f"case {case.code} is open")
        with self.store.atomic():
            self.store.db.execute("UPDATE cases SET status = 'open' WHERE id = ?", (case_id,))
            self.store.db.execute(
                "INSERT INTO case_events (case_id, kind, at, actor_id, reason)"
                " VALUES (?, 'reopened', ?, ?, ?)",
                (case_id, _store._now(), actor_id, reason),
            )
            self.store.audit(actor_id, "case.reopen", "case", case_id, case_id)
        return self.events(case_id)[-1]


def case_facts(store: Store, case_id: int, stored: Mapping[str, Any]) -> dict[str, Any]:
    """What flows see of a case (``case.*``): the facts stored with it, overlaid with its
    profile (``client_name``, ``child_name``, ``age``, ``group``, ``caregiver``,
    ``worker_name``), its goals and whether consent holds."""
    facts = dict(stored)
    casefile = CaseFile(store)
    profile = casefile.profile(case_id)
    if profile is not None:
        if profile.client_name:
            facts["client_name"] = profile.client_name
            if profile.client_group in CHILD_GROUPS:
                facts["child_name"] = profile.client_name
        age = profile.age(date.today())
        if age is not None:
            facts["age"] = age
            facts["birth_year"] = profile.birth_year
        for key, value in (
            ("group", profile.client_group),
            ("caregiver", profile.caregiver),
            ("worker_name", profile.worker_name),
        ):
            if value:
                facts[key] = value
    goals = casefile.goals(case_id)
    if goals:
        facts["goals"] = [g.fact() for g in goals]
    consent = casefile.consent(case_id)
    facts["consent"] = bool(consent and consent.agreed)
    return facts


def write_outcome(
    store: Store, session_id: str, case_id: int, outcome: Outcome, actor_id: int | None
) -> None:
    """Store what a completed session sets (inside the caller's transaction): its held-on
    day, number, stage and phase, the goals it worked on with their ratings, and a consent.
    Written again after an amendment: the goal rows of the session are replaced."""
    store.db.execute(
        "UPDATE sessions SET held_on = ?, number = ?, stage = ?, purpose = ?,"
        " phase = COALESCE(?, phase) WHERE id = ?",
        (
            outcome.held_on,
            outcome.number,
            outcome.stage,
            outcome.purpose,
            outcome.phase,
            session_id,
        ),
    )
    store.db.execute("DELETE FROM goal_progress WHERE session_id = ?", (session_id,))
    if outcome.goals:
        numbers = {
            int(r["number"]): int(r["id"])
            for r in store._all("SELECT id, number FROM goals WHERE case_id = ?", (case_id,))
        }
        now = _store._now()
        for number, rating in outcome.goals.items():
            goal_id = numbers.get(number)
            if goal_id is None:
                continue  # a goal number the case no longer has
            low, high = outcome.goal_ranges.get(number, (None, None))
            store.db.execute(
                "INSERT INTO goal_progress (goal_id, session_id, rating, low, high, rated_on,"
                " recorded_at) VALUES (?,?,?,?,?,?,?)",
                (goal_id, session_id, rating, low, high, outcome.held_on, now),
            )
    if outcome.goal_results is not None:
        # A closing report judges every goal still open: those it names as met or partly
        # met, the others not met. Dropped goals stay dropped.
        for row in store._all(
            "SELECT id, number FROM goals WHERE case_id = ? AND status != 'dropped'", (case_id,)
        ):
            status = outcome.goal_results.get(int(row["number"]), "not_met")
            store.db.execute(
                "UPDATE goals SET status = ?, updated_at = ? WHERE id = ?",
                (status, _store._now(), row["id"]),
            )
    if outcome.profile:
        _write_profile(store, case_id, outcome, actor_id)
    consent = outcome.consent
    if consent is not None:
        store.db.execute("DELETE FROM consents WHERE session_id = ?", (session_id,))
        CaseFile(store)._insert_consent(
            case_id,
            consent.agreed,
            consent.by,
            consent.role,
            consent.method,
            consent.on,
            consent.explained,
            actor_id,
            session_id,
        )


def _write_profile(store: Store, case_id: int, outcome: Outcome, actor_id: int | None) -> None:
    """The profile fields a profile session answered (inside the caller's transaction). An
    age is kept as a birth year, counted from the day the session was held."""
    changes = {k: v for k, v in outcome.profile.items() if k != "age"}
    age = outcome.profile.get("age")
    if age is not None and "birth_year" not in changes:
        try:
            held = date.fromisoformat(outcome.held_on or "")
        except ValueError:
            held = date.today()
        changes["birth_year"] = held.year - int(age)
    try:
        CaseFile(store).set_profile(case_id, actor_id, **changes)
    except StorageError:
        # The flow's own validation keeps answers in range; a value the profile still
        # cannot hold (a group an organisation's flow invented) leaves that field alone.
        changes.pop("client_group", None)
        changes.pop("birth_year", None)
        CaseFile(store).set_profile(case_id, actor_id, **changes)
