"""Read a flow file: YAML → plain data with line numbers → validated ``Flow``.

Every problem is collected and reported at once (``FlowError.problems``), each with the file
and line, what is wrong and how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from flows.expressions import budget_error, parse_error, references
from flows.model import ITEM_TYPES, RESERVED_STATES, Flow, flag_id
from flows.problems import Code, FlowError, Problem

Loc = tuple[str | int, ...]

_PLAIN = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
BUNDLED_DIR = Path(str(resources.files("flows") / "bundled"))


class _Located:
    """Plain data from a YAML document, with the line of every mapping key and list entry."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.lines: dict[Loc, int] = {}

    def build(self, node: yaml.Node, loc: Loc = ()) -> Any:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN:
            raise yaml.constructor.ConstructorError(
                None, None, f"the tag {node.tag} is not allowed in a flow", node.start_mark
            )
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, (*loc, "<key>"))
                if isinstance(key, list | dict):
                    key = str(key)
                elif isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode):
                    # A key is a name: `yes:` in `labels: {yes: ..., no: ...}` is the word
                    # yes, not the boolean YAML 1.1 would make of it.
                    key = key_node.value
                self.lines[(*loc, key)] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, (*loc, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*loc, i)) for i, child in enumerate(node.value)]
        # Scalars go through the safe loader, so tags such as !!python/object are refused.
        return self.loader.construct_object(node, deep=True)

    def line(self, data: Any, loc: Iterable[str | int]) -> int:
        """The line of ``loc``, following only the parts of it that exist in ``data``."""
        best: Loc = ()
        for part in loc:
            if isinstance(data, dict) and part in data:
                data = data[part]
            elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
                data = data[part]
            else:
                continue  # a pydantic union tag or a missing field: stay on the parent
            best = (*best, part)
        return self.lines.get(best, 1)


