"""A flow stage that includes an instrument is scored per stage, and rescored on edits."""

from __future__ import annotations

import json

import pytest

from casework.interviews import Interviews
from flows.engine import Reply
from flows.load import parse_flow
from flows.problems import Code, FlowError
from flows.registry import FlowRegistry
from tests.conftest import NOW, make_engine, run

PHQ9_FLOW = """
id: t
version: 1
title: {en: T, zh: T}
respondent: client
languages: [en, zh]
stages:
  - id: mood
    title: {en: Mood, zh: 情绪}
    instrument: phq9
  - id: after
    title: {en: After, zh: 之后}
    items:
      - {id: ok, type: yesno, prompt: {en: OK, zh: 好}}
"""


def test_an_instrument_stage_asks_its_items_with_its_own_options_and_instructions():
    engine = make_engine(PHQ9_FLOW)
    session = engine.new_session("s", "zh")
    prompt = engine.start(session, NOW).prompt
    assert prompt.token == "phq9_1"
    assert prompt.text == "做事时提不起劲或没有兴趣"
    assert prompt.keys == ("0", "1", "2", "3")
    assert prompt.stage_intro == "在过去两个星期，有多少时候您受到以下任何问题所困扰？"


def test_the_score_is_computed_when_the_stage_completes_with_its_flags():
    engine = make_engine(PHQ9_FLOW)
    session = engine.new_session("s", "en")
    turn = run(engine, session, "1", "2", "1", "0", "2", "1", "1", "0")
    assert turn.scores == []
    turn = engine.handle(session, Reply(text="1"), NOW)
    (score,) = turn.scores
    assert (score.stage_id, score.instrument_id, score.instrument_version) == ("mood", "phq9", 1)
    assert score.result["total"] == 9
    assert score.result["band"]["id"] == "mild"
    assert [f["id"] for f in score.result["flags"]] == ["phq9_item9_self_harm"]


def test_skipped_items_are_missing_and_prorated_as_the_instrument_declares():
    engine = make_engine(PHQ9_FLOW)
    session = engine.new_session("s", "en")
    turn = run(engine, session, "2", "2", "2", "2", "2", "2", "2", "/skip", "/skip")
    (score,) = turn.scores
    assert score.result["missing"] == ["phq9_8", "phq9_9"]
    assert score.result["total"] == 18  # 14 x 9 / 7 = 18


def test_scores_are_stored_beside_the_answers_and_an_edit_rescores(store):
    worker = store.add_person("W", "worker")
    case = store.create_case("I-1", worker)
    interviews = Interviews(store, FlowRegistry())
    sid = interviews.open("adult_scales", case, worker, "terminal", phase="pre").session.id
    for text in ["", "5", "5", "5", "5", "5", *["0"] * 9, *["0"] * 7]:
        interviews.reply(sid, worker, Reply(text=text))
    scores = {s["instrument_id"]: s for s in store.scores(sid)}
    assert {k: (v["total"], v["revision"]) for k, v in scores.items()} == {
        "gad7": (0, 1),
        "phq9": (0, 1),
        "who5": (100, 1),
    }
    interviews.reply(sid, worker, Reply(text="/edit 6"))  # PHQ-9 item 1
    interviews.reply(sid, worker, Reply(text="3"))
    scores = {s["instrument_id"]: s for s in store.scores(sid)}
    assert (scores["phq9"]["total"], scores["phq9"]["revision"]) == (3, 2)
    assert json.loads(scores["phq9"]["result"])["answers"]["phq9_1"] == 3
    assert scores["who5"]["revision"] == 1


def test_a_flow_in_a_language_its_instrument_lacks_is_refused():
    with pytest.raises(FlowError) as caught:
        parse_flow(
            PHQ9_FLOW.replace("[en, zh]", "[en, zh, fr]").replace("zh: 好}", "zh: 好, fr: B}"),
            "t.yaml",
        )
    codes = [p.code for p in caught.value.problems]
    assert Code.INSTRUMENT_LANGUAGES in codes
