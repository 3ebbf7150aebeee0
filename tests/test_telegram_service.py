"""The Telegram channel's decisions, without a network: updates in, actions out."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.telegram_service import (
    AnswerCallback,
    Edit,
    Incoming,
    Send,
    SendPhoto,
    SendVoice,
    TelegramService,
)
from casework.interviews import Interviews
from flows import spoken
from flows.engine import Voice
from flows.recurrence import local_date
from flows.registry import FlowRegistry

WORKER_TG, CAREGIVER_TG, STRANGER_TG = 1001, 2002, 3003
CLOCK = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


class Phone:
    """A scripted Telegram user talking to the service."""

    ids = itertools.count(1)

    def __init__(self, service: TelegramService, user_id: int, name: str, lang: str = "en"):
        self.service, self.user_id, self.name, self.lang = service, user_id, name, lang
        self.inbox: list = []
        self.message_ids = itertools.count(100)

    def _send(self, **fields) -> list:
        event = Incoming(
            update_id=next(Phone.ids),
            user_id=self.user_id,
            chat_id=self.user_id,
            first_name=self.name,
            language_code=self.lang,
            **fields,
        )
        self.last_event = event
        handled = self.service.handle(event)
        self.inbox += handled.outs
        for outbox_id, message in handled.outbox:
            self.service.outbox_sent.append(message)
            self.service.mark_sent(outbox_id)
        return handled.outs

    def say(self, text: str) -> list:
        return self._send(text=text)

    def voice(self, file_id: str, seconds: int) -> list:
        return self._send(voice=Voice(file_id, seconds))

    def sticker(self) -> list:
        return self._send(media="sticker")

    def tap(self, label: str, checked: tuple[int, ...] = ()) -> list:
        question = next(o for o in reversed(self.inbox) if isinstance(o, Send) and o.keyboard)
        button = next(
            b for row in question.keyboard for b in row if b.text == label or label in b.text
        )
        return self.tap_data(button.data, question.text, checked)

    def tap_data(self, data: str, message_text: str = "", checked: tuple[int, ...] = ()) -> list:
        return self._send(
            callback_id=f"cb{next(Phone.ids)}",
            callback_data=data,
            message_id=next(self.message_ids),
            message_text=message_text,
            checked=checked,
        )


@pytest.fixture
def service(store):
    service = TelegramService(
        store, Interviews(store, FlowRegistry()), "caseflow_test_bot", clock=lambda: CLOCK
    )
    service.outbox_sent = []
    store.add_person("Worker Wang", "worker", telegram_user_id=WORKER_TG)
    return service


@pytest.fixture
def worker(service):
    return Phone(service, WORKER_TG, "Wang")


def texts(outs) -> list[str]:
    return [o.text for o in outs if isinstance(o, Send | Edit)]


def invite_token(outs) -> str:
    link = next(t for t in texts(outs) if "start=" in t)
    return link.rsplit("start=", 1)[1].split()[0]


@pytest.fixture
def caregiver(service, worker):
    worker.say("/newcase LBC-07")
    token = invite_token(worker.say("/invite LBC-07"))
    phone = Phone(service, CAREGIVER_TG, "Grandma Li")
    phone.say(f"/start {token}")
    return phone


def test_a_worker_opens_a_case_and_gets_a_one_time_invite_link_and_qr_code(worker):
    opened, first_question = texts(worker.say("/newcase LBC-07"))
    assert opened.startswith(
        "Case LBC-07 is open (check-in: child_checkin). Invite the caregiver with /invite LBC-07."
    )
    assert "The client's name" in first_question, "the profile is asked right away"
    outs = worker.say("/invite LBC-07")
    assert "https://t.me/caseflow_test_bot?start=" in texts(outs)[0]
    assert "expires on 2026-03-21" in texts(outs)[0]
    token = invite_token(outs)
    assert len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()
    assert isinstance(outs[1], SendPhoto) and outs[1].data.startswith(b"\x89PNG")


def test_a_caregiver_joins_by_the_deep_link_and_the_worker_is_told(service, caregiver):
    assert texts(caregiver.inbox)[0].startswith(
        "Welcome, Grandma Li. You are now connected to case LBC-07."
    )
    assert [m.text for m in service.outbox_sent] == [
        "Grandma Li joined case LBC-07 through your invitation."
    ]


def test_an_invite_works_once(service, worker, caregiver):
    token = invite_token(worker.say("/invite LBC-07"))
    assert texts(Phone(service, 4004, "Uncle").say(f"/start {token}"))[0].startswith("Welcome")
    assert texts(Phone(service, 5005, "Aunt").say(f"/start {token}")) == [
        "This link has expired or was already used. Please ask your social worker for a new one."
    ]


def test_an_expired_invite_is_refused(service, worker):
    worker.say("/newcase C1")
    token = invite_token(worker.say("/invite C1"))
    service.clock = lambda: CLOCK + timedelta(days=8)
    assert "expired" in texts(Phone(service, 6006, "Late").say(f"/start {token}"))[0]


def test_a_stranger_is_refused_politely_and_audited(service, store):
    stranger = Phone(service, STRANGER_TG, "Who")
    assert texts(stranger.say("/cases")) == [
        "Sorry, I can't help with that: you are not registered here. Please ask your social worker for a link."
    ]
    assert texts(stranger.say("hello"))[0].startswith("Sorry, I can't help with that")
    refusals = [r for r in store.audit_rows() if r["action"] == "access.refused"]
    assert len(refusals) == 1  # repeats within the hour add to one row
    assert json.loads(refusals[0]["detail"])["count"] == 2
    assert refusals[0]["entity_id"] == str(STRANGER_TG)


def test_a_caregiver_cannot_use_worker_commands_or_see_another_case(
    service, worker, caregiver, store
):
    worker.say("/newcase OTHER")
    assert texts(caregiver.say("/cases")) == ["Sorry, only social workers can do that."]
    assert texts(caregiver.say("/note OTHER")) == [
        "I can't find case OTHER among your cases. Send /cases to see them."
    ]


def test_a_caregiver_completes_the_check_in_with_taps_text_and_a_voice_note(
    service, caregiver, store
):
    outs = caregiver.say("/checkin")
    question = outs[-1]
    assert question.text.startswith("Thank you for taking a moment.")
    assert "1/9 · Mood" in question.text
    assert [b.text for b in question.keyboard[0]] == ["😢", "🙁", "😐", "🙂", "😄"]
    outs = caregiver.tap("🙂")
    assert isinstance(outs[0], AnswerCallback)
    assert isinstance(outs[1], Edit) and outs[1].text.endswith("✓ 4 🙂")
    caregiver.tap("Done ✔", checked=(1,))  # cried or got angry
    caregiver.voice("AwACAgQAAxk-voice-1", 14)  # what happened: a voice message
    caregiver.tap("Some bad nights")
    caregiver.say("0")
    caregiver.tap("Yes")
    caregiver.say("She misses her mother at night")
    caregiver.tap("Skip ➡")
    caregiver.say("her teacher")
    outs = caregiver.tap("Yes")
    review = outs[-1]
    assert review.text.startswith("Please check your answers:")
    assert "3. What happened: 🎤 voice message (14 s)" in review.text
    outs = caregiver.tap("✅ Submit")
    assert texts(outs)[-1] == "Thank you, all done. Your answers are saved."
    (session,) = [
        s
        for s in store.sessions_of_case(store.case_by_code("LBC-07").id)
        if s["flow_id"] != "case_profile"
    ]
    assert session["status"] == "completed" and session["channel"] == "telegram"
    answers = {a["question_id"]: a["value"] for a in store.current_answers(session["id"])}
    assert answers["expression_detail"] == '{"voice":"AwACAgQAAxk-voice-1","duration":14}'


def test_a_stale_button_gets_a_clear_answer_and_changes_nothing(service, caregiver, store):
    caregiver.say("/checkin")
    first = caregiver.inbox[-1]
    caregiver.tap("🙂")
    stale = next(b for b in first.keyboard[0] if b.text == "😢")
    outs = caregiver.tap_data(stale.data, first.text)
    assert "That button belongs to a question that has passed." in texts(outs)[0]
    session = store.current_session(store.person_by_telegram(CAREGIVER_TG)["id"], "telegram")
    assert store.load_session(session["id"]).value("mood") == 4


@pytest.mark.parametrize(
    "data",
    [
        "",
        "x",
        "o:1:2",
        "o:a:b:c",
        "o:999999:0:0",
        "zz:1:0:0",
        "o:1:9999:0",
        "é" * 30,
        "S:1:-1:0:extra",
    ],
)
def test_a_forged_or_malformed_button_gets_a_clear_answer(service, caregiver, data):
    caregiver.say("/checkin")
    outs = caregiver.tap_data(data)
    assert isinstance(outs[0], AnswerCallback)
    assert texts(outs)[0] in (
        "That button no longer works.",
        "That button belongs to a question that has passed. Here is the current one.",
    )


def test_another_persons_session_button_is_refused(service, caregiver, store):
    caregiver.say("/checkin")
    data = caregiver.inbox[-1].keyboard[0][0].data
    intruder = Phone(service, WORKER_TG, "Wang")
    outs = intruder.tap_data(data)
    assert "That button no longer works." in texts(outs)
    assert store.audit_rows()[-1]["action"] == "access.refused"


def test_a_duplicate_update_changes_nothing(service, caregiver, store):
    caregiver.say("/checkin")
    caregiver.tap("🙂")
    again = service.handle(caregiver.last_event)
    assert again.outs == []
    session = store.current_session(store.person_by_telegram(CAREGIVER_TG)["id"], "telegram")
    assert [a["revision"] for a in store.answer_history(session["id"])] == [1]


def test_a_sticker_where_text_was_expected_gets_the_question_again(service, caregiver):
    caregiver.say("/checkin")
    outs = caregiver.sticker()
    assert texts(outs)[0] == "⚠️ Please choose one of the options: tap a button or type its number."
    assert "1/9 · Mood" in texts(outs)[1]


def test_commands_work_in_the_middle_of_a_question(service, caregiver):
    caregiver.say("/checkin")
    caregiver.tap("🙂")
    assert "1/9" in texts(caregiver.say("/back"))[-1]
    assert texts(caregiver.say("/pause"))[-1].startswith("Paused.")
    outs = caregiver.say("/resume")
    assert texts(outs)[0].startswith("Welcome back. You were at question 1 of 9")
    assert texts(caregiver.say("/help"))[0].startswith("/checkin answer")
    assert "can't be used" in texts(caregiver.say("/submit"))[0]


@pytest.mark.parametrize(
    ("lang", "shown"),
    [
        ("zh", ["返回（/back）", "跳过（/skip）", "暂停（/pause）", "继续（/resume）"]),
        ("zh", ["取消（/cancel）", "核对（/review）", "帮助："]),
        ("en", ["back (/back)", "skip (/skip)", "pause (/pause)", "resume (/resume)"]),
        ("en", ["cancel (/cancel)", "review (/review)", "help:"]),
    ],
)
def test_help_names_the_command_words_an_interview_takes(service, caregiver, lang, shown):
    if lang == "zh":
        caregiver.say("/language")
        caregiver.tap("中文")
    (help_text,) = texts(caregiver.say("/help"))
    for entry in shown:
        assert entry in help_text
        word = entry.split("（")[0].split(" (")[0].rstrip(":：")
        command = entry.split("/")[1].rstrip(")）") if "/" in entry else "help"
        assert spoken.command_word(word) == (command, ""), f"{word} is taken as /{command}"


def test_a_multi_choice_toggles_then_done(service, worker, store):
    worker.say("/newcase E-1 elder_checkin")
    token = invite_token(worker.say("/invite E-1 client"))
    elder = Phone(service, 7007, "Mr Zhao")
    elder.say(f"/start {token}")
    elder.say("/checkin")
    elder.tap("🙂")
    elder.tap("Hardly ever")
    elder.tap("Went out")
    elder.say("3")  # days out
    question = elder.inbox[-1]
    assert any(b.text == "Done ✔" for row in question.keyboard for b in row)
    outs = elder.tap(question.keyboard[0][0].text)  # toggle the first place
    edit = outs[-1]
    assert isinstance(edit, Edit) and edit.keyboard[0][0].text.startswith("✓ ")
    elder.inbox.append(Send(edit.chat_id, edit.text, edit.keyboard))
    outs = elder.tap("Done ✔", checked=(0,))
    assert isinstance(outs[1], Edit) and "✓" in outs[1].text


def test_a_flagged_answer_is_sent_to_the_case_worker_at_once(service, worker, store):
    worker.say("/newcase S-1")
    outs = worker.say("/interview S-1 adult_scales")
    assert "Continue" in outs[-1].keyboard[0][0].text
    worker.tap("Continue ▶")
    for _ in range(5):
        worker.say("3")
    for _ in range(8):
        worker.say("0")
    worker.say("2")  # PHQ-9 item 9
    assert [m.text for m in service.outbox_sent][-1].startswith("⚠️ URGENT · Case S-1 · flag #1")
    assert "flag.alert" in [r["action"] for r in store.audit_rows()]


def test_voice_notes_can_be_replayed_by_the_worker(service, worker, caregiver, store):
    caregiver.say("/checkin")
    caregiver.tap("🙂")
    caregiver.tap("Done ✔", checked=(1,))  # cried or got angry
    caregiver.voice("voice-file-9", 5)
    session = store.current_session(store.person_by_telegram(CAREGIVER_TG)["id"], "telegram")
    number = store.session_number(session["id"])
    question = service.interviews.engine_for(store.load_session(session["id"])).compiled.by_id[
        "expression_detail"
    ]
    outs = worker.tap_data(f"V:{number}:{question.index}:0")
    assert SendVoice(WORKER_TG, "voice-file-9") in outs


def test_language_can_be_changed_to_chinese(service, caregiver, store):
    caregiver.say("/language")
    caregiver.tap("中文")
    outs = caregiver.say("/checkin")
    assert "这一周孩子的心情怎么样？" in outs[-1].text


def test_a_long_message_is_refused_with_its_length_and_nothing_is_lost(service, caregiver):
    caregiver.say("/checkin")
    caregiver.tap("🙂")
    caregiver.tap("Done ✔", checked=(1,))  # cried or got angry
    outs = caregiver.say("x" * 4090)
    assert texts(outs)[0].startswith("⚠️ That answer is 4090 characters long")


def test_a_deadline_offers_today_and_tomorrow_where_a_past_date_offers_yesterday(
    service, worker, caregiver, store
):
    worker.say("/note LBC-07")
    when = worker.inbox[-1]
    assert "When was it?" in when.text
    assert [b.text for b in when.keyboard[0]] == ["Today", "Yesterday"]
    worker.tap("Today")
    for line in ("2", "1", "He slept better.", "no", "yes", "Ask the teacher."):
        worker.say(line)
    worker.tap("Me")
    by_when = worker.inbox[-1]
    assert "By when?" in by_when.text
    assert [b.text for b in by_when.keyboard[0]] == ["Today", "Tomorrow"]
    assert not any(b.text == "Yesterday" for row in by_when.keyboard for b in row)
    outs = worker.tap("Tomorrow")
    assert texts(outs)[-1].startswith("Please check your answers:")
    session = store.current_session(store.person_by_telegram(WORKER_TG)["id"], "telegram")
    row = next(a for a in store.current_answers(session["id"]) if a["question_id"] == "followup_by")
    answered = local_date(datetime.fromisoformat(row["answered_at"]))  # the worker's day
    assert row["value"] == f'"{(answered + timedelta(days=1)).isoformat()}"'


def test_ticking_nobody_clears_the_others_and_ticking_another_clears_nobody(service, worker):
    worker.say("/newcase E-1 elder_checkin")
    token = invite_token(worker.say("/invite E-1 client"))
    elder = Phone(service, 7007, "Mr Zhao")
    elder.say(f"/start {token}")
    elder.say("/checkin")
    elder.tap("🙂")
    elder.tap("Hardly ever")
    elder.tap("Went out")
    elder.say("3")
    elder.tap("Done ✔", checked=(0,))  # places: shops or market
    contacts = elder.inbox[-1]
    assert "Who did you see or talk to" in contacts.text

    def ticked(outs) -> list[str]:
        edit = outs[-1]
        assert isinstance(edit, Edit)
        return [b.text[2:] for row in edit.keyboard for b in row if b.text.startswith("✓ ")]

    assert ticked(elder.tap("Nobody", checked=(0, 2))) == ["Nobody"]
    assert ticked(elder.tap("My children", checked=(5,))) == ["My children"]
    assert ticked(elder.tap("Neighbours", checked=(0,))) == ["My children", "Neighbours"]


def test_the_keep_button_shows_only_the_answer_in_chinese(service, caregiver):
    caregiver.say("/language")
    caregiver.tap("中文")
    caregiver.say("/checkin")
    caregiver.tap("🙂")
    outs = caregiver.say("/back")
    labels = [
        b.text
        for o in outs
        if isinstance(o, Send) and o.keyboard
        for row in o.keyboard
        for b in row
    ]
    (keep,) = [label for label in labels if label.startswith("✓")]
    assert keep == "✓ 保持：4 🙂"
