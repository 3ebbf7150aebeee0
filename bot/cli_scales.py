"""``caseflow score`` and ``caseflow instruments``: score a standard scale from the
command line, and describe the scales that are available.

``bot/cli.py`` calls :func:`register` with its subparsers; every handler takes the
parsed arguments and returns the exit code (0 ok, 1 a broken instrument file, 2 a
usage error such as a wrong number of answers or an answer that is not an option).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from flows.instruments import (
    Instrument,
    InstrumentError,
    InstrumentFileError,
    InstrumentNotFoundError,
    available_instruments,
    bundled_dir,
    load_instrument,
    load_instrument_file,
)
from flows.scoring import Score, ScoringError, score

__all__ = ["cmd_instruments_list", "cmd_instruments_show", "cmd_score", "register"]

SKIP = "-"
"""An answer of ``-`` leaves that item unanswered (the instrument's missing policy applies)."""

_UI: dict[str, dict[str, str]] = {
    "en": {
        "version": "version",
        "total": "Total",
        "range": "possible {low}–{high}; higher is {higher}",
        "better": "better",
        "worse": "worse",
        "band": "Band",
        "no_band": "(no band)",
        "subscales": "Subscales",
        "other": "Other scores",
        "flags": "FLAGS",
        "missing": "Unanswered",
        "none": "none",
        "not_scored": "not scored: {missing} of {n} items unanswered, at most {max} allowed",
        "prorated": "prorated from {answered} of {n} items",
    },
    "zh": {
        "version": "版本",
        "total": "总分",
        "range": "可能范围 {low}–{high}；分数越高表示越{higher}",
        "better": "好",
        "worse": "差",
        "band": "结果等级",
        "no_band": "（不分等级）",
        "subscales": "分量表",
        "other": "其他得分",
        "flags": "警示",
        "missing": "未作答",
        "none": "无",
        "not_scored": "未计分：{n} 题中有 {missing} 题未作答，最多允许 {max} 题未答",
        "prorated": "按已答 {answered}/{n} 题折算",
    },
}


def _ui(lang: str, key: str) -> str:
    return _UI.get(lang, _UI["en"])[key]


def _search_path(args: argparse.Namespace) -> list[str] | None:
    dirs: list[str] | None = getattr(args, "instruments_dir", None)
    return dirs or None


def _error(message: str) -> None:
    print(f"caseflow: error: {message}", file=sys.stderr)


def _load(args: argparse.Namespace, name: str) -> Instrument | int:
    try:
        return load_instrument(name, _search_path(args))
    except InstrumentNotFoundError as err:
        _error(str(err))
        return 2
    except InstrumentFileError as err:
        _error(str(err))
        return 1


def _check_lang(inst: Instrument, lang: str) -> int:
    if lang not in inst.languages:
        _error(f"{inst.id} is available in {', '.join(inst.languages)}, not {lang!r}")
        return 2
    return 0


# --------------------------------------------------------------------------- score


def cmd_score(args: argparse.Namespace) -> int:
    """Score one administration from answers given in item order."""
    loaded = _load(args, args.instrument)
    if isinstance(loaded, int):
        return loaded
    inst = loaded
    if rc := _check_lang(inst, args.lang):
        return rc
    given: Sequence[str] = args.answers
    ids = inst.item_ids
    if len(given) != len(ids):
        if len(given) < len(ids):
            detail = f"no answer for {ids[len(given)]}"
            if len(ids) - len(given) > 1:
                detail += f" … {ids[-1]}"
        else:
            detail = (
                f"answer {len(ids) + 1} ({given[len(ids)]!r}) has no item; the last is {ids[-1]}"
            )
        _error(
            f"{inst.id} has {len(ids)} items ({ids[0]} … {ids[-1]}) but {len(given)} "
            f"answers were given: {detail}.  Give one answer per item in order; use "
            f"'{SKIP}' for an unanswered item."
        )
        return 2
    answers = {
        item_id: (None if raw == SKIP else raw) for item_id, raw in zip(ids, given, strict=True)
    }
    try:
        result = score(inst, answers)
    except ScoringError as err:
        _error(str(err))
        return 2
    if args.json:
        json.dump(result.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        write_summary(inst, result, args.lang, sys.stdout)
    return 0


def _value_line(inst: Instrument, result: Score, scale_id: str, lang: str) -> str:
    s = result.scales[scale_id]
    name = inst.text(s.name, lang)
    if s.value is None:
        text = _ui(lang, "not_scored").format(
            missing=s.n_items - s.answered, n=s.n_items, max=s.max_missing
        )
        return f"{name}: {text}"
    line = f"{name}: {s.value}  ({s.minimum}–{s.maximum})"
    if s.band is not None:
        line += f"  {inst.text(s.band.label, lang)}"
    if s.prorated:
        line += "  [" + _ui(lang, "prorated").format(answered=s.answered, n=s.n_items) + "]"
    return line


def write_summary(inst: Instrument, result: Score, lang: str, out: TextIO) -> None:
    """A short human-readable summary: flags first, then total, band and subscales."""
    out.write(f"{inst.text(inst.name, lang)} ({_ui(lang, 'version')} {inst.version})\n")
    if result.flags:
        out.write(f"\n!! {_ui(lang, 'flags')}\n")
        for flag in result.flags:
            opt = inst.match_option(flag.item_id, flag.answer)
            label = inst.text(opt.label, lang) if opt is not None else ""
            out.write(
                f"!! [{flag.severity.upper()}] {flag.id} — {flag.item_id} = "
                f"{flag.answer} ({label})\n"
            )
            out.write(f"   {inst.text(flag.message, lang)}\n")
        out.write("\n")
    total = result.scales[result.total_scale]
    out.write(f"{_ui(lang, 'total')} ({inst.text(total.name, lang)}): ")
    if total.value is None:
        out.write(
            _ui(lang, "not_scored").format(
                missing=total.n_items - total.answered, n=total.n_items, max=total.max_missing
            )
            + "\n"
        )
    else:
        higher = _ui(lang, total.higher_is)
        out.write(
            f"{total.value}  ("
            + _ui(lang, "range").format(low=total.minimum, high=total.maximum, higher=higher)
            + ")\n"
        )
        if total.prorated:
            out.write("  " + _ui(lang, "prorated").format(answered=total.answered, n=total.n_items))
            out.write("\n")
        band = inst.text(total.band.label, lang) if total.band else _ui(lang, "no_band")
        bounds = f"  ({total.band.bounds_text()})" if total.band else ""
        out.write(f"{_ui(lang, 'band')}: {band}{bounds}\n")
    subs = [s.id for s in inst.scales if s.role == "subscale"]
    if subs:
        out.write(f"{_ui(lang, 'subscales')}:\n")
        for scale_id in subs:
            out.write(f"  {_value_line(inst, result, scale_id, lang)}\n")
    others = [s.id for s in inst.scales if s.role == "supplementary"]
    if others:
        out.write(f"{_ui(lang, 'other')}:\n")
        for scale_id in others:
            out.write(f"  {_value_line(inst, result, scale_id, lang)}\n")
    missing = ", ".join(result.missing) or _ui(lang, "none")
    out.write(f"{_ui(lang, 'missing')}: {missing}\n")


# --------------------------------------------------------------------------- instruments


def cmd_instruments_list(args: argparse.Namespace) -> int:
    """List every instrument on the search path (files outside the bundle show their path)."""
    bundled = str(bundled_dir())
    rc = 0
    rows: list[tuple[str, str, str, str, str]] = []
    for inst_id, path in available_instruments(_search_path(args)).items():
        try:
            inst = load_instrument_file(path)
        except InstrumentError as err:
            rows.append((inst_id, "?", "?", "?", f"INVALID: {str(err).splitlines()[0]}"))
            rc = 1
            continue
        if inst.id != inst_id:
            rows.append((inst_id, "?", "?", "?", f"INVALID: {path} declares id {inst.id}"))
            rc = 1
            continue
        name = inst.text(inst.name, args.lang)
        if not str(path).startswith(bundled):
            name += f"  [{path}]"
        langs = ",".join(inst.languages)
        rows.append((inst.id, str(inst.version), str(len(inst.items)), langs, name))
    header = ("ID", "VERSION", "ITEMS", "LANGUAGES", "NAME")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(4)]
        print("  ".join([*cells, row[4]]).rstrip())
    return rc


def cmd_instruments_show(args: argparse.Namespace) -> int:
    """Describe one instrument: source, licence, items, options, scoring, bands, flags."""
    loaded = _load(args, args.instrument)
    if isinstance(loaded, int):
        return loaded
    inst = loaded
    if rc := _check_lang(inst, args.lang):
        return rc
    describe(inst, args.lang, sys.stdout)
    return 0


def _options_text(inst: Instrument, item_id: str, lang: str) -> str:
    return ", ".join(
        f"{opt.value} = {inst.text(opt.label, lang)}" for opt in inst.options_for(item_id)
    )


def describe(inst: Instrument, lang: str, out: TextIO) -> None:
    """Everything a caseworker or an IT person needs to know about an instrument."""
    w = out.write
    w(f"{inst.text(inst.name, lang)}\n")
    w(f"id: {inst.id}   version: {inst.version}   languages: {', '.join(inst.languages)}\n")
    w(f"file: {inst.origin}\n")
    w(f"higher scores are {inst.higher_is}\n\n")
    w(f"Citation: {inst.citation}\n")
    w(f"Licence: {inst.licence}\n")
    w("Checked against:\n")
    for src in inst.sources:
        w(f"  - {src.url or src.reference}\n    ({src.checked})\n")
    if inst.translation_note:
        w(f"Translation: {inst.translation_note}\n")
    if inst.notes:
        w(f"Notes: {inst.notes}\n")
    if inst.instructions:
        w(f"\n{inst.text(inst.instructions, lang)}\n")
    default = inst.options
    if default is not None:
        w("Options: " + ", ".join(f"{o.value} = {inst.text(o.label, lang)}" for o in default))
        w("\n")
    w("\nItems:\n")
    for number_, item in enumerate(inst.items, start=1):
        marks = []
        if item.reverse:
            marks.append("reverse-keyed")
        if item.keyed is not None:
            marks.append(f"1 point if {item.keyed!r}")
        mark = f"  [{'; '.join(marks)}]" if marks else ""
        w(f"  {number_:>2}. {item.id}: {inst.text(item.text, lang)}{mark}\n")
        if item.options is not None:
            w(f"      options: {_options_text(inst, item.id, lang)}\n")
    w("\nScoring:\n")
    for scale in inst.scales:
        ids = inst.scale_items(scale.id)
        low, high = inst.scale_range(scale.id)
        items = "all items" if scale.items == "all" else ", ".join(ids)
        w(f"  {scale.id} ({scale.role}): {inst.text(scale.name, lang)}, {scale.method} of {items}")
        if scale.transform is not None:
            w(f", x {scale.transform.multiply}")
            if scale.transform.add:
                w(f" + {scale.transform.add}")
        w(f"; range {low}–{high}\n")
        policy = scale.missing
        if policy.max_missing:
            w(f"    missing: up to {policy.max_missing} unanswered, {policy.method}d")
        else:
            w("    missing: any unanswered item means no score")
        if scale.rounding is not None:
            w(f"; rounded to {scale.rounding.decimals} decimals ({scale.rounding.mode})")
        w("\n")
        for band in scale.bands:
            w(f"    {band.bounds_text():>9}  {inst.text(band.label, lang)}\n")
        if scale.reliability is not None:
            w(
                f"    reliable change: r = {scale.reliability}, SD = {scale.norm_sd} "
                f"({scale.reliability_source})\n"
            )
    if inst.flags:
        w("\nFlags (raised whatever the total):\n")
        for flag in inst.flags:
            rule = flag.when
            cond = (
                f"answer in {rule.answer_in}"
                if rule.answer_in is not None
                else f"answer >= {rule.answer_at_least}"
            )
            w(f"  {flag.id} [{flag.severity}]: {flag.item} {cond}\n")
            w(f"    {inst.text(flag.message, lang)}\n")


# --------------------------------------------------------------------------- wiring


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lang", default="en", help="language for labels and texts (en, zh; default en)"
    )
    parser.add_argument(
        "--instruments-dir",
        action="append",
        metavar="DIR",
        help="also look for instrument files in DIR (repeatable; searched before "
        "$CASEFLOW_INSTRUMENTS and the bundled instruments)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``score`` and ``instruments`` to a ``caseflow`` argument parser."""
    p = subparsers.add_parser(
        "score",
        help="score a standard scale (PHQ-9, GAD-7, WHO-5, GDS-15, UCLA-3, ...)",
        description="Score a standard scale from answers given in item order.  Each "
        "answer is the option's stored value (the number printed on the form, e.g. "
        "0-3 for the PHQ-9; 'yes'/'no' for the GDS-15) or its label in any language.  "
        f"Use '{SKIP}' for an unanswered item.",
    )
    p.add_argument("instrument", help="instrument id (see 'caseflow instruments list') or file")
    p.add_argument("answers", nargs="*", metavar="ANSWER", help="one answer per item, in order")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    _add_common(p)
    p.set_defaults(func=cmd_score)

    ip = subparsers.add_parser(
        "instruments", help="list or describe the standard scales that are available"
    )
    isub = ip.add_subparsers(dest="instruments_command", metavar="{list,show}", required=True)
    lp = isub.add_parser("list", help="list the available instruments")
    _add_common(lp)
    lp.set_defaults(func=cmd_instruments_list)
    sp = isub.add_parser(
        "show", help="describe one instrument (items, options, bands, citation, licence)"
    )
    sp.add_argument("instrument", help="instrument id or file")
    _add_common(sp)
    sp.set_defaults(func=cmd_instruments_show)
