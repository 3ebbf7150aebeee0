"""A Telegram update is confirmed only once it is handled, or set aside after too many tries.

The real bot (python-telegram-bot) against the fake Bot API, by polling and by webhook; a
failure is simulated by a locked database or by a service that raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import storage.store
from bot.telegram import (
    KEEP_UPDATE_IDS,
    MAX_FILE_ID,
    MAX_VOICE_SECONDS,
    PRUNE_BATCH,
    Settings,
    TelegramChannel,
    voice_fits,
)
from bot.telegram_service import Incoming
from flows.engine import Voice
from storage.store import Store
from tests.fakebot import FakeTelegram, bypass_proxies
from tests.test_telegram_e2e import (
    WORKER,
    _free_port,
    join_case,
    register_worker,
    reply,
    running_bot,
)

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

BUSY = "something went wrong and that was not saved"


@pytest.fixture(autouse=True)
def _no_proxy() -> None:
    bypass_proxies()


def failing_on(
    channel: TelegramChannel, fails: Callable[[Incoming], bool]
) -> list[tuple[int, bool]]:
    """Make the service raise for updates ``fails`` picks; returns (update_id, failed) calls.

    Like a real failure it happens while handling a new update: one already processed (or
    set aside) is passed to the service, which does nothing with it. The exception's message
    quotes the update, as a real one might: it must not be logged.
    """
    assert channel.service is not None
    real, store = channel.service.handle, channel.service.store
    calls: list[tuple[int, bool]] = []

    def handle(inc: Incoming) -> Any:
        seen = store.db.execute(
            "SELECT 1 FROM processed_updates WHERE update_id = ?", (inc.update_id,)
        ).fetchone()
        failed = seen is None and fails(inc)
        calls.append((inc.update_id, failed))
        if failed:
            raise RuntimeError(f"simulated failure on {inc.text!r}")
        return real(inc)

    channel.service.handle = handle  # type: ignore[method-assign]
    return calls


def once(predicate: Callable[[Incoming], bool]) -> Callable[[Incoming], bool]:
    done: list[bool] = []

    def first(inc: Incoming) -> bool:
        if done or not predicate(inc):
            return False
        done.append(True)
        return True

    return first


def message(update_id: int, text: str, user: int = WORKER) -> dict[str, Any]:
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1700000000,
            "text": text,
            "chat": {"id": user, "type": "private", "first_name": "Wang"},
            "from": {"id": user, "is_bot": False, "first_name": "Wang"},
            **({"entities": entities} if text.startswith("/") else {}),
        },
    }


@contextlib.asynccontextmanager
async def webhook_bot(
    server: FakeTelegram, db: str, store_factory: Callable[[], Store] | None = None
) -> AsyncIterator[tuple[TelegramChannel, Callable[[Any], Any]]]:
    """The bot in webhook mode; yields it and ``post(body)`` (JSON, or bytes as they are)."""
    port = _free_port()
    settings = Settings(
        token=server.token,
        db=db,
        base_url=server.base_url,
        base_file_url=server.base_file_url,
        webhook_url="https://bot.example.org/tg/hook",
        listen=f"127.0.0.1:{port}",
        checkin_interval=0,
        housekeeping_interval=0,
    )
    channel = TelegramChannel(settings, store_factory=store_factory)
    await channel.start()
    task = asyncio.create_task(channel.serve_webhook())
    try:
        for _ in range(200):
            if server.calls_of("setWebhook"):
                break
            await asyncio.sleep(0.02)
        secret = server.calls_of("setWebhook")[-1].params["secret_token"]
        server.user(WORKER, first_name="Wang")
        async with httpx.AsyncClient() as client:

            async def post(body: Any) -> int:
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
                url = f"http://127.0.0.1:{port}/tg/hook"
                if isinstance(body, bytes):
                    response = await client.post(url, content=body, headers=headers)
                else:
                    response = await client.post(url, json=body, headers=headers)
                return response.status_code

            yield channel, post
    finally:
        channel.stop()
        await asyncio.wait_for(task, timeout=10)
        await channel.shutdown()


def contents(server: FakeTelegram, chat: int) -> list[str]:
    return [m.content for m in server.messages_to(chat)]


# -- webhook --------------------------------------------------------------------------------


async def test_webhook_answers_500_while_the_database_is_locked_and_handles_the_retry_once(
    tmp_path,
):
    db = str(tmp_path / "bot.db")
    register_worker(db)

    def impatient_store() -> Store:
        store = Store.open(db)
        store.db.execute("PRAGMA busy_timeout=50")  # a locked database fails fast
        return store

    async with FakeTelegram() as server, webhook_bot(server, db, impatient_store) as (_, post):
        lock = sqlite3.connect(db, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # another writer holds the database
        update = message(77, "/newcase W-1")
        assert await post(update) == 500, "not handled: Telegram must deliver it again"
        assert contents(server, WORKER) == []
        lock.execute("ROLLBACK")
        lock.close()
        assert await post(update) == 200  # Telegram's retry
        assert await post(update) == 200  # and a duplicate
        # handled once: the case opened and the profile's first question, not twice
        assert len(contents(server, WORKER)) == 2
        assert "Case W-1 is open" in contents(server, WORKER)[0]
    store = Store.open(db)
    assert store.update_failure(77) is None, "a locked database is not the update's fault"
    assert store.case_by_code("W-1")


async def test_webhook_sets_a_poison_update_aside_after_five_tries_and_the_chat_goes_on(
    tmp_path, caplog
):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    caplog.set_level(logging.INFO)
    async with FakeTelegram() as server, webhook_bot(server, db) as (channel, post):
        calls = failing_on(channel, lambda inc: inc.update_id == 90)
        poison = message(90, "/newcase LILY-CRIES-AT-NIGHT")
        statuses = [await post(poison) for _ in range(5)]
        assert statuses == [500, 500, 500, 500, 200], "the fifth failure sets it aside"
        assert contents(server, WORKER) == [
            "Sorry, something went wrong and that was not saved. Please send it again."
        ]
        assert await post(poison) == 200
        assert [failed for _, failed in calls] == [True] * 5 + [False], "not tried again"
        assert len(contents(server, WORKER)) == 1
        assert await post(message(91, "/cases")) == 200
        assert "You have no cases yet." in contents(server, WORKER)[-1]
    store = Store.open(db)
    failure = store.update_failure(90)
    assert failure is not None
    assert (failure["tries"], failure["error"]) == (5, "RuntimeError")
    assert failure["set_aside_at"] is not None
    assert [row["update_id"] for row in store.set_aside_updates()] == [90]
    assert "update 90 set aside after 5 failed tries" in caplog.text
    assert "LILY" not in caplog.text, "no message content in the log"


NOT_UPDATES = [
    [],
    {},
    "an update",
    42,
    b"null",
    {"update_id": "7"},
    {"update_id": True},
    {"message": {"text": "hi"}},
    {"update_id": 7, "message": "hello"},
    b"{not json",
    b"\xff\xfe",
]


async def test_webhook_answers_400_to_a_body_that_is_not_an_update(tmp_path, caplog):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    async with FakeTelegram() as server, webhook_bot(server, db) as (_, post):
        statuses = [await post(body) for body in NOT_UPDATES]
        assert statuses == [400] * len(NOT_UPDATES), list(zip(NOT_UPDATES, statuses, strict=True))
        assert await post(message(5, "/cases")) == 200, "the bot carries on"
        assert contents(server, WORKER) == ["You have no cases yet."]
    assert "Traceback" not in caplog.text


# -- polling --------------------------------------------------------------------------------


async def test_polling_does_not_confirm_a_failed_update_and_handles_it_on_redelivery(tmp_path):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    async with FakeTelegram() as server, running_bot(server, db, retry_delay=0.01) as channel:
        calls = failing_on(channel, once(lambda inc: inc.text == "/cases"))
        worker = server.user(WORKER, first_name="Wang")
        cases = worker.send_command("/cases")
        worker.send_command("/help")
        await reply(worker, "/newcase")  # the help text
        await server.wait_until_idle()
        assert server.deliveries.count(cases["update_id"]) == 2, "delivered again after failing"
        assert [failed for uid, failed in calls if uid == cases["update_id"]] == [True, False]
        said = contents(server, WORKER)
        assert len(said) == 2, "no apology: the retry handled it"
        assert said[0] == "You have no cases yet.", "the chat's next update waited for it"
    store = Store.open(db)
    assert store.update_failure(cases["update_id"])["tries"] == 1


async def test_polling_sets_a_poison_update_aside_and_the_chats_next_update_is_handled(
    tmp_path, caplog
):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    caplog.set_level(logging.INFO)
    async with FakeTelegram() as server, running_bot(server, db, retry_delay=0.01) as channel:
        failing_on(channel, lambda inc: inc.text == "/note Lily cried all night")
        worker = server.user(WORKER, first_name="Wang")
        poison = worker.send_command("/note", "Lily cried all night")
        worker.send_command("/cases")
        await reply(worker, "You have no cases yet.")
        await server.wait_until_idle()
        assert server.deliveries.count(poison["update_id"]) == 5
        assert contents(server, WORKER)[0].startswith("Sorry, " + BUSY)
    store = Store.open(db)
    assert [row["update_id"] for row in store.set_aside_updates()] == [poison["update_id"]]
    assert f"update {poison['update_id']} set aside" in caplog.text
    assert "Lily" not in caplog.text


async def test_other_chats_are_handled_once_while_one_update_is_retried(tmp_path):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    register_worker(db, telegram_id=4004, name="Zhao")
    async with (
        FakeTelegram() as server,
        running_bot(server, db, retry_delay=0.01, update_tries=1000) as channel,
    ):
        calls = failing_on(channel, lambda inc: inc.user_id == WORKER)
        wang = server.user(WORKER, first_name="Wang")
        zhao = server.user(4004, first_name="Zhao")
        wang.send_command("/cases")
        zhao.send_command("/cases")
        await reply(zhao, "You have no cases yet.")
        for _ in range(400):
            if sum(failed for _, failed in calls) >= 5:
                break
            await asyncio.sleep(0.025)
        assert sum(failed for _, failed in calls) >= 5, "Wang's update is being retried"
        assert contents(server, 4004) == ["You have no cases yet."], "once, though fetched again"
        assert contents(server, WORKER) == []


# -- growth ---------------------------------------------------------------------------------


def _handled_long_ago(db: str, count: int, start: int = 10**6) -> None:
    """``count`` update ids handled in 2020 (numbered apart from the fake server's)."""
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany(
            "INSERT INTO processed_updates (update_id, processed_at) VALUES (?, ?)",
            [
                (i, f"2020-01-01T00:00:{i % 60:02d}.000000+00:00")
                for i in range(start, start + count)
            ],
        )
    conn.close()


def _processed(db: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM processed_updates").fetchone()[0])
    finally:
        conn.close()


async def test_the_bot_forgets_old_update_ids_a_bounded_batch_at_a_time(tmp_path):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    _handled_long_ago(db, PRUNE_BATCH + 1000)
    async with FakeTelegram() as server, running_bot(server, db) as channel:
        worker = server.user(WORKER, first_name="Wang")
        worker.send_command("/cases")
        await reply(worker, "You have no cases yet.")
        for _ in range(400):  # the periodic job's first run, soon after the start
            if _processed(db) <= 1001:
                break
            await asyncio.sleep(0.025)
        assert _processed(db) == 1001, "one run forgets at most PRUNE_BATCH ids"
        assert await channel.housekeeping() == 1000
        assert await channel.housekeeping() == 0
        assert _processed(db) == 1, "the update just handled is kept"


def test_pruning_keeps_what_telegram_could_still_redeliver_and_set_aside_updates(
    store, monkeypatch
):
    now = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(storage.store, "_now", lambda: now.isoformat(timespec="microseconds"))
    ages = {1: 72, 2: 49, 3: 47, 4: 1}  # update id: hours since it was handled
    for uid, hours in ages.items():
        store.db.execute(
            "INSERT INTO processed_updates (update_id, processed_at) VALUES (?, ?)",
            (uid, (now - timedelta(hours=hours)).isoformat(timespec="microseconds")),
        )
    store.update_failed(5, "RuntimeError", max_tries=1)  # set aside
    store.db.execute("UPDATE update_failures SET first_seen = '2020', last_seen = '2020'")
    store.db.execute("UPDATE processed_updates SET processed_at = '2020' WHERE update_id = 5")
    store.update_failed(6, "RuntimeError", max_tries=5)  # failed once, long ago, then handled
    store.db.execute("UPDATE update_failures SET last_seen = '2020' WHERE update_id = 6")
    assert store.prune_updates(KEEP_UPDATE_IDS, limit=1) == 1
    assert store.prune_updates(KEEP_UPDATE_IDS, limit=100) == 2  # 2 and set-aside 5
    remaining = [r[0] for r in store.db.execute("SELECT update_id FROM processed_updates")]
    assert sorted(remaining) == [3, 4]
    assert store.update_failure(5) is not None, "a set-aside update stays listed"
    assert store.update_failure(6) is None


def test_an_update_is_set_aside_at_the_last_try_and_then_counts_as_processed(store):
    assert store.update_failed(8, "OperationalError", max_tries=3) == (1, False)
    assert store.update_failed(8, "RuntimeError", max_tries=3) == (2, False)
    assert store.update_seen(8), "not processed while it may still be tried"
    store.db.execute("DELETE FROM processed_updates")
    assert store.update_failed(8, "RuntimeError", max_tries=3) == (3, True)
    assert not store.update_seen(8), "set aside: a redelivery changes nothing"
    row = store.update_failure(8)
    assert row is not None and set(row) == {
        "update_id",
        "tries",
        "error",
        "first_seen",
        "last_seen",
        "set_aside_at",
    }, "ids, counts and class names only"
    assert row["error"] == "RuntimeError"


# -- voice notes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_id", "duration", "fits"),
    [
        ("AwACAgQ", 12, True),
        ("x" * MAX_FILE_ID, MAX_VOICE_SECONDS, True),
        ("x" * (MAX_FILE_ID + 1), 12, False),
        ("", 12, False),
        ("AwACAgQ", MAX_VOICE_SECONDS + 1, False),
        ("AwACAgQ", 10**9, False),
        ("AwACAgQ", -1, False),
    ],
)
def test_a_voice_note_is_kept_only_with_a_sane_file_id_and_at_most_an_hour(file_id, duration, fits):
    assert voice_fits(Voice(file_id, duration)) is fits


async def test_an_oversized_voice_note_is_refused_with_a_message_and_never_stored(tmp_path):
    db = str(tmp_path / "bot.db")
    register_worker(db)
    async with FakeTelegram() as server, running_bot(server, db):
        worker = server.user(WORKER, first_name="Wang")
        caregiver = await join_case(server, worker)
        caregiver.send_command("/checkin")
        await reply(caregiver, "1/9 · Mood")
        caregiver.press("🙂")
        await reply(caregiver, "2/9")
        caregiver.press("Cried or got angry")  # several may be true: ticked, then Done
        await server.wait_until_idle()
        caregiver.press("Done ✔")
        await reply(caregiver, "What happened?")
        caregiver.send_voice(duration=12, file_id="A" * 5000)
        await reply(caregiver, "That voice message could not be kept.")
        caregiver.send_voice(duration=10**9, file_id="AwACAgQ-endless", data=b"OggS" + bytes(16))
        refusal = await reply(caregiver, "That voice message could not be kept.")
        assert "shorter than an hour, or type your answer" in refusal.content
        caregiver.send_voice(duration=12, file_id="AwACAgQ-fine")
        await reply(caregiver, "How has the child slept")
    store = Store.open(db)
    (session,) = [
        s
        for s in store.sessions_of_case(store.case_by_code("LBC-07").id)
        if s["flow_id"] != "case_profile"
    ]
    voices = [a["value"] for a in store.answer_history(session["id"]) if "voice" in a["value"]]
    assert voices == ['{"voice":"AwACAgQ-fine","duration":12}']
