"""The plain-data view of a record, built from stored rows only.

Storage rows go in; frozen dataclasses of strings, numbers and lists come out, ready for a
template or for ``json.dumps``. Texts come from what was stored: answers as the respondent
saw them (``display``), scores as computed then (``result``), and question labels and stage
titles from the flow version the session used (rebuilt from the text stored with it), so a
record reads the same after the flow file has moved on. Nothing here runs an interview.

An answer is shown in the record's language: its stored value is read again through that flow
version ("是" in a Chinese session reads "Yes" in an English record, an option its English
label), and the wording the respondent saw stays in ``Answer.given``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from flows import answers as answer_types
from flows.comparison import Administration, compare
from flows.compile import Question
from flows.engine import Engine
from flows.instruments import Instrument, InstrumentError, load_instrument
from flows.messages import say
from flows.model import ChoiceItem, MultiItem, NoteItem, ScaleItem, YesNoItem
from flows.outcome import score_stage_id
from flows.registry import FlowRegistry
from flows.scoring import RCI_THRESHOLD
from storage.casefile import CaseFile
from storage.records import Records
from storage.store import Case
from templates.charts import band_colours
from templates.i18n import (
    coded,
    format_day,
    format_moment,
    format_number,
    format_signed,
    label,
    parse_moment,
    zone_name,
)

__all__ = [
    "CONTACT_NOTE_FLOW",
    "Answer",
    "Band",
    "CaseEvent",
    "CaseSummary",
    "Change",
    "Closing",
    "ConsentView",
    "ContactLog",
    "Entry",
    "Evaluation",
    "Flag",
    "GoalView",
    "Held",
    "Member",
    "Moment",
    "Note",
    "Person",
    "Point",
    "PrePost",
    "Profile",
    "Rating",
    "ScaleRow",
    "ScaleValue",
    "Score",
    "Series",
    "SessionRecord",
    "SignOff",
    "Stage",
    "StageRun",
    "Trend",
    "TrendPoint",
    "Views",
    "Voice",
]

CONTACT_NOTE_FLOW = "contact_note"
"""The bundled flow whose sessions are informal-contact notes."""

ALERT = ("urgent", "attention", "warning")
"""Flag severities shown at the top of a record, where nobody can miss them."""

_SEVERITY_ORDER = {"urgent": 0, "attention": 1, "warning": 1, "info": 2}


# --------------------------------------------------------------------------- the view


@dataclass(frozen=True, slots=True)
class Moment:
    """A stored timestamp, as stored (``iso``) and as the reader writes it."""

    iso: str
    text: str
    day: str


@dataclass(frozen=True, slots=True)
class Person:
    id: int | None
    name: str
    role: str
    role_label: str


@dataclass(frozen=True, slots=True)
class Voice:
    """A voice answer: the channel that recorded it can send ``file_id`` back on request."""

    file_id: str
    duration: float | int | None


@dataclass(frozen=True, slots=True)
class Answer:
    question_id: str
    label: str
    answer: str
    status: str
    revision: int
    revised: bool
    amended_by: str | None = None
    voice: Voice | None = None
    probes: list[Answer] = field(default_factory=list)
    given: str = ""
    """The answer as the respondent saw it, in the session's language (``answer`` is in the
    record's language)."""


@dataclass(frozen=True, slots=True)
class Stage:
    id: str
    title: str
    answers: list[Answer]


@dataclass(frozen=True, slots=True)
class Flag:
    """A flag as the record shows it. ``instrument_id`` is empty for a flow's own flag.
    ``status`` says what was done: the acknowledgement (who, when, the note), the
    withdrawal or the escalation, in the reader's words; ``state`` is open, acknowledged
    or withdrawn (``None`` for flags recorded before flags were stored)."""

    severity: str
    severity_label: str
    instrument_id: str
    instrument: str
    item_id: str
    item: str
    answer: str
    message: str
    session_id: str
    when: Moment | None
    id: int | None = None
    state: str | None = None
    status: str = ""
    acknowledged_by: str | None = None
    acknowledged_at: Moment | None = None
    note: str | None = None
    escalated: str | None = None


@dataclass(frozen=True, slots=True)
class ScaleValue:
    id: str
    name: str
    role: str
    value: float | int | None
    value_text: str
    band: str | None


@dataclass(frozen=True, slots=True)
class Score:
    stage_id: str
    stage_title: str
    instrument_id: str
    instrument: str
    instrument_name: str
    instrument_version: int
    total: float | int | None
    total_text: str
    low: float | int | None
    high: float | int | None
    range_text: str
    higher_is: str
    higher_is_label: str
    band_id: str | None
    band: str | None
    not_scored: str | None
    prorated: str | None
    others: list[ScaleValue]
    flags: list[Flag]
    notes: list[str]
    revision: int


@dataclass(frozen=True, slots=True)
class Change:
    at: Moment
    question_id: str
    label: str
    before: str | None
    after: str
    by: str
    reason: str | None
    after_signoff: bool
    revision: int


@dataclass(frozen=True, slots=True)
class SignOff:
    at: Moment
    by: Person
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """Who the client is, as the case's profile says."""

    client_name: str | None
    age: str | None
    group: str | None
    caregiver: str | None
    worker: str | None
    line: str
    """All of it on one line, for a record's header."""


@dataclass(frozen=True, slots=True)
class ConsentView:
    agreed: bool
    text: str
    explained: str | None
    session_id: str | None


@dataclass(frozen=True, slots=True)
class Held:
    """What a session record says about itself: the day held, its number, its stage."""

    day: str | None
    number: int | None
    stage: str | None
    stage_label: str | None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    short_id: str
    lang: str
    tz: str
    flow_id: str
    flow_version: int
    flow_title: str
    case_code: str
    case_title: str | None
    respondent: Person
    workers: list[Person]
    channel: str
    channel_label: str
    phase: str
    phase_label: str
    status: str
    status_label: str
    started: Moment
    ended: Moment | None
    signed: SignOff | None
    flags: list[Flag]
    scores: list[Score]
    stages: list[Stage]
    changes: list[Change]
    profile: Profile | None = None
    consent_warning: str | None = None
    held: Held | None = None
    kind: str = "session"


@dataclass(frozen=True, slots=True)
class Member:
    person: Person
    since: Moment


@dataclass(frozen=True, slots=True)
class Band:
    id: str
    label: str
    at_least: float | int
    at_most: float | int
    range_text: str
    colour: str


@dataclass(frozen=True, slots=True)
class Point:
    """One completed administration of a scale."""

    session_id: str
    short_id: str
    at: Moment
    phase: str
    phase_label: str
    total: float | int | None
    total_text: str
    band_id: str | None
    band: str | None
    flagged: bool


@dataclass(frozen=True, slots=True)
class Series:
    instrument_id: str
    instrument: str
    instrument_name: str
    higher_is: str
    higher_is_label: str
    low: float | int
    high: float | int
    range_text: str
    bands: list[Band]
    bands_text: str
    points: list[Point]
    latest: Point


