"""Instrument files: the bundled ones are complete and consistent, the loader finds files
on its search path, and broken files are refused with a message that says what to fix.

The generic checks are parametrised over every shipped file (and the RSCA example), so
a new instrument is covered without new tests."""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli_scales import register
from flows.instruments import (
    ENV_VAR,
    Instrument,
    InstrumentError,
    InstrumentFileError,
    InstrumentNotFoundError,
    available_instrument_ids,
    available_instruments,
    bundled_dir,
    bundled_instrument_ids,
    load_instrument,
    parse_instrument,
)
from flows.scoring import score

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "instruments" / "rsca_example.yaml"
BUNDLED = ["gad7", "gds15", "phq9", "ucla3", "who5"]
# The generic checks run over whatever is shipped, so a new file is covered automatically.
ALL_FILES = [*bundled_instrument_ids(), str(EXAMPLE)]


@pytest.fixture(autouse=True)
def _no_env_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def filled_example() -> str:
    """The RSCA example as an organisation fills it in (here with stand-in texts): as
    shipped it refuses to load while it still says PLACEHOLDER."""
    text = EXAMPLE.read_text(encoding="utf-8")
    return text.replace("PLACEHOLDER", "Filled in from the licensed copy")


def _load(name: str) -> Instrument:
    if name == str(EXAMPLE):
        return parse_instrument(filled_example(), name)
    return load_instrument(name)


def _texts(inst: Instrument) -> list[tuple[str, dict[str, str]]]:
    out: list[tuple[str, dict[str, str]]] = [("name", inst.name), ("short_name", inst.short_name)]
    if inst.instructions:
        out.append(("instructions", inst.instructions))
    for item in inst.items:
        out.append((f"{item.id} text", item.text))
        for opt in inst.options_for(item.id):
            out.append((f"{item.id} option {opt.value}", opt.label))
    for scale in inst.scales:
        out.append((f"scale {scale.id}", scale.name))
        for band in scale.bands:
            out.append((f"band {scale.id}.{band.id}", band.label))
    for flag in inst.flags:
        out.append((f"flag {flag.id}", flag.message))
    return out


def _complete_points(inst: Instrument, scale_id: str) -> set[int]:
    """Every points sum a complete set of answers can give (computed independently)."""
    sums = {0}
    for item_id in inst.scale_items(scale_id):
        points = {inst.item(item_id).points(o.value) for o in inst.options_for(item_id)}
        sums = {s + p for s in sums for p in points}
    return sums


# --------------------------------------------------------------------------- bundled set


def test_the_five_agreed_scales_are_bundled():
    assert set(BUNDLED) <= set(bundled_instrument_ids())


def test_bundled_files_are_read_through_importlib_resources_so_they_survive_installation():
    directory = bundled_dir()
    names = sorted(entry.name for entry in directory.iterdir() if entry.name.endswith(".yaml"))
    assert names == [f"{i}.yaml" for i in bundled_instrument_ids()]
    assert all(load_instrument(i).origin.startswith(str(directory)) for i in BUNDLED)


def test_rsca_is_not_shipped_because_its_licence_is_unconfirmed():
    assert "rsca" not in bundled_instrument_ids()
    with pytest.raises(InstrumentNotFoundError):
        load_instrument("rsca")


def test_item_ids_are_distinct_across_all_instruments():
    seen: dict[str, str] = {}
    for name in ALL_FILES:
        inst = _load(name)
        for item_id in inst.item_ids:
            assert item_id not in seen, f"{item_id} in both {seen.get(item_id)} and {inst.id}"
            seen[item_id] = inst.id


# --------------------------------------------------------------------------- per file


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_text_exists_in_every_declared_language(name: str):
    inst = _load(name)
    assert inst.languages
    for where, text in _texts(inst):
        assert set(text) == set(inst.languages), where
        for lang in inst.languages:
            assert text[lang].strip(), f"{where} [{lang}] is empty"


@pytest.mark.parametrize("name", bundled_instrument_ids())
def test_bundled_instruments_are_in_english_and_simplified_chinese(name: str):
    assert set(_load(name).languages) == {"en", "zh"}


@pytest.mark.parametrize("name", ALL_FILES)
def test_file_declares_provenance_licence_and_direction(name: str):
    inst = _load(name)
    assert inst.citation.strip()
    assert inst.licence.strip()
    assert inst.sources and all(s.checked.strip() for s in inst.sources)
    assert inst.higher_is in ("better", "worse")
    assert isinstance(inst.version, int) and inst.version >= 1


