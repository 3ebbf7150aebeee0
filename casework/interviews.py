"""Running interviews for any channel: load the session, ask the engine, store, answer.

The order is the promise: a turn is committed to SQLite before its prompt is returned to
the channel, so whatever the respondent sees acknowledged is on disk.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from casework import policy
from flows.engine import Engine, Reply, Session, Turn
from flows.messages import say
from flows.registry import FlowRegistry
from storage.store import Case, NotFound, Store

log = logging.getLogger(__name__)


class InterviewError(Exception):
    """An interview could not be opened or continued."""


class NotOnCase(InterviewError):
    """The person's role on the case does not let them open this interview (audited)."""


# Which rights open a flow, by who answers it. A worker may also administer a caregiver's
# or client's questions in person (read aloud, or from paper); a caregiver or client answers
# only the flows meant for members like them.
OPENING_RIGHTS = {
    "worker": ("interview.run",),
    "anyone": ("note.create",),
    "caregiver": ("checkin.answer", "interview.run"),
    "client": ("checkin.answer", "interview.run"),
}

# The member roles that answer a flow of each respondent kind. A caregiver's check-in is
# about the child in their care, so only a caregiver answers it; a client's flow (a scale,
# an elder's check-in) is about the person answering, and a caregiver may be that person
# (a grandmother's own PHQ-9 in the studies' family work).
ANSWERED_BY = {
    "caregiver": frozenset({"caregiver"}),
    "client": frozenset({"caregiver", "client"}),
    "anyone": frozenset({"caregiver", "client"}),
    "worker": frozenset(),
}


def may_open(store: Store, person_id: int, case_id: int, respondent: str) -> bool:
    """Whether the person may open a flow answered by ``respondent`` on the case."""
    relations = store.case_relations(case_id, person_id)
    for action in OPENING_RIGHTS.get(respondent, ()):
        if not policy.RULES[action](relations):
            continue
        if action == "checkin.answer" and not relations & ANSWERED_BY[respondent]:
            continue
        return True
    return False


class NotYourSession(InterviewError):
    """The session belongs to someone else."""


class CaseIsClosed(InterviewError):
    """The case is closed: it takes only a follow-up (a flow whose purpose is follow_up)."""


@dataclass
class Opened:
    session: Session
    turn: Turn
    engine: Engine
    resumed: bool
    warnings: list[str] = field(default_factory=list)
    """Things the worker should know before going on (a scale meant for adults on a
    child's case, say), in the session's language."""


