"""Flag rules and follow-ups in the flow language: validated with lines, raised by the engine."""

from __future__ import annotations

import textwrap

import pytest

from flows.compile import compile_flow
from flows.engine import Engine
from flows.load import bundled_flow_paths, load_flow, parse_flow
from flows.problems import Code, FlowError
from tests.conftest import flow_yaml, make_engine, run

HEADER = """\
id: t
version: 1
title: {en: T, zh: T}
respondent: caregiver
languages: [en, zh]
stages:
  - id: s1
    title: {en: S, zh: S}
    items:
"""


def problems(text: str) -> list[tuple[Code, int]]:
    with pytest.raises(FlowError) as caught:
        parse_flow(textwrap.dedent(text), "broken.yaml", instruments=set())
    return [(p.code, p.line) for p in caught.value.problems]


# -- validation ---------------------------------------------------------------------------


def test_a_bad_severity_is_reported_at_its_line_with_the_choices():
    text = (
        HEADER
        + """\
      - id: a
        type: yesno
        prompt: {en: "A?", zh: 甲？}
        flags:
          - when: "answers.a"
            severity: high
            message: {en: A, zh: 甲}
"""
    )
    assert problems(text) == [(Code.BAD_SEVERITY, 15)]
    with pytest.raises(FlowError) as caught:
        parse_flow(text, "f.yaml", instruments=set())
    assert "info (daily digest), attention" in str(caught.value)


def test_a_flag_condition_on_an_unknown_item_is_reported_at_the_condition():
    found = problems(
        HEADER
        + """\
      - id: a
        type: yesno
        prompt: {en: "A?", zh: 甲？}
        flags:
          - when: "answers.a and answers.nope"
            severity: urgent
            message: {en: A, zh: 甲}
"""
    )
    assert found == [(Code.UNKNOWN_REFERENCE, 14)]


def test_a_flag_condition_on_a_later_item_is_a_forward_reference():
    found = problems(
        HEADER
        + """\
      - id: a
        type: yesno
        prompt: {en: "A?", zh: 甲？}
        flags:
          - when: "answers.b"
            severity: info
            message: {en: A, zh: 甲}
      - id: b
        type: yesno
        prompt: {en: "B?", zh: 乙？}
"""
    )
    assert found == [(Code.FORWARD_REFERENCE, 14)]


def test_a_flag_message_missing_a_language_is_reported_at_the_message():
    found = problems(
        HEADER
        + """\
      - id: a
        type: choice
        prompt: {en: "A?", zh: 甲？}
        options:
          - {value: x, label: {en: X, zh: 叉}}
          - value: y
            label: {en: Y, zh: 歪}
            flags:
              - severity: attention
                message: {en: "Y was chosen"}
                respondent_message: {zh: 好的}
"""
    )
    assert found == [(Code.MISSING_TRANSLATION, 19), (Code.MISSING_TRANSLATION, 20)]


def test_an_item_flag_without_a_condition_a_flag_on_a_note_and_a_reused_id_are_refused():
    found = problems(
        HEADER
        + """\
      - id: a
        type: yesno
        prompt: {en: "A?", zh: 甲？}
        flags:
          - severity: info
            message: {en: A, zh: 甲}
      - id: n
        type: note
        prompt: {en: "Note", zh: 说明}
        flags:
          - {when: "answers.a", severity: info, message: {en: N, zh: 注}}
      - id: b
        type: yesno
        prompt: {en: "B?", zh: 乙？}
        flags:
          - {id: a, when: "answers.b", severity: info, message: {en: B, zh: 乙}}
"""
    )
    assert found == [
        (Code.FLAG_WITHOUT_CONDITION, 14),
        (Code.FLAG_ON_NOTE, 20),
        (Code.DUPLICATE_FLAG, 25),
    ]


