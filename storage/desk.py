"""What the desk (the browser channel) keeps and reads in bulk: sign-in links, signed-in
browsers, and a caseload's figures for many cases at once.

Tokens and session ids are stored as SHA-256 hashes only: they are 32 random bytes each, so a
hash cannot be turned back into a working link or cookie, and a copy of the database signs
nobody in.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.store import Case, Store

__all__ = ["DeskStore"]


def _ts(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _ids(case_ids: Sequence[int]) -> str:
    return json.dumps([int(c) for c in case_ids])


class DeskStore:
    """The desk's tables over one ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # -- one-time sign-in links -------------------------------------------------------

    def add_signin(
        self,
        token_hash: str,
        person_id: int,
        created_by: int | None,
        via: str,
        now: datetime,
        expires: datetime,
    ) -> None:
        with self.store.atomic():
            self.db.execute(
                "INSERT INTO desk_signin_tokens (token_hash, person_id, created_by,"
                " created_via, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (token_hash, person_id, created_by, via, _ts(now), _ts(expires)),
            )
            self.store.audit(
                created_by, "desk.link.create", "person", person_id, via=via, minutes=15
            )

    def signin(self, token_hash: str) -> dict[str, Any] | None:
        return self.store._one(
            "SELECT * FROM desk_signin_tokens WHERE token_hash = ?", (token_hash,)
        )

    def use_signin(self, token_hash: str, now: datetime) -> int | None:
        """Spend a sign-in link: the person it signs in, or None when it is unknown, used or
        expired. The UPDATE spends it, so two browsers racing with one link get one session."""
        cursor = self.db.execute(
            "UPDATE desk_signin_tokens SET used_at = ?"
            " WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
            (_ts(now), token_hash, _ts(now)),
        )
        if cursor.rowcount != 1:
            return None
        row = self.signin(token_hash)
        return None if row is None else int(row["person_id"])

    # -- signed-in browsers -----------------------------------------------------------

    def add_session(self, id_hash: str, person_id: int, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO desk_sessions (id_hash, person_id, created_at, last_seen_at)"
            " VALUES (?, ?, ?, ?)",
            (id_hash, person_id, _ts(now), _ts(now)),
        )

    def session(self, id_hash: str) -> dict[str, Any] | None:
        return self.store._one("SELECT * FROM desk_sessions WHERE id_hash = ?", (id_hash,))

    def touch_session(self, id_hash: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE desk_sessions SET last_seen_at = ? WHERE id_hash = ? AND ended_at IS NULL",
            (_ts(now), id_hash),
        )

    def end_session(self, id_hash: str, now: datetime, reason: str) -> bool:
        cursor = self.db.execute(
            "UPDATE desk_sessions SET ended_at = ?, end_reason = ?"
            " WHERE id_hash = ? AND ended_at IS NULL",
            (_ts(now), reason, id_hash),
        )
        return cursor.rowcount == 1

    # -- people -----------------------------------------------------------------------

    def workers(self) -> list[dict[str, Any]]:
        """Everyone who may use the desk at all (workers, supervisors, administrators)."""
        return self.store._all(
            "SELECT * FROM people WHERE role IN ('worker', 'supervisor', 'admin') ORDER BY id"
        )

    def case_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM cases").fetchone()[0])

    def team(self, supervisor_id: int) -> list[dict[str, Any]]:
        return self.store._all(
            "SELECT * FROM people WHERE supervisor_id = ? ORDER BY name, id", (supervisor_id,)
        )

    # -- caseload ---------------------------------------------------------------------

    def relations_by_case(self, person_id: int) -> dict[int, frozenset[str]]:
        """How the person stands to every case they stand to at all (``case_relations``
        for all their cases in one query): member roles, and ``supervisor`` for a case
        with a worker they supervise."""
        rows = self.db.execute(
            "SELECT case_id, role FROM case_members WHERE person_id = ?"
            " UNION SELECT m.case_id, 'supervisor' FROM case_members m"
            " JOIN people p ON p.id = m.person_id"
            " WHERE m.role = 'worker' AND p.supervisor_id = ?",
            (person_id, person_id),
        ).fetchall()
        out: dict[int, set[str]] = defaultdict(set)
        for case_id, role in rows:
            out[int(case_id)].add(str(role))
        return {case_id: frozenset(roles) for case_id, roles in out.items()}

    def cases(self, case_ids: Sequence[int]) -> list[Case]:
        rows = self.store._all(
            "SELECT * FROM cases WHERE id IN (SELECT value FROM json_each(?)) ORDER BY code",
            (_ids(case_ids),),
        )
        return [
            Case(r["id"], r["code"], r["title"], json.loads(r["facts"]), r["status"]) for r in rows
        ]

    def members(self, case_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """Who is on each case: id, name, role on the case, the person's global role."""
        out: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in self.store._all(
            "SELECT m.case_id, p.id, p.name, p.role AS person_role, m.role, m.added_at"
            " FROM case_members m JOIN people p ON p.id = m.person_id"
            " WHERE m.case_id IN (SELECT value FROM json_each(?)) ORDER BY m.added_at, p.id",
            (_ids(case_ids),),
        ):
            out[int(row["case_id"])].append(row)
        return out

    def last_contact(self, case_ids: Sequence[int]) -> dict[int, str]:
        """When each case last heard from anyone: the latest change to any of its sessions
        (an answer given, a session finished), read from an index."""
        rows = self.db.execute(
            "SELECT case_id, MAX(updated_at) FROM sessions"
            " WHERE case_id IN (SELECT value FROM json_each(?)) GROUP BY case_id",
            (_ids(case_ids),),
        ).fetchall()
        return {int(case_id): str(at) for case_id, at in rows if at}

    def compliance(
        self, case_ids: Sequence[int], since: datetime, until: datetime
    ) -> dict[int, tuple[int, int]]:
        """Per case, scheduled check-ins due in the period: (completed, missed)."""
        rows = self.db.execute(
            "SELECT s.case_id, SUM(e.kind = 'completed'), SUM(e.kind = 'missed')"
            " FROM schedule_events e JOIN schedules s ON s.id = e.schedule_id"
            " WHERE s.case_id IN (SELECT value FROM json_each(?))"
            " AND e.due_at >= ? AND e.due_at <= ? AND e.kind IN ('completed', 'missed')"
            " GROUP BY s.case_id",
            (_ids(case_ids), _ts(since), _ts(until)),
        ).fetchall()
        return {int(c): (int(done or 0), int(missed or 0)) for c, done, missed in rows}

    def find_cases(self, case_ids: Sequence[int], text: str) -> set[int]:
        """The cases whose code or title, or a member's name, contains ``text``."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.db.execute(
            "SELECT c.id FROM cases c WHERE c.id IN (SELECT value FROM json_each(?))"
            " AND (c.code LIKE ? ESCAPE '\\' OR coalesce(c.title, '') LIKE ? ESCAPE '\\'"
            "  OR EXISTS (SELECT 1 FROM case_members m JOIN people p ON p.id = m.person_id"
            "   WHERE m.case_id = c.id AND p.name LIKE ? ESCAPE '\\'))",
            (_ids(case_ids), pattern, pattern, pattern),
        ).fetchall()
        return {int(r[0]) for r in rows}

    # -- records ----------------------------------------------------------------------

    def sessions_summary(self, case_id: int) -> list[dict[str, Any]]:
        """Every session of a case with its respondent, signer and sign-off comment, in the
        order held."""
        return self.store._all(
            "SELECT s.*, r.name AS respondent_name, r.role AS respondent_role,"
            " g.name AS signer_name FROM sessions s JOIN people r ON r.id = s.respondent_id"
            " LEFT JOIN people g ON g.id = s.signed_by WHERE s.case_id = ?"
            " ORDER BY s.started_at, s.id",
            (case_id,),
        )
