"""Flags and follow-ups as stored: reading them, and the few changes made to them later.

A flag row is written by ``Store.apply`` in the transaction of the answer that raised it (and
marked withdrawn there when an edit takes that answer back); a follow-up row when the session
that sets it is completed. What happens afterwards is here: a worker acknowledges a flag with
a note, an unacknowledged flag is escalated to a supervisor (once: ``escalated_at`` is set
only where it is still empty), a follow-up is done, an overdue one is reminded (once a day:
``last_reminded_on`` moves forward only once per day).

Everything takes ``now``: nothing here reads the clock. Access is not decided here: the
application layer asks the policy first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from storage.store import NotFound, Store

__all__ = ["Digests", "FlagRow", "Flags", "FollowUpRow", "FollowUps"]


def _ts(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _in(ids: Sequence[object]) -> str:
    return ",".join("?" * len(ids))


@dataclass(frozen=True, slots=True)
class FlagRow:
    """One raised flag with what was done about it. Texts are ``{lang: text}``."""

    id: int
    session_id: str
    case_id: int
    case_code: str
    flag_id: str
    question_id: str
    stage_id: str
    answer_revision: int
    source: str
    severity: str
    message: dict[str, str]
    respondent_message: dict[str, str] | None
    question: dict[str, str]
    answer: dict[str, str]
    raised_by: int | None
    raised_at: str
    withdrawn_at: str | None
    sent_at: str | None
    acknowledged_by: int | None
    acknowledged_by_name: str | None
    acknowledged_at: str | None
    ack_note: str | None
    escalated_to: int | None
    escalated_at: str | None

    @property
    def open(self) -> bool:
        """Standing and not yet acknowledged."""
        return self.withdrawn_at is None and self.acknowledged_at is None

    @property
    def state(self) -> str:
        if self.withdrawn_at is not None:
            return "withdrawn"
        return "acknowledged" if self.acknowledged_at is not None else "open"

    def text(self, field: str, lang: str) -> str:
        texts: dict[str, str] | None = getattr(self, field)
        if not texts:
            return ""
        return texts.get(lang) or next(iter(texts.values()), "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case": self.case_code,
            "session": self.session_id,
            "flag": self.flag_id,
            "question_id": self.question_id,
            "revision": self.answer_revision,
            "source": self.source,
            "severity": self.severity,
            "state": self.state,
            "message": dict(self.message),
            "question": dict(self.question),
            "answer": dict(self.answer),
            "raised_at": self.raised_at,
            "withdrawn_at": self.withdrawn_at,
            "sent_at": self.sent_at,
            "acknowledged": None
            if self.acknowledged_at is None
            else {
                "by": self.acknowledged_by,
                "by_name": self.acknowledged_by_name,
                "at": self.acknowledged_at,
                "note": self.ack_note,
            },
            "escalated_at": self.escalated_at,
            "escalated_to": self.escalated_to,
        }


_FLAG_SELECT = (
    "SELECT f.*, c.code AS case_code, p.name AS acknowledged_by_name FROM flags f"
    " JOIN cases c ON c.id = f.case_id LEFT JOIN people p ON p.id = f.acknowledged_by"
)


def _flag(row: dict[str, Any]) -> FlagRow:
    def loads(text: str | None) -> Any:
        return None if text is None else json.loads(text)

    return FlagRow(
        id=int(row["id"]),
        session_id=str(row["session_id"]),
        case_id=int(row["case_id"]),
        case_code=str(row["case_code"]),
        flag_id=str(row["flag_id"]),
        question_id=str(row["question_id"]),
        stage_id=str(row["stage_id"]),
        answer_revision=int(row["answer_revision"]),
        source=str(row["source"]),
        severity=str(row["severity"]),
        message=loads(row["message"]) or {},
        respondent_message=loads(row["respondent_message"]),
        question=loads(row["question"]) or {},
        answer=loads(row["answer"]) or {},
        raised_by=row["raised_by"],
        raised_at=str(row["raised_at"]),
        withdrawn_at=row["withdrawn_at"],
        sent_at=row["sent_at"],
        acknowledged_by=row["acknowledged_by"],
        acknowledged_by_name=row["acknowledged_by_name"],
        acknowledged_at=row["acknowledged_at"],
        ack_note=row["ack_note"],
        escalated_to=row["escalated_to"],
        escalated_at=row["escalated_at"],
    )


class Flags:
    """Raised flags: listing, acknowledging, escalating."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, flag_row: int) -> FlagRow:
        row = self.store._one(_FLAG_SELECT + " WHERE f.id = ?", (flag_row,))
        if row is None:
            raise NotFound(f"no flag {flag_row}")
        return _flag(row)

    def of_cases(
        self,
        case_ids: Iterable[int],
        *,
        open_only: bool = False,
        withdrawn: bool = False,
        severities: Sequence[str] = ("info", "attention", "urgent"),
    ) -> list[FlagRow]:
        """Flags of these cases, newest first. ``open_only``: standing and not acknowledged;
        withdrawn flags only when asked for."""
        ids = list(case_ids)
        if not ids:
            return []
        sql = _FLAG_SELECT + f" WHERE f.case_id IN ({_in(ids)})"
        sql += f" AND f.severity IN ({_in(severities)})"
        if open_only:
            sql += " AND f.acknowledged_at IS NULL AND f.withdrawn_at IS NULL"
        elif not withdrawn:
            sql += " AND f.withdrawn_at IS NULL"
        return [_flag(r) for r in self.store._all(sql + " ORDER BY f.id DESC", (*ids, *severities))]

    def of_session(self, session_id: str) -> list[FlagRow]:
        """Every flag a session raised, withdrawn ones too, in the order raised."""
        rows = self.store._all(
            _FLAG_SELECT + " WHERE f.session_id = ? ORDER BY f.id", (session_id,)
        )
        return [_flag(r) for r in rows]

    def acknowledge(self, flag_row: int, person_id: int, note: str, now: datetime) -> bool:
        """Record who acknowledged the flag, when and what was done; False when it already
        was acknowledged (the first acknowledgement stands)."""
        cursor = self.store.db.execute(
            "UPDATE flags SET acknowledged_by = ?, acknowledged_at = ?, ack_note = ?"
            " WHERE id = ? AND acknowledged_at IS NULL",
            (person_id, _ts(now), note, flag_row),
        )
        return cursor.rowcount == 1

    def set_note(self, flag_row: int, person_id: int, note: str) -> bool:
        """The note of an acknowledgement given first with one tap; only its author adds it."""
        cursor = self.store.db.execute(
            "UPDATE flags SET ack_note = ? WHERE id = ? AND acknowledged_by = ?",
            (note, flag_row, person_id),
        )
        return cursor.rowcount == 1

    def to_escalate(self, severity: str, raised_before: datetime) -> list[FlagRow]:
        """Standing, unacknowledged, not yet escalated flags of a severity raised before."""
        rows = self.store._all(
            _FLAG_SELECT + " WHERE f.severity = ? AND f.raised_at <= ?"
            " AND f.acknowledged_at IS NULL AND f.withdrawn_at IS NULL"
            " AND f.escalated_at IS NULL ORDER BY f.id",
            (severity, _ts(raised_before)),
        )
        return [_flag(r) for r in rows]

    def mark_escalated(self, flag_row: int, to: int | None, now: datetime) -> bool:
        """Escalate once: False when it already was."""
        cursor = self.store.db.execute(
            "UPDATE flags SET escalated_at = ?, escalated_to = ? WHERE id = ?"
            " AND escalated_at IS NULL",
            (_ts(now), to, flag_row),
        )
        return cursor.rowcount == 1

    def cancel_pending(self, flag_row: int, now: datetime) -> int:
        """Call off alerts of a flag still waiting in the outbox; how many were."""
        cursor = self.store.db.execute(
            "UPDATE outbox SET cancelled_at = ? WHERE kind = 'flag' AND sent_at IS NULL"
            " AND cancelled_at IS NULL AND json_extract(payload, '$.flag_row') = ?",
            (_ts(now), flag_row),
        )
        return int(cursor.rowcount)

    def withdrawn_in(self, session_id: str, flag_ids: Iterable[str]) -> list[FlagRow]:
        """The rows a turn just withdrew: of each flag, the one withdrawn last."""
        ids = list(flag_ids)
        if not ids:
            return []
        rows = self.store._all(
            _FLAG_SELECT + f" WHERE f.session_id = ? AND f.flag_id IN ({_in(ids)})"
            " AND f.withdrawn_at IS NOT NULL ORDER BY f.withdrawn_at DESC, f.id DESC",
            (session_id, *ids),
        )
        latest: dict[str, FlagRow] = {}
        for row in rows:
            latest.setdefault(str(row["flag_id"]), _flag(row))
        return list(latest.values())

    def standing_in(self, session_id: str, flag_ids: Iterable[str]) -> list[FlagRow]:
        """The standing rows of these flags in a session (those a turn just raised)."""
        ids = list(flag_ids)
        if not ids:
            return []
        rows = self.store._all(
            _FLAG_SELECT + f" WHERE f.session_id = ? AND f.flag_id IN ({_in(ids)})"
            " AND f.withdrawn_at IS NULL ORDER BY f.id",
            (session_id, *ids),
        )
        return [_flag(r) for r in rows]


