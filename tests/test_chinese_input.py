"""Respondents who write the way they speak: numbers, yes and no, commands, dates and
multiple choices, in Chinese and English, as tables of what is typed → what is stored, and
what is refused with which message.

NOW is Saturday 14 March 2026, so "周三" is the 11th looking back and the 18th looking ahead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows import spoken
from flows.engine import Prompt, Reply
from tests.conftest import NOW, flow_yaml, make_engine, run


def answer(items: str, *texts: str, lang: str = "en"):
    engine = make_engine(flow_yaml(items, languages="[en, zh]"))
    session = engine.new_session("s", lang)
    turn = run(engine, session, *texts)
    return session, turn


def stored(items: str, text: str, lang: str = "en"):
    session, turn = answer(items, text, lang=lang)
    assert turn.error is None, (text, turn.error)
    (question_id,) = session.answers
    return session.value(question_id)


def refused(items: str, text: str, lang: str = "en") -> str:
    session, turn = answer(items, text, lang=lang)
    assert session.answers == {}, f"{text!r} was stored"
    assert turn.status == "active" and turn.prompt is not None
    return turn.error


# -- numbers ------------------------------------------------------------------------------

DAYS = """
- id: days
  type: number
  integer: true
  unit: {en: days, zh: 天}
  prompt: {en: "How many days?", zh: 有几天？}
  validation: {min: 0, max: 31}
"""
TIMES = """
- id: times
  type: number
  integer: true
  prompt: {en: "How many times?", zh: 几次？}
"""
HOURS = """
- id: hours
  type: number
  unit: {en: hours, zh: 小时}
  prompt: {en: "How long?", zh: 多长时间？}
"""


@pytest.mark.parametrize(
    ("items", "text", "value"),
    [
        (DAYS, "0", 0),
        (DAYS, "零", 0),
        (DAYS, "一", 1),
        (DAYS, "二", 2),
        (DAYS, "两", 2),
        (DAYS, "三", 3),
        (DAYS, "十", 10),
        (DAYS, "十二", 12),
        (DAYS, "二十五", 25),
        (DAYS, "３", 3),
        (DAYS, "１２", 12),
        (DAYS, "2天", 2),
        (DAYS, "两天", 2),
        (DAYS, "3 天", 3),
        (DAYS, "三天", 3),
        (DAYS, "３天", 3),
        (DAYS, "3 days", 3),
        (DAYS, "1 day", 1),
        (DAYS, "没有", 0),
        (DAYS, "一天也没有", 0),
        (DAYS, "三天左右", 3),
        (DAYS, "大概5天", 5),
        (DAYS, "3次", 3),  # a counter fits any question
        (TIMES, "三次", 3),
        (TIMES, "3 次", 3),
        (TIMES, "3个", 3),
        (TIMES, "一百", 100),
        (TIMES, "两百零五", 205),
        (TIMES, "一百五", 150),
        (TIMES, "3 times", 3),
        (TIMES, "2天", 2),  # no unit declared: any unit is taken at its word
        (HOURS, "半", 0.5),
        (HOURS, "半小时", 0.5),
        (HOURS, "一个半小时", 1.5),
        (HOURS, "两个半小时", 2.5),
        (HOURS, "两个钟头", 2),
        (HOURS, "1.5", 1.5),
        (HOURS, "２．５", 2.5),
        (HOURS, "3,5", 3.5),
        (HOURS, "3 hours", 3),
    ],
)
def test_a_number_is_read_as_written_in_chinese_or_english(items, text, value):
    assert stored(items, text) == value


@pytest.mark.parametrize(
    ("items", "text", "lang", "message"),
    [
        (DAYS, "五六天", "en", "Please give one number, for example 3."),
        (DAYS, "五六天", "zh", "请只写一个数，例如 3。"),
        (DAYS, "3-4天", "en", "Please give one number, for example 3."),
        (DAYS, "三到四天", "zh", "请只写一个数，例如 3。"),
        (
            DAYS,
            "3小时",
            "en",
            "This question counts in days. Please give the number of days, for example 3.",
        ),
        (DAYS, "3小时", "zh", "这里按“天”算，请写几天，例如 3。"),
        (DAYS, "两个月", "zh", "这里按“天”算，请写几天，例如 3。"),
        (DAYS, "半天", "en", "Please type a whole number, for example 3."),
        (DAYS, "三十二", "en", "Please give a number no bigger than 31."),
        (DAYS, "几天", "zh", "请输入一个数字，例如 3。"),
        (DAYS, "three", "en", "Please type a number, for example 3."),
        (DAYS, "①", "en", "Please type a number, for example 3."),
        (DAYS, "1e3", "en", "Please type a number, for example 3."),
        (TIMES, "3个苹果", "en", "Please type a number, for example 3."),
    ],
)
def test_a_number_that_is_not_one_number_of_the_right_kind_is_refused(items, text, lang, message):
    assert refused(items, text, lang) == message


# -- yes and no ---------------------------------------------------------------------------

YESNO = """
- id: ok
  type: yesno
  prompt: {en: "Did anything worry you?", zh: 有没有让您担心的事？}
