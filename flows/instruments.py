"""Standard scales ("instruments") as data: the file format, its validation, and loading.

An instrument file is YAML describing one published scale: its items in every
language, the response options and the values stored for them, how the items are
keyed, how totals and subscales are computed, the bands (cut-offs), the missing-item
policy, item-level safety flags and, optionally, figures for the reliable change
index.  ``docs/instruments.md`` describes the format for the people who maintain
these files.

Everything that can be checked when a file is loaded is checked then, so a file
that loads scores exactly as declared: every text exists in every declared language,
every answer maps to exactly one option, and the bands of each scale cover every
score the scale can produce (taking missing items, prorating and rounding into
account) exactly once.

Files are looked up, in this order, in directories passed by the caller, in the
directories listed in the ``CASEFLOW_INSTRUMENTS`` environment variable
(``os.pathsep``-separated), and in the directory bundled with the package
(``flows/instruments/``).  The first file called ``<id>.yaml`` (or ``.yml``) wins.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import unicodedata
from collections.abc import Hashable, Iterator, Mapping, Sequence
from fractions import Fraction
from importlib import resources
from importlib.resources.abc import Traversable
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, TypeAlias

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "ENV_VAR",
    "FORMAT_VERSION",
    "PLACEHOLDER",
    "Ages",
    "Band",
    "Instrument",
    "InstrumentError",
    "InstrumentFileError",
    "InstrumentNotFoundError",
    "Item",
    "ItemFlag",
    "MissingPolicy",
    "Option",
    "OptionValue",
    "Rounding",
    "Scale",
    "Source",
    "Transform",
    "available_instrument_ids",
    "available_instruments",
    "bundled_dir",
    "bundled_instrument_ids",
    "instrument_dirs",
    "load_instrument",
    "load_instrument_file",
    "match_token",
    "number",
    "parse_instrument",
]

log = logging.getLogger(__name__)

ENV_VAR = "CASEFLOW_INSTRUMENTS"
FORMAT_VERSION = 1
_SUFFIXES = (".yaml", ".yml")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")

OptionValue: TypeAlias = StrictInt | StrictStr
"""What is stored for an answer: an integer (Likert scales) or a short text (``yes``)."""

Number: TypeAlias = StrictInt | StrictFloat


# --------------------------------------------------------------------------- errors


class InstrumentError(Exception):
    """Root of every error raised about instruments, their files, and scoring them."""


class InstrumentNotFoundError(InstrumentError, LookupError):
    """No instrument file with that id on the search path."""


class InstrumentFileError(InstrumentError, ValueError):
    """An instrument file could not be read or does not describe a valid instrument."""

    def __init__(self, origin: str, problems: Sequence[str]) -> None:
        self.origin = origin
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid instrument file {origin}:\n{lines}")


# --------------------------------------------------------------------------- helpers


def match_token(raw: object) -> str:
    """Normalise text for matching answers: NFKC (full-width digits), trimmed, casefolded."""
    return unicodedata.normalize("NFKC", str(raw)).strip().casefold()


def number(value: Fraction) -> int | float:
    """An exact score as a plain JSON-friendly number: ``int`` when whole, else ``float``."""
    if value.denominator == 1:
        return int(value.numerator)
    return float(value)


def _fraction(value: float | int) -> Fraction:
    # Through str() so that 0.1 in a file means one tenth, not the binary float nearest it.
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


def _fmt(value: Fraction) -> str:
    return str(number(value))


def _check_id(value: str, what: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError(
            f"{what} {value!r} must be lower-case letters, digits and '_', starting with a letter"
        )
    return value


def _reject_bool(value: object, what: str) -> object:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number or quoted text, not the YAML boolean {value}")
    return value


# --------------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Option(_Model):
    """One response option: the value stored for it, its label per language, its points."""

    value: OptionValue
    label: dict[str, str]
    score: StrictInt | None = None
    """Points for this option when they differ from ``value`` (or when ``value`` is text)."""

    @field_validator("value", mode="before")
    @classmethod
    def _no_bool(cls, v: object) -> object:
        return _reject_bool(v, "option value")


class Item(_Model):
    """One question.  ``options`` overrides the instrument's default response options."""

    id: str
    text: dict[str, str]
    options: list[Option] | None = None
    reverse: bool = False
    """Reverse-keyed: points = (lowest + highest option points) - points of the answer."""
    keyed: OptionValue | None = None
    """For two-option (yes/no) items: the answer that scores 1 point; the other scores 0."""

    _options: list[Option] = PrivateAttr(default_factory=list)
    _points: dict[int | str, int] = PrivateAttr(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str) -> str:
        return _check_id(v, "item id")

    @field_validator("keyed", mode="before")
    @classmethod
    def _keyed_no_bool(cls, v: object) -> object:
        return _reject_bool(v, "keyed")

    @property
    def response_options(self) -> list[Option]:
        """The options that apply to this item (its own, or the instrument's default)."""
        return list(self._options)

    def points(self, value: int | str) -> int:
        """Points scored by the stored answer ``value`` (after reverse keying)."""
        return self._points[value]

    @property
    def possible_points(self) -> list[int]:
        return sorted(set(self._points.values()))


