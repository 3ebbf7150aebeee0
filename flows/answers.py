"""Turning what a respondent typed or tapped into a stored value, one item type at a time.

``parse`` never raises on user input: it returns either ``Accepted(value)`` or
``Rejected(message)`` with a message in the respondent's language. Text is read the way
people write it (``flows.spoken``): "两天", "３", "没有", "嗯", "下周一", "12月5号".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from flows import spoken
from flows.messages import LANGUAGES, say
from flows.model import (
    ChoiceItem,
    DateItem,
    MultiItem,
    NoteItem,
    NumberItem,
    Option,
    ScaleItem,
    TextItem,
    YesNoItem,
)

AnyItem = (
    TextItem | ChoiceItem | MultiItem | ScaleItem | NumberItem | DateItem | YesNoItem | NoteItem
)

FACES: dict[int, tuple[str, ...]] = {
    2: ("🙁", "🙂"),
    3: ("🙁", "😐", "🙂"),
    4: ("😢", "🙁", "🙂", "😄"),
    5: ("😢", "🙁", "😐", "🙂", "😄"),
}

# Between the choices of a multi answer: "1,3", "1 3", "儿女、邻居", "儿女和邻居", "1 and 3".
_SPLIT = re.compile(r"[,，、;；/+&\s]+|和|跟|还有|以及|\band\b")
QUICK_DATES = ("yesterday", "today", "tomorrow")
"""The days a channel may offer as one tap under a date question (``Prompt.quick_dates``)."""


@dataclass(frozen=True, slots=True)
class Accepted:
    value: Any


@dataclass(frozen=True, slots=True)
class Rejected:
    message: str


Parsed = Accepted | Rejected


def _custom(item: AnyItem, lang: str) -> str | None:
    rules = getattr(item, "validation", None)
    message = getattr(rules, "message", None)
    if message:
        return str(message.get(lang) or next(iter(message.values())))
    return None


def numeric_values(options: list[Option]) -> bool:
    """Options whose stored values are numbers (a scale's 0-3) are typed by value."""
    return all(isinstance(o.value, int) and not isinstance(o.value, bool) for o in options)


def _match_option(options: list[Option], text: str) -> Option | None:
    """An option by its key (its number in the list, or its value when values are
    numbers: a PHQ-9 answer "1" means "Several days", never the first option), its
    stored value or any of its labels. A key may be written "３", "三" or "第三个"."""
    wanted = text.strip().casefold()
    by_position = not numeric_values(options)
    number = int(wanted) if wanted.isdecimal() else spoken.read_integer(wanted)
    if by_position and number is not None and 1 <= number <= len(options):
        return options[number - 1]
    for option in options:
        if str(option.value).casefold() == wanted:
            return option
        if not by_position and number is not None and option.value == number:
            return option
    typed = spoken.normalise(wanted)
    for option in options:
        if any(spoken.normalise(label) == typed for label in option.label.values()):
            return option
    return None


def names_an_option(item: AnyItem, text: str) -> bool:
    """Whether ``text`` is an option's label or value as written (not its number): such a
    reply is an answer even when it reads like a command word."""
    typed = spoken.normalise(text)
    if isinstance(item, ChoiceItem | MultiItem):
        return any(
            spoken.normalise(str(o.value)) == typed
            or any(spoken.normalise(label) == typed for label in o.label.values())
            for o in item.options
        )
    if isinstance(item, YesNoItem) and item.labels is not None:
        texts = [*item.labels.yes.values(), *item.labels.no.values()]
        return any(spoken.same_words(text, label) for label in texts)
    return False


def _labels_in(options: list[Option], text: str) -> tuple[list[Option], str]:
    """The options whose label appears in ``text`` (longest labels first), and what is left.

    Labels are found before the text is split, so that a label with a separator in it
    ("买菜、逛街", "Kept it inside, went quiet") is still one choice."""
    rest = spoken.normalise(text)
    found: list[Option] = []
    pairs = [(o, spoken.normalise(label)) for o in options for label in o.label.values()]
    for option, label in sorted(pairs, key=lambda pair: -len(pair[1])):
        if not label:
            continue
        edge = r"(?<![a-z0-9])" if label[0].isascii() else ""
        tail = r"(?![a-z0-9])" if label[-1].isascii() else ""
        pattern = re.compile(edge + re.escape(label) + tail)
        if pattern.search(rest):
            rest = pattern.sub(" ", rest)
            if option not in found:
                found.append(option)
    return found, rest


def scale_options(item: ScaleItem, lang: str) -> list[tuple[str, str]]:
    """The points of a scale as (value, label) pairs: faces and anchors where declared."""
    faces = FACES.get(item.max - item.min + 1) if item.style == "faces" else None
    out = []
    for i, point in enumerate(range(item.min, item.max + 1)):
        anchor = item.anchors.get(point)
        label = (anchor.get(lang) or next(iter(anchor.values()))) if anchor else ""
        if faces:
            label = f"{faces[i]} {label}".strip()
        else:
            label = f"{point} {label}".strip() if label else str(point)
        out.append((str(point), label))
    return out


def _parse_scale(item: ScaleItem, text: str, lang: str) -> Parsed:
    cleaned = text.strip()
    reading = spoken.read_number(cleaned, ("分",))
    number = reading.value
    if number is not None and float(number).is_integer() and item.min <= number <= item.max:
        return Accepted(int(number))  # "4", "４", "四", "4分"
    for value, label in scale_options(item, lang):
        if cleaned == value or (cleaned and cleaned.casefold() == label.casefold()):
            return Accepted(int(value))
        face = label.split(" ", 1)[0]
        if item.style == "faces" and cleaned == face:
            return Accepted(int(value))
    for point, anchor in item.anchors.items():
        if any(cleaned.casefold() == t.strip().casefold() for t in anchor.values()):
            return Accepted(point)
    return Rejected(say("scale", lang, min=item.min, max=item.max))


def _parse_number(item: NumberItem, text: str, lang: str) -> Parsed:
    units = list(item.unit.values()) if item.unit else []
    reading = spoken.read_number(text, units)
    if reading.problem == "wrong_unit" and item.unit:
        unit = item.unit.get(lang) or next(iter(item.unit.values()))
        return Rejected(say("wrong_unit", lang, unit=unit))
    if reading.problem == "one_number":
        return Rejected(say("one_number", lang))
    number = reading.value
    if number is None or not math.isfinite(number):
        return Rejected(say("not_a_number", lang))
    if item.integer and not number.is_integer():
        return Rejected(_custom(item, lang) or say("not_whole", lang))
    rules = item.validation
    if rules.min is not None and number < rules.min:
        return Rejected(_custom(item, lang) or say("below_min", lang, min=_fmt(rules.min)))
    if rules.max is not None and number > rules.max:
        return Rejected(_custom(item, lang) or say("above_max", lang, max=_fmt(rules.max)))
    return Accepted(int(number) if item.integer or number.is_integer() else number)


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _resolve_day(text: str | None, today: date) -> date | None:
    if text is None:
        return None
    if text == "today":
        return today
    return date.fromisoformat(text)


def _parse_date(item: DateItem, text: str, lang: str, today: date) -> Parsed:
    day = spoken.read_date(text, today, "future" if item.looks_ahead else "past")
    if day is None:
        return Rejected(say("bad_deadline" if item.looks_ahead else "bad_date", lang))
    rules = item.validation
    if item.not_future and day > today:
        return Rejected(_custom(item, lang) or say("future_date", lang))
    if item.deadline and rules.min is None and day < today:
        return Rejected(_custom(item, lang) or say("past_date", lang))
    low, high = _resolve_day(rules.min, today), _resolve_day(rules.max, today)
    if low and day < low:
        return Rejected(_custom(item, lang) or say("date_before", lang, min=low.isoformat()))
    if high and day > high:
        return Rejected(_custom(item, lang) or say("date_after", lang, max=high.isoformat()))
    return Accepted(day.isoformat())


def _parse_multi(item: MultiItem, text: str, lang: str) -> Parsed:
    whole = _match_option(item.options, text)
    found, rest = ([whole], "") if whole else _labels_in(item.options, text)
    for part in (p for p in _SPLIT.split(rest) if p and p.strip()):
        option = _match_option(item.options, part)
        if option is None:
            return Rejected(say("choose_many", lang))
        if option not in found:
            found.append(option)
    chosen = [o.value for o in found]
    rules = item.validation
    if not chosen:
        return Rejected(say("choose_many", lang))
    alone = next((o for o in found if o.exclusive), None)
    if alone is not None and len(found) > 1:
        label = alone.label.get(lang) or next(iter(alone.label.values()))
        return Rejected(say("exclusive", lang, option=label))
    if rules.min is not None and len(chosen) < rules.min:
        return Rejected(_custom(item, lang) or say("too_few", lang, min=rules.min))
    if rules.max is not None and len(chosen) > rules.max:
        return Rejected(_custom(item, lang) or say("too_many", lang, max=rules.max))
    order = [o.value for o in item.options]
    return Accepted(sorted(chosen, key=order.index))


def _parse_text(item: TextItem, text: str, lang: str) -> Parsed:
    cleaned = text.strip()
    rules = item.validation
    if len(cleaned) > rules.max_length:
        return Rejected(say("too_long", lang, length=len(cleaned), max=rules.max_length))
    if rules.min_length and len(cleaned) < rules.min_length:
        return Rejected(_custom(item, lang) or say("too_short", lang, min=rules.min_length))
    if rules.pattern and not re.fullmatch(rules.pattern, cleaned):
        return Rejected(_custom(item, lang) or say("bad_format", lang))
    return Accepted(cleaned)


def parse(item: AnyItem, text: str, lang: str, today: date) -> Parsed:
    """Read ``text`` as an answer to ``item``; the text is non-empty."""
    if isinstance(item, TextItem):
        return _parse_text(item, text, lang)
    if isinstance(item, ChoiceItem):
        option = _match_option(item.options, text)
        return Accepted(option.value) if option else Rejected(say("choose_one", lang))
    if isinstance(item, MultiItem):
        return _parse_multi(item, text, lang)
    if isinstance(item, ScaleItem):
        return _parse_scale(item, text, lang)
    if isinstance(item, NumberItem):
        return _parse_number(item, text, lang)
    if isinstance(item, DateItem):
        return _parse_date(item, text, lang, today)
    if isinstance(item, YesNoItem):
        return _parse_yes_no(item, text, lang)
    return Accepted(None)  # a note takes any input as "continue"


def _parse_yes_no(item: YesNoItem, text: str, lang: str) -> Parsed:
    """The item's own labels first ("出过门" / "没出门"), then yes and no as people say them."""
    if item.labels is not None:
        for value, texts in ((True, item.labels.yes), (False, item.labels.no)):
            if any(spoken.same_words(text, label) for label in texts.values()):
                return Accepted(value)
    answer = spoken.read_yes_no(text)
    if answer is None:
        for value, key in ((True, "yes"), (False, "no")):
            if any(spoken.same_words(text, say(key, other)) for other in LANGUAGES):
                answer = value
    if answer is not None:
        return Accepted(answer)
    if item.labels is not None:
        yes, no = (_text(item.labels.yes, lang), _text(item.labels.no, lang))
        return Rejected(say("yes_or_no_labels", lang, yes=yes, no=no))
    return Rejected(say("yes_or_no", lang))


def _text(texts: dict[str, str], lang: str) -> str:
    return texts.get(lang) or next(iter(texts.values()))


def yes_no_label(item: YesNoItem, value: bool, lang: str) -> str:
    """How a yes or a no reads: the item's own label when it has one, else Yes/No."""
    if item.labels is not None:
        return _text(item.labels.yes if value else item.labels.no, lang)
    return say("yes" if value else "no", lang)


def quick_dates(item: AnyItem, lang: str) -> list[tuple[str, str]]:
    """The days offered as one tap under a date question, as (what to send, label): never
    Yesterday for a deadline or a date from today on, never Tomorrow when future dates are
    refused."""
    if not isinstance(item, DateItem):
        return []
    days: tuple[str, ...]
    if item.deadline:
        days = ("today", "tomorrow")
    elif item.not_future:
        days = ("today", "yesterday")
    else:
        days = QUICK_DATES
    rules = item.validation
    if rules.min == "today":
        days = tuple(d for d in days if d != "yesterday")
    if rules.max == "today":
        days = tuple(d for d in days if d != "tomorrow")
    return [(day, say(day, lang)) for day in days]


def exclusive(item: AnyItem) -> list[int]:
    """The positions of a multi item's options that stand alone ("Nobody")."""
    if not isinstance(item, MultiItem):
        return []
    return [i for i, option in enumerate(item.options) if option.exclusive]


def options(item: AnyItem, lang: str) -> list[tuple[str, str]]:
    """What a channel offers as buttons: (value as text, label)."""
    if isinstance(item, ChoiceItem | MultiItem):
        return [
            (str(o.value), o.label.get(lang) or next(iter(o.label.values()))) for o in item.options
        ]
    if isinstance(item, ScaleItem):
        return scale_options(item, lang)
    if isinstance(item, YesNoItem):
        return [("yes", yes_no_label(item, True, lang)), ("no", yes_no_label(item, False, lang))]
    return []


def keys(item: AnyItem) -> list[str]:
    """What a person types for each option, in order: its number in the list, or its value
    where values are numbers (scale points, a questionnaire's 0-3)."""
    if isinstance(item, ScaleItem):
        return [str(point) for point in range(item.min, item.max + 1)]
    if isinstance(item, ChoiceItem | MultiItem):
        if numeric_values(item.options):
            return [str(o.value) for o in item.options]
        return [str(i) for i in range(1, len(item.options) + 1)]
    if isinstance(item, YesNoItem):
        return ["1", "2"]
    return []


def display(item: AnyItem, value: Any, lang: str) -> str:
    """How a stored value reads back to a person."""
    if value is None:
        return say("skipped", lang)
    if isinstance(value, dict) and "voice" in value:
        return "🎤 " + say("voice_note", lang, seconds=value.get("duration", "?"))
    if isinstance(item, YesNoItem):
        return yes_no_label(item, bool(value), lang)
    if isinstance(item, ChoiceItem | MultiItem):
        labels = {str(v): label for v, label in options(item, lang)}
        values = value if isinstance(value, list) else [value]
        separator = "；" if lang.startswith("zh") else ", "
        return separator.join(labels.get(str(v), str(v)) for v in values)
    if isinstance(item, NumberItem) and item.unit:
        unit = item.unit.get(lang) or next(iter(item.unit.values()))
        return f"{value} {unit}"
    if isinstance(item, ScaleItem):
        labels = dict(scale_options(item, lang))
        label = labels.get(str(value), "")
        return label if label.startswith(str(value)) else f"{value} {label}".strip()
    return str(value)
