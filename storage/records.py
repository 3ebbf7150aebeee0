"""Reading session records, case timelines and exports; signing off and amending records.

A record is read from what is stored: the answers (every revision), the scores, the session's
bookkeeping and the people involved. Nothing here runs an interview. Two things change a
record after the interview: a worker signs it off (locks it), and a worker amends an answer,
which writes a new revision with who changed it and why. Once a record is signed off, an
amendment needs a stated reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from flows.engine import StageScore
from flows.outcome import Outcome
from storage import store as _store
from storage.store import Case, NotFound, StorageError, Store

__all__ = [
    "AlreadySigned",
    "AmbiguousSession",
    "NoChange",
    "NotApplicable",
    "NotFinished",
    "ReasonRequired",
    "RecordError",
    "Records",
]

"""The case roles that may sign off and amend a session record."""

_MIN_PREFIX = 4


class RecordError(StorageError):
    """A change to a session record that the rules refuse."""


class NotFinished(RecordError):
    """Only a completed session's record can be signed off or amended."""


class AlreadySigned(RecordError):
    """The session record is already signed off."""


class ReasonRequired(RecordError):
    """The record is signed off: a change needs a stated reason."""


class NotApplicable(RecordError):
    """The question was withdrawn (it no longer applies), so it has no answer to amend."""


class NoChange(RecordError):
    """The new answer is the answer already recorded."""


class AmbiguousSession(NotFound):
    """More than one session id starts with what was given."""


