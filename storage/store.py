"""The only code that touches the database.

Durability promise: WAL with ``synchronous=NORMAL``. A committed turn survives the process
being killed (SIGKILL, a crash); it may not survive the machine losing power in the last
moments. Set ``CASEFLOW_SQLITE_SYNC=FULL`` to survive power loss too, at ~2 ms a commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from flows.engine import RaisedFlag, Recorded, Session, Turn
from storage.files import private_database
from storage.migrations import migrations

ROLES = ("admin", "supervisor", "worker", "caregiver", "client")
MEMBER_ROLES = ("worker", "supervisor", "caregiver", "client")


class StorageError(Exception):
    """Something the database refused."""


class NotFound(StorageError):
    """No such record."""


class FlowVersionConflict(StorageError):
    """A flow file changed without a new version number: old sessions would read wrong."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="microseconds") if moment else None


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _channels(channel: str | Sequence[str] | None) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause (and its parameters) for sessions last shown on these channels."""
    if channel is None:
        return "", ()
    names = (channel,) if isinstance(channel, str) else tuple(channel)
    marks = ", ".join("?" * len(names))
    return f" AND COALESCE(last_channel, channel) IN ({marks})", names


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    code: str
    title: str | None
    facts: dict[str, Any]
    """The facts stored with the case (what it was opened with)."""
    status: str
    context: dict[str, Any] | None = None
    """What flows see as ``case.*``: the stored facts overlaid with the case file (profile,
    goals, consent; storage.casefile.case_facts). None when not read: then the facts."""

    @property
    def flow_facts(self) -> dict[str, Any]:
        return self.facts if self.context is None else self.context


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session's bookkeeping beyond what the engine needs."""

    id: str
    case_id: int
    flow_id: str
    flow_version: int
    respondent_id: int
    channel: str
    lang: str
    phase: str
    status: str
    started_at: str
    completed_at: str | None


def connect(path: str | Path) -> Database:
    """Open (and migrate) the database at ``path``; ``:memory:`` for tests."""
    # Autocommit mode: a statement outside `atomic()` commits by itself, and `atomic()` owns
    # BEGIN/COMMIT. In sqlite3's legacy mode a bare INSERT would silently open a transaction
    # that stays open, so an acknowledged answer might not be on disk.
    memory = str(path) in (":memory:", "")
    if not memory:
        # Case data: the file (and the -wal and -shm SQLite makes with its mode) is 0600.
        private_database(path)
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    if not memory:
        db.execute("PRAGMA journal_mode=WAL")
    sync = os.environ.get("CASEFLOW_SQLITE_SYNC", "NORMAL").upper()
    db.execute(f"PRAGMA synchronous={'FULL' if sync == 'FULL' else 'NORMAL'}")
    # SQLite leaves foreign keys off unless every connection asks.
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=5000")
    migrations.apply(db)
    return db


