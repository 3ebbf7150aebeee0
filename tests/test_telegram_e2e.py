"""The real bot (python-telegram-bot Application) against a fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.telegram import Settings, TelegramChannel
from casework.identity import os_login
from storage.store import Store
from tests.fakebot import FakeTelegram, bypass_proxies

WORKER, CAREGIVER, STRANGER = 1001, 2002, 3003
CASEFLOW = str(Path(sys.executable).parent / "caseflow")

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(autouse=True)
def _no_proxy() -> None:
    bypass_proxies()


def register_worker(db: str, telegram_id: int = WORKER, name: str = "Wang") -> None:
    store = Store.open(db)
    store.add_person(name, "worker", telegram_user_id=telegram_id)
    store.close()


@contextlib.asynccontextmanager
async def running_bot(
    server: FakeTelegram, db: str, clock=None, **settings_extra
) -> AsyncIterator[TelegramChannel]:
    settings = Settings(
        token=server.token,
        db=db,
        base_url=server.base_url,
        base_file_url=server.base_file_url,
        poll_timeout=1,
        **settings_extra,
    )
    channel = TelegramChannel(settings, clock=clock) if clock else TelegramChannel(settings)
    await channel.start()
    task = asyncio.create_task(channel.poll())
    try:
        yield channel
    finally:
        channel.stop()
        await asyncio.wait_for(task, timeout=10)
        await channel.shutdown()


async def reply(user, contains: str, timeout: float = 10.0):
    return await user.wait_reply(lambda m: contains in m.content, timeout=timeout)


async def join_case(server: FakeTelegram, worker, code: str = "LBC-07"):
    worker.send_command("/newcase", code)
    await reply(worker, f"Case {code} is open")
    worker.send_command("/invite", code)
    invite = await reply(worker, "start=")
    token = invite.content.rsplit("start=", 1)[1].split()[0]
    caregiver = server.user(CAREGIVER, first_name="Grandma Li", language_code="en")
    caregiver.send_command("/start", token)
    await reply(caregiver, "You are now connected to case")
    return caregiver


async def test_worker_invites_caregiver_who_completes_the_checkin_and_the_worker_gets_the_record(
    tmp_path,
):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    async with FakeTelegram() as server, running_bot(server, db):
        worker = server.user(WORKER, first_name="Wang")
        caregiver = await join_case(server, worker)
        assert server.calls_of("sendPhoto"), "the invite comes with a QR code"
        await reply(worker, "Grandma Li joined case LBC-07")

        caregiver.send_command("/checkin")
        question = await reply(caregiver, "1/9 · Mood")
        assert question.buttons[0] == ["😢", "🙁", "😐", "🙂", "😄"]
        caregiver.press("🙂")
        await reply(caregiver, "2/9")
        assert server.messages_to(CAREGIVER)[-2].content.endswith("✓ 4 🙂"), "answered in place"
        caregiver.press("Cried or got angry")  # several may be true: ticked, then Done
        await server.wait_until_idle()
        caregiver.press("Done ✔")
        await reply(caregiver, "What happened?")
        caregiver.send_voice(duration=12, file_id="AwACAgQ-voice-note")
        await reply(caregiver, "How has the child slept")
        caregiver.press("Some bad nights")
        await reply(caregiver, "school days")
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
        caregiver.press("No")
        review = await reply(caregiver, "Please check your answers")
        assert "3. What happened: 🎤 voice message (12 s)" in review.content
        caregiver.press("✅ Submit")
        await reply(caregiver, "Thank you, all done.")

        store = Store.open(db)
        sessions = store.sessions_of_case(store.case_by_code("LBC-07").id)
        (session,) = [s for s in sessions if s["flow_id"] == "child_checkin"]
        number = store.session_number(session["id"])
        store.close()
        worker.send_command("/record", str(number))
        document = await worker.wait_reply(lambda m: m.kind == "document", timeout=20)
        assert document.file is not None and (document.file.file_name or "").endswith(".html")
        html = document.file.data.decode("utf-8")
        assert "She cries for her mother at night" in html
        replay = await worker.wait_reply(
            lambda m: ["Voice message: What happened"] in m.buttons, timeout=10
        )
        worker.press("Voice message: What happened", replay)
        voice = await worker.wait_reply(lambda m: m.kind == "voice")
        assert voice.params.get("voice") == "AwACAgQ-voice-note"


async def test_a_stranger_is_refused_and_audited(tmp_path):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    async with FakeTelegram() as server, running_bot(server, db):
        stranger = server.user(STRANGER, first_name="Who")
        stranger.send_command("/cases")
        await reply(stranger, "you are not registered here")
        stranger.send_text("what is in case LBC-07?")
        await reply(stranger, "you are not registered here")
        await server.wait_until_idle()
    store = Store.open(db)
    refusals = [r for r in store.audit_rows() if r["action"] == "access.refused"]
    assert [(r["entity_id"], json.loads(r["detail"])["count"]) for r in refusals] == [
        (str(STRANGER), 2)
    ]  # one row per stranger an hour, however many messages


async def test_a_stale_button_and_a_duplicate_update_change_nothing(tmp_path):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    async with FakeTelegram() as server, running_bot(server, db):
        worker = server.user(WORKER, first_name="Wang")
        caregiver = await join_case(server, worker)
        caregiver.send_command("/checkin")
        first = await reply(caregiver, "1/9")
        saddest = first.callback_data[0]  # the 😢 button, before the message is edited
        tap = caregiver.press("🙂", first)
        await reply(caregiver, "2/9")
        caregiver.press_data(saddest, first.message_id)  # a button of a passed question
        await reply(caregiver, "belongs to a question that has passed")
        server.redeliver(tap)
        await server.wait_until_idle()
        forged = caregiver.press_data("o:99999:0:0", first.message_id)
        assert forged
        await reply(caregiver, "That button no longer works.")
        await server.wait_until_idle()
    store = Store.open(db)
    (session,) = [
        s
        for s in store.sessions_of_case(store.case_by_code("LBC-07").id)
        if s["flow_id"] != "case_profile"
    ]
    history = [
        (a["question_id"], a["revision"], a["value"]) for a in store.answer_history(session["id"])
    ]
    assert history == [("mood", 1, "4")]


async def test_a_flagged_answer_reaches_the_case_worker_at_once(tmp_path):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    async with FakeTelegram() as server, running_bot(server, db):
        worker = server.user(WORKER, first_name="Wang")
        worker.send_command("/newcase", "S-1")
        await reply(worker, "Case S-1 is open")
        worker.send_command("/interview", "S-1 adult_scales")
        await reply(worker, "There are no right or wrong answers")
        worker.press("Continue ▶")
        for answer in ["3"] * 5 + ["0"] * 8:
            await reply(worker, "/")
            worker.send_text(answer)
        await reply(worker, "Thoughts that you would be better off dead")
        worker.send_text("1")
        alert = await reply(worker, "⚠️ URGENT · Case S-1")
        assert "ask about suicide risk today" in alert.content


async def test_webhook_mode_handles_an_update_before_answering_and_checks_the_secret(tmp_path):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    async with FakeTelegram() as server:
        settings = Settings(
            token=server.token,
            db=db,
            base_url=server.base_url,
            base_file_url=server.base_file_url,
            webhook_url="https://bot.example.org/tg/hook",
            listen="127.0.0.1:0",
        )
        channel = TelegramChannel(settings)
        await channel.start()
        host, port = "127.0.0.1", _free_port()
        settings.listen = f"{host}:{port}"
        task = asyncio.create_task(channel.serve_webhook())
        try:
            for _ in range(100):
                if server.calls_of("setWebhook"):
                    break
                await asyncio.sleep(0.05)
            secret = server.calls_of("setWebhook")[-1].params["secret_token"]
            server.user(WORKER, first_name="Wang")
            update = {
                "update_id": 77,
                "message": {
                    "message_id": 1,
                    "date": 1700000000,
                    "text": "/newcase W-1",
                    "chat": {"id": WORKER, "type": "private", "first_name": "Wang"},
                    "from": {"id": WORKER, "is_bot": False, "first_name": "Wang"},
                    "entities": [{"type": "bot_command", "offset": 0, "length": 8}],
                },
            }
            async with httpx.AsyncClient() as client:
                url = f"http://{host}:{port}/tg/hook"
                refused = await client.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "x"}
                )
                assert refused.status_code == 403
                answered = await client.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
                )
                assert answered.status_code == 200
                # handled before the 200: the reply was already sent
                assert "Case W-1 is open" in server.messages_to(WORKER)[-2].content
                again = await client.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
                )
                assert again.status_code == 200
            # the case opened and the profile's first question, once
            assert len(server.messages_to(WORKER)) == 2, "a redelivered update changes nothing"
        finally:
            channel.stop()
            await asyncio.wait_for(task, timeout=10)
            await channel.shutdown()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_bot(db: str, server: FakeTelegram, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": server.token, "NO_PROXY": "127.0.0.1,localhost"}
    return subprocess.Popen(
        [CASEFLOW, "-v", "bot", "--db", db, "--base-url", server.base_url],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
async def test_the_bot_killed_mid_interview_resumes_after_restart_with_no_answer_lost(tmp_path):
    db = str(tmp_path / "bot.db")
    log = tmp_path / "bot.log"
    register_worker(db)
    async with FakeTelegram() as server:
        bot = _start_bot(db, server, log)
        try:
            worker = server.user(WORKER, first_name="Wang")
            caregiver = await join_case(server, worker)
            caregiver.send_command("/checkin")
            await reply(caregiver, "1/9", timeout=20)
            caregiver.press("😄")
            await reply(caregiver, "2/9", timeout=20)
            caregiver.press("Told someone about it")
            await server.wait_until_idle()
            caregiver.press("Done ✔")
            await reply(caregiver, "3/8", timeout=20)
        finally:
            bot.send_signal(signal.SIGKILL)
            bot.wait(timeout=20)
        caregiver.send_text("1")  # sent while the bot is down: Telegram keeps it
        bot = _start_bot(db, server, log)
        try:
            await reply(caregiver, "4/8", timeout=30)
            caregiver.send_text("2")
            await reply(caregiver, "5/8 · Sleep and school", timeout=20)
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=20)
    store = Store.open(db)
    (session,) = [
        s
        for s in store.sessions_of_case(store.case_by_code("LBC-07").id)
        if s["flow_id"] != "case_profile"
    ]
    values = {a["question_id"]: a["value"] for a in store.current_answers(session["id"])}
    assert values == {
        "mood": "5",
        "expression": '["told"]',
        "sleep": '"well"',
        "school_days_missed": "2",
    }
    output = log.read_text(encoding="utf-8", errors="replace")
    assert server.token not in output and server.token.split(":")[1] not in output
    assert "caseflow bot @caseflow_test_bot is running" in output


async def test_a_worker_linked_to_this_os_account_schedules_and_reads_compliance_from_the_command_line(
    tmp_path,
):
    """One person, two doors: the worker opens a case in the chat, then (as the OS account an
    administrator linked to them) schedules its check-ins and reads compliance in a shell."""
    db = str(tmp_path / "bot.db")
    argv = ["workers", "add", str(WORKER), "--name", "Wang", "--login", os_login()]
    linked = subprocess.run(
        [CASEFLOW, *argv, "--db", db], capture_output=True, text=True, check=False
    )
    assert linked.returncode == 0, linked.stderr
    async with FakeTelegram() as server, running_bot(server, db):
        worker = server.user(WORKER, first_name="Wang")
        await join_case(server, worker, code="LBC-09")

        def caseflow(*argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [CASEFLOW, *argv, "--db", db], capture_output=True, text=True, check=False
            )

        added = await asyncio.to_thread(
            caseflow,
            *("schedule", "add", "LBC-09", "child_checkin", "--member", "Grandma Li"),
            *("--weekly", "mon", "--at", "18:00", "--window", "48h", "--remind", "4h,24h"),
        )
        assert added.returncode == 0, added.stderr
        assert "Schedule 1: child_checkin for Grandma Li on LBC-09" in added.stdout
        compliance = await asyncio.to_thread(caseflow, "compliance", "LBC-09")
        assert compliance.returncode == 0, compliance.stderr
        assert "Grandma Li" in compliance.stdout and "child_checkin" in compliance.stdout
        worker.send_command("/compliance", "LBC-09")
        await reply(worker, "Check-ins on case LBC-09")
    store = Store.open(db)
    rows = [r for r in store.audit_rows() if r["action"] == "schedule.create"]
    assert [json.loads(r["detail"])["os_user"] for r in rows] == [os_login()]
    store.close()