# --------------------------------------------------------------------------- follow-ups


@dataclass(frozen=True, slots=True)
class FollowUpRow:
    id: int
    case_id: int
    case_code: str
    owner_id: int
    owner_name: str
    due_on: str
    session_id: str | None
    text: str
    status: str
    created_by: int | None
    created_at: str
    done_by: int | None
    done_by_name: str | None
    done_at: str | None
    done_note: str | None
    last_reminded_on: str | None

    def overdue(self, today: date) -> bool:
        return self.status == "open" and self.due_on < today.isoformat()

    def to_dict(self, today: date | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "case": self.case_code,
            "owner": {"id": self.owner_id, "name": self.owner_name},
            "due": self.due_on,
            "session": self.session_id,
            "text": self.text,
            "status": self.status,
            "created_at": self.created_at,
            "done": None
            if self.done_at is None
            else {
                "by": self.done_by,
                "by_name": self.done_by_name,
                "at": self.done_at,
                "note": self.done_note,
            },
        }
        if today is not None:
            out["overdue"] = self.overdue(today)
        return out


_FOLLOWUP_SELECT = (
    "SELECT t.*, c.code AS case_code, o.name AS owner_name, d.name AS done_by_name"
    " FROM followups t JOIN cases c ON c.id = t.case_id JOIN people o ON o.id = t.owner_id"
    " LEFT JOIN people d ON d.id = t.done_by"
)