class Band(_Model):
    """A labelled score range.  Both bounds are inclusive: at_least <= score <= at_most."""

    id: str
    at_least: Number
    at_most: Number
    label: dict[str, str]

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str) -> str:
        return _check_id(v, "band id")

    @field_validator("at_least", "at_most", mode="before")
    @classmethod
    def _no_bool(cls, v: object) -> object:
        return _reject_bool(v, "band bound")

    def contains(self, value: Fraction) -> bool:
        return _fraction(self.at_least) <= value <= _fraction(self.at_most)

    def bounds_text(self) -> str:
        return f"{self.at_least}–{self.at_most}"


class MissingPolicy(_Model):
    """How many unanswered items a scale tolerates, and what is done about them."""

    max_missing: int = Field(default=0, ge=0)
    method: Literal["prorate"] = "prorate"
    """prorate: a sum is scaled up to the full item count (sum x items / answered);
    a mean is the mean of the answered items."""


class Transform(_Model):
    """A linear transform applied after aggregation: value x multiply + add."""

    multiply: Number = 1
    add: Number = 0


class Rounding(_Model):
    """Rounding applied last, to ``decimals`` places. half_up: ties away from zero."""

    decimals: int = Field(ge=0, le=6)
    mode: Literal["half_up", "half_even"]


class Scale(_Model):
    """A score computed from items: the total, a subscale, or a supplementary score."""

    id: str
    name: dict[str, str]
    role: Literal["total", "subscale", "supplementary"]
    items: Literal["all"] | list[str]
    method: Literal["sum", "mean"]
    missing: MissingPolicy = MissingPolicy()
    transform: Transform | None = None
    rounding: Rounding | None = None
    bands: list[Band] = Field(default_factory=list)
    higher_is: Literal["better", "worse"] | None = None
    """Overrides the instrument's ``higher_is`` for this scale."""
    reliability: float | None = Field(default=None, gt=0, lt=1)
    norm_sd: float | None = Field(default=None, gt=0)
    reliability_source: str | None = None
    """Where ``reliability`` and ``norm_sd`` come from (required when they are given)."""

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str) -> str:
        return _check_id(v, "scale id")

    def value_from(self, points: int, answered: int, n_items: int) -> Fraction:
        """The exact scale value for ``points`` summed over ``answered`` of ``n_items``.

        Order: aggregate (sum, prorated to ``n_items`` when items are missing, or mean
        of the answered items), then the transform, then the rounding.
        """
        if answered <= 0:
            raise ValueError("no answered items")
        if self.method == "mean":
            value = Fraction(points, answered)
        elif answered == n_items:
            value = Fraction(points)
        else:
            value = Fraction(points * n_items, answered)
        if self.transform is not None:
            value = value * _fraction(self.transform.multiply) + _fraction(self.transform.add)
        if self.rounding is not None:
            value = _round(value, self.rounding)
        return value

    def band_for(self, value: Fraction) -> Band | None:
        for band in self.bands:
            if band.contains(value):
                return band
        return None


