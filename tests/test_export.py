"""`caseflow export`: tidy tables of answers and scores that open directly in Excel, SPSS or R."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from flows.engine import Reply, Voice
from flows.registry import FlowRegistry
from storage.records import Records
from storage.store import Store
from templates.export import TABLES, VARIABLES, export, plain
from tests.conftest import run_as
from tests.test_records import SCALES_PRE, administer, cli
from tests.test_records import clock as clock  # the fixture (a predictable clock)


@pytest.fixture(autouse=True)
def bundled_only(monkeypatch):
    for name in ("CASEFLOW_FLOWS", "CASEFLOW_INSTRUMENTS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def filled(store, clock):
    worker = store.add_person("Wang Fang", "worker")
    case = store.create_case("LBC-07", worker)
    grandma = store.add_person("Li Guilan", "caregiver", lang="zh")
    store.add_member(case.id, grandma, "caregiver", worker)
    checkin = administer(
        store,
        "child_checkin",
        case,
        grandma,
        [
            "2",
            "3",
            '=HYPERLINK("http://x")',
            "2",
            "1",
            "他发烧了，\n在家休息",
            "是",
            Reply(voice=Voice("AwAC-1", 9)),
            "/skip",
            "/skip",
            "否",
            "/edit 1",
            "3",
            "/submit",
        ],
        lang="zh",
    )
    scales = administer(store, "adult_scales", case, worker, SCALES_PRE, phase="pre")
    other = store.create_case("OTHER-1", worker)
    administer(store, "adult_scales", other, worker, SCALES_PRE, phase="pre")
    return store, case, checkin, scales


def read_csv(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the byte-order mark to read UTF-8"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_answers_are_one_row_per_answer_with_its_latest_revision(filled, tmp_path):
    store, case, checkin, _ = filled
    export(store, [case], tmp_path, "csv")
    rows = [r for r in read_csv(tmp_path / "answers.csv") if r["session"] == checkin]
    by_item = {r["item"]: r for r in rows}
    assert len(by_item) == len(rows)  # one row per answer, not per revision
    mood = by_item["mood"]
    assert (mood["value"], mood["label"], mood["revision"]) == ("3", "3 😐 一般", "2")
    assert (mood["case"], mood["flow"], mood["flow_version"], mood["phase"], mood["stage"]) == (
        "LBC-07",
        "child_checkin",
        str(FlowRegistry().current("child_checkin").engine.flow.version),
        "ongoing",
        "mood",
    )
    assert re.fullmatch(r"2026-03-02T09:\d\d:\d\dZ", mood["answered_at"])
    assert by_item["has_worries"]["value"] == "1" and by_item["wants_call"]["value"] == "0"
    assert (
        by_item["school_note"]["value"] == "他发烧了，\n在家休息"
    )  # Chinese and a line break intact
    assert by_item["worries"]["value"] == "" and by_item["worries"]["label"] == "🎤 语音（9 秒）"
    probe = by_item["worries.since_when"]
    assert (probe["status"], probe["value"], probe["parent_item"]) == ("skipped", "", "worries")
    assert all(r["respondent_role"] == "caregiver" and r["lang"] == "zh" for r in rows)


def test_multiple_choices_are_joined_with_semicolons():
    assert plain(["shops_market", "walk_park"]) == "shops_market;walk_park"
    assert (plain(True), plain(False), plain(2.5), plain(3.0), plain(None)) == (
        "1",
        "0",
        "2.5",
        "3",
        "",
    )


def test_a_text_a_spreadsheet_would_run_as_a_formula_is_kept_as_text(filled, tmp_path):
    store, case, _, _ = filled
    export(store, [case], tmp_path, "csv")
    detail = next(r for r in read_csv(tmp_path / "answers.csv") if r["item"] == "expression_detail")
    assert detail["value"] == '\'=HYPERLINK("http://x")'
    export(store, [case], tmp_path / "j", "json")
    rows = json.loads((tmp_path / "j" / "answers.json").read_text(encoding="utf-8"))
    assert (
        next(r for r in rows if r["item"] == "expression_detail")["value"]
        == '=HYPERLINK("http://x")'
    )


def test_scores_are_one_row_per_scale_in_long_format(filled, tmp_path):
    store, case, _, scales = filled
    export(store, [case], tmp_path, "csv")
    rows = read_csv(tmp_path / "scores.csv")
    assert {(r["instrument"], r["scale"], r["scale_role"]) for r in rows} == {
        ("who5", "percentage", "total"),
        ("who5", "raw", "supplementary"),
        ("phq9", "total", "total"),
        ("gad7", "total", "total"),
    }
    phq9 = next(r for r in rows if r["instrument"] == "phq9")
    assert (phq9["session"], phq9["value"], phq9["band"], phq9["band_label"]) == (
        scales,
        "10",
        "moderate",
        "Moderate depression",
    )
    assert (phq9["flags"], phq9["flag_severities"], phq9["prorated"]) == (
        "phq9_item9_self_harm",
        "urgent",
        "0",
    )


def test_every_column_is_described_and_every_item_is_in_the_codebook(filled, tmp_path):
    store, case, _, _ = filled
    written = export(store, [case], tmp_path, "csv")
    assert [p.name for p in written] == [f"{t}.csv" for t in TABLES]
    variables = read_csv(tmp_path / "variables.csv")
    for table in ("answers", "scores", "items"):
        header = next(
            csv.reader(io.StringIO((tmp_path / f"{table}.csv").read_text(encoding="utf-8-sig")))
        )
        assert header == [v["variable"] for v in variables if v["table"] == table]
    items = {(r["flow"], r["item"]): r for r in read_csv(tmp_path / "items.csv")}
    answered = {(r["flow"], r["item"]) for r in read_csv(tmp_path / "answers.csv")}
    assert answered <= set(items)
    assert items[("child_checkin", "has_worries")]["values"] == "1=Yes;0=No"
    assert items[("adult_scales", "phq9_9")]["instrument"] == "phq9"
    assert items[("child_checkin", "expression")]["values"].startswith(
        "told=Told someone about it;"
    )


def test_json_tables_are_arrays_of_row_objects_with_values_as_stored(filled, tmp_path):
    store, case, checkin, _ = filled
    export(store, [case], tmp_path, "json")
    for table in TABLES:
        rows = json.loads((tmp_path / f"{table}.json").read_text(encoding="utf-8"))
        assert rows and all(list(r) == [name for name, _ in VARIABLES[table]] for r in rows)
    answers = json.loads((tmp_path / "answers.json").read_text(encoding="utf-8"))
    values = {r["item"]: r["value"] for r in answers if r["session"] == checkin}
    assert values["has_worries"] is True and values["mood"] == 3 and values["worries"] is None


def test_an_export_is_audited_once_per_case_without_content(filled, tmp_path):
    store, case, _, _ = filled
    export(store, [case], tmp_path, "csv", actor_id=1)
    row = store.audit_rows(case.id)[-1]
    assert (row["action"], row["actor_id"]) == ("records.export", 1)
    answers = len(Records(store).export_answers([case.id]))
    assert json.loads(row["detail"]) == {"format": "csv", "answers": answers, "scores": 4}


def test_caseflow_export_writes_the_cases_one_is_on(tmp_path, clock, capsys):
    db = str(tmp_path / "c.db")
    store = Store.open(db)
    me = store.add_person("wang", "worker", local_user="wang")
    mine = store.create_case("MINE", me)
    administer(store, "adult_scales", mine, me, SCALES_PRE, phase="pre")
    someone = store.add_person("Someone", "worker")
    theirs = store.create_case("THEIRS", someone)
    administer(store, "adult_scales", theirs, someone, SCALES_PRE, phase="pre")
    store.close()
    out = tmp_path / "out"
    assert run_as("wang", cli, ["export", "--format", "csv", "--out", str(out), "--db", db]) == 0
    assert {r["case"] for r in read_csv(out / "answers.csv")} == {"MINE"}
    assert capsys.readouterr().out.splitlines() == [str(out / f"{t}.csv") for t in TABLES]
    assert (
        run_as(
            "wang",
            cli,
            [
                "export",
                "--case",
                "THEIRS",
                "--format",
                "json",
                "--out",
                str(out),
                "--db",
                db,
            ],
        )
        == 3
    )
    assert (
        run_as(
            "wang",
            cli,
            [
                "export",
                "--case",
                "NOPE",
                "--format",
                "json",
                "--out",
                str(out),
                "--db",
                db,
            ],
        )
        == 2
    )
    assert (
        run_as(
            "wang",
            cli,
            [
                "export",
                "--case",
                "MINE",
                "--format",
                "json",
                "--out",
                str(out),
                "--db",
                db,
            ],
        )
        == 0
    )
    assert {r["case"] for r in json.loads((out / "answers.json").read_text(encoding="utf-8"))} == {
        "MINE"
    }
