"""The interview engine: one respondent's reply in, one ``Turn`` out. Pure: no I/O.

A ``Session`` is plain data (state, answers so far, case facts, last time's answers) that
storage saves and loads, so any process can resume any session. The engine moves it
through the flow's compiled state machine and returns what to persist (``Turn.changes``,
``Turn.scores``) and what to show next (``Turn.prompt``). The channel persists the changes
before it shows the prompt, so every acknowledged answer is on disk.

The engine never raises on user input: a reply it cannot use gets a message in the
respondent's language and the same question again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from transitions import MachineError

from flows import answers as answer_types
from flows import spoken
from flows.compile import (
    CANCELLED,
    COMPLETED,
    NEW,
    PAUSED,
    REVIEW,
    TERMINAL,
    CompiledFlow,
    Flag,
    Question,
    allowed,
)
from flows.expressions import Condition, Scope, references
from flows.messages import COMMAND_HELP, COMMAND_WORD_SHOWN, say
from flows.model import (
    ChoiceItem,
    DateItem,
    MultiItem,
    NoteItem,
    NumberItem,
    ScaleItem,
    Severity,
    TextItem,
    YesNoItem,
)
from flows.outcome import (
    Outcome,
    goal_options,
    resolve_options,
    score_items,
    score_ratings,
    score_stage_id,
    session_outcome,
)
from flows.recurrence import local_date

log = logging.getLogger(__name__)

Status = Literal["active", "paused", "completed", "cancelled"]
USER_COMMANDS = ("back", "skip", "review", "submit", "edit", "pause", "resume", "cancel")


@dataclass(slots=True)
class Recorded:
    """The latest revision of one answer in a session."""

    value: Any
    status: Literal["answered", "skipped", "withdrawn"]
    revision: int
    shown_at: datetime | None
    answered_at: datetime


@dataclass(slots=True)
class Session:
    """One respondent going through one flow version; everything storage needs to resume."""

    id: str
    flow_id: str
    flow_version: int
    lang: str = "en"
    state: str = NEW
    resume_state: str | None = None
    editing: bool = False
    shown_at: datetime | None = None
    answers: dict[str, Recorded] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    previous: dict[str, Any] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)  # ids of the flags raised and standing

    def value(self, question_id: str) -> Any:
        recorded = self.answers.get(question_id)
        return recorded.value if recorded and recorded.status == "answered" else None

    def resolved(self, question_id: str) -> bool:
        recorded = self.answers.get(question_id)
        return recorded is not None and recorded.status != "withdrawn"


@dataclass(frozen=True, slots=True)
class Voice:
    file_id: str
    duration: int


@dataclass(frozen=True, slots=True)
class Reply:
    """What a respondent sent: typed text (maybe a /command), a tapped option, or voice."""

    text: str | None = None
    choice: str | list[str] | None = None
    token: str | None = None
    voice: Voice | None = None
    media: str | None = None  # a sticker, photo, location...: something that is no answer
    today: date | None = None  # the respondent's own date, when the channel knows it

    def command(self) -> tuple[str, str] | None:
        """A ``/command`` and its argument."""
        if self.text is None or not self.text.startswith("/"):
            return None
        word, _, arg = self.text[1:].strip().partition(" ")
        return word.split("@", 1)[0].casefold(), arg.strip()

    def command_word(self) -> tuple[str, str] | None:
        """A command sent as a whole message in words: "返回", "跳过", "不填了", "skip"."""
        if self.text is None or self.choice is not None:
            return None
        return spoken.command_word(self.text)


@dataclass(frozen=True, slots=True)
class ReviewLine:
    number: int
    question_id: str
    label: str
    answer: str
    probe: bool


@dataclass(frozen=True, slots=True)
class Prompt:
    """What to show next, independent of the channel that shows it."""

    kind: Literal["question", "note", "review"]
    token: str
    text: str
    help: str | None = None
    type: str | None = None
    style: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    keys: tuple[str, ...] = ()  # what to type for each option, in the same order
    required: bool = False
    position: int = 0
    total: int = 0  # position + the questions that may still follow: it never grows
    stage_id: str | None = None
    stage_title: str | None = None
    stage_intro: str | None = None
    last_time: str | None = None
    current: str | None = None
    # The answers themselves, as the respondent would read them (for a button's label; the
    # sentences above wrap them in words, with the language's own punctuation).
    last_value: str | None = None
    current_value: str | None = None
    commands: tuple[str, ...] = ()
    review: tuple[ReviewLine, ...] = ()
    quick_dates: tuple[tuple[str, str], ...] = ()  # (what to send, label): ("today", "今天")
    exclusive: tuple[int, ...] = ()  # options (by position) that stand alone: "Nobody"

    def toggled(self, checked: set[int], option: int) -> set[int]:
        """The options ticked after tapping ``option`` of a multi question: an exclusive
        option clears the others, and another option clears the exclusive ones."""
        if option in checked:
            return checked - {option}
        if option in self.exclusive:
            return {option}
        return (checked - set(self.exclusive)) | {option}


@dataclass(frozen=True, slots=True)
class Change:
    """One new revision of one answer, to be stored before the next prompt is shown."""

    question_id: str
    stage_id: str
    parent: str | None
    revision: int
    status: Literal["answered", "skipped", "withdrawn"]
    value: Any
    display: str
    shown_at: datetime | None
    answered_at: datetime


@dataclass(frozen=True, slots=True)
class StageScore:
    stage_id: str
    instrument_id: str
    instrument_version: int
    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RaisedFlag:
    """A flag this turn raised: stored with the answer revision that raised it.

    Texts are given in every language of the flow (``{lang: text}``), so a worker reads the
    alert in their own language whatever language the respondent answered in."""

    flag_id: str
    question_id: str
    stage_id: str
    revision: int
    severity: Severity
    message: dict[str, str]
    respondent_message: dict[str, str] | None
    question: dict[str, str]
    answer: dict[str, str]
    source: str
    raised_at: datetime


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A follow-up task a completed session sets: what, by when (ISO date), and the owner
    choice (``me`` or another value; None when the flow does not ask)."""

    rule: int
    question_id: str
    what: str
    due: str
    owner: str | None