def test_a_follow_up_must_name_a_text_a_date_and_a_choice_item():
    found = problems(
        HEADER
        + """\
      - id: what
        type: text
        prompt: {en: "What?", zh: 什么？}
      - id: by
        type: text
        prompt: {en: "By when?", zh: 什么时候？}
followups:
  - what: what
    due: by
    owner: nobody
    when: "answers.missing"
"""
    )
    assert found == [
        (Code.FOLLOWUP_ITEM, 18),
        (Code.FOLLOWUP_ITEM, 19),
        (Code.UNKNOWN_REFERENCE, 20),
    ]


# -- raising and withdrawing ----------------------------------------------------------------

WORRIES = """\
- id: worried
  type: yesno
  prompt: {en: "Anything worrying?", zh: 担心吗？}
  short: {en: Worried, zh: 担心}
- id: wants_call
  type: yesno
  when: "answers.worried"
  prompt: {en: "Shall we call?", zh: 要打电话吗？}
  flags:
    - id: call
      when: "answers.wants_call"
      severity: attention
      message: {en: "Call them ({{ labels.worried }})", zh: "请打电话（{{ labels.worried }}）"}
      respondent_message: {en: "Your worker will call.", zh: 社工会给您打电话。}
- id: anything
  type: text
  required: false
  prompt: {en: "Anything else?", zh: 还有吗？}
"""


@pytest.fixture
def worries() -> Engine:
    return make_engine(flow_yaml(WORRIES, languages="[en, zh]"))


def test_an_answer_raises_its_flag_with_texts_in_every_language(worries):
    session = worries.new_session("s", "en")
    run(worries, session, "yes")
    turn = run(worries, session, "yes")
    (flag,) = turn.flags_raised
    assert (flag.flag_id, flag.question_id, flag.revision, flag.severity) == (
        "call",
        "wants_call",
        1,
        "attention",
    )
    assert flag.message == {"en": "Call them (Yes)", "zh": "请打电话（是）"}
    assert flag.question == {"en": "Shall we call?", "zh": "要打电话吗？"}
    assert flag.answer == {"en": "Yes", "zh": "是"}
    assert "Your worker will call." in turn.notices, "the respondent is told right away"
    assert session.flags == {"call"}


def test_the_same_answer_again_raises_nothing_new(worries):
    session = worries.new_session("s", "en")
    run(worries, session, "yes", "yes", "/back")
    turn = run(worries, session, "yes")
    assert turn.flags_raised == [] and turn.flags_withdrawn == []


def test_an_edit_that_makes_the_condition_false_withdraws_the_flag(worries):
    session = worries.new_session("s", "en")
    run(worries, session, "yes", "yes", "/back")
    turn = run(worries, session, "no")
    assert turn.flags_withdrawn == ["call"]
    assert session.flags == set()


def test_an_edit_that_withdraws_the_answer_withdraws_its_flag(worries):
    session = worries.new_session("s", "en")
    run(worries, session, "yes", "yes", "", "/edit 1")
    turn = run(worries, session, "no")
    assert [c.question_id for c in turn.changes if c.status == "withdrawn"] == ["wants_call"]
    assert turn.flags_withdrawn == ["call"]


def test_a_flag_on_an_option_of_a_several_choice_question_is_raised_when_it_is_among_them():
    engine = make_engine(
        flow_yaml(
            """\
            - id: risks
              type: multi
              prompt: {en: "Risks?"}
              options:
                - value: harm
                  label: {en: Harm}
                  flags: [{severity: urgent, message: {en: "Harm talk"}}]
                - {value: none, label: {en: None}}
            """
        )
    )
    session = engine.new_session("s")
    turn = run(engine, session, "harm,none")
    assert [(f.flag_id, f.severity) for f in turn.flags_raised] == [("risks.harm", "urgent")]


def test_an_option_flag_with_a_condition_needs_both():
    engine = make_engine(
        flow_yaml(
            """\
            - id: age
              type: number
              prompt: {en: "Age?"}
            - id: sleep
              type: choice
              prompt: {en: "Sleep?"}
              options:
                - {value: well, label: {en: Well}}
                - value: badly
                  label: {en: Badly}
                  flags: [{when: "answers.age < 12", severity: info, message: {en: Child}}]
            """
        )
    )
    adult, child = engine.new_session("a"), engine.new_session("c")
    assert run(engine, adult, "40", "badly").flags_raised == []
    assert [f.flag_id for f in run(engine, child, "9", "badly").flags_raised] == ["sleep.badly"]