def _round(value: Fraction, rule: Rounding) -> Fraction:
    scale = 10**rule.decimals
    scaled = value * scale
    if rule.mode == "half_even":
        whole = round(scaled)  # Fraction.__round__ is exact and rounds ties to even
    else:
        half = Fraction(1, 2)
        whole = int(scaled + half) if scaled >= 0 else -int(-scaled + half)
        # int() truncates; for non-negative x, int(x + 1/2) == floor(x + 1/2).
    return Fraction(whole, scale)


class FlagRule(_Model):
    """When a flag is raised, on the stored answer of its item. Give exactly one rule."""

    answer_in: list[OptionValue] | None = None
    answer_at_least: StrictInt | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> FlagRule:
        if (self.answer_in is None) == (self.answer_at_least is None):
            raise ValueError("give exactly one of 'answer_in' or 'answer_at_least'")
        return self

    def matches(self, value: int | str) -> bool:
        if self.answer_in is not None:
            return value in self.answer_in
        return (
            isinstance(value, int)
            and self.answer_at_least is not None
            and (value >= self.answer_at_least)
        )


class ItemFlag(_Model):
    """An alert raised by one item's answer, whatever the total (e.g. PHQ-9 item 9)."""

    id: str
    item: str
    when: FlagRule
    severity: Literal["info", "warning", "urgent"]
    message: dict[str, str]

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str) -> str:
        return _check_id(v, "flag id")


class Source(_Model):
    """Where the items, key, cut-offs or licence were checked."""

    url: str | None = None
    reference: str | None = None
    checked: str
    """What was checked against this source."""

    @model_validator(mode="after")
    def _has_pointer(self) -> Source:
        if not self.url and not self.reference:
            raise ValueError("a source needs a 'url' or a 'reference'")
        return self