def _followup(row: dict[str, Any]) -> FollowUpRow:
    return FollowUpRow(
        id=int(row["id"]),
        case_id=int(row["case_id"]),
        case_code=str(row["case_code"]),
        owner_id=int(row["owner_id"]),
        owner_name=str(row["owner_name"]),
        due_on=str(row["due_on"]),
        session_id=row["session_id"],
        text=str(row["text"]),
        status=str(row["status"]),
        created_by=row["created_by"],
        created_at=str(row["created_at"]),
        done_by=row["done_by"],
        done_by_name=row["done_by_name"],
        done_at=row["done_at"],
        done_note=row["done_note"],
        last_reminded_on=row["last_reminded_on"],
    )


class FollowUps:
    """Follow-up tasks: listing, closing, daily reminders."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, followup_id: int) -> FollowUpRow:
        row = self.store._one(_FOLLOWUP_SELECT + " WHERE t.id = ?", (followup_id,))
        if row is None:
            raise NotFound(f"no follow-up {followup_id}")
        return _followup(row)

    def of_cases(
        self,
        case_ids: Iterable[int],
        *,
        open_only: bool = False,
        due_before: date | None = None,
        due_by: date | None = None,
    ) -> list[FollowUpRow]:
        """Follow-ups of these cases by due date. ``due_before``: open and overdue on that
        day; ``due_by``: open and due on or before it."""
        ids = list(case_ids)
        if not ids:
            return []
        sql = _FOLLOWUP_SELECT + f" WHERE t.case_id IN ({_in(ids)})"
        params: list[Any] = list(ids)
        if open_only or due_before or due_by:
            sql += " AND t.status = 'open'"
        if due_before is not None:
            sql += " AND t.due_on < ?"
            params.append(due_before.isoformat())
        if due_by is not None:
            sql += " AND t.due_on <= ?"
            params.append(due_by.isoformat())
        rows = self.store._all(sql + " ORDER BY t.status DESC, t.due_on, t.id", params)
        return [_followup(r) for r in rows]

    def of_session(self, session_id: str) -> list[FollowUpRow]:
        rows = self.store._all(
            _FOLLOWUP_SELECT + " WHERE t.session_id = ? ORDER BY t.id", (session_id,)
        )
        return [_followup(r) for r in rows]

    def done(self, followup_id: int, person_id: int, note: str, now: datetime) -> bool:
        """Close a follow-up with a note; False when it already was closed."""
        cursor = self.store.db.execute(
            "UPDATE followups SET status = 'done', done_by = ?, done_at = ?, done_note = ?"
            " WHERE id = ? AND status = 'open'",
            (person_id, _ts(now), note, followup_id),
        )
        return cursor.rowcount == 1

    def set_note(self, followup_id: int, person_id: int, note: str) -> bool:
        """The note of a follow-up closed with one tap; only whoever closed it adds it."""
        cursor = self.store.db.execute(
            "UPDATE followups SET done_note = ? WHERE id = ? AND done_by = ?",
            (note, followup_id, person_id),
        )
        return cursor.rowcount == 1

    def to_remind(self, today: date) -> list[FollowUpRow]:
        """Open follow-ups overdue on ``today`` and not yet reminded that day."""
        rows = self.store._all(
            _FOLLOWUP_SELECT + " WHERE t.status = 'open' AND t.due_on < ?"
            " AND (t.last_reminded_on IS NULL OR t.last_reminded_on < ?) ORDER BY t.owner_id, t.id",
            (today.isoformat(), today.isoformat()),
        )
        return [_followup(r) for r in rows]

    def mark_reminded(self, followup_id: int, today: date) -> bool:
        """Remind once a day: False when it was already reminded on ``today``."""
        cursor = self.store.db.execute(
            "UPDATE followups SET last_reminded_on = ? WHERE id = ?"
            " AND (last_reminded_on IS NULL OR last_reminded_on < ?)",
            (today.isoformat(), followup_id, today.isoformat()),
        )
        return cursor.rowcount == 1


# --------------------------------------------------------------------------- digests


_MISSED_SELECT = (
    "SELECT e.due_at, e.at, s.id AS schedule_id, s.case_id, s.flow_id, c.code,"
    " p.name AS member FROM schedule_events e JOIN schedules s ON s.id = e.schedule_id"
    " JOIN cases c ON c.id = s.case_id JOIN people p ON p.id = s.person_id"
)


class Digests:
    """What a worker's daily digest is made of, and the one-a-day claim."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def staff(self) -> list[dict[str, Any]]:
        """Workers, supervisors and administrators."""
        return self.store._all(
            "SELECT * FROM people WHERE role IN ('worker', 'supervisor', 'admin') ORDER BY id"
        )

    def claim(self, person_id: int, today: date) -> bool:
        """Take today's digest for a person: True once a day, whatever happens later."""
        cursor = self.store.db.execute(
            "UPDATE people SET last_digest_on = ? WHERE id = ?"
            " AND (last_digest_on IS NULL OR last_digest_on < ?)",
            (today.isoformat(), person_id, today.isoformat()),
        )
        return cursor.rowcount == 1

    def missed(
        self, case_ids: Sequence[int], since: datetime, until: datetime
    ) -> list[dict[str, Any]]:
        """Check-ins of these cases found missed between ``since`` and ``until``."""
        if not case_ids:
            return []
        return self.store._all(
            _MISSED_SELECT + f" WHERE e.kind = 'missed' AND s.case_id IN ({_in(case_ids)})"
            " AND e.at >= ? AND e.at < ? ORDER BY c.code, e.due_at",
            (*case_ids, _ts(since), _ts(until)),
        )

    def set_awaiting(self, person_id: int, what: str | None) -> None:
        """What the person's next text message is (a note for 'flag:ID'), or nothing."""
        self.store.db.execute("UPDATE people SET awaiting_note = ? WHERE id = ?", (what, person_id))