@dataclass(frozen=True, slots=True)
class Note:
    """One informal-contact note."""

    session_id: str
    short_id: str
    day: str
    recorded: Moment
    by: Person
    headline: str
    said: str | None
    status: str
    status_label: str
    stages: list[Stage]


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a case's timeline: a session, or an informal-contact note."""

    kind: str
    session_id: str
    short_id: str
    at: Moment
    title: str
    phase: str
    phase_label: str
    status: str
    status_label: str
    respondent: Person
    signed: bool
    scores: list[Point]
    instruments: list[str]
    flags: list[Flag]
    note: Note | None
    day: str = ""
    """The day it happened: the day a session was held when the record says, else the day
    it was recorded."""
    held: Held | None = None


@dataclass(frozen=True, slots=True)
class Compliance:
    """Scheduled check-ins of one member and flow over the last weeks."""

    member: str
    flow: str
    due: int
    completed: int
    late: int
    missed: int
    rate: str


@dataclass(frozen=True, slots=True)
class Rating:
    day: str
    rating: int
    high: int | None
    session_id: str


@dataclass(frozen=True, slots=True)
class GoalView:
    number: int
    title: str
    area: str | None
    activities: str | None
    target: str | None
    status: str
    status_label: str
    sessions: int
    ratings: list[Rating]
    progress: str


@dataclass(frozen=True, slots=True)
class StageRun:
    """Consecutive session records of one intervention stage, in the order held."""

    stage: str
    label: str
    sessions: int
    first_day: str
    last_day: str
    numbers: list[int]


@dataclass(frozen=True, slots=True)
class TrendPoint:
    at: Moment
    value: float | int
    text: str


@dataclass(frozen=True, slots=True)
class Trend:
    """One check-in question's answers over time."""

    key: str
    flow_id: str
    item_id: str
    title: str
    low: float | int
    high: float | int
    scale: str
    points: list[TrendPoint]


@dataclass(frozen=True, slots=True)
class CaseEvent:
    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class Closing:
    """How the case ended: the closing report, and every closing and reopening."""

    closed: bool
    events: list[CaseEvent]
    report: Note | None


@dataclass(frozen=True, slots=True)
class CaseSummary:
    lang: str
    tz: str
    as_of: Moment
    case_code: str
    case_title: str | None
    case_status: str
    members: list[Member]
    flags: list[Flag]
    series: list[Series]
    timeline: list[Entry]
    sessions_count: int
    notes_count: int
    compliance: list[Compliance] = field(default_factory=list)
    case_status_label: str = ""
    profile: Profile | None = None
    consent: ConsentView | None = None
    consent_warning: str | None = None
    goals: list[GoalView] = field(default_factory=list)
    stage_runs: list[StageRun] = field(default_factory=list)
    trends: list[Trend] = field(default_factory=list)
    closing: Closing | None = None
    kind: str = "case"


@dataclass(frozen=True, slots=True)
class ScaleRow:
    id: str
    name: str
    pre: str
    post: str
    change: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    instrument_id: str
    instrument: str
    instrument_name: str
    higher_is: str
    higher_is_label: str
    low: float | int
    high: float | int
    range_text: str
    bands: list[Band]
    bands_text: str
    administrations: list[Point]
    pre: Point | None
    post: Point | None
    rows: list[ScaleRow]
    change: float | None
    change_text: str
    rci: float | None
    rci_text: str | None
    rci_source: str | None
    reading: str
    reading_label: str


@dataclass(frozen=True, slots=True)
class PrePost:
    lang: str
    tz: str
    as_of: Moment
    case_code: str
    case_title: str | None
    evaluations: list[Evaluation]
    kind: str = "prepost"


@dataclass(frozen=True, slots=True)
class ContactLog:
    lang: str
    tz: str
    as_of: Moment
    case_code: str
    case_title: str | None
    notes: list[Note]
    kind: str = "notes"


# --------------------------------------------------------------------------- helpers


def _text(texts: Mapping[str, str] | None, lang: str, default: str = "") -> str:
    if not texts:
        return default
    return texts.get(lang) or next(iter(texts.values()), default)


def _short(session_id: str) -> str:
    return session_id[:8]


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _after(later: str | None, earlier: str | None) -> bool:
    a, b = parse_moment(later), parse_moment(earlier)
    return a is not None and b is not None and a > b


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _trend_value(item: Any, value: Any) -> float | int | None:
    """A check-in answer as a number to chart: a scale point or number as it is, a choice by
    its place in the list (1 = the first option), yes/no as 1/0."""
    if isinstance(item, YesNoItem):
        return int(value) if isinstance(value, bool) else None
    if isinstance(item, ChoiceItem):
        values = [o.value for o in item.options]
        return values.index(value) + 1 if value in values else None
    return _number(value)


def _trend_scale(
    item: Any, values: list[float | int], lang: str
) -> tuple[float | int, float | int, str]:
    """The chart's range and what its numbers mean, in the reader's language."""
    sep = label("semicolon", lang)
    if isinstance(item, YesNoItem):
        points = sep.join(f"{n} = {say(k, lang)}" for n, k in ((0, "no"), (1, "yes")))
        return 0, 1, label("trend_scale", lang, points=points)
    if isinstance(item, ChoiceItem):
        points = sep.join(
            f"{i} = {_text(o.label, lang)}" for i, o in enumerate(item.options, start=1)
        )
        return 1, len(item.options), label("trend_scale", lang, points=points)
    if isinstance(item, ScaleItem):
        anchored = [
            f"{v} = {text}"
            for v, text in answer_types.scale_options(item, lang)
            if not text.isdecimal()
        ]
        return item.min, item.max, label("trend_scale", lang, points=sep.join(anchored))
    rules = getattr(item, "validation", None)
    low = rules.min if rules is not None and rules.min is not None else min([0, *values])
    high = rules.max if rules is not None and rules.max is not None else max([low + 1, *values])
    unit = getattr(item, "unit", None)
    return low, high, _text(unit, lang) if unit else ""


# --------------------------------------------------------------------------- building