class Ages(_Model):
    """The ages a scale was made and validated for (inclusive; either end may be open)."""

    min: StrictInt | None = Field(default=None, ge=0, le=120)
    max: StrictInt | None = Field(default=None, ge=0, le=120)

    @model_validator(mode="after")
    def _ordered(self) -> Ages:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self

    def contains(self, age: int) -> bool:
        return (self.min is None or age >= self.min) and (self.max is None or age <= self.max)

    def text(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{self.min}–{self.max}"
        return f"{self.min}+" if self.min is not None else f"≤{self.max}"


class Instrument(_Model):
    """A validated instrument.  Build one with :func:`load_instrument`."""

    format_version: Literal[1]
    id: str
    version: int = Field(ge=1)
    languages: list[str] = Field(min_length=1)
    name: dict[str, str]
    short_name: dict[str, str]
    citation: str
    licence: str
    sources: list[Source] = Field(min_length=1)
    translation_note: str | None = None
    notes: str | None = None
    higher_is: Literal["better", "worse"]
    ages: Ages | None = None
    """Whom the scale is for, by age: giving it on a case whose client is outside the range
    warns (an adult screener on a child's case)."""
    respondent: Literal["self", "caregiver", "worker"] = "self"
    """Who answers: the person it is about (self-report), a caregiver about them, or the
    worker (a rating scale)."""
    instructions: dict[str, str] | None = None
    options: list[Option] | None = None
    """Default response options for every item that does not give its own."""
    items: list[Item] = Field(min_length=1)
    scales: list[Scale] = Field(min_length=1)
    flags: list[ItemFlag] = Field(default_factory=list)

    _items_by_id: dict[str, Item] = PrivateAttr(default_factory=dict)
    _scales_by_id: dict[str, Scale] = PrivateAttr(default_factory=dict)
    _scale_items: dict[str, tuple[str, ...]] = PrivateAttr(default_factory=dict)
    _scale_values: dict[str, frozenset[Fraction]] = PrivateAttr(default_factory=dict)
    _tokens: dict[str, dict[str, Option]] = PrivateAttr(default_factory=dict)
    _origin: str = PrivateAttr(default="<memory>")

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str) -> str:
        return _check_id(v, "instrument id")

    @model_validator(mode="after")
    def _check_everything(self) -> Instrument:
        problems: list[str] = []
        self._check_languages(problems)
        before = len(problems)
        self._check_items(problems)
        if len(problems) == before:  # scales and flags need every item's points
            self._check_scales(problems)
            self._check_flags(problems)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # -- validation steps (each appends readable problems) --------------------------

    def _texts(self) -> Iterator[tuple[str, Mapping[str, str]]]:
        yield "name", self.name
        yield "short_name", self.short_name
        if self.instructions is not None:
            yield "instructions", self.instructions
        for opt in self.options or []:
            yield f"options[value={opt.value!r}].label", opt.label
        for item in self.items:
            yield f"item {item.id}: text", item.text
            for opt in item.options or []:
                yield f"item {item.id}: options[value={opt.value!r}].label", opt.label
        for scale in self.scales:
            yield f"scale {scale.id}: name", scale.name
            for band in scale.bands:
                yield f"scale {scale.id}: band {band.id}: label", band.label
        for flag in self.flags:
            yield f"flag {flag.id}: message", flag.message

    def _check_languages(self, problems: list[str]) -> None:
        langs = self.languages
        if len(set(langs)) != len(langs):
            problems.append(f"languages lists a language twice: {langs}")
        wanted = set(langs)
        for where, text in self._texts():
            missing = [lang for lang in langs if lang not in text]
            extra = sorted(set(text) - wanted)
            empty = [lang for lang in langs if lang in text and not str(text[lang]).strip()]
            if missing:
                problems.append(f"{where}: no text for language(s) {', '.join(missing)}")
            if extra:
                problems.append(
                    f"{where}: language(s) {', '.join(extra)} not declared in 'languages'"
                )
            if empty:
                problems.append(f"{where}: empty text for language(s) {', '.join(empty)}")

    def _check_items(self, problems: list[str]) -> None:
        prefix = f"{self.id}_"
        for item in self.items:
            if item.id in self._items_by_id:
                problems.append(f"item id {item.id} is used twice")
                continue
            self._items_by_id[item.id] = item
            if not item.id.startswith(prefix) or item.id == prefix:
                problems.append(
                    f"item {item.id}: item ids must start with '{prefix}' "
                    "so that they are distinct across instruments"
                )
            options = item.options if item.options is not None else self.options
            if options is None:
                problems.append(f"item {item.id}: no options, and no default 'options' to use")
                continue
            item._options = list(options)
            self._check_item_options(item, problems)

    def _check_item_options(self, item: Item, problems: list[str]) -> None:
        opts = item._options
        where = f"item {item.id}"
        if len(opts) < 2:
            problems.append(f"{where}: needs at least two response options")
            return
        values = [o.value for o in opts]
        if len(set(values)) != len(values):
            problems.append(f"{where}: two options store the same value ({values})")
            return
        # Every way of giving an answer must lead to exactly one option.
        tokens: dict[str, Option] = {}
        for opt in opts:
            spellings = {match_token(opt.value)} | {match_token(t) for t in opt.label.values()}
            for token in spellings:
                other = tokens.get(token)
                if other is not None and other.value != opt.value:
                    problems.append(
                        f"{where}: the answer {token!r} would match two options "
                        f"({other.value!r} and {opt.value!r}); make the labels distinct"
                    )
                tokens[token] = opt
        self._tokens[item.id] = tokens
        # Points for each option.
        if item.keyed is not None:
            if item.reverse:
                problems.append(f"{where}: use either 'keyed' or 'reverse', not both")
            if len(opts) != 2:
                problems.append(f"{where}: 'keyed' needs exactly two options (e.g. yes/no)")
            if item.keyed not in values:
                problems.append(
                    f"{where}: keyed answer {item.keyed!r} is not one of the options {values}"
                )
                return
            if any(o.score is not None for o in opts):
                problems.append(f"{where}: options of a 'keyed' item must not declare 'score'")
            item._points = {o.value: int(o.value == item.keyed) for o in opts}
            return
        points: dict[int | str, int] = {}
        for opt in opts:
            if opt.score is not None:
                points[opt.value] = opt.score
            elif isinstance(opt.value, int):
                points[opt.value] = opt.value
            else:
                problems.append(
                    f"{where}: option {opt.value!r} is text, so it needs a 'score' "
                    "(or the item needs 'keyed')"
                )
                return
        if item.reverse:
            low, high = min(points.values()), max(points.values())
            points = {value: low + high - p for value, p in points.items()}
        item._points = points

    def _check_scales(self, problems: list[str]) -> None:
        totals = [s.id for s in self.scales if s.role == "total"]
        if len(totals) != 1:
            problems.append(
                f"exactly one scale must have role 'total' (found {len(totals)}: {totals})"
            )
        for scale in self.scales:
            where = f"scale {scale.id}"
            if scale.id in self._scales_by_id:
                problems.append(f"scale id {scale.id} is used twice")
                continue
            self._scales_by_id[scale.id] = scale
            if scale.items == "all":
                ids = tuple(i.id for i in self.items)
            else:
                ids = tuple(scale.items)
                unknown = [i for i in ids if i not in self._items_by_id]
                if unknown:
                    problems.append(f"{where}: unknown item(s) {', '.join(unknown)}")
                    continue
                if len(set(ids)) != len(ids):
                    problems.append(f"{where}: lists an item twice")
                    continue
                if not ids:
                    problems.append(f"{where}: has no items")
                    continue
            self._scale_items[scale.id] = ids
            if scale.missing.max_missing >= len(ids):
                problems.append(
                    f"{where}: missing.max_missing ({scale.missing.max_missing}) must be "
                    f"smaller than its number of items ({len(ids)})"
                )
                continue
            rci = (scale.reliability, scale.norm_sd, scale.reliability_source)
            if any(v is not None for v in rci) and any(v is None for v in rci):
                problems.append(
                    f"{where}: give 'reliability', 'norm_sd' and 'reliability_source' "
                    "together (or none of them)"
                )
            values = self._reachable(scale, ids)
            self._scale_values[scale.id] = values
            self._check_bands(scale, values, problems)

    def _reachable(self, scale: Scale, ids: tuple[str, ...]) -> frozenset[Fraction]:
        """Every value the scale can take, given its missing policy (exact arithmetic)."""
        states: set[tuple[int, int]] = {(0, 0)}  # (answered, points)
        for item_id in ids:
            pts = self._items_by_id[item_id].possible_points
            states = states | {(k + 1, s + p) for k, s in states for p in pts}
        n = len(ids)
        least = n - scale.missing.max_missing
        return frozenset(
            scale.value_from(points, answered, n)
            for answered, points in states
            if answered >= least
        )

    def _check_bands(self, scale: Scale, values: frozenset[Fraction], problems: list[str]) -> None:
        where = f"scale {scale.id}"
        bands = scale.bands
        n_problems = len(problems)
        if not bands:
            if scale.role == "total":
                log.debug("%s: total scale %s has no bands", self.id, scale.id)
            return
        seen: set[str] = set()
        for band in bands:
            if band.id in seen:
                problems.append(f"{where}: band id {band.id} is used twice")
            seen.add(band.id)
            if _fraction(band.at_least) > _fraction(band.at_most):
                problems.append(
                    f"{where}: band {band.id}: at_least {band.at_least} is above "
                    f"at_most {band.at_most}"
                )
        for before, after in pairwise(bands):
            if _fraction(after.at_least) <= _fraction(before.at_most):
                problems.append(
                    f"{where}: bands {before.id} ({before.bounds_text()}) and {after.id} "
                    f"({after.bounds_text()}) overlap or are out of order; list bands from "
                    "lowest to highest with no shared scores"
                )
        if len(problems) > n_problems:
            return
        low, high = min(values), max(values)
        uncovered = sorted(v for v in values if scale.band_for(v) is None)
        if uncovered:
            shown = ", ".join(_fmt(v) for v in uncovered[:8])
            more = " …" if len(uncovered) > 8 else ""
            problems.append(
                f"{where}: the scale can score {shown}{more}, which no band covers "
                f"(possible range {_fmt(low)}–{_fmt(high)}); close the gap, or declare a "
                "'rounding' rule if the gap comes from prorating"
            )
        for band in bands:
            if not any(band.contains(v) for v in values):
                problems.append(
                    f"{where}: band {band.id} ({band.bounds_text()}) contains no score this "
                    f"scale can produce (possible range {_fmt(low)}–{_fmt(high)})"
                )

    def _check_flags(self, problems: list[str]) -> None:
        seen: set[str] = set()
        for flag in self.flags:
            where = f"flag {flag.id}"
            if flag.id in seen:
                problems.append(f"flag id {flag.id} is used twice")
            seen.add(flag.id)
            item = self._items_by_id.get(flag.item)
            if item is None:
                problems.append(f"{where}: unknown item {flag.item}")
                continue
            values = [o.value for o in item.response_options]
            rule = flag.when
            if rule.answer_in is not None:
                bad = [v for v in rule.answer_in if v not in values]
                if bad:
                    problems.append(
                        f"{where}: answer_in lists {bad}, which are not options of "
                        f"{item.id} ({values})"
                    )
            elif not any(isinstance(v, int) and rule.matches(v) for v in values):
                problems.append(
                    f"{where}: answer_at_least {rule.answer_at_least} can never be met by "
                    f"the options of {item.id} ({values})"
                )

    # -- public read-only API --------------------------------------------------------

    @property
    def origin(self) -> str:
        """The file this instrument was loaded from (or ``<memory>``)."""
        return self._origin

    @property
    def item_ids(self) -> list[str]:
        return [i.id for i in self.items]

    def item(self, item_id: str) -> Item:
        try:
            return self._items_by_id[item_id]
        except KeyError:
            raise KeyError(f"{self.id} has no item {item_id!r}") from None

    def has_item(self, item_id: str) -> bool:
        return item_id in self._items_by_id

    def options_for(self, item_id: str) -> list[Option]:
        """The response options of ``item_id`` (its own, or the instrument's default)."""
        return self.item(item_id).response_options

    def match_option(self, item_id: str, raw: object) -> Option | None:
        """The option an answer designates: its stored value, or that value written as
        text (``"2"``), or its label in any language (case-insensitive).  None if none."""
        item = self.item(item_id)
        if isinstance(raw, bool):
            return None
        if isinstance(raw, int):
            for opt in item.response_options:
                if opt.value == raw and isinstance(opt.value, int):
                    return opt
            return None
        if isinstance(raw, str):
            return self._tokens[item_id].get(match_token(raw))
        return None

    @property
    def total_scale(self) -> Scale:
        return next(s for s in self.scales if s.role == "total")

    @property
    def subscales(self) -> list[Scale]:
        return [s for s in self.scales if s.role == "subscale"]

    def scale(self, scale_id: str) -> Scale:
        try:
            return self._scales_by_id[scale_id]
        except KeyError:
            known = ", ".join(self._scales_by_id)
            raise KeyError(f"{self.id} has no scale {scale_id!r} (scales: {known})") from None

    def scale_items(self, scale_id: str) -> tuple[str, ...]:
        self.scale(scale_id)
        return self._scale_items[scale_id]

    def scale_values(self, scale_id: str) -> frozenset[Fraction]:
        """Every value the scale can produce (exact), given its missing policy."""
        self.scale(scale_id)
        return self._scale_values[scale_id]

    def scale_range(self, scale_id: str) -> tuple[int | float, int | float]:
        """Lowest and highest score the scale can produce."""
        values = self.scale_values(scale_id)
        return number(min(values)), number(max(values))

    def higher_is_for(self, scale_id: str) -> Literal["better", "worse"]:
        return self.scale(scale_id).higher_is or self.higher_is

    def suits_age(self, age: int | None) -> bool:
        """Whether the scale is meant for someone of ``age`` (True when either is unknown)."""
        return self.ages is None or age is None or self.ages.contains(age)

    def text(self, texts: Mapping[str, str], lang: str) -> str:
        """``texts[lang]``, falling back to the instrument's first language."""
        return texts.get(lang) or texts[self.languages[0]]