"""
OPTIONAL_YESNO = YESNO + "  required: false\n"
WENT_OUT = """
- id: went_out
  type: yesno
  prompt: {en: "Did you go out this week?", zh: 这个星期您出过家门吗？}
  labels:
    yes: {en: Went out, zh: 出过门}
    no: {en: Stayed in, zh: 没出门}
"""


@pytest.mark.parametrize(
    "text",
    [
        *("有", "是", "是的", "嗯", "嗯嗯", "对", "对的", "对对对", "要", "好", "好的", "会"),
        *("会的", "可以", "有的呀", "是。", "yes", "Y", "yeah", "yep", "ok", "1", "１", "👍"),
    ],
)
def test_yes_as_people_say_it(text):
    assert stored(YESNO, text, lang="zh") is True


@pytest.mark.parametrize(
    "text",
    [
        *("没有", "没", "没有的", "不是", "不对", "不要", "不好", "不会", "否", "不", "无"),
        *("没有。", "no", "N", "nope", "nah", "2"),
    ],
)
def test_no_as_people_say_it(text):
    assert stored(YESNO, text, lang="zh") is False


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("出过门", True),
        ("出过门了", True),
        ("没出门", False),
        ("Went out", True),
        ("stayed in", False),
        ("有", True),
        ("没有", False),
        ("yes", True),
    ],
)
def test_a_yes_no_question_takes_its_own_labels_as_well_as_yes_and_no(text, value):
    assert stored(WENT_OUT, text, lang="zh") is value


def test_own_yes_no_labels_are_the_buttons_and_read_back_in_the_review():
    engine = make_engine(flow_yaml(WENT_OUT, languages="[en, zh]"))
    session = engine.new_session("s", "zh")
    prompt = engine.start(session, NOW).prompt
    assert prompt.options == (("yes", "出过门"), ("no", "没出门"))
    turn = engine.handle(session, Reply(choice="no", token="went_out"), NOW)
    assert turn.accepted == "没出门"
    assert turn.prompt.review[0].answer == "没出门"
    assert session.value("went_out") is False


@pytest.mark.parametrize(
    ("items", "text", "lang", "message"),
    [
        (YESNO, "maybe", "en", "Please answer yes or no."),
        (YESNO, "也许吧", "zh", "请回答“是”或“否”。"),
        (YESNO, "有点", "zh", "请回答“是”或“否”。"),
        (WENT_OUT, "maybe", "en", "Please answer “Went out” or “Stayed in” (yes or no)."),
        (WENT_OUT, "也许", "zh", "请回答“出过门”或“没出门”。"),
        (YESNO, "不知道", "zh", "这个问题需要回答，按大概的情况回答就可以。"),
        (YESNO, "not sure", "en", "This question needs an answer. Please answer as best you can."),
        (OPTIONAL_YESNO, "不知道", "zh", "没关系。如果说不准，可以发“跳过”先不答这一题。"),
        (
            OPTIONAL_YESNO,
            "I don't know",
            "en",
            "That's all right. If you are not sure, send “skip” to leave this question out.",
        ),
    ],
)
def test_what_is_neither_yes_nor_no_is_refused_and_dont_know_is_never_a_silent_skip(
    items, text, lang, message
):
    assert refused(items, text, lang) == message


def test_dont_know_is_an_answer_to_a_free_text_question():
    items = '- {id: why, type: text, prompt: {en: "Why?", zh: 为什么？}}'
    assert stored(items, "不知道", lang="zh") == "不知道"


def test_an_option_called_dont_know_is_chosen_not_refused():
    items = """
    - id: school
      type: choice
      prompt: {en: "Which school?", zh: 哪个学校？}
      options:
        - {value: village, label: {en: Village school, zh: 村小}}
        - {value: unknown, label: {en: Not sure, zh: 不清楚}}
    """
    assert stored(items, "不清楚", lang="zh") == "unknown"


# -- commands in words --------------------------------------------------------------------

STEPS = """
- id: name
  type: text
  prompt: {en: "Name?", zh: 名字？}
