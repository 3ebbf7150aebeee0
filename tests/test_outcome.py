"""What a session means for the case file, in the engine: choices among the case's goals,
ratings scored like an instrument, and the facts a completed session sets."""

from __future__ import annotations

import textwrap

import pytest

from flows.engine import Reply
from flows.load import parse_flow
from flows.outcome import Consent, score_stage_id
from flows.problems import Code, FlowError
from tests.conftest import NOW, make_engine, run

GOALS = [
    {"number": 1, "title": "说出自己的情绪", "status": "active"},
    {"number": 2, "title": "和妈妈每周视频", "status": "active"},
    {"number": 3, "title": "放弃的目标", "status": "dropped"},
]

RECORD = """\
id: rec
version: 1
title: {en: Record, zh: 记录}
respondent: worker
languages: [en, zh]
sets:
  held_on: held
  number: n
  stage: stage
  phase: {item: point, map: {start: pre, end: post}}
  goals_worked: worked
  goal_progress: {1: progress_1, 2: progress_2}
stages:
  - id: s
    title: {en: S, zh: S}
    items:
      - {id: held, type: date, prompt: {en: "When?", zh: 哪天？}}
      - {id: n, type: number, integer: true, prompt: {en: "Number?", zh: 第几次？}}
      - id: stage
        type: choice
        prompt: {en: "Stage?", zh: 阶段？}
        options:
          - {value: beliefs, label: {en: Beliefs, zh: 信念}}
          - {value: organisation, label: {en: Organisation, zh: 组织}}
          - {value: communication, label: {en: Communication, zh: 沟通}}
      - id: point
        type: choice
        prompt: {en: "Point?", zh: 时点？}
        options:
          - {value: start, label: {en: Start, zh: 开始}}
          - {value: middle, label: {en: Middle, zh: 中期}}
          - {value: end, label: {en: End, zh: 结束}}
      - id: worked
        type: multi
        options_from: case.goals
        prompt: {en: "Which goals?", zh: 哪些目标？}
      - id: progress_1
        type: scale
        min: 1
        max: 5
        when: "answers.worked and 1 in answers.worked"
        prompt: {en: "Goal 1 progress?", zh: 目标一进展？}
      - id: progress_2
        type: scale
        min: 1
        max: 5
        when: "answers.worked and 2 in answers.worked"
        prompt: {en: "Goal 2 progress?", zh: 目标二进展？}
      - {id: note, type: text, prompt: {en: "Note?", zh: 备注？}}
"""


def session(engine, facts=None, lang="zh"):
    return engine.new_session("s1", lang, facts={"goals": GOALS} if facts is None else facts)


def test_a_choice_from_the_case_goals_offers_the_goals_not_dropped():
    engine = make_engine(RECORD)
    s = session(engine)
    turn = run(engine, s, "2026-03-09", "3", "2", "2")
    assert turn.prompt.token == "worked"
    assert turn.prompt.options == (("1", "1. 说出自己的情绪"), ("2", "2. 和妈妈每周视频"))
    assert turn.prompt.keys == ("1", "2")
    assert run(engine, s, "3").error  # a dropped goal is no option
    turn = run(engine, s, "2")
    assert turn.error is None and s.value("worked") == [2]
    assert turn.prompt.token == "progress_2"  # only the goal worked on is rated


def test_a_choice_from_the_case_goals_is_not_asked_when_the_case_has_none():
    engine = make_engine(RECORD)
    s = session(engine, facts={})
    turn = run(engine, s, "2026-03-09", "3", "2", "2")
    assert turn.prompt.token == "note"


def test_the_answer_shows_the_goal_as_the_worker_chose_it():
    engine = make_engine(RECORD)
    s = session(engine)
    turn = run(engine, s, "2026-03-09", "3", "2", "2", "1,2")
    assert turn.changes[0].display == "1. 说出自己的情绪；2. 和妈妈每周视频"


def test_a_completed_session_sets_its_held_day_number_stage_phase_and_goal_ratings():
    engine = make_engine(RECORD)
    s = session(engine)
    turn = run(engine, s, "2026-03-09", "3", "organisation", "3", "1,2", "4", "2", "好", "/submit")
    assert turn.status == "completed"
    outcome = turn.outcome
    assert (outcome.held_on, outcome.number, outcome.stage, outcome.phase) == (
        "2026-03-09",
        3,
        "organisation",
        "post",
    )
    assert outcome.goals == {1: 4, 2: 2} and outcome.goal_ranges == {1: (1, 5), 2: (1, 5)}


def test_a_phase_answer_the_map_does_not_name_leaves_the_flow_phase():
    engine = make_engine(RECORD)
    turn = run(engine, session(engine, facts={}), "today", "1", "1", "2", "x", "/submit")
    assert turn.outcome.phase is None and turn.outcome.goals == {}