# --------------------------------------------------------------------------- YAML


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (``yes``/``no``/``on``/``off`` stay text) that
    refuses duplicate keys instead of silently keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_BOOL_TAG = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _format_loc(loc: Sequence[int | str], data: object) -> str:
    """A readable location, naming list entries by their ``id`` where they have one."""
    parts: list[str] = []
    node: object = data
    for key in loc:
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            ident = node.get("id") if isinstance(node, dict) else None
            label = f"[{key}]" + (f" ({ident})" if ident is not None else "")
            if parts:
                parts[-1] += label
            else:
                parts.append(label)
        elif isinstance(node, dict) or not parts:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
        # else: a pydantic union member name ("int", "constrained-str") under a scalar
    return ".".join(parts) or "(top level)"


def _validation_problems(err: ValidationError, data: object) -> list[str]:
    problems: list[str] = []
    by_loc: dict[str, list[str]] = {}
    for e in err.errors(include_url=False):
        msg = str(e["msg"]).removeprefix("Value error, ")
        loc = _format_loc(e["loc"], data)
        if e["type"] == "value_error" and "\n" in msg:
            problems.extend(msg.splitlines())
        elif loc == "(top level)":
            problems.append(msg)
        else:
            if e["type"].endswith(("_type", "_parsing")) and not isinstance(e["input"], dict):
                msg += f" (got {e['input']!r})"
            if loc not in by_loc:
                by_loc[loc] = []
                problems.append(loc)  # placeholder, filled in below
            by_loc[loc].append(msg)
    return [f"{p}: {' or '.join(dict.fromkeys(by_loc[p]))}" if p in by_loc else p for p in problems]