- id: worried
  type: yesno
  required: false
  prompt: {en: "Worried?", zh: 担心吗？}
- id: when
  type: choice
  prompt: {en: "When shall we call?", zh: 什么时候打电话？}
  options:
    - {value: now, label: {en: Now, zh: 现在}}
    - {value: later, label: {en: Later, zh: 等一下}}
"""


def at_second(*texts: str, lang: str = "zh"):
    """A session at the optional yes/no question, after answering the name."""
    engine = make_engine(flow_yaml(STEPS, languages="[en, zh]"))
    session = engine.new_session("s", lang)
    turn = run(engine, session, "小明", *texts)
    return session, turn


@pytest.mark.parametrize("word", ["返回", "上一题", "上一个", "返回。", "back", "Back", "/back"])
def test_back_in_words_goes_to_the_previous_question(word):
    _, turn = at_second(word)
    assert turn.prompt.token == "name"
    assert turn.prompt.current == "您现在的回答：小明"


@pytest.mark.parametrize("word", ["跳过", "skip", "SKIP", "/skip"])
def test_skip_in_words_skips_an_optional_question(word):
    session, turn = at_second(word)
    assert session.answers["worried"].status == "skipped"
    assert turn.prompt.token == "when"


@pytest.mark.parametrize(("word", "lang"), [("跳过", "zh"), ("skip", "en")])
def test_skip_in_words_on_a_required_question_says_it_needs_an_answer(word, lang):
    engine = make_engine(flow_yaml(STEPS, languages="[en, zh]"))
    session = engine.new_session("s", lang)
    turn = run(engine, session, word)
    assert (
        turn.error
        == {
            "zh": "这个问题需要回答，不能跳过。",
            "en": "This question needs an answer, so it can't be skipped.",
        }[lang]
    )
    assert session.answers == {}


@pytest.mark.parametrize("word", ["暂停", "等会儿", "等一下", "等下", "待会儿", "pause", "wait"])
def test_pause_in_words_pauses_and_continue_resumes(word):
    session, turn = at_second(word)
    assert turn.status == "paused" and "worried" not in session.answers
    turn = run(make_engine(flow_yaml(STEPS, languages="[en, zh]")), session, "继续")
    assert turn.status == "active" and turn.prompt.token == "worried"
    assert turn.notices[0].startswith("欢迎回来。您上次答到第 2 题")


@pytest.mark.parametrize("word", ["取消", "不填了", "不想填了", "cancel", "quit"])
def test_cancel_in_words_ends_the_session_and_keeps_the_answers(word):
    session, turn = at_second(word)
    assert turn.status == "cancelled"
    assert session.value("name") == "小明"


def test_cancel_in_words_ends_a_paused_session():
    session, _ = at_second("暂停")
    engine = make_engine(flow_yaml(STEPS, languages="[en, zh]"))
    assert run(engine, session, "不填了").status == "cancelled"


@pytest.mark.parametrize(
    ("word", "lang", "first_line", "words"),
    [
        (
            "帮助",
            "zh",
            "回答“是”或“不是”",
            "也可以单独发这些词：“返回”、“跳过”、“暂停”、“取消”、“帮助”。",
        ),
        ("？", "zh", "回答“是”或“不是”", "“帮助”"),
        (
            "help",
            "en",
            "Answer yes or no",
            "You can also send these words on their own: back, skip,",
        ),
        ("?", "en", "Answer yes or no", "pause, cancel, help."),
        ("/help", "en", "Answer yes or no", "back, skip"),
    ],
)
def test_help_in_words_says_what_this_question_takes_and_which_words_work(
    word, lang, first_line, words
):
    session, turn = at_second(word, lang=lang)
    assert turn.error is None and turn.prompt.token == "worried"
    (notice,) = turn.notices
    assert notice.startswith(first_line)
    assert words in notice
    assert "worried" not in session.answers


def test_a_command_word_inside_a_longer_answer_is_an_answer():
    engine = make_engine(flow_yaml(STEPS, languages="[en, zh]"))
    session = engine.new_session("s", "zh")
    run(engine, session, "我想返回老家")
    assert session.value("name") == "我想返回老家"


def test_a_whole_message_command_word_is_a_command_even_for_a_text_question():
    engine = make_engine(flow_yaml(STEPS, languages="[en, zh]"))
    session = engine.new_session("s", "zh")
    turn = run(engine, session, "暂停")
    assert turn.status == "paused" and session.answers == {}


def test_an_option_that_reads_like_a_command_word_is_an_answer():
    session, turn = at_second("no", "等一下")
    assert session.value("when") == "later"
    assert turn.status == "active" and turn.prompt.kind == "review"


def test_continue_keeps_the_answer_of_a_revisited_question_and_never_skips_a_new_one():
    session, turn = at_second("返回", "继续")
    assert turn.prompt.token == "worried" and session.value("name") == "小明"
    turn = run(make_engine(flow_yaml(STEPS, languages="[en, zh]")), session, "继续")
    assert turn.error == "请回答这个问题。"
    assert "worried" not in session.answers


@pytest.mark.parametrize(
    ("word", "token"),
    [
        *(("修改 1", "name"), ("改1", "name"), ("改第一个", "name"), ("修改第2题", "worried")),
        *(("edit 1", "name"), ("/edit 1", "name")),
    ],
)
def test_edit_in_words_at_the_review_opens_that_answer(word, token):
    _, turn = at_second("是", "1", word)
    assert turn.prompt.token == token


@pytest.mark.parametrize("word", ["提交", "submit", "/submit"])
def test_submit_in_words_at_the_review_completes(word):
    _, turn = at_second("是", "1", word)
    assert turn.status == "completed"


@pytest.mark.parametrize(("word", "lang"), [("提交", "zh"), ("submit", "en")])
def test_submit_in_words_before_the_review_is_refused_in_those_words(word, lang):
    _, turn = at_second(word, lang=lang)
    assert (
        turn.error
        == {"zh": "现在不能用“提交”。", "en": "“submit” can't be used at this point."}[lang]
    )


def test_review_in_words_after_an_edit_returns_to_the_review():
    _, turn = at_second("是", "1", "修改 1", "核对")
    assert turn.prompt.kind == "review"


def test_check_alone_is_an_answer_not_a_command():
    engine = make_engine(flow_yaml(STEPS, languages="[en, zh]"))
    session = engine.new_session("s", "zh")
    run(engine, session, "检查")
    assert session.value("name") == "检查"


# -- dates --------------------------------------------------------------------------------

WHEN = """
- id: day
  type: date
  prompt: {en: "When was it?", zh: 是哪一天？}