@dataclass
class Turn:
    status: Status
    prompt: Prompt | None = None
    notices: list[str] = field(default_factory=list)
    error: str | None = None
    changes: list[Change] = field(default_factory=list)
    scores: list[StageScore] = field(default_factory=list)
    accepted: str | None = None
    outcome: Outcome | None = None
    """Set when the session completes: what it sets in the case file (``flows.outcome``)."""
    flags_raised: list[RaisedFlag] = field(default_factory=list)
    flags_withdrawn: list[str] = field(default_factory=list)  # flag ids
    followups: list[FollowUp] = field(default_factory=list)


class _Labels(Mapping[str, str]):
    """Answers as the respondent saw them, for piping: computed only when a text asks."""

    def __init__(
        self, values: dict[str, Any], engine: Engine, session: Session, lang: str | None = None
    ) -> None:
        self._values, self._engine, self._session = values, engine, session
        self._lang = lang or session.lang

    def __getitem__(self, key: str) -> str:
        question = self._engine.compiled.by_id[key]
        item = self._engine.item(self._session, question)
        return answer_types.display(item, self._values[key], self._lang)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _status(state: str) -> Status:
    if state == PAUSED:
        return "paused"
    if state == COMPLETED:
        return "completed"
    if state == CANCELLED:
        return "cancelled"
    return "active"


def _now() -> datetime:
    return datetime.now(UTC)


