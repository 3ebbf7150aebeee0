"""The check-in scheduler at run time: messages, buttons, the rate limit, restarts.

A controllable clock throughout: each tick is given its ``now``; nothing sleeps.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from bot.scheduler import (
    CheckinScheduler,
    Opening,
    Refusal,
    Spreader,
    checkin_data,
    parse_checkin_data,
)
from bot.telegram_service import Send
from casework.interviews import Interviews
from flows.engine import Reply
from flows.recurrence import Recurrence
from flows.registry import FlowRegistry
from storage.schedules import Schedules
from storage.store import Store
from tests.conftest import script_for

REGISTRY = FlowRegistry()
WORKER_CHAT, GRANNY_CHAT = 555000111, 777000222


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


WEEKLY = Recurrence.model_validate(
    {
        "kind": "weekly",
        "weekdays": "mon",
        "at": "18:00",
        "tz": "Asia/Shanghai",
        "window": "48h",
        "reminders": "4h,24h",
        "quiet_hours": {"start": "21:00", "end": "08:00"},
    }
)
CREATED = utc(2026, 3, 10)
DUE = utc(2026, 3, 16, 10)  # Mon 18:00 Shanghai
REMIND_1 = utc(2026, 3, 17, 0)  # Tue 08:00
REMIND_2 = utc(2026, 3, 17, 10)  # Tue 18:00
CLOSE = utc(2026, 3, 18, 10)  # Wed 18:00


def title(flow_id: str, lang: str) -> str:
    return {"en": "Weekly check-in", "zh": "每周小调查"}[lang]


class Office:
    """A worker, a case and a caregiver on Telegram, and the scheduler."""

    def __init__(self, store: Store, lang: str = "en"):
        self.store = store
        self.worker = store.add_person("Wang Fang", "worker", telegram_user_id=WORKER_CHAT)
        store.set_chat(self.worker, WORKER_CHAT)
        self.case = store.create_case("LBC-07", self.worker)
        self.granny = store.add_person(
            "Grandma Li", "caregiver", telegram_user_id=GRANNY_CHAT, lang=lang
        )
        store.set_chat(self.granny, GRANNY_CHAT)
        store.add_member(self.case.id, self.granny, "caregiver", self.worker)
        self.schedules = Schedules(store)
        self.scheduler = CheckinScheduler(store, self.schedules, flow_title=title)

    def schedule(self, rule: Recurrence = WEEKLY, person: int | None = None) -> int:
        return self.schedules.create(
            self.case.id, person or self.granny, "child_checkin", rule, self.worker, CREATED
        ).id

    def answer(self, at: datetime, schedule_id: int | None = None) -> str:
        """Grandma Li taps Start at ``at`` and answers everything."""
        if schedule_id is not None:
            opening = self.scheduler.start(schedule_id, DUE, self.granny, at)
            assert isinstance(opening, Opening)
        interviews = Interviews(self.store, REGISTRY)
        opened = interviews.open("child_checkin", self.case, self.granny, "telegram")
        if schedule_id is not None:
            self.schedules.link_session(schedule_id, DUE, opened.session.id, at)
        for line in script_for(opened.engine):
            interviews.reply(opened.session.id, self.granny, Reply(text=line))
        self.schedules.session_completed(opened.session.id, at)
        return opened.session.id


@pytest.fixture
def office(store):
    return Office(store)


# -- the invitation ------------------------------------------------------------------------------


def test_an_invitation_has_a_start_and_a_not_now_button_within_64_bytes(office):
    sid = office.schedule()
    assert office.scheduler.tick(DUE - timedelta(seconds=1)) == []
    (action,) = office.scheduler.tick(DUE)
    assert (action.kind, action.schedule_id, action.due_at, action.at) == ("invite", sid, DUE, DUE)
    send = action.send
    assert send.chat_id == GRANNY_CHAT
    assert "Weekly check-in" in send.text and "Wed 18 Mar 18:00" in send.text
    assert send.keyboard is not None
    (start, not_now) = send.keyboard[0]
    assert start.text == "▶ Start" and not_now.text == "Not now"
    assert start.data == checkin_data("I", sid, DUE) and not_now.data.startswith("Z:")
    assert all(len(b.data.encode()) <= 64 for b in send.keyboard[0])
    assert parse_checkin_data(start.data) == ("I", sid, DUE)


def test_the_invitation_speaks_the_members_language(store):
    office = Office(store, lang="zh")
    office.schedule()
    (action,) = office.scheduler.tick(DUE)
    assert "每周小调查" in action.send.text and "3月18日 18:00" in action.send.text
    assert action.send.keyboard and action.send.keyboard[0][0].text == "▶ 开始"


def test_a_second_tick_sends_no_second_invitation(office):
    office.schedule()
    assert len(office.scheduler.tick(DUE)) == 1
    assert office.scheduler.tick(DUE + timedelta(seconds=30)) == []


def test_a_crash_after_the_commit_loses_the_message_but_never_sends_it_twice(office):
    office.schedule()
    office.scheduler.tick(DUE)  # committed, then the process dies before sending
    restarted = CheckinScheduler(office.store, Schedules(office.store), flow_title=title)
    assert restarted.tick(DUE + timedelta(minutes=1)) == []
    (reminder,) = restarted.tick(REMIND_1)  # the reminder carries the Start button too
    assert reminder.kind == "remind" and reminder.send.keyboard


def test_a_restart_in_the_middle_of_a_window_sends_no_duplicate_and_carries_on(tmp_path):
    path = tmp_path / "caseflow.db"
    office = Office(Store.open(path))
    office.schedule()
    assert [a.kind for a in office.scheduler.tick(DUE)] == ["invite"]
    office.store.close()

    store = Store.open(path)
    scheduler = CheckinScheduler(store, flow_title=title)
    assert scheduler.tick(DUE + timedelta(hours=2)) == []
    assert [a.kind for a in scheduler.tick(REMIND_1)] == ["remind"]
    assert [a.kind for a in scheduler.tick(REMIND_2)] == ["remind"]
    (missed,) = scheduler.tick(CLOSE)
    assert missed.send.chat_id == WORKER_CHAT
    store.close()


def test_what_fell_due_while_the_bot_was_down_is_sent_if_still_inside_the_window(office):
    office.schedule()
    (action,) = office.scheduler.tick(DUE + timedelta(hours=3))
    assert action.kind == "invite" and action.due_at == DUE


# -- reminders, the window, the worker ----------------------------------------------------------


def test_reminders_are_gentle_and_say_continue_once_the_check_in_was_opened(office):
    sid = office.schedule()
    office.scheduler.tick(DUE)
    (first,) = office.scheduler.tick(REMIND_1)
    assert first.send.text.startswith("A gentle reminder")
    assert first.send.keyboard and first.send.keyboard[0][0].text == "▶ Start"
    opening = office.scheduler.start(sid, DUE, office.granny, REMIND_1 + timedelta(minutes=1))
    assert isinstance(opening, Opening)
    interviews = Interviews(office.store, REGISTRY)
    opened = interviews.open("child_checkin", office.case, office.granny, "telegram")
    office.schedules.link_session(sid, DUE, opened.session.id, REMIND_1)
    (second,) = office.scheduler.tick(REMIND_2)
    assert "you started" in second.send.text
    assert second.send.keyboard and second.send.keyboard[0][0].text == "▶ Continue"


def test_the_worker_is_told_when_windows_close_in_one_message(office, store):
    grandpa = store.add_person("Grandpa Zhao", "caregiver", telegram_user_id=42)
    store.set_chat(grandpa, 42)
    store.add_member(office.case.id, grandpa, "caregiver", office.worker)
    office.schedule()
    office.schedule(person=grandpa)
    office.scheduler.tick(DUE)
    actions = office.scheduler.tick(CLOSE)
    (told,) = [a for a in actions if a.send.chat_id == WORKER_CHAT]
    assert told.kind == "missed"
    lines = told.send.text.splitlines()
    assert lines[0] == "Check-ins not answered in time:"
    assert sorted(lines[1:]) == [
        "• LBC-07 · Grandma Li · Weekly check-in · due Mon 16 Mar 18:00 (Asia/Shanghai)",
        "• LBC-07 · Grandpa Zhao · Weekly check-in · due Mon 16 Mar 18:00 (Asia/Shanghai)",
    ]
    assert office.scheduler.tick(CLOSE + timedelta(minutes=1)) == []


def test_a_member_not_yet_on_telegram_gets_the_invitation_when_they_join_in_the_window(
    office, store
):
    store.db.execute("UPDATE people SET telegram_chat_id = NULL WHERE id = ?", (office.granny,))
    sid = office.schedule()
    assert office.scheduler.tick(DUE) == []
    store.set_chat(office.granny, GRANNY_CHAT)  # she opens the invite link
    (action,) = office.scheduler.tick(DUE + timedelta(hours=1))
    assert action.kind == "invite"
    assert [e["kind"] for e in office.schedules.events(sid)] == ["due", "sent"]


# -- the member's buttons ------------------------------------------------------------------------


def test_start_opens_the_check_in_while_its_window_is_open(office):
    sid = office.schedule()
    office.scheduler.tick(DUE)
    opening = office.scheduler.start(sid, DUE, office.granny, DUE + timedelta(minutes=5))
    assert opening == Opening(sid, DUE, office.case.id, "child_checkin")


def test_start_after_the_window_closed_says_so(office):
    sid = office.schedule()
    office.scheduler.tick(DUE)
    refusal = office.scheduler.start(sid, DUE, office.granny, CLOSE)
    assert isinstance(refusal, Refusal) and "closed" in refusal.text


def test_start_on_an_answered_check_in_says_thank_you(office):
    sid = office.schedule()
    office.scheduler.tick(DUE)
    office.answer(DUE + timedelta(minutes=10), sid)
    refusal = office.scheduler.start(sid, DUE, office.granny, DUE + timedelta(hours=1))
    assert isinstance(refusal, Refusal) and "already answered" in refusal.text


def test_someone_elses_start_button_is_refused_and_audited(office, store):
    sid = office.schedule()
    office.scheduler.tick(DUE)
    refusal = office.scheduler.start(sid, DUE, office.worker, DUE)
    assert isinstance(refusal, Refusal)
    assert store.audit_rows(office.case.id)[-1]["action"] == "access.refused"


def test_a_forged_due_time_is_a_dead_button(office):
    sid = office.schedule()
    office.scheduler.tick(DUE)
    wrong = DUE + timedelta(minutes=1)
    assert isinstance(office.scheduler.start(sid, wrong, office.granny, DUE), Refusal)
    assert parse_checkin_data("I:1:0:abc") is None
    assert parse_checkin_data("o:1:0:29560920") is None
    assert parse_checkin_data("I:1:2:29560920") is None


def test_not_now_promises_one_reminder_later_and_keeps_it(office):
    sid = office.schedule()
    office.scheduler.tick(DUE)
    tapped = DUE + timedelta(minutes=90)  # 19:30; two hours later is quiet: 08:00
    reply = office.scheduler.not_now(sid, DUE, office.granny, tapped)
    assert reply == "All right. I will remind you once more at Tue 17 Mar 08:00."
    (reminder,) = office.scheduler.tick(REMIND_1)
    assert reminder.kind == "remind"
    assert reminder.send.keyboard and len(reminder.send.keyboard[0]) == 1  # no second Not now


# -- the rate limit ------------------------------------------------------------------------------


def _most_in_any_second(times: list[datetime]) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= timedelta(seconds=1):
            start += 1
        most = max(most, end - start + 1)
    return most


def test_a_thousand_messages_at_once_never_exceed_the_rate():
    spreader = Spreader(per_second=25)
    now = DUE
    times = spreader.assign(now, list(range(1000)))
    assert _most_in_any_second(times) == 25
    assert min(times) == now
    assert max(times) - now == timedelta(seconds=39.96)  # 1000 / 25 s, less one slot


def test_messages_to_one_chat_are_a_second_apart():
    spreader = Spreader(per_second=25)
    times = spreader.assign(DUE, [7, 7, 7, 8])
    sevens = [times[0], times[1], times[2]]
    assert all(b - a >= timedelta(seconds=1) for a, b in itertools.pairwise(sevens))
    assert times[3] - DUE < timedelta(seconds=1)  # chat 8 does not wait behind chat 7


def test_the_next_tick_queues_behind_the_previous_one():
    spreader = Spreader(per_second=25)
    first = spreader.assign(DUE, list(range(1000)))
    second = spreader.assign(DUE + timedelta(seconds=30), list(range(1000, 1100)))
    assert min(second) > max(first)
    assert _most_in_any_second(first + second) == 25


def test_a_thousand_check_ins_due_in_the_same_minute_are_sent_within_the_rate(store):
    worker = store.add_person("Wang Fang", "worker")
    case = store.create_case("MANY", worker)
    rule = Recurrence.model_validate(
        {"kind": "daily", "at": "18:00", "tz": "Asia/Shanghai", "window": "24h", "reminders": []}
    )
    schedules = Schedules(store)
    with store.atomic():
        for n in range(1000):
            person = store.add_person(f"Caregiver {n}", "caregiver", telegram_user_id=10_000 + n)
            store.set_chat(person, 10_000 + n)
            store.add_member(case.id, person, "caregiver", worker)
            schedules.create(
                case.id, person, "child_checkin", rule, worker, DUE - timedelta(hours=1)
            )
    scheduler = CheckinScheduler(store, schedules, flow_title=title)
    actions = scheduler.tick(DUE)
    assert len(actions) == 1000 and {a.kind for a in actions} == {"invite"}
    assert len({a.send.chat_id for a in actions}) == 1000
    assert _most_in_any_second([a.at for a in actions]) <= 25
    assert max(a.at for a in actions) - DUE <= timedelta(seconds=40)
    assert scheduler.tick(DUE + timedelta(seconds=30)) == []


# -- the whole story -----------------------------------------------------------------------------


def test_ignoring_the_first_reminder_and_answering_after_the_second_shows_in_compliance(office):
    sid = office.schedule()
    sent: list[Send] = []
    for now in (DUE, REMIND_1, REMIND_2):
        sent += [a.send for a in office.scheduler.tick(now)]
    assert [s.chat_id for s in sent] == [GRANNY_CHAT] * 3  # invitation, two reminders
    office.answer(REMIND_2 + timedelta(hours=1), sid)
    assert office.scheduler.tick(CLOSE) == []  # not missed: nothing for the worker
    (row,) = office.schedules.compliance(office.case.id, CLOSE + timedelta(days=1))
    assert (row.due, row.completed, row.late, row.missed, row.rate) == (1, 1, 1, 0, 1.0)