PLACEHOLDER = "PLACEHOLDER"
"""Marks what an example file leaves for an organisation to fill in; such a file refuses to
load until every one is replaced."""


def _placeholders(text: str) -> list[str]:
    """One problem per field of the file that still holds a placeholder, saying where."""
    lines: dict[str, list[int]] = {}
    items: dict[str, list[str]] = {}
    field, item = "(top level)", ""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        if line[:1].isalpha() and ":" in line:
            field, item = line.split(":", 1)[0], ""
        stripped = line.strip()
        if stripped.startswith("- id:"):
            item = stripped.removeprefix("- id:").strip()
        if PLACEHOLDER in line:
            lines.setdefault(field, []).append(number)
            if item and item not in items.setdefault(field, []):
                items[field].append(item)

    def span(numbers: list[int]) -> str:
        if len(numbers) <= 4:
            return f"line{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))}"
        return f"lines {numbers[0]}-{numbers[-1]}"

    def named(field: str) -> str:
        ids = items.get(field) or []
        if not ids:
            return field
        shown = ", ".join(ids) if len(ids) <= 3 else f"{ids[0]} ... {ids[-1]}, {len(ids)} in all"
        return f"{field} ({shown})"

    problems = [
        f"{span(numbers)}: {named(field)} still say{'s' if not items.get(field) else ''} "
        f"{PLACEHOLDER}; replace each with what your licensed copy and manual say"
        for field, numbers in lines.items()
    ]
    if problems:
        problems.append(
            "this is an example to fill in: copy it into a folder of your own, replace every "
            f"{PLACEHOLDER} (docs/instruments.md, 'Adding an instrument'), then point "
            f"{ENV_VAR} at that folder"
        )
    return problems