class Views:
    """Builds record views from one ``Records``: flow versions and instruments are loaded
    once per builder, so a case of hundreds of sessions compiles each flow version once."""

    def __init__(
        self, records: Records, registry: FlowRegistry | None = None, tz: tzinfo = UTC
    ) -> None:
        self.records = records
        self.store = records.store
        self.registry = registry or FlowRegistry()
        self.tz = tz
        self._engines: dict[tuple[str, int], Engine | None] = {}
        self._instruments: dict[str, Instrument | None] = {}

    # -- sources ----------------------------------------------------------------------

    def engine(self, flow_id: str, version: int) -> Engine | None:
        """The flow version a session used, rebuilt from its stored text; None when that
        text no longer compiles (an instrument file it names has gone, say): the record
        then shows question ids instead of labels, and still every answer."""
        key = (flow_id, version)
        if key not in self._engines:
            try:
                self._engines[key] = self.registry.engine(
                    flow_id, version, lambda: self.store.flow_source(flow_id, version)
                )
            except Exception:  # a broken old flow must not hide the answers given to it
                self._engines[key] = None
        return self._engines[key]

    def instrument(self, instrument_id: str) -> Instrument | None:
        """An instrument by id: the one a flow version already loaded if any (parsing an
        instrument file is most of the cost of a cold render), else from its file."""
        if instrument_id not in self._instruments:
            for engine in self._engines.values():
                if engine is not None and instrument_id in engine.compiled.instruments:
                    found: Instrument = engine.compiled.instruments[instrument_id]
                    self._instruments[instrument_id] = found
                    return found
            try:
                self._instruments[instrument_id] = load_instrument(instrument_id)
            except InstrumentError:
                self._instruments[instrument_id] = None
        return self._instruments[instrument_id]

    def moment(self, iso: str, lang: str) -> Moment:
        return Moment(iso, format_moment(iso, lang, self.tz), format_day(iso, lang, self.tz))

    def maybe_moment(self, iso: str | None, lang: str) -> Moment | None:
        return self.moment(iso, lang) if iso else None

    def person(
        self, person_id: int | None, name: str | None, role: str | None, lang: str
    ) -> Person:
        role = role or ""
        return Person(person_id, name or "?", role, coded("role", role, lang))

    def flow_title(self, flow_id: str, version: int, lang: str) -> str:
        engine = self.engine(flow_id, version)
        return engine.flow.text(engine.flow.title, lang) if engine else flow_id

    # -- answers ----------------------------------------------------------------------

    def stages(
        self,
        session: Mapping[str, Any],
        current: list[dict[str, Any]],
        lang: str,
        facts: Mapping[str, Any],
    ) -> list[Stage]:
        """The answers of a session, stage by stage in the flow's order, probes under their
        question. ``current`` holds the latest revision of each answer."""
        engine = self.engine(session["flow_id"], session["flow_version"])
        live = {a["question_id"]: a for a in current if a["status"] != "withdrawn"}
        completed_at = session.get("completed_at")

        def amended_by(row: Mapping[str, Any]) -> str | None:
            if completed_at and _after(row["answered_at"], completed_at):
                return str(row.get("changed_by_name") or row.get("changed_by") or "?")
            return None

        def answer(row: Mapping[str, Any], text: str) -> Answer:
            value = _loads(row["value"])
            voice = None
            if isinstance(value, dict) and "voice" in value:
                voice = Voice(str(value["voice"]), _number(value.get("duration")))
            revision = int(row["revision"])
            return Answer(
                question_id=row["question_id"],
                label=text,
                answer=self.shown(engine, row, lang),
                status=row["status"],
                revision=revision,
                revised=revision > 1,
                amended_by=amended_by(row),
                voice=voice,
                given=row["display"] or "",
            )

        if engine is None:
            by_stage: dict[str, list[Answer]] = defaultdict(list)
            for row in live.values():
                by_stage[row["stage_id"]].append(answer(row, row["question_id"]))
            return [Stage(sid, sid, answers) for sid, answers in by_stage.items()]

        values = {qid: _loads(row["value"]) for qid, row in live.items()}
        context = {
            "answers": {k: v for k, v in values.items() if live[k]["status"] == "answered"},
            "labels": {k: self.shown(engine, row, lang) for k, row in live.items()},
            "case": dict(facts),
            "last": {},
        }
        out: list[Stage] = []
        tops: dict[str, Answer] = {}
        for stage in engine.flow.stages:
            answers: list[Answer] = []
            for q in (q for q in engine.questions if q.stage.id == stage.id):
                found = live.get(q.id)
                if found is None or isinstance(q.item, NoteItem):
                    continue
                made = answer(found, self._label(q, lang, context))
                if q.parent is not None and q.parent in tops:
                    tops[q.parent].probes.append(made)
                else:
                    tops[q.id] = made
                    answers.append(made)
            if answers:
                out.append(Stage(stage.id, engine.flow.text(stage.title, lang), answers))
        known = {q.id for q in engine.questions}
        strays = [answer(row, qid) for qid, row in live.items() if qid not in known]
        if strays:
            out.append(Stage("", label("other_answers", lang), strays))
        return out

    @staticmethod
    def shown(engine: Engine | None, row: Mapping[str, Any], lang: str) -> str:
        """A stored answer as the reader of a record in ``lang`` reads it.

        Its value is read again through the flow version it answered: option labels,
        Yes/No, units and "(skipped)" come out in ``lang``. What the flow cannot read (its
        text is gone, an option value it does not have) is shown as the respondent saw it."""
        given = str(row["display"] or "")
        question = engine.compiled.by_id.get(row["question_id"]) if engine else None
        if question is None or row["status"] == "withdrawn":
            return given
        value = _loads(row["value"]) if row["status"] == "answered" else None
        item = question.item
        if isinstance(item, ChoiceItem | MultiItem) and value is not None:
            known = {str(o.value) for o in item.options}
            values = value if isinstance(value, list) else [value]
            if not all(str(v) in known for v in values):
                return given
        return answer_types.display(item, value, lang)

    @staticmethod
    def _label(q: Question, lang: str, context: Mapping[str, Any]) -> str:
        """A question's short label, else its prompt with earlier answers piped in."""
        if q.parent is None and q.item.short:
            return q.item.label(lang)
        render: Callable[[Mapping[str, Any]], str] | None = q.prompt.get(lang) or next(
            iter(q.prompt.values()), None
        )
        return render(context) if render else q.id

    # -- scores -----------------------------------------------------------------------

    def flags(
        self,
        result: Mapping[str, Any],
        instrument_id: str,
        session_id: str,
        when: str | None,
        lang: str,
    ) -> list[Flag]:
        inst = self.instrument(instrument_id)
        name = _text(inst.short_name, lang, instrument_id) if inst else instrument_id
        out = []
        for flag in result.get("flags") or []:
            item_id = str(flag.get("item_id", ""))
            item_text, answer_text = item_id, str(flag.get("answer", ""))
            if inst is not None and inst.has_item(item_id):
                item_text = _text(inst.item(item_id).text, lang, item_id)
                option = inst.match_option(item_id, flag.get("answer"))
                if option is not None:
                    answer_text = _text(option.label, lang, answer_text)
            severity = str(flag.get("severity", "info"))
            out.append(
                Flag(
                    severity=severity,
                    severity_label=coded("severity", severity, lang),
                    instrument_id=instrument_id,
                    instrument=name,
                    item_id=item_id,
                    item=item_text,
                    answer=answer_text,
                    message=_text(flag.get("message"), lang),
                    session_id=session_id,
                    when=self.maybe_moment(when, lang),
                )
            )
        return sorted(out, key=lambda f: _SEVERITY_ORDER.get(f.severity, 3))

    def names(
        self, instrument_id: str, result: Mapping[str, Any] | None, lang: str
    ) -> tuple[str, str]:
        """(short name, full name) of an instrument, or of a flow's own ratings (which carry
        their names in the stored score)."""
        if result is not None and result.get("kind") == "ratings":
            name = _text(result.get("name"), lang, instrument_id)
            return _text(result.get("short_name"), lang, name), name
        inst = self.instrument(instrument_id)
        if inst is None:
            return instrument_id, instrument_id
        return _text(inst.short_name, lang, instrument_id), _text(inst.name, lang, instrument_id)

    def stored_flags(
        self, session_id: str, lang: str, *, standing_only: bool = False
    ) -> list[Flag] | None:
        """The flags a session raised as stored (with what was done about them), urgent
        first; an instrument's info flags stay with its score. None for a session that
        stored no flag (one from before flags were stored: its score flags stand in)."""
        from storage.flags import Flags

        rows = Flags(self.store).of_session(session_id)
        if not rows:
            return None
        out = []
        for row in rows:
            if row.severity == "info" and row.source != "flow":
                continue
            if standing_only and row.withdrawn_at is not None:
                continue
            inst = self.instrument(row.source) if row.source != "flow" else None
            ack_at = self.maybe_moment(row.acknowledged_at, lang)
            if row.withdrawn_at is not None:
                status = label("flag_withdrawn", lang, at=self.moment(row.withdrawn_at, lang).text)
            elif ack_at is not None:
                status = label(
                    "flag_acknowledged",
                    lang,
                    name=row.acknowledged_by_name or "?",
                    at=ack_at.text,
                    note=row.ack_note or "—",
                )
            else:
                status = label("flag_open", lang)
            escalated = (
                label("flag_escalated", lang, at=self.moment(row.escalated_at, lang).text)
                if row.escalated_at
                else None
            )
            out.append(
                Flag(
                    severity=row.severity,
                    severity_label=coded("severity", row.severity, lang),
                    instrument_id="" if row.source == "flow" else row.source,
                    instrument=_text(inst.short_name, lang, row.source) if inst else "",
                    item_id=row.question_id,
                    item=row.text("question", lang),
                    answer=row.text("answer", lang),
                    message=row.text("message", lang),
                    session_id=session_id,
                    when=self.moment(row.raised_at, lang),
                    id=row.id,
                    state=row.state,
                    status=status,
                    acknowledged_by=row.acknowledged_by_name,
                    acknowledged_at=ack_at,
                    note=row.ack_note,
                    escalated=escalated,
                )
            )
        return sorted(out, key=lambda f: (f.state == "withdrawn", _SEVERITY_ORDER[f.severity]))

    def score(self, row: Mapping[str, Any], stage_title: str, lang: str, when: str | None) -> Score:
        result: dict[str, Any] = json.loads(row["result"])
        instrument_id = str(row["instrument_id"])
        inst = self.instrument(instrument_id) if result.get("kind") != "ratings" else None
        short_name, full_name = self.names(instrument_id, result, lang)
        scales: dict[str, Any] = result.get("scales") or {}
        total_scale: dict[str, Any] = scales.get(str(result.get("total_scale"))) or {}
        low, high = [*(result.get("total_range") or []), None, None][:2]
        higher_is = str(
            total_scale.get("higher_is")
            or result.get("higher_is")
            or (inst.higher_is if inst else "worse")
        )
        total = _number(result.get("total"))
        band = result.get("band") if isinstance(result.get("band"), dict) else None
        not_scored = prorated = None
        items, answered = total_scale.get("items"), total_scale.get("answered")
        if total is None and isinstance(items, int) and isinstance(answered, int):
            not_scored = label("not_scored", lang, missing=items - answered, items=items)
        if total_scale.get("prorated"):
            prorated = label("prorated", lang, answered=answered, items=items)
        others = [
            ScaleValue(
                id=scale_id,
                name=_text(scale.get("name"), lang, scale_id),
                role=str(scale.get("role", "")),
                value=_number(scale.get("value")),
                value_text=format_number(_number(scale.get("value"))),
                band=_text((scale.get("band") or {}).get("label"), lang) or None,
            )
            for scale_id, scale in scales.items()
            if scale.get("role") != "total"
        ]
        flags = self.flags(result, instrument_id, str(row["session_id"]), when, lang)
        return Score(
            stage_id=str(row["stage_id"]),
            stage_title=stage_title,
            instrument_id=instrument_id,
            instrument=short_name,
            instrument_name=full_name,
            instrument_version=int(row["instrument_version"]),
            total=total,
            total_text=format_number(total),
            low=_number(low),
            high=_number(high),
            range_text=label(
                "range", lang, low=format_number(_number(low)), high=format_number(_number(high))
            )
            if low is not None
            else "",
            higher_is=higher_is,
            higher_is_label=label(f"higher_{higher_is}", lang),
            band_id=str(band["id"]) if band else None,
            band=_text(band.get("label"), lang) if band else None,
            not_scored=not_scored,
            prorated=prorated,
            others=others,
            flags=flags,
            notes=list(dict.fromkeys(f.message for f in flags if f.severity not in ALERT)),
            revision=int(row["revision"]),
        )

    def point(self, row: Mapping[str, Any], lang: str) -> Point:
        result: dict[str, Any] = json.loads(row["result"])
        band = result.get("band") if isinstance(result.get("band"), dict) else None
        total = _number(result.get("total"))
        when = row.get("completed_at") or row["started_at"]
        phase = str(row.get("phase") or "")
        return Point(
            session_id=str(row["session_id"]),
            short_id=_short(str(row["session_id"])),
            at=self.moment(when, lang),
            phase=phase,
            phase_label=coded("phase", phase, lang),
            total=total,
            total_text=format_number(total),
            band_id=str(band["id"]) if band else None,
            band=_text(band.get("label"), lang) if band else None,
            flagged=any(f.get("severity") in ALERT for f in result.get("flags") or []),
        )

    def bands(
        self, instrument_id: str, lang: str
    ) -> tuple[list[Band], str, float | int, float | int] | None:
        """The bands of an instrument's total scale with their shades, which end is better,
        and the scale's range; None when the instrument file cannot be read."""
        inst = self.instrument(instrument_id)
        if inst is None:
            return None
        scale = inst.total_scale
        higher_is = inst.higher_is_for(scale.id)
        ordered = sorted(scale.bands, key=lambda b: b.at_least)
        colours = band_colours(len(ordered), higher_is)
        low, high = inst.scale_range(scale.id)
        return (
            [
                Band(
                    id=b.id,
                    label=_text(b.label, lang, b.id),
                    at_least=b.at_least,
                    at_most=b.at_most,
                    range_text=label(
                        "range", lang, low=format_number(b.at_least), high=format_number(b.at_most)
                    ),
                    colour=colour,
                )
                for b, colour in zip(ordered, colours, strict=True)
            ],
            higher_is,
            low,
            high,
        )

    def _rating_bands(self, result: Mapping[str, Any], higher_is: str, lang: str) -> list[Band]:
        """The bands a flow's own ratings declare (stored with the score), shaded."""
        declared = sorted(result.get("bands") or [], key=lambda b: b["at_least"])
        colours = band_colours(len(declared), higher_is)
        return [
            Band(
                id=str(b["id"]),
                label=_text(b.get("label"), lang, str(b["id"])),
                at_least=b["at_least"],
                at_most=b["at_most"],
                range_text=label(
                    "range",
                    lang,
                    low=format_number(b["at_least"]),
                    high=format_number(b["at_most"]),
                ),
                colour=colour,
            )
            for b, colour in zip(declared, colours, strict=True)
        ]

    # -- the case file ----------------------------------------------------------------

    def profile(self, case_id: int, lang: str, on: date) -> Profile | None:
        """The case's profile, with the client's age on the day ``on``."""
        found = CaseFile(self.store).profile(case_id)
        if found is None:
            return None
        age = found.age(on)
        age_text = label("age_years", lang, age=age) if age is not None else None
        group = coded("group", found.client_group, lang) or None
        caregiver = found.caregiver
        parts = [found.client_name, age_text, group]
        if caregiver:
            parts.append(label("main_caregiver", lang) + label("colon", lang) + caregiver)
        return Profile(
            client_name=found.client_name,
            age=age_text,
            group=group,
            caregiver=caregiver,
            worker=found.worker_name,
            line=" · ".join(p for p in parts if p),
        )

    def day_of(self, iso: str) -> date:
        moment = parse_moment(iso)
        return moment.astimezone(self.tz).date() if moment else datetime.now(UTC).date()

    def consent(self, case_id: int, lang: str) -> tuple[ConsentView | None, str | None]:
        """The consent that holds, and the warning every record carries without one."""
        found = CaseFile(self.store).consent(case_id)
        if found is None:
            return None, label("no_consent_warning", lang)
        key = "consent_given" if found.agreed else "consent_declined"
        day = format_day(found.agreed_on, lang, self.tz)
        text = label(
            key,
            lang,
            by=found.agreed_by,
            role=coded("consent_role", found.agreed_role, lang),
            method=coded("consent_method", found.method, lang),
            day=day,
        )
        points = label("list_sep", lang).join(coded("explained", e, lang) for e in found.explained)
        view = ConsentView(
            agreed=found.agreed,
            text=text,
            explained=label("consent_explained", lang, points=points) if points else None,
            session_id=found.session_id,
        )
        warning = None if found.agreed else label("consent_withdrawn_warning", lang, day=day)
        return view, warning

    def stage_label(self, flow_id: str, version: int, code: str, lang: str) -> str:
        """An intervention stage as the flow that recorded it names it."""
        engine = self.engine(flow_id, version)
        if engine is not None and engine.flow.sets.stage:
            question = engine.compiled.by_id.get(engine.flow.sets.stage)
            options = getattr(question.item, "options", []) if question else []
            for option in options:
                if str(option.value) == code:
                    return _text(option.label, lang, code)
        return coded("stage", code, lang)

    def held(self, row: Mapping[str, Any], lang: str) -> Held | None:
        held_on, number, stage = row.get("held_on"), row.get("number"), row.get("stage")
        if not (held_on or number or stage):
            return None
        return Held(
            day=format_day(held_on, lang, self.tz) if held_on else None,
            number=number,
            stage=stage,
            stage_label=self.stage_label(row["flow_id"], row["flow_version"], stage, lang)
            if stage
            else None,
        )

    def _day_key(self, row: Mapping[str, Any]) -> str:
        """The day a session happened, as YYYY-MM-DD: held on, else when it was started."""
        held_on = row.get("held_on")
        if held_on:
            return str(held_on)
        moment = parse_moment(row["started_at"])
        return moment.astimezone(self.tz).date().isoformat() if moment else ""

    def goals(self, case_id: int, lang: str) -> list[GoalView]:
        out = []
        for goal in CaseFile(self.store).goals(case_id):
            rated = [r for r in goal.ratings if r.rating is not None]
            ratings = [
                Rating(
                    day=format_day(r.rated_on, lang, self.tz),
                    rating=int(r.rating or 0),
                    high=r.high,
                    session_id=r.session_id,
                )
                for r in rated
            ]
            progress = " → ".join(str(r.rating) for r in ratings)
            if ratings and ratings[-1].high:
                progress += f" / {ratings[-1].high}"
            out.append(
                GoalView(
                    number=goal.number,
                    title=goal.title,
                    area=goal.area,
                    activities=goal.activities,
                    target=goal.target,
                    status=goal.status,
                    status_label=coded("goal_status", goal.status, lang),
                    sessions=len(goal.ratings),
                    ratings=ratings,
                    progress=progress or label("not_rated", lang),
                )
            )
        return out

    def stage_runs(self, sessions: list[dict[str, Any]], lang: str) -> list[StageRun]:
        """The intervention stages in the order the sessions were held, consecutive sessions
        of one stage together."""
        held = sorted(
            (s for s in sessions if s["status"] == "completed" and s.get("stage")),
            key=lambda s: (self._day_key(s), s.get("number") or 0, s["started_at"]),
        )
        runs: list[list[dict[str, Any]]] = []
        for s in held:
            if runs and runs[-1][-1]["stage"] == s["stage"]:
                runs[-1].append(s)
            else:
                runs.append([s])
        return [
            StageRun(
                stage=str(run[0]["stage"]),
                label=self.stage_label(
                    run[0]["flow_id"], run[0]["flow_version"], str(run[0]["stage"]), lang
                ),
                sessions=len(run),
                first_day=format_day(self._day_key(run[0]), lang, self.tz),
                last_day=format_day(self._day_key(run[-1]), lang, self.tz),
                numbers=[int(s["number"]) for s in run if s.get("number")],
            )
            for run in runs
        ]

    def trends(self, sessions: list[dict[str, Any]], lang: str) -> list[Trend]:
        """Check-in answers over time: every item its flow marks ``trend``, as numbers (a
        choice by its position in the list, yes/no as 1/0)."""
        by_flow: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for s in sessions:
            if s["status"] == "completed":
                by_flow[str(s["flow_id"])].append(s)
        out: list[Trend] = []
        for flow_id in sorted(by_flow):
            rows = by_flow[flow_id]
            engine = self._current_engine(flow_id) or self.engine(
                rows[-1]["flow_id"], rows[-1]["flow_version"]
            )
            if engine is None:
                continue
            items = [q for q in engine.questions if getattr(q.item, "trend", False)]
            if not items:
                continue
            answers = self.records.current_answers(s["id"] for s in rows)
            flow_title = engine.flow.text(engine.flow.title, lang)
            for q in items:
                trend = self._trend(q, rows, answers, flow_id, flow_title, lang)
                if trend is not None:
                    out.append(trend)
        return out

    def _trend(
        self,
        q: Question,
        rows: list[dict[str, Any]],
        answers: Mapping[str, list[dict[str, Any]]],
        flow_id: str,
        flow_title: str,
        lang: str,
    ) -> Trend | None:
        item = q.item
        points: list[TrendPoint] = []
        for s in rows:
            found = next(
                (
                    a
                    for a in answers[s["id"]]
                    if a["question_id"] == q.id and a["status"] == "answered"
                ),
                None,
            )
            stored = _loads(found["value"]) if found else None
            value = _trend_value(item, stored)
            if value is None:
                continue
            when = s["completed_at"] or s["started_at"]
            # The answer in the record's language (the respondent's wording stays in the
            # session record).
            text = answer_types.display(item, stored, lang)
            points.append(TrendPoint(self.moment(when, lang), value, text))
        if not points:
            return None
        low, high, scale = _trend_scale(item, [p.value for p in points], lang)
        return Trend(
            key=f"{flow_id}-{q.id}",
            flow_id=flow_id,
            item_id=q.id,
            title=label("trend_of", lang, question=item.label(lang), flow=flow_title),
            low=low,
            high=high,
            scale=scale,
            points=points,
        )

    def _current_engine(self, flow_id: str) -> Engine | None:
        try:
            return self.registry.current(flow_id).engine
        except Exception:  # a flow file removed since: fall back to the stored version
            return None

    def closing(self, case: Case, sessions: list[dict[str, Any]], lang: str) -> Closing | None:
        events = CaseFile(self.store).events(case.id)
        if not events:
            return None
        texts = []
        for e in events:
            at = format_day(str(e["at"]), lang, self.tz)
            name = str(e.get("actor_name") or "?")
            if e["kind"] == "closed":
                texts.append(CaseEvent("closed", label("closed_on", lang, at=at, name=name)))
            else:
                reason = str(e.get("reason") or "")
                texts.append(
                    CaseEvent(
                        "reopened", label("reopened_on", lang, at=at, name=name, reason=reason)
                    )
                )
        report = None
        closed = case.status == "closed"
        last = events[-1]
        if closed and last.get("session_id"):
            found = [s for s in sessions if s["id"] == last["session_id"]]
            if found:
                current = self.records.current_answers([found[0]["id"]])
                report = self._note(found[0], current[found[0]["id"]], lang, case.flow_facts)
        return Closing(closed=closed, events=texts, report=report)

    # -- a session record -------------------------------------------------------------

    def session(self, session_id: str, lang: str | None = None) -> SessionRecord:
        row = self.records.session(session_id)
        lang = lang or str(row["lang"])
        case = self.records.case(int(row["case_id"]))
        history = self.records.answer_rows(session_id)
        revisions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for answer_row in history:
            revisions[answer_row["question_id"]].append(answer_row)
        current = [rows[-1] for rows in revisions.values()]  # in the order first answered
        stages = self.stages(row, current, lang, case.flow_facts)
        labels = {a.question_id: a.label for s in stages for a in s.answers}
        labels.update({p.question_id: p.label for s in stages for a in s.answers for p in a.probes})
        engine = self.engine(row["flow_id"], row["flow_version"])
        stage_titles = (
            {s.id: engine.flow.text(s.title, lang) for s in engine.flow.stages} if engine else {}
        )
        when = row["completed_at"] or row["started_at"]
        stage_titles.update(
            {
                score_stage_id(score.id): label("ratings_kind", lang)
                for score in (engine.flow.scores if engine else [])
            }
        )
        scores = [
            self.score(s, stage_titles.get(s["stage_id"], s["stage_id"]), lang, when)
            for s in sorted(
                self.records.scores(session_id),
                key=lambda s: self._stage_index(row["flow_id"], row["flow_version"], s["stage_id"]),
            )
        ]
        stored = self.stored_flags(session_id, lang)
        flags = (
            stored
            if stored is not None
            else [f for s in scores for f in s.flags if f.severity in ALERT]
        )
        changes = self._changes(row, history, labels, lang, engine)
        signed = None
        if row["signed_at"]:
            signer = self.person(row["signed_by"], row["signer_name"], row["signer_role"], lang)
            signed = SignOff(
                self.moment(row["signed_at"], lang), signer, row.get("sign_comment") or None
            )
        workers = [
            self.person(m["id"], m["name"], m["role"], lang)
            for m in self.records.members(case.id)
            if m["role"] in ("worker", "supervisor")
        ]
        return SessionRecord(
            id=session_id,
            short_id=_short(session_id),
            lang=lang,
            tz=zone_name(self.tz),
            flow_id=row["flow_id"],
            flow_version=int(row["flow_version"]),
            flow_title=self.flow_title(row["flow_id"], row["flow_version"], lang),
            case_code=case.code,
            case_title=case.title,
            respondent=self.person(
                row["respondent_id"], row["respondent_name"], row["respondent_role"], lang
            ),
            workers=workers,
            channel=row["channel"],
            channel_label=coded("channel", row["channel"], lang),
            phase=row["phase"],
            phase_label=coded("phase", row["phase"], lang),
            status=row["status"],
            status_label=coded("status", row["status"], lang),
            started=self.moment(row["started_at"], lang),
            ended=self.maybe_moment(row["completed_at"], lang),
            signed=signed,
            flags=flags,
            scores=scores,
            stages=stages,
            changes=changes,
            # The age on the day of the session: a record reads the same next year.
            profile=self.profile(case.id, lang, self.day_of(row["started_at"])),
            consent_warning=self.consent(case.id, lang)[1],
            held=self.held(row, lang),
        )

    def _changes(
        self,
        session: Mapping[str, Any],
        history: list[dict[str, Any]],
        labels: Mapping[str, str],
        lang: str,
        engine: Engine | None = None,
    ) -> list[Change]:
        """Every answer written after the interview ended, with what it replaced."""
        completed_at = session["completed_at"]
        if not completed_at:
            return []
        previous: dict[str, dict[str, Any]] = {}
        out = []
        for row in history:
            qid = row["question_id"]
            if _after(row["answered_at"], completed_at):
                before = previous.get(qid)
                out.append(
                    Change(
                        at=self.moment(row["answered_at"], lang),
                        question_id=qid,
                        label=labels.get(qid, qid),
                        before=self.shown(engine, before, lang) if before else None,
                        after=self.shown(engine, row, lang),
                        by=str(row.get("changed_by_name") or row.get("changed_by") or "?"),
                        reason=row["reason"],
                        after_signoff=bool(session["signed_at"])
                        and not _after(session["signed_at"], row["answered_at"]),
                        revision=int(row["revision"]),
                    )
                )
            previous[qid] = row
        return out

    # -- a case -----------------------------------------------------------------------

    def series(self, case: Case, lang: str) -> list[Series]:
        """Each instrument's completed administrations on a case, oldest first."""
        score_rows = self.records.case_scores(case.id)
        for flow_id, version in sorted({(r["flow_id"], r["flow_version"]) for r in score_rows}):
            self.engine(flow_id, version)  # first, so that their instruments are reused
        return self._series(score_rows, lang)

    def _series(self, score_rows: Iterable[Mapping[str, Any]], lang: str) -> list[Series]:
        by_instrument: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for row in score_rows:
            if row["session_status"] == "completed":
                by_instrument[str(row["instrument_id"])].append(row)
        out = []
        for instrument_id in sorted(by_instrument):
            rows = by_instrument[instrument_id]
            points = [self.point(r, lang) for r in rows]
            points.sort(key=lambda p: (p.at.iso, p.session_id))
            last: dict[str, Any] = json.loads(rows[-1]["result"])
            ratings = last.get("kind") == "ratings"
            banded = None if ratings else self.bands(instrument_id, lang)
            if banded is not None:
                bands, higher_is, low, high = banded
            else:
                low, high = [*(last.get("total_range") or []), 0, 0][:2]
                higher_is = str(last.get("higher_is") or "worse")
                bands = self._rating_bands(last, higher_is, lang) if ratings else []
            short_name, full_name = self.names(instrument_id, last, lang)
            out.append(
                Series(
                    instrument_id=instrument_id,
                    instrument=short_name,
                    instrument_name=full_name,
                    higher_is=higher_is,
                    higher_is_label=label(f"higher_{higher_is}", lang),
                    low=low,
                    high=high,
                    range_text=label(
                        "range", lang, low=format_number(low), high=format_number(high)
                    ),
                    bands=bands,
                    bands_text=label("semicolon", lang).join(
                        b.label + label("space", lang) + label("paren", lang, text=b.range_text)
                        for b in bands
                    ),
                    points=points,
                    latest=points[-1],
                )
            )
        return out

    def _note(
        self,
        session: Mapping[str, Any],
        current: list[dict[str, Any]],
        lang: str,
        facts: Mapping[str, Any],
    ) -> Note:
        """An informal-contact note: when, how and with whom, what was said, all answers."""
        answers = {a["question_id"]: a for a in current if a["status"] == "answered"}
        engine = self.engine(session["flow_id"], session["flow_version"])

        def shown(qid: str) -> str | None:
            row = answers.get(qid)
            return (self.shown(engine, row, lang) or None) if row else None

        with_whom = shown("contact_with_other") or shown("contact_with")
        headline = " · ".join(t for t in (shown("channel"), with_whom) if t)
        contact_day = answers.get("contact_date")
        day_iso = _loads(contact_day["value"]) if contact_day else None
        return Note(
            session_id=str(session["id"]),
            short_id=_short(str(session["id"])),
            day=format_day(
                day_iso if isinstance(day_iso, str) else session["started_at"], lang, self.tz
            ),
            recorded=self.moment(session["started_at"], lang),
            by=self.person(
                session["respondent_id"],
                session["respondent_name"],
                session["respondent_role"],
                lang,
            ),
            headline=headline or self.flow_title(session["flow_id"], session["flow_version"], lang),
            said=shown("what_said"),
            status=str(session["status"]),
            status_label=coded("status", session["status"], lang),
            stages=self.stages(session, current, lang, facts),
        )

    def _notes(self, case: Case, sessions: list[dict[str, Any]], lang: str) -> list[Note]:
        noted = [
            s
            for s in sessions
            if s["flow_id"] == CONTACT_NOTE_FLOW and s["status"] in ("completed", "cancelled")
        ]
        current = self.records.current_answers(s["id"] for s in noted)
        return [self._note(s, current[s["id"]], lang, case.flow_facts) for s in noted]

    def _note_days(self, notes: Mapping[str, Note]) -> dict[str, str | None]:
        """The contact day of each note (YYYY-MM-DD), which orders it in the timeline."""
        days: dict[str, str | None] = {}
        answers = self.records.current_answers(notes)
        for sid, rows in answers.items():
            found = next(
                (
                    _loads(a["value"])
                    for a in rows
                    if a["question_id"] == "contact_date" and a["status"] == "answered"
                ),
                None,
            )
            days[sid] = found if isinstance(found, str) else None
        return days

    def case(self, case: Case, lang: str, as_of: datetime) -> CaseSummary:
        consent, consent_warning = self.consent(case.id, lang)
        sessions = self.records.case_sessions(case.id)
        for flow_id, version in sorted({(s["flow_id"], s["flow_version"]) for s in sessions}):
            self.engine(flow_id, version)  # first, so that their instruments are reused
        score_rows = self.records.case_scores(case.id)
        series = self._series(score_rows, lang)
        notes = {n.session_id: n for n in self._notes(case, sessions, lang)}
        scores_by_session: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for row in score_rows:
            scores_by_session[row["session_id"]].append(row)
        for rows in scores_by_session.values():
            rows.sort(
                key=lambda r: self._stage_index(r["flow_id"], r["flow_version"], r["stage_id"])
            )
        timeline = []
        order: list[tuple[str, str]] = []
        note_day = {sid: str(day) for sid, day in self._note_days(notes).items() if day}
        open_flags: list[Flag] = []
        unstored: set[str] = set()  # sessions from before flags were stored
        for s in sessions:
            rows = scores_by_session.get(s["id"], [])
            when = s["completed_at"] or s["started_at"]
            stored = self.stored_flags(s["id"], lang, standing_only=True)
            if stored is None:
                unstored.add(s["id"])
                flags = [
                    f
                    for r in rows
                    for f in self.flags(
                        json.loads(r["result"]), r["instrument_id"], s["id"], when, lang
                    )
                    if f.severity in ALERT
                ]
            else:
                flags = [f for f in stored if f.severity in ALERT]
                open_flags += [f for f in flags if f.state == "open"]
            note = notes.get(s["id"])
            if s["flow_id"] == CONTACT_NOTE_FLOW and note is None:
                continue  # a note still being written is not part of the record yet
            day_key = self._day_key(s)
            timeline.append(
                Entry(
                    kind="note" if note else "session",
                    session_id=s["id"],
                    short_id=_short(s["id"]),
                    at=self.moment(s["started_at"], lang),
                    title=self.flow_title(s["flow_id"], s["flow_version"], lang),
                    phase=s["phase"],
                    phase_label=coded("phase", s["phase"], lang),
                    status=s["status"],
                    status_label=coded("status", s["status"], lang),
                    respondent=self.person(
                        s["respondent_id"], s["respondent_name"], s["respondent_role"], lang
                    ),
                    signed=bool(s["signed_at"]),
                    scores=[self.point(r, lang) for r in rows],
                    instruments=[
                        self._instrument_name(r["instrument_id"], lang, json.loads(r["result"]))
                        for r in rows
                    ],
                    flags=flags,
                    note=note,
                    day=note.day if note else format_day(day_key, lang, self.tz),
                    held=self.held(s, lang),
                )
            )
            order.append((note_day.get(s["id"], day_key), s["started_at"]))
        # The timeline runs by the day things happened (a session record's held-on day, a
        # note's contact day), not the day they were typed.
        timeline = [e for _, e in sorted(zip(order, timeline, strict=True), key=lambda x: x[0])]
        latest_flags = []
        latest_flags = open_flags
        for one in series:
            rows = [
                r
                for r in score_rows
                if r["session_id"] == one.latest.session_id
                and r["instrument_id"] == one.instrument_id
                and r["session_id"] in unstored
            ]
            for r in rows:
                when = r["completed_at"] or r["started_at"]
                latest_flags += [
                    f
                    for f in self.flags(
                        json.loads(r["result"]), one.instrument_id, r["session_id"], when, lang
                    )
                    if f.severity in ALERT
                ]
        latest_flags.sort(key=lambda f: _SEVERITY_ORDER.get(f.severity, 3))
        members = [
            Member(
                self.person(m["id"], m["name"], m["role"], lang), self.moment(m["added_at"], lang)
            )
            for m in self.records.members(case.id)
        ]
        return CaseSummary(
            lang=lang,
            tz=zone_name(self.tz),
            as_of=self.moment(as_of.isoformat(), lang),
            case_code=case.code,
            case_title=case.title,
            case_status=case.status,
            members=members,
            flags=latest_flags,
            series=series,
            timeline=timeline,
            sessions_count=sum(1 for e in timeline if e.kind == "session"),
            notes_count=len(notes),
            compliance=self._compliance(case.id, as_of, lang),
            case_status_label=coded("case_status", case.status, lang),
            profile=self.profile(case.id, lang, as_of.astimezone(self.tz).date()),
            consent=consent,
            consent_warning=consent_warning,
            goals=self.goals(case.id, lang),
            stage_runs=self.stage_runs(sessions, lang),
            trends=self.trends(sessions, lang),
            closing=self.closing(case, sessions, lang),
        )

    def _compliance(self, case_id: int, as_of: datetime, lang: str) -> list[Compliance]:
        from storage.schedules import Schedules

        rows = Schedules(self.store).compliance(case_id, as_of.astimezone(UTC))
        return [
            Compliance(
                member=row.person_name,
                flow=self._current_flow_title(row.flow_id, lang),
                due=row.due,
                completed=row.completed,
                late=row.late,
                missed=row.missed,
                rate="—" if row.rate is None else f"{row.rate:.0%}",
            )
            for row in rows
        ]

    def _current_flow_title(self, flow_id: str, lang: str) -> str:
        try:
            flow = self.registry.current(flow_id).engine.flow
        except Exception:  # a flow file removed since: its id still identifies it
            return flow_id
        return flow.text(flow.title, lang)

    def _stage_index(self, flow_id: str, version: int, stage_id: str) -> tuple[int, str]:
        engine = self.engine(flow_id, version)
        ids = [stage.id for stage in engine.flow.stages] if engine else []
        return (ids.index(stage_id) if stage_id in ids else len(ids), stage_id)

    def _instrument_name(
        self, instrument_id: str, lang: str, result: Mapping[str, Any] | None = None
    ) -> str:
        return self.names(instrument_id, result, lang)[0]

    def notes(self, case: Case, lang: str, as_of: datetime) -> ContactLog:
        sessions = self.records.case_sessions(case.id)
        notes = self._notes(case, sessions, lang)
        return ContactLog(
            lang=lang,
            tz=zone_name(self.tz),
            as_of=self.moment(as_of.isoformat(), lang),
            case_code=case.code,
            case_title=case.title,
            notes=notes,
        )

    # -- pre/post ---------------------------------------------------------------------

    def prepost(self, case: Case, lang: str, as_of: datetime) -> PrePost:
        score_rows = self.records.case_scores(case.id)
        for flow_id, version in sorted({(r["flow_id"], r["flow_version"]) for r in score_rows}):
            self.engine(flow_id, version)  # first, so that their instruments are reused
        evaluations = [
            self._evaluation(one, score_rows, lang) for one in self._series(score_rows, lang)
        ]
        return PrePost(
            lang=lang,
            tz=zone_name(self.tz),
            as_of=self.moment(as_of.isoformat(), lang),
            case_code=case.code,
            case_title=case.title,
            evaluations=evaluations,
        )

    def _evaluation(
        self, series: Series, score_rows: list[dict[str, Any]], lang: str
    ) -> Evaluation:
        results = {
            r["session_id"]: json.loads(r["result"])
            for r in score_rows
            if r["instrument_id"] == series.instrument_id and r["session_status"] == "completed"
        }
        scored = [p for p in series.points if p.total is not None]
        # The pre-test is the first administration marked pre (or baseline), the post-test the
        # last marked post; without those marks, the first and the last.
        pre = next(
            (p for p in scored if p.phase in ("pre", "baseline")), scored[0] if scored else None
        )
        marked = [p for p in scored if p.phase == "post" and p is not pre]
        post = (
            marked[-1]
            if marked
            else (scored[-1] if len(scored) > 1 and scored[-1] is not pre else None)
        )
        change = (
            (float(post.total) - float(pre.total))
            if pre and post and pre.total is not None and post.total is not None
            else None
        )
        rci = rci_text = rci_source = None
        reading = "single" if post is None else "rci_unavailable"
        ratings = results and next(iter(results.values())).get("kind") == "ratings"
        if ratings and post is not None:
            reading = "ratings"
        inst = None if ratings else self.instrument(series.instrument_id)
        if inst is not None and pre is not None and post is not None:
            try:
                comparison = compare(
                    inst,
                    [
                        Administration(p.session_id, p.at.iso, p.phase, results[p.session_id])
                        for p in series.points
                    ],
                )
            except InstrumentError:  # a stored score outside today's file's range
                comparison = None
            if comparison is not None:
                reading = comparison.reading()
                rc = comparison.reliable
                if rc is not None:
                    rci = rc.rci
                    rci_text = label(
                        "rci_value",
                        lang,
                        rci=f"{rc.rci:+.2f}".replace("-", "−"),
                        threshold=f"{RCI_THRESHOLD:g}",
                        r=f"{rc.reliability:g}",
                        sd=f"{rc.norm_sd:g}",
                        min_change=f"{rc.min_reliable_change:.1f}",
                    )
                    rci_source = rc.source
        rows: list[ScaleRow] = []
        if pre is not None:
            pre_scales: dict[str, Any] = results[pre.session_id].get("scales") or {}
            post_scales: dict[str, Any] = (
                (results[post.session_id].get("scales") or {}) if post else {}
            )
            ordered = sorted(pre_scales.items(), key=lambda kv: kv[1].get("role") != "total")
            for scale_id, scale in ordered:
                before = _number(scale.get("value"))
                after = _number((post_scales.get(scale_id) or {}).get("value")) if post else None
                rows.append(
                    ScaleRow(
                        id=scale_id,
                        name=_text(scale.get("name"), lang, scale_id),
                        pre=format_number(before),
                        post=format_number(after) if post else "—",
                        change=format_signed(after - before)
                        if before is not None and after is not None
                        else "—",
                    )
                )
        return Evaluation(
            instrument_id=series.instrument_id,
            instrument=series.instrument,
            instrument_name=series.instrument_name,
            higher_is=series.higher_is,
            higher_is_label=series.higher_is_label,
            low=series.low,
            high=series.high,
            range_text=series.range_text,
            bands=series.bands,
            bands_text=series.bands_text,
            administrations=series.points,
            pre=pre,
            post=post,
            rows=rows,
            change=change,
            change_text=format_signed(change),
            rci=rci,
            rci_text=rci_text,
            rci_source=rci_source,
            reading=reading,
            reading_label=coded("reading", reading, lang),
        )