"""
BY_WHEN = """
- id: day
  type: date
  deadline: true
  prompt: {en: "By when?", zh: 最晚什么时候？}
"""
OPEN = """
- id: day
  type: date
  prompt: {en: "Which day?", zh: 哪一天？}
  validation: {not_future: false}
"""
FROM_TODAY = """
- id: day
  type: date
  prompt: {en: "Next visit?", zh: 下次什么时候？}
  validation: {not_future: false, min: today}
"""


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("今天", "2026-03-14"),
        ("今日", "2026-03-14"),
        ("昨天", "2026-03-13"),
        ("前天", "2026-03-12"),
        ("大前天", "2026-03-11"),
        ("周三", "2026-03-11"),
        ("星期三", "2026-03-11"),
        ("礼拜三", "2026-03-11"),
        ("周六", "2026-03-14"),
        ("上周五", "2026-03-06"),
        ("上星期一", "2026-03-02"),
        ("这周一", "2026-03-09"),
        ("三天前", "2026-03-11"),
        ("3天前", "2026-03-11"),
        ("两周前", "2026-02-28"),
        ("3月5日", "2026-03-05"),
        ("3月5号", "2026-03-05"),
        ("三月五日", "2026-03-05"),
        ("12月5日", "2025-12-05"),
        ("12月5号", "2025-12-05"),
        ("十二月五号", "2025-12-05"),
        ("5号", "2026-03-05"),
        ("5日", "2026-03-05"),
        ("20号", "2026-02-20"),
        ("31号", "2026-01-31"),
        ("上个月20号", "2026-02-20"),
        ("2026年3月1日", "2026-03-01"),
        ("2026年3月1号", "2026-03-01"),
        ("二〇二六年三月一日", "2026-03-01"),
        ("二零二五年十二月五日", "2025-12-05"),
        ("2026-03-01", "2026-03-01"),
        ("2026/3/1", "2026-03-01"),
        ("2026.3.1", "2026-03-01"),
        ("２０２６－０３－０１", "2026-03-01"),
        ("today", "2026-03-14"),
        ("Yesterday", "2026-03-13"),
        ("the day before yesterday", "2026-03-12"),
        ("3 days ago", "2026-03-11"),
        ("a week ago", "2026-03-07"),
        ("wednesday", "2026-03-11"),
        ("on Wednesday", "2026-03-11"),
        ("last friday", "2026-03-13"),
        ("mar 5", "2026-03-05"),
        ("5 March", "2026-03-05"),
        ("dec 5", "2025-12-05"),
        ("5th of December", "2025-12-05"),
        ("Dec 5, 2025", "2025-12-05"),
    ],
)
def test_a_date_of_something_that_happened_reads_relative_forms_backwards(text, value):
    assert stored(WHEN, text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("今天", "2026-03-14"),
        ("明天", "2026-03-15"),
        ("明日", "2026-03-15"),
        ("后天", "2026-03-16"),
        ("大后天", "2026-03-17"),
        ("下周一", "2026-03-16"),
        ("下星期三", "2026-03-18"),
        ("下礼拜五", "2026-03-20"),
        ("下周日", "2026-03-22"),
        ("下周天", "2026-03-22"),
        ("周三", "2026-03-18"),
        ("星期三", "2026-03-18"),
        ("周六", "2026-03-14"),
        ("周五前", "2026-03-20"),
        ("周五之前", "2026-03-20"),
        ("3天后", "2026-03-17"),
        ("三天以后", "2026-03-17"),
        ("一周后", "2026-03-21"),
        ("12月5日", "2026-12-05"),
        ("12月5号", "2026-12-05"),
        ("3月1日", "2027-03-01"),
        ("5号", "2026-04-05"),
        ("20号", "2026-03-20"),
        ("下个月5号", "2026-04-05"),
        ("2026年12月5日", "2026-12-05"),
        ("2026-12-05", "2026-12-05"),
        ("2026/12/5", "2026-12-05"),
        ("tomorrow", "2026-03-15"),
        ("Tomorrow.", "2026-03-15"),
        ("the day after tomorrow", "2026-03-16"),
        ("in 3 days", "2026-03-17"),
        ("next monday", "2026-03-16"),
        ("next friday", "2026-03-20"),
        ("wednesday", "2026-03-18"),
        ("by Friday", "2026-03-20"),
        ("dec 5", "2026-12-05"),
        ("5 dec", "2026-12-05"),
        ("December 5th", "2026-12-05"),
    ],
)
def test_a_deadline_reads_relative_forms_forwards(text, value):
    assert stored(BY_WHEN, text) == value


@pytest.mark.parametrize(("text", "value"), [("周三", "2026-03-18"), ("昨天", "2026-03-13")])
def test_a_date_that_may_be_in_the_future_reads_weekdays_forwards(text, value):
    assert stored(OPEN, text) == value


@pytest.mark.parametrize(
    ("items", "text", "lang", "message"),
    [
        (WHEN, "明天", "en", "That date is in the future. Please give a date up to today."),
        (WHEN, "明天", "zh", "这个日期还没到。请输入今天或之前的日期。"),
        (WHEN, "下周一", "zh", "这个日期还没到。请输入今天或之前的日期。"),
        (WHEN, "2月30日", "zh", "请输入日期，例如 2026-03-14、3月14日，或者“今天”“昨天”。"),
        (
            WHEN,
            "2026-02-30",
            "en",
            "Please give a date like 2026-03-14 or 14 March, or a word like today or yesterday.",
        ),
        (WHEN, "下周", "zh", "请输入日期，例如 2026-03-14、3月14日，或者“今天”“昨天”。"),
        (
            WHEN,
            "last week",
            "en",
            "Please give a date like 2026-03-14 or 14 March, or a word like today or yesterday.",
        ),
        (WHEN, "32号", "zh", "请输入日期，例如 2026-03-14、3月14日，或者“今天”“昨天”。"),
        (BY_WHEN, "昨天", "en", "That date has already passed. Please give today or a later date."),
        (BY_WHEN, "昨天", "zh", "这个日期已经过去了。请输入今天或以后的日期。"),
        (BY_WHEN, "上周五", "zh", "这个日期已经过去了。请输入今天或以后的日期。"),
        (
            BY_WHEN,
            "2026-03-01",
            "en",
            "That date has already passed. Please give today or a later date.",
        ),
        (
            BY_WHEN,
            "soon",
            "en",
            "Please give a date like 2026-12-05 or 5 Dec, or a word like tomorrow or next Monday.",
        ),
        (BY_WHEN, "过几天", "zh", "请输入日期，例如 2026-12-05、12月5日，或者“明天”“下周一”。"),
    ],
)
def test_a_date_that_is_no_date_or_on_the_wrong_side_of_today_is_refused(
    items, text, lang, message
):
    assert refused(items, text, lang) == message


@pytest.mark.parametrize(
    ("items", "lang", "offered"),
    [
        (WHEN, "en", (("today", "Today"), ("yesterday", "Yesterday"))),
        (WHEN, "zh", (("today", "今天"), ("yesterday", "昨天"))),
        (BY_WHEN, "en", (("today", "Today"), ("tomorrow", "Tomorrow"))),
        (BY_WHEN, "zh", (("today", "今天"), ("tomorrow", "明天"))),
        (OPEN, "en", (("yesterday", "Yesterday"), ("today", "Today"), ("tomorrow", "Tomorrow"))),
        (FROM_TODAY, "en", (("today", "Today"), ("tomorrow", "Tomorrow"))),
    ],
)
def test_the_quick_dates_offered_never_include_yesterday_for_a_deadline(items, lang, offered):
    engine = make_engine(flow_yaml(items, languages="[en, zh]"))
    prompt = engine.start(engine.new_session("s", lang), NOW).prompt
    assert prompt.quick_dates == offered


def test_a_tapped_quick_date_is_stored_as_that_day():
    engine = make_engine(flow_yaml(BY_WHEN, languages="[en, zh]"))
    session = engine.new_session("s", "zh")
    engine.start(session, NOW)
    turn = engine.handle(session, Reply(choice="tomorrow", token="day"), NOW)
    assert session.value("day") == "2026-03-15" and turn.accepted == "2026-03-15"


# Beijing is UTC+8: at 07:00 on Sunday 15 March in Beijing, UTC still says Saturday the 14th.
BEIJING_MORNING = datetime(2026, 3, 14, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("items", "text", "value"),
    [
        (WHEN, "今天", "2026-03-15"),
        (WHEN, "昨天", "2026-03-14"),
        (WHEN, "周日", "2026-03-15"),
        (BY_WHEN, "明天", "2026-03-16"),
        (BY_WHEN, "后天", "2026-03-17"),
    ],
)
def test_relative_dates_are_read_on_the_respondents_day_not_the_utc_one(
    items, text, value, monkeypatch
):
    monkeypatch.delenv("CASEFLOW_TZ", raising=False)  # the default: Asia/Shanghai
    engine = make_engine(flow_yaml(items, languages="[en, zh]"))
    session = engine.new_session("s", "zh")
    engine.start(session, BEIJING_MORNING)
    turn = engine.handle(session, Reply(text=text), BEIJING_MORNING)
    assert turn.error is None and session.value("day") == value


def test_a_tapped_today_before_eight_in_beijing_is_the_beijing_day(monkeypatch):
    monkeypatch.delenv("CASEFLOW_TZ", raising=False)
    engine = make_engine(flow_yaml(WHEN, languages="[en, zh]"))
    session = engine.new_session("s", "zh")
    engine.start(session, BEIJING_MORNING)
    engine.handle(session, Reply(choice="today", token="day"), BEIJING_MORNING)
    assert session.value("day") == "2026-03-15"


def test_the_organisations_time_zone_decides_the_day(monkeypatch):
    monkeypatch.setenv("CASEFLOW_TZ", "America/New_York")
    evening = datetime(2026, 3, 15, 2, 0, tzinfo=UTC)  # the 15th in UTC and in Beijing
    engine = make_engine(flow_yaml(WHEN, languages="[en, zh]"))
    session = engine.new_session("s", "en")
    engine.start(session, evening)
    engine.handle(session, Reply(text="today"), evening)
    assert session.value("day") == "2026-03-14"  # 22:00 on the 14th in New York


def test_a_day_the_channel_knows_wins_over_the_time_zone(monkeypatch):
    monkeypatch.delenv("CASEFLOW_TZ", raising=False)
    engine = make_engine(flow_yaml(BY_WHEN, languages="[en, zh]"))
    session = engine.new_session("s", "zh")
    engine.start(session, BEIJING_MORNING)
    engine.handle(session, Reply(text="明天", today=date(2026, 3, 20)), BEIJING_MORNING)
    assert session.value("day") == "2026-03-21"


def test_the_beijing_day_before_eight_is_not_refused_as_the_future(monkeypatch):
    monkeypatch.delenv("CASEFLOW_TZ", raising=False)
    engine = make_engine(flow_yaml(WHEN, languages="[en, zh]"))
    session = engine.new_session("s", "zh")
    engine.start(session, BEIJING_MORNING)
    assert engine.handle(session, Reply(text="2026-03-15"), BEIJING_MORNING).error is None
    assert session.value("day") == "2026-03-15", "15 March is today in Beijing, not the future"


@pytest.mark.parametrize(
    ("items", "lang", "forms"),
    [
        (WHEN, "zh", "输入日期：今天、昨天、前天、三天前、周一（最近过去的那个）"),
        (
            BY_WHEN,
            "zh",
            "输入日期：今天、明天、后天、三天后、周一（接下来的那个）、下周一、12月5日",
        ),
        (BY_WHEN, "en", "Type a date: today, tomorrow, the day after tomorrow, in 3 days"),
    ],
)
def test_help_names_the_date_forms_that_work(items, lang, forms):
    assert answer(items, "帮助", lang=lang)[1].notices[0].startswith(forms)


# -- several choices, one that stands alone -----------------------------------------------

WHO = """
- id: who
  type: multi
  prompt: {en: "Who did you see?", zh: 您见了谁？}
  options:
    - {value: son, label: {en: My son, zh: 儿子}}
    - {value: neighbour, label: {en: A neighbour, zh: 邻居}}
    - {value: market, label: {en: "People at the market, shops", zh: 买菜、逛街时遇到的人}}
    - {value: nobody, label: {en: Nobody, zh: 谁也没有}, exclusive: true}
