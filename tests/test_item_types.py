"""Each item type accepts what a person would type or tap, and refuses the rest clearly."""

from __future__ import annotations

import pytest

from flows.engine import Reply, Voice
from tests.conftest import NOW, flow_yaml, make_engine, run

CHOICE = """
- id: q
  type: choice
  prompt: {en: "Where?", zh: 哪里？}
  options:
    - {value: home, label: {en: At home, zh: 在家}}
    - {value: school, label: {en: At school, zh: 在学校}}
"""


def answer(items: str, *texts: str, lang: str = "en", languages: str = "[en, zh]"):
    engine = make_engine(flow_yaml(items, languages=languages))
    session = engine.new_session("s", lang)
    turn = run(engine, session, *texts)
    return session, turn


@pytest.mark.parametrize("text", ["2", "school", "At school", "at SCHOOL", "在学校"])
def test_choice_accepts_number_stored_value_or_label_in_any_language(text):
    session, turn = answer(CHOICE, text)
    assert session.value("q") == "school"
    assert turn.prompt.kind == "review"


@pytest.mark.parametrize("text", ["3", "0", "library", "-1"])
def test_choice_refuses_what_is_not_an_option_and_asks_again(text):
    session, turn = answer(CHOICE, text)
    assert turn.error == "Please choose one of the options: tap a button or type its number."
    assert turn.prompt.token == "q"
    assert "q" not in session.answers


def test_choice_error_is_in_the_respondents_language():
    _, turn = answer(CHOICE, "library", lang="zh")
    assert turn.error == "请选择一个选项：点按钮，或输入它的编号。"
    assert turn.prompt.options == (("home", "在家"), ("school", "在学校"))


MULTI = """
- id: who
  type: multi
  prompt: {en: "Who?", zh: 谁？}
  options:
    - {value: son, label: {en: Son, zh: 儿子}}
    - {value: neighbour, label: {en: A neighbour, zh: 邻居}}
    - {value: nobody, label: {en: Nobody, zh: 没有人}}
  validation: {max: 2}
"""


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,2", ["son", "neighbour"]),
        ("2 1", ["son", "neighbour"]),
        ("邻居、儿子", ["son", "neighbour"]),
        ("A neighbour", ["neighbour"]),
        ("3", ["nobody"]),
    ],
)
def test_multi_accepts_several_numbers_values_or_labels_and_keeps_option_order(text, value):
    session, _ = answer(MULTI, text)
    assert session.value("who") == value


def test_multi_enforces_its_maximum():
    _, turn = answer(MULTI, "1,2,3")
    assert turn.error == "Please choose no more than 2."


SCALE = """
- id: mood
  type: scale
  style: faces
  min: 1
  max: 5
  prompt: {en: "Mood?", zh: 心情？}
  anchors:
    1: {en: Very sad, zh: 很难过}
    5: {en: Very happy, zh: 很开心}
"""


def test_faces_scale_offers_faces_with_anchor_labels():
    engine = make_engine(flow_yaml(SCALE, languages="[en, zh]"))
    session = engine.new_session("s", "en")
    prompt = engine.start(session, NOW).prompt
    assert prompt.style == "faces"
    assert prompt.options[0] == ("1", "😢 Very sad")
    assert prompt.options[4] == ("5", "😄 Very happy")


@pytest.mark.parametrize(("text", "value"), [("4", 4), ("🙂", 4), ("Very happy", 5), ("很难过", 1)])
def test_scale_accepts_a_point_a_face_or_an_anchor(text, value):
    session, _ = answer(SCALE, text)
    assert session.value("mood") == value


@pytest.mark.parametrize("text", ["6", "0", "3.5", "happy-ish"])
def test_scale_refuses_points_outside_its_range(text):
    _, turn = answer(SCALE, text)
    assert turn.error == "Please choose a point from 1 to 5."


NUMBER = """
- id: days
  type: number
  integer: true
  prompt: {en: "Days?", zh: 几天？}
  validation:
    min: 0
    max: 7
    message: {en: From 0 to 7 days please., zh: 请输入0到7天。}
"""


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("7", 7), (" 3 ", 3), ("3.0", 3)])
def test_number_accepts_values_in_range(text, value):
    session, _ = answer(NUMBER, text)
    assert session.value("days") == value


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("8", "From 0 to 7 days please."),
        ("-1", "From 0 to 7 days please."),
        ("2.5", "From 0 to 7 days please."),
        ("three", "Please type a number, for example 3."),
        ("nan", "Please type a number, for example 3."),
        ("inf", "Please type a number, for example 3."),
    ],
)
def test_number_validation_uses_the_flows_own_message(text, error):
    _, turn = answer(NUMBER, text)
    assert turn.error == error


DATE = """
- id: when
  type: date
  prompt: {en: "When?", zh: 什么时候？}
"""


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("today", "2026-03-14"),
        ("yesterday", "2026-03-13"),
        ("昨天", "2026-03-13"),
        ("2026-03-01", "2026-03-01"),
        ("2026/3/1", "2026-03-01"),
        ("2026年3月1日", "2026-03-01"),
    ],
)
def test_date_accepts_words_and_common_written_forms(text, value):
    session, _ = answer(DATE, text)
    assert session.value("when") == value


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("2026-03-15", "That date is in the future. Please give a date up to today."),
        (
            "2026-02-30",
            "Please give a date like 2026-03-14 or 14 March, or a word like today or yesterday.",
        ),
        (
            "last week",
            "Please give a date like 2026-03-14 or 14 March, or a word like today or yesterday.",
        ),
    ],
)
def test_date_refuses_future_impossible_or_vague_dates(text, error):
    _, turn = answer(DATE, text)
    assert turn.error == error