def test_a_flow_that_sets_nothing_has_no_outcome():
    engine = make_engine(RECORD.split("sets:")[0] + "stages:" + RECORD.split("stages:")[1])
    turn = run(engine, session(engine, facts={}), "today", "1", "1", "2", "x", "/submit")
    assert turn.status == "completed" and turn.outcome is None


CONSENT = """\
id: consent_t
version: 1
title: {en: Consent, zh: 知情同意}
respondent: worker
languages: [en, zh]
purpose: consent
sets:
  consent: {agreed: agreed, by: by, role: role, method: method, date: consent_date, explained: explained}
stages:
  - id: s
    title: {en: S, zh: S}
    items:
      - id: explained
        type: multi
        prompt: {en: "Explained?", zh: 说明了哪些？}
        options:
          - {value: purpose, label: {en: Purpose, zh: 目的}}
          - {value: stop_any_time, label: {en: May stop, zh: 可随时退出}}
      - {id: agreed, type: yesno, prompt: {en: "Agreed?", zh: 同意吗？}}
      - {id: by, type: text, prompt: {en: "Who?", zh: 谁？}}
      - id: role
        type: choice
        prompt: {en: "Role?", zh: 身份？}
        options:
          - {value: client, label: {en: Client, zh: 本人}}
          - {value: caregiver, label: {en: Caregiver, zh: 照顾者}}
      - id: method
        type: choice
        prompt: {en: "How?", zh: 方式？}
        options:
          - {value: spoken, label: {en: Spoken, zh: 口头}}
          - {value: paper, label: {en: Paper, zh: 书面签字}}
      - {id: consent_date, type: date, prompt: {en: "When?", zh: 哪天？}}
"""


def test_a_consent_flow_records_who_agreed_how_and_when():
    engine = make_engine(CONSENT)
    s = engine.new_session("c", "zh")
    turn = run(engine, s, "1,2", "是", "李桂兰（奶奶）", "2", "2", "2026-03-02", "/submit")
    assert turn.outcome.purpose == "consent"
    assert turn.outcome.consent == Consent(
        True, "李桂兰（奶奶）", "caregiver", "paper", "2026-03-02", ["purpose", "stop_any_time"]
    )


RATINGS = """\
id: review
version: 1
title: {en: Review, zh: 评估}
respondent: worker
languages: [en, zh]
scores:
  - id: resilience
    name: {en: Family resilience, zh: 家庭抗逆力}
    items: [a, b, c]
    method: mean
    subscales:
      - {id: beliefs, name: {en: Beliefs, zh: 信念}, items: [a, b]}
      - {id: talk, name: {en: Talk, zh: 沟通}, items: [c], method: sum}
    bands:
      - {id: low, at_least: 1, at_most: 2.99, label: {en: Low, zh: 较低}}
      - {id: high, at_least: 3, at_most: 5, label: {en: High, zh: 较高}}
stages:
  - id: s
    title: {en: S, zh: S}
    items:
      - {id: a, type: scale, min: 1, max: 5, prompt: {en: "A?", zh: 甲？}}
      - {id: b, type: scale, min: 1, max: 5, required: false, prompt: {en: "B?", zh: 乙？}}
      - {id: c, type: scale, min: 1, max: 5, prompt: {en: "C?", zh: 丙？}}
"""


def test_ratings_are_scored_like_an_instrument_once_all_of_them_are_answered():
    engine = make_engine(RATINGS)
    s = engine.new_session("r", "en")
    assert run(engine, s, "2", "3").scores == []
    turn = run(engine, s, "5")
    (score,) = turn.scores
    assert (score.stage_id, score.instrument_id) == (score_stage_id("resilience"), "resilience")
    result = score.result
    assert result["total"] == 3.33 and result["band"]["id"] == "high"
    assert result["total_range"] == [1, 5] and result["higher_is"] == "better"
    assert result["subscales"] == {"beliefs": 2.5, "talk": 5}
    assert result["name"] == {"en": "Family resilience", "zh": "家庭抗逆力"}
    assert result["answers"] == {"a": 2, "b": 3, "c": 5}


def test_a_mean_skips_an_unanswered_rating_and_a_sum_needs_them_all():
    engine = make_engine(RATINGS)
    s = engine.new_session("r", "en")
    (score,) = run(engine, s, "1", "/skip", "2").scores
    assert score.result["total"] == 1.5 and score.result["band"]["id"] == "low"
    assert score.result["scales"]["beliefs"]["value"] == 1
    assert score.result["missing"] == ["b"]


def test_changing_a_rating_rescores():
    engine = make_engine(RATINGS)
    s = engine.new_session("r", "en")
    run(engine, s, "1", "1", "1")
    (score,) = run(engine, s, "/edit 3", "5").scores
    assert score.result["total"] == 2.33