"""


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,2", ["son", "neighbour"]),
        ("1 2", ["son", "neighbour"]),
        ("1，2", ["son", "neighbour"]),
        ("２、１", ["son", "neighbour"]),
        ("一、二", ["son", "neighbour"]),
        ("1和2", ["son", "neighbour"]),
        ("儿子、邻居", ["son", "neighbour"]),
        ("邻居和儿子", ["son", "neighbour"]),
        ("儿子，邻居", ["son", "neighbour"]),
        ("My son and a neighbour", ["son", "neighbour"]),
        ("买菜、逛街时遇到的人", ["market"]),
        ("儿子、买菜、逛街时遇到的人", ["son", "market"]),
        ("谁也没有", ["nobody"]),
        ("4", ["nobody"]),
        ("nobody", ["nobody"]),
    ],
)
def test_a_multi_answer_takes_numbers_and_labels_joined_as_people_join_them(text, value):
    assert stored(WHO, text, lang="zh") == value


@pytest.mark.parametrize(
    ("text", "lang", "message"),
    [
        (
            "1,4",
            "en",
            "“Nobody” can't go together with other answers. Choose “Nobody” on its own,"
            " or the others without it.",
        ),
        (
            "儿子、谁也没有",
            "zh",
            "“谁也没有”不能和别的选项一起选。请只选“谁也没有”，或者只选别的选项。",
        ),
        ("儿子和猫", "zh", "可以选几个：输入选项的编号，中间用空格或顿号隔开，比如 1、3。"),
        ("1,9", "en", "Please choose from the options: type their numbers, like 1,3."),
    ],
)
def test_an_exclusive_option_typed_with_others_is_refused_clearly(text, lang, message):
    assert refused(WHO, text, lang) == message


def test_tapping_an_exclusive_option_clears_the_others_and_another_clears_it():
    engine = make_engine(flow_yaml(WHO, languages="[en, zh]"))
    prompt = engine.start(engine.new_session("s", "zh"), NOW).prompt
    assert prompt.exclusive == (3,)
    assert prompt.toggled({0, 1}, 3) == {3}
    assert prompt.toggled({3}, 0) == {0}
    assert prompt.toggled({0}, 1) == {0, 1}
    assert prompt.toggled({0, 1}, 1) == {0}
    assert prompt.toggled({3}, 3) == set()


def test_a_multi_without_exclusive_options_toggles_freely():
    assert Prompt(kind="question", token="x", text="").toggled({0}, 1) == {0, 1}


def test_help_on_a_multi_names_the_option_that_stands_alone():
    _, turn = answer(WHO, "帮助", lang="zh")
    assert "“谁也没有”只能单独选。" in turn.notices[0]


# -- choices and scales -------------------------------------------------------------------

SLEEP = """
- id: sleep
  type: choice
  prompt: {en: "Sleep?", zh: 睡得怎么样？}
  options:
    - {value: well, label: {en: Well, zh: 睡得好}}
    - {value: some, label: {en: Some bad nights, zh: 有几晚睡不好}}
    - {value: badly, label: {en: Badly, zh: 大多数晚上睡不好}}