class Engine:
    """Runs sessions of one compiled flow version."""

    def __init__(self, compiled: CompiledFlow) -> None:
        self.compiled = compiled
        self.flow = compiled.flow
        self.questions = compiled.questions
        self._events = compiled.machine.events
        # The answers each question's conditions read, to tell which later questions may
        # still be asked (progress) before those answers are given.
        self._depends: dict[str, frozenset[str]] = {
            q.id: frozenset(
                ref
                for c in q.conditions
                for ref in (
                    references(c.source, template=False) if isinstance(c, Condition) else {c.parent}
                )
            )
            for q in self.questions
        }
        self._scored = [(score, score_items(score)) for score in self.flow.scores]

    def item(self, s: Session, q: Question) -> answer_types.AnyItem:
        """The question's item for this session: a choice that takes its options from the
        case (``options_from: case.goals``) gets them from the session's case facts."""
        return resolve_options(q.item, s.facts, self.flow.languages)

    # -- public -------------------------------------------------------------------------

    def new_session(
        self,
        session_id: str,
        lang: str | None = None,
        facts: Mapping[str, Any] | None = None,
        previous: Mapping[str, Any] | None = None,
    ) -> Session:
        language = lang if lang in self.flow.languages else self.flow.languages[0]
        return Session(
            id=session_id,
            flow_id=self.flow.id,
            flow_version=self.flow.version,
            lang=language,
            facts=dict(facts or {}),
            previous=dict(previous or {}),
        )

    def start(self, s: Session, now: datetime | None = None) -> Turn:
        """Show the first question (or pick up where an open session is)."""
        if s.state != NEW:
            return self.resume(s, now)
        now = now or _now()
        applicable = self._walk(s)
        self._move(s, "start", self._next_after(s, -1, applicable), now)
        return self._turn(s, applicable)

    def resume(self, s: Session, now: datetime | None = None) -> Turn:
        """Reopen a session with a one-line recap of where the respondent was."""
        now = now or _now()
        if s.state == NEW:
            return self.start(s, now)
        if s.state in TERMINAL:
            return Turn(status=_status(s.state), error=say("already_finished", s.lang))
        applicable = self._walk(s)
        if s.state == PAUSED:
            target = s.resume_state or REVIEW
            if target != REVIEW and self.compiled.by_id[target] not in applicable:
                target = self._next_after(s, -1, applicable, unresolved_only=True)
            self._move(s, "resume", target, now)
            s.resume_state = None
        turn = self._turn(s, applicable)
        turn.notices.insert(0, self._recap(s, applicable))
        return turn

    def prompt(self, s: Session) -> Prompt | None:
        """The current prompt, again."""
        if s.state in TERMINAL or s.state in (NEW, PAUSED):
            return None
        return self._prompt(s, self._walk(s))

    def handle(self, s: Session, reply: Reply, now: datetime | None = None) -> Turn:
        """Apply one reply and say what happens next."""
        now = now or _now()
        if s.state in TERMINAL:
            return Turn(status=_status(s.state), error=say("already_finished", s.lang))
        if s.state == NEW:
            return self.start(s, now)
        command = reply.command()
        word = None if command else reply.command_word()
        if word and s.state in self.compiled.by_id:
            item = self.compiled.by_id[s.state].item
            if answer_types.names_an_option(item, reply.text or ""):
                word = None  # an option that reads like a command ("Skip it") is an answer
        if s.state == PAUSED:
            if (command or word or ("", ""))[0] == "cancel":
                return self._cancel(s, now)
            return self.resume(s, now)
        if reply.token is not None and reply.token != s.state:
            return self._again(s, say("stale", s.lang))
        if command:
            return self._command(s, command[0], command[1], now)
        if word:
            return self._command(s, word[0], word[1], now, typed=(reply.text or "").strip())
        if s.state == REVIEW:
            return self._again(s, say("review_hint", s.lang))
        return self._answer(s, self.compiled.by_id[s.state], reply, now)

    # -- moves --------------------------------------------------------------------------

    def _command(
        self, s: Session, name: str, arg: str, now: datetime, typed: str | None = None
    ) -> Turn:
        """A command, sent as ``/name`` or (``typed``) as a word such as "跳过"."""
        lang = s.lang
        if name == "help":
            return self._help(s)
        if name not in USER_COMMANDS:
            shown = " ".join(f"/{c}" for c in self._commands(s, self._walk(s)))
            return self._again(s, say("unknown_command", lang, command=name[:30], commands=shown))
        if name == "resume" and typed is not None:
            if s.state == REVIEW:
                return self._again(s, say("review_hint", lang))
            return self._continue(s, now)
        if name not in allowed(self.compiled, s.state) and name != "resume":
            if name == "back" and s.state != REVIEW:
                return self._again(s, say("at_start", lang))
            if typed is None:
                return self._again(s, say("not_now", lang, command=name))
            if name == "skip" and s.state != REVIEW:
                return self._again(s, say("cannot_skip", lang))
            return self._again(s, say("not_now_word", lang, word=typed[:30]))
        applicable = self._walk(s)
        if name == "back":
            index = len(self.questions) if s.state == REVIEW else self.compiled.by_id[s.state].index
            target = self._previous(index, applicable)
            if target is None:
                return self._again(s, say("at_start", lang))
            self._move(s, "back", target, now)
            return self._turn(s, applicable)
        if name == "skip":
            return self._skip(s, self.compiled.by_id[s.state], now)
        if name == "review":
            if not self._complete(s, applicable):
                return self._again(s, say("not_ready_for_review", lang))
            self._move(s, "review", None, now)
            return self._turn(s, applicable)
        if name == "edit":
            lines = self._review_lines(s, applicable)
            number = int(arg) if arg.isdecimal() else 0
            if not 1 <= number <= len(lines):
                return self._again(s, say("no_such_answer", lang, number=arg[:10] or "?"))
            self._move(s, "edit", lines[number - 1].question_id, now)
            return self._turn(s, applicable)
        if name == "submit":
            missing = self._next_after(s, -1, applicable, unresolved_only=True)
            if missing != REVIEW:
                self._move(s, "edit", missing, now)
                return self._turn(s, applicable, error=say("required", lang))
            self._move(s, "submit", None, now)
            followups = self._followups(s, applicable)
            return Turn(
                status="completed",
                notices=[say("completed", lang)],
                outcome=self.outcome(s),
                followups=followups,
            )
        if name == "pause":
            s.resume_state = s.state
            self._move(s, "pause", None, now)
            return Turn(status="paused", notices=[say("paused", lang)])
        if name == "resume":
            return self._again(s, say("not_now", lang, command=name))
        return self._cancel(s, now)

    def _continue(self, s: Session, now: datetime) -> Turn:
        """Go on from a question on "继续" / "continue", keeping the answer it has (or last
        time's) as Enter does; never a silent skip."""
        q = self.compiled.by_id[s.state]
        kept = s.value(q.id) is not None or (
            q.item.carry_forward and s.previous.get(q.id) is not None
        )
        if isinstance(q.item, NoteItem) or kept:
            return self._answer(s, q, Reply(text=""), now)
        return self._again(s, say("required", s.lang))

    def _help(self, s: Session) -> Turn:
        """How to answer the current question, and the command words that work here."""
        lang = s.lang
        applicable = self._walk(s)
        lines = []
        if s.state in self.compiled.by_id:
            lines.append(answer_help(self.compiled.by_id[s.state].item, lang))
        else:
            lines.append(say("review_hint", lang))
        names = [c for c in self._commands(s, applicable) if c in COMMAND_WORD_SHOWN]
        words = [COMMAND_WORD_SHOWN[c].get(lang) or COMMAND_WORD_SHOWN[c]["en"] for c in names]
        words.append(COMMAND_WORD_SHOWN["help"].get(lang) or "help")
        separator = "、" if lang.startswith("zh") else ", "
        quoted = separator.join(f"“{w}”" if lang.startswith("zh") else w for w in words)
        lines.append(say("help_words", lang, words=quoted))
        turn = self._turn(s, applicable)
        turn.notices.append("\n".join(line for line in lines if line))
        return turn

    def _cancel(self, s: Session, now: datetime) -> Turn:
        self._move(s, "cancel", None, now)
        s.resume_state = None
        return Turn(status="cancelled", notices=[say("cancelled", s.lang)])

    def _answer(self, s: Session, q: Question, reply: Reply, now: datetime) -> Turn:
        lang, item = s.lang, self.item(s, q)
        if isinstance(item, NoteItem):
            applicable = self._walk(s)
            self._move(s, "answer", self._next_after(s, q.index, applicable), now)
            return self._turn(s, applicable)
        value: Any
        if reply.voice is not None:
            if not isinstance(item, TextItem):
                return self._again(s, say("voice_not_here", lang))
            value = {"voice": reply.voice.file_id, "duration": reply.voice.duration}
        elif reply.media is not None:
            key = "text_expected" if isinstance(item, TextItem) else "choose_one"
            return self._again(s, say(key, lang))
        else:
            text = reply.choice if reply.choice is not None else (reply.text or "")
            if isinstance(text, list):
                text = ",".join(text)
            if text.strip():
                today = reply.today or local_date(now)
                parsed = answer_types.parse(item, text, lang, today)
                if isinstance(parsed, answer_types.Rejected):
                    if spoken.is_dont_know(text):  # "不知道" is no answer, and no silent skip
                        key = "dont_know_required" if item.required else "dont_know_optional"
                        return self._again(s, say(key, lang))
                    return self._again(s, parsed.message)
                value = parsed.value
            elif s.value(q.id) is not None:
                value = s.value(q.id)  # revisiting: Enter keeps the answer
            elif item.carry_forward and s.previous.get(q.id) is not None:
                value = s.previous[q.id]
            elif not item.required:
                return self._skip(s, q, now)
            else:
                return self._again(s, say("required", lang))
        changes = self._record(s, q, "answered", value, now)
        return self._advance(s, q, "answer", changes, now)

    def _skip(self, s: Session, q: Question, now: datetime) -> Turn:
        if q.item.required:
            return self._again(s, say("cannot_skip", s.lang))
        changes = self._record(s, q, "skipped", None, now)
        return self._advance(s, q, "skip", changes, now)

    def _advance(
        self, s: Session, q: Question, trigger: str, changes: list[Change], now: datetime
    ) -> Turn:
        applicable = self._walk(s)
        changes += self._withdraw(s, applicable, now)
        scores = self._scores(s, changes, applicable)
        raised, withdrawn = self._flag_changes(s, applicable, now) if changes else ([], [])
        target = self._next_after(s, q.index, applicable, unresolved_only=s.editing)
        self._move(s, trigger, target, now)
        turn = self._turn(s, applicable)
        turn.changes, turn.scores = changes, scores
        turn.flags_raised, turn.flags_withdrawn = raised, withdrawn
        turn.notices += [
            f.respondent_message.get(s.lang) or next(iter(f.respondent_message.values()))
            for f in raised
            if f.respondent_message
        ]
        turn.accepted = answer_types.display(self.item(s, q), s.value(q.id), s.lang)
        return turn

    # -- flags and follow-ups -----------------------------------------------------------

    def _flag_changes(
        self, s: Session, applicable: list[Question], now: datetime
    ) -> tuple[list[RaisedFlag], list[str]]:
        """Flags that now stand and did not, and those that stood and no longer do: an
        answer withdrawn, or changed so that its condition fails, withdraws its flag."""
        if not self.compiled.flagged and not s.flags:
            return [], []
        active = self.active_flags(s, applicable)
        withdrawn = sorted(s.flags - active.keys())
        raised = [
            self._raised(s, q, flag, now) for fid, (q, flag) in active.items() if fid not in s.flags
        ]
        s.flags = set(active)
        return raised, withdrawn

    def amended_flags(self, s: Session, now: datetime) -> tuple[list[RaisedFlag], list[str]]:
        """After an answer of a completed session was changed in place (an amendment): the
        flags its answers now raise that did not stand, and those that no longer stand."""
        return self._flag_changes(s, self._walk(s), now)

    def active_flags(
        self, s: Session, applicable: list[Question] | None = None
    ) -> dict[str, tuple[Question, Flag]]:
        """Every flag the session's answers raise now, by id, in question order."""
        if applicable is None:
            applicable = self._walk(s)
        values = {q.id: s.value(q.id) for q in applicable if s.value(q.id) is not None}
        scope: list[Scope] = []

        def shared() -> Scope:
            if not scope:
                scope.append(Scope(self.context(s, values)))
            return scope[0]

        out: dict[str, tuple[Question, Flag]] = {}
        for q in applicable:
            if not q.flags or q.id not in values:
                continue
            for flag in q.flags:
                if flag.raised(values[q.id], shared):
                    out.setdefault(flag.id, (q, flag))
        return out

    def _raised(self, s: Session, q: Question, flag: Flag, now: datetime) -> RaisedFlag:
        values = {qid: s.value(qid) for qid in s.answers if s.value(qid) is not None}
        recorded = s.answers[q.id]
        languages = self.flow.languages
        contexts = {lang: self._context_in(s, values, lang) for lang in languages}

        def texts(renderers: dict[str, Any]) -> dict[str, str]:
            return {
                lang: render(contexts[lang])
                for lang, render in renderers.items()
                if lang in contexts
            }

        return RaisedFlag(
            flag_id=flag.id,
            question_id=q.id,
            stage_id=q.stage.id,
            revision=recorded.revision,
            severity=flag.severity,
            message=texts(flag.message),
            respondent_message=texts(flag.respondent_message) or None,
            question={
                lang: q.item.label(lang) if q.item.short else self._text_in(q, lang, contexts[lang])
                for lang in languages
            },
            answer={
                lang: answer_types.display(self.item(s, q), recorded.value, lang)
                for lang in languages
            },
            source=flag.source,
            raised_at=now,
        )

    def _context_in(self, s: Session, values: dict[str, Any], lang: str) -> dict[str, Any]:
        return {
            "answers": values,
            "labels": _Labels(values, self, s, lang),
            "case": s.facts,
            "last": s.previous,
        }

    @staticmethod
    def _text_in(q: Question, lang: str, context: dict[str, Any]) -> str:
        render = q.prompt.get(lang) or next(iter(q.prompt.values()))
        return render(context)

    def _followups(self, s: Session, applicable: list[Question]) -> list[FollowUp]:
        """The follow-up tasks a completed session sets."""
        if not self.compiled.followups:
            return []
        values = {q.id: s.value(q.id) for q in applicable if s.value(q.id) is not None}
        scope = Scope(self.context(s, values))
        out = []
        for n, spec in enumerate(self.compiled.followups):
            rule = spec.rule
            what, due = values.get(rule.what), values.get(rule.due)
            if what is None or not isinstance(due, str):
                continue
            if spec.condition is not None and not spec.condition.test(scope):
                continue
            item = self.compiled.by_id[rule.what].item
            owner = values.get(rule.owner) if rule.owner else None
            out.append(
                FollowUp(
                    rule=n,
                    question_id=rule.what,
                    what=answer_types.display(item, what, s.lang),
                    due=due,
                    owner=None if owner is None else str(owner),
                )
            )
        return out

    def _record(
        self, s: Session, q: Question, status: Any, value: Any, now: datetime
    ) -> list[Change]:
        old = s.answers.get(q.id)
        if old and old.status == status and old.value == value:
            return []  # the same answer again is no new revision
        revision = old.revision + 1 if old else 1
        shown_at = s.shown_at
        s.answers[q.id] = Recorded(value, status, revision, shown_at, now)
        display = answer_types.display(self.item(s, q), value, s.lang)
        return [Change(q.id, q.stage.id, q.parent, revision, status, value, display, shown_at, now)]

    def _withdraw(self, s: Session, applicable: list[Question], now: datetime) -> list[Change]:
        """Answers whose question no longer applies (an earlier answer changed) are withdrawn."""
        live = {q.id for q in applicable}
        out = []
        for qid, recorded in list(s.answers.items()):
            if recorded.status != "withdrawn" and qid not in live:
                q = self.compiled.by_id[qid]
                out += self._record(s, q, "withdrawn", None, now)
        return out

    def _scores(
        self, s: Session, changes: list[Change], applicable: list[Question]
    ) -> list[StageScore]:
        """Score every instrument stage that this turn touched and that is now complete."""
        touched = {self.compiled.by_id[c.question_id].instrument for c in changes} - {None}
        out = []
        for instrument_id in sorted(i for i in touched if i):
            questions = [q for q in applicable if q.instrument == instrument_id]
            if not questions or not all(s.resolved(q.id) for q in questions):
                continue
            instrument = self.compiled.instruments[instrument_id]
            from flows.scoring import score

            values = {q.id: s.value(q.id) for q in questions if s.value(q.id) is not None}
            try:
                result = score(instrument, values).to_dict()
            except Exception as exc:  # a bad key must not lose the answers already given
                log.error("scoring %s failed: %s", instrument_id, type(exc).__name__)
                continue
            out.append(StageScore(questions[0].stage.id, instrument_id, instrument.version, result))
        changed = {c.question_id for c in changes}
        live = {q.id for q in applicable}
        for flow_score, items in self._scored:
            if not changed & items:
                continue
            asked = items & live
            if not asked or not all(s.resolved(i) for i in asked):
                continue
            values = {i: s.value(i) for i in asked if s.value(i) is not None}
            if not values:
                continue
            result = score_ratings(flow_score, self.flow, values)
            out.append(
                StageScore(score_stage_id(flow_score.id), flow_score.id, self.flow.version, result)
            )
        return out

    def rescore(self, s: Session, question_id: str) -> list[StageScore]:
        """The scores ``question_id`` counts towards, from the session's current answers: an
        instrument stage, or a flow's own ratings (used after an answer is amended)."""
        q = self.compiled.by_id[question_id]
        value = s.value(question_id)
        touched = Change(question_id, q.stage.id, q.parent, 0, "answered", value, "", None, _now())
        return self._scores(s, [touched], self._walk(s))

    def outcome(self, s: Session) -> Outcome | None:
        """What the session sets in the case file, from its current answers."""
        values = {qid: r.value for qid, r in s.answers.items() if r.status == "answered"}
        return session_outcome(self.flow, values)

    def _move(self, s: Session, trigger: str, target: str | None, now: datetime) -> None:
        before = s.state
        try:
            moved = self._events[trigger].trigger(s, target=target)
        except MachineError as exc:
            raise RuntimeError(f"engine bug: {trigger} from {before}: {exc}") from exc
        if not moved:
            raise RuntimeError(f"engine bug: {trigger} from {before} to {target} is not legal")
        if s.state == REVIEW:
            s.editing = True
        if s.state != before or trigger in ("start", "resume"):
            s.shown_at = now

    # -- reading the flow against the answers ------------------------------------------

    def context(self, s: Session, values: dict[str, Any] | None = None) -> dict[str, Any]:
        values = values if values is not None else {}
        return {
            "answers": values,
            "labels": _Labels(values, self, s),
            "case": s.facts,
            "last": s.previous,
        }

    def _walk(self, s: Session) -> list[Question]:
        """The questions that apply, in order, given the answers of those before them."""
        values: dict[str, Any] = {}
        scope = Scope(self.context(s, values))
        out = []
        for q in self.questions:
            if self._offered(s, q) and all(condition.test(scope) for condition in q.conditions):
                out.append(q)
                value = s.value(q.id)
                if value is not None:
                    values[q.id] = value
        return out

    def _offered(self, s: Session, q: Question) -> bool:
        """A choice among the case's goals is not asked on a case that has none."""
        item = q.item
        if isinstance(item, ChoiceItem | MultiItem) and item.options_from == "case.goals":
            return bool(goal_options(s.facts, self.flow.languages))
        return True

    def _next_after(
        self, s: Session, index: int, applicable: list[Question], *, unresolved_only: bool = False
    ) -> str:
        for q in applicable:
            if q.index <= index:
                continue
            if unresolved_only and (not q.answerable or s.resolved(q.id)):
                continue
            return q.id
        return REVIEW

    def _previous(self, index: int, applicable: list[Question]) -> str | None:
        for q in reversed(applicable):
            if q.index < index and q.answerable:
                return q.id
        return None

    def _complete(self, s: Session, applicable: list[Question]) -> bool:
        return all(s.resolved(q.id) for q in applicable if q.answerable and q.id != s.state) and (
            s.state == REVIEW or s.resolved(s.state)
        )

    def _review_lines(self, s: Session, applicable: list[Question]) -> list[ReviewLine]:
        lines: list[ReviewLine] = []
        for q in applicable:
            if not q.answerable:
                continue
            recorded = s.answers.get(q.id)
            if recorded is None or recorded.status == "withdrawn":
                continue
            lines.append(
                ReviewLine(
                    number=len(lines) + 1,
                    question_id=q.id,
                    label=self._label(q, s),
                    answer=answer_types.display(self.item(s, q), recorded.value, s.lang),
                    probe=q.parent is not None,
                )
            )
        return lines

    def _label(self, q: Question, s: Session) -> str:
        """The short label of a question, else its (piped) prompt."""
        if q.parent is None and q.item.short:
            return q.item.label(s.lang)
        values = {qid: r.value for qid, r in s.answers.items() if r.status == "answered"}
        return self._text(q, s, self.context(s, values))

    def _text(self, q: Question, s: Session, context: dict[str, Any]) -> str:
        render = q.prompt.get(s.lang) or next(iter(q.prompt.values()))
        return render(context)

    def _commands(self, s: Session, applicable: list[Question]) -> tuple[str, ...]:
        triggers = allowed(self.compiled, s.state)
        out = []
        for name in USER_COMMANDS:
            if name not in triggers:
                continue
            first = s.state != REVIEW and (
                self._previous(self.compiled.by_id[s.state].index, applicable) is None
            )
            if name == "back" and first:
                continue
            if name == "review" and not (s.editing and self._complete(s, applicable)):
                continue
            out.append(name)
        return tuple(out)

    # -- what to show ---------------------------------------------------------------------

    def _again(self, s: Session, error: str) -> Turn:
        return self._turn(s, self._walk(s), error=error)

    def _turn(self, s: Session, applicable: list[Question], error: str | None = None) -> Turn:
        if s.state in TERMINAL or s.state == PAUSED:
            return Turn(status=_status(s.state), error=error)
        # `applicable` was walked after this turn's answers changed; moving between states
        # changes no answer, so it still holds for the prompt.
        return Turn(status="active", prompt=self._prompt(s, applicable), error=error)

    def _prompt(self, s: Session, applicable: list[Question]) -> Prompt:
        lang = s.lang
        commands = self._commands(s, applicable)
        if s.state == REVIEW:
            return Prompt(
                kind="review",
                token=REVIEW,
                text=say("review_title", lang),
                help=say("review_hint", lang),
                commands=commands,
                review=tuple(self._review_lines(s, applicable)),
            )
        q = self.compiled.by_id[s.state]
        values = {p.id: s.value(p.id) for p in applicable if s.value(p.id) is not None}
        context = self.context(s, values)
        position, total = self._progress(s, q, applicable)
        first_of_stage = next((p for p in applicable if p.stage is q.stage), None) is q
        item = self.item(s, q)
        last = s.previous.get(q.id) if item.carry_forward else None
        current = s.value(q.id)
        current_value = None if current is None else answer_types.display(item, current, lang)
        last_value = None if last is None else answer_types.display(item, last, lang)
        help_render = q.help.get(lang)
        intro_render = self.compiled.intros[q.stage.id].get(lang) if first_of_stage else None
        return Prompt(
            kind="note" if isinstance(item, NoteItem) else "question",
            token=q.id,
            text=self._text(q, s, context),
            help=help_render(context) if help_render else None,
            type=item.type,
            style=getattr(item, "style", None),
            options=tuple(answer_types.options(item, lang)),
            keys=tuple(answer_types.keys(item)),
            required=item.required,
            position=position,
            total=total,
            stage_id=q.stage.id,
            stage_title=self.flow.text(q.stage.title, lang),
            stage_intro=intro_render(context) if intro_render else None,
            last_time=say("last_time", lang, value=last_value) if last_value is not None else None,
            current=say("current_answer", lang, value=current_value)
            if current_value is not None
            else None,
            last_value=last_value,
            current_value=current_value,
            commands=commands,
            quick_dates=tuple(answer_types.quick_dates(item, lang)),
            exclusive=tuple(answer_types.exclusive(item)),
        )

    def _progress(self, s: Session, q: Question, applicable: list[Question]) -> tuple[int, int]:
        """``(position, total)`` for question ``q``, shown as "3/12".

        The position counts the questions asked up to this one (not notes, not probes), so
        it goes up by one per question answered. The total adds the questions after this
        one that may still be asked: those whose conditions hold, or cannot be known yet
        because they read answers still to come. Answers only ever settle such questions
        one way or the other, so going forward the total never grows, and "N/N" is shown
        only on a question after which nothing more can be asked."""
        position = sum(1 for p in applicable if p.counted and p.index <= q.index)
        live = {p.id for p in applicable}
        values: dict[str, Any] = {}
        scope = Scope(self.context(s, values))
        unknown = {q.id}
        later = 0
        for p in self.questions:
            if p.index < q.index:
                if p.id in live and s.value(p.id) is not None:
                    values[p.id] = s.value(p.id)
                continue
            if p.index == q.index:
                continue
            if self._depends[p.id] & unknown:
                unknown.add(p.id)  # may or may not be asked
            elif all(condition.test(scope) for condition in p.conditions):
                if s.resolved(p.id):
                    if s.value(p.id) is not None:
                        values[p.id] = s.value(p.id)
                else:
                    unknown.add(p.id)
            else:
                continue  # will not be asked: its answer stays empty
            later += p.counted
        position = position or 1
        return position, position + later

    def _recap(self, s: Session, applicable: list[Question]) -> str:
        if s.state == REVIEW:
            return say("recap_review", s.lang)
        q = self.compiled.by_id[s.state]
        position, total = self._progress(s, q, applicable)
        return say("recap", s.lang, position=position, total=total, label=self._label(q, s))