@pytest.mark.parametrize("name", ALL_FILES)
def test_item_ids_carry_the_instrument_id_as_prefix(name: str):
    inst = _load(name)
    assert all(i.startswith(f"{inst.id}_") for i in inst.item_ids)


@pytest.mark.parametrize("name", ALL_FILES)
def test_bands_cover_every_complete_score_exactly_once(name: str):
    inst = _load(name)
    for scale in inst.scales:
        if not scale.bands:
            continue
        n = len(inst.scale_items(scale.id))
        for points in _complete_points(inst, scale.id):
            value = scale.value_from(points, n, n)
            hits = [b.id for b in scale.bands if b.contains(value)]
            assert len(hits) == 1, f"{inst.id}.{scale.id} value {value}: bands {hits}"


@pytest.mark.parametrize("name", ALL_FILES)
def test_bands_are_ordered_and_touch_the_ends_of_the_range(name: str):
    inst = _load(name)
    for scale in inst.scales:
        if not scale.bands:
            continue
        low, high = inst.scale_range(scale.id)
        assert scale.bands[0].at_least == low
        assert scale.bands[-1].at_most == high
        for before, after in zip(scale.bands, scale.bands[1:], strict=False):
            assert before.at_most < after.at_least


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_option_is_accepted_by_value_by_text_and_by_label_in_each_language(name: str):
    inst = _load(name)
    for item_id in inst.item_ids:
        for opt in inst.options_for(item_id):
            spellings: list[object] = [opt.value, str(opt.value), *opt.label.values()]
            spellings += [label.upper() for label in opt.label.values()]
            for raw in spellings:
                match = inst.match_option(item_id, raw)
                assert match is not None and match.value == opt.value, (item_id, raw)


@pytest.mark.parametrize("name", ALL_FILES)
def test_total_range_matches_the_item_points(name: str):
    inst = _load(name)
    total = inst.total_scale
    n = len(inst.scale_items(total.id))
    sums = _complete_points(inst, total.id)
    low, high = inst.scale_range(total.id)
    assert low == total.value_from(min(sums), n, n)
    assert high == total.value_from(max(sums), n, n)


# --------------------------------------------------------------------------- published keys


@pytest.mark.parametrize(
    ("name", "n_items", "total_range", "higher_is"),
    [
        ("phq9", 9, (0, 27), "worse"),
        ("gad7", 7, (0, 21), "worse"),
        ("who5", 5, (0, 100), "better"),
        ("gds15", 15, (0, 15), "worse"),
        ("ucla3", 3, (3, 9), "worse"),
    ],
)
def test_bundled_instrument_matches_its_published_shape(
    name: str, n_items: int, total_range: tuple[int, int], higher_is: str
):
    inst = _load(name)
    assert len(inst.items) == n_items
    assert inst.scale_range(inst.total_scale.id) == total_range
    assert inst.higher_is == higher_is


@pytest.mark.parametrize(
    ("name", "values", "english"),
    [
        ("phq9", [0, 1, 2, 3], ["Not at all", "Several days", "More than half the days",
                                "Nearly every day"]),
        ("gad7", [0, 1, 2, 3], ["Not at all", "Several days", "More than half the days",
                                "Nearly every day"]),
        ("who5", [5, 4, 3, 2, 1, 0], ["All of the time", "Most of the time",
                                      "More than half of the time", "Less than half of the time",
                                      "Some of the time", "At no time"]),
        ("gds15", ["yes", "no"], ["Yes", "No"]),
        ("ucla3", [1, 2, 3], ["Hardly ever", "Some of the time", "Often"]),
    ],
)  # fmt: skip
def test_response_options_store_the_values_printed_on_the_published_form(
    name: str, values: list[object], english: list[str]
):
    inst = _load(name)
    for item_id in inst.item_ids:
        opts = inst.options_for(item_id)
        assert [o.value for o in opts] == values
        assert [o.label["en"] for o in opts] == english


def test_gds15_keys_items_1_5_7_11_13_on_no_and_the_rest_on_yes():
    inst = _load("gds15")
    keyed = {int(i.id.split("_")[1]): i.keyed for i in inst.items}
    assert {n for n, k in keyed.items() if k == "no"} == {1, 5, 7, 11, 13}
    assert {n for n, k in keyed.items() if k == "yes"} == set(range(1, 16)) - {1, 5, 7, 11, 13}


