"""Tidy tables of what is stored, for Excel, SPSS or R: one row per answer, one row per score.

``export`` writes four tables into a folder, as CSV (UTF-8 with a byte-order mark, so Excel
opens Chinese text correctly; one header row; ISO 8601 timestamps in UTC) or as JSON (an
array of row objects per table):

- ``answers``: the latest revision of every answer, one row each;
- ``scores``: every scale of every scored stage (total, subscales, other scores), one row
  each, in long format;
- ``items``: the codebook of every question in the flow versions exported, with its values;
- ``variables``: what every column of the other tables means.

Multiple choices are joined with ``;``, yes/no is ``1``/``0``, and a voice answer has an
empty value (its label says it was a voice message). In CSV, a text that a spreadsheet would
run as a formula (it starts with ``=``, ``+``, ``-`` or ``@``) is prefixed with ``'``; the
JSON tables keep every value as stored.

The tables hold case data: each file is 0600 and a folder the export creates 0700, whatever
the umask (``storage/files.py``).
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from flows import answers as answer_types
from flows.engine import Engine
from flows.model import ChoiceItem, MultiItem, NoteItem, ScaleItem, YesNoItem
from flows.registry import FlowRegistry
from storage.files import private_dir, private_text, write_private
from storage.records import Records
from storage.store import Case, Store
from templates.i18n import parse_moment

__all__ = ["EXPORT_FORMATS", "TABLES", "VARIABLES", "export", "plain"]

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("csv", "json")
TABLES = ("answers", "scores", "items", "variables")

VARIABLES: dict[str, list[tuple[str, str]]] = {
    "answers": [
        ("case", "Case code."),
        ("session", "Session id (one interview)."),
        ("flow", "Flow (interview) id; see items for its questions."),
        ("flow_version", "Version of the flow the session used."),
        ("phase", "baseline, pre, mid, post, follow-up or ongoing."),
        ("lang", "Language the session was held in (en, zh)."),
        ("channel", "where the session started: terminal, telegram or web."),
        ("session_status", "completed, cancelled, active or paused."),
        ("respondent", "Person id of the respondent (no names are exported)."),
        ("respondent_role", "worker, supervisor, caregiver or client."),
        ("stage", "Stage (part) of the flow the question belongs to."),
        ("item", "Question id; a probe is <item>.<probe>."),
        ("parent_item", "For a probe: the question it follows up; empty otherwise."),
        ("status", "answered or skipped (questions that no longer apply are left out)."),
        (
            "value",
            "The stored answer as text: a choice's value, multiple choices joined with ';', "
            "yes/no as 1/0, numbers and dates (YYYY-MM-DD) as written; empty when skipped or "
            "a voice message. In CSV a text starting with = + - or @ is prefixed with '.",
        ),
        ("label", "The answer as the respondent saw it, in the session's language."),
        ("answered_at", "When the answer was given (ISO 8601, UTC)."),
        ("revision", "1 for the first answer; higher when the answer was changed."),
        ("changed_by", "Person id who wrote this revision."),
        ("reason", "Why the answer was changed after the interview, when it was."),
    ],
    "scores": [
        ("case", "Case code."),
        ("session", "Session id."),
        ("flow", "Flow id."),
        ("flow_version", "Flow version."),
        ("phase", "baseline, pre, mid, post, follow-up or ongoing."),
        ("session_status", "completed, cancelled, active or paused."),
        ("completed_at", "When the session was completed (ISO 8601, UTC)."),
        ("stage", "Stage of the flow that holds the instrument."),
        ("instrument", "Instrument (standard scale) id, e.g. phq9."),
        ("instrument_version", "Version of the instrument file used to score."),
        ("scale", "Scale id within the instrument: the total, a subscale or another score."),
        ("scale_role", "total, subscale or supplementary."),
        ("value", "The score; empty when too many items were unanswered to score."),
        ("band", "Band id of the score (cut-off range), if the scale has bands."),
        ("band_label", "Band label in the export's language."),
        ("answered_items", "How many of the scale's items were answered."),
        ("items", "How many items the scale has."),
        ("prorated", "1 when the score was prorated for unanswered items, else 0."),
        ("flags", "Ids of the safety flags this administration raised, joined with ';'."),
        ("flag_severities", "Severity of each flag (urgent, warning, info), joined with ';'."),
        ("computed_at", "When the score was computed (ISO 8601, UTC)."),
        ("revision", "1 for the first score; higher when an answer change rescored it."),
    ],
    "items": [
        ("flow", "Flow id."),
        ("flow_version", "Flow version."),
        ("stage", "Stage id."),
        ("item", "Question id, as in answers.item."),
        ("parent_item", "For a probe: the question it follows up."),
        ("type", "text, choice, multi, scale, number, date or yesno."),
        ("instrument", "Instrument id when the item belongs to a standard scale."),
        ("label", "Short label of the question in the export's language."),
        ("prompt", "The question as asked, in the export's language."),
        ("values", "For choices, scales and yes/no: value = label pairs joined with ';'."),
    ],
    "variables": [
        ("table", "Which table the column belongs to."),
        ("variable", "Column name."),
        ("description", "What the column holds."),
    ],
}

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _iso(text: str | None) -> str:
    """A stored timestamp as ISO 8601 in UTC to the second: ``2026-03-14T09:30:00Z``."""
    moment = parse_moment(text)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def plain(value: Any) -> str:
    """A stored answer or score as plain text for a table cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}" if value.is_integer() else repr(value)
    if isinstance(value, list):
        return ";".join(plain(v) for v in value)
    if isinstance(value, dict):
        return ""  # a voice message: nothing an analysis can use; the label says what it was
    return str(value)