def _compose(text: str, file: str) -> tuple[Any, _Located]:
    loader = yaml.SafeLoader(text)
    located = _Located(loader)
    try:
        node = loader.get_single_node()
        data = located.build(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        detail = getattr(exc, "problem", None) or str(exc)
        raise FlowError([Problem.make(Code.YAML_SYNTAX, file, line, detail=detail)]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise FlowError([Problem.make(Code.NOT_A_MAPPING, file, located.lines.get((), 1))])
    return data, located


def _where(loc: Loc) -> str:
    names = [p for p in loc if isinstance(p, str)]
    if "flags" in names:
        return "a flag"
    if "followups" in names:
        return "a follow-up"
    if "items" in names:
        return "an item"
    if "stages" in names:
        return "a stage"
    return "the flow"


def _pydantic_problems(
    exc: ValidationError, data: Any, located: _Located, file: str
) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc: Loc = tuple(err["loc"])
        line = located.line(data, loc)
        kind = err["type"]
        if kind == "missing":
            problem = Problem.make(Code.MISSING_FIELD, file, line, field=loc[-1], where=_where(loc))
        elif kind == "extra_forbidden":
            problem = Problem.make(
                Code.UNKNOWN_FIELD, file, line, field=loc[-1], where=_where(loc[:-1])
            )
        elif kind == "union_tag_invalid":
            value = (err.get("ctx") or {}).get("tag", "?")
            line = located.line(data, (*loc, "type"))
            problem = Problem.make(Code.UNKNOWN_TYPE, file, line, value=value)
        elif kind == "union_tag_not_found":
            problem = Problem.make(Code.MISSING_TYPE, file, line)
        elif kind == "literal_error" and loc and loc[-1] == "severity":
            problem = Problem.make(Code.BAD_SEVERITY, file, line, value=err.get("input"))
        elif kind == "missing_translation":
            ctx = err.get("ctx") or {}
            problem = Problem.make(
                Code.MISSING_TRANSLATION, file, line, lang=ctx["lang"], languages=ctx["languages"]
            )
        else:
            field = ".".join(str(p) for p in loc if p not in ITEM_TYPES)
            problem = Problem.make(Code.BAD_VALUE, file, line, detail=f"{field}: {err['msg']}")
        problems.append(problem)
    return problems


def _items(data: dict[str, Any]) -> Iterator[tuple[Loc, dict[str, Any]]]:
    for s, stage in enumerate(data.get("stages") or []):
        if not isinstance(stage, dict):
            continue
        for i, item in enumerate(stage.get("items") or []):
            if isinstance(item, dict):
                yield ("stages", s, "items", i), item


def _semantic_problems(
    data: dict[str, Any], located: _Located, file: str, instruments: set[str] | None
) -> list[Problem]:
    """Checks that need more than one field: ids, references, ranges, instruments."""
    problems: list[Problem] = []

    def add(code: Code, loc: Loc, **params: object) -> None:
        problems.append(Problem.make(code, file, located.line(data, loc), **params))

    seen: dict[str, Loc] = {}
    order: dict[str, int] = {}
    flag_seen: dict[str, Loc] = {}
    types: dict[str, Any] = {str(item.get("id")): item.get("type") for _loc, item in _items(data)}
    for s, stage in enumerate(data.get("stages") or []):
        if not isinstance(stage, dict):
            continue
        if not stage.get("items") and not stage.get("instrument"):
            add(Code.EMPTY_STAGE, ("stages", s))
        inst = stage.get("instrument")
        if inst and instruments is not None and inst not in instruments:
            known = ", ".join(sorted(instruments)) or "none"
            add(Code.UNKNOWN_INSTRUMENT, ("stages", s, "instrument"), id=inst, known=known)
        elif inst and instruments is not None:
            spoken = _instrument_languages(inst)
            languages = data.get("languages")
            wanted: list[Any] = languages if isinstance(languages, list) else []
            missing = [lang for lang in wanted if spoken is not None and lang not in spoken]
            if missing:
                add(
                    Code.INSTRUMENT_LANGUAGES,
                    ("stages", s, "instrument"),
                    id=inst,
                    missing=", ".join(map(str, missing)),
                )
    for loc, item in _items(data):
        item_id = item.get("id")
        if isinstance(item_id, str):
            if item_id in RESERVED_STATES:
                add(Code.RESERVED_ID, (*loc, "id"), id=item_id)
            if item_id in seen:
                first = located.line(data, seen[item_id])
                add(Code.DUPLICATE_ID, (*loc, "id"), id=item_id, first_line=first)
            else:
                seen[item_id] = (*loc, "id")
                order[item_id] = len(order)
        lo, hi = item.get("min"), item.get("max")
        if item.get("type") == "scale" and isinstance(lo, int) and isinstance(hi, int):
            if lo >= hi:
                add(Code.BAD_RANGE, loc, min=lo, max=hi)
            elif item.get("style") == "faces" and not 2 <= hi - lo + 1 <= 5:
                add(Code.FACES_SIZE, (*loc, "style"), points=hi - lo + 1)
            for anchor in item.get("anchors") or {}:
                if isinstance(anchor, int) and not lo <= anchor <= hi:
                    add(
                        Code.ANCHOR_OUT_OF_RANGE,
                        (*loc, "anchors", anchor),
                        anchor=anchor,
                        min=lo,
                        max=hi,
                    )
        rules = item.get("validation")
        if isinstance(rules, dict):
            lo, hi = rules.get("min"), rules.get("max")
            if isinstance(lo, int | float) and isinstance(hi, int | float) and lo > hi:
                add(Code.BAD_RANGE, (*loc, "validation"), min=lo, max=hi)
            pattern = rules.get("pattern")
            if isinstance(pattern, str):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    add(Code.BAD_PATTERN, (*loc, "validation", "pattern"), detail=str(exc))
        values = [o.get("value") for o in item.get("options") or [] if isinstance(o, dict)]
        for value in {v for v in values if values.count(v) > 1}:
            add(Code.DUPLICATE_OPTION, (*loc, "options"), value=value)
        _check_answer_words(item, loc, add)
        _check_flags(item, loc, add, flag_seen, located, data)
    _check_followups(data, add, types)
    _check_expressions(data, add, order)
    _check_case_file(data, add, lambda loc: located.line(data, loc))
    return problems


_KINDS = {
    "date": "a date",
    "number": "a number",
    "choice": "a choice",
    "scale": "a scale",
    "yesno": "a yes/no",
    "text": "a text",
    "multi": "a multi-choice",
    "goals": "a choice among the case's goals (options_from: case.goals)",
}


def _check_case_file(data: dict[str, Any], add: Any, line: Any) -> None:
    """``sets:`` and ``scores:`` name items of the right type, with values that fit."""
    from flows.model import CLIENT_GROUPS, CONSENT_METHODS, CONSENT_ROLES

    items = {str(item.get("id")): (loc, item) for loc, item in _items(data)}

    def check(loc: Loc, where: str, item_id: Any, *types: str) -> dict[str, Any] | None:
        if not isinstance(item_id, str):
            return None  # pydantic reports a value of the wrong type
        found = items.get(item_id)
        kind = found[1].get("type") if found else None
        goals = found is not None and found[1].get("options_from") == "case.goals"
        wanted = "goals" in types and goals and kind in ("choice", "multi")
        if found is None or not (wanted or (kind in types and "goals" not in types)):
            add(Code.SETS_ITEM, loc, where=where, item=item_id, kind=_KINDS[types[0]])
            return None
        return found[1]

    def values_in(loc: Loc, where: str, item: dict[str, Any], allowed: tuple[str, ...]) -> None:
        for option in item.get("options") or []:
            value = option.get("value") if isinstance(option, dict) else None
            if value is not None and str(value) not in allowed:
                add(
                    Code.SETS_VALUE,
                    loc,
                    item=item.get("id"),
                    value=value,
                    where=where,
                    allowed=", ".join(allowed),
                )

    sets = data.get("sets")
    if isinstance(sets, dict):
        for key, kind in (("held_on", "date"), ("number", "number"), ("stage", "choice")):
            if key in sets:
                check(("sets", key), f"sets.{key}", sets[key], kind)
        for key in ("goals_worked", "goals_met", "goals_partly_met"):
            if key in sets:
                check(("sets", key), f"sets.{key}", sets[key], "goals")
        progress = sets.get("goal_progress")
        if isinstance(progress, dict):
            for number, item_id in progress.items():
                loc: Loc = ("sets", "goal_progress", number)
                check(loc, f"sets.goal_progress.{number}", item_id, "scale")
        phase = sets.get("phase")
        if isinstance(phase, dict):
            item = check(("sets", "phase", "item"), "sets.phase.item", phase.get("item"), "choice")
            mapping = phase.get("map")
            if item is not None and isinstance(mapping, dict):
                offered = [
                    str(o.get("value")) for o in item.get("options") or [] if isinstance(o, dict)
                ]
                for answer in mapping:
                    if str(answer) not in offered:
                        add(
                            Code.SETS_VALUE,
                            ("sets", "phase", "map", answer),
                            item=item.get("id"),
                            value=answer,
                            where="sets.phase.map",
                            allowed=", ".join(offered),
                        )
        consent = sets.get("consent")
        if isinstance(consent, dict):
            fields = (
                ("agreed", "yesno"),
                ("by", "text"),
                ("role", "choice"),
                ("method", "choice"),
                ("date", "date"),
                ("explained", "multi"),
            )
            for key, kind in fields:
                if key not in consent:
                    continue
                loc = ("sets", "consent", key)
                item = check(loc, f"sets.consent.{key}", consent[key], kind)
                if item is not None and key == "role":
                    values_in(loc, "a consent's role", item, CONSENT_ROLES)
                if item is not None and key == "method":
                    values_in(loc, "a consent's method", item, CONSENT_METHODS)
        profile = sets.get("profile")
        if isinstance(profile, dict):
            for key, kind in (
                ("client_name", "text"),
                ("age", "number"),
                ("birth_year", "number"),
                ("group", "choice"),
                ("caregiver", "text"),
            ):
                if key not in profile:
                    continue
                loc = ("sets", "profile", key)
                item = check(loc, f"sets.profile.{key}", profile[key], kind)
                if item is not None and key == "group":
                    values_in(loc, "a profile's group", item, CLIENT_GROUPS)
    purpose = data.get("purpose")
    if purpose == "consent" and not (isinstance(sets, dict) and sets.get("consent")):
        add(Code.PURPOSE_NEEDS, ("purpose",), purpose=purpose, field="sets.consent")
    _check_scores(data, add, line, items)


def _check_scores(
    data: dict[str, Any], add: Any, line: Any, items: dict[str, tuple[Loc, dict[str, Any]]]
) -> None:
    scores = data.get("scores")
    if not isinstance(scores, list):
        return
    seen: dict[str, Loc] = {}
    for n, score in enumerate(scores):
        if not isinstance(score, dict):
            continue
        score_id = str(score.get("id"))
        if score_id in seen:
            add(
                Code.DUPLICATE_ID, ("scores", n, "id"), id=score_id, first_line=line(seen[score_id])
            )
        seen.setdefault(score_id, ("scores", n, "id"))
        ranges: list[tuple[int, int]] = []
        lists: list[tuple[Loc, Any]] = [(("scores", n, "items"), score.get("items"))]
        for m, sub in enumerate(score.get("subscales") or []):
            if isinstance(sub, dict):
                lists.append((("scores", n, "subscales", m, "items"), sub.get("items")))
                if sub.get("id") == "total":
                    add(Code.TOTAL_SUBSCALE, ("scores", n, "subscales", m, "id"))
        for loc, ids in lists:
            for k, item_id in enumerate(ids if isinstance(ids, list) else []):
                found = items.get(str(item_id))
                item = found[1] if found else {}
                if item.get("type") != "scale":
                    add(Code.SCORE_ITEM, (*loc, k), score=score_id, item=item_id)
                elif loc[-1] == "items" and len(loc) == 3:
                    lo, hi = item.get("min"), item.get("max")
                    if isinstance(lo, int) and isinstance(hi, int):
                        ranges.append((lo, hi))
        bounds: list[tuple[float, float]] = []
        for band in score.get("bands") or []:
            lo, hi = (
                (band.get("at_least"), band.get("at_most")) if isinstance(band, dict) else (0, 0)
            )
            if not isinstance(lo, int | float) or not isinstance(hi, int | float):
                break  # pydantic reports the value
            bounds.append((float(lo), float(hi)))
        else:
            if bounds and not _bands_fit(bounds, ranges, score.get("method", "mean")):
                add(Code.SCORE_BANDS, ("scores", n, "bands"), score=score_id)


def _bands_fit(
    bounds: list[tuple[float, float]], ranges: list[tuple[int, int]], method: object
) -> bool:
    """Bands in order, not overlapping, and inside the range the total can take."""
    if any(lo > hi for lo, hi in bounds) or any(a[1] >= b[0] for a, b in pairwise(bounds)):
        return False
    if not ranges:
        return True
    low, high = float(sum(r[0] for r in ranges)), float(sum(r[1] for r in ranges))
    if method != "sum":
        low, high = low / len(ranges), high / len(ranges)
    return bounds[0][0] >= low and bounds[-1][1] <= high


def _check_answer_words(item: dict[str, Any], loc: Loc, add: Any) -> None:
    """Exclusive options, yes/no labels and deadlines: what a respondent could not answer."""
    options = [o for o in item.get("options") or [] if isinstance(o, dict)]
    for o, option in enumerate(item.get("options") or []):
        if not isinstance(option, dict) or option.get("exclusive") is not True:
            continue
        where = (*loc, "options", o, "exclusive")
        rules = item.get("validation")
        least = rules.get("min") if isinstance(rules, dict) else None
        if item.get("type") != "multi":
            add(Code.EXCLUSIVE_NOT_MULTI, where, type=item.get("type"))
        elif isinstance(least, int) and least > 1:
            add(Code.EXCLUSIVE_MIN, where, value=option.get("value"), min=least)
    if len(options) and all(o.get("exclusive") is True for o in options):
        add(Code.ALL_EXCLUSIVE, (*loc, "options"))
    labels = item.get("labels")
    if item.get("type") == "yesno" and isinstance(labels, dict):
        yes, no = labels.get("yes"), labels.get("no")
        if isinstance(yes, dict) and isinstance(no, dict):
            for lang, text in yes.items():
                other = no.get(lang)
                same = isinstance(text, str) and isinstance(other, str)
                if same and str(text).strip().casefold() == str(other).strip().casefold():
                    add(Code.SAME_YESNO_LABELS, (*loc, "labels", "no", lang), text=text)
    rules = item.get("validation")
    if item.get("deadline") is True and isinstance(rules, dict) and rules.get("not_future"):
        add(Code.DEADLINE_NOT_FUTURE, (*loc, "validation", "not_future"))


def _flag_places(item: dict[str, Any], loc: Loc) -> Iterator[tuple[Loc, dict[str, Any], Any]]:
    """Every flag of an item as (location, raw flag, option value or None)."""
    for f, flag in enumerate(item.get("flags") or []):
        if isinstance(flag, dict):
            yield (*loc, "flags", f), flag, None
    for o, option in enumerate(item.get("options") or []):
        if not isinstance(option, dict):
            continue
        for f, flag in enumerate(option.get("flags") or []):
            if isinstance(flag, dict):
                yield (*loc, "options", o, "flags", f), flag, option.get("value", o)


def _check_flags(
    item: dict[str, Any],
    loc: Loc,
    add: Any,
    seen: dict[str, Loc],
    located: _Located,
    data: dict[str, Any],
) -> None:
    """Item flags need a condition, notes cannot raise any, and flag ids are unique."""
    item_id = str(item.get("id"))
    counts: dict[Any, int] = {}
    for where, flag, option in _flag_places(item, loc):
        index = counts.get(option, 0)
        counts[option] = index + 1
        if item.get("type") == "note":
            add(Code.FLAG_ON_NOTE, where)
            continue
        if option is None and not flag.get("when"):
            add(Code.FLAG_WITHOUT_CONDITION, where, item=item_id)
        own = flag.get("id")
        fid = flag_id(own if isinstance(own, str) else None, item_id, index, option)
        if fid in seen:
            first = located.line(data, seen[fid])
            add(Code.DUPLICATE_FLAG, where, id=fid, first_line=first)
        else:
            seen[fid] = where


def _check_followups(data: dict[str, Any], add: Any, types: dict[str, Any]) -> None:
    """A follow-up names a text item (what), a date item (by when), a choice item (who)."""
    for n, rule in enumerate(data.get("followups") or []):
        if not isinstance(rule, dict):
            continue
        for field, kind in (("what", "text"), ("due", "date"), ("owner", "choice")):
            ref = rule.get(field)
            if ref is not None and types.get(ref) != kind:
                add(Code.FOLLOWUP_ITEM, ("followups", n, field), field=field, ref=ref, kind=kind)


def _check_expressions(data: dict[str, Any], add: Any, order: dict[str, int]) -> None:
    """Every condition and piped text parses and reads only items asked before it."""

    def check(source: Any, loc: Loc, position: int, *, template: bool) -> None:
        if not isinstance(source, str):
            return
        error = parse_error(source, template=template)
        if error:
            add(Code.EXPRESSION_SYNTAX, loc, detail=error)
            return
        exhausting = budget_error(source, template=template)
        if exhausting:
            add(Code.EXPRESSION_BUDGET, loc, detail=exhausting)
        for ref in sorted(references(source, template=template)):
            if ref not in order:
                add(Code.UNKNOWN_REFERENCE, loc, ref=ref)
            elif order[ref] >= position:
                add(Code.FORWARD_REFERENCE, loc, ref=ref)

    def check_texts(texts: Any, loc: Loc, position: int) -> None:
        if isinstance(texts, dict):
            for lang, text in texts.items():
                check(text, (*loc, lang), position, template=True)

    for s, stage in enumerate(data.get("stages") or []):
        if not isinstance(stage, dict):
            continue
        first = next(
            (
                order.get(str(i.get("id")), 0)
                for i in stage.get("items") or []
                if isinstance(i, dict)
            ),
            len(order),
        )
        check(stage.get("when"), ("stages", s, "when"), first, template=False)
        check_texts(stage.get("intro"), ("stages", s, "intro"), first)
    for loc, item in _items(data):
        position = order.get(str(item.get("id")), len(order))
        check(item.get("when"), (*loc, "when"), position, template=False)
        for key in ("prompt", "help"):
            check_texts(item.get(key), (*loc, key), position)
        for p, probe in enumerate(item.get("probes") or []):
            if isinstance(probe, dict):
                check(probe.get("when"), (*loc, "probes", p, "when"), position + 1, template=False)
                check_texts(probe.get("prompt"), (*loc, "probes", p, "prompt"), position + 1)
        # A flag reads this answer and earlier ones.
        for where, flag, _option in _flag_places(item, loc):
            check(flag.get("when"), (*where, "when"), position + 1, template=False)
            for key in ("message", "respondent_message"):
                check_texts(flag.get(key), (*where, key), position + 1)
    for n, rule in enumerate(data.get("followups") or []):
        if isinstance(rule, dict):
            check(rule.get("when"), ("followups", n, "when"), len(order), template=False)


def _instrument_languages(instrument_id: str) -> list[str] | None:
    try:
        from flows.instruments import load_instrument

        return list(load_instrument(instrument_id).languages)
    except Exception:  # reported as UNKNOWN_INSTRUMENT, or checked when the flow compiles
        return None


def _known_instruments() -> set[str] | None:
    try:
        from flows.instruments import available_instrument_ids
    except ImportError:  # scales not installed in this build
        return None
    return set(available_instrument_ids())


def parse_flow(text: str, file: str = "<flow>", *, instruments: set[str] | None = None) -> Flow:
    """Validate flow YAML text; raises ``FlowError`` listing every problem."""
    data, located = _compose(text, file)
    languages = data.get("languages")
    context = {"languages": languages if isinstance(languages, list) else []}
    problems: list[Problem] = []
    flow: Flow | None = None
    try:
        flow = Flow.model_validate(data, context=context)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, data, located, file))
    if instruments is None:
        instruments = _known_instruments()
    problems.extend(_semantic_problems(data, located, file, instruments))
    if problems or flow is None:
        raise FlowError(problems)
    return flow