def test_yes_and_no_stay_text_in_instrument_files():
    # YAML 1.1 would read an unquoted yes/no as a boolean; the loader follows YAML 1.2.
    doc = _minimal()
    doc["options"] = "OPTIONS"
    doc["items"] = "ITEMS"
    doc["scales"][0]["bands"][1]["at_most"] = 2
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    text = text.replace(
        "options: OPTIONS",
        "options:\n- {value: yes, label: {en: Yes, zh: 是}}\n"
        "- {value: no, label: {en: No, zh: 否}}",
    ).replace(
        "items: ITEMS",
        "items:\n- {id: demo_1, keyed: yes, text: {en: Q1, zh: 问题1}}\n"
        "- {id: demo_2, keyed: no, text: {en: Q2, zh: 问题2}}",
    )
    inst = parse_instrument(text)
    assert [o.value for o in inst.options_for("demo_1")] == ["yes", "no"]
    assert [o.label["en"] for o in inst.options_for("demo_1")] == ["Yes", "No"]
    assert (inst.item("demo_1").keyed, inst.item("demo_2").keyed) == ("yes", "no")


def test_phq9_only_flag_is_the_item9_safety_flag():
    inst = _load("phq9")
    assert [(f.id, f.item, f.severity) for f in inst.flags] == [
        ("phq9_item9_self_harm", "phq9_9", "urgent")
    ]


def test_example_rsca_refuses_to_load_until_every_placeholder_is_replaced(tmp_path):
    with pytest.raises(InstrumentFileError) as caught:
        load_instrument(str(EXAMPLE))
    problems = caught.value.problems
    assert problems[0].startswith("line 31: licence still says PLACEHOLDER; replace each")
    assert any(p.startswith("lines 34, 35: sources still says PLACEHOLDER") for p in problems)
    assert any("items (rsca_1 ... rsca_27, 27 in all) still say PLACEHOLDER" in p for p in problems)
    assert "docs/instruments.md" in problems[-1] and "CASEFLOW_INSTRUMENTS" in problems[-1]
    half = EXAMPLE.read_text(encoding="utf-8").replace("PLACEHOLDER.  State", "Granted.  State")
    (tmp_path / "rsca.yaml").write_text(half, encoding="utf-8")
    with pytest.raises(InstrumentFileError) as caught:
        load_instrument(str(tmp_path / "rsca.yaml"))
    assert not any("licence" in p for p in caught.value.problems)
    (tmp_path / "rsca.yaml").write_text(filled_example(), encoding="utf-8")
    assert load_instrument(str(tmp_path / "rsca.yaml")).id == "rsca"


def test_example_rsca_has_five_subscales_covering_all_27_items_once():
    inst = _load(str(EXAMPLE))
    subs = inst.subscales
    assert [s.id for s in subs] == [
        "goal_focus",
        "emotional_control",
        "positive_cognition",
        "family_support",
        "interpersonal_assistance",
    ]
    covered = [i for s in subs for i in inst.scale_items(s.id)]
    assert sorted(covered) == sorted(inst.item_ids) and len(inst.item_ids) == 27
    assert sum(i.reverse for i in inst.items) == 12
    assert all("licensed copy" in i.text["en"] for i in inst.items)


# --------------------------------------------------------------------------- search path


def _write(directory: Path, doc: dict[str, Any], name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name or doc['id']}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_instruments_are_found_in_dirs_from_the_environment(tmp_path, monkeypatch):
    _write(tmp_path / "org", _minimal())
    monkeypatch.setenv(ENV_VAR, os.pathsep.join([str(tmp_path / "missing"), str(tmp_path / "org")]))
    assert load_instrument("demo").id == "demo"
    assert "demo" in available_instrument_ids()
    assert "phq9" in available_instrument_ids()


def test_dirs_passed_by_the_caller_come_before_the_environment(tmp_path, monkeypatch):
    env_doc, arg_doc = _minimal(), _minimal()
    env_doc["version"], arg_doc["version"] = 1, 2
    _write(tmp_path / "env", env_doc)
    _write(tmp_path / "arg", arg_doc)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert load_instrument("demo").version == 1
    assert load_instrument("demo", [tmp_path / "arg"]).version == 2
    assert available_instruments([tmp_path / "arg"])["demo"] == tmp_path / "arg" / "demo.yaml"


def test_an_instrument_can_be_loaded_from_a_file_path(tmp_path):
    path = _write(tmp_path, _minimal(), "anything")
    assert load_instrument(path).id == "demo"
    assert load_instrument(str(path)).origin == str(path)


