"""Scheduled check-ins end to end: the real bot, the fake Bot API, a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.store import Store
from tests.fakebot import FakeTelegram, bypass_proxies
from tests.test_telegram_e2e import (
    CAREGIVER,
    WORKER,
    join_case,
    register_worker,
    reply,
    running_bot,
)

# Monday 9 March 2026, Asia/Shanghai (UTC+8, no daylight saving).
MONDAY_10 = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
MONDAY_18 = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
TUESDAY_08 = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
TUESDAY_18 = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
WEDNESDAY_18 = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def _setup(monkeypatch) -> None:
    bypass_proxies()
    monkeypatch.setenv("CASEFLOW_TZ", "Asia/Shanghai")


def bot(server: FakeTelegram, db: str, clock: Clock):
    """The bot on the test's clock, with no check-in job: the test runs check-ins itself."""
    return running_bot(server, db, clock, checkin_interval=0)


async def schedule_weekly_monday_18(worker) -> None:
    worker.send_command("/schedule", "LBC-07 child_checkin")
    await reply(worker, "Who answers the check-in?")
    worker.press("Grandma Li")
    await reply(worker, "How often?")
    worker.press("Every Monday")
    await reply(worker, "At what time")
    worker.press("18:00")
    await reply(worker, "How long may they take")
    worker.press("48 h; remind after 4 h and 24 h")
    saved = await reply(worker, "Scheduled (no. 1)")
    assert "First check-in: 2026-03-09 18:00" in saved.content


def invitations(server: FakeTelegram) -> list[str]:
    return [m.content for m in server.messages_to(CAREGIVER) if ["▶ Start", "Not now"] in m.buttons]


async def test_a_weekly_checkin_fires_the_caregiver_answers_after_the_second_reminder(tmp_path):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    clock = Clock(MONDAY_10)
    async with FakeTelegram() as server, bot(server, db, clock) as channel:
        worker = server.user(WORKER, first_name="Wang")
        caregiver = await join_case(server, worker)
        await schedule_weekly_monday_18(worker)

        assert await channel.run_checkins(spread=False) == 0  # not due yet
        clock.now = MONDAY_18
        assert await channel.run_checkins(spread=False) == 1
        assert len(invitations(server)) == 1

        clock.now = TUESDAY_08  # 22:00 Monday is quiet: the first reminder waits until 08:00
        assert await channel.run_checkins(spread=False) == 1
        assert len(invitations(server)) == 2  # ignored

        clock.now = TUESDAY_18
        assert await channel.run_checkins(spread=False) == 1
        caregiver.press("▶ Start", server.last_message(CAREGIVER))
        await reply(caregiver, "1/9")
        for tap, then in [("🙂", "2/9"), ("Told someone about it", None), ("Done ✔", "3/8")]:
            caregiver.press(tap)
            if then is None:  # a multi-choice tick edits the question in place
                await server.wait_until_idle()
            else:
                await reply(caregiver, then)
        caregiver.press("Well")
        await reply(caregiver, "4/8")
        caregiver.send_text("0")
        await reply(caregiver, "worrying you")
        caregiver.press("No")
        await reply(caregiver, "Please check your answers")
        caregiver.press("✅ Submit")
        await reply(caregiver, "Thank you, all done.")

        clock.now = WEDNESDAY_18
        before = len(server.messages_to(WORKER))
        await channel.run_checkins(spread=False)
        assert len(server.messages_to(WORKER)) == before, "not missed: the worker is not told"

        worker.send_command("/compliance", "LBC-07")
        figures = await reply(worker, "Check-ins on case LBC-07")
        assert "Grandma Li, child_checkin: due 1, completed 1 (late 1), missed 0, rate 100%" in (
            figures.content
        )


async def test_a_restart_in_the_window_sends_no_second_invitation_but_still_reminds(tmp_path):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    clock = Clock(MONDAY_10)
    async with FakeTelegram() as server:
        async with bot(server, db, clock) as channel:
            worker = server.user(WORKER, first_name="Wang")
            await join_case(server, worker)
            await schedule_weekly_monday_18(worker)
            clock.now = MONDAY_18
            await channel.run_checkins(spread=False)
        async with bot(server, db, clock) as restarted:
            assert await restarted.run_checkins(spread=False) == 0
            clock.now = TUESDAY_08
            assert await restarted.run_checkins(spread=False) == 1
        assert len(invitations(server)) == 2  # the invitation and one reminder, nothing twice


async def test_a_missed_checkin_is_reported_to_the_worker(tmp_path):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    clock = Clock(MONDAY_10)
    async with FakeTelegram() as server, bot(server, db, clock) as channel:
        worker = server.user(WORKER, first_name="Wang")
        await join_case(server, worker)
        await schedule_weekly_monday_18(worker)
        for moment in (MONDAY_18, TUESDAY_08, TUESDAY_18, WEDNESDAY_18):
            clock.now = moment
            await channel.run_checkins(spread=False)
        missed = await worker.wait_reply(
            lambda m: "LBC-07" in m.content and "Grandma Li" in m.content
        )
        assert missed.content.startswith("Check-ins not answered in time:")
        assert "due Mon 09 Mar 18:00 (Asia/Shanghai)" in missed.content
    store = Store.open(db)
    assert "schedule" in {r["entity"] for r in store.audit_rows()}