class Store:
    """Cases, people, sessions, answers, scores and the audit log."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Added to every audit row this store writes: how the actor came (for the terminal,
        # the OS account the command ran under), so the log names the person and the door.
        self.via: dict[str, Any] = {}

    @classmethod
    def open(cls, path: str | Path) -> Store:
        return cls(connect(path))

    def close(self) -> None:
        self.db.close()

    def query_only(self) -> None:
        """Refuse every write on this connection from now on (a reader's connection)."""
        self.db.execute("PRAGMA query_only = ON")

    @contextmanager
    def atomic(self) -> Iterator[None]:
        with self.db.atomic():
            yield

    def _one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        cursor = self.db.execute(sql, params)
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([c[0] for c in cursor.description], row, strict=True))

    def _all(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql, params)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # -- audit ----------------------------------------------------------------------------

    def audit(
        self,
        actor_id: int | None,
        action: str,
        entity: str,
        entity_id: object = None,
        case_id: int | None = None,
        **detail: Any,
    ) -> None:
        """Record who read or changed what. ``detail`` takes ids and counts, never content."""
        self.db.execute(
            "INSERT INTO audit (at, actor_id, action, entity, entity_id, case_id, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                _now(),
                actor_id,
                action,
                entity,
                None if entity_id is None else str(entity_id),
                case_id,
                _json({**self.via, **detail}),
            ),
        )

    def audit_refusal(
        self,
        actor_id: int | None,
        action: str,
        entity: str,
        entity_id: object = None,
        case_id: int | None = None,
        *,
        window: timedelta = timedelta(hours=1),
    ) -> None:
        """Record a refusal, collapsing repeats: the same actor (or stranger, by entity id)
        refused the same action on the same thing within ``window`` adds to one row's
        ``count``, so a flood of messages from a stranger leaves one row an hour."""
        since = (datetime.now(UTC) - window).isoformat(timespec="microseconds")
        key = None if entity_id is None else str(entity_id)
        row = self._one(
            "SELECT id FROM audit WHERE action = 'access.refused' AND at >= ?"
            " AND actor_id IS ? AND entity = ? AND entity_id IS ? AND case_id IS ?"
            " AND json_extract(detail, '$.refused') IS ? ORDER BY id DESC LIMIT 1",
            (since, actor_id, entity, key, case_id, action),
        )
        if row is not None:
            self.db.execute(
                "UPDATE audit SET detail = json_set(detail, '$.count',"
                " coalesce(json_extract(detail, '$.count'), 1) + 1) WHERE id = ?",
                (row["id"],),
            )
            return
        self.audit(actor_id, "access.refused", entity, entity_id, case_id, refused=action)

    def audit_rows(self, case_id: int | None = None) -> list[dict[str, Any]]:
        if case_id is None:
            return self._all("SELECT * FROM audit ORDER BY id")
        return self._all("SELECT * FROM audit WHERE case_id = ? ORDER BY id", (case_id,))

    # -- people ---------------------------------------------------------------------------

    def add_person(
        self,
        name: str,
        role: str,
        *,
        telegram_user_id: int | None = None,
        local_user: str | None = None,
        lang: str = "en",
        actor_id: int | None = None,
    ) -> int:
        if role not in ROLES:
            raise StorageError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        with self.atomic():
            cursor = self.db.execute(
                "INSERT INTO people (name, role, telegram_user_id, local_user, lang, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name, role, telegram_user_id, local_user, lang, _now()),
            )
            person_id = int(cursor.lastrowid or 0)
            self.audit(actor_id, "person.create", "person", person_id, role=role)
        return person_id

    def person(self, person_id: int) -> dict[str, Any]:
        row = self._one("SELECT * FROM people WHERE id = ?", (person_id,))
        if row is None:
            raise NotFound(f"no person {person_id}")
        return row

    def person_by_login(self, login: str) -> dict[str, Any] | None:
        """The person linked to an operating-system account, if any."""
        return self._one("SELECT * FROM people WHERE local_user = ?", (login,))

    def link_login(self, person_id: int, login: str | None, actor_id: int | None = None) -> None:
        """Link (or, with None, unlink) an operating-system account to a person."""
        with self.atomic():
            self.db.execute("UPDATE people SET local_user = ? WHERE id = ?", (login, person_id))
            self.audit(actor_id, "person.link_login", "person", person_id, linked=login is not None)

    def case_relations(self, case_id: int, person_id: int) -> frozenset[str]:
        """How a person stands to a case: their member roles on it, and ``supervisor`` when
        they supervise a worker on it. Empty for everyone else."""
        rows = self.db.execute(
            "SELECT role FROM case_members WHERE case_id = ? AND person_id = ?"
            " UNION SELECT 'supervisor' FROM case_members m JOIN people p ON p.id = m.person_id"
            " WHERE m.case_id = ? AND m.role = 'worker' AND p.supervisor_id = ?",
            (case_id, person_id, case_id, person_id),
        ).fetchall()
        return frozenset(str(r[0]) for r in rows)

    # -- cases ----------------------------------------------------------------------------

    def _case(self, row: dict[str, Any]) -> Case:
        # What flows see: the facts stored with the case, overlaid with its profile, goals
        # and consent (storage.casefile), so a flow piping case.child_name gets the profile's.
        from storage.casefile import case_facts

        facts = json.loads(row["facts"])
        context = case_facts(self, int(row["id"]), facts)
        return Case(row["id"], row["code"], row["title"], facts, row["status"], context)

    def case_by_code(self, code: str) -> Case:
        row = self._one("SELECT * FROM cases WHERE code = ?", (code,))
        if row is None:
            raise NotFound(f"no case {code!r}")
        return self._case(row)

    def case(self, case_id: int) -> Case:
        row = self._one("SELECT * FROM cases WHERE id = ?", (case_id,))
        if row is None:
            raise NotFound(f"no case {case_id}")
        return self._case(row)

    def create_case(
        self,
        code: str,
        created_by: int,
        title: str | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> Case:
        with self.atomic():
            cursor = self.db.execute(
                "INSERT INTO cases (code, title, facts, created_by, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (code, title, _json(dict(facts or {})), created_by, _now()),
            )
            case_id = int(cursor.lastrowid or 0)
            self._add_member(case_id, created_by, "worker")
            self.audit(created_by, "case.create", "case", case_id, case_id)
        return self.case(case_id)

    def count_cases(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM cases").fetchone()[0])

    def workers(self) -> list[dict[str, Any]]:
        """Workers and supervisors, by name."""
        return self._all(
            "SELECT * FROM people WHERE role IN ('worker', 'supervisor', 'admin') ORDER BY name"
        )

    def case_exists(self, code: str) -> bool:
        return self._one("SELECT 1 AS x FROM cases WHERE code = ?", (code,)) is not None

    def ensure_case(self, code: str, created_by: int) -> Case:
        try:
            return self.case_by_code(code)
        except NotFound:
            return self.create_case(code, created_by)

    def _add_member(self, case_id: int, person_id: int, role: str) -> None:
        if role not in MEMBER_ROLES:
            raise StorageError(f"unknown case role {role!r}")
        self.db.execute(
            "INSERT OR IGNORE INTO case_members (case_id, person_id, role, added_at)"
            " VALUES (?, ?, ?, ?)",
            (case_id, person_id, role, _now()),
        )

    def add_member(self, case_id: int, person_id: int, role: str, actor_id: int | None) -> None:
        with self.atomic():
            self._add_member(case_id, person_id, role)
            self.audit(
                actor_id,
                "case.member.add",
                "case",
                case_id,
                case_id,
                person_id=person_id,
                role=role,
            )

    def is_member(self, case_id: int, person_id: int) -> bool:
        return (
            self._one(
                "SELECT 1 FROM case_members WHERE case_id = ? AND person_id = ?",
                (case_id, person_id),
            )
            is not None
        )

    def members(self, case_id: int) -> list[dict[str, Any]]:
        return self._all(
            "SELECT p.id, p.name, p.role AS person_role, m.role, m.added_at"
            " FROM case_members m JOIN people p ON p.id = m.person_id"
            " WHERE m.case_id = ? ORDER BY m.added_at",
            (case_id,),
        )

    # -- flow versions --------------------------------------------------------------------

    def remember_flow(self, flow_id: str, version: int, source: str) -> None:
        """Keep the text of a flow version the first time a session uses it."""
        digest = hashlib.sha256(source.encode()).hexdigest()
        row = self._one(
            "SELECT sha256 FROM flow_versions WHERE flow_id = ? AND version = ?",
            (flow_id, version),
        )
        if row is None:
            with self.atomic():
                self.db.execute(
                    "INSERT INTO flow_versions (flow_id, version, source, sha256, stored_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (flow_id, version, source, digest, _now()),
                )
        elif row["sha256"] != digest:
            raise FlowVersionConflict(
                f"flow {flow_id!r} version {version} differs from the one already used by "
                f"sessions in this database; give the changed file a new version number"
            )

    def flow_source(self, flow_id: str, version: int) -> str:
        row = self._one(
            "SELECT source FROM flow_versions WHERE flow_id = ? AND version = ?",
            (flow_id, version),
        )
        if row is None:
            raise NotFound(f"flow {flow_id!r} version {version} was never used here")
        return str(row["source"])

    # -- sessions -------------------------------------------------------------------------

    def create_session(
        self,
        session: Session,
        *,
        case_id: int,
        respondent_id: int,
        channel: str,
        phase: str,
    ) -> None:
        now = _now()
        with self.atomic():
            self.db.execute(
                "INSERT INTO sessions (id, case_id, flow_id, flow_version, respondent_id,"
                " channel, lang, phase, state, resume_state, editing, status, shown_at,"
                " started_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    session.id,
                    case_id,
                    session.flow_id,
                    session.flow_version,
                    respondent_id,
                    channel,
                    session.lang,
                    phase,
                    session.state,
                    session.resume_state,
                    int(session.editing),
                    "active",
                    _iso(session.shown_at),
                    now,
                    now,
                ),
            )
            self.audit(
                respondent_id,
                "session.start",
                "session",
                session.id,
                case_id,
                flow=session.flow_id,
                version=session.flow_version,
            )

    def session_info(self, session_id: str) -> SessionInfo:
        row = self._one(
            "SELECT id, case_id, flow_id, flow_version, respondent_id, channel, lang, phase,"
            " status, started_at, completed_at FROM sessions WHERE id = ?",
            (session_id,),
        )
        if row is None:
            raise NotFound(f"no session {session_id}")
        return SessionInfo(**row)

    def open_session_id(self, case_id: int, flow_id: str, respondent_id: int) -> str | None:
        """The respondent's unfinished session of this flow on this case, if any."""
        row = self._one(
            "SELECT id FROM sessions WHERE case_id = ? AND flow_id = ? AND respondent_id = ?"
            " AND status IN ('active', 'paused') ORDER BY started_at DESC LIMIT 1",
            (case_id, flow_id, respondent_id),
        )
        return str(row["id"]) if row else None

    def load_session(self, session_id: str, facts: Mapping[str, Any] | None = None) -> Session:
        """The session as the engine needs it: state and the latest revision of each answer."""
        row = self._one("SELECT * FROM sessions WHERE id = ?", (session_id,))
        if row is None:
            raise NotFound(f"no session {session_id}")
        if facts is None:
            facts = self.case(row["case_id"]).flow_facts
        session = Session(
            id=row["id"],
            flow_id=row["flow_id"],
            flow_version=row["flow_version"],
            lang=row["lang"],
            state=row["state"],
            resume_state=row["resume_state"],
            editing=bool(row["editing"]),
            shown_at=_dt(row["shown_at"]),
            facts=dict(facts),
            previous=self.previous_answers(
                row["case_id"], row["flow_id"], row["respondent_id"], before=session_id
            ),
        )
        session.flags = {
            str(r["flag_id"])
            for r in self._all(
                "SELECT flag_id FROM flags WHERE session_id = ? AND withdrawn_at IS NULL",
                (session_id,),
            )
        }
        for answer in self.current_answers(session_id):
            session.answers[answer["question_id"]] = Recorded(
                value=None if answer["value"] is None else json.loads(answer["value"]),
                status=answer["status"],
                revision=answer["revision"],
                shown_at=_dt(answer["shown_at"]),
                answered_at=_dt(answer["answered_at"]) or datetime.now(UTC),
            )
        return session

    def current_answers(self, session_id: str) -> list[dict[str, Any]]:
        """The latest revision of every answer of a session, in the order first answered."""
        return self._all(
            "SELECT a.* FROM answers a JOIN ("
            "  SELECT question_id, MAX(revision) AS revision, MIN(id) AS first"
            "  FROM answers WHERE session_id = ? GROUP BY question_id"
            ") latest ON a.question_id = latest.question_id AND a.revision = latest.revision"
            " WHERE a.session_id = ? ORDER BY latest.first",
            (session_id, session_id),
        )

    def answer_history(self, session_id: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM answers WHERE session_id = ? ORDER BY id", (session_id,))

    def previous_answers(
        self, case_id: int, flow_id: str, respondent_id: int, before: str | None = None
    ) -> dict[str, Any]:
        """What the respondent answered in their last completed session of this flow."""
        row = self._one(
            "SELECT id FROM sessions WHERE case_id = ? AND flow_id = ? AND respondent_id = ?"
            " AND status = 'completed' AND id != ? ORDER BY completed_at DESC LIMIT 1",
            (case_id, flow_id, respondent_id, before or ""),
        )
        if row is None:
            return {}
        return {
            a["question_id"]: json.loads(a["value"])
            for a in self.current_answers(str(row["id"]))
            if a["status"] == "answered" and a["value"] is not None
        }

    def apply(self, session: Session, turn: Turn, actor_id: int, case_id: int) -> None:
        """Store one turn in one transaction: answers, scores, the session's state, audit."""
        status = turn.status
        now = _now()
        with self.atomic():
            if turn.changes:
                self.db.conn.executemany(
                    "INSERT INTO answers (session_id, stage_id, question_id, parent_id, revision,"
                    " status, value, display, shown_at, answered_at, changed_by)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            session.id,
                            c.stage_id,
                            c.question_id,
                            c.parent,
                            c.revision,
                            c.status,
                            None if c.value is None else _json(c.value),
                            c.display,
                            _iso(c.shown_at),
                            _iso(c.answered_at),
                            actor_id,
                        )
                        for c in turn.changes
                    ],
                )
                self.audit(
                    actor_id,
                    "answer.record",
                    "session",
                    session.id,
                    case_id,
                    questions=[c.question_id for c in turn.changes],
                )
            for score in turn.scores:
                revision = self._one(
                    "SELECT COALESCE(MAX(revision), 0) + 1 AS next FROM scores"
                    " WHERE session_id = ? AND stage_id = ?",
                    (session.id, score.stage_id),
                )
                band = score.result.get("band")
                band_id = band.get("id") if isinstance(band, dict) else band
                self.db.execute(
                    "INSERT INTO scores (session_id, stage_id, instrument_id, instrument_version,"
                    " total, band, result, revision, computed_at) VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        session.id,
                        score.stage_id,
                        score.instrument_id,
                        score.instrument_version,
                        score.result.get("total"),
                        band_id,
                        _json(score.result),
                        (revision or {}).get("next", 1),
                        now,
                    ),
                )
                self.audit(
                    actor_id,
                    "score.compute",
                    "session",
                    session.id,
                    case_id,
                    instrument=score.instrument_id,
                )
            if turn.flags_raised or turn.flags_withdrawn:
                self._record_flags(session, turn, actor_id, case_id, now)
            if turn.followups:
                self._record_followups(session, turn, actor_id, case_id, now)
            self.db.execute(
                "UPDATE sessions SET state = ?, resume_state = ?, editing = ?, status = ?,"
                " shown_at = ?, updated_at = ?, completed_at = ? WHERE id = ?",
                (
                    session.state,
                    session.resume_state,
                    int(session.editing),
                    status,
                    _iso(session.shown_at),
                    now,
                    now if status == "completed" else None,
                    session.id,
                ),
            )
            if status == "completed" and turn.outcome is not None:
                from storage.casefile import write_outcome

                write_outcome(self, session.id, case_id, turn.outcome, actor_id)
            if status in ("completed", "cancelled", "paused"):
                self.audit(actor_id, f"session.{status}", "session", session.id, case_id)

    def _record_flags(
        self, session: Session, turn: Turn, actor_id: int, case_id: int, now: str
    ) -> None:
        """Flags withdrawn and raised by a turn, in the turn's transaction, at the turn's
        time (the engine's clock, as the answers)."""
        at = (_iso(turn.changes[0].answered_at) if turn.changes else None) or now
        self.record_flag_changes(
            session.id, case_id, turn.flags_raised, turn.flags_withdrawn, actor_id, at
        )

    def record_flag_changes(
        self,
        session_id: str,
        case_id: int,
        raised: list[RaisedFlag],
        withdrawn: list[str],
        actor_id: int | None,
        at: str,
    ) -> None:
        """Flags withdrawn and raised by answers (a turn's, or an amendment's), inside the
        caller's transaction, with one audit row."""
        if withdrawn:
            self.db.conn.executemany(
                "UPDATE flags SET withdrawn_at = ? WHERE session_id = ? AND flag_id = ?"
                " AND withdrawn_at IS NULL",
                [(at, session_id, flag_id) for flag_id in withdrawn],
            )
        for flag in raised:
            self.db.execute(
                "INSERT INTO flags (session_id, case_id, flag_id, question_id, stage_id,"
                " answer_revision, source, severity, message, respondent_message, question,"
                " answer, raised_by, raised_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    session_id,
                    case_id,
                    flag.flag_id,
                    flag.question_id,
                    flag.stage_id,
                    flag.revision,
                    flag.source,
                    flag.severity,
                    _json(flag.message),
                    None if flag.respondent_message is None else _json(flag.respondent_message),
                    _json(flag.question),
                    _json(flag.answer),
                    actor_id,
                    _iso(flag.raised_at.astimezone(UTC)),
                ),
            )
        self.audit(
            actor_id,
            "flag.raise",
            "session",
            session_id,
            case_id,
            raised=[f.flag_id for f in raised],
            withdrawn=list(withdrawn),
        )

    def _followup_owner(self, case_id: int, respondent_id: int, owner: str | None) -> int:
        """``me`` (or no owner question): the respondent when they are a worker on the case;
        otherwise, and for any other choice, the case's first worker (the respondent when the
        case has none)."""
        workers = self._all(
            "SELECT person_id FROM case_members WHERE case_id = ? AND role = 'worker'"
            " ORDER BY added_at, person_id",
            (case_id,),
        )
        ids = [int(w["person_id"]) for w in workers]
        if owner in (None, "me") and respondent_id in ids:
            return respondent_id
        return ids[0] if ids else respondent_id

    def _record_followups(
        self, session: Session, turn: Turn, actor_id: int, case_id: int, now: str
    ) -> None:
        for task in turn.followups:
            owner = self._followup_owner(case_id, actor_id, task.owner)
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO followups (case_id, owner_id, due_on, session_id, rule,"
                " question_id, text, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    case_id,
                    owner,
                    task.due,
                    session.id,
                    task.rule,
                    task.question_id,
                    task.what,
                    actor_id,
                    now,
                ),
            )
            if cursor.rowcount == 1:
                self.audit(
                    actor_id,
                    "followup.create",
                    "followup",
                    cursor.lastrowid,
                    case_id,
                    session=session.id,
                    owner=owner,
                )

    def scores(self, session_id: str) -> list[dict[str, Any]]:
        """The latest score of each stage of a session."""
        return self._all(
            "SELECT s.* FROM scores s WHERE s.session_id = ? AND s.revision = ("
            "  SELECT MAX(revision) FROM scores t"
            "  WHERE t.session_id = s.session_id AND t.stage_id = s.stage_id)"
            " ORDER BY s.stage_id",
            (session_id,),
        )

    def instrument_scores(self, case_id: int, instrument_id: str) -> list[dict[str, Any]]:
        """The latest score of an instrument in every completed session of a case."""
        return self._all(
            "SELECT s.id AS session_id, s.phase, s.started_at, s.completed_at, sc.result"
            " FROM scores sc JOIN sessions s ON s.id = sc.session_id"
            " WHERE s.case_id = ? AND sc.instrument_id = ? AND s.status = 'completed'"
            " AND sc.revision = (SELECT MAX(revision) FROM scores t"
            "   WHERE t.session_id = sc.session_id AND t.stage_id = sc.stage_id)"
            " ORDER BY s.completed_at",
            (case_id, instrument_id),
        )

    def sessions_of_case(self, case_id: int) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM sessions WHERE case_id = ? ORDER BY started_at", (case_id,))

    # -- Telegram: people, invites, updates, outbox --------------------------------------

    def person_by_telegram(self, telegram_user_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM people WHERE telegram_user_id = ?", (telegram_user_id,))

    def set_chat(self, person_id: int, chat_id: int) -> None:
        self.db.execute("UPDATE people SET telegram_chat_id = ? WHERE id = ?", (chat_id, person_id))

    def set_language(self, person_id: int, lang: str) -> None:
        self.db.execute("UPDATE people SET lang = ? WHERE id = ?", (lang, person_id))

    def set_quiet_hours(self, person_id: int, quiet: str | None) -> None:
        """'HH:MM-HH:MM', 'none', or None for the default (21:00-08:00)."""
        self.db.execute("UPDATE people SET quiet_hours = ? WHERE id = ?", (quiet, person_id))

    def set_digest(self, person_id: int, at: str | None) -> None:
        """'HH:MM', 'off', or None for the default (08:00)."""
        self.db.execute("UPDATE people SET digest_at = ? WHERE id = ?", (at, person_id))

    def set_supervisor(self, person_id: int, supervisor_id: int | None) -> None:
        self.db.execute(
            "UPDATE people SET supervisor_id = ? WHERE id = ?", (supervisor_id, person_id)
        )

    def cases_of(self, person_id: int) -> list[dict[str, Any]]:
        """The cases a person may see: their own, and for a supervisor their team's."""
        return self._all(
            "SELECT DISTINCT c.*, m.role AS my_role FROM cases c"
            " JOIN case_members m ON m.case_id = c.id"
            " LEFT JOIN people p ON p.id = m.person_id"
            " WHERE m.person_id = ? OR (m.role = 'worker' AND p.supervisor_id = ?)"
            " ORDER BY c.code",
            (person_id, person_id),
        )

    def case_workers(self, case_id: int) -> list[dict[str, Any]]:
        return self._all(
            "SELECT p.* FROM case_members m JOIN people p ON p.id = m.person_id"
            " WHERE m.case_id = ? AND m.role = 'worker'",
            (case_id,),
        )

    def create_invite(
        self, token: str, case_id: int, role: str, created_by: int, expires_at: str
    ) -> None:
        with self.atomic():
            self.db.execute(
                "INSERT INTO invites (token, case_id, role, created_by, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (token, case_id, role, created_by, _now(), expires_at),
            )
            self.audit(created_by, "invite.create", "case", case_id, case_id, role=role)

    def invite(self, token: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM invites WHERE token = ?", (token,))

    def use_invite(self, token: str, person_id: int) -> bool:
        """Mark an invitation used; False when it already was (it works once)."""
        cursor = self.db.execute(
            "UPDATE invites SET used_by = ?, used_at = ? WHERE token = ? AND used_by IS NULL",
            (person_id, _now(), token),
        )
        return cursor.rowcount == 1

    def update_seen(self, update_id: int) -> bool:
        """Record a Telegram update as handled; False when it already was."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO processed_updates (update_id, processed_at) VALUES (?, ?)",
            (update_id, _now()),
        )
        return cursor.rowcount == 1

    def update_failed(self, update_id: int, error: str, max_tries: int) -> tuple[int, bool]:
        """Count a failed try at a Telegram update (``error``: the exception's class name).

        Returns the tries so far and whether the update is set aside: from ``max_tries`` on
        it counts as processed, so it is confirmed to Telegram and never run again.
        """
        now = _now()
        with self.atomic():
            self.db.execute(
                "INSERT INTO update_failures (update_id, tries, error, first_seen, last_seen)"
                " VALUES (?, 1, ?, ?, ?) ON CONFLICT (update_id) DO UPDATE SET"
                " tries = tries + 1, error = excluded.error, last_seen = excluded.last_seen",
                (update_id, error, now, now),
            )
            row = self._one(
                "SELECT tries, set_aside_at FROM update_failures WHERE update_id = ?",
                (update_id,),
            )
            assert row is not None
            tries = int(row["tries"])
            if row["set_aside_at"] is None and tries < max_tries:
                return tries, False
            if row["set_aside_at"] is None:
                self.db.execute(
                    "UPDATE update_failures SET set_aside_at = ? WHERE update_id = ?",
                    (now, update_id),
                )
                self.update_seen(update_id)
        return tries, True

    def update_failure(self, update_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM update_failures WHERE update_id = ?", (update_id,))

    def set_aside_updates(self) -> list[dict[str, Any]]:
        """Updates skipped after too many failed tries, for an administrator to look into."""
        return self._all(
            "SELECT * FROM update_failures WHERE set_aside_at IS NOT NULL ORDER BY set_aside_at"
        )

    def prune_updates(self, keep: timedelta, limit: int) -> int:
        """Forget at most ``limit`` handled update ids (oldest first) stored more than ``keep``
        ago, and failures of updates since handled or given up on; returns how many ids went.

        Telegram redelivers an update for 24 hours at most, so an id older than that can never
        come back. Set-aside updates stay listed. Bounded, so one run never holds the database
        thread for long however far behind it is. Ages are measured on the clock that stamped
        the rows.
        """
        cutoff = _iso(datetime.fromisoformat(_now()) - keep)
        with self.atomic():
            removed = self.db.execute(
                "DELETE FROM processed_updates WHERE update_id IN (SELECT update_id"
                " FROM processed_updates WHERE processed_at < ? ORDER BY processed_at LIMIT ?)",
                (cutoff, limit),
            ).rowcount
            self.db.execute(
                "DELETE FROM update_failures WHERE update_id IN (SELECT update_id"
                " FROM update_failures WHERE set_aside_at IS NULL AND last_seen < ? LIMIT ?)",
                (cutoff, limit),
            )
        return int(removed)

    def queue_message(
        self,
        person_id: int,
        case_id: int | None,
        kind: str,
        payload: Mapping[str, Any],
        *,
        not_before: datetime | None = None,
        key: str | None = None,
    ) -> bool:
        """Owe a person a message; ``not_before`` holds it back until then, and a ``key``
        makes it owed once (False when a message with that key was queued before)."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO outbox (person_id, case_id, kind, payload, created_at,"
            " not_before, key) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                person_id,
                case_id,
                kind,
                _json(dict(payload)),
                _now(),
                _iso(not_before.astimezone(UTC) if not_before else None),
                key,
            ),
        )
        return cursor.rowcount == 1

    def unsent_messages(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Messages owed and due by ``now`` (default: the wall clock)."""
        moment = _iso((now or datetime.now(UTC)).astimezone(UTC))
        return self._all(
            "SELECT o.*, p.telegram_chat_id, p.lang FROM outbox o"
            " JOIN people p ON p.id = o.person_id WHERE o.sent_at IS NULL"
            " AND o.cancelled_at IS NULL AND (o.not_before IS NULL OR o.not_before <= ?)"
            " ORDER BY o.id",
            (moment,),
        )

    def mark_sent(self, message_id: int) -> None:
        now = _now()
        with self.atomic():
            self.db.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (now, message_id))
            # An alert that went out marks its flag sent: withdrawing it then tells the worker.
            self.db.execute(
                "UPDATE flags SET sent_at = COALESCE(sent_at, ?) WHERE id = ("
                "  SELECT json_extract(payload, '$.flag_row') FROM outbox"
                "  WHERE id = ? AND kind = 'flag')",
                (now, message_id),
            )

    def session_number(self, session_id: str) -> int:
        """A short number for a session (its rowid), for buttons and commands."""
        row = self._one("SELECT rowid AS n FROM sessions WHERE id = ?", (session_id,))
        if row is None:
            raise NotFound(f"no session {session_id}")
        return int(row["n"])

    def session_by_number(self, number: int) -> str | None:
        row = self._one("SELECT id FROM sessions WHERE rowid = ?", (number,))
        return str(row["id"]) if row else None

    def current_session(
        self, person_id: int, channel: str | Sequence[str] | None
    ) -> dict[str, Any] | None:
        """The session a person's plain messages on ``channel`` answer: their latest active
        one whose question that channel showed last (it started there, or was carried on
        there since). A sequence names several channels; None, any channel."""
        where, params = _channels(channel)  # placeholders only: the names are parameters
        return self._one(
            "SELECT * FROM sessions WHERE respondent_id = ? AND status = 'active'"  # noqa: S608
            f"{where} ORDER BY updated_at DESC LIMIT 1",
            (person_id, *params),
        )

    def latest_paused(
        self, person_id: int, channel: str | Sequence[str] | None
    ) -> dict[str, Any] | None:
        """The person's latest paused session last shown on ``channel`` (as above)."""
        where, params = _channels(channel)  # placeholders only: the names are parameters
        return self._one(
            "SELECT * FROM sessions WHERE respondent_id = ? AND status = 'paused'"  # noqa: S608
            f"{where} ORDER BY updated_at DESC LIMIT 1",
            (person_id, *params),
        )

    def set_last_channel(self, session_id: str, channel: str) -> None:
        """Remember that ``channel`` showed the session's question last."""
        self.db.execute(
            "UPDATE sessions SET last_channel = CASE WHEN channel = ? THEN NULL ELSE ? END"
            " WHERE id = ?",
            (channel, channel, session_id),
        )

    def session_stamp(self, session_id: str) -> str | None:
        """When the session last changed (any process, any channel); None when there is no
        such session. A copy of a session held in memory is stale when this moved."""
        row = self._one("SELECT updated_at FROM sessions WHERE id = ?", (session_id,))
        return None if row is None else str(row["updated_at"])

    def set_session_language(self, session_id: str, lang: str) -> None:
        """The language the session's questions are asked in from now on."""
        self.db.execute(
            "UPDATE sessions SET lang = ?, updated_at = ? WHERE id = ?", (lang, _now(), session_id)
        )

    def unfinished_sessions(self, case_id: int, person_id: int) -> list[dict[str, Any]]:
        """A respondent's active and paused sessions on a case, latest first."""
        return self._all(
            "SELECT * FROM sessions WHERE case_id = ? AND respondent_id = ?"
            " AND status IN ('active', 'paused') ORDER BY updated_at DESC",
            (case_id, person_id),
        )

    def check_integrity(self) -> list[str]:
        """Problems SQLite finds with the file and its foreign keys (empty when sound)."""
        problems = [r[0] for r in self.db.execute("PRAGMA integrity_check").fetchall()]
        problems = [p for p in problems if p != "ok"]
        problems += [str(r) for r in self.db.execute("PRAGMA foreign_key_check").fetchall()]
        return problems