def test_a_file_whose_name_differs_from_its_id_is_refused(tmp_path):
    _write(tmp_path, _minimal(), "other")
    with pytest.raises(InstrumentFileError, match="named other but declares id demo"):
        load_instrument("other", [tmp_path])


def test_unknown_instrument_error_lists_what_is_available():
    with pytest.raises(InstrumentNotFoundError, match=r"no instrument 'nope'.*phq9"):
        load_instrument("nope")
    with pytest.raises(InstrumentError):
        load_instrument("Not An Id")


# --------------------------------------------------------------------------- validation


def _minimal() -> dict[str, Any]:
    return {
        "format_version": 1,
        "id": "demo",
        "version": 1,
        "languages": ["en", "zh"],
        "name": {"en": "Demo", "zh": "示例"},
        "short_name": {"en": "Demo", "zh": "示例"},
        "citation": "Test fixture",
        "licence": "Test fixture",
        "sources": [{"reference": "test", "checked": "nothing"}],
        "higher_is": "worse",
        "options": [
            {"value": 0, "label": {"en": "Never", "zh": "从不"}},
            {"value": 1, "label": {"en": "Often", "zh": "经常"}},
        ],
        "items": [
            {"id": f"demo_{n}", "text": {"en": f"Q{n}", "zh": f"问题{n}"}} for n in (1, 2, 3, 4)
        ],
        "scales": [
            {
                "id": "total",
                "role": "total",
                "name": {"en": "Total", "zh": "总分"},
                "items": "all",
                "method": "sum",
                "bands": [
                    {"id": "low", "at_least": 0, "at_most": 1, "label": {"en": "Low", "zh": "低"}},
                    {"id": "high", "at_least": 2, "at_most": 4, "label": {"en": "Hi", "zh": "高"}},
                ],
            }
        ],
    }


def _problems(doc: dict[str, Any]) -> str:
    with pytest.raises(InstrumentFileError) as info:
        parse_instrument(yaml.safe_dump(doc, allow_unicode=True), "demo.yaml")
    return str(info.value)


def test_the_minimal_fixture_is_valid():
    assert parse_instrument(yaml.safe_dump(_minimal(), allow_unicode=True)).id == "demo"


def test_a_text_missing_in_one_language_is_refused_naming_the_item_and_language():
    doc = _minimal()
    del doc["items"][2]["text"]["zh"]
    assert "item demo_3: text: no text for language(s) zh" in _problems(doc)


def test_a_language_that_is_not_declared_is_refused():
    doc = _minimal()
    doc["options"][0]["label"]["zh-TW"] = "從不"
    assert "zh-TW not declared" in _problems(doc)


def test_a_gap_between_bands_is_refused_naming_the_uncovered_score():
    doc = _minimal()
    doc["scales"][0]["bands"][1]["at_least"] = 3
    assert "can score 2, which no band covers" in _problems(doc)


def test_overlapping_bands_are_refused():
    doc = _minimal()
    doc["scales"][0]["bands"][1]["at_least"] = 1
    assert "overlap or are out of order" in _problems(doc)


def test_bands_beyond_the_possible_range_are_refused():
    doc = _minimal()
    doc["scales"][0]["bands"].append(
        {"id": "beyond", "at_least": 5, "at_most": 9, "label": {"en": "x", "zh": "x"}}
    )
    assert "band beyond (5–9) contains no score" in _problems(doc)


def test_prorating_without_a_rounding_rule_is_refused_when_it_falls_between_bands():
    doc = _minimal()
    doc["scales"][0]["missing"] = {"max_missing": 1, "method": "prorate"}
    # 1 point over 3 answered items prorates to 4/3, between the bands 0-1 and 2-4.
    assert "declare a 'rounding' rule" in _problems(doc)
    doc["scales"][0]["rounding"] = {"decimals": 0, "mode": "half_up"}
    assert parse_instrument(yaml.safe_dump(doc)).scale_range("total") == (0, 4)


def test_a_misspelt_field_is_refused_rather_than_ignored():
    doc = _minimal()
    doc["items"][0]["revers"] = True
    assert "items[0] (demo_1).revers: Extra inputs are not permitted" in _problems(doc)


def test_item_ids_must_start_with_the_instrument_id():
    doc = _minimal()
    doc["items"][0]["id"] = "q1"
    assert "item ids must start with 'demo_'" in _problems(doc)


def test_labels_that_would_match_two_options_are_refused():
    doc = _minimal()
    doc["options"][1]["label"]["zh"] = "never"
    assert "would match two options" in _problems(doc)