def test_instrument_item_flags_are_the_same_kind_of_flag_raised_on_the_answer():
    engine = make_engine(
        """\
        id: t
        version: 1
        title: {en: T, zh: T}
        respondent: client
        languages: [en, zh]
        stages:
          - id: mood
            title: {en: Mood, zh: 情绪}
            instrument: phq9
        """
    )
    session = engine.new_session("s")
    turn = run(engine, session, *["0"] * 8)
    assert turn.flags_raised == []
    turn = run(engine, session, "2")
    (flag,) = turn.flags_raised
    assert (flag.flag_id, flag.severity, flag.source, flag.question_id) == (
        "phq9_item9_self_harm",
        "urgent",
        "phq9",
        "phq9_9",
    )
    assert "ask about suicide risk today" in flag.message["en"]
    assert flag.question["zh"].startswith("有不如死掉")
    assert turn.scores, "the stage is scored on the same turn, as before"


def test_an_instrument_flag_keeps_its_severity_and_warning_becomes_attention():
    engine = make_engine(
        """\
        id: t
        version: 1
        title: {en: T, zh: T}
        respondent: client
        languages: [en]
        stages:
          - id: w
            title: {en: W}
            instrument: who5
        """
    )
    session = engine.new_session("s")
    turn = run(engine, session, "0")
    assert [(f.flag_id, f.severity) for f in turn.flags_raised] == [("who5_item1_low", "info")]
    from flows.compile import INSTRUMENT_SEVERITY

    assert INSTRUMENT_SEVERITY["warning"] == "attention"


# -- follow-ups -------------------------------------------------------------------------------

FOLLOWUP = """\
id: t
version: 1
title: {en: T}
respondent: anyone
languages: [en]
stages:
  - id: s
    title: {en: S}
    items:
      - id: needed
        type: yesno
        prompt: {en: "Follow-up?"}
      - id: what
        type: text
        when: "answers.needed"
        prompt: {en: "What?"}
      - id: who
        type: choice
        when: "answers.needed"
        prompt: {en: "Who?"}
        options:
          - {value: me, label: {en: Me}}
          - {value: case_worker, label: {en: The worker}}
      - id: by
        type: date
        when: "answers.needed"
        prompt: {en: "By when?"}
        validation: {not_future: false}
followups:
  - {when: "answers.needed", what: what, due: by, owner: who}
"""


def test_a_completed_session_sets_its_follow_up():
    engine = make_engine(FOLLOWUP)
    session = engine.new_session("s")
    turn = run(engine, session, "yes", "Call the school", "1", "2026-03-20")
    assert turn.followups == [], "nothing is set before the session is submitted"
    turn = run(engine, session, "/submit")
    assert turn.status == "completed"
    (task,) = turn.followups
    assert (task.what, task.due, task.owner, task.question_id) == (
        "Call the school",
        "2026-03-20",
        "me",
        "what",
    )


def test_no_follow_up_when_none_is_needed():
    engine = make_engine(FOLLOWUP)
    session = engine.new_session("s")
    assert run(engine, session, "no", "/submit").followups == []


# -- the bundled flows ----------------------------------------------------------------------


def _flags_of(path):
    compiled = compile_flow(load_flow(path))
    return {f.id: (q.id, f.severity) for q in compiled.questions for f in q.flags}


