"""Turning what a respondent typed or tapped into a stored value, one item type at a time.

``parse`` never raises on user input: it returns either ``Accepted(value)`` or
``Rejected(message)`` with a message in the respondent's language.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flows.messages import say
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

_YES = {"y", "yes", "true", "是", "是的", "对", "有", "好", "1", "✓", "👍"}
_NO = {"n", "no", "false", "否", "不", "不是", "没有", "无", "2", "✗", "👎"}
_TODAY = {"today", "今天", "今日"}
_YESTERDAY = {"yesterday", "昨天", "昨日"}
_SPLIT = re.compile(r"[,，、;；\s]+")


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
    stored value or any of its labels."""
    wanted = text.strip().casefold()
    by_position = not numeric_values(options)
    if by_position and wanted.isdecimal() and 1 <= int(wanted) <= len(options):
        return options[int(wanted) - 1]
    for option in options:
        if str(option.value).casefold() == wanted:
            return option
    for option in options:
        if any(label.strip().casefold() == wanted for label in option.label.values()):
            return option
    return None


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
    cleaned = text.strip().replace("，", ".").replace(",", ".")
    try:
        number = float(cleaned)
    except ValueError:
        return Rejected(say("not_a_number", lang))
    if not math.isfinite(number):
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
    cleaned = text.strip().casefold()
    day: date | None = None
    if cleaned in _TODAY:
        day = today
    elif cleaned in _YESTERDAY:
        day = today - timedelta(days=1)
    else:
        match = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", cleaned)
        if match:
            try:
                day = date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                day = None
    if day is None:
        return Rejected(say("bad_date", lang))
    rules = item.validation
    if rules.not_future and day > today:
        return Rejected(_custom(item, lang) or say("future_date", lang))
    low, high = _resolve_day(rules.min, today), _resolve_day(rules.max, today)
    if low and day < low:
        return Rejected(_custom(item, lang) or say("date_before", lang, min=low.isoformat()))
    if high and day > high:
        return Rejected(_custom(item, lang) or say("date_after", lang, max=high.isoformat()))
    return Accepted(day.isoformat())


def _parse_multi(item: MultiItem, text: str, lang: str) -> Parsed:
    chosen: list[str | int] = []
    for part in (p for p in _SPLIT.split(text.strip()) if p):
        option = _match_option(item.options, part)
        if option is None:
            # A label with spaces ("Not at all") is matched whole before giving up.
            option = _match_option(item.options, text)
            if option is None:
                return Rejected(say("choose_many", lang))
            chosen = [option.value]
            break
        if option.value not in chosen:
            chosen.append(option.value)
    rules = item.validation
    if not chosen:
        return Rejected(say("choose_many", lang))
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
        word = text.strip().casefold()
        if word in _YES or word == say("yes", lang).casefold():
            return Accepted(True)
        if word in _NO or word == say("no", lang).casefold():
            return Accepted(False)
        return Rejected(say("yes_or_no", lang))
    return Accepted(None)  # a note takes any input as "continue"


def options(item: AnyItem, lang: str) -> list[tuple[str, str]]:
    """What a channel offers as buttons: (value as text, label)."""
    if isinstance(item, ChoiceItem | MultiItem):
        return [
            (str(o.value), o.label.get(lang) or next(iter(o.label.values()))) for o in item.options
        ]
    if isinstance(item, ScaleItem):
        return scale_options(item, lang)
    if isinstance(item, YesNoItem):
        return [("yes", say("yes", lang)), ("no", say("no", lang))]
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
        return say("yes" if value else "no", lang)
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
