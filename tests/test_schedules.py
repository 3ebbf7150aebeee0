"""Schedules and their event log: what is owed by a given instant, and nothing twice.

The clock is a parameter: every call gets its ``now``; nothing sleeps.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from unittest.mock import patch

import pytest

from casework.interviews import Interviews
from flows.engine import Reply
from flows.recurrence import Recurrence
from flows.registry import FlowRegistry
from storage.migrations import migrations
from storage.schedules import NotAMember, ScheduleRemoved, Schedules
from storage.store import Store
from tests.conftest import script_for

REGISTRY = FlowRegistry()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Grandma Li in Shanghai answers every Monday at 18:00 (10:00 UTC); answers for 48 hours,
# reminders after 4 hours (22:00 is quiet: Tuesday 08:00) and 24 hours; quiet 21:00-08:00.
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
NEXT = DUE + timedelta(weeks=1)


class World:
    def __init__(self, store: Store):
        self.store = store
        self.worker = store.add_person("Wang Fang", "worker")
        self.case = store.create_case("LBC-07", self.worker)
        self.granny = store.add_person("Grandma Li", "caregiver", lang="zh")
        store.add_member(self.case.id, self.granny, "caregiver", self.worker)
        self.schedules = Schedules(store)

    def schedule(self, rule: Recurrence = WEEKLY, now: datetime = CREATED) -> int:
        made = self.schedules.create(
            self.case.id, self.granny, "child_checkin", rule, self.worker, now
        )
        return made.id

    def run(self, now: datetime) -> list[tuple[str, str]]:
        """What a tick does to the log, without messages: owed work, taken."""
        with self.store.atomic():
            work = self.schedules.due_work(now)
            taken = [(w.kind, w.key) for w in work if self.schedules.take(w, now)]
        return taken

    def answer(self, at: datetime) -> str:
        """Grandma Li completes a check-in session; it completes at ``at``."""
        interviews = Interviews(self.store, REGISTRY)
        opened = interviews.open("child_checkin", self.case, self.granny, "telegram", lang="en")
        for line in script_for(opened.engine):
            interviews.reply(opened.session.id, self.granny, Reply(text=line))
        self.store.db.execute(
            "UPDATE sessions SET completed_at = ? WHERE id = ?",
            (at.isoformat(timespec="microseconds"), opened.session.id),
        )
        return opened.session.id

    def kinds(self, schedule_id: int, due: datetime = DUE) -> list[str]:
        return [
            e["kind"] + (f":{e['key']}" if e["key"] else "")
            for e in self.schedules.events(schedule_id, due)
        ]


@pytest.fixture
def world(store):
    return World(store)


# -- invitations -------------------------------------------------------------------------------


def test_nothing_is_owed_before_the_first_check_in_falls_due(world):
    world.schedule()
    assert world.schedules.due_work(DUE - timedelta(seconds=1)) == []


def test_the_invitation_is_owed_when_the_check_in_falls_due_and_taken_only_once(world):
    sid = world.schedule()
    work = world.schedules.due_work(DUE)
    assert [(w.kind, w.due_at, w.close_at) for w in work] == [("invite", DUE, CLOSE)]
    assert world.run(DUE) == [("invite", "")]
    assert world.run(DUE + timedelta(seconds=30)) == []
    assert world.kinds(sid) == ["due", "sent"]


def test_taking_the_same_invitation_twice_writes_it_once(world):
    world.schedule()
    (work,) = world.schedules.due_work(DUE)
    with world.store.atomic():
        assert world.schedules.take(work, DUE) is True
        assert world.schedules.take(work, DUE) is False  # a second ticker loses the race


def test_the_database_itself_refuses_a_second_sent_event(world):
    sid = world.schedule()
    world.run(DUE)
    with pytest.raises(sqlite3.IntegrityError):
        world.store.db.execute(
            "INSERT INTO schedule_events (schedule_id, due_at, kind, key, at)"
            " VALUES (?, ?, 'sent', '', ?)",
            (sid, DUE.isoformat(timespec="microseconds"), DUE.isoformat()),
        )


def test_a_schedule_made_after_todays_time_starts_with_the_next_one(world):
    world.schedule(now=DUE + timedelta(minutes=1))
    assert world.run(DUE + timedelta(hours=1)) == []
    assert world.run(NEXT) == [("invite", "")]


# -- reminders and the window ------------------------------------------------------------------


def test_reminders_follow_the_plan_while_the_check_in_is_not_completed(world):
    sid = world.schedule()
    world.run(DUE)
    assert world.run(REMIND_1 - timedelta(seconds=1)) == []
    assert world.run(REMIND_1) == [("remind", "r0")]
    assert world.run(REMIND_1 + timedelta(hours=1)) == []
    assert world.run(REMIND_2) == [("remind", "r1")]
    assert world.kinds(sid) == ["due", "sent", "reminded:r0", "reminded:r1"]


def test_when_reminders_piled_up_only_the_latest_is_sent_not_a_burst(world):
    sid = world.schedule()
    world.run(DUE)
    assert world.run(REMIND_2 + timedelta(hours=1)) == [("remind", "r1")]
    assert world.run(REMIND_2 + timedelta(hours=2)) == []
    assert "reminded:r0" not in world.kinds(sid)


def test_the_window_closing_without_completion_is_missed(world):
    sid = world.schedule()
    world.run(DUE)
    world.run(REMIND_1)
    world.run(REMIND_2)
    assert world.run(CLOSE - timedelta(seconds=1)) == []
    assert world.run(CLOSE) == [("missed", "")]
    assert world.run(CLOSE + timedelta(hours=1)) == []
    assert world.kinds(sid)[-1] == "missed"


def test_a_window_that_passed_while_the_bot_was_down_is_missed_without_an_invitation(world):
    sid = world.schedule()
    assert world.run(CLOSE + timedelta(hours=5)) == [("missed", "")]
    assert world.kinds(sid) == ["due", "missed"]
    (missed,) = [e for e in world.schedules.events(sid) if e["kind"] == "missed"]
    assert missed["detail"] == '{"sent":false}'


def test_a_long_outage_marks_every_closed_window_missed_and_invites_the_open_one(world):
    world.schedule()
    now = DUE + timedelta(weeks=3, hours=1)  # three windows closed, the fourth open
    assert world.run(now) == [("missed", ""), ("missed", ""), ("missed", ""), ("invite", "")]
    assert world.run(now + timedelta(minutes=1)) == []


# -- restarts ------------------------------------------------------------------------------------


def test_a_restart_in_the_middle_of_a_window_sends_no_second_invitation(tmp_path):
    path = tmp_path / "caseflow.db"
    first = World(Store.open(path))
    sid = first.schedule()
    assert first.run(DUE) == [("invite", "")]
    first.store.close()  # the bot stops (or is killed) mid-window

    again = World.__new__(World)
    again.store = Store.open(path)
    again.schedules = Schedules(again.store)
    assert again.run(DUE + timedelta(hours=1)) == []  # no duplicate invitation
    assert again.run(REMIND_1 + timedelta(minutes=5)) == [("remind", "r0")]
    assert again.run(CLOSE) == [("missed", "")]
    assert again.kinds(sid) == ["due", "sent", "reminded:r0", "missed"]
    again.store.close()


def test_after_a_restart_inside_the_window_the_invitation_goes_out_late_and_passed_reminders_stay_out(
    tmp_path,
):
    path = tmp_path / "caseflow.db"
    first = World(Store.open(path))
    sid = first.schedule()
    first.store.close()  # down from before the due instant…

    again = World.__new__(World)
    again.store = Store.open(path)
    again.schedules = Schedules(again.store)
    late = REMIND_1 + timedelta(hours=2)  # …until after the first reminder's time
    assert again.run(late) == [("invite", "")]
    assert again.run(late + timedelta(minutes=1)) == []  # r0 fell before the invitation
    assert again.run(REMIND_2) == [("remind", "r1")]
    assert again.kinds(sid) == ["due", "sent", "reminded:r1"]
    again.store.close()


# -- completion ----------------------------------------------------------------------------------


def test_a_session_started_from_the_check_in_completes_it(world):
    sid = world.schedule()
    world.run(DUE)
    session = world.answer(DUE + timedelta(hours=1))
    world.schedules.link_session(sid, DUE, session, DUE + timedelta(minutes=50))
    assert world.run(DUE + timedelta(hours=1, minutes=1)) == [("completed", "")]
    assert world.run(REMIND_1) == []  # no reminder for a completed check-in
    assert world.run(CLOSE) == []  # and it is not missed
    assert world.kinds(sid) == ["due", "sent", "started", "completed"]


def test_a_check_in_answered_without_its_button_is_completed_by_the_session(world):
    sid = world.schedule()
    world.run(DUE)
    world.answer(DUE + timedelta(hours=2))  # she typed /checkin instead
    assert world.run(DUE + timedelta(hours=3)) == [("completed", "")]
    assert world.kinds(sid)[-1] == "completed"


def test_a_session_completed_before_the_check_in_fell_due_does_not_count(world):
    world.schedule()
    world.answer(DUE - timedelta(hours=1))
    assert world.run(DUE) == [("invite", "")]


def test_a_session_completed_after_the_window_does_not_count(world):
    sid = world.schedule()
    world.run(DUE)
    world.answer(CLOSE + timedelta(minutes=1))
    assert world.run(CLOSE + timedelta(minutes=2)) == [("missed", "")]
    assert "completed" not in world.kinds(sid)


def test_one_session_completes_one_check_in_only(world):
    world.schedule(Recurrence.model_validate(WEEKLY.model_dump() | {"weekdays": ["mon", "thu"]}))
    world.run(DUE)
    world.answer(DUE + timedelta(hours=1))
    assert world.run(DUE + timedelta(hours=2)) == [("completed", "")]
    thursday = DUE + timedelta(days=3)
    assert world.run(thursday) == [("invite", "")]  # the Monday session is spent


def test_completing_after_a_reminder_counts_as_late(world):
    sid = world.schedule()
    world.run(DUE)
    world.run(REMIND_1)
    world.answer(REMIND_1 + timedelta(hours=1))
    assert world.run(REMIND_1 + timedelta(hours=2)) == [("completed", "")]
    assert world.kinds(sid)[-2:] == ["completed", "late"]


def test_session_completed_records_the_completion_at_once(world):
    sid = world.schedule()
    world.run(DUE)
    session = world.answer(DUE + timedelta(hours=1))
    world.schedules.link_session(sid, DUE, session, DUE + timedelta(minutes=30))
    done = world.schedules.session_completed(session, DUE + timedelta(hours=1))
    assert done == (sid, DUE)
    assert world.run(DUE + timedelta(hours=2)) == []
    assert world.schedules.session_completed(session, DUE + timedelta(hours=1)) is None


def test_a_linked_session_completed_by_a_later_clock_counts_at_the_schedulers_now(world):
    # Sessions stamp completion with the wall clock; the scheduler's clock is the authority.
    sid = world.schedule()
    world.run(DUE)
    interviews = Interviews(world.store, REGISTRY)
    opened = interviews.open("child_checkin", world.case, world.granny, "telegram")
    world.schedules.link_session(sid, DUE, opened.session.id, DUE + timedelta(minutes=5))
    for line in script_for(opened.engine):
        interviews.reply(opened.session.id, world.granny, Reply(text=line))
    assert world.run(DUE + timedelta(hours=1)) == [("completed", "")]
    (done,) = [e for e in world.schedules.events(sid) if e["kind"] == "completed"]
    assert done["at"] == (DUE + timedelta(hours=1)).isoformat(timespec="microseconds")


# -- not now -------------------------------------------------------------------------------------


def test_not_now_gives_one_reminder_later_and_leaves_out_the_ones_before_it(world):
    sid = world.schedule()
    world.run(DUE)
    asked = REMIND_1 - timedelta(minutes=30)  # Tue 07:30 local: quiet until 08:00
    until = world.schedules.snooze(sid, DUE, asked + timedelta(hours=2), asked)
    assert until == asked + timedelta(hours=2)  # 09:30, outside the quiet hours
    assert world.run(REMIND_1) == []  # r0 at 08:00 is covered by "not now"
    assert world.run(until) == [("remind", "snooze")]
    assert world.run(REMIND_2) == [("remind", "r1")]
    assert world.kinds(sid) == ["due", "sent", "snoozed", "reminded:snooze", "reminded:r1"]


def test_not_now_into_quiet_hours_moves_the_reminder_to_the_morning(world):
    sid = world.schedule()
    world.run(DUE)
    asked = DUE + timedelta(hours=2)  # Mon 20:00; +2h is 22:00, quiet
    until = world.schedules.snooze(sid, DUE, asked + timedelta(hours=2), asked)
    assert until == REMIND_1


def test_not_now_a_second_time_keeps_the_first_promise(world):
    sid = world.schedule()
    world.run(DUE)
    first = world.schedules.snooze(sid, DUE, DUE + timedelta(hours=2), DUE)
    again = world.schedules.snooze(sid, DUE, DUE + timedelta(hours=5), DUE + timedelta(hours=1))
    assert first == again == DUE + timedelta(hours=2)
    assert world.kinds(sid).count("snoozed") == 1


def test_not_now_on_a_closed_check_in_does_nothing(world):
    sid = world.schedule()
    world.run(DUE)
    world.run(CLOSE)
    assert world.schedules.snooze(sid, DUE, CLOSE + timedelta(hours=2), CLOSE) is None


# -- pause, resume, remove ----------------------------------------------------------------------


def test_a_paused_schedule_sends_no_new_check_in_but_the_open_one_runs_its_course(world):
    sid = world.schedule()
    world.run(DUE)
    world.schedules.pause(sid, world.worker, DUE + timedelta(hours=1))
    assert world.run(REMIND_1) == [("remind", "r0")]
    assert world.run(CLOSE) == [("missed", "")]
    assert world.run(NEXT) == []


def test_resuming_does_not_send_what_fell_due_while_paused(world):
    sid = world.schedule()
    world.schedules.pause(sid, world.worker, DUE - timedelta(days=1))
    resumed = NEXT + timedelta(hours=1)  # the Monday after, inside what would be its window
    world.schedules.resume(sid, world.worker, resumed)
    assert world.run(resumed) == []
    assert world.run(NEXT + timedelta(weeks=1)) == [("invite", "")]
    assert world.schedules.events(sid, DUE) == []


def test_removing_stops_even_the_open_check_in_and_keeps_the_history(world):
    sid = world.schedule()
    world.run(DUE)
    assert world.schedules.remove(sid, world.worker, DUE + timedelta(hours=1)) is True
    assert world.run(REMIND_2) == []
    assert world.run(NEXT) == []
    assert world.schedules.all(world.case.id) == []
    assert [s.id for s in world.schedules.all(world.case.id, removed=True)] == [sid]
    assert world.kinds(sid) == ["due", "sent"]
    with pytest.raises(ScheduleRemoved):
        world.schedules.resume(sid, world.worker, NEXT)


def test_pausing_twice_changes_nothing_the_second_time(world):
    sid = world.schedule()
    assert world.schedules.pause(sid, world.worker, DUE) is True
    assert world.schedules.pause(sid, world.worker, DUE) is False
    assert world.schedules.get(sid).state == "paused"
    assert world.schedules.resume(sid, world.worker, DUE) is True
    assert world.schedules.get(sid).state == "active"


def test_a_schedule_for_someone_not_on_the_case_is_refused(world, store):
    stranger = store.add_person("Stranger", "caregiver")
    with pytest.raises(NotAMember):
        world.schedules.create(world.case.id, stranger, "child_checkin", WEEKLY, 1, CREATED)


def test_schedule_changes_are_audited_with_ids_only(world, store):
    sid = world.schedule()
    world.schedules.pause(sid, world.worker, DUE)
    world.schedules.resume(sid, world.worker, DUE)
    world.schedules.remove(sid, world.worker, DUE)
    rows = [r for r in store.audit_rows(world.case.id) if r["entity"] == "schedule"]
    assert [r["action"] for r in rows] == [
        "schedule.create",
        "schedule.pause",
        "schedule.resume",
        "schedule.remove",
    ]
    assert all(r["actor_id"] == world.worker for r in rows)
    assert "Grandma" not in str(rows)


def test_the_rule_is_stored_as_readable_json(world, store):
    sid = world.schedule()
    (rule,) = store.db.execute("SELECT rule FROM schedules WHERE id = ?", (sid,)).fetchone()
    assert '"window":"48h"' in rule and '"weekdays":["mon"]' in rule
    assert world.schedules.get(sid).rule == WEEKLY


# -- compliance ----------------------------------------------------------------------------------


def test_compliance_counts_due_completed_late_missed_and_the_rate(world):
    sid = world.schedule()
    # Week 1: answered within the hour. Week 2: answered after a reminder (late).
    # Week 3: missed. Week 4: invited, still open.
    world.run(DUE)
    world.answer(DUE + timedelta(hours=1))
    world.run(DUE + timedelta(hours=2))
    week2 = DUE + timedelta(weeks=1)
    world.run(week2)
    world.run(REMIND_1 + timedelta(weeks=1))
    world.answer(REMIND_1 + timedelta(weeks=1, hours=3))
    world.run(REMIND_1 + timedelta(weeks=1, hours=4))
    week3 = DUE + timedelta(weeks=2)
    world.run(week3)
    world.run(CLOSE + timedelta(weeks=2))
    now = DUE + timedelta(weeks=3, hours=1)
    world.run(now)
    (row,) = world.schedules.compliance(world.case.id, now)
    assert (row.person_name, row.flow_id) == ("Grandma Li", "child_checkin")
    assert (row.due, row.completed, row.late, row.missed, row.open) == (4, 2, 1, 1, 1)
    assert row.rate == pytest.approx(2 / 3)
    assert sid


def test_compliance_looks_back_only_the_weeks_asked_for(world):
    world.schedule()
    world.run(CLOSE + timedelta(weeks=5))  # six check-ins, all missed or open
    now = CLOSE + timedelta(weeks=5)
    (everything,) = world.schedules.compliance(world.case.id, now, weeks=8)
    (recent,) = world.schedules.compliance(world.case.id, now, weeks=2)
    assert everything.due == 6 and recent.due == 2


def test_compliance_lists_a_new_schedule_with_nothing_due_yet(world):
    world.schedule()
    (row,) = world.schedules.compliance(world.case.id, CREATED + timedelta(days=1))
    assert (row.due, row.completed, row.missed, row.rate) == (0, 0, 0, None)


def test_the_schedules_migration_is_recorded(store):
    names = [m.name for m in migrations.applied(store.db)]
    assert "m004_schedules" in names
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"schedules", "schedule_events"} <= tables


# -- the command line ----------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """``caseflow schedule …`` and ``caseflow compliance`` on a file, at a chosen instant."""
    import argparse

    from bot import cli_schedules

    path = tmp_path / "c.db"
    store = Store.open(path)
    ana = store.add_person("ana", "worker", local_user="ana")
    case = store.create_case("LBC-07", ana)
    granny = store.add_person("Grandma Li", "caregiver")
    store.add_member(case.id, granny, "caregiver", ana)
    store.close()
    monkeypatch.setattr(cli_schedules, "clock", lambda: CREATED)
    monkeypatch.delenv("CASEFLOW_TZ", raising=False)
    parser = argparse.ArgumentParser(prog="caseflow")
    cli_schedules.register(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str, who: str = "ana") -> int:
        args = parser.parse_args([*argv, "--db", str(path)])
        with patch("casework.identity.os_login", return_value=who):
            return int(args.func(args))

    run.path = path  # type: ignore[attr-defined]
    return run


def test_schedule_add_takes_the_guided_options_and_says_when_the_first_check_in_is(cli, capsys):
    code = cli(
        "schedule", "add", "LBC-07", "child_checkin", "--member", "grandma li",
        "--weekly", "mon", "--at", "18:00", "--window", "48h", "--remind", "4h,24h",
        "--quiet", "21:00-08:00",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "Schedule 1: child_checkin for Grandma Li on LBC-07" in out
    assert "weekly mon at 18:00 Asia/Shanghai; window 48h; reminders 4h, 24h" in out
    assert "first check-in: Mon 2026-03-16 18:00 (Asia/Shanghai)" in out
    store = Store.open(cli.path)
    (schedule,) = Schedules(store).all()
    assert schedule.rule == WEEKLY
    store.close()


def test_schedule_add_fits_the_default_window_and_reminders_to_a_daily_rule(cli, capsys):
    code = cli("schedule", "add", "LBC-07", "child_checkin", "--member", "2", "--daily",
               "--at", "08:30", "--tz", "Europe/Berlin")  # fmt: skip
    assert code == 0
    assert "daily at 08:30 Europe/Berlin; window 24h; reminders 4h" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--daily", "--at", "18:00", "--window", "48h"], "longer than the time between"),
        (["--weekly", "mon", "--at", "25:00"], "is not a time"),
        (["--daily", "--at", "18:00", "--tz", "Mars/Base"], "unknown time zone"),
        (["--once", "2026-02-30", "--at", "18:00"], "is not a date"),
        (["--daily", "--at", "18:00", "--quiet", "21:00"], "write it like 21:00-08:00"),
    ],
)
def test_schedule_add_explains_a_rule_that_cannot_work(cli, capsys, options, message):
    code = cli("schedule", "add", "LBC-07", "child_checkin", "--member", "Grandma Li", *options)
    assert code == 2
    assert message in capsys.readouterr().err


def test_schedule_add_refuses_an_unknown_member_and_a_workers_flow(cli, capsys):
    assert cli("schedule", "add", "LBC-07", "child_checkin", "--member", "Nobody", "--daily",
               "--at", "18:00") == 2  # fmt: skip
    assert "members: ana (id 1, worker), Grandma Li (id 2, caregiver)" in capsys.readouterr().err
    assert cli("schedule", "add", "LBC-07", "session_record", "--member", "2", "--daily",
               "--at", "18:00") == 2  # fmt: skip
    assert "answered by a worker" in capsys.readouterr().err


def test_someone_not_a_worker_on_the_case_is_refused_and_audited(cli, capsys):
    store = Store.open(cli.path)
    store.add_person("Bob", "worker", local_user="bob")  # a worker, but on no case here
    store.close()
    code = cli("schedule", "add", "LBC-07", "child_checkin", "--member", "2", "--daily",
               "--at", "18:00", who="bob")  # fmt: skip
    assert code == 3
    assert "not a worker on case LBC-07" in capsys.readouterr().err
    assert cli("compliance", "LBC-07", who="bob") == 3
    store = Store.open(cli.path)
    refusals = [r for r in store.audit_rows() if r["action"] == "access.refused"]
    assert len(refusals) == 2
    store.close()


def test_schedule_list_pause_resume_remove(cli, capsys):
    cli("schedule", "add", "LBC-07", "child_checkin", "--member", "2", "--weekly", "mon,thu",
        "--at", "18:00")  # fmt: skip
    capsys.readouterr()
    assert cli("schedule", "list") == 0
    out = capsys.readouterr().out
    assert "LBC-07" in out and "active" in out and "Thu 2026-03-12 18:00 (Asia/Shanghai)" in out
    assert cli("schedule", "pause", "1") == 0
    assert "Schedule 1 paused." in capsys.readouterr().out
    assert cli("schedule", "list", "--case", "LBC-07") == 0
    assert "paused" in capsys.readouterr().out
    assert cli("schedule", "resume", "1") == 0
    assert cli("schedule", "remove", "1") == 0
    assert cli("schedule", "resume", "1") == 2
    assert cli("schedule", "pause", "99") == 2
    capsys.readouterr()
    assert cli("schedule", "list") == 0
    assert "No schedules" in capsys.readouterr().out


def test_compliance_prints_a_table_per_member_and_flow(cli, capsys, monkeypatch):
    from bot import cli_schedules

    cli("schedule", "add", "LBC-07", "child_checkin", "--member", "2", "--weekly", "mon",
        "--at", "18:00", "--quiet", "21:00-08:00")  # fmt: skip
    store = Store.open(cli.path)
    world = World.__new__(World)
    world.store, world.schedules = store, Schedules(store)
    world.run(CLOSE + timedelta(weeks=1, hours=-1))  # one missed, one open
    store.close()
    monkeypatch.setattr(cli_schedules, "clock", lambda: CLOSE + timedelta(weeks=1, hours=-1))
    capsys.readouterr()
    assert cli("compliance", "LBC-07") == 0
    out = capsys.readouterr().out
    assert "Check-ins on case LBC-07, the last 8 weeks:" in out
    row = next(line for line in out.splitlines() if "Grandma Li" in line)
    assert row.split()[-6:] == ["2", "0", "0", "1", "1", "0%"]
    assert cli("compliance", "LBC-07", "--json") == 0
    (data,) = json.loads(capsys.readouterr().out)
    assert (data["due"], data["missed"], data["open"], data["rate"]) == (2, 1, 1, 0.0)