BUNDLED_RULES = {
    "child_checkin": {
        "mood_very_unhappy": ("mood", "info"),
        "wants_call": ("wants_call", "attention"),
    },
    "elder_checkin": {
        "lonely.often": ("lonely", "info"),
        "meals.poorly": ("meals", "attention"),
        "wants_contact": ("contact_way", "attention"),
    },
    "contact_note": {"worried": ("worried", "attention")},
    "intake_assessment": {
        "risks.self_harm_talk": ("risks", "urgent"),
        "risks.neglect": ("risks", "attention"),
        "risks.violence_home": ("risks", "attention"),
        "risk_immediate": ("risk_urgency", "urgent"),
    },
    "session_record": {"safeguarding": ("safeguarding", "urgent")},
    "adult_scales": {
        "phq9_item9_self_harm": ("phq9_9", "urgent"),
        **{f"who5_item{n}_low": (f"who5_{n}", "info") for n in range(1, 6)},
    },
    "elder_scales": {},
    "family_resilience": {},
    "consent": {"consent_declined": ("agreed", "attention")},
    "closing_report": {},
    "case_profile": {},
    "followup_visit": {
        "new_concern": ("new_concern", "attention"),
        "next_action.reopen": ("next_action", "attention"),
    },
    "reminiscence_session": {"safeguarding": ("safeguarding", "urgent")},
}


@pytest.mark.parametrize("path", bundled_flow_paths(), ids=lambda p: p.stem)
def test_the_bundled_flows_carry_the_flag_rules_a_worker_needs(path):
    assert _flags_of(path) == BUNDLED_RULES[path.stem]


SESSION = [
    "1",
    "today",
    "1",
    "1",
    "1",
    "Trust",
    "",
    "1",
    "1",
    "Calm",
    "",
    "",
    "Quiet",
    "Went well",
    "",
]


@pytest.mark.parametrize(
    ("flow", "answers", "flag"),
    [
        ("child_checkin", ["3", "1", "1", "0", "yes", "worried", "", "", "yes"], "wants_call"),
        ("elder_checkin", ["3", "often"], "lonely.often"),
        ("contact_note", ["today", "1", "1", "Said hello", "", "yes"], "worried"),
        ("session_record", [*SESSION, "Visit", "", "", "yes"], "safeguarding"),
        ("consent", ["", "", "", "", "", "1", "", "no"], "consent_declined"),
        ("followup_visit", ["today", "1", "3", "Fine", "", "", "yes"], "new_concern"),
    ],
)
def test_a_bundled_rule_fires_on_the_answer_that_calls_for_action(flow, answers, flag):
    path = next(p for p in bundled_flow_paths() if p.stem == flow)
    engine = Engine(compile_flow(load_flow(path)))
    session = engine.new_session("s", "zh")
    turn = run(engine, session, *answers[:-1])
    assert turn.error is None and turn.flags_raised == []
    turn = run(engine, session, answers[-1])
    (found,) = [f for f in turn.flags_raised if f.flag_id == flag]
    assert found.message["zh"] and found.message["en"]
    assert "{{" not in found.message["zh"] + found.message["en"]


STAYED_IN = """
- id: went_out
  type: yesno
  prompt: {en: "Did you go out this week?", zh: 这个星期您出过家门吗？}
  labels:
    yes: {en: Went out, zh: 出过门}
    no: {en: Stayed in, zh: 没出门}
  flags:
    - id: stayed_in
      when: "not answers.went_out"
      severity: info
      message: {en: "Stayed in all week ({{ labels.went_out }})", zh: "一周没出门（{{ labels.went_out }}）"}
"""


@pytest.mark.parametrize("text", ["没出门", "没有", "不是", "Stayed in", "no"])
def test_a_flag_on_a_yes_no_item_with_its_own_labels_is_raised_by_any_way_of_saying_no(text):
    engine = make_engine(flow_yaml(STAYED_IN, languages="[en, zh]"))
    (flag,) = run(engine, engine.new_session("s", "zh"), text).flags_raised
    assert flag.flag_id == "stayed_in"
    assert flag.answer == {"en": "Stayed in", "zh": "没出门"}, "the item's labels, not Yes/No"
    assert flag.message == {"en": "Stayed in all week (Stayed in)", "zh": "一周没出门（没出门）"}


def test_a_labelled_yes_withdraws_the_flag_its_no_raised():
    engine = make_engine(flow_yaml(STAYED_IN, languages="[en, zh]"))
    session = engine.new_session("s", "zh")
    run(engine, session, "没出门", "返回")
    assert session.flags == {"stayed_in"}
    turn = run(engine, session, "出过门")
    assert turn.flags_withdrawn == ["stayed_in"] and session.flags == set()