def test_keyed_answer_must_be_one_of_the_options():
    doc = _minimal()
    doc["items"][0]["keyed"] = 7
    assert "keyed answer 7 is not one of the options" in _problems(doc)


def test_keyed_and_reverse_cannot_both_be_given():
    doc = _minimal()
    doc["items"][0].update({"keyed": 1, "reverse": True})
    assert "either 'keyed' or 'reverse'" in _problems(doc)


def test_text_options_need_a_score_or_a_keyed_answer():
    doc = _minimal()
    doc["options"] = [
        {"value": "y", "label": {"en": "Y", "zh": "是"}},
        {"value": "n", "label": {"en": "N", "zh": "否"}},
    ]
    assert "needs a 'score'" in _problems(doc)


def test_exactly_one_total_scale_is_required():
    doc = _minimal()
    doc["scales"].append(copy.deepcopy(doc["scales"][0]) | {"id": "again"})
    assert "exactly one scale must have role 'total'" in _problems(doc)


def test_a_scale_naming_an_unknown_item_is_refused():
    doc = _minimal()
    doc["scales"][0]["items"] = ["demo_1", "demo_9"]
    assert "unknown item(s) demo_9" in _problems(doc)


def test_tolerating_as_many_missing_items_as_the_scale_has_is_refused():
    doc = _minimal()
    doc["scales"][0]["missing"] = {"max_missing": 4}
    assert "must be smaller than its number of items (4)" in _problems(doc)


def test_reliability_figures_need_their_source():
    doc = _minimal()
    doc["scales"][0].update({"reliability": 0.8, "norm_sd": 4.0})
    assert "'reliability_source' together" in _problems(doc)


def test_a_flag_that_can_never_fire_is_refused():
    doc = _minimal()
    doc["flags"] = [
        {
            "id": "never",
            "item": "demo_1",
            "when": {"answer_at_least": 5},
            "severity": "urgent",
            "message": {"en": "x", "zh": "x"},
        }
    ]
    assert "can never be met" in _problems(doc)


def test_a_flag_on_an_unknown_item_is_refused():
    doc = _minimal()
    doc["flags"] = [
        {
            "id": "lost",
            "item": "demo_9",
            "when": {"answer_in": [1]},
            "severity": "warning",
            "message": {"en": "x", "zh": "x"},
        }
    ]
    assert "flag lost: unknown item demo_9" in _problems(doc)


def test_a_boolean_option_value_is_refused_with_advice_to_quote_it():
    doc = _minimal()
    doc["options"][0]["value"] = True
    assert "not the YAML boolean True" in _problems(doc)


def test_duplicate_keys_in_a_file_are_refused():
    text = yaml.safe_dump(_minimal(), allow_unicode=True, sort_keys=False)
    text = text.replace("version: 1\n", "version: 1\nversion: 2\n", 1)
    with pytest.raises(InstrumentFileError, match="duplicate key 'version'"):
        parse_instrument(text)


def test_all_problems_in_a_file_are_reported_together():
    doc = _minimal()
    del doc["items"][0]["text"]["zh"]
    doc["scales"][0]["bands"][1]["at_least"] = 3
    del doc["licence"]
    doc["options"][1]["value"] = 1.5
    problems = _problems(doc)
    assert "licence: Field required" in problems
    assert "options[1].value: Input should be a valid integer (got 1.5)" in problems
    doc["options"][1]["value"] = 1
    doc["licence"] = "x"
    problems = _problems(doc)
    assert "item demo_1: text: no text for language(s) zh" in problems
    assert "can score 2, which no band covers" in problems


def test_text_that_is_not_yaml_is_refused():
    with pytest.raises(InstrumentFileError, match="not valid YAML"):
        parse_instrument("id: [unclosed")
    with pytest.raises(InstrumentFileError, match="must be a YAML mapping"):
        parse_instrument("- a list")


def test_item_options_override_the_default_options():
    doc = _minimal()
    doc["items"][3]["options"] = [
        {"value": 0, "label": {"en": "No", "zh": "否"}},
        {"value": 2, "label": {"en": "Yes", "zh": "是"}},
    ]
    doc["scales"][0]["bands"][1]["at_most"] = 5
    inst = parse_instrument(yaml.safe_dump(doc, allow_unicode=True))
    assert [o.value for o in inst.options_for("demo_4")] == [0, 2]
    assert [o.value for o in inst.items[0].response_options] == [0, 1]
    assert inst.scale_range("total") == (0, 5)