def problems(text):
    with pytest.raises(FlowError) as caught:
        parse_flow(textwrap.dedent(text), "f.yaml", instruments=set())
    return {(p.code, p.line) for p in caught.value.problems}


def test_sets_must_name_items_of_the_right_type():
    broken = RECORD.replace("held_on: held", "held_on: n").replace("stage: stage", "stage: note")
    broken = broken.replace("goals_worked: worked", "goals_worked: stage")
    found = problems(broken)
    assert {(Code.SETS_ITEM, 7), (Code.SETS_ITEM, 9), (Code.SETS_ITEM, 11)} <= found


def test_a_phase_map_names_the_answers_of_its_item():
    found = problems(RECORD.replace("{start: pre, end: post}", "{start: pre, finish: post}"))
    assert {code for code, _ in found} == {Code.SETS_VALUE}


def test_a_consent_flow_stores_only_roles_and_methods_the_case_file_knows():
    found = problems(CONSENT.replace("value: paper", "value: fax"))
    assert found == {(Code.SETS_VALUE, 8)}
    assert problems(CONSENT.replace("  consent: {", "  other: {")) >= {(Code.PURPOSE_NEEDS, 6)}


def test_a_score_counts_scale_items_and_its_bands_fit_its_range():
    found = problems(RATINGS.replace("items: [a, b, c]", "items: [a, b, d]"))
    assert {code for code, _ in found} == {Code.SCORE_ITEM}
    found = problems(RATINGS.replace("at_most: 5, label", "at_most: 6, label"))
    assert {code for code, _ in found} == {Code.SCORE_BANDS}
    found = problems(RATINGS.replace("at_least: 3,", "at_least: 2.5,"))
    assert {code for code, _ in found} == {Code.SCORE_BANDS}
    found = problems(RATINGS.replace("{id: talk,", "{id: total,"))
    assert {code for code, _ in found} == {Code.TOTAL_SUBSCALE}


@pytest.mark.parametrize(
    "options",
    [
        "options_from: case.goals\n            options: [{value: a, label: {en: A, zh: 甲}}]",
        "options_from: case.family",
        "options: [{value: a, label: {en: A, zh: 甲}}]",
    ],
)
def test_a_choice_takes_its_options_from_the_file_or_the_case_goals_not_both(options):
    text = f"""\
    id: t
    version: 1
    title: {{en: T, zh: T}}
    respondent: worker
    languages: [en, zh]
    stages:
      - id: s
        title: {{en: S, zh: S}}
        items:
          - id: pick
            type: choice
            prompt: {{en: "Pick?", zh: 选？}}
            {options}
    """
    assert {code for code, _ in problems(text)} == {Code.BAD_VALUE}


def test_voice_is_no_answer_to_a_goal_choice():
    engine = make_engine(RECORD)
    s = session(engine)
    run(engine, s, "2026-03-09", "3", "2", "2")
    from flows.engine import Voice

    turn = engine.handle(s, Reply(voice=Voice("f", 3)), NOW)
    assert turn.error and s.value("worked") is None


PROFILE = """\
id: p
version: 1
title: {en: P, zh: 甲}
respondent: worker
languages: [en, zh]
sets:
  profile: {client_name: name, age: age, group: group, caregiver: carer}
stages:
  - id: s
    title: {en: S, zh: 乙}
    items:
      - {id: name, type: text, required: false, prompt: {en: "Name?", zh: 名字？}}
      - {id: age, type: number, integer: true, required: false, prompt: {en: "Age?", zh: 几岁？}}
      - id: group
        type: choice
        required: false
        prompt: {en: "Group?", zh: 类别？}
        options:
          - {value: elder_alone, label: {en: Older person living alone, zh: 独居老人}}
          - {value: family, label: {en: Family, zh: 家庭}}
      - {id: carer, type: text, required: false, prompt: {en: "Carer?", zh: 照顾者？}}
"""


def test_a_profile_flow_sets_only_the_fields_answered():
    engine = make_engine(PROFILE)
    s = engine.new_session("p", "zh")
    turn = run(engine, s, "陈阿婆", "/skip", "独居老人", "/skip", "/submit")
    assert turn.outcome is not None
    assert turn.outcome.profile == {"client_name": "陈阿婆", "client_group": "elder_alone"}
    s = engine.new_session("q", "zh")
    turn = run(engine, s, "/skip", "七十八岁", "/skip", "侄女 陈丽", "/submit")
    assert turn.outcome.profile == {"age": 78, "caregiver": "侄女 陈丽"}


def test_a_profile_flow_names_items_of_the_right_type_and_groups_the_case_file_knows():
    assert problems(PROFILE.replace("value: family", "value: orphan")) == {(Code.SETS_VALUE, 7)}
    assert problems(PROFILE.replace("age: age,", "age: name,")) == {(Code.SETS_ITEM, 7)}
