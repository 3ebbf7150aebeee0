"""What a session means for the case file beyond its answers. Pure: no I/O.

Three things are read from a session's answers, as its flow declares them:

- choices whose options come from the case (``options_from: case.goals``), resolved
  against the case's facts when the interview runs;
- ratings that are not a published instrument (``scores:``), scored like an instrument
  (sum or mean, subscales, bands of their own or none) and stored like one;
- the session's own facts (``sets:``): the day it was held, its number, its intervention
  stage, its phase, the goals it worked on with their progress ratings, and the consent
  a consent flow records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from flows.answers import AnyItem
from flows.model import (
    ChoiceItem,
    Flow,
    FlowScore,
    MultiItem,
    Option,
    RatingScale,
    ScaleItem,
    ScoreBand,
    Stage,
)

__all__ = [
    "SCORE_STAGE_PREFIX",
    "Consent",
    "Outcome",
    "goal_options",
    "rating_ranges",
    "resolve_options",
    "score_ratings",
    "score_stage_id",
    "session_outcome",
]

SCORE_STAGE_PREFIX = "score:"
"""A flow-level score is stored like an instrument score under this pseudo stage id, so it
never clashes with a stage of the flow (stage ids cannot contain a colon)."""


def score_stage_id(score_id: str) -> str:
    return f"{SCORE_STAGE_PREFIX}{score_id}"


# --------------------------------------------------------------------------- options


def goal_options(facts: Mapping[str, Any], languages: Sequence[str]) -> list[Option]:
    """The case's goals as options: the value is the goal's number, the label its number
    and title (written once by the worker, so the same in every language)."""
    out = []
    for goal in facts.get("goals") or []:
        if not isinstance(goal, Mapping) or goal.get("status") == "dropped":
            continue
        number, title = goal.get("number"), str(goal.get("title") or "")
        if not isinstance(number, int):
            continue
        text = f"{number}. {title}".strip()
        out.append(Option(value=number, label={lang: text for lang in languages}))
    return out


def resolve_options(item: AnyItem, facts: Mapping[str, Any], languages: Sequence[str]) -> AnyItem:
    """The item with its options filled in from the case, when it takes them from there."""
    if not isinstance(item, ChoiceItem | MultiItem) or item.options_from != "case.goals":
        return item
    return item.model_copy(update={"options": goal_options(facts, languages)})


# --------------------------------------------------------------------------- ratings


def rating_ranges(flow: Flow) -> dict[str, tuple[int, int]]:
    """The (min, max) of every scale item of a flow, by item id."""
    return {
        item.id: (item.min, item.max)
        for stage in flow.stages
        for item in stage.items
        if isinstance(item, ScaleItem)
    }


def _number(value: Fraction) -> int | float:
    if value.denominator == 1:
        return int(value.numerator)
    scaled = value * 100
    whole = int(scaled + Fraction(1, 2)) if scaled >= 0 else -int(-scaled + Fraction(1, 2))
    rounded = Fraction(whole, 100)  # two decimals, halves away from zero
    return int(rounded) if rounded.denominator == 1 else float(rounded)


def _scale(
    scale_id: str,
    name: Mapping[str, str],
    role: str,
    items: Sequence[str],
    method: str,
    values: Mapping[str, Any],
    ranges: Mapping[str, tuple[int, int]],
    higher_is: str,
) -> dict[str, Any]:
    answered = [
        values[i]
        for i in items
        if isinstance(values.get(i), int) and not isinstance(values[i], bool)
    ]
    lows = [ranges[i][0] for i in items]
    highs = [ranges[i][1] for i in items]
    value: Fraction | None = None
    if method == "mean":
        low, high = Fraction(sum(lows), len(items)), Fraction(sum(highs), len(items))
        if answered:
            value = Fraction(sum(answered), len(answered))
    else:
        low, high = Fraction(sum(lows)), Fraction(sum(highs))
        if len(answered) == len(items):  # a sum with a missing rating would read low
            value = Fraction(sum(answered))
    return {
        "id": scale_id,
        "role": role,
        "name": dict(name),
        "value": None if value is None else _number(value),
        "band": None,
        "answered": len(answered),
        "items": len(items),
        "max_missing": len(items) - 1 if method == "mean" else 0,
        "prorated": False,
        "min": _number(low),
        "max": _number(high),
        "higher_is": higher_is,
    }


def _band(band: ScoreBand) -> dict[str, Any]:
    return {
        "id": band.id,
        "label": dict(band.label),
        "at_least": band.at_least,
        "at_most": band.at_most,
    }


def score_ratings(score: FlowScore, flow: Flow, values: Mapping[str, Any]) -> dict[str, Any]:
    """The score of a flow's own ratings, in the shape of an instrument's score
    (``flows.scoring.Score.to_dict``) plus what a record needs to show it without the flow
    file: its name, bands and which end is better."""
    ranges = rating_ranges(flow)
    total = _scale(
        "total",
        score.name,
        "total",
        score.items,
        score.method,
        values,
        ranges,
        score.higher_is,
    )
    band = None
    if total["value"] is not None:
        for b in score.bands:
            if b.at_least <= total["value"] <= b.at_most:
                band = {
                    "id": b.id,
                    "label": dict(b.label),
                    "at_least": b.at_least,
                    "at_most": b.at_most,
                }
                break
    total["band"] = band
    subscales: list[RatingScale] = score.subscales
    scales = {"total": total} | {
        sub.id: _scale(
            sub.id, sub.name, "subscale", sub.items, sub.method, values, ranges, score.higher_is
        )
        for sub in subscales
    }
    counted = list(dict.fromkeys([*score.items, *(i for s in subscales for i in s.items)]))
    return {
        "instrument": score.id,
        "kind": "ratings",
        "flow": flow.id,
        "instrument_version": flow.version,
        "name": dict(score.name),
        "short_name": dict(score.short_name or score.name),
        "higher_is": score.higher_is,
        "total": total["value"],
        "total_scale": "total",
        "total_range": [total["min"], total["max"]],
        "band": band,
        "bands": [_band(b) for b in score.bands],
        "subscales": {k: s["value"] for k, s in scales.items() if s["role"] == "subscale"},
        "scales": scales,
        "flags": [],
        "missing": [i for i in counted if values.get(i) is None],
        "answers": {i: values[i] for i in counted if values.get(i) is not None},
    }


def score_items(score: FlowScore) -> set[str]:
    return {*score.items, *(i for s in score.subscales for i in s.items)}


def first_stage(flow: Flow, items: set[str]) -> Stage | None:
    for stage in flow.stages:
        if any(item.id in items for item in stage.items):
            return stage
    return None


# --------------------------------------------------------------------------- outcome


@dataclass(frozen=True, slots=True)
class Consent:
    """Consent as a consent flow recorded it."""

    agreed: bool
    by: str
    role: str
    method: str
    on: str
    explained: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a completed session sets in the case file."""

    purpose: str | None = None
    held_on: str | None = None
    number: int | None = None
    stage: str | None = None
    phase: str | None = None
    goals: dict[int, int | None] = field(default_factory=dict)
    """Goal number → progress rating (None: worked on, not rated)."""
    goal_ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    goal_results: dict[int, str] | None = None
    """Goal number → met or partly_met, when the flow judges goals (a closing report); a
    goal it does not name was not met."""
    consent: Consent | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    """Profile fields the session answered: ``client_name``, ``age`` (in years, on the day
    held), ``birth_year``, ``client_group``, ``caregiver``. Unanswered fields stay as
    they were."""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def session_outcome(flow: Flow, values: Mapping[str, Any]) -> Outcome | None:
    """The session's facts from its answers (``values``: item id → stored value, answered
    items only); None when the flow sets nothing."""
    sets = flow.sets
    if flow.purpose is None and sets == type(sets)():
        return None
    phase = None
    if sets.phase is not None:
        chosen = values.get(sets.phase.item)
        phase = sets.phase.map.get(str(chosen)) if chosen is not None else None
    goals: dict[int, int | None] = {}
    if sets.goals_worked:
        worked = values.get(sets.goals_worked)
        for chosen in worked if isinstance(worked, list) else [worked]:
            number = _int(chosen)
            if number is not None:
                goals[number] = None
    ranges = rating_ranges(flow)
    goal_ranges: dict[int, tuple[int, int]] = {}
    for number, item_id in sets.goal_progress.items():
        rating = _int(values.get(item_id))
        if rating is not None:
            goals[number] = rating
        if item_id in ranges:
            goal_ranges[number] = ranges[item_id]
    results: dict[int, str] | None = None
    if sets.goals_met or sets.goals_partly_met:
        results = {}
        for key, result in ((sets.goals_partly_met, "partly_met"), (sets.goals_met, "met")):
            chosen = values.get(key) if key else None
            for value in chosen if isinstance(chosen, list) else [chosen]:
                goal = _int(value)
                if goal is not None:
                    results[goal] = result
    consent = None
    if sets.consent is not None:
        c = sets.consent
        agreed, by = values.get(c.agreed), _str(values.get(c.by))
        role, method, on = (
            _str(values.get(c.role)),
            _str(values.get(c.method)),
            _str(values.get(c.date)),
        )
        if isinstance(agreed, bool) and by and role and method and on:
            explained = values.get(c.explained) if c.explained else None
            consent = Consent(
                agreed=agreed,
                by=by,
                role=role,
                method=method,
                on=on,
                explained=[str(v) for v in explained] if isinstance(explained, list) else [],
            )
    profile: dict[str, Any] = {}
    if sets.profile is not None:
        p = sets.profile
        for key, source in (
            ("client_name", p.client_name),
            ("client_group", p.group),
            ("caregiver", p.caregiver),
        ):
            said = _str(values.get(source)) if source else None
            if said is not None:
                profile[key] = said.strip()
        for key, source in (("age", p.age), ("birth_year", p.birth_year)):
            number = _int(values.get(source)) if source else None
            if number is not None:
                profile[key] = number
    number = _int(values.get(sets.number)) if sets.number else None
    return Outcome(
        purpose=flow.purpose,
        held_on=_str(values.get(sets.held_on)) if sets.held_on else None,
        number=number,
        stage=_str(values.get(sets.stage)) if sets.stage else None,
        phase=phase,
        goals=dict(sorted(goals.items())),
        goal_ranges=goal_ranges,
        goal_results=dict(sorted(results.items())) if results is not None else None,
        consent=consent,
        profile=profile,
    )
