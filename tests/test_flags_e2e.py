"""Flags and follow-ups end to end: the real bot, the fake Bot API, a clock the test moves."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot import cli_flags
from bot.cli import main
from storage.store import Store
from tests.conftest import run_as
from tests.fakebot import FakeTelegram, bypass_proxies
from tests.test_schedule_e2e import Clock
from tests.test_telegram_e2e import (
    WORKER,
    join_case,
    register_worker,
    reply,
    running_bot,
)

SUPERVISOR, CLIENT = 1100, 2200
# Asia/Shanghai is UTC+8.
MONDAY_18 = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
MONDAY_23 = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # inside the default quiet hours
WEDNESDAY_09 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _setup(monkeypatch) -> None:
    bypass_proxies()
    monkeypatch.setenv("CASEFLOW_TZ", "Asia/Shanghai")
    monkeypatch.delenv("CASEFLOW_SAFETY", raising=False)


def bot(server: FakeTelegram, db: str, clock: Clock):
    """The bot on the test's clock, with no background jobs: the test runs the ticks."""
    return running_bot(server, db, clock, checkin_interval=0, casework_interval=0)


def link_os_user(db: str, telegram_id: int, login: str) -> None:
    """The worker registered for Telegram is also the one behind an OS account."""
    assert main(["workers", "link", str(telegram_id), "--login", login, "--db", db]) == 0