# --------------------------------------------------------------------------- CLI


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="caseflow")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_instruments_list_shows_every_bundled_instrument(capsys):
    assert _run(["instruments", "list"]) == 0
    out = capsys.readouterr().out
    for name in BUNDLED:
        assert f"\n{name} " in out
    assert "Patient Health Questionnaire-9" in out


def test_cli_instruments_list_includes_an_organisations_directory(tmp_path, capsys):
    # As docs/instruments.md says: copy the example into your own directory as <id>.yaml.
    (tmp_path / "rsca.yaml").write_text(filled_example(), encoding="utf-8")
    assert _run(["instruments", "list", "--instruments-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\nrsca " in out and str(tmp_path / "rsca.yaml") in out


def test_cli_instruments_list_flags_a_file_named_differently_from_its_id(tmp_path, capsys):
    (tmp_path / "rsca_example.yaml").write_text(filled_example(), encoding="utf-8")
    assert _run(["instruments", "list", "--instruments-dir", str(tmp_path)]) == 1
    assert "rsca_example.yaml declares id rsca" in capsys.readouterr().out


def test_cli_instruments_list_says_the_example_still_has_placeholders(capsys):
    assert _run(["instruments", "list", "--instruments-dir", str(EXAMPLE.parent)]) == 1
    assert "INVALID: invalid instrument file" in capsys.readouterr().out


def test_cli_instruments_list_reports_a_broken_file_and_fails(tmp_path, capsys):
    (tmp_path / "broken.yaml").write_text("id: broken\n", encoding="utf-8")
    assert _run(["instruments", "list", "--instruments-dir", str(tmp_path)]) == 1
    assert "INVALID" in capsys.readouterr().out


def test_cli_instruments_show_describes_items_options_bands_citation_and_licence(capsys):
    assert _run(["instruments", "show", "phq9"]) == 0
    out = capsys.readouterr().out
    assert "phq9_9: Thoughts that you would be better off dead" in out
    assert "0 = Not at all" in out
    assert "20–27  Severe depression" in out
    assert "Kroenke" in out and "No permission required" in out
    assert "phq9_item9_self_harm [urgent]" in out


def test_cli_instruments_show_in_chinese_and_marks_keyed_items(capsys):
    assert _run(["instruments", "show", "gds15", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "您对自己的生活基本满意吗？  [1 point if 'no']" in out


def test_cli_instruments_show_unknown_id_exits_2(capsys):
    assert _run(["instruments", "show", "nope"]) == 2
    assert "no instrument 'nope'" in capsys.readouterr().err


def test_every_bundled_instrument_scores_its_lowest_answers(capsys):
    # A smoke check that each file works end to end through the public API.
    for name in BUNDLED:
        inst = _load(name)
        low = {i: min(inst.options_for(i), key=lambda o: inst.item(i).points(o.value)).value
               for i in inst.item_ids}  # fmt: skip
        result = score(inst, low)
        assert result.total == inst.scale_range(inst.total_scale.id)[0]


def test_an_instrument_declares_whom_it_is_for_by_age_and_who_answers():
    doc = _minimal() | {"ages": {"min": 18}, "respondent": "self"}
    inst = parse_instrument(yaml.safe_dump(doc, allow_unicode=True))
    assert inst.ages is not None and inst.ages.text() == "18+"
    assert (inst.suits_age(17), inst.suits_age(18), inst.suits_age(None)) == (False, True, True)
    band = parse_instrument(yaml.safe_dump(_minimal() | {"ages": {"min": 12, "max": 18}}))
    assert band.ages is not None and band.ages.text() == "12–18" and not band.suits_age(19)
    assert parse_instrument(yaml.safe_dump(_minimal())).suits_age(3)  # no ages: anyone


@pytest.mark.parametrize(
    ("ages", "message"),
    [
        ({"min": 18, "max": 12}, "min 18 is above max 12"),
        ({}, "give 'min', 'max' or both"),
        ({"min": -1}, "ages.min"),
    ],
)
def test_an_age_range_that_cannot_be_is_refused(ages, message):
    assert message in _problems(_minimal() | {"ages": ages})


def test_a_respondent_is_self_caregiver_or_worker():
    assert "respondent" in _problems(_minimal() | {"respondent": "teacher"})


def test_the_adult_screeners_say_they_are_for_adults():
    assert {i: _load(i).ages.text() for i in ("phq9", "gad7", "gds15", "ucla3")} == {
        "phq9": "18+",
        "gad7": "18+",
        "gds15": "60+",
        "ucla3": "18+",
    }