YESNO = """
- id: ok
  type: yesno
  prompt: {en: "OK?", zh: 好吗？}
"""


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", True),
        ("Y", True),
        ("1", True),
        ("是", True),
        ("no", False),
        ("2", False),
        ("否", False),
        ("没有", False),
    ],
)
def test_yesno_accepts_words_and_numbers_in_both_languages(text, value):
    session, _ = answer(YESNO, text)
    assert session.value("ok") is value


TEXT = """
- id: story
  type: text
  prompt: {en: Tell me., zh: 说说看。}
  validation:
    max_length: 50
    pattern: "[^0-9]*"
    message: {en: No digits please., zh: 请不要写数字。}
"""


def test_text_is_stored_trimmed():
    session, _ = answer(TEXT, "  she laughed today  ")
    assert session.value("story") == "she laughed today"


def test_text_too_long_is_refused_with_its_length():
    _, turn = answer(TEXT, "a" * 51)
    assert turn.error == "That answer is 51 characters long; please keep it under 50."


def test_text_pattern_uses_the_flows_message():
    _, turn = answer(TEXT, "room 101")
    assert turn.error == "No digits please."


def test_text_accepts_a_voice_message_stored_by_file_id_and_duration():
    engine = make_engine(flow_yaml(TEXT))
    session = engine.new_session("s", "en")
    engine.start(session, NOW)
    turn = engine.handle(session, Reply(voice=Voice("AwACAgQ", 12)), NOW)
    assert session.value("story") == {"voice": "AwACAgQ", "duration": 12}
    assert turn.changes[0].display == "🎤 voice message (12 s)"


def test_a_voice_message_cannot_answer_a_choice():
    engine = make_engine(flow_yaml(CHOICE))
    session = engine.new_session("s", "en")
    engine.start(session, NOW)
    turn = engine.handle(session, Reply(voice=Voice("AwACAgQ", 3)), NOW)
    assert "voice message can't answer" in turn.error
    assert session.answers == {}


@pytest.mark.parametrize("media", ["sticker", "photo", "location"])
def test_a_sticker_photo_or_location_gets_a_clear_answer_and_the_same_question(media):
    engine = make_engine(flow_yaml(TEXT))
    session = engine.new_session("s", "en")
    engine.start(session, NOW)
    turn = engine.handle(session, Reply(media=media), NOW)
    assert turn.error.startswith("Please type your answer")
    assert turn.prompt.token == "story"


NOTE = """
- id: hello
  type: note
  prompt: {en: "Hello {{ case.name }}.", zh: 你好。}
- id: ok
  type: yesno
  prompt: {en: "OK?", zh: 好吗？}
"""


def test_a_note_needs_no_answer_and_stores_none():
    engine = make_engine(flow_yaml(NOTE))
    session = engine.new_session("s", "en", facts={"name": "Mrs Li"})
    turn = engine.start(session, NOW)
    assert turn.prompt.kind == "note"
    assert turn.prompt.text == "Hello Mrs Li."
    turn = engine.handle(session, Reply(text=""), NOW)
    assert turn.prompt.token == "ok"
    assert turn.changes == []
    assert "hello" not in session.answers


def test_notes_are_not_counted_in_progress():
    engine = make_engine(flow_yaml(NOTE))
    session = engine.new_session("s", "en")
    engine.start(session, NOW)
    turn = engine.handle(session, Reply(text=""), NOW)
    assert (turn.prompt.position, turn.prompt.total) == (1, 1)


def test_multi_answers_read_back_with_the_chinese_list_separator():
    _, turn = answer(MULTI, "1,2", lang="zh")
    assert turn.prompt.review[0].answer == "儿子；邻居"


def test_a_number_reads_back_with_its_unit():
    items = NUMBER.replace("  integer: true\n", "  integer: true\n  unit: {en: days, zh: 天}\n")
    _, turn = answer(items, "3")
    assert turn.prompt.review[0].answer == "3 days"


NUMERIC_CHOICE = """
- id: phq
  type: choice
  prompt: {en: "Bothered?", zh: 困扰？}
  options:
    - {value: 0, label: {en: Not at all, zh: 完全不会}}
    - {value: 1, label: {en: Several days, zh: 好几天}}
    - {value: 2, label: {en: More than half the days, zh: 一半以上的天数}}
    - {value: 3, label: {en: Nearly every day, zh: 几乎每天}}
"""


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("1", 1), ("3", 3), ("好几天", 1)])
def test_numeric_options_are_typed_by_their_value_never_by_position(text, value):
    session, _ = answer(NUMERIC_CHOICE, text)
    assert session.value("phq") == value


def test_numeric_options_are_offered_with_their_values_as_keys():
    engine = make_engine(flow_yaml(NUMERIC_CHOICE, languages="[en, zh]"))
    prompt = engine.start(engine.new_session("s", "en"), NOW).prompt
    assert prompt.keys == ("0", "1", "2", "3")


def test_a_number_outside_numeric_options_is_refused():
    _, turn = answer(NUMERIC_CHOICE, "4")
    assert turn.error == "Please choose one of the options: tap a button or type its number."


def test_a_scale_from_zero_is_offered_and_typed_by_its_points():
    items = SCALE.replace("min: 1", "min: 0").replace("style: faces", "style: likert")
    engine = make_engine(flow_yaml(items, languages="[en, zh]"))
    session = engine.new_session("s", "en")
    assert engine.start(session, NOW).prompt.keys == ("0", "1", "2", "3", "4", "5")
    engine.handle(session, Reply(text="0"), NOW)
    assert session.value("mood") == 0