class Records:
    """Session records, case timelines and exports over one ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- sessions ---------------------------------------------------------------------

    def find_session(self, key: str) -> str:
        """The session id ``key`` names: the whole id, or a unique prefix of 4+ characters."""
        key = key.strip().rstrip("…").lower()
        row = self.store._one("SELECT id FROM sessions WHERE id = ?", (key,))
        if row is not None:
            return str(row["id"])
        if len(key) < _MIN_PREFIX:
            raise NotFound(f"no session {key!r}")
        pattern = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.store._all(
            "SELECT id FROM sessions WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 3", (pattern,)
        )
        if not rows:
            raise NotFound(f"no session {key!r}")
        if len(rows) > 1:
            raise AmbiguousSession(f"more than one session starts with {key!r}; give more of it")
        return str(rows[0]["id"])

    def session(self, session_id: str) -> dict[str, Any]:
        """The session's row, with its respondent's and signer's names and roles."""
        row = self.store._one(
            "SELECT s.*, r.name AS respondent_name, r.role AS respondent_role,"
            " g.name AS signer_name, g.role AS signer_role"
            " FROM sessions s JOIN people r ON r.id = s.respondent_id"
            " LEFT JOIN people g ON g.id = s.signed_by WHERE s.id = ?",
            (session_id,),
        )
        if row is None:
            raise NotFound(f"no session {session_id}")
        return row

    def answer_rows(self, session_id: str) -> list[dict[str, Any]]:
        """Every revision of every answer of a session, in the order written, with the
        name of whoever wrote it."""
        return self.store._all(
            "SELECT a.*, p.name AS changed_by_name FROM answers a"
            " LEFT JOIN people p ON p.id = a.changed_by"
            " WHERE a.session_id = ? ORDER BY a.id",
            (session_id,),
        )

    def scores(self, session_id: str) -> list[dict[str, Any]]:
        """The latest score of each stage of a session."""
        return self.store.scores(session_id)

    # -- cases ------------------------------------------------------------------------

    def case(self, case_id: int) -> Case:
        return self.store.case(case_id)

    def case_by_code(self, code: str) -> Case:
        return self.store.case_by_code(code)

    def members(self, case_id: int) -> list[dict[str, Any]]:
        """Who is on the case: id, name, their role on the case, since when."""
        return self.store._all(
            "SELECT p.id, p.name, p.role AS person_role, m.role, m.added_at"
            " FROM case_members m JOIN people p ON p.id = m.person_id"
            " WHERE m.case_id = ? ORDER BY m.added_at, p.id",
            (case_id,),
        )

    def case_sessions(self, case_id: int) -> list[dict[str, Any]]:
        """Every session of a case in the order started, with respondent and signer."""
        return self.store._all(
            "SELECT s.*, r.name AS respondent_name, r.role AS respondent_role,"
            " g.name AS signer_name FROM sessions s JOIN people r ON r.id = s.respondent_id"
            " LEFT JOIN people g ON g.id = s.signed_by"
            " WHERE s.case_id = ? ORDER BY s.started_at, s.id",
            (case_id,),
        )

    def case_scores(self, case_id: int) -> list[dict[str, Any]]:
        """The latest score of every scored stage of every session of a case, oldest first,
        with the session's phase, status and times."""
        return self.store._all(
            "SELECT sc.*, s.phase, s.status AS session_status, s.started_at, s.completed_at,"
            " s.flow_id, s.flow_version, s.lang"
            " FROM scores sc JOIN sessions s ON s.id = sc.session_id"
            " WHERE s.case_id = ? AND sc.revision = (SELECT MAX(t.revision) FROM scores t"
            "   WHERE t.session_id = sc.session_id AND t.stage_id = sc.stage_id)"
            " ORDER BY COALESCE(s.completed_at, s.started_at), s.id, sc.stage_id",
            (case_id,),
        )

    def current_answers(self, session_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The latest revision of every answer of each session, in the order first answered,
        with the name of whoever wrote it."""
        ids = list(dict.fromkeys(session_ids))
        out: dict[str, list[dict[str, Any]]] = {sid: [] for sid in ids}
        rows = self.store._all(
            "SELECT a.*, p.name AS changed_by_name FROM answers a JOIN ("
            "  SELECT session_id, question_id, MAX(revision) AS revision, MIN(id) AS first"
            "  FROM answers WHERE session_id IN (SELECT value FROM json_each(?))"
            "  GROUP BY session_id, question_id"
            ") latest ON a.session_id = latest.session_id"
            " AND a.question_id = latest.question_id AND a.revision = latest.revision"
            " LEFT JOIN people p ON p.id = a.changed_by"
            " ORDER BY a.session_id, latest.first",
            (json.dumps(ids),),
        )
        for row in rows:
            out[row["session_id"]].append(row)
        return out

    # -- exports ----------------------------------------------------------------------

    def export_answers(self, case_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The latest revision of every answer in the cases, one row each (withdrawn answers,
        whose question no longer applies, left out), by case, session and answer order."""
        if not case_ids:
            return []
        return self.store._all(
            "SELECT c.code AS case_code, s.id AS session_id, s.flow_id, s.flow_version,"
            " s.phase, s.lang, s.channel, s.status AS session_status,"
            " s.respondent_id, r.role AS respondent_role, a.stage_id, a.question_id,"
            " a.parent_id, a.status, a.value, a.display, a.answered_at, a.revision,"
            " a.changed_by, a.reason"
            " FROM answers a JOIN ("
            "  SELECT session_id, question_id, MAX(revision) AS revision, MIN(id) AS first"
            "  FROM answers GROUP BY session_id, question_id"
            " ) latest ON a.session_id = latest.session_id"
            " AND a.question_id = latest.question_id AND a.revision = latest.revision"
            " JOIN sessions s ON s.id = a.session_id JOIN cases c ON c.id = s.case_id"
            " JOIN people r ON r.id = s.respondent_id"
            " WHERE s.case_id IN (SELECT value FROM json_each(?)) AND a.status != 'withdrawn'"
            " ORDER BY c.code, s.started_at, s.id, latest.first",
            (json.dumps(list(case_ids)),),
        )

    def export_scores(self, case_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The latest score of every scored stage in the cases, by case and session."""
        if not case_ids:
            return []
        return self.store._all(
            "SELECT c.code AS case_code, s.id AS session_id, s.flow_id, s.flow_version,"
            " s.phase, s.status AS session_status, s.completed_at, sc.stage_id,"
            " sc.instrument_id, sc.instrument_version, sc.result, sc.revision, sc.computed_at"
            " FROM scores sc JOIN sessions s ON s.id = sc.session_id"
            " JOIN cases c ON c.id = s.case_id"
            " WHERE s.case_id IN (SELECT value FROM json_each(?))"
            " AND sc.revision = (SELECT MAX(t.revision) FROM scores t"
            "   WHERE t.session_id = sc.session_id AND t.stage_id = sc.stage_id)"
            " ORDER BY c.code, s.started_at, s.id, sc.stage_id",
            (json.dumps(list(case_ids)),),
        )

    # -- changes ----------------------------------------------------------------------

    def _may_change(self, session: dict[str, Any], person_id: int) -> None:
        # Who may sign or amend is the access policy's question (casework/policy.py), asked
        # by the application layer before it gets here; storage only knows what state a
        # record must be in.
        if session["status"] != "completed":
            raise NotFinished(
                f"session {session['id']} is {session['status']}; only a completed session's "
                "record can be signed off or amended"
            )

    def sign(self, session_id: str, worker_id: int, comment: str | None = None) -> str:
        """Sign off (lock) a completed session record, with the signer's comment if any;
        returns when it was signed."""
        with self.store.atomic():
            session = self.session(session_id)
            self._may_change(session, worker_id)
            if session["signed_at"]:
                raise AlreadySigned(
                    f"session {session_id} was signed off at {session['signed_at']}"
                )
            now = _store._now()
            cursor = self.store.db.execute(
                "UPDATE sessions SET signed_at = ?, signed_by = ?, sign_comment = ?"
                " WHERE id = ? AND signed_at IS NULL",
                (now, worker_id, (comment or "").strip() or None, session_id),
            )
            if cursor.rowcount != 1:  # someone else signed it between our read and write
                raise AlreadySigned(f"session {session_id} was signed off meanwhile")
            self.store.audit(
                worker_id,
                "session.sign",
                "session",
                session_id,
                session["case_id"],
                **({"comment": True} if (comment or "").strip() else {}),
            )
        return now

    def amend(
        self,
        session_id: str,
        question_id: str,
        value: Any,
        display: str,
        reason: str | None,
        person_id: int,
        *,
        score: StageScore | Sequence[StageScore] | None = None,
        outcome: Outcome | None = None,
    ) -> int:
        """Write a new revision of one answer of a completed session; returns its revision.

        ``display`` is the answer as the respondent would have seen it, in the session's
        language. ``score`` is the rescored stage (or stages) when the question counts
        towards an instrument or a flow's own ratings: it is stored in the same transaction,
        so the record never shows an answer and a score that disagree; likewise ``outcome``,
        what the session sets in the case file (held on, stage, goal ratings), read again
        from its answers. After sign-off a ``reason`` is required."""
        reason = (reason or "").strip() or None
        with self.store.atomic():
            session = self.session(session_id)
            self._may_change(session, person_id)
            if session["signed_at"] and reason is None:
                raise ReasonRequired(
                    f"session {session_id} is signed off: say why the answer changes"
                )
            latest = self.store._one(
                "SELECT * FROM answers WHERE session_id = ? AND question_id = ?"
                " ORDER BY revision DESC LIMIT 1",
                (session_id, question_id),
            )
            if latest is None:
                raise NotFound(f"session {session_id} has no answer to {question_id!r}")
            if latest["status"] == "withdrawn":
                raise NotApplicable(f"{question_id!r} no longer applies in session {session_id}")
            old = None if latest["value"] is None else json.loads(latest["value"])
            if latest["status"] == "answered" and old == value:
                raise NoChange(f"{question_id!r} already has that answer")
            revision = int(latest["revision"]) + 1
            now = _store._now()
            self.store.db.execute(
                "INSERT INTO answers (session_id, stage_id, question_id, parent_id, revision,"
                " status, value, display, shown_at, answered_at, changed_by, reason)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    session_id,
                    latest["stage_id"],
                    question_id,
                    latest["parent_id"],
                    revision,
                    "answered",
                    _store._json(value),
                    display,
                    None,
                    now,
                    person_id,
                    reason,
                ),
            )
            self.store.audit(
                person_id,
                "answer.amend",
                "session",
                session_id,
                session["case_id"],
                question=question_id,
                revision=revision,
                signed=bool(session["signed_at"]),
            )
            if outcome is not None:
                from storage.casefile import write_outcome

                write_outcome(self.store, session_id, session["case_id"], outcome, person_id)
            rescored = [score] if isinstance(score, StageScore) else list(score or [])
            for one in rescored:
                self._store_score(session_id, one, now)
                self.store.audit(
                    person_id,
                    "score.compute",
                    "session",
                    session_id,
                    session["case_id"],
                    instrument=one.instrument_id,
                )
        return revision

    def _store_score(self, session_id: str, score: StageScore, now: str) -> None:
        row = self.store._one(
            "SELECT COALESCE(MAX(revision), 0) + 1 AS next FROM scores"
            " WHERE session_id = ? AND stage_id = ?",
            (session_id, score.stage_id),
        )
        band = score.result.get("band")
        self.store.db.execute(
            "INSERT INTO scores (session_id, stage_id, instrument_id, instrument_version,"
            " total, band, result, revision, computed_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                session_id,
                score.stage_id,
                score.instrument_id,
                score.instrument_version,
                score.result.get("total"),
                band.get("id") if isinstance(band, dict) else band,
                _store._json(score.result),
                (row or {}).get("next", 1),
                now,
            ),
        )
