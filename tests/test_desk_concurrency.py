"""The bot and the desk writing to one database at once lose nothing: every answer the bot
acknowledged and every change the desk confirmed is on disk afterwards.

Two set-ups: as ``caseflow run`` has them (one process, one database thread for both), and
as ``caseflow bot`` and ``caseflow desk`` run side by side (each its own connection and
thread, contending for SQLite's write lock like two processes)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

import httpx
import pytest

from bot.telegram import Settings, TelegramChannel
from casework import signin
from desk.app import build_app
from desk.backend import Backend
from storage.store import Store
from tests.fakebot import FakeTelegram, bypass_proxies

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

CAREGIVERS = 6
ROUNDS = 2
FIRST = 700_001
SCRIPT = [
    ("command", "/checkin", "How has the child's mood been"),
    ("press", "🙂", "how did they show it"),
    ("press", "Cried or got angry", "You can choose more than one"),
    ("press", "Done ✔", "What happened?"),
    ("text", "She cried at bedtime", "How has the child slept"),
    ("press", "Some bad nights", "How many school days"),
    ("text", "1", "Why did the child miss 1 day"),
    ("text", "had a cold", "Is anything worrying you"),
    ("press", "No", "Please check your answers"),
    ("press", "✅ Submit", "Thank you, all done"),
]
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def prepare(db: str) -> int:
    """A worker with one case per caregiver; returns the worker's person id."""
    store = Store.open(db)
    try:
        worker = store.add_person("Wang Fang", "worker", telegram_user_id=1001)
        for i in range(CAREGIVERS):
            case = store.create_case(f"C-{i:03d}", worker, facts={"checkin_flow": "child_checkin"})
            person = store.add_person(f"Grandma {i}", "caregiver", telegram_user_id=FIRST + i)
            store.add_member(case.id, person, "caregiver", worker)
        return worker
    finally:
        store.close()


async def caregiver(server: FakeTelegram, user_id: int) -> None:
    user = server.user(user_id, first_name="Grandma", language_code="en")
    for _ in range(ROUNDS):
        for kind, argument, expect in SCRIPT:
            if kind == "command":
                user.send_command(argument)
            elif kind == "press":
                user.press(argument)
            else:
                user.send_text(argument)
            await user.wait_reply(lambda m, e=expect: e in m.content, timeout=30)


async def desk_worker(app: object, backend: Backend, worker: int) -> dict[str, int]:
    """Sign in, then keep changing schedules and reading pages until told to stop."""
    token = await backend.run(
        lambda store: signin.issue_link(
            store, worker, datetime.now(UTC), created_by=None, via="test"
        )
    )
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    done = {"schedules": 0, "pauses": 0, "pages": 0}
    async with httpx.AsyncClient(transport=transport, base_url="http://desk") as client:
        page = await client.get(f"/signin/{token}")
        signed = await client.post(
            "/signin", data={"token": token, "csrf": CSRF.search(page.text).group(1)}
        )
        assert signed.status_code == 303
        for i in range(CAREGIVERS):
            code = f"C-{i:03d}"
            page = await client.get(f"/cases/{code}")
            assert page.status_code == 200
            done["pages"] += 1
            csrf = CSRF.search(page.text).group(1)
            member = re.search(r'<select name="member"><option value="(\d+)"', page.text).group(1)
            form = {"csrf": csrf, "member": member, "flow": "child_checkin", "how": "daily"}
            added = await client.post(f"/cases/{code}/schedules", data=form | {"at": "09:00"})
            assert added.status_code == 303, added.text
            done["schedules"] += 1
            page = await client.get(f"/cases/{code}")
            sid = re.search(rf"/cases/{code}/schedules/(\d+)/pause", page.text).group(1)
            paused = await client.post(f"/cases/{code}/schedules/{sid}/pause", data={"csrf": csrf})
            assert paused.status_code == 303
            done["pauses"] += 1
            assert (await client.get("/caseload")).status_code == 200
            done["pages"] += 1
    return done


@pytest.mark.parametrize("shared", [True, False], ids=["caseflow run", "bot and desk apart"])
async def test_bot_and_desk_at_once_lose_nothing(tmp_path, shared):
    bypass_proxies()
    db = str(tmp_path / "both.db")
    worker = prepare(db)
    desk_backend = Backend.open(db)
    async with FakeTelegram() as server:
        settings = Settings(
            token=server.token,
            db=db,
            base_url=server.base_url,
            base_file_url=server.base_file_url,
            poll_timeout=1,
            message_rate=0,
            checkin_interval=0,
        )
        if shared:
            channel = TelegramChannel(
                settings, store_factory=lambda: desk_backend.store, db=desk_backend.db
            )
        else:
            channel = TelegramChannel(settings)
        await channel.start()
        app = build_app(
            desk_backend, secret=b"k" * 32, bot_username=channel.application.bot.username
        )
        polling = asyncio.create_task(channel.poll())
        try:
            results = await asyncio.wait_for(
                asyncio.gather(
                    desk_worker(app, desk_backend, worker),
                    *(caregiver(server, FIRST + i) for i in range(CAREGIVERS)),
                ),
                timeout=240,
            )
        finally:
            channel.stop()
            await asyncio.wait_for(polling, timeout=20)
            await channel.shutdown()
    desk_backend.close()
    assert results[0] == {"schedules": CAREGIVERS, "pauses": CAREGIVERS, "pages": 2 * CAREGIVERS}

    store = Store.open(db)
    try:
        sessions = store._all("SELECT * FROM sessions")
        assert len(sessions) == CAREGIVERS * ROUNDS
        assert {s["status"] for s in sessions} == {"completed"}
        for session in sessions:
            answers = {
                a["question_id"]: json.loads(a["value"])
                for a in store.current_answers(session["id"])
                if a["status"] == "answered"
            }
            assert answers["mood"] == 4 and answers["school_note"] == "had a cold"
            assert answers["has_worries"] is False and len(answers) == 7
        schedules = store._all("SELECT * FROM schedules")
        assert len(schedules) == CAREGIVERS
        assert all(s["paused_at"] for s in schedules)
        audit = [r["action"] for r in store.audit_rows()]
        assert audit.count("desk.case.view") == 2 * CAREGIVERS
        assert audit.count("session.completed") == CAREGIVERS * ROUNDS
    finally:
        store.close()
