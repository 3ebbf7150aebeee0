"""Compile a validated ``Flow`` once into questions and one ``transitions`` state machine.

The machine is built with ``model=None`` and serves every session of that flow version:
a session is a plain object with a ``state`` attribute, and the engine fires a trigger for it
with ``machine.events[name].trigger(session, target=...)``, which runs the machine's checks
without binding anything to the session (binding costs ~30 KiB per session).

States are ``new``, one per question (item or probe), ``review``, ``paused``, ``completed``
and ``cancelled``. The structure is the rules: ``skip`` leaves only optional questions,
``back`` only goes backwards, ``submit`` only leaves ``review``, nothing leaves ``completed``
or ``cancelled``. Which of the legal destinations a move takes (skip logic) is decided by the
engine and passed as ``target``; the machine accepts only a legal one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from transitions import EventData, Machine

from flows.answers import AnyItem
from flows.expressions import (
    Condition,
    ParentAnswered,
    Renderer,
    Scope,
    compile_condition,
    compile_text,
)
from flows.model import (
    ChoiceItem,
    FlagRule,
    Flow,
    FollowUpRule,
    MultiItem,
    NoteItem,
    Option,
    Severity,
    Stage,
    TextItem,
    flag_id,
)

REVIEW, NEW, PAUSED, COMPLETED, CANCELLED = "review", "new", "paused", "completed", "cancelled"
TERMINAL = frozenset({COMPLETED, CANCELLED})
TRIGGERS = (
    "start",
    "answer",
    "skip",
    "back",
    "edit",
    "review",
    "submit",
    "pause",
    "resume",
    "cancel",
)


_ANY = object()
INSTRUMENT_SEVERITY: dict[str, Severity] = {
    "info": "info",
    "warning": "attention",
    "urgent": "urgent",
}
"""Instrument files say ``warning`` where flows say ``attention``."""


@dataclass(frozen=True, slots=True)
class Flag:
    """One flag rule of one question, ready to test: from the flow (a ``when`` condition,
    maybe an option) or from an instrument (its item rule)."""

    id: str
    severity: Severity
    message: dict[str, Renderer]
    respondent_message: dict[str, Renderer]
    condition: Condition | None = None
    option: object = _ANY
    rule: Callable[[Any], bool] | None = None
    source: str = "flow"

    def raised(self, value: Any, scope: Callable[[], Scope]) -> bool:
        """Whether the answer ``value`` (with the answers in ``scope``) raises this flag."""
        if self.rule is not None and not self.rule(value):
            return False
        if self.option is not _ANY:
            chosen = value if isinstance(value, list) else [value]
            if self.option not in chosen:
                return False
        return self.condition is None or self.condition.test(scope())


def _flag(rule: FlagRule, fid: str, option: object = _ANY) -> Flag:
    return Flag(
        id=fid,
        severity=rule.severity,
        message=_renderers(rule.message, f"flag {fid} message"),
        respondent_message=_renderers(rule.respondent_message, f"flag {fid} respondent message"),
        condition=compile_condition(rule.when, f"flag {fid}") if rule.when else None,
        option=option,
    )


def _item_flags(item: AnyItem) -> tuple[Flag, ...]:
    out = [_flag(rule, flag_id(rule.id, item.id, i)) for i, rule in enumerate(item.flags)]
    if isinstance(item, ChoiceItem | MultiItem):
        for option in item.options:
            out += [
                _flag(rule, flag_id(rule.id, item.id, i, option.value), option.value)
                for i, rule in enumerate(option.flags)
            ]
    return tuple(out)


def _instrument_flags(instrument: Any, item_id: str) -> tuple[Flag, ...]:
    return tuple(
        Flag(
            id=rule.id,
            severity=INSTRUMENT_SEVERITY.get(rule.severity, "attention"),
            message=_renderers(rule.message, f"{instrument.id} flag {rule.id} message"),
            respondent_message={},
            rule=rule.when.matches,
            source=instrument.id,
        )
        for rule in instrument.flags
        if rule.item == item_id
    )


@dataclass(frozen=True, slots=True)
class FollowUpSpec:
    """A flow's follow-up rule, compiled."""

    rule: FollowUpRule
    condition: Condition | None


@dataclass(frozen=True, slots=True)
class Question:
    """One thing asked: an item of a stage, an instrument item, or a probe under a text item."""

    id: str
    index: int
    stage: Stage
    item: AnyItem
    parent: str | None
    conditions: tuple[Condition | ParentAnswered, ...]
    prompt: dict[str, Renderer]
    help: dict[str, Renderer]
    instrument: str | None = None
    flags: tuple[Flag, ...] = ()

    @property
    def answerable(self) -> bool:
        return not isinstance(self.item, NoteItem)

    @property
    def counted(self) -> bool:
        """Counts toward progress (``3/12``): not notes, not probes."""
        return self.answerable and self.parent is None


def _is_target(event: EventData) -> bool:
    transition = event.transition
    return transition is not None and event.kwargs.get("target") == transition.dest


@dataclass
class CompiledFlow:
    flow: Flow
    questions: list[Question]
    machine: Machine
    by_id: dict[str, Question] = field(default_factory=dict)
    instruments: dict[str, Any] = field(default_factory=dict)
    intros: dict[str, dict[str, Renderer]] = field(default_factory=dict)
    followups: list[FollowUpSpec] = field(default_factory=list)
    flagged: bool = False

    def __post_init__(self) -> None:
        self.by_id = {q.id: q for q in self.questions}
        self.flagged = any(q.flags for q in self.questions)
        self.intros = {}
        for stage in self.flow.stages:
            intro = stage.intro
            if intro is None and stage.instrument in self.instruments:
                # An instrument's own instructions ("Over the last 2 weeks...") open its stage.
                intro = self.instruments[stage.instrument].instructions
            self.intros[stage.id] = _renderers(intro, f"{_name(self.flow)}, stage {stage.id} intro")

    @property
    def key(self) -> tuple[str, int]:
        return (self.flow.id, self.flow.version)


