"""`caseflow compare`: administrations over time, change, and the reliable change index."""

from __future__ import annotations

import json

import pytest

from bot.cli import main
from casework.interviews import Interviews
from flows.engine import Reply
from flows.registry import FlowRegistry
from storage.store import Store
from tests.conftest import run_as

MINI = """\
format_version: 1
id: mini
version: 1
languages: [en]
name: {en: Mini scale}
short_name: {en: Mini}
citation: A test instrument.
licence: For tests only.
sources: [{reference: this test, checked: nothing}]
higher_is: worse
options:
  - {value: 0, label: {en: Never}}
  - {value: 1, label: {en: Sometimes}}
  - {value: 2, label: {en: Often}}
  - {value: 3, label: {en: Always}}
items:
  - {id: mini_1, text: {en: First}}
  - {id: mini_2, text: {en: Second}}
scales:
  - id: total
    role: total
    name: {en: Total}
    items: all
    method: sum
    missing: {max_missing: 0}
    reliability: 0.8
    norm_sd: 1.0
    reliability_source: invented for this test
    bands:
      - {id: low, at_least: 0, at_most: 2, label: {en: Low}}
      - {id: high, at_least: 3, at_most: 6, label: {en: High}}
"""
MINI_FLOW = """\
id: mini_flow
version: 1
title: {en: Mini}
respondent: client
languages: [en]
stages:
  - {id: s, title: {en: S}, instrument: mini}
"""


def administer(db, flow, answers, phase, code="P-1"):
    store = Store.open(db)
    row = store.person_by_login("tester")
    person = int(row["id"]) if row else store.add_person("tester", "worker", local_user="tester")
    case = store.ensure_case(code, person)
    interviews = Interviews(store, FlowRegistry())
    sid = interviews.open(flow, case, person, "terminal", phase=phase).session.id
    for text in [*answers, "/submit"]:
        turn = interviews.reply(sid, person, Reply(text=text))
    assert turn.status == "completed"
    store.close()


@pytest.fixture
def mini(tmp_path, monkeypatch):
    (tmp_path / "inst").mkdir()
    (tmp_path / "inst" / "mini.yaml").write_text(MINI)
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "mini_flow.yaml").write_text(MINI_FLOW)
    monkeypatch.setenv("CASEFLOW_INSTRUMENTS", str(tmp_path / "inst"))
    monkeypatch.setenv("CASEFLOW_FLOWS", str(tmp_path / "flows"))
    return str(tmp_path / "c.db")


def test_compare_lists_administrations_in_time_order_with_change(tmp_path, capsys):
    db = str(tmp_path / "c.db")
    administer(db, "elder_scales", ["", *["yes"] * 15, "3", "3", "3"], "pre")
    administer(db, "elder_scales", ["", *["no"] * 15, "1", "1", "1"], "post")
    assert run_as("tester", main, ["compare", "P-1", "ucla3", "--db", db]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "UCLA-3 on case P-1: 2 administration(s)"
    assert lines[2].split()[1:] == ["pre", "9", "Lonely"]
    assert lines[3].split()[1:] == ["post", "3", "Not", "lonely"]
    assert "Change from first to last: -6 (9 → 3; higher is worse)" in out
    assert "Reliable change index: not available" in out


def test_compare_json_carries_every_administration_and_the_reading(tmp_path, capsys):
    db = str(tmp_path / "c.db")
    administer(db, "elder_scales", ["", *["yes"] * 15, "3", "3", "3"], "pre")
    administer(db, "elder_scales", ["", *["no"] * 15, "1", "1", "1"], "post")
    assert run_as("tester", main, ["compare", "P-1", "gds15", "--db", db, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [a["phase"] for a in data["administrations"]] == ["pre", "post"]
    assert [a["total"] for a in data["administrations"]] == [10, 5]
    assert data["change"] == -5
    assert data["reading"] == "rci_unavailable"


@pytest.mark.parametrize(
    ("pre", "post", "reading"),
    [
        (["3", "3"], ["0", "0"], "reliable improvement"),
        (["0", "0"], ["3", "3"], "reliable deterioration"),
        (["1", "1"], ["1", "0"], "no reliable change"),
    ],
)
def test_compare_reads_the_reliable_change_index_when_the_instrument_declares_it(
    mini, capsys, pre, post, reading
):
    administer(mini, "mini_flow", pre, "pre")
    administer(mini, "mini_flow", post, "post")
    assert run_as("tester", main, ["compare", "P-1", "mini", "--db", mini]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(reading)


def test_compare_rci_figure_is_jacobson_truax(mini, capsys):
    administer(mini, "mini_flow", ["3", "3"], "pre")
    administer(mini, "mini_flow", ["0", "0"], "post")
    run_as("tester", main, ["compare", "P-1", "mini", "--db", mini, "--json"])
    rc = json.loads(capsys.readouterr().out)["reliable_change"]
    # SE = 1.0 * sqrt(1 - 0.8); Sdiff = sqrt(2) * SE; RCI = (0 - 6) / Sdiff
    assert rc["rci"] == pytest.approx(-6 / (2**0.5 * 0.2**0.5))


def test_compare_with_one_administration_says_change_needs_two(tmp_path, capsys):
    db = str(tmp_path / "c.db")
    administer(db, "elder_scales", ["", *["yes"] * 15, "3", "3", "3"], "pre")
    assert run_as("tester", main, ["compare", "P-1", "ucla3", "--db", db]) == 0
    assert "Change: needs two scored administrations." in capsys.readouterr().out


def test_compare_unknown_case_or_instrument_exits_2(tmp_path, capsys):
    db = str(tmp_path / "c.db")
    administer(db, "elder_scales", ["", *["yes"] * 15, "3", "3", "3"], "pre")
    assert run_as("tester", main, ["compare", "NOPE", "ucla3", "--db", db]) == 2
    assert "no case 'NOPE'" in capsys.readouterr().err
    assert run_as("tester", main, ["compare", "P-1", "nope", "--db", db]) == 2


def test_compare_refuses_a_person_not_on_the_case_and_audits_it(tmp_path, capsys):
    db = str(tmp_path / "c.db")
    administer(db, "elder_scales", ["", *["yes"] * 15, "3", "3", "3"], "pre")
    store = Store.open(db)
    store.add_person("Stranger", "worker", local_user="stranger")
    store.close()
    assert run_as("stranger", main, ["compare", "P-1", "ucla3", "--db", db]) == 3
    assert run_as("nobody", main, ["compare", "P-1", "ucla3", "--db", db]) == 3  # not linked
    store = Store.open(db)
    assert store.audit_rows()[-1]["action"] == "access.refused"