"""
MOOD = """
- id: mood
  type: scale
  min: 1
  max: 5
  prompt: {en: "Mood?", zh: 心情？}
"""


@pytest.mark.parametrize(
    ("items", "text", "value"),
    [
        (SLEEP, "２", "some"),
        (SLEEP, "二", "some"),
        (SLEEP, "第二个", "some"),
        (SLEEP, "睡得好。", "well"),
        (MOOD, "４", 4),
        (MOOD, "四", 4),
        (MOOD, "4分", 4),
    ],
)
def test_options_and_scale_points_are_typed_in_full_width_or_chinese_numerals(items, text, value):
    assert stored(items, text, lang="zh") == value


# -- the parsers themselves ---------------------------------------------------------------

_DIGITS = "零一二三四五六七八九"


def written(n: int) -> str:
    """``n`` (below 10^8) as a careful writer puts it in Chinese numerals: 一千零五十, 十二."""
    if n == 0:
        return "零"

    def below_10k(m: int, leading: bool) -> str:
        out, zero = "", False
        for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
            d = m // unit % 10
            if d == 0:
                zero = bool(out)
                continue
            if zero:
                out, zero = out + "零", False
            out += name if (unit == 10 and d == 1 and not out and leading) else _DIGITS[d] + name
        return out

    high, low = divmod(n, 10_000)
    if not high:
        return below_10k(low, True)
    out = below_10k(high, True) + "万"
    if low and low < 1000:
        out += "零"
    return out + (below_10k(low, False) if low else "")


@given(st.integers(min_value=0, max_value=99_999_999))
def test_every_number_written_in_chinese_numerals_reads_back(n):
    assert spoken.chinese_integer(written(n)) == n


@pytest.mark.parametrize(
    ("text", "value"),
    [
        *(("两", 2), ("两百", 200), ("两千三", 2300), ("一百一", 110), ("三万五", 35000)),
        *(("十一万三", 113000), ("〇", 0), ("二十", 20)),
    ],
)
def test_spoken_shortenings_of_chinese_numerals(text, value):
    assert spoken.chinese_integer(text) == value


@pytest.mark.parametrize("text", ["", "五六", "二零", "百", "千", "十百", "一百零", "零五", "万"])
def test_what_is_not_one_chinese_numeral_reads_as_none(text):
    assert spoken.chinese_integer(text) is None


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    st.sampled_from(["past", "future"]),
)
def test_a_full_date_reads_as_itself_in_every_written_form(day, today, direction):
    for text in (
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        f"{day.year}年{day.month}月{day.day}号",
    ):
        assert spoken.read_date(text, today, direction) == day


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1, max_value=31),
)
def test_a_month_and_day_is_the_nearest_one_on_the_right_side_of_today(today, month, day):
    back = spoken.read_date(f"{month}月{day}日", today, "past")
    ahead = spoken.read_date(f"{month}月{day}号", today, "future")
    if back is None:  # 2月30日, 4月31日
        assert ahead is None
        return
    assert (back.month, back.day) == (ahead.month, ahead.day) == (month, day)
    assert today - timedelta(days=366 * 8) < back <= today <= ahead
    assert back == today or ahead == today or (ahead.year - back.year) in (1, 4, 8)


@given(st.dates(min_value=date(2000, 1, 3), max_value=date(2099, 12, 28)), st.integers(0, 6))
def test_a_weekday_is_within_a_week_on_the_right_side_of_today(today, weekday):
    name = "周" + "一二三四五六日"[weekday]
    back = spoken.read_date(name, today, "past")
    ahead = spoken.read_date(name, today, "future")
    following = spoken.read_date("下" + name, today, "past")
    assert back.weekday() == ahead.weekday() == following.weekday() == weekday
    assert 0 <= (today - back).days < 7 and 0 <= (ahead - today).days < 7
    assert following.isocalendar()[1] != today.isocalendar()[1] and following > today