@functools.lru_cache(maxsize=64)
def parse_instrument(text: str, origin: str = "<string>") -> Instrument:
    """Parse and validate the YAML text of an instrument file. A file that still holds a
    ``PLACEHOLDER`` (an example to be filled in) is refused, saying where."""
    placeholders = _placeholders(text)
    if placeholders:
        raise InstrumentFileError(origin, placeholders)
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as err:
        raise InstrumentFileError(origin, [f"not valid YAML: {err}"]) from err
    if not isinstance(data, dict):
        raise InstrumentFileError(origin, ["the file must be a YAML mapping (key: value lines)"])
    try:
        inst = Instrument.model_validate(data)
    except ValidationError as err:
        raise InstrumentFileError(origin, _validation_problems(err, data)) from None
    inst._origin = origin
    return inst


def load_instrument_file(path: str | os.PathLike[str] | Traversable) -> Instrument:
    """Load and validate one instrument file."""
    origin = str(path)
    try:
        if isinstance(path, Traversable):
            text = path.read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InstrumentNotFoundError(f"no instrument file at {origin}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InstrumentFileError(origin, [f"cannot read the file: {err}"]) from err
    return parse_instrument(text, origin)


# --------------------------------------------------------------------------- search path


def bundled_dir() -> Traversable:
    """The directory of instrument files shipped with caseflow."""
    return resources.files("flows").joinpath("instruments")


def instrument_dirs(
    extra: Sequence[str | os.PathLike[str]] | None = None,
) -> list[Path | Traversable]:
    """The search path: ``extra`` dirs, then ``$CASEFLOW_INSTRUMENTS``, then bundled."""
    dirs: list[Path | Traversable] = [Path(d) for d in extra or ()]
    env = os.environ.get(ENV_VAR, "")
    dirs.extend(Path(d) for d in env.split(os.pathsep) if d.strip())
    dirs.append(bundled_dir())
    return dirs


def _files_in(directory: Path | Traversable) -> Iterator[tuple[str, Path | Traversable]]:
    if not directory.is_dir():
        return
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        stem, dot, suffix = entry.name.rpartition(".")
        if dot and f".{suffix}" in _SUFFIXES and entry.is_file() and _ID_RE.match(stem):
            yield stem, entry


def bundled_instrument_ids() -> list[str]:
    """Ids of the instruments shipped with caseflow."""
    return sorted({stem for stem, _ in _files_in(bundled_dir())})


def available_instruments(
    search_path: Sequence[str | os.PathLike[str]] | None = None,
) -> dict[str, Path | Traversable]:
    """Every instrument id on the search path and the file that would be loaded for it."""
    found: dict[str, Path | Traversable] = {}
    for directory in instrument_dirs(search_path):
        for stem, entry in _files_in(directory):
            if stem in found:
                log.info("instrument %s in %s is shadowed by %s", stem, entry, found[stem])
                continue
            found[stem] = entry
    return dict(sorted(found.items()))


def available_instrument_ids(
    search_path: Sequence[str | os.PathLike[str]] | None = None,
) -> list[str]:
    """Ids of every instrument on the search path (bundled, env and ``search_path``)."""
    return list(available_instruments(search_path))


def _looks_like_path(value: str) -> bool:
    return value.endswith(_SUFFIXES) or "/" in value or os.sep in value


def load_instrument(
    id_or_path: str | os.PathLike[str],
    search_path: Sequence[str | os.PathLike[str]] | None = None,
) -> Instrument:
    """Load an instrument by id (from the search path) or from a file path."""
    if isinstance(id_or_path, os.PathLike) or _looks_like_path(id_or_path):
        return load_instrument_file(id_or_path)
    wanted = id_or_path.strip()
    dirs = instrument_dirs(search_path)
    if _ID_RE.match(wanted):
        for directory in dirs:
            for stem, entry in _files_in(directory):
                if stem == wanted:
                    inst = load_instrument_file(entry)
                    if inst.id != wanted:
                        raise InstrumentFileError(
                            str(entry), [f"the file is named {wanted} but declares id {inst.id}"]
                        )
                    return inst
    known = ", ".join(available_instruments(search_path)) or "none"
    looked = ", ".join(str(d) for d in dirs)
    raise InstrumentNotFoundError(
        f"no instrument {id_or_path!r}; available: {known} (looked in: {looked})"
    )