def _cell(value: Any) -> Any:
    """A CSV cell: numbers as they are; text that a spreadsheet would run as a formula
    prefixed with ``'`` (a negative number stays a number)."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def _answer_rows(records: Records, case_ids: Sequence[int], native: bool) -> list[dict[str, Any]]:
    out = []
    for row in records.export_answers(case_ids):
        value = None if row["value"] is None else json.loads(row["value"])
        if isinstance(value, dict):
            value = None  # a voice message
        out.append(
            {
                "case": row["case_code"],
                "session": row["session_id"],
                "flow": row["flow_id"],
                "flow_version": row["flow_version"],
                "phase": row["phase"],
                "lang": row["lang"],
                "channel": row["channel"],
                "session_status": row["session_status"],
                "respondent": row["respondent_id"],
                "respondent_role": row["respondent_role"],
                "stage": row["stage_id"],
                "item": row["question_id"],
                "parent_item": row["parent_id"] or "",
                "status": row["status"],
                "value": value if native else plain(value),
                "label": row["display"] or "",
                "answered_at": _iso(row["answered_at"]),
                "revision": row["revision"],
                "changed_by": row["changed_by"],
                "reason": row["reason"] or "",
            }
        )
    return out


def _text(texts: dict[str, str] | None, lang: str) -> str:
    if not texts:
        return ""
    return texts.get(lang) or next(iter(texts.values()), "")


def _score_rows(records: Records, case_ids: Sequence[int], lang: str) -> list[dict[str, Any]]:
    out = []
    for row in records.export_scores(case_ids):
        result: dict[str, Any] = json.loads(row["result"])
        flags = result.get("flags") or []
        scales: dict[str, Any] = result.get("scales") or {}
        for scale_id, scale in scales.items():
            band = scale.get("band") or {}
            out.append(
                {
                    "case": row["case_code"],
                    "session": row["session_id"],
                    "flow": row["flow_id"],
                    "flow_version": row["flow_version"],
                    "phase": row["phase"],
                    "session_status": row["session_status"],
                    "completed_at": _iso(row["completed_at"]),
                    "stage": row["stage_id"],
                    "instrument": row["instrument_id"],
                    "instrument_version": row["instrument_version"],
                    "scale": scale_id,
                    "scale_role": scale.get("role", ""),
                    "value": scale.get("value"),
                    "band": band.get("id", ""),
                    "band_label": _text(band.get("label"), lang),
                    "answered_items": scale.get("answered"),
                    "items": scale.get("items"),
                    "prorated": 1 if scale.get("prorated") else 0,
                    "flags": ";".join(str(f.get("id", "")) for f in flags),
                    "flag_severities": ";".join(str(f.get("severity", "")) for f in flags),
                    "computed_at": _iso(row["computed_at"]),
                    "revision": row["revision"],
                }
            )
    return out


def _values(item: Any, lang: str) -> str:
    if isinstance(item, ChoiceItem | MultiItem):
        return ";".join(f"{o.value}={_text(o.label, lang)}" for o in item.options)
    if isinstance(item, ScaleItem):
        return ";".join(f"{v}={label}" for v, label in answer_types.scale_options(item, lang))
    if isinstance(item, YesNoItem):
        yes, no = answer_types.display(item, True, lang), answer_types.display(item, False, lang)
        return f"1={yes};0={no}"
    return ""


def _item_rows(engines: Iterable[tuple[str, int, Engine]], lang: str) -> list[dict[str, Any]]:
    out = []
    for flow_id, version, engine in engines:
        for q in engine.questions:
            if isinstance(q.item, NoteItem):
                continue
            render = q.prompt.get(lang) or next(iter(q.prompt.values()), None)
            prompt = render({"answers": {}, "labels": {}, "case": {}, "last": {}}) if render else ""
            out.append(
                {
                    "flow": flow_id,
                    "flow_version": version,
                    "stage": q.stage.id,
                    "item": q.id,
                    "parent_item": q.parent or "",
                    "type": q.item.type,
                    "instrument": q.instrument or "",
                    "label": q.item.label(lang) if q.parent is None else prompt,
                    "prompt": prompt,
                    "values": _values(q.item, lang),
                }
            )
    return out


def _engine(store: Store, registry: FlowRegistry, flow_id: str, version: int) -> Engine | None:
    try:
        return registry.engine(flow_id, version, lambda: store.flow_source(flow_id, version))
    except Exception as exc:
        log.warning("flow %s v%s does not compile: %s", flow_id, version, type(exc).__name__)
        return None


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    # utf-8-sig writes the byte-order mark that makes Excel read the file as UTF-8.
    with private_text(path, encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(plain(row[c]) if c == "value" else row[c]) for c in columns])


def export(
    store: Store,
    cases: Sequence[Case],
    out_dir: str | Path,
    fmt: str,
    *,
    lang: str = "en",
    actor_id: int | None = None,
    registry: FlowRegistry | None = None,
) -> list[Path]:
    """Write the tables of ``cases`` into ``out_dir`` as ``fmt`` (csv or json); returns the
    files written. Writes one audit row per case."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use csv or json")
    records = Records(store)
    registry = registry or FlowRegistry()
    case_ids = [c.id for c in cases]
    native = fmt == "json"
    answers = _answer_rows(records, case_ids, native)
    scores = _score_rows(records, case_ids, lang)
    versions = sorted({(r["flow"], int(r["flow_version"])) for r in answers})
    engines = []
    for flow_id, version in versions:
        engine = _engine(store, registry, flow_id, version)
        if engine is not None:  # an old flow that no longer compiles still exports its answers
            engines.append((flow_id, version, engine))
    items = _item_rows(engines, lang)
    variables = [
        {"table": table, "variable": name, "description": text}
        for table, columns in VARIABLES.items()
        for name, text in columns
    ]
    tables = {"answers": answers, "scores": scores, "items": items, "variables": variables}
    folder = private_dir(out_dir)  # answers are case data: 0700 folder, 0600 files
    written = []
    for table in TABLES:
        columns = [name for name, _ in VARIABLES[table]]
        path = folder / f"{table}.{fmt}"
        if native:
            text = json.dumps(tables[table], ensure_ascii=False, indent=1)
            write_private(path, text + "\n")
        else:
            _write_csv(path, columns, tables[table])
        written.append(path)
    for case in cases:
        store.audit(
            actor_id,
            "records.export",
            "case",
            case.id,
            case.id,
            format=fmt,
            answers=sum(1 for r in answers if r["case"] == case.code),
            scores=sum(1 for r in scores if r["case"] == case.code),
        )
    return written