def load_flow(path: str | Path) -> Flow:
    """Read and validate one flow file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError([Problem.make(Code.YAML_SYNTAX, str(path), 1, detail=str(exc))]) from None
    return parse_flow(text, str(path))


def bundled_flow_paths() -> list[Path]:
    """The flow files that ship with caseflow."""
    return sorted(BUNDLED_DIR.glob("*.yaml"))


FLOW_ID = re.compile(r"^[a-z0-9_]{1,64}$")


def find_flow(name: str, search: Iterable[Path] = (), *, allow_path: bool = False) -> Path:
    """A flow by id (bundled or in ``search`` dirs); by a file path only with ``allow_path``.

    An id is ``[a-z0-9_]`` and nothing else: a name that reached us in a button, a command
    or a schedule is a claim, and ``/etc/x`` or ``../x`` must never become a file read."""
    if allow_path:
        candidate = Path(name)
        if candidate.suffix in (".yaml", ".yml") and candidate.exists():
            return candidate
    if not FLOW_ID.match(name):
        raise FileNotFoundError(name)
    for folder in (*search, BUNDLED_DIR):
        for suffix in (".yaml", ".yml"):
            path = Path(folder) / f"{name}{suffix}"
            if path.exists():
                return path
    raise FileNotFoundError(name)
