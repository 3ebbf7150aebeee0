"""The flow language as typed models.

A flow file is YAML; ``flows.load`` turns it into these models. Every text is given per
language (``{en: ..., zh: ...}``); the flow's ``languages`` say which ones must be present,
checked through the validation context so that a missing translation is reported at the
line of the text that lacks it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

RESERVED_STATES = frozenset({"new", "review", "completed", "paused", "cancelled"})
ITEM_TYPES = ("text", "choice", "multi", "scale", "number", "date", "yesno", "note")
PHASES = ("baseline", "pre", "mid", "post", "follow-up", "ongoing")
PURPOSES = ("consent", "closing", "follow_up")
CONSENT_ROLES = ("client", "caregiver", "guardian", "family_member")
CONSENT_METHODS = ("spoken", "paper", "chat")
CLIENT_GROUPS = (
    "left_behind_child",
    "low_income_child",
    "child_in_difficulty",
    "elder_alone",
    "family",
    "other",
)
"""The client groups a case's profile knows (the four studies' groups, and other)."""
OPTION_SOURCES = ("case.goals",)
"""Where a choice can take its options from at interview time: ``case.goals`` offers the
case's goals (value: the goal's number, label: its number and title)."""

Phase = Literal["baseline", "pre", "mid", "post", "follow-up", "ongoing"]
SEVERITIES = ("info", "attention", "urgent")
"""How soon a worker must see a flag: ``urgent`` at once at any hour, ``attention`` at once
outside the worker's quiet hours, ``info`` in the daily digest."""
Severity = Literal["info", "attention", "urgent"]