def cli_json(capsys, *argv: str):
    """``caseflow ARGV --json`` run by the OS account linked to the worker."""
    capsys.readouterr()
    assert run_as("wang", main, [*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


async def test_a_wanted_call_reaches_the_worker_who_acknowledges_it_with_a_note(tmp_path, capsys):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    link_os_user(db, WORKER, "wang")
    clock = Clock(MONDAY_18)
    async with FakeTelegram() as server, bot(server, db, clock):
        worker = server.user(WORKER, first_name="Wang")
        caregiver = await join_case(server, worker)
        caregiver.send_command("/checkin")
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
        caregiver.press("Yes")
        await reply(caregiver, "What is worrying you?")
        caregiver.send_text("She cries for her mother at night")
        await reply(caregiver, "Since when")
        caregiver.press("Skip ➡")
        await reply(caregiver, "Who else knows")
        caregiver.send_text("her teacher")
        await reply(caregiver, "call you this week")
        caregiver.press("Yes")
        told = await reply(caregiver, "Your social worker has been told")
        assert "110" not in told.content, "no crisis message for a wanted call"

        # Within the same update: no tick has run.
        alert = await reply(worker, "Case LBC-07")
        assert "ATTENTION" in alert.content and "Wants a call: Yes" in alert.content
        assert "She cries for her mother at night" in alert.content
        worker.press("✅ Acknowledge", alert)
        await reply(worker, "What was done?")
        edited = server.messages_to(WORKER)[
            [m.message_id for m in server.messages_to(WORKER)].index(alert.message_id)
        ]
        assert "✅ Acknowledged by Wang" in edited.content and not edited.buttons
        worker.send_text("Called her; visiting on Friday.")
        await reply(worker, "Noted on flag")

        (flag,) = cli_json(capsys, "flags", "--case", "LBC-07", "--db", db)
        assert flag["state"] == "acknowledged"
        assert flag["question"]["en"] == "Wants a call"
        assert flag["acknowledged"]["by_name"] == "Wang"
        assert flag["acknowledged"]["note"] == "Called her; visiting on Friday."
        assert flag["acknowledged"]["at"].startswith("2026-03-09T10:00")

        store = Store.open(db)
        (session,) = [
            s
            for s in store.sessions_of_case(store.case_by_code("LBC-07").id)
            if s["flow_id"] != "case_profile"
        ]
        number = store.session_number(session["id"])
        store.close()
        worker.send_command("/record", str(number))
        document = await worker.wait_reply(lambda m: m.kind == "document", timeout=20)
        html = document.file.data.decode("utf-8")
        assert "Acknowledged by Wang, 9 Mar 2026, 18:00: Called her; visiting on Friday." in html

        worker.send_command("/flags")
        await reply(worker, "No open flags on your cases.")
        worker.send_command("/flags", "all")
        listed = await reply(worker, "#1 · ATTENTION · LBC-07")
        assert "acknowledged by Wang" in listed.content


async def client_with_scales(server: FakeTelegram, db: str):
    """A client on case S-1 whose check-in is the adult scales, and the worker."""
    store = Store.open(db)
    wang = store.person_by_telegram(WORKER)["id"]
    store.create_case("S-1", wang, facts={"checkin_flow": "adult_scales"})
    store.close()
    worker = server.user(WORKER, first_name="Wang")
    worker.send_command("/invite", "S-1 client")
    invite = await reply(worker, "start=")
    token = invite.content.rsplit("start=", 1)[1].split()[0]
    client = server.user(CLIENT, first_name="Lao Zhang", language_code="zh")
    client.send_command("/start", token)
    await reply(client, "（个案 S-1）")
    return worker, client


async def answer_phq9_item9(client) -> str:
    client.send_command("/checkin")
    await reply(client, "答案没有对错之分")
    client.press("继续 ▶")
    for answer in ["3"] * 5 + ["0"] * 8:
        await reply(client, "/")
        client.send_text(answer)
    await reply(client, "不如死掉")
    client.send_text("1")
    return (await reply(client, "110")).content


async def test_phq9_item9_shows_the_safety_message_and_alerts_the_worker_in_quiet_hours(tmp_path):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    clock = Clock(MONDAY_23)
    async with FakeTelegram() as server, bot(server, db, clock):
        worker, client = await client_with_scales(server, db)
        safety = await answer_phq9_item9(client)
        assert "已经通知您的社工" in safety and "120" in safety
        alert = await reply(worker, "URGENT · Case S-1")
        assert "ask about suicide risk today" in alert.content
        assert ["✅ Acknowledge"] in alert.buttons
        await reply(client, "15/21 · 焦虑")  # and the interview goes on: the first GAD-7 item


async def test_an_urgent_flag_left_two_hours_reaches_the_supervisor_once_across_a_restart(
    tmp_path,
):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    store = Store.open(db)
    lead = store.add_person("Chen Li", "supervisor", telegram_user_id=SUPERVISOR)
    store.set_supervisor(int(store.person_by_telegram(WORKER)["id"]), lead)
    store.close()
    clock = Clock(MONDAY_23)
    async with FakeTelegram() as server:

        def escalations() -> list[str]:
            return [m.content for m in server.messages_to(SUPERVISOR) if m.content.startswith("⏫")]

        async with bot(server, db, clock) as channel:
            supervisor = server.user(SUPERVISOR, first_name="Chen")
            supervisor.send_command("/help")
            await reply(supervisor, "/flags")
            worker, client = await client_with_scales(server, db)
            await answer_phq9_item9(client)
            await reply(worker, "URGENT · Case S-1")
            clock.now = MONDAY_23 + timedelta(hours=1, minutes=59)
            await channel.run_casework()
            assert escalations() == []
            clock.now = MONDAY_23 + timedelta(hours=2)
            await channel.run_casework()
            await supervisor.wait_reply(lambda m: m.content.startswith("⏫"))
            await channel.run_casework()
        async with bot(server, db, clock) as restarted:
            clock.now = MONDAY_23 + timedelta(hours=3)
            await restarted.run_casework()
            await server.wait_until_idle()
        (escalated,) = escalations()
        assert "Not acknowledged within 2 h" in escalated and "Wang" in escalated
        assert "Case S-1" in escalated


async def test_a_follow_up_due_tomorrow_is_overdue_the_day_after_reminded_once_and_done(
    tmp_path, capsys, monkeypatch
):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    link_os_user(db, WORKER, "wang")
    clock = Clock(MONDAY_18)
    monkeypatch.setattr(cli_flags, "clock", clock)
    async with FakeTelegram() as server:

        def reminders() -> list:
            return [m for m in server.messages_to(WORKER) if "Overdue follow-ups" in m.content]

        async with bot(server, db, clock) as channel:
            worker = server.user(WORKER, first_name="Wang")
            await join_case(server, worker)
            worker.send_command("/digest", "off")
            await reply(worker, "Daily digest: off")
            worker.send_command("/note", "LBC-07")
            await reply(worker, "When was it?")
            worker.press("Today")
            await reply(worker, "Who was it with?")
            worker.press("A teacher")
            await reply(worker, "How did you talk?")
            worker.press("At school")
            await reply(worker, "What did you talk about")
            worker.send_text("He is quiet in class since his mother left.")
            await reply(worker, "Did anything worry you?")
            worker.press("No")
            await reply(worker, "followed up")
            worker.press("Yes")
            await reply(worker, "What needs to be done?")
            worker.send_text("Visit the grandmother at home")
            await reply(worker, "Who will see to it?")
            worker.press("Me")
            await reply(worker, "By when?")
            worker.send_text("2026-03-10")  # tomorrow
            await reply(worker, "Please check your answers")
            worker.press("✅ Submit")
            await reply(worker, "Thank you")
            worker.send_command("/followups")
            listed = await reply(worker, "#1 · LBC-07 · due 2026-03-10")
            assert "(overdue)" not in listed.content
            assert cli_json(capsys, "followups", "--overdue", "--db", db) == []

            clock.now = WEDNESDAY_09
            await channel.run_casework()
            reminder = await worker.wait_reply(lambda m: "Overdue follow-ups" in m.content)
            assert "#1 · LBC-07 · due 2026-03-10 (1 day overdue): Visit the grandmother" in (
                reminder.content
            )
            await channel.run_casework()
            (overdue,) = cli_json(capsys, "followups", "--overdue", "--db", db)
            assert (overdue["id"], overdue["due"], overdue["overdue"]) == (1, "2026-03-10", True)
        async with bot(server, db, clock) as restarted:
            clock.now = WEDNESDAY_09 + timedelta(hours=3)
            await restarted.run_casework()
            await server.wait_until_idle()
            assert len(reminders()) == 1, "once a day, also across a restart"
            worker.send_command("/followups")
            listed = await reply(worker, "#1 · LBC-07 · due 2026-03-10 (overdue)")
            worker.press("✔ Done #1", listed)
            await reply(worker, "What was done?")
            worker.press("Visited them")
            await reply(worker, "Noted on follow-up #1: Visited them")
            clock.now = WEDNESDAY_09 + timedelta(days=1)
            await restarted.run_casework()
            await server.wait_until_idle()
            assert len(reminders()) == 1, "a closed follow-up is not reminded"
    (task,) = cli_json(capsys, "followups", "--db", db)
    assert task["status"] == "done"
    assert (task["done"]["by_name"], task["done"]["note"]) == ("Wang", "Visited them")
