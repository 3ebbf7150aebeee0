"""Sessions move through a flow by the machine's rules; answers are revised, never lost."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flows.compile import CANCELLED, COMPLETED
from flows.engine import Reply
from flows.expressions import compile_condition, compile_text
from tests.conftest import NOW, flow_yaml, make_engine, run

FLOW = flow_yaml(
    """
    - id: name
      type: text
      prompt: {en: "Child's name?", zh: 孩子的名字？}
    - id: worried
      type: yesno
      prompt:
        en: "Any worries about {{ answers.name }}?"
        zh: "{{ answers.name }}有让您担心的事吗？"
    - id: worry
      type: text
      when: "answers.worried"
      prompt: {en: "What worries you?", zh: 担心什么？}
      probes:
        - id: since
          prompt: {en: "Since when?", zh: 从什么时候开始？}
    - id: sleep
      type: choice
      required: false
      carry_forward: true
      prompt: {en: "Sleep?", zh: 睡眠？}
      short: {en: Sleep, zh: 睡眠}
      options:
        - {value: good, label: {en: Good, zh: 好}}
        - {value: bad, label: {en: Bad, zh: 不好}}
    """,
    languages="[en, zh]",
)


@pytest.fixture
def engine():
    return make_engine(FLOW)


@pytest.fixture
def session(engine):
    return engine.new_session("s1", "en")


def test_skip_logic_asks_the_follow_up_only_when_its_condition_holds(engine, session):
    assert run(engine, session, "Ann", "no").prompt.token == "sleep"
    other = engine.new_session("s2", "en")
    assert run(engine, other, "Ann", "yes").prompt.token == "worry"


def test_probes_follow_their_question_and_are_optional(engine, session):
    turn = run(engine, session, "Ann", "yes", "nightmares")
    assert turn.prompt.token == "worry.since"
    assert turn.prompt.text == "Since when?"
    turn = engine.handle(session, Reply(text=""), NOW)
    assert session.answers["worry.since"].status == "skipped"
    assert turn.prompt.token == "sleep"


def test_a_probe_is_not_asked_when_its_question_was_skipped():
    engine = make_engine(
        flow_yaml(
            """
            - id: a
              type: text
              required: false
              prompt: {en: A}
              probes: [{id: p, prompt: {en: P}}]
            - id: b
              type: yesno
              prompt: {en: B}
            """
        )
    )
    session = engine.new_session("s", "en")
    assert run(engine, session, "/skip").prompt.token == "b"


def test_piping_quotes_an_earlier_answer_in_the_prompt(engine, session):
    assert run(engine, session, "Ann").prompt.text == "Any worries about Ann?"


def test_piping_in_chinese_uses_the_chinese_text(engine):
    session = engine.new_session("s", "zh")
    assert run(engine, session, "小明").prompt.text == "小明有让您担心的事吗？"


def test_progress_counts_questions_that_may_still_be_asked_and_not_probes(engine, session):
    turn = run(engine, session)
    assert (turn.prompt.position, turn.prompt.total) == (1, 4)  # "worry" may be asked
    turn = run(engine, session, "Ann", "yes")
    assert (turn.prompt.position, turn.prompt.total) == (3, 4)
    turn = engine.handle(session, Reply(text="x"), NOW)
    assert turn.prompt.token == "worry.since"
    assert (turn.prompt.position, turn.prompt.total) == (3, 4)


def test_progress_total_shrinks_when_a_branch_closes_and_never_grows(engine, session):
    turn = run(engine, session, "Ann")
    assert (turn.prompt.position, turn.prompt.total) == (2, 4)
    turn = run(engine, session, "no")
    assert (turn.prompt.position, turn.prompt.total) == (3, 3)


def test_back_returns_to_the_previous_question_that_applies_and_shows_the_answer(engine, session):
    turn = run(engine, session, "Ann", "no", "/back")
    assert turn.prompt.token == "worried"
    assert turn.prompt.current == "Your answer now: No"
    assert run(engine, session, "").prompt.token == "sleep"  # Enter keeps the answer
    assert session.answers["worried"].revision == 1


def test_back_at_the_first_question_says_so(engine, session):
    turn = run(engine, session, "/back")
    assert turn.error == "This is the first question; there is nothing before it."
    assert turn.prompt.token == "name"


def test_skip_works_only_on_optional_questions(engine, session):
    turn = run(engine, session, "/skip")
    assert turn.error == "/skip can't be used at this point."
    assert "skip" not in turn.prompt.commands
    turn = run(engine, session, "Ann", "no", "/skip")
    assert turn.prompt.kind == "review"
    assert session.answers["sleep"].status == "skipped"


def test_pause_and_resume_continue_at_the_same_question_with_a_recap(engine, session):
    run(engine, session, "Ann")
    turn = engine.handle(session, Reply(text="/pause"), NOW)
    assert turn.status == "paused"
    assert turn.prompt is None
    turn = engine.handle(session, Reply(text="/resume"), NOW)
    assert turn.status == "active"
    assert turn.prompt.token == "worried"
    assert turn.notices == ["Welcome back. You were at question 2 of 4: Any worries about Ann?"]


def test_any_message_to_a_paused_session_resumes_it_without_taking_it_as_an_answer(engine, session):
    run(engine, session, "Ann", "/pause")
    turn = engine.handle(session, Reply(text="yes"), NOW)
    assert turn.prompt.token == "worried"
    assert "worried" not in session.answers


def test_cancel_ends_the_session_and_keeps_what_was_answered(engine, session):
    turn = run(engine, session, "Ann", "/cancel")
    assert turn.status == "cancelled"
    assert session.state == CANCELLED
    assert session.value("name") == "Ann"
    turn = engine.handle(session, Reply(text="hello"), NOW)
    assert turn.error == "This interview is already finished."


def test_review_lists_answers_and_submit_completes(engine, session):
    turn = run(engine, session, "Ann", "yes", "bad dreams", "last week", "1")
    assert turn.prompt.kind == "review"
    lines = [(entry.number, entry.label, entry.answer, entry.probe) for entry in turn.prompt.review]
    assert lines == [
        (1, "Child's name?", "Ann", False),
        (2, "Any worries about Ann?", "Yes", False),
        (3, "What worries you?", "bad dreams", False),
        (4, "Since when?", "last week", True),
        (5, "Sleep", "Good", False),
    ]
    assert "submit" in turn.prompt.commands
    turn = engine.handle(session, Reply(text="/submit"), NOW)
    assert turn.status == "completed"
    assert session.state == COMPLETED


def test_typing_an_answer_at_review_gets_a_hint(engine, session):
    turn = run(engine, session, "Ann", "no", "1", "hello")
    assert turn.error == (
        "Send “submit” (/submit) to finish, or “edit N” (/edit N) to change answer N."
    )


def test_edit_changes_an_answer_and_returns_to_review(engine, session):
    run(engine, session, "Ann", "no", "1")
    turn = engine.handle(session, Reply(text="/edit 1"), NOW)
    assert turn.prompt.token == "name"
    turn = engine.handle(session, Reply(text="Anna"), NOW)
    assert turn.prompt.kind == "review"
    assert session.answers["name"].revision == 2
    assert [c.revision for c in turn.changes] == [2]


def test_edit_that_opens_a_branch_asks_the_new_questions_before_review(engine, session):
    run(engine, session, "Ann", "no", "1", "/edit 2")
    turn = engine.handle(session, Reply(text="yes"), NOW)
    assert turn.prompt.token == "worry"
    turn = run(engine, session, "nightmares", "")
    assert turn.prompt.kind == "review"


def test_edit_that_closes_a_branch_withdraws_its_answers_as_new_revisions(engine, session):
    run(engine, session, "Ann", "yes", "nightmares", "since May", "1", "/edit 2")
    turn = engine.handle(session, Reply(text="no"), NOW)
    assert [(c.question_id, c.status, c.revision) for c in turn.changes] == [
        ("worried", "answered", 2),
        ("worry", "withdrawn", 2),
        ("worry.since", "withdrawn", 2),
    ]
    assert [entry.question_id for entry in turn.prompt.review] == ["name", "worried", "sleep"]


def test_edit_with_a_wrong_number_gets_a_clear_answer(engine, session):
    turn = run(engine, session, "Ann", "no", "1", "/edit 9")
    assert turn.error == "There is no answer number 9. Choose a number from the list."
    turn = run(engine, session, "/edit x")
    assert turn.error == "There is no answer number x. Choose a number from the list."


def test_submit_is_not_available_before_review(engine, session):
    turn = run(engine, session, "/submit")
    assert turn.error == "/submit can't be used at this point."


def test_an_unknown_command_lists_the_ones_that_work_here(engine, session):
    turn = run(engine, session, "Ann", "/frobnicate")
    assert turn.error == "'/frobnicate' is not a command here. You can use: /back /pause /cancel"
    assert turn.prompt.token == "worried"


def test_review_command_from_a_question_needs_every_answer_first(engine, session):
    turn = run(engine, session, "Ann", "/review")
    assert turn.error == "Some questions still need an answer before the review."


def test_a_stale_button_gets_the_current_question_and_changes_nothing(engine, session):
    run(engine, session, "Ann", "no")
    turn = engine.handle(session, Reply(choice="yes", token="worried"), NOW)
    assert turn.error.startswith("That button belongs to a question that has passed.")
    assert turn.prompt.token == "sleep"
    assert session.value("worried") is False


def test_a_tapped_option_for_the_current_question_is_accepted(engine, session):
    run(engine, session, "Ann")
    turn = engine.handle(session, Reply(choice="yes", token="worried"), NOW)
    assert session.value("worried") is True
    assert turn.accepted == "Yes"


def test_each_answer_records_when_its_question_was_shown_and_answered(engine, session):
    engine.start(session, NOW)
    later = NOW + timedelta(seconds=40)
    turn = engine.handle(session, Reply(text="Ann"), later)
    change = turn.changes[0]
    assert change.shown_at == NOW
    assert change.answered_at == later
    assert session.shown_at == later


def test_a_wrong_answer_keeps_the_time_the_question_was_first_shown(engine, session):
    engine.start(session, NOW)
    engine.handle(session, Reply(text="Ann"), NOW)
    engine.handle(session, Reply(text="maybe"), NOW + timedelta(seconds=5))
    turn = engine.handle(session, Reply(text="no"), NOW + timedelta(seconds=9))
    assert turn.changes[0].shown_at == NOW


def test_carry_forward_shows_last_time_and_enter_keeps_it(engine):
    session = engine.new_session("s", "en", previous={"sleep": "bad"})
    turn = run(engine, session, "Ann", "no")
    assert turn.prompt.last_time == "Last time you said: Bad"
    run(engine, session, "")
    assert session.value("sleep") == "bad"


def test_carry_forward_can_be_overridden(engine):
    session = engine.new_session("s", "en", previous={"sleep": "bad"})
    run(engine, session, "Ann", "no", "Good")
    assert session.value("sleep") == "good"


def test_the_same_answer_again_is_not_a_new_revision(engine, session):
    run(engine, session, "Ann", "/back")
    turn = engine.handle(session, Reply(text="Ann"), NOW)
    assert turn.changes == []
    assert session.answers["name"].revision == 1


def test_a_session_resumed_from_plain_data_continues_where_it_was(engine, session):
    from dataclasses import replace

    run(engine, session, "Ann", "yes")
    copy = replace(session, answers=dict(session.answers))
    turn = engine.resume(copy, NOW)
    assert turn.prompt.token == "worry"
    assert turn.notices[0].startswith("Welcome back. You were at question 3 of 4")


def test_bot_name_suffix_on_commands_is_understood(engine, session):
    turn = run(engine, session, "Ann", "/back@caseflow_bot")
    assert turn.prompt.token == "name"


def test_a_stage_condition_skips_the_whole_stage():
    engine = make_engine(
        """
        id: t
        version: 1
        title: {en: T}
        respondent: worker
        languages: [en]
        stages:
          - id: a
            title: {en: A}
            items:
              - {id: school_age, type: yesno, prompt: {en: School age}}
          - id: school
            title: {en: School}
            when: "answers.school_age"
            items:
              - {id: grade, type: number, prompt: {en: Grade}}
          - id: end
            title: {en: End}
            items:
              - {id: done, type: yesno, prompt: {en: Done}}
        """
    )
    session = engine.new_session("s", "en")
    assert run(engine, session, "no").prompt.token == "done"


def test_a_condition_can_read_case_facts():
    engine = make_engine(
        flow_yaml(
            """
            - {id: a, type: yesno, prompt: {en: A}, when: "case.age and case.age >= 65"}
            - {id: b, type: yesno, prompt: {en: B}}
            """
        )
    )
    young = engine.new_session("s", "en", facts={"age": 9})
    assert engine.start(young, NOW).prompt.token == "b"
    old = engine.new_session("s", "en", facts={"age": 80})
    assert engine.start(old, NOW).prompt.token == "a"


@pytest.mark.parametrize(
    "source",
    [
        "answers.__class__.__mro__",
        "answers.items.__globals__",
        "'x' * 100000000",
        "10 ** 100000",
        "range(10**9) | list",
        "lipsum()",
        "cycler.__init__.__globals__",
    ],
)
def test_a_condition_cannot_escape_the_sandbox_or_exhaust_memory(source):
    condition = compile_condition(source)
    assert condition({"answers": {}, "case": {}, "labels": {}, "last": {}}) is False


def test_a_piped_text_cannot_reach_python_internals():
    render = compile_text("{{ answers.__class__.__init__.__globals__ }}")
    assert "import" not in render({"answers": {}, "case": {}})


def test_a_failing_condition_counts_as_false_rather_than_breaking_the_interview():
    condition = compile_condition("answers.a > 'x'")
    assert condition({"answers": {"a": 3}}) is False


@pytest.mark.parametrize(
    ("text", "edits"), [("²", None), ("٣", "sleep"), ("①", None), ("1" * 40, None)]
)
def test_unusual_digits_are_refused_or_understood_never_a_crash(engine, session, text, edits):
    turn = run(engine, session, "Ann", "no", text)
    assert turn.error == "Please choose one of the options: tap a button or type its number."
    assert turn.prompt.token == "sleep"
    turn = run(engine, session, "1", f"/edit {text}")
    if edits:  # Arabic-Indic three is a decimal digit: answer 3 is Sleep
        assert turn.prompt.token == edits
    else:
        assert turn.error.startswith("There is no answer number")
        assert turn.prompt.kind == "review"
