"""Who is told about a flag, and when: alerts, quiet hours, withdrawal, acknowledgement,
escalation, follow-up reminders and the daily digest, on a clock the test holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from casework import digest, flags, followups
from casework.errors import Invalid, NotAllowed
from casework.identity import Actor
from casework.interviews import Interviews
from flows.engine import Reply
from flows.registry import FlowRegistry
from storage.flags import Flags
from storage.store import Store

# Asia/Shanghai is UTC+8: 10:00 UTC is 18:00 there, 15:00 UTC is 23:00 (quiet hours).
EVENING = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
NIGHT = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
NEXT_MORNING = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
WANTS_CALL = ["3", "1", "1", "0", "yes", "She cries at night", "", "", "yes"]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def _zone(monkeypatch):
    monkeypatch.setenv("CASEFLOW_TZ", "Asia/Shanghai")
    monkeypatch.delenv("CASEFLOW_SAFETY", raising=False)
    monkeypatch.delenv("CASEFLOW_FLOWS", raising=False)


@pytest.fixture
def team(store):
    lead = store.add_person("Chen Li", "supervisor", telegram_user_id=900)
    worker = store.add_person("Wang Fang", "worker", telegram_user_id=901)
    store.set_supervisor(worker, lead)
    for person in (lead, worker):
        store.set_chat(person, 9000 + person)
    case = store.create_case("LBC-07", worker)
    grandma = store.add_person("Li Guilan", "caregiver", lang="zh")
    store.add_member(case.id, grandma, "caregiver", worker)
    clock = Clock(EVENING)
    interviews = Interviews(store, FlowRegistry(), clock=clock)
    return store, interviews, clock, case, lead, worker, grandma


def actor(store: Store, person_id: int) -> Actor:
    person = store.person(person_id)
    return Actor(person_id, person["name"], person["role"], person["lang"], "test")


def answer(interviews, flow, case, person, lines):
    sid = interviews.open(flow, case, person, "terminal").session.id
    turn = None
    for line in lines:
        turn = interviews.reply(sid, person, Reply(text=line))
        assert turn.error is None, (line, turn.error)
    return sid, turn


def outbox(store: Store, kind: str | None = None) -> list[dict]:
    rows = store._all("SELECT * FROM outbox ORDER BY id")
    return [r for r in rows if kind is None or r["kind"] == kind]


def test_an_attention_flag_alerts_the_case_worker_at_once_naming_case_and_question(team):
    store, interviews, _clock, case, _lead, worker, grandma = team
    _sid, turn = answer(interviews, "child_checkin", case, grandma, WANTS_CALL)
    assert "Thank you. Your social worker has been told and will get in touch with you." in (
        turn.notices
    )
    (alert,) = outbox(store, "flag")
    assert (alert["person_id"], alert["not_before"]) == (worker, None)
    text = json.loads(alert["payload"])["text"]
    assert "ATTENTION · Case LBC-07" in text
    assert "Wants a call: Yes" in text
    assert "The caregiver would like you to call this week" in text
    assert [r["id"] for r in store.unsent_messages(EVENING)] == [alert["id"]]


def test_an_attention_flag_in_quiet_hours_waits_for_their_end(team):
    store, interviews, clock, case, _lead, _worker, grandma = team
    clock.now = NIGHT
    answer(interviews, "child_checkin", case, grandma, WANTS_CALL)
    (alert,) = outbox(store, "flag")
    assert datetime.fromisoformat(alert["not_before"]) == NEXT_MORNING
    assert store.unsent_messages(NIGHT) == []
    assert len(store.unsent_messages(NEXT_MORNING)) == 1


def test_a_worker_may_set_no_quiet_hours(team):
    store, interviews, clock, case, _lead, worker, grandma = team
    store.set_quiet_hours(worker, "none")
    clock.now = NIGHT
    answer(interviews, "child_checkin", case, grandma, WANTS_CALL)
    assert outbox(store, "flag")[0]["not_before"] is None


def test_an_urgent_flag_goes_out_at_any_hour_and_the_respondent_sees_the_safety_message(team):
    store, interviews, clock, case, _lead, worker, grandma = team
    clock.now = NIGHT
    lines = ["", *"0000", "0", *"00000000"]
    _sid, turn = answer(interviews, "adult_scales", case, grandma, lines)
    assert turn.flags_raised == []
    sid = store.current_session(grandma, "terminal")["id"]
    turn = interviews.reply(sid, grandma, Reply(text="2"))
    assert [f.severity for f in turn.flags_raised] == ["urgent"]
    assert any("110" in n and "120" in n and "social worker" in n for n in turn.notices)
    (alert,) = outbox(store, "flag")
    assert (alert["person_id"], alert["not_before"]) == (worker, None)


def test_the_organisations_safety_message_replaces_the_bundled_one(team, tmp_path, monkeypatch):
    own = tmp_path / "safety.toml"
    own.write_text(
        '[safety]\nen = "Call the Hope Line: 400-000-0000."\nzh = "请拨打希望热线 400-000-0000。"\n'
    )
    monkeypatch.setenv("CASEFLOW_SAFETY", str(own))
    assert flags.safety_message("zh") == "请拨打希望热线 400-000-0000。"
    assert flags.safety_message("en") == "Call the Hope Line: 400-000-0000."


def test_a_worker_writing_their_own_record_gets_no_safety_message(team):
    store, interviews, _clock, case, _lead, worker, _grandma = team
    lines = [
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
    _sid, turn = answer(
        interviews, "session_record", case, worker, [*lines, "Visit", "", "", "yes"]
    )
    assert [f.flag_id for f in turn.flags_raised] == ["safeguarding"]
    assert not any("110" in n for n in turn.notices)
    assert outbox(store, "flag")[0]["person_id"] == worker


def test_info_flags_wait_for_the_digest(team):
    store, interviews, _clock, case, _lead, _worker, grandma = team
    answer(interviews, "child_checkin", case, grandma, ["1"])
    (flag,) = Flags(store).of_cases([case.id])
    assert flag.severity == "info"
    assert outbox(store) == []


def test_a_withdrawn_flag_calls_off_its_waiting_alert_or_tells_the_worker(team):
    store, interviews, clock, case, _lead, _worker, grandma = team
    clock.now = NIGHT
    sid, _ = answer(interviews, "child_checkin", case, grandma, WANTS_CALL)
    interviews.reply(sid, grandma, Reply(text="/back"))
    interviews.reply(sid, grandma, Reply(text="no"))
    (waiting,) = outbox(store, "flag")
    assert waiting["cancelled_at"] is not None
    assert store.unsent_messages(NEXT_MORNING) == []
    clock.now = NEXT_MORNING
    interviews.reply(sid, grandma, Reply(text="/back"))
    interviews.reply(sid, grandma, Reply(text="yes"))
    second = outbox(store, "flag")[-1]
    store.mark_sent(second["id"])
    interviews.reply(sid, grandma, Reply(text="/back"))
    interviews.reply(sid, grandma, Reply(text="no"))
    (told,) = outbox(store, "flag_withdrawn")
    assert (
        "was withdrawn: the answer was changed (Wants a call)"
        in json.loads(told["payload"])["text"]
    )


def test_acknowledging_asks_the_policy_and_the_first_acknowledgement_stands(team):
    store, interviews, _clock, case, _lead, worker, grandma = team
    answer(interviews, "child_checkin", case, grandma, WANTS_CALL)
    (flag,) = Flags(store).of_cases([case.id])
    stranger = store.add_person("Zhao", "worker")
    with pytest.raises(NotAllowed):
        flags.acknowledge(store, actor(store, stranger), flag.id, "x", EVENING)
    with pytest.raises(NotAllowed):
        flags.acknowledge(store, actor(store, grandma), flag.id, "x", EVENING)
    assert store.audit_rows()[-1]["action"] == "access.refused"
    done = flags.acknowledge(store, actor(store, worker), flag.id, "Called; visit Friday", EVENING)
    assert done.first and done.flag.ack_note == "Called; visit Friday"
    again = flags.acknowledge(store, actor(store, worker), flag.id, "again", EVENING)
    assert not again.first and again.flag.ack_note == "Called; visit Friday"
    with pytest.raises(Invalid):
        flags.acknowledge(store, actor(store, worker), flag.id, "x" * 2000, EVENING)


def test_an_urgent_flag_left_unacknowledged_reaches_the_supervisor_once(team):
    store, interviews, _clock, case, lead, _worker, grandma = team
    lines = ["", *"0000", "0", *"00000000", "1"]
    answer(interviews, "adult_scales", case, grandma, lines)
    assert flags.escalate_due(store, EVENING + timedelta(hours=1, minutes=59)) == []
    (escalated,) = flags.escalate_due(store, EVENING + timedelta(hours=2))
    assert flags.escalate_due(store, EVENING + timedelta(hours=3)) == []
    (sent,) = outbox(store, "flag_escalated")
    assert sent["person_id"] == lead
    text = json.loads(sent["payload"])["text"]
    assert "Not acknowledged within 2 h" in text and "Wang Fang" in text
    assert Flags(store).get(escalated).escalated_to == lead


def test_an_attention_flag_escalates_after_a_day_and_an_acknowledged_one_never(team):
    store, interviews, _clock, case, _lead, worker, grandma = team
    answer(interviews, "child_checkin", case, grandma, WANTS_CALL)
    assert flags.escalate_due(store, EVENING + timedelta(hours=23)) == []
    assert len(flags.escalate_due(store, EVENING + timedelta(hours=24))) == 1
    answer(interviews, "contact_note", case, worker, ["today", "1", "1", "Chat", "", "yes"])
    (fresh,) = Flags(store).of_cases([case.id], open_only=True)[:1]
    flags.acknowledge(store, actor(store, worker), fresh.id, "Seen", EVENING)
    assert flags.escalate_due(store, EVENING + timedelta(days=3)) == []


def test_escalation_delays_can_be_set():
    delays = flags.escalation_delays({"CASEFLOW_ESCALATE_URGENT": "30m"})
    assert delays == {"urgent": timedelta(minutes=30), "attention": timedelta(hours=24)}


# -- follow-ups -------------------------------------------------------------------------------


def note_with_followup(interviews, case, worker, due: str) -> None:
    lines = ["today", "4", "1", "Teacher says he is quiet", "no", "yes", "Visit home", "1", due]
    sid, _ = answer(interviews, "contact_note", case, worker, lines)
    assert interviews.reply(sid, worker, Reply(text="/submit")).status == "completed"


def test_an_overdue_follow_up_is_reminded_once_a_day_outside_quiet_hours(team, tmp_path):
    store, interviews, _clock, case, _lead, worker, _grandma = team
    note_with_followup(interviews, case, worker, "2026-03-10")
    day_after = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)  # 09:00 on the 11th
    assert followups.remind_due(store, datetime(2026, 3, 10, 12, 0, tzinfo=UTC)) == []
    assert followups.remind_due(store, datetime(2026, 3, 10, 23, 0, tzinfo=UTC)) == [], "quiet"
    (task_id,) = followups.remind_due(store, day_after)
    assert followups.remind_due(store, day_after + timedelta(hours=5)) == []
    restarted = Store(store.db)
    assert followups.remind_due(restarted, day_after + timedelta(hours=6)) == []
    assert followups.remind_due(restarted, day_after + timedelta(days=1)) == [task_id]
    reminders = outbox(store, "followup_remind")
    assert len(reminders) == 2
    payload = json.loads(reminders[0]["payload"])
    assert "Overdue follow-ups" in payload["text"] and "Visit home" in payload["text"]
    assert payload["actions"] == [
        {"do": "followup.done", "id": task_id, "label": f"✔ Done #{task_id}"}
    ]
    closed = followups.done(store, actor(store, worker), task_id, "Visited", day_after)
    assert closed.first and closed.task.status == "done"
    assert followups.remind_due(store, day_after + timedelta(days=2)) == []


def test_follow_ups_list_only_what_the_asker_may_see(team):
    store, interviews, _clock, case, lead, worker, grandma = team
    note_with_followup(interviews, case, worker, "2026-03-10")
    assert [t.text for t in followups.list_followups(store, actor(store, worker))] == ["Visit home"]
    assert len(followups.list_followups(store, actor(store, lead))) == 1, "the supervisor too"
    assert followups.list_followups(store, actor(store, grandma)) == []
    with pytest.raises(NotAllowed):
        followups.list_followups(store, actor(store, grandma), case_code="LBC-07")


# -- the digest -------------------------------------------------------------------------------


def test_the_daily_digest_lists_open_flags_and_due_follow_ups_once_a_day(team):
    store, interviews, _clock, case, _lead, worker, grandma = team
    answer(interviews, "child_checkin", case, grandma, ["1"])  # an info flag
    note_with_followup(interviews, case, worker, "2026-03-10")
    store.set_digest(worker, "08:30")
    assert worker not in digest.digest_due(store, NEXT_MORNING), "not before 08:30"
    at = NEXT_MORNING + timedelta(minutes=30)
    assert worker in digest.digest_due(store, at)
    assert digest.digest_due(store, at + timedelta(hours=1)) == []
    (sent,) = [r for r in outbox(store, "digest") if r["person_id"] == worker]
    payload = json.loads(sent["payload"])
    assert "very unhappy" not in payload["text"]  # the question and answer, not the message
    assert "Mood this week" in payload["text"] and "Visit home" in payload["text"]
    assert {a["do"] for a in payload["actions"]} == {"flag.open", "followup.done"}


def test_no_digest_when_there_is_nothing_to_say_or_the_worker_wants_none(team):
    store, interviews, _clock, case, lead, worker, grandma = team
    assert digest.digest_due(store, NEXT_MORNING) == []
    answer(interviews, "child_checkin", case, grandma, ["1"])
    store.set_digest(worker, "off")
    assert digest.digest_due(store, NEXT_MORNING + timedelta(days=1)) == [lead]


def test_an_urgent_flag_on_a_case_without_a_supervisor_reminds_its_worker_instead(store):
    worker = store.add_person("Zhao Min", "worker", telegram_user_id=902, lang="zh")
    store.set_chat(worker, 9902)
    case = store.create_case("EL-03", worker)
    granny = store.add_person("Chen Ayi", "client", lang="zh")
    store.add_member(case.id, granny, "client", worker)
    interviews = Interviews(store, FlowRegistry(), clock=Clock(EVENING))
    answer(interviews, "adult_scales", case, granny, ["", *"0000", "0", *"00000000", "1"])
    (alert,) = outbox(store, "flag")
    assert alert["person_id"] == worker
    (escalated,) = flags.escalate_due(store, EVENING + timedelta(hours=2))
    assert flags.escalate_due(store, EVENING + timedelta(hours=5)) == [], "once"
    (reminder,) = outbox(store, "flag_escalated")
    assert reminder["person_id"] == worker, "the worker is told again, not nobody"
    text = json.loads(reminder["payload"])["text"]
    assert "没有设置督导" in text and "超过 2 小时仍无人确认处理" in text
    (row,) = [r for r in store.audit_rows(case.id) if r["action"] == "flag.escalate"]
    assert json.loads(row["detail"])["reminded"] == [worker]
    assert Flags(store).get(escalated).escalated_at is not None
