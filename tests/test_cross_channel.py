"""One session, several doors: a check-in started on Telegram is carried on in the browser
and back, and each door shows the question the session is really on.

The Telegram side is ``TelegramService`` driven directly (as in test_telegram_service.py),
on its own connection; the browser side is the respondent pages (``desk/respond.py``) on
their own thread and connection to the same file, as two processes would be.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.telegram_service import Send, TelegramService
from casework import schedules as schedule_actions
from casework import weblinks
from casework.interviews import Interviews
from flows.engine import Reply
from flows.recurrence import Recurrence
from flows.registry import FlowRegistry
from storage.store import Store
from tests.test_telegram_service import CAREGIVER_TG, WORKER_TG, Phone, invite_token, texts
from tests.webpages import Clock, Web

CLOCK = datetime(2026, 3, 16, 10, 30, tzinfo=UTC)  # Mon 18:30 in Shanghai
WEEKLY = Recurrence.model_validate(
    {"kind": "weekly", "weekdays": "mon", "at": "18:00", "tz": "Asia/Shanghai", "window": "48h"}
)


# -- two Interviews services on one database: what one does, the other sees -------------------


@pytest.fixture
def two_doors(tmp_path):
    path = tmp_path / "c.db"
    first, second = Store.open(path), Store.open(path)
    worker = first.add_person("Wang", "worker")
    case = first.create_case("C-1", worker)
    granny = first.add_person("Grandma Li", "caregiver")
    first.add_member(case.id, granny, "caregiver", worker)
    registry = FlowRegistry()
    yield Interviews(first, registry), Interviews(second, registry), case, granny
    first.close()
    second.close()


def test_a_session_carried_on_by_another_service_is_read_again_not_answered_from_memory(
    two_doors,
):
    telegram, web, case, granny = two_doors
    opened = telegram.open("child_checkin", case, granny, "telegram", lang="en")
    sid = opened.session.id
    telegram.reply(sid, granny, Reply(text="4"), "telegram")  # mood; now at expression
    web.reply(sid, granny, Reply(choice=["told"]), "web")  # expression; now at sleep
    turn = telegram.reply(sid, granny, Reply(text="1"), "telegram")  # sleep: well
    assert turn.error is None and turn.prompt is not None
    assert turn.prompt.token == "school_days_missed"
    session = telegram.store.load_session(sid)
    assert (session.value("expression"), session.value("sleep")) == (["told"], "well")
    assert [a["revision"] for a in telegram.store.answer_history(sid)] == [1, 1, 1]


def test_the_channel_that_answered_last_is_the_one_that_shows_the_session(two_doors):
    telegram, web, case, granny = two_doors
    store = telegram.store
    opened = telegram.open("child_checkin", case, granny, "telegram", lang="en")
    sid = opened.session.id
    assert store.current_session(granny, "telegram")["id"] == sid
    web.reply(sid, granny, Reply(choice="4"), "web")
    assert store.current_session(granny, "telegram") is None
    assert store.current_session(granny, "web")["id"] == sid
    assert store.session_info(sid).channel == "telegram"  # where it started stays on record
    telegram.open("child_checkin", case, granny, "telegram", lang="en")  # resumes it there
    assert store.current_session(granny, "telegram")["id"] == sid


# -- Telegram and the browser, as the member uses them -----------------------------------------


@pytest.fixture
def world(tmp_path):
    """A worker and a caregiver on Telegram (case LBC-07), the caregiver's web link, and a
    weekly check-in due now; the bot on one connection, the web pages on another."""
    path = tmp_path / "c.db"
    store = Store.open(path)
    service = TelegramService(
        store, Interviews(store, FlowRegistry()), "caseflow_test_bot", clock=lambda: CLOCK
    )
    service.outbox_sent = []
    store.add_person("Worker Wang", "worker", telegram_user_id=WORKER_TG, lang="zh")
    worker = Phone(service, WORKER_TG, "Wang")
    worker.say("/newcase LBC-07")
    token = invite_token(worker.say("/invite LBC-07"))
    caregiver = Phone(service, CAREGIVER_TG, "Grandma Li")
    caregiver.say(f"/start {token}")
    case = store.case_by_code("LBC-07")
    granny = store.person_by_telegram(CAREGIVER_TG)["id"]
    worker_id = store.person_by_telegram(WORKER_TG)["id"]
    schedule_actions.create(
        store,
        FlowRegistry(),
        worker_id,
        case.id,
        granny,
        "child_checkin",
        WEEKLY,
        CLOCK - timedelta(days=1),
    )
    link = weblinks.create(store, worker_id, case, granny, CLOCK).token
    web = Web(path, Clock(CLOCK))
    yield store, caregiver, web, link
    web.close()
    store.close()


def test_a_check_in_started_on_telegram_is_carried_on_in_the_browser_and_back(world):
    store, caregiver, web, link = world
    caregiver.say("/checkin")
    caregiver.tap("🙂")  # mood, on Telegram
    telegram_question = caregiver.inbox[-1]
    assert telegram_question.text.startswith("2/")

    page = web.get(f"/r/{link}")  # the same session, at the same question
    assert re.fullmatch(r"2/(\d+) Question 2 of \1 · Mood", page.progress)
    page = page.press("Done ✓", tick=("Cried or got angry",))  # expression, in the browser
    page = page.press("Next", text="Her mother did not call")  # what happened
    assert re.fullmatch(r"4/(\d+) Question 4 of \1 · Sleep and school", page.progress)

    # Back on Telegram the chat still shows question 2: a typed message meant for it must
    # not answer question 4 ("sleep").
    outs = caregiver.say("1")
    assert texts(outs)[0].startswith("You carried on in the browser")
    assert re.match(r"4/\d+ · Sleep and school", texts(outs)[1])
    sid = store.current_session(store.person_by_telegram(CAREGIVER_TG)["id"], "telegram")["id"]
    assert store.load_session(sid).value("sleep") is None

    caregiver.tap("Some bad nights")  # now answered on Telegram, from the question it showed
    caregiver.say("0")
    caregiver.tap("No")
    review = caregiver.inbox[-1]
    assert review.text.startswith("Please check your answers:")
    page = web.get(f"/r/{link}")  # the browser shows the review too
    assert page.question == "Please check your answers:"
    page = page.press("✅ Submit")
    assert "Thank you, all done. Your answers are saved." in page.notices
    session = store.session_info(sid)
    assert (session.status, session.channel) == ("completed", "telegram")
    answers = {a["question_id"]: a["value"] for a in store.current_answers(sid)}
    assert answers == {
        "mood": "4",
        "expression": '["cried"]',
        "expression_detail": '"Her mother did not call"',
        "sleep": '"some_bad_nights"',
        "school_days_missed": "0",
        "has_worries": "false",
    }


def test_a_check_in_started_in_the_browser_is_carried_on_on_telegram(world):
    _store, caregiver, web, link = world
    page = web.get(f"/r/{link}").press("Start")
    page = page.press("😄")
    assert page.progress.startswith("2/")
    outs = caregiver.say("1")  # typed on Telegram, which has shown no question
    assert texts(outs)[0].startswith("You carried on in the browser")
    assert re.match(r"2/\d+ · Mood", texts(outs)[-1])
    caregiver.say("1")  # now it answers the question Telegram shows: "Told someone"
    assert caregiver.inbox[-1].text.startswith("3/")
    page = web.get(f"/r/{link}")
    assert page.progress.startswith("3/")
    assert page.question == "How has the child slept this week?"


def test_a_stale_browser_page_after_an_answer_on_telegram_changes_nothing(world):
    store, caregiver, web, link = world
    page = web.get(f"/r/{link}").press("Start")  # question 1 in the browser
    caregiver.say("/checkin")  # Telegram resumes it: question 1 there too
    caregiver.tap("🙂")
    stale = page.press("😢")  # the browser page was showing question 1
    assert stale.notices[0].startswith("That page had moved on")
    assert stale.progress.startswith("2/")
    sid = store.current_session(store.person_by_telegram(CAREGIVER_TG)["id"], "telegram")["id"]
    assert [(a["question_id"], a["value"]) for a in store.answer_history(sid)] == [("mood", "4")]


def test_paused_in_the_browser_resumed_on_telegram(world):
    _store, caregiver, web, link = world
    page = web.get(f"/r/{link}").press("Start").press("🙂")
    page = page.press("Pause")
    assert page.notices[-1].startswith("Paused. Your answers are saved.")
    outs = caregiver.say("/resume")
    assert texts(outs)[0].startswith("Welcome back. You were at question 2 of ")
    assert isinstance(outs[-1], Send) and outs[-1].text.startswith("2/")


def test_paused_on_telegram_resumed_in_the_browser(world):
    _store, caregiver, web, link = world
    caregiver.say("/checkin")
    caregiver.tap("🙂")
    caregiver.say("/pause")
    page = web.get(f"/r/{link}")
    assert "Not finished yet:" in page.text
    page = page.press("Carry on")
    assert page.notices[0].startswith("Welcome back. You were at question 2 of ")
    assert page.progress.startswith("2/")
