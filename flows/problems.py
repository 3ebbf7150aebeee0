"""The catalogue of problems a flow file can have.

Each entry is a message template (what is wrong) and a hint (how to fix it). Every problem
found in a file is collected and reported at once, each with the file and line it is on.
Tests assert on the catalogue entry (``Problem.code``), not on retyped prose.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Code(Enum):
    """One kind of problem: ``(message template, hint template)``."""

    YAML_SYNTAX = (
        "the file is not valid YAML: {detail}",
        "check indentation here; inside {{en: ..., zh: ...}} put quotes around a text that"
        " contains a comma, a colon, a '?' or a '#'",
    )
    NOT_A_MAPPING = (
        "a flow file must be a mapping of fields (id, version, title, stages, ...)",
        "start the file with 'id: my_flow' on its own line",
    )
    MISSING_FIELD = ("'{field}' is required here", "add '{field}:' to this {where}")
    UNKNOWN_FIELD = (
        "'{field}' is not a field of {where}",
        "remove it, or check its spelling against the flow language in the README",
    )
    UNKNOWN_TYPE = (
        "'{value}' is not an item type",
        "use one of: text, choice, multi, scale, number, date, yesno, note",
    )
    MISSING_TYPE = ("this item has no 'type'", "add 'type:' (text, choice, multi, scale, ...)")
    BAD_VALUE = ("{detail}", "see the flow language in the README for what this field takes")
    MISSING_TRANSLATION = (
        "this text has no '{lang}' version",
        "the flow declares languages {languages}: add '{lang}: ...' beside the others",
    )
    DUPLICATE_ID = (
        "the id '{id}' is used twice (first on line {first_line})",
        "give every stage and item its own id",
    )
    RESERVED_ID = (
        "'{id}' is a reserved name",
        "rename the item: new, review, completed, paused and cancelled are session states",
    )
    EXPRESSION_SYNTAX = ("this expression does not parse: {detail}", "check brackets and quotes")
    EXPRESSION_BUDGET = (
        "this expression goes over the sandbox's budget whatever the answers: {detail}",
        "a condition or text should compare and quote answers; remove the loop or the large number",
    )
    UNKNOWN_REFERENCE = (
        "'answers.{ref}' names no item of this flow",
        "check the item id's spelling; items are referred to by their 'id'",
    )
    FORWARD_REFERENCE = (
        "'answers.{ref}' is asked later in the flow, so it has no answer yet here",
        "move this condition or text after the item it refers to",
    )
    ANCHOR_OUT_OF_RANGE = (
        "anchor {anchor} is outside the scale's range {min}..{max}",
        "label only points between min and max",
    )
    BAD_RANGE = ("min ({min}) is not below max ({max})", "make min smaller than max")
    FACES_SIZE = (
        "a faces scale needs 2 to 5 points, this one has {points}",
        "use style: likert for longer scales, or narrow min..max",
    )
    DUPLICATE_OPTION = (
        "the option value '{value}' is used twice",
        "every option needs its own stored value",
    )
    UNKNOWN_INSTRUMENT = (
        "there is no instrument '{id}'",
        "use one of: {known} (see `caseflow instruments list`)",
    )
    INSTRUMENT_LANGUAGES = (
        "the instrument '{id}' has no {missing} text",
        "use an instrument that speaks {missing}, or drop {missing} from the flow's languages",
    )
    EMPTY_STAGE = (
        "this stage has no items and no instrument",
        "add 'items:' or 'instrument:' to the stage",
    )
    BAD_PATTERN = ("the pattern does not compile: {detail}", "write a Python regular expression")
    SETS_ITEM = (
        "'{where}' names '{item}', which is not {kind} item of this flow",
        "name {kind} item of this flow by its id",
    )
    SETS_VALUE = (
        "'{item}' offers the value '{value}', which {where} cannot store",
        "give its options the values {allowed}",
    )
    SCORE_ITEM = (
        "the score '{score}' counts '{item}', which is not a scale item of this flow",
        "list the ids of scale items (ratings such as 1-5)",
    )
    TOTAL_SUBSCALE = (
        "'total' is the id of a score's own total",
        "give the subscale another id",
    )
    SCORE_BANDS = (
        "the bands of the score '{score}' overlap, are out of order or leave its range",
        "list bands from lowest to highest, inside the score's range, with no shared scores",
    )
    PURPOSE_NEEDS = (
        "a flow with purpose '{purpose}' needs '{field}'",
        "add '{field}:' naming the items it is read from",
    )
    EXCLUSIVE_NOT_MULTI = (
        "'exclusive' only applies to the options of a multi item, and this is a {type} item",
        "remove 'exclusive', or make the item 'type: multi'",
    )
    EXCLUSIVE_MIN = (
        "the option '{value}' is exclusive, so it can never be chosen when at least {min} are",
        "lower 'validation: min' to 1, or remove 'exclusive'",
    )
    ALL_EXCLUSIVE = (
        "every option is exclusive, so only one can ever be chosen",
        "make the item 'type: choice', or keep 'exclusive' for options like 'Nobody'",
    )
    SAME_YESNO_LABELS = (
        "the yes and no labels are the same ('{text}'), so the answers cannot be told apart",
        "give 'labels: {{yes: ..., no: ...}}' two different texts in every language",
    )
    DEADLINE_NOT_FUTURE = (
        "a deadline cannot refuse future dates (not_future: true)",
        "remove 'not_future': a deadline allows dates from today on",
    )
    BAD_SEVERITY = (
        "'{value}' is not a flag severity",
        "use info (daily digest), attention (at once, not in quiet hours) or urgent (at once)",
    )
    FLAG_WITHOUT_CONDITION = (
        "this flag on an item has no 'when'",
        'add a condition such as when: "answers.{item}", or put the flag on an option',
    )
    DUPLICATE_FLAG = (
        "the flag id '{id}' is used twice (first on line {first_line})",
        "give each flag its own 'id:'",
    )
    FLAG_ON_NOTE = (
        "a note has no answer, so its flag could never be raised",
        "put the flag on the question whose answer calls for action",
    )
    FOLLOWUP_ITEM = (
        "'{field}: {ref}' must name a {kind} item of this flow",
        "name the id of the {kind} item that holds it",
    )

    @property
    def template(self) -> str:
        return self.value[0]

    @property
    def hint_template(self) -> str:
        return self.value[1]


@dataclass(frozen=True)
class Problem:
    """One problem in one file, at one line."""

    code: Code
    file: str
    line: int
    message: str
    hint: str

    @classmethod
    def make(cls, code: Code, file: str, line: int, **params: object) -> Problem:
        return cls(
            code=code,
            file=file,
            line=line,
            message=code.template.format(**params),
            hint=code.hint_template.format(**params),
        )

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message} (fix: {self.hint})"


class FlowError(Exception):
    """A flow file (or flow text) could not be loaded; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line))
        super().__init__("\n".join(str(p) for p in self.problems))
