"""Scheduled check-ins: the schedules, and a log of everything that happened to each one.

A *check-in* is one occurrence of a schedule, named by ``(schedule_id, due_at)`` with
``due_at`` the UTC instant its rule gives (see ``flows.recurrence``). Its life is a row per
event in ``schedule_events``:

``due``        the check-in was taken up (written with the first thing done about it)
``sent``       the invitation went out (at most once: UNIQUE)
``reminded``   a reminder went out; ``key`` is ``r<index>`` of the rule's reminder or
               ``snooze`` for the one asked for with "not now"
``snoozed``    the member said "not now"; ``detail.until`` is when to remind them
``started``    the member opened it; ``session_id`` links the session
``completed``  a session of the flow was completed inside the window (``session_id``)
``late``       written with ``completed`` when a reminder had been sent before it
``missed``     the window closed without completion

``UNIQUE(schedule_id, due_at, kind, key)`` makes "never the same invitation twice" (and never
the same reminder, and never two verdicts) a fact the database keeps, across restarts and
even with two processes on one file.

**Completion** is found in the ``sessions`` table, so it needs no hook in the interview code:
the session linked by the ``started`` event, or else the first session of that flow by that
member on that case completed between the due instant and the close that no other check-in
has claimed. ``completed_at`` is clamped to the caller's ``now`` (the scheduler's clock is
the authority). :meth:`Schedules.session_completed` records a completion at once for callers
that know it (the Telegram channel on submit).

**Pause and remove.** Pausing stops new check-ins; one already sent runs its course
(reminders, close). On resume, check-ins that fell due while paused never existed: counting
starts again at the resume. Removing stops everything, including an open check-in, and keeps
the history for the compliance figures.

Everything takes ``now``: nothing here reads the clock.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from flows.recurrence import Recurrence, Step, occurrences, out_of_quiet, plan
from storage.store import NotFound, StorageError, Store

__all__ = [
    "EVENT_KINDS",
    "Checkin",
    "ComplianceRow",
    "NotAMember",
    "Schedule",
    "ScheduleRemoved",
    "Schedules",
    "Work",
]

EVENT_KINDS = ("due", "sent", "reminded", "snoozed", "started", "completed", "late", "missed")
_VERDICTS = ("completed", "missed")
_TICK = timedelta(microseconds=1)


class NotAMember(StorageError):
    """The person who is to answer is not a member of the case."""


class ScheduleRemoved(StorageError):
    """The schedule was removed; it cannot be paused or resumed any more."""


def _ts(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@functools.lru_cache(maxsize=4096)
def _rule(text: str) -> Recurrence:
    """A stored rule, parsed once: a tick reads every live schedule every 30 seconds."""
    return Recurrence.model_validate_json(text)


@functools.lru_cache(maxsize=8192)
def _plan(rule: Recurrence, due: datetime) -> tuple[Step, ...]:
    return tuple(plan(rule, due))


@dataclass(frozen=True, slots=True)
class Schedule:
    id: int
    case_id: int
    person_id: int
    flow_id: str
    rule: Recurrence
    created_by: int
    created_at: datetime
    active_from: datetime
    paused_at: datetime | None
    removed_at: datetime | None

    @property
    def state(self) -> Literal["active", "paused", "removed"]:
        if self.removed_at is not None:
            return "removed"
        return "paused" if self.paused_at is not None else "active"


@dataclass(frozen=True, slots=True)
class Work:
    """Something owed for one check-in by ``now``.

    ``invite``: send the invitation. ``remind``: send reminder ``key``. ``completed``: record
    the completion found (``session_id``, ``at``, ``late``). ``missed``: the window closed.
    """

    kind: Literal["invite", "remind", "completed", "missed"]
    schedule: Schedule
    due_at: datetime
    close_at: datetime
    key: str = ""
    session_id: str | None = None
    at: datetime | None = None
    late: bool = False
    sent: bool = False
    started: bool = False
    snoozed: bool = False


@dataclass(frozen=True, slots=True)
class Checkin:
    """One check-in as its events tell it."""

    schedule: Schedule
    due_at: datetime
    steps: tuple[Step, ...]
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def close_at(self) -> datetime:
        return self.steps[-1].at

    @property
    def settled(self) -> bool:
        return any(kind in self.events for kind in _VERDICTS)

    def has(self, kind: str, key: str | None = None) -> bool:
        rows = self.events.get(kind, [])
        return any(key is None or r["key"] == key for r in rows)

    def first(self, kind: str) -> dict[str, Any] | None:
        rows = self.events.get(kind)
        return rows[0] if rows else None

    def is_open(self, now: datetime) -> bool:
        """Sent, not settled, the window has not closed, and the schedule is not removed."""
        return (
            self.has("sent")
            and not self.settled
            and now < self.close_at
            and self.schedule.removed_at is None
        )


@dataclass(frozen=True, slots=True)
class ComplianceRow:
    """One member and flow over the period.

    ``due``: check-ins taken up whose due instant is in the period. ``completed``: completed
    inside their window. ``late``: of those, completed only after a reminder had been sent.
    ``missed``: the window closed without completion. ``open``: neither yet (window still
    open, or the schedule was removed while it was). ``rate``: completed / (completed +
    missed), None when nothing is decided yet.
    """

    person_id: int
    person_name: str
    flow_id: str
    due: int
    completed: int
    late: int
    missed: int
    open: int
    rate: float | None


class Schedules:
    """Schedules, their check-ins' events, the work owed by a given instant, compliance."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # -- schedules -----------------------------------------------------------------------

    def _schedule(self, row: dict[str, Any]) -> Schedule:
        created_at = _dt(row["created_at"])
        active_from = _dt(row["active_from"])
        assert created_at is not None and active_from is not None
        return Schedule(
            id=int(row["id"]),
            case_id=int(row["case_id"]),
            person_id=int(row["person_id"]),
            flow_id=str(row["flow_id"]),
            rule=_rule(str(row["rule"])),
            created_by=int(row["created_by"]),
            created_at=created_at,
            active_from=active_from,
            paused_at=_dt(row["paused_at"]),
            removed_at=_dt(row["removed_at"]),
        )

    def create(
        self,
        case_id: int,
        person_id: int,
        flow_id: str,
        rule: Recurrence,
        created_by: int,
        now: datetime,
    ) -> Schedule:
        """A new schedule; its first check-in is the first due instant at or after ``now``."""
        if not self.store.is_member(case_id, person_id):
            raise NotAMember(f"person {person_id} is not on case {case_id}")
        with self.store.atomic():
            cursor = self.db.execute(
                "INSERT INTO schedules (case_id, person_id, flow_id, rule, created_by,"
                " created_at, active_from) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (case_id, person_id, flow_id, rule.to_json(), created_by, _ts(now), _ts(now)),
            )
            schedule_id = int(cursor.lastrowid or 0)
            self.store.audit(
                created_by,
                "schedule.create",
                "schedule",
                schedule_id,
                case_id,
                person_id=person_id,
                flow=flow_id,
                kind=rule.kind,
            )
        return self.get(schedule_id)

    def get(self, schedule_id: int) -> Schedule:
        row = self.store._one("SELECT * FROM schedules WHERE id = ?", (schedule_id,))
        if row is None:
            raise NotFound(f"no schedule {schedule_id}")
        return self._schedule(row)

    def all(self, case_id: int | None = None, *, removed: bool = False) -> list[Schedule]:
        """Schedules (of one case), oldest first; removed ones only when asked."""
        sql = "SELECT * FROM schedules WHERE (? IS NULL OR case_id = ?)"
        if not removed:
            sql += " AND removed_at IS NULL"
        rows = self.store._all(sql + " ORDER BY id", (case_id, case_id))
        return [self._schedule(r) for r in rows]

    def of_cases(self, case_ids: Sequence[int]) -> list[Schedule]:
        """The live schedules of many cases at once (a caseload), by case, oldest first."""
        rows = self.store._all(
            "SELECT * FROM schedules WHERE case_id IN (SELECT value FROM json_each(?))"
            " AND removed_at IS NULL ORDER BY case_id, id",
            (json.dumps(list(case_ids)),),
        )
        return [self._schedule(r) for r in rows]

    def _change(
        self, schedule_id: int, actor_id: int | None, action: str, sql: str, now: datetime
    ) -> bool:
        schedule = self.get(schedule_id)
        if schedule.removed_at is not None:
            raise ScheduleRemoved(f"schedule {schedule_id} was removed")
        with self.store.atomic():
            changed = self.db.execute(sql, (_ts(now), schedule_id)).rowcount == 1
            if changed:
                self.store.audit(actor_id, action, "schedule", schedule_id, schedule.case_id)
        return changed

    def pause(self, schedule_id: int, actor_id: int | None, now: datetime) -> bool:
        """No new check-ins until resumed; False when it was paused already."""
        return self._change(
            schedule_id,
            actor_id,
            "schedule.pause",
            "UPDATE schedules SET paused_at = ? WHERE id = ? AND paused_at IS NULL",
            now,
        )

    def resume(self, schedule_id: int, actor_id: int | None, now: datetime) -> bool:
        """Check-ins again, from ``now`` on; False when it was not paused."""
        return self._change(
            schedule_id,
            actor_id,
            "schedule.resume",
            "UPDATE schedules SET paused_at = NULL, active_from = ?"
            " WHERE id = ? AND paused_at IS NOT NULL",
            now,
        )

    def remove(self, schedule_id: int, actor_id: int | None, now: datetime) -> bool:
        """Stop for good (the history stays); False when it was removed already."""
        schedule = self.get(schedule_id)
        with self.store.atomic():
            cursor = self.db.execute(
                "UPDATE schedules SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
                (_ts(now), schedule_id),
            )
            if cursor.rowcount == 1:
                self.store.audit(
                    actor_id, "schedule.remove", "schedule", schedule_id, schedule.case_id
                )
                return True
        return False

    # -- events --------------------------------------------------------------------------

    def record(
        self,
        schedule_id: int,
        due_at: datetime,
        kind: str,
        at: datetime,
        *,
        key: str = "",
        session_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> bool:
        """Write one event; False when that event of that check-in was already written."""
        if kind not in EVENT_KINDS:
            raise StorageError(f"unknown schedule event {kind!r}")
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO schedule_events"
            " (schedule_id, due_at, kind, key, at, session_id, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                schedule_id,
                _ts(due_at),
                kind,
                key,
                _ts(at),
                session_id,
                json.dumps(detail or {}, separators=(",", ":")),
            ),
        )
        return cursor.rowcount == 1

    def events(self, schedule_id: int, due_at: datetime | None = None) -> list[dict[str, Any]]:
        """The events of a schedule (or of one check-in), in the order written."""
        if due_at is None:
            return self.store._all(
                "SELECT * FROM schedule_events WHERE schedule_id = ? ORDER BY id", (schedule_id,)
            )
        return self.store._all(
            "SELECT * FROM schedule_events WHERE schedule_id = ? AND due_at = ? ORDER BY id",
            (schedule_id, _ts(due_at)),
        )

    def checkin(self, schedule_id: int, due_at: datetime) -> Checkin | None:
        """The check-in due at ``due_at``, or None when the rule has no such occurrence or
        nothing was ever done about it (not yet taken up)."""
        try:
            schedule = self.get(schedule_id)
        except NotFound:
            return None
        if occurrences(schedule.rule, due_at, due_at + _TICK) != [due_at.astimezone(UTC)]:
            return None
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in self.events(schedule_id, due_at):
            grouped[row["kind"]].append(row)
        if "due" not in grouped:
            return None
        return Checkin(
            schedule, due_at.astimezone(UTC), _plan(schedule.rule, due_at.astimezone(UTC)), grouped
        )

    def link_session(
        self, schedule_id: int, due_at: datetime, session_id: str, now: datetime
    ) -> bool:
        """The member opened the check-in (Start): remember which session answers it."""
        return self.record(schedule_id, due_at, "started", now, session_id=session_id)

    def snooze(
        self, schedule_id: int, due_at: datetime, until: datetime, now: datetime
    ) -> datetime | None:
        """Say "not now": one extra reminder at ``until`` (moved out of quiet hours).

        Planned reminders up to then are left out. Once per check-in: the time already
        promised is returned again; None when the check-in is not open.
        """
        checkin = self.checkin(schedule_id, due_at)
        if checkin is None or not checkin.is_open(now):
            return None
        earlier = checkin.first("snoozed")
        if earlier is not None:
            return _dt(json.loads(earlier["detail"])["until"])
        until = out_of_quiet(checkin.schedule.rule, until)
        self.record(schedule_id, due_at, "snoozed", now, detail={"until": _ts(until)})
        return until

    def session_completed(self, session_id: str, at: datetime) -> tuple[int, datetime] | None:
        """Record at once that ``session_id`` completed at ``at``, if it answers an open
        check-in (the one it was started from, else its member's open one of that flow on
        that case). Returns the check-in ``(schedule_id, due_at)``; None when it answers none.
        """
        try:
            info = self.store.session_info(session_id)
        except NotFound:
            return None
        candidates = self.store._all(
            "SELECT e.schedule_id, e.due_at, (e.kind = 'started') AS linked"
            " FROM schedule_events e JOIN schedules s ON s.id = e.schedule_id"
            " WHERE (e.kind = 'started' AND e.session_id = ?)"
            "    OR (e.kind = 'due' AND s.case_id = ? AND s.flow_id = ? AND s.person_id = ?"
            "        AND e.due_at <= ? AND NOT EXISTS (SELECT 1 FROM schedule_events v"
            "          WHERE v.schedule_id = e.schedule_id AND v.due_at = e.due_at"
            "          AND v.kind IN ('completed', 'missed')))"
            " ORDER BY linked DESC, e.due_at",
            (session_id, info.case_id, info.flow_id, info.respondent_id, _ts(at)),
        )
        for row in candidates:
            due = _dt(row["due_at"])
            assert due is not None
            checkin = self.checkin(int(row["schedule_id"]), due)
            if checkin is None or checkin.settled or at >= checkin.close_at:
                continue
            linked = checkin.first("started")
            if linked is not None and linked["session_id"] != session_id:
                continue
            with self.store.atomic():
                self._complete(checkin, session_id, at)
            return checkin.schedule.id, due
        return None

    def take(self, work: Work, now: datetime) -> bool:
        """Write the events ``work`` stands for (``due`` first, then ``sent``, the reminder,
        the completion or ``missed``), in the caller's transaction. True when this call wrote
        the deciding event: only then may the caller send the message that goes with it."""
        schedule, due = work.schedule, work.due_at
        self.record(schedule.id, due, "due", now)
        if work.kind == "invite":
            return self.record(schedule.id, due, "sent", now)
        if work.kind == "remind":
            return self.record(schedule.id, due, "reminded", now, key=work.key)
        if work.kind == "missed":
            return self.record(schedule.id, due, "missed", now, detail={"sent": work.sent})
        assert work.session_id is not None and work.at is not None
        if not self.record(schedule.id, due, "completed", work.at, session_id=work.session_id):
            return False
        if work.late:
            self.record(schedule.id, due, "late", work.at, session_id=work.session_id)
        return True

    def _complete(self, checkin: Checkin, session_id: str, at: datetime) -> bool:
        """``completed`` (and ``late`` when a reminder preceded it), in the caller's
        transaction."""
        schedule, due = checkin.schedule, checkin.due_at
        self.record(schedule.id, due, "due", at)
        if not self.record(schedule.id, due, "completed", at, session_id=session_id):
            return False
        reminded = [_dt(r["at"]) for r in checkin.events.get("reminded", [])]
        if any(r is not None and r <= at for r in reminded):
            self.record(schedule.id, due, "late", at, session_id=session_id)
        return True

    # -- what is owed by now -------------------------------------------------------------

    def due_work(self, now: datetime) -> list[Work]:
        """Everything that should have happened by ``now`` and has not.

        For every schedule not removed: check-ins taken up and not settled, and, unless
        paused, those that fell due since the last one taken up (never before the schedule
        was created or resumed). For each: a completion to record; or, once the window has
        closed, ``missed``; or the invitation, when its time has come and it was not sent;
        or the latest reminder whose time has come (one message, never a burst: reminders
        that fell due before the invitation went out, or before a later reminder, are left
        out). After a restart this catches up by itself, and the UNIQUE events keep it from
        doing anything twice.
        """
        now = now.astimezone(UTC)
        schedules = {s.id: s for s in self.all()}
        if not schedules:
            return []
        unsettled: dict[tuple[int, str], dict[str, list[dict[str, Any]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for row in self.store._all(
            "SELECT e.* FROM schedule_events e JOIN schedules s ON s.id = e.schedule_id"
            " WHERE s.removed_at IS NULL AND NOT EXISTS ("
            "   SELECT 1 FROM schedule_events v WHERE v.schedule_id = e.schedule_id"
            "   AND v.due_at = e.due_at AND v.kind IN ('completed', 'missed'))"
            " ORDER BY e.id"
        ):
            unsettled[(int(row["schedule_id"]), row["due_at"])][row["kind"]].append(row)
        latest = {
            int(r["schedule_id"]): _dt(r["due_at"])
            for r in self.store._all(
                "SELECT schedule_id, MAX(due_at) AS due_at FROM schedule_events"
                " WHERE kind = 'due' GROUP BY schedule_id"
            )
        }
        work: list[Work] = []
        for (schedule_id, due_text), events in sorted(unsettled.items()):
            schedule = schedules.get(schedule_id)
            due = _dt(due_text)
            if schedule is None or due is None:
                continue
            checkin = Checkin(schedule, due, _plan(schedule.rule, due), events)
            work += self._owed(checkin, now)
        for schedule in schedules.values():
            if schedule.paused_at is not None:
                continue
            since = schedule.active_from
            last = latest.get(schedule.id)
            if last is not None and last + _TICK > since:
                since = last + _TICK
            for due in occurrences(schedule.rule, since, now + _TICK):
                if (schedule.id, _ts(due)) in unsettled:
                    continue
                checkin = Checkin(schedule, due, _plan(schedule.rule, due), {})
                work += self._owed(checkin, now)
        return work

    def _owed(self, checkin: Checkin, now: datetime) -> list[Work]:
        schedule, due, close = checkin.schedule, checkin.due_at, checkin.close_at

        def make(kind: Literal["invite", "remind", "completed", "missed"], **extra: Any) -> Work:
            return Work(
                kind,
                schedule,
                due,
                close,
                sent=checkin.has("sent"),
                started=checkin.has("started"),
                snoozed=checkin.has("snoozed"),
                **extra,
            )

        found = self._completion(checkin, now)
        if found is not None:
            session_id, at = found
            reminded = [_dt(r["at"]) for r in checkin.events.get("reminded", [])]
            late = any(r is not None and r <= at for r in reminded)
            return [make("completed", session_id=session_id, at=at, late=late)]
        if now >= close:
            return [make("missed")]
        sent = checkin.first("sent")
        if sent is None:
            invite = next((s for s in checkin.steps if s.kind == "invite"), None)
            return [make("invite")] if invite is not None and invite.at <= now else []
        last = max(_dt(r["at"]) or due for r in [sent, *checkin.events.get("reminded", [])])
        until: datetime | None = None
        snoozed = checkin.first("snoozed")
        if snoozed is not None:
            until = _dt(json.loads(snoozed["detail"]).get("until"))
        owed: list[tuple[datetime, str]] = []
        for step in checkin.steps:
            if step.kind != "remind" or not last < step.at <= now:
                continue
            if until is not None and step.at <= until:
                continue  # "not now" covers the reminders up to the one asked for
            if not checkin.has("reminded", f"r{step.reminder}"):
                owed.append((step.at, f"r{step.reminder}"))
        if until is not None and last < until <= now and not checkin.has("reminded", "snooze"):
            owed.append((until, "snooze"))
        if not owed:
            return []
        return [make("remind", key=max(owed)[1])]

    def _completion(self, checkin: Checkin, now: datetime) -> tuple[str, datetime] | None:
        """The session that completes this check-in inside its window, and when."""
        schedule, due, close = checkin.schedule, checkin.due_at, checkin.close_at
        started = checkin.first("started")
        if started is not None and started["session_id"]:
            row = self.store._one(
                "SELECT status, completed_at FROM sessions WHERE id = ?",
                (started["session_id"],),
            )
            if row is not None and row["status"] == "completed":
                at = min(_dt(row["completed_at"]) or now, now)
                return (str(started["session_id"]), at) if at < close else None
            return None
        row = self.store._one(
            "SELECT id, completed_at FROM sessions s WHERE case_id = ? AND flow_id = ?"
            " AND respondent_id = ? AND status = 'completed'"
            " AND completed_at >= ? AND completed_at < ? AND NOT EXISTS ("
            "   SELECT 1 FROM schedule_events e WHERE e.session_id = s.id"
            "   AND e.kind IN ('started', 'completed'))"
            " ORDER BY completed_at LIMIT 1",
            (
                schedule.case_id,
                schedule.flow_id,
                schedule.person_id,
                _ts(due),
                _ts(min(close, now + _TICK)),
            ),
        )
        if row is None:
            return None
        completed_at = _dt(row["completed_at"])
        assert completed_at is not None
        return str(row["id"]), completed_at

    def open_for(self, case_id: int, person_id: int, now: datetime) -> list[Checkin]:
        """The member's check-ins on the case that can be answered at ``now``, earliest due
        first: fallen due, window not closed, neither completed (a completed session in the
        window counts, recorded or not) nor missed, schedule not removed. A paused schedule
        offers only the check-ins taken up before it was paused, as :meth:`due_work` does.

        For a member who answers in a browser: nothing is sent to them, so a check-in is
        open from its due instant (quiet hours only hold messages back), unless its plan is
        only the close (it could never have been sent)."""
        now = now.astimezone(UTC)
        out: list[Checkin] = []
        for schedule in self.all(case_id):
            if schedule.person_id != person_id:
                continue
            # A close moved out of quiet hours is at most a day after due + window.
            start = max(schedule.active_from, now - schedule.rule.window - timedelta(days=1))
            dues = set(occurrences(schedule.rule, start, now + _TICK))
            taken = self.store._all(
                "SELECT DISTINCT due_at FROM schedule_events WHERE schedule_id = ?"
                " AND kind = 'due' AND due_at >= ? AND due_at <= ?",
                (schedule.id, _ts(start), _ts(now)),
            )
            taken_up = {d for d in (_dt(r["due_at"]) for r in taken) if d is not None}
            dues = taken_up if schedule.paused_at is not None else dues | taken_up
            for due in sorted(dues):
                steps = _plan(schedule.rule, due)
                if steps[0].kind != "invite" or not due <= now < steps[-1].at:
                    continue
                checkin = self.checkin(schedule.id, due) or Checkin(schedule, due, steps, {})
                if checkin.settled or self._completion(checkin, now) is not None:
                    continue
                out.append(checkin)
        return sorted(out, key=lambda c: (c.due_at, c.schedule.id))

    # -- compliance ----------------------------------------------------------------------

    def compliance(self, case_id: int, now: datetime, weeks: int = 8) -> list[ComplianceRow]:
        """Per member and flow, the check-ins due in the last ``weeks`` weeks up to ``now``:
        due, completed, late, missed, open, and the completion rate (see
        :class:`ComplianceRow`). Every member and flow with a live schedule has a row, even
        with nothing due yet. Figures come from the event log the scheduler keeps."""
        since = now - timedelta(weeks=weeks)
        rows = self.store._all(
            "SELECT s.person_id, p.name, s.flow_id,"
            " SUM(e.kind = 'due') AS due, SUM(e.kind = 'completed') AS completed,"
            " SUM(e.kind = 'late') AS late, SUM(e.kind = 'missed') AS missed"
            " FROM schedule_events e JOIN schedules s ON s.id = e.schedule_id"
            " JOIN people p ON p.id = s.person_id"
            " WHERE s.case_id = ? AND e.due_at >= ? AND e.due_at <= ?"
            " GROUP BY s.person_id, s.flow_id",
            (case_id, _ts(since), _ts(now)),
        )
        counts = {(int(r["person_id"]), str(r["flow_id"])): r for r in rows}
        for schedule in self.all(case_id):
            key = (schedule.person_id, schedule.flow_id)
            if key not in counts:
                name = self.store.person(schedule.person_id)["name"]
                counts[key] = {"name": name, "due": 0, "completed": 0, "late": 0, "missed": 0}
        out = []
        for (person_id, flow_id), r in counts.items():
            due, completed = int(r["due"] or 0), int(r["completed"] or 0)
            missed, late = int(r["missed"] or 0), int(r["late"] or 0)
            decided = completed + missed
            out.append(
                ComplianceRow(
                    person_id=person_id,
                    person_name=str(r["name"]),
                    flow_id=flow_id,
                    due=due,
                    completed=completed,
                    late=late,
                    missed=missed,
                    open=due - decided,
                    rate=completed / decided if decided else None,
                )
            )
        return sorted(out, key=lambda row: (row.person_name, row.flow_id))