def answer_help(item: Any, lang: str) -> str:
    """What forms an answer to ``item`` can take, in ``lang``: the first line of help."""
    if isinstance(item, TextItem):
        return say("help_text", lang)
    if isinstance(item, MultiItem):
        text = say("help_multi", lang)
        for i in answer_types.exclusive(item):
            label = item.options[i].label
            option = label.get(lang) or next(iter(label.values()))
            text += " " + say("help_exclusive", lang, option=option)
        return text
    if isinstance(item, ChoiceItem):
        return say("help_choice", lang)
    if isinstance(item, ScaleItem):
        return say("help_scale", lang, min=item.min, max=item.max)
    if isinstance(item, NumberItem):
        return say("help_number", lang)
    if isinstance(item, DateItem):
        return say("help_date_future" if item.looks_ahead else "help_date_past", lang)
    if isinstance(item, YesNoItem):
        if item.labels is not None:
            yes = answer_types.yes_no_label(item, True, lang)
            no = answer_types.yes_no_label(item, False, lang)
            return say("help_yesno_labels", lang, yes=yes, no=no)
        return say("help_yesno", lang)
    return ""


def command_help(lang: str, commands: tuple[str, ...]) -> list[tuple[str, str]]:
    """(``/command``, what it does) for the commands a prompt allows."""
    return [(f"/{c}", COMMAND_HELP[c].get(lang, COMMAND_HELP[c]["en"])) for c in commands]