def _name(flow: Flow) -> str:
    """How logs name a flow (its id and version: never an answer)."""
    return f"flow {flow.id} v{flow.version}"


def _renderers(texts: dict[str, str] | None, where: str) -> dict[str, Renderer]:
    return {lang: compile_text(text, f"{where} ({lang})") for lang, text in (texts or {}).items()}


def _instrument_items(instrument: Any) -> list[ChoiceItem]:
    """An instrument's items asked as choices, with the instrument's own response options.

    They are optional: a respondent may decline an item, and the instrument's own rule for
    missing items (prorate, or no score) decides what that does to the total."""
    return [
        ChoiceItem(
            id=inst_item.id,
            type="choice",
            required=False,
            prompt=dict(inst_item.text),
            options=[
                Option(value=o.value, label=dict(o.label))
                for o in instrument.options_for(inst_item.id)
            ],
        )
        for inst_item in instrument.items
    ]


def _load_instrument(instrument_id: str) -> Any:
    from flows.instruments import load_instrument

    return load_instrument(instrument_id)


def compile_flow(
    flow: Flow, load_instrument: Callable[[str], Any] = _load_instrument
) -> CompiledFlow:
    """Build the questions and the state machine of one flow version."""
    questions: list[Question] = []
    instruments: dict[str, Any] = {}

    Conditions = tuple[Condition | ParentAnswered, ...]

    def add(
        stage: Stage, item: AnyItem, conds: Conditions, inst: str | None, flags: tuple[Flag, ...]
    ) -> None:
        where = f"{_name(flow)}, item {item.id}"
        questions.append(
            Question(
                id=item.id,
                index=len(questions),
                stage=stage,
                item=item,
                parent=None,
                conditions=conds,
                prompt=_renderers(item.prompt, f"{where} prompt"),
                help=_renderers(item.help, f"{where} help"),
                instrument=inst,
                flags=flags,
            )
        )

    for stage in flow.stages:
        where = f"{_name(flow)}, stage {stage.id}"
        stage_conds: Conditions = (compile_condition(stage.when, where),) if stage.when else ()
        for item in stage.items:
            where = f"{_name(flow)}, item {item.id}"
            conds = stage_conds + ((compile_condition(item.when, where),) if item.when else ())
            add(stage, item, conds, None, _item_flags(item))
            if isinstance(item, TextItem):
                for probe in item.probes:
                    probe_conds: Conditions = (*conds, ParentAnswered(item.id))
                    where = f"{_name(flow)}, item {item.id}.{probe.id}"
                    if probe.when:
                        probe_conds += (compile_condition(probe.when, where),)
                    probe_item = TextItem(
                        id=item.id, type="text", prompt=probe.prompt, required=False
                    )
                    questions.append(
                        Question(
                            id=f"{item.id}.{probe.id}",
                            index=len(questions),
                            stage=stage,
                            item=probe_item,
                            parent=item.id,
                            conditions=probe_conds,
                            prompt=_renderers(probe.prompt, f"{where} prompt"),
                            help={},
                        )
                    )
        if stage.instrument:
            instrument = instruments.get(stage.instrument) or load_instrument(stage.instrument)
            instruments[stage.instrument] = instrument
            for choice in _instrument_items(instrument):
                flags = _instrument_flags(instrument, choice.id)
                add(stage, choice, stage_conds, stage.instrument, flags)
    return CompiledFlow(
        flow=flow,
        questions=questions,
        machine=_build_machine(questions),
        instruments=instruments,
        followups=[
            FollowUpSpec(
                rule,
                compile_condition(rule.when, f"{_name(flow)} follow-up") if rule.when else None,
            )
            for rule in flow.followups
        ],
    )


def _build_machine(questions: list[Question]) -> Machine:
    ids = [q.id for q in questions]
    steps = [*ids, REVIEW]
    machine = Machine(
        model=None,
        states=[NEW, *ids, REVIEW, PAUSED, COMPLETED, CANCELLED],
        initial=NEW,
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
    )

    def goto(trigger: str, source: str, dests: list[str]) -> None:
        for dest in dests:
            machine.add_transition(trigger, source, dest, conditions=[_is_target])

    goto("start", NEW, steps)
    for i, question in enumerate(questions):
        goto("answer", question.id, steps[i + 1 :])
        if not question.item.required:
            goto("skip", question.id, steps[i + 1 :])
        goto("back", question.id, ids[:i])
        machine.add_transition("review", question.id, REVIEW)
    goto("back", REVIEW, ids)
    goto("edit", REVIEW, ids)
    goto("resume", PAUSED, steps)
    machine.add_transition("submit", REVIEW, COMPLETED)
    machine.add_transition("pause", list[Any](steps), PAUSED)
    machine.add_transition("cancel", list[Any]([NEW, *steps, PAUSED]), CANCELLED)
    return machine


@cache
def _triggers_for(machine: Machine, state: str) -> frozenset[str]:
    return frozenset(machine.get_triggers(state))


def allowed(compiled: CompiledFlow, state: str) -> frozenset[str]:
    """The triggers the machine has from ``state``."""
    return _triggers_for(compiled.machine, state)