def _has_languages(value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
    languages: list[str] = (info.context or {}).get("languages") or []
    for lang in languages:
        if not str(value.get(lang, "")).strip():
            raise PydanticCustomError(
                "missing_translation",
                "this text has no '{lang}' version",
                {"lang": lang, "languages": ", ".join(languages)},
            )
    return value


LocalText = Annotated[dict[str, str], AfterValidator(_has_languages)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FlagRule(_Model):
    """Something an answer calls for: the case's workers are alerted when it is given.

    On an item, ``when`` (required) is a condition like an item's ``when:``, over this answer
    and earlier ones; on an option, the flag is raised when that option is chosen (and
    ``when``, if given, holds too). ``message`` is for the worker; ``respondent_message``, if
    given, is shown to the respondent right after the answer.
    """

    id: Identifier | None = None
    when: str | None = None
    severity: Severity
    message: LocalText
    respondent_message: LocalText | None = None


def flag_id(own: str | None, item_id: str, index: int, option: object = None) -> str:
    """A flag's id: its own, else made from where it sits (``wants_call``, ``wants_call_2``,
    ``risks.self_harm_talk``), stable for a flow version."""
    if own:
        return own
    base = item_id if option is None else f"{item_id}.{option}"
    return base if index == 0 else f"{base}_{index + 1}"


class Option(_Model):
    """One answer option: the value stored, and what the respondent sees.

    In a ``multi`` item an ``exclusive`` option ("Nobody", "谁也没有") stands alone: choosing
    it clears the others, and choosing another clears it."""

    value: str | int
    label: LocalText
    exclusive: bool = False
    flags: list[FlagRule] = []


class TextRules(_Model):
    min_length: int | None = Field(default=None, ge=0)
    max_length: int = Field(default=4000, ge=1, le=20000)
    pattern: str | None = None
    message: LocalText | None = None


class RangeRules(_Model):
    min: float | None = None
    max: float | None = None
    message: LocalText | None = None


class CountRules(_Model):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=1)
    message: LocalText | None = None


class DateRules(_Model):
    not_future: bool | None = Field(
        default=None, description="refuse dates after today; default true, false for a deadline"
    )
    min: str | None = Field(default=None, description="ISO date, or 'today'")
    max: str | None = None
    message: LocalText | None = None


class Probe(_Model):
    """A semi-structured follow-up asked after a text answer; always optional."""

    id: Identifier
    prompt: LocalText
    when: str | None = None


class _Item(_Model):
    id: Identifier
    prompt: LocalText
    short: LocalText | None = Field(default=None, description="label in review and records")
    help: LocalText | None = None
    required: bool = True
    when: str | None = None
    carry_forward: bool = False
    flags: list[FlagRule] = []

    def label(self, lang: str) -> str:
        text = self.short or self.prompt
        return text.get(lang) or next(iter(text.values()))


class TextItem(_Item):
    type: Literal["text"]
    probes: list[Probe] = []
    validation: TextRules = TextRules()


class _Options(_Item):
    """An item answered by choosing: its options are written in the flow, or taken from the
    case when the interview runs (``options_from``)."""

    options: list[Option] = []
    options_from: Literal["case.goals"] | None = None

    @model_validator(mode="after")
    def _has_options(self) -> _Options:
        if self.options_from is not None and self.options:
            raise PydanticCustomError(
                "options_twice",
                "give either 'options' or 'options_from: {source}', not both",
                {"source": self.options_from},
            )
        if self.options_from is None and len(self.options) < 2:
            raise PydanticCustomError(
                "too_few_options",
                "a choice needs at least two options (or 'options_from: case.goals')",
            )
        return self


class ChoiceItem(_Options):
    type: Literal["choice"]
    trend: bool = False


class MultiItem(_Options):
    type: Literal["multi"]
    validation: CountRules = CountRules()


class ScaleItem(_Item):
    type: Literal["scale"]
    min: int
    max: int
    style: Literal["likert", "faces"] = "likert"
    anchors: dict[int, LocalText] = {}
    trend: bool = False


class NumberItem(_Item):
    type: Literal["number"]
    integer: bool = False
    unit: LocalText | None = None
    validation: RangeRules = RangeRules()
    trend: bool = False


class DateItem(_Item):
    """A day. A ``deadline`` is a day to come ("by when?"): "周三" means the coming Wednesday,
    days before today are refused, and the quick choices are Today and Tomorrow."""

    type: Literal["date"]
    deadline: bool = False
    validation: DateRules = DateRules()

    @property
    def not_future(self) -> bool:
        """Whether days after today are refused (the default, except for a deadline)."""
        rules = self.validation.not_future
        return (not self.deadline) if rules is None else rules

    @property
    def looks_ahead(self) -> bool:
        """Whether "周三" or "12月5日" without a year means the next one rather than the last."""
        return not self.not_future


class YesNoLabels(_Model):
    """The words of a yes/no question's two answers ("出过门" / "没出门") instead of Yes/No."""

    yes: LocalText
    no: LocalText


class YesNoItem(_Item):
    type: Literal["yesno"]
    trend: bool = False
    labels: YesNoLabels | None = None


class NoteItem(_Item):
    type: Literal["note"]
    required: bool = False


Item = Annotated[
    TextItem | ChoiceItem | MultiItem | ScaleItem | NumberItem | DateItem | YesNoItem | NoteItem,
    Field(discriminator="type"),
]


class Stage(_Model):
    """A part of the interview; its answers are stored (and its instrument scored) together."""

    id: Identifier
    title: LocalText
    intro: LocalText | None = None
    when: str | None = None
    instrument: str | None = None
    items: list[Item] = []


class PhaseFrom(_Model):
    """A choice whose answer sets the session's phase: ``{item: review_point, map: {start:
    pre, end: post}}``. An answer the map does not name leaves the flow's phase."""

    item: Identifier
    map: dict[str, Phase]


class ConsentFields(_Model):
    """The items of a consent flow that make the case's consent record."""

    agreed: Identifier
    by: Identifier
    role: Identifier
    method: Identifier
    date: Identifier
    explained: Identifier | None = None


class ProfileFields(_Model):
    """The items of a profile flow that set the case's profile; an item left unanswered
    leaves that field as it was."""

    client_name: Identifier | None = None
    age: Identifier | None = None
    birth_year: Identifier | None = None
    group: Identifier | None = None
    caregiver: Identifier | None = None


class Sets(_Model):
    """What a completed session sets beyond its answers, each read from one item: the day
    it was held, its number, its intervention stage (the stage item's options are the
    organisation's stage list), its phase, the goals it worked on with their progress
    ratings, which goals were met or partly met (a closing report: the others were not),
    the case's consent, and the case's profile."""

    held_on: Identifier | None = None
    number: Identifier | None = None
    stage: Identifier | None = None
    phase: PhaseFrom | None = None
    goals_worked: Identifier | None = None
    goal_progress: dict[int, Identifier] = {}
    goals_met: Identifier | None = None
    goals_partly_met: Identifier | None = None
    consent: ConsentFields | None = None
    profile: ProfileFields | None = None


class ScoreBand(_Model):
    id: Identifier
    at_least: float
    at_most: float
    label: LocalText


class RatingScale(_Model):
    """A subscale of a flow-level score: the sum or mean of some of its ratings."""

    id: Identifier
    name: LocalText
    items: list[Identifier] = Field(min_length=1)
    method: Literal["sum", "mean"] = "mean"


class FlowScore(_Model):
    """Ratings that are not a published instrument (a family review's 1-5 ratings, the
    intake's concern ratings), scored like one and stored like an instrument score: a total
    over ``items`` (sum or mean), subscales, and bands of its own or none."""

    id: Identifier
    name: LocalText
    short_name: LocalText | None = None
    items: list[Identifier] = Field(min_length=1)
    method: Literal["sum", "mean"] = "mean"
    higher_is: Literal["better", "worse"] = "better"
    subscales: list[RatingScale] = []
    bands: list[ScoreBand] = []


class FollowUpRule(_Model):
    """A task a completed session sets on its case: what (a text item), by when (a date
    item) and who (a choice item). The owner is the respondent when they are a worker on the
    case and chose ``me`` (or the flow does not ask); otherwise the case's worker."""

    what: Identifier
    due: Identifier
    owner: Identifier | None = None
    when: str | None = None


class Flow(_Model):
    """A whole interview, one version of it."""

    id: Identifier
    version: int = Field(ge=1)
    title: LocalText
    description: LocalText | None = None
    respondent: Literal["caregiver", "worker", "client", "anyone"]
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2}(-[A-Za-z]{2,4})?$")]] = Field(
        min_length=1
    )
    phase: Phase = "ongoing"
    purpose: Literal["consent", "closing", "follow_up"] | None = None
    """What completing this flow means for the case: its consent record, its closing report,
    a follow-up after closing (the one kind of interview a closed case still takes)."""
    sets: Sets = Sets()
    scores: list[FlowScore] = []
    stages: list[Stage] = Field(min_length=1)
    followups: list[FollowUpRule] = []

    def text(self, value: dict[str, str] | None, lang: str) -> str:
        """The text in ``lang``, else the flow's first language."""
        if not value:
            return ""
        return value.get(lang) or value.get(self.languages[0]) or next(iter(value.values()))
