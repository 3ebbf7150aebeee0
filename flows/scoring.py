"""Pure scoring of instrument answers, and the Jacobson–Truax reliable change index.

``score(instrument, answers)`` checks every answer against the item's options (never
coercing a value that is not an option), applies the keying declared in the file,
computes every scale with exact arithmetic (fractions, so that a cut-off is never
missed through floating-point error), looks up the bands, and raises the item-level
flags.  It has no side effects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from flows.instruments import Band, Instrument, InstrumentError, number

__all__ = [
    "RCI_THRESHOLD",
    "Flag",
    "ReliableChange",
    "ScaleScore",
    "Score",
    "ScoringError",
    "normalise_answers",
    "reliable_change",
    "score",
]

RCI_THRESHOLD = 1.96
"""|RCI| above this is a reliable change (p < .05, two-tailed; Jacobson & Truax 1991)."""


class ScoringError(InstrumentError, ValueError):
    """An answer (or a score given for reliable change) is not valid for the instrument."""

    def __init__(self, message: str, item_id: str | None = None) -> None:
        super().__init__(message)
        self.item_id = item_id


def _band_dict(band: Band | None) -> dict[str, Any] | None:
    if band is None:
        return None
    return {
        "id": band.id,
        "label": dict(band.label),
        "at_least": band.at_least,
        "at_most": band.at_most,
    }


@dataclass(frozen=True)
class Flag:
    """An alert raised by one item's answer, whatever the total."""

    id: str
    item_id: str
    severity: Literal["info", "warning", "urgent"]
    message: dict[str, str]
    answer: int | str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "item_id": self.item_id,
            "severity": self.severity,
            "message": dict(self.message),
            "answer": self.answer,
        }


@dataclass(frozen=True)
class ScaleScore:
    """One computed scale.  ``value`` is None when too many of its items are missing."""

    id: str
    role: Literal["total", "subscale", "supplementary"]
    name: dict[str, str]
    value: int | float | None
    band: Band | None
    answered: int
    n_items: int
    max_missing: int
    minimum: int | float
    maximum: int | float
    higher_is: Literal["better", "worse"]

    @property
    def prorated(self) -> bool:
        return self.value is not None and self.answered < self.n_items

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "name": dict(self.name),
            "value": self.value,
            "band": _band_dict(self.band),
            "answered": self.answered,
            "items": self.n_items,
            "max_missing": self.max_missing,
            "prorated": self.prorated,
            "min": self.minimum,
            "max": self.maximum,
            "higher_is": self.higher_is,
        }