class Interviews:
    """Opens and continues sessions; keeps open sessions in memory, SQLite is the truth."""

    def __init__(
        self,
        store: Store,
        registry: FlowRegistry,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock  # None: the engine's own clock
        # id → session, case, respondent, and the session's updated_at when it was cached:
        # another channel or process may carry the session on, and then the copy is stale.
        self._open: dict[str, tuple[Session, int, int, str | None]] = {}

    def now(self) -> datetime | None:
        return self.clock() if self.clock is not None else None

    def _keep(self, session: Session, case_id: int, person_id: int) -> None:
        stamp = self.store.session_stamp(session.id)
        self._open[session.id] = (session, case_id, person_id, stamp)

    def engine_for(self, session: Session) -> Engine:
        return self.registry.engine(
            session.flow_id,
            session.flow_version,
            lambda: self.store.flow_source(session.flow_id, session.flow_version),
        )

    def open(
        self,
        flow_name: str,
        case: Case,
        person_id: int,
        channel: str,
        lang: str | None = None,
        phase: str | None = None,
        *,
        allow_path: bool = False,
    ) -> Opened:
        """Resume the person's unfinished session of this flow on this case, or start one.
        ``flow_name`` is a flow id, or (``allow_path``, the terminal only) a file."""
        loaded = self.registry.current(flow_name, allow_path=allow_path)
        flow = loaded.engine.flow
        if not may_open(self.store, person_id, case.id, flow.respondent):
            self.store.audit_refusal(person_id, "interview.open", "case", case.id, case.id)
            raise NotOnCase(case.code)
        if case.status == "closed" and flow.purpose != "follow_up":
            self.store.audit(person_id, "case.closed.refused", "case", case.id, case.id)
            raise CaseIsClosed(case.code)
        existing = self.store.open_session_id(case.id, flow.id, person_id)
        if existing:
            # Whichever channel it started on: a session resumes wherever its person is.
            session = self.store.load_session(existing, case.flow_facts)
            engine = self.engine_for(session)
            turn = engine.resume(session, self.now())
            with self.store.atomic():
                self.store.apply(session, turn, person_id, case.id)
                self.store.set_last_channel(session.id, channel)
            self._keep(session, case.id, person_id)
            warnings = self.warnings(engine, case, person_id, session.lang)
            return Opened(session, turn, engine, resumed=True, warnings=warnings)
        engine = loaded.engine
        self.store.remember_flow(flow.id, flow.version, loaded.source)
        previous = self.store.previous_answers(case.id, flow.id, person_id)
        session = engine.new_session(str(uuid.uuid4()), lang, case.flow_facts, previous)
        turn = engine.start(session, self.now())
        with self.store.atomic():
            self.store.create_session(
                session,
                case_id=case.id,
                respondent_id=person_id,
                channel=channel,
                phase=phase or flow.phase,
            )
            self.store.apply(session, turn, person_id, case.id)
        self._keep(session, case.id, person_id)
        warnings = self.warnings(engine, case, person_id, session.lang)
        return Opened(session, turn, engine, resumed=False, warnings=warnings)

    def warnings(self, engine: Engine, case: Case, person_id: int, lang: str) -> list[str]:
        """What the person should hear before going on: a self-report scale made for other
        ages than the client's (an adult screener on a child's case). A caregiver answering
        a self-report scale answers about themselves, so their case is not checked."""
        age = case.flow_facts.get("age")
        if not isinstance(age, int) or "caregiver" in self.store.case_relations(case.id, person_id):
            return []
        out = []
        for instrument in engine.compiled.instruments.values():
            if instrument.respondent != "self" or instrument.suits_age(age):
                continue
            name = instrument.text(instrument.short_name, lang)
            ages = instrument.ages.text() if instrument.ages else ""
            out.append(say("instrument_age", lang, instrument=name, ages=ages, age=age))
        return out

    def session(self, session_id: str, person_id: int) -> tuple[Session, int]:
        """The person's session as it is now on disk (a copy in memory is used while no
        one else has changed the session since)."""
        cached = self._open.get(session_id)
        if cached is not None and self.store.session_stamp(session_id) != cached[3]:
            cached = None  # carried on by another channel or process since
        if cached is None:
            try:
                info = self.store.session_info(session_id)
            except NotFound as exc:
                raise InterviewError(session_id) from exc
            session = self.store.load_session(session_id)
            cached = (session, info.case_id, info.respondent_id, None)
            self._keep(session, info.case_id, info.respondent_id)
        session, case_id, respondent_id, _ = cached
        if respondent_id != person_id:
            self.store.audit_refusal(person_id, "session.answer", "session", session_id, case_id)
            raise NotYourSession(session_id)
        return session, case_id

    def reply(
        self, session_id: str, person_id: int, reply: Reply, channel: str | None = None
    ) -> Turn:
        """Apply one reply and commit its effect; returns what to show next. ``channel``
        (when given) is remembered as the one that shows the session's next question."""
        session, case_id = self.session(session_id, person_id)
        engine = self.engine_for(session)
        turn = engine.handle(session, reply, self.now())
        try:
            with self.store.atomic():
                self.store.apply(session, turn, person_id, case_id)
                if turn.flags_raised or turn.flags_withdrawn:
                    turn.notices += self._flags_raised(session, case_id, engine, turn)
                if channel is not None:
                    self.store.set_last_channel(session_id, channel)
        except Exception:
            # The engine already moved the in-memory session; drop it so the next reply
            # starts again from what is on disk.
            self._open.pop(session_id, None)
            raise
        if turn.status in ("completed", "cancelled"):
            self._open.pop(session_id, None)
        else:
            self._keep(session, case_id, person_id)
        return turn

    def set_language(self, session_id: str, person_id: int, lang: str) -> bool:
        """Ask the person's session in ``lang`` from now on; False when its flow does not
        speak that language (nothing changes)."""
        session, _case_id = self.session(session_id, person_id)
        if lang not in self.engine_for(session).flow.languages:
            return False
        if session.lang != lang:
            self.store.set_session_language(session_id, lang)
            session.lang = lang
        return True

    def _flags_raised(
        self, session: Session, case_id: int, engine: Engine, turn: Turn
    ) -> list[str]:
        """What a turn's flags owe the case's workers (queued in the turn's transaction),
        and what the respondent is shown now (the organisation's safety message)."""
        from casework.flags import on_turn

        return on_turn(
            self.store,
            session_id=session.id,
            case_id=case_id,
            turn=turn,
            respondent_lang=session.lang,
            respondent_is_worker=engine.flow.respondent == "worker",
            now=self.now() or datetime.now(UTC),
        )