@dataclass(frozen=True)
class Score:
    """The result of scoring one administration of an instrument."""

    instrument_id: str
    instrument_version: int
    total_scale: str
    scales: dict[str, ScaleScore]
    flags: list[Flag]
    missing: list[str]
    answers: dict[str, int | str] = field(default_factory=dict)
    """The answers as stored option values, in item order (missing items left out)."""

    @property
    def total(self) -> int | float | None:
        return self.scales[self.total_scale].value

    @property
    def band(self) -> Band | None:
        return self.scales[self.total_scale].band

    @property
    def subscales(self) -> dict[str, int | float | None]:
        return {k: s.value for k, s in self.scales.items() if s.role == "subscale"}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary.  ``total`` and ``band`` belong to the total scale
        (named by ``total_scale``); ``scales`` holds every scale, e.g. the WHO-5 raw
        score next to its percentage score."""
        total = self.scales[self.total_scale]
        return {
            "instrument": self.instrument_id,
            "instrument_version": self.instrument_version,
            "total": self.total,
            "total_scale": self.total_scale,
            "total_range": [total.minimum, total.maximum],
            "band": _band_dict(self.band),
            "subscales": self.subscales,
            "scales": {k: s.to_dict() for k, s in self.scales.items()},
            "flags": [f.to_dict() for f in self.flags],
            "missing": list(self.missing),
            "answers": dict(self.answers),
        }


def _allowed(inst: Instrument, item_id: str) -> str:
    lang = inst.languages[0]
    return ", ".join(
        f"{opt.value!r} ({inst.text(opt.label, lang)})" for opt in inst.options_for(item_id)
    )


def normalise_answers(inst: Instrument, answers: Mapping[str, object]) -> dict[str, int | str]:
    """Map each answer to the stored value of the option it designates.

    An answer may be the stored value itself, that value written as text (``"2"``),
    or the option's label in any of the instrument's languages (case-insensitive).
    ``None`` means unanswered.  Unknown item ids and answers that are not options
    raise :class:`ScoringError` naming the item.
    """
    unknown = [key for key in answers if not inst.has_item(str(key))]
    if unknown:
        raise ScoringError(
            f"{inst.id} has no item(s) {', '.join(map(repr, unknown))}; "
            f"its items are {', '.join(inst.item_ids)}",
            item_id=str(unknown[0]),
        )
    result: dict[str, int | str] = {}
    for item_id in inst.item_ids:
        raw = answers.get(item_id)
        if raw is None:
            continue
        opt = inst.match_option(item_id, raw)
        if opt is None:
            raise ScoringError(
                f"{item_id}: {raw!r} is not an answer to this item; "
                f"allowed: {_allowed(inst, item_id)} (or their labels)",
                item_id=item_id,
            )
        result[item_id] = opt.value
    return result


def score(inst: Instrument, answers: Mapping[str, object]) -> Score:
    """Score ``answers`` (keyed by item id; a missing key or None = unanswered)."""
    stored = normalise_answers(inst, answers)
    missing = [i for i in inst.item_ids if i not in stored]
    scales: dict[str, ScaleScore] = {}
    for scale in inst.scales:
        ids = inst.scale_items(scale.id)
        answered = [i for i in ids if i in stored]
        value: Fraction | None = None
        if answered and len(ids) - len(answered) <= scale.missing.max_missing:
            points = sum(inst.item(i).points(stored[i]) for i in answered)
            value = scale.value_from(points, len(answered), len(ids))
        low, high = inst.scale_range(scale.id)
        scales[scale.id] = ScaleScore(
            id=scale.id,
            role=scale.role,
            name=dict(scale.name),
            value=None if value is None else number(value),
            band=None if value is None else scale.band_for(value),
            answered=len(answered),
            n_items=len(ids),
            max_missing=scale.missing.max_missing,
            minimum=low,
            maximum=high,
            higher_is=inst.higher_is_for(scale.id),
        )
    flags = [
        Flag(
            id=rule.id,
            item_id=rule.item,
            severity=rule.severity,
            message=dict(rule.message),
            answer=stored[rule.item],
        )
        for rule in inst.flags
        if rule.item in stored and rule.when.matches(stored[rule.item])
    ]
    return Score(
        instrument_id=inst.id,
        instrument_version=inst.version,
        total_scale=inst.total_scale.id,
        scales=scales,
        flags=flags,
        missing=missing,
        answers=stored,
    )


# --------------------------------------------------------------------------- RCI


@dataclass(frozen=True)
class ReliableChange:
    """Jacobson–Truax reliable change between two scores on one scale.

    SE = SD x sqrt(1 - r);  Sdiff = sqrt(2 x SE^2);  RCI = (post - pre) / Sdiff.
    The change is reliable when |RCI| > 1.96; whether it is an improvement depends on
    whether higher scores are better or worse on this scale.
    """

    instrument_id: str
    scale: str
    pre: float
    post: float
    reliability: float
    norm_sd: float
    source: str
    higher_is: Literal["better", "worse"]
    se_measurement: float
    s_diff: float
    rci: float
    reliable: bool
    direction: Literal["improved", "deteriorated", "no_reliable_change"]

    @property
    def change(self) -> float:
        return self.post - self.pre

    @property
    def min_reliable_change(self) -> float:
        """The smallest change (in scale points) that would count as reliable."""
        return RCI_THRESHOLD * self.s_diff

    def to_dict(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument_id,
            "scale": self.scale,
            "pre": self.pre,
            "post": self.post,
            "change": self.change,
            "reliability": self.reliability,
            "norm_sd": self.norm_sd,
            "source": self.source,
            "higher_is": self.higher_is,
            "se_measurement": self.se_measurement,
            "s_diff": self.s_diff,
            "rci": self.rci,
            "threshold": RCI_THRESHOLD,
            "min_reliable_change": self.min_reliable_change,
            "reliable": self.reliable,
            "direction": self.direction,
        }


def _checked_score(inst: Instrument, scale_id: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScoringError(f"{inst.id} {scale_id}: {name} score {value!r} is not a number")
    low, high = inst.scale_range(scale_id)
    if not low <= value <= high:
        raise ScoringError(
            f"{inst.id} {scale_id}: {name} score {value} is outside the scale's range {low}–{high}"
        )
    return float(value)


def reliable_change(
    inst: Instrument, scale_key: str, pre: float, post: float
) -> ReliableChange | None:
    """The reliable change from ``pre`` to ``post`` on ``scale_key``, or None when the
    instrument file gives no reliability and norm SD for that scale."""
    try:
        scale = inst.scale(scale_key)
    except KeyError as err:
        raise ScoringError(str(err.args[0])) from None
    before = _checked_score(inst, scale_key, "pre", pre)
    after = _checked_score(inst, scale_key, "post", post)
    r, sd, source = scale.reliability, scale.norm_sd, scale.reliability_source
    if r is None or sd is None or source is None:
        return None
    se = sd * math.sqrt(1.0 - r)
    s_diff = math.sqrt(2.0 * se * se)
    rci = (after - before) / s_diff
    reliable = abs(rci) > RCI_THRESHOLD
    higher_is = inst.higher_is_for(scale_key)
    direction: Literal["improved", "deteriorated", "no_reliable_change"]
    if not reliable:
        direction = "no_reliable_change"
    elif (rci > 0) == (higher_is == "better"):
        direction = "improved"
    else:
        direction = "deteriorated"
    return ReliableChange(
        instrument_id=inst.id,
        scale=scale_key,
        pre=before,
        post=after,
        reliability=r,
        norm_sd=sd,
        source=source,
        higher_is=higher_is,
        se_measurement=se,
        s_diff=s_diff,
        rci=rci,
        reliable=reliable,
        direction=direction,
    )
