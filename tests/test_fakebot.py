"""The fake Bot API server, driven by httpx and by the real python-telegram-bot ``Bot`` and
``Application``. Exact error texts are checked on raw HTTP answers (PTB rewrites them)."""

from __future__ import annotations

import asyncio
import html
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from tests.fakebot import (
    NOT_MODIFIED,
    FakeTelegram,
    WaitTimeout,
    format_text,
    parse_html,
    polling,
    tiny_png,
)

LI = 1001
INLINE = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]}


# -- fixtures: the example to copy ----------------------------------------------------------


@pytest.fixture
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    """A started fake server; PTB's httpx must not go through any configured proxy."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    async with FakeTelegram() as srv:
        yield srv


@pytest.fixture
async def bot(server: FakeTelegram) -> AsyncIterator[Bot]:
    """A real PTB Bot pointed at the fake (initialised: it has called getMe)."""
    async with Bot(server.token, base_url=server.base_url, base_file_url=server.base_file_url) as b:
        yield b


@pytest.fixture
async def http(server: FakeTelegram) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to ``/bot<token>/``, to check exact answers."""
    async with httpx.AsyncClient(base_url=server.api_url + "/", trust_env=False) as client:
        yield client


async def call(http: httpx.AsyncClient, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    response = await http.post(method, json=params)
    return response.status_code, response.json()


async def error(http: httpx.AsyncClient, method: str, **params: Any) -> str:
    status, body = await call(http, method, **params)
    assert status == body["error_code"] and body["ok"] is False, body
    return str(body["description"])


def build_echo_app(
    server: FakeTelegram, **builder: Any
) -> Application[Any, Any, Any, Any, Any, Any]:
    """/start shows Yes/No buttons; a press answers and edits; text is echoed; a voice is
    downloaded and its size told. Every update id it sees goes to ``app.bot_data["seen"]``."""
    app_builder = server.application_builder()
    if "rate_limiter" in builder:
        app_builder = app_builder.rate_limiter(builder["rate_limiter"])
    app = app_builder.build()
    app.bot_data["seen"] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        context.bot_data["seen"].append(update.update_id)

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message and update.effective_user
        payload = f" ({' '.join(context.args)})" if context.args else ""
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("Yes", callback_data="answer:yes"),
                    InlineKeyboardButton("No", callback_data="answer:no"),
                ]
            ]
        )
        await update.effective_message.reply_text(
            f"Hello <b>{html.escape(update.effective_user.first_name)}</b>{payload}",
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
        )

    async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query and query.data
        await query.answer(f"got {query.data}")
        await query.edit_message_text(f"You chose {query.data.split(':')[1]}")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message and update.effective_message.text
        await update.effective_message.reply_text(update.effective_message.text)

    async def voice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message and update.message.voice
        data = await (await update.message.voice.get_file()).download_as_bytearray()
        await update.message.reply_text(f"voice of {len(data)} bytes")

    app.add_handler(TypeHandler(Update, record), group=-1)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(press))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(MessageHandler(filters.VOICE, voice))
    return app


# -- the whole loop: Application, scripted user, observation --------------------------------


async def test_a_user_starts_presses_a_button_and_is_echoed(server: FakeTelegram) -> None:
    app = build_echo_app(server)
    async with polling(app):
        li = server.user(LI, first_name="Li", language_code="zh")
        li.send_command("/start", "invite-42")
        hello = await li.wait_reply()
        assert hello.text == "Hello Li (invite-42)"
        assert hello.entities == [{"offset": 6, "length": 2, "type": "bold"}]
        assert hello.buttons == [["Yes", "No"]]

        li.press("Yes")
        edited = await li.wait_reply(lambda m: m.edit_date is not None)
        assert edited is hello and edited.text == "You chose yes"
        assert edited.reply_markup is None  # an edit that does not repeat the keyboard drops it
        assert [v.text for v in edited.history] == ["Hello Li (invite-42)"]
        assert server.callback_answers[-1]["text"] == "got answer:yes"

        li.send_text("how are you?")
        assert (await li.wait_reply()).text == "how are you?"
        await server.wait_until_idle()

    assert [m.content for m in server.messages_to(LI)] == ["You chose yes", "how are you?"]
    assert server.transcript(LI)[0] == "user: /start invite-42"
    assert server.calls["sendMessage"] == 2 and server.calls["editMessageText"] == 1
    assert server.calls["answerCallbackQuery"] == 1
    assert server.pending_updates == 0 and not server.api_errors


async def test_the_application_sees_a_redelivered_update_a_second_time(
    server: FakeTelegram,
) -> None:
    app = build_echo_app(server)
    async with polling(app):
        li = server.user(LI)
        first = li.send_text("once")
        await li.wait_reply()
        server.redeliver(first)
        await server.wait_until(lambda: len(app.bot_data["seen"]) == 2, what="the duplicate")
        await server.wait_until_idle()
    assert app.bot_data["seen"] == [first["update_id"], first["update_id"]]
    assert [m.text for m in server.messages_to(LI)] == ["once", "once"]


async def test_the_application_downloads_a_users_voice_through_get_file(
    server: FakeTelegram,
) -> None:
    app = build_echo_app(server)
    async with polling(app):
        li = server.user(LI)
        li.send_voice(2, data=b"OggS" + bytes(996))
        assert (await li.wait_reply()).text == "voice of 1000 bytes"
    assert server.calls["getFile"] == 1


async def test_a_rate_limiter_rides_out_a_flood_answer(server: FakeTelegram) -> None:
    app = build_echo_app(server, rate_limiter=AIORateLimiter(max_retries=2))
    async with polling(app):
        server.flood("sendMessage", times=1, retry_after=1)
        li = server.user(LI)
        li.send_text("still there?")
        assert (await li.wait_reply(timeout=5)).text == "still there?"
    assert server.calls["sendMessage"] == 2
    assert [c.status for c in server.calls_of("sendMessage")] == [429, 200]


async def test_stopping_does_not_wait_for_the_long_poll(server: FakeTelegram) -> None:
    app = build_echo_app(server)
    async with polling(app, timeout=30):
        await server.wait_until(lambda: server._poll is not None, what="a waiting getUpdates")
        started = time.perf_counter()
    assert time.perf_counter() - started < 3


async def test_wait_for_fails_with_the_transcript_instead_of_hanging(server: FakeTelegram) -> None:
    app = build_echo_app(server)
    async with polling(app):
        li = server.user(LI)
        li.send_text("ping")
        await li.wait_reply()
        with pytest.raises(WaitTimeout) as failure:
            await li.wait_reply(lambda m: "never" in m.content, timeout=0.2)
    message = str(failure.value)
    assert "timed out after 0.2s" in message
    assert "user: ping" in message and "bot: ping" in message


async def test_wait_until_idle_fails_clearly_when_nobody_polls(server: FakeTelegram) -> None:
    server.user(LI).send_text("anyone?")
    with pytest.raises(WaitTimeout, match="1 updates unconfirmed"):
        await server.wait_until_idle(timeout=0.2)


# -- HTTP: envelopes, routes, encodings, connections ----------------------------------------


async def test_get_me_answers_the_bot_user_in_the_bot_api_envelope(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    status, body = await call(http, "getMe")
    assert status == 200
    assert body == {
        "ok": True,
        "result": {
            "id": server.bot_id,
            "is_bot": True,
            "first_name": "Caseflow",
            "username": "caseflow_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        },
    }


async def test_ptb_bot_initialises_against_the_fake(server: FakeTelegram, bot: Bot) -> None:
    assert bot.username == "caseflow_test_bot" and bot.id == server.bot_id


async def test_unknown_method_answers_404_method_not_found(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    status, body = await call(http, "sendPaidMedia", chat_id=1)
    assert (status, body) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
    )
    assert server.unknown_methods == {"sendPaidMedia": 1}


async def test_a_wrong_token_is_unauthorized(server: FakeTelegram) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(f"{server.base_url}123:wrong/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_method_names_are_case_insensitive(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    server.user(LI)
    status, _ = await call(http, "SENDMESSAGE", chat_id=LI, text="hi")
    assert status == 200 and server.calls["sendMessage"] == 1


@pytest.mark.parametrize("encoding", ["json", "form", "query", "multipart"])
async def test_parameters_mean_the_same_in_every_encoding(
    server: FakeTelegram, http: httpx.AsyncClient, encoding: str
) -> None:
    server.user(LI)
    fields = {"chat_id": str(LI), "text": "Grüße 👋", "reply_markup": json.dumps(INLINE)}
    if encoding == "json":
        response = await http.post("sendMessage", json={**fields, "reply_markup": INLINE})
    elif encoding == "form":
        response = await http.post("sendMessage", data=fields)
    elif encoding == "query":
        response = await http.get("sendMessage", params=fields)
    else:
        response = await http.post(
            "sendMessage",
            data=fields,
            files={"unused": ("x.bin", b"\0", "application/octet-stream")},
        )
    result = response.json()["result"]
    assert result["text"] == "Grüße 👋" and result["chat"]["id"] == LI
    assert result["reply_markup"] == INLINE


async def test_a_chunked_request_body_is_read(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    server.user(LI)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"chat_id": 1001, '
        yield b'"text": "in pieces"}'

    response = await http.post(
        "sendMessage", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.json()["result"]["text"] == "in pieces"


async def test_one_keep_alive_connection_serves_many_requests(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    for _ in range(20):
        assert (await call(http, "getMe"))[0] == 200
    assert server.stats.connections == 1 and server.stats.requests == 20


async def test_a_json_body_that_is_not_an_object_is_a_bad_request(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "getMe", content=b"[1]", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["description"] == "Bad Request: JSON object expected"


async def test_a_failure_inside_the_fake_is_answered_500_and_kept(
    server: FakeTelegram, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(params: object) -> None:
        raise KeyError("oops")

    monkeypatch.setitem(server._handlers, "getme", ("getMe", broken))
    assert await error(http, "getMe") == (
        "Internal Server Error: the fake failed: KeyError('oops')"
    )
    assert server.internal_errors == ["getMe: KeyError('oops')"]
    assert "the fake itself failed" in server.explain()


async def test_unknown_paths_answer_404(server: FakeTelegram) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.get(f"http://127.0.0.1:{server.port}/nowhere")
        missing_file = await client.get(f"{server.base_file_url}{server.token}/voice/none.oga")
    assert response.status_code == 404 and missing_file.status_code == 404


# -- getUpdates -------------------------------------------------------------------------------


async def test_an_update_is_confirmed_only_by_a_later_offset_above_its_id(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    li = server.user(LI)
    first, second = li.send_text("one"), li.send_text("two")
    ids = [first["update_id"], second["update_id"]]
    _, body = await call(http, "getUpdates")
    assert [u["update_id"] for u in body["result"]] == ids
    _, body = await call(http, "getUpdates", offset=ids[0])  # confirms nothing
    assert [u["update_id"] for u in body["result"]] == ids
    _, body = await call(http, "getUpdates", offset=ids[1])  # confirms the first only
    assert [u["update_id"] for u in body["result"]] == ids[1:]
    _, body = await call(http, "getUpdates")
    assert [u["update_id"] for u in body["result"]] == ids[1:]
    _, body = await call(http, "getUpdates", offset=ids[1] + 1)
    assert body == {"ok": True, "result": []} and server.pending_updates == 0


async def test_limit_caps_the_batch(server: FakeTelegram, http: httpx.AsyncClient) -> None:
    li = server.user(LI)
    for n in range(5):
        li.send_text(f"m{n}")
    _, body = await call(http, "getUpdates", limit=2)
    assert [u["message"]["text"] for u in body["result"]] == ["m0", "m1"]


async def test_a_negative_offset_keeps_only_the_last_updates(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    li = server.user(LI)
    for n in range(5):
        li.send_text(f"m{n}")
    _, body = await call(http, "getUpdates", offset=-2)
    assert [u["message"]["text"] for u in body["result"]] == ["m3", "m4"]
    assert server.pending_updates == 2


async def test_a_long_poll_answers_as_soon_as_an_update_arrives(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    poll = asyncio.create_task(call(http, "getUpdates", timeout=20))
    await server.wait_until(lambda: server._poll is not None, what="the poll to wait")
    started = time.perf_counter()
    update = server.user(LI).send_text("now")
    _, body = await poll
    assert body["result"] == [update]
    assert time.perf_counter() - started < 1


async def test_a_long_poll_times_out_with_an_empty_list(http: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    _, body = await call(http, "getUpdates", timeout=0.3)
    assert body == {"ok": True, "result": []}
    assert 0.25 < time.perf_counter() - started < 2


async def test_allowed_updates_drops_update_types_not_asked_for(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    li = server.user(LI)
    await call(http, "getUpdates", allowed_updates=["callback_query"])
    li.send_text("ignored")
    li.press_data("kept", 1)
    _, body = await call(http, "getUpdates", allowed_updates=json.dumps(["callback_query"]))
    assert [next(k for k in u if k != "update_id") for u in body["result"]] == ["callback_query"]
    assert server.dropped_updates[0]["message"]["text"] == "ignored"


async def test_a_second_poll_terminates_the_waiting_one_with_409(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    first = asyncio.create_task(call(http, "getUpdates", timeout=20))
    await server.wait_until(lambda: server._poll is not None, what="the first poll")
    async with httpx.AsyncClient(base_url=server.api_url + "/", trust_env=False) as other:
        second = await call(other, "getUpdates")
    status, body = await first
    assert second == (200, {"ok": True, "result": []})
    assert status == 409
    assert body["description"] == (
        "Conflict: terminated by other getUpdates request; make sure that only one bot "
        "instance is running"
    )


async def test_get_updates_conflicts_while_a_webhook_is_set(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    _, body = await call(http, "setWebhook", url="https://example.org/hook", secret_token="s")
    assert body == {"ok": True, "result": True, "description": "Webhook was set"}
    assert server.webhook == {"url": "https://example.org/hook", "secret_token": "s"}
    assert (await error(http, "getUpdates")).startswith("Conflict: can't use getUpdates method")
    _, body = await call(http, "deleteWebhook")
    assert body["description"] == "Webhook was deleted" and server.webhook is None
    assert (await call(http, "getUpdates"))[0] == 200


async def test_held_updates_are_delivered_after_release(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    update = server.user(LI).send_text("held")
    with server.updates_held():
        poll = asyncio.create_task(call(http, "getUpdates", timeout=0))
        await server.wait_until(lambda: server.calls["getUpdates"] == 1, what="the poll")
        await asyncio.sleep(0.1)  # a held poll must stay unanswered for a while
        assert not poll.done()
    _, body = await poll
    assert body["result"] == [update]


async def test_a_redelivered_update_keeps_its_id_and_ignores_the_offset(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    li = server.user(LI)
    first, second = li.send_text("a"), li.send_text("b")
    _, body = await call(http, "getUpdates", offset=second["update_id"] + 1)
    assert body["result"] == []
    server.redeliver(first["update_id"])
    _, body = await call(http, "getUpdates", offset=second["update_id"] + 1)
    assert body["result"] == [first]
    _, body = await call(http, "getUpdates", offset=second["update_id"] + 1)
    assert body["result"] == []
    assert server.deliveries == [first["update_id"]]


async def test_pushed_raw_updates_get_increasing_ids(server: FakeTelegram) -> None:
    a = server.push_update({"my_chat_member": {"x": 1}})
    b = server.user(LI).send_text("b")
    c = server.push_update({"update_id": 5000, "poll": {}})
    d = server.user(LI).send_text("d")
    assert b["update_id"] == a["update_id"] + 1 and c["update_id"] == 5000
    assert d["update_id"] == 5001


# -- sendMessage: shapes and limits -----------------------------------------------------------


async def test_a_sent_message_has_the_bot_api_shape(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    server.user(LI, first_name="Li", last_name="Wei", username="liwei")
    status, body = await call(
        http, "sendMessage", chat_id=LI, text="<i>Hi</i>", parse_mode="HTML", reply_markup=INLINE
    )
    result = body["result"]
    assert status == 200 and body["ok"] is True
    assert set(result) == {"message_id", "from", "chat", "date", "text", "entities", "reply_markup"}
    assert result["from"] == {
        "id": server.bot_id,
        "is_bot": True,
        "first_name": "Caseflow",
        "username": "caseflow_test_bot",
    }
    assert result["chat"] == {
        "id": LI,
        "first_name": "Li",
        "last_name": "Wei",
        "username": "liwei",
        "type": "private",
    }
    assert result["text"] == "Hi" and result["entities"] == [
        {"offset": 0, "length": 2, "type": "italic"}
    ]
    assert result["reply_markup"] == INLINE
    assert abs(result["date"] - time.time()) < 5


async def test_a_reply_keyboard_is_not_echoed_but_shown_and_tapped(
    server: FakeTelegram, bot: Bot
) -> None:
    li = server.user(LI)
    keyboard = ReplyKeyboardMarkup([[KeyboardButton("Fine"), "Bad"]], one_time_keyboard=True)
    sent = await bot.send_message(LI, "How are you?", reply_markup=keyboard)
    assert sent.reply_markup is None  # Telegram returns only inline keyboards
    assert li.reply_keyboard == [["Fine", "Bad"]] and li.last and li.last.keyboard
    update = li.tap("Fine")
    assert update["message"]["text"] == "Fine" and li.reply_keyboard == []
    with pytest.raises(LookupError):
        li.tap("Fine")
    await bot.send_message(LI, "again", reply_markup=keyboard)
    await bot.send_message(LI, "gone", reply_markup=ReplyKeyboardRemove())
    assert li.reply_keyboard == []


async def test_text_length_is_counted_in_utf16_code_units(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    server.user(LI)
    ok = [("a" * 4096, None), ("😀" * 2048, None), ("<b>" + "a" * 4096 + "</b>", "HTML")]
    for text, mode in ok:
        status, body = await call(http, "sendMessage", chat_id=LI, text=text, parse_mode=mode)
        assert status == 200, body
    for text in ("a" * 4097, "😀" * 2048 + "a"):
        assert await error(http, "sendMessage", chat_id=LI, text=text) == (
            "Bad Request: message is too long"
        )
    for text in ("", "  \n ", "<b> </b>"):
        assert await error(http, "sendMessage", chat_id=LI, text=text, parse_mode="HTML") == (
            "Bad Request: message text is empty"
        )
    assert await error(http, "sendMessage", chat_id=LI) == "Bad Request: message text is empty"


async def test_text_is_trimmed_like_telegram_does(server: FakeTelegram, bot: Bot) -> None:
    server.user(LI)
    sent = await bot.send_message(LI, "  <b>hi</b> \n", parse_mode="HTML")
    assert sent.text == "hi" and sent.entities[0].offset == 0 and sent.entities[0].length == 2
    assert server.last_message(LI) is not None
    assert server.last_message(LI).source == "  <b>hi</b> \n"  # type: ignore[union-attr]


async def test_a_caption_over_1024_is_too_long(server: FakeTelegram, bot: Bot) -> None:
    server.user(LI)
    await bot.send_document(LI, b"x", filename="a.txt", caption="c" * 1024)
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_document(LI, b"x", filename="a.txt", caption="c" * 1025)


@pytest.mark.parametrize(
    ("data", "accepted"),
    [("x" * 64, True), ("案" * 21, True), ("案" * 22, False), ("x" * 65, False), ("", False)],
)
async def test_callback_data_must_be_1_to_64_bytes(
    server: FakeTelegram, http: httpx.AsyncClient, data: str, accepted: bool
) -> None:
    server.user(LI)
    markup = {"inline_keyboard": [[{"text": "b", "callback_data": data}]]}
    status, body = await call(http, "sendMessage", chat_id=LI, text="t", reply_markup=markup)
    if accepted:
        assert status == 200
    else:
        assert body["description"] == "Bad Request: BUTTON_DATA_INVALID"


async def test_text_buttons_are_refused_in_an_inline_keyboard(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    server.user(LI)
    markup = {"inline_keyboard": [[{"text": "no action"}]]}
    assert await error(http, "sendMessage", chat_id=LI, text="t", reply_markup=markup) == (
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the "
        "inline keyboard"
    )
    assert await error(http, "sendMessage", chat_id=LI, text="t", reply_markup="{not json") == (
        "Bad Request: can't parse reply keyboard markup JSON object"
    )


@pytest.mark.parametrize(
    ("source", "description"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("é <p>", 'Unsupported start tag "p" at byte offset 3'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
async def test_html_errors_use_telegrams_wording(
    server: FakeTelegram, http: httpx.AsyncClient, source: str, description: str
) -> None:
    server.user(LI)
    assert await error(http, "sendMessage", chat_id=LI, text=source, parse_mode="HTML") == (
        f"Bad Request: can't parse entities: {description}"
    )


def test_html_entities_tags_and_links_become_text_and_entities() -> None:
    text, entities = parse_html(
        '<b>Bold</b> &lt;3 &amp; &#128512; <a href="https://x.org/?a=1&amp;b=2">link</a> '
        '<pre><code class="language-python">x = 1</code></pre> <tg-spoiler>s</tg-spoiler>'
    )
    assert text == "Bold <3 & 😀 link x = 1 s"
    assert entities == [
        {"offset": 0, "length": 4, "type": "bold"},
        {"offset": 13, "length": 4, "type": "text_link", "url": "https://x.org/?a=1&b=2"},
        {"offset": 18, "length": 5, "type": "pre", "language": "python"},
        {"offset": 24, "length": 1, "type": "spoiler"},
    ]


@pytest.mark.parametrize(
    ("source", "description"),
    [
        ("Done.", "Character '.' is reserved and must be escaped with the preceding '\\'"),
        ("1-2", "Character '-' is reserved and must be escaped with the preceding '\\'"),
        ("*bold", "Can't find end of Bold entity at byte offset 0"),
        ("ok _it", "Can't find end of Italic entity at byte offset 3"),
        ("[a](http://x", "Can't find end of a URL at byte offset 4"),
    ],
)
async def test_markdown_v2_errors_use_telegrams_wording(
    server: FakeTelegram, http: httpx.AsyncClient, source: str, description: str
) -> None:
    server.user(LI)
    assert await error(http, "sendMessage", chat_id=LI, text=source, parse_mode="MarkdownV2") == (
        f"Bad Request: can't parse entities: {description}"
    )


def test_markdown_v2_escapes_and_entities_are_parsed() -> None:
    text, entities = format_text(
        "*Step 1\\.* _of_ __3__ ~x~ ||s|| `a.b` [site](https://x.org/a\\)b)", "MarkdownV2"
    )
    assert text == "Step 1. of 3 x s a.b site"
    assert [(e["type"], e["offset"], e["length"]) for e in entities] == [
        ("bold", 0, 7),
        ("italic", 8, 2),
        ("underline", 11, 1),
        ("strikethrough", 13, 1),
        ("spoiler", 15, 1),
        ("code", 17, 3),
        ("text_link", 21, 4),
    ]
    assert entities[-1]["url"] == "https://x.org/a)b"


def test_legacy_markdown_is_parsed_and_an_unclosed_entity_refused() -> None:
    assert format_text("*a* _b_ `c`", "Markdown") == (
        "a b c",
        [
            {"offset": 0, "length": 1, "type": "bold"},
            {"offset": 2, "length": 1, "type": "italic"},
            {"offset": 4, "length": 1, "type": "code"},
        ],
    )
    with pytest.raises(Exception, match="Can't find end of the entity starting at byte offset 2"):
        format_text("a *b", "Markdown")


async def test_an_unknown_parse_mode_is_refused(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    server.user(LI)
    assert await error(http, "sendMessage", chat_id=LI, text="x", parse_mode="RST") == (
        "Bad Request: unsupported parse_mode"
    )


async def test_unknown_chats_and_blocked_users_are_refused(server: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(404, "hi")
    li = server.user(LI)
    li.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(LI, "hi")
    li.unblock()
    await bot.send_message(LI, "hi again")


# -- edits, deletions, callback answers -------------------------------------------------------


async def test_an_edit_with_identical_content_is_not_modified(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    server.user(LI)
    _, body = await call(http, "sendMessage", chat_id=LI, text="same", reply_markup=INLINE)
    message_id = body["result"]["message_id"]
    assert (
        await error(
            http,
            "editMessageText",
            chat_id=LI,
            message_id=message_id,
            text="same",
            reply_markup=INLINE,
        )
        == NOT_MODIFIED
    )
    assert (
        await error(
            http, "editMessageReplyMarkup", chat_id=LI, message_id=message_id, reply_markup=INLINE
        )
        == NOT_MODIFIED
    )
    # the same text without the keyboard is a change: it removes the keyboard
    status, body = await call(
        http, "editMessageText", chat_id=LI, message_id=message_id, text="same"
    )
    assert status == 200
    assert "reply_markup" not in body["result"] and body["result"]["edit_date"] > 0


async def test_edits_apply_in_place_and_keep_their_history(server: FakeTelegram, bot: Bot) -> None:
    server.user(LI)
    sent = await bot.send_message(
        LI,
        "v1",
        reply_markup=InlineKeyboardMarkup.from_button(
            InlineKeyboardButton("go", callback_data="go")
        ),
    )
    await bot.edit_message_text(
        "v2", chat_id=LI, message_id=sent.message_id, reply_markup=sent.reply_markup
    )
    await bot.edit_message_reply_markup(chat_id=LI, message_id=sent.message_id)
    (message,) = server.messages_to(LI)
    assert message.text == "v2" and message.reply_markup is None
    assert [(v.text, bool(v.reply_markup)) for v in message.history] == [("v1", True), ("v2", True)]
    assert server.transcript(LI)[-1] == "bot edits 1: v2"


async def test_editing_a_missing_or_users_message_is_refused(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    li = server.user(LI)
    mine = li.send_text("my words")["message"]["message_id"]
    assert await error(http, "editMessageText", chat_id=LI, message_id=99, text="x") == (
        "Bad Request: message to edit not found"
    )
    assert await error(http, "editMessageText", chat_id=LI, message_id=mine, text="x") == (
        "Bad Request: message can't be edited"
    )


async def test_a_deleted_message_cannot_be_edited(server: FakeTelegram, bot: Bot) -> None:
    server.user(LI)
    sent = await bot.send_message(LI, "bye")
    assert await bot.delete_message(LI, sent.message_id)
    assert server.messages_to(LI)[0].deleted
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=LI, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(LI, sent.message_id)


async def test_a_callback_query_is_answered_once(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    li = server.user(LI)
    await call(http, "sendMessage", chat_id=LI, text="pick", reply_markup=INLINE)
    query_id = li.press("Yes")["callback_query"]["id"]
    status, body = await call(http, "answerCallbackQuery", callback_query_id=query_id, text="ok")
    assert (status, body) == (200, {"ok": True, "result": True})
    assert await error(http, "answerCallbackQuery", callback_query_id=query_id) == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    assert server.callback_answers == [
        {"callback_query_id": query_id, "data": "yes", "chat_id": LI, "text": "ok"}
    ]


# -- files --------------------------------------------------------------------------------------


async def test_a_document_upload_records_its_name_bytes_and_caption(
    server: FakeTelegram, bot: Bot
) -> None:
    server.user(LI)
    payload = b"name,score\nLi,12\n"
    sent = await bot.send_document(
        LI,
        InputFile(payload, filename="scores.csv"),
        caption="<b>Results</b>",
        parse_mode="HTML",
    )
    assert sent.document is not None and sent.document.file_name == "scores.csv"
    assert sent.document.file_size == len(payload) and sent.caption == "Results"
    (message,) = server.messages_to(LI)
    assert message.kind == "document" and message.caption == "Results"
    assert message.file is not None and message.file.data == payload
    assert message.file.file_name == "scores.csv" and message.file.mime_type == "text/csv"
    again = await bot.send_document(LI, sent.document.file_id)  # re-send by file_id
    assert again.document is not None and again.document.file_id == sent.document.file_id


async def test_a_photo_must_be_an_image(server: FakeTelegram, bot: Bot) -> None:
    server.user(LI)
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(LI, b"<svg/>")
    sent = await bot.send_photo(LI, tiny_png(300, 200), caption="chart")
    assert (sent.photo[-1].width, sent.photo[-1].height) == (300, 200)
    assert server.last_message(LI) is not None
    assert server.last_message(LI).file.data == tiny_png(300, 200)  # type: ignore[union-attr]


async def test_a_voice_is_sent_by_file_id_and_files_download(
    server: FakeTelegram, bot: Bot
) -> None:
    li = server.user(LI)
    file_id = li.send_voice(4, data=b"OggS-voice")["message"]["voice"]["file_id"]
    sent = await bot.send_voice(LI, file_id)
    assert sent.voice is not None and sent.voice.file_id == file_id
    assert server.messages_to(LI)[0].media["duration"] == 4
    telegram_file = await bot.get_file(file_id)
    assert telegram_file.file_size == 10 and telegram_file.file_path
    assert bytes(await telegram_file.download_as_bytearray()) == b"OggS-voice"
    with pytest.raises(BadRequest, match="use file of type voice as photo"):
        await bot.send_photo(LI, file_id)


async def test_file_urls_and_unknown_file_ids_are_refused(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    server.user(LI)
    for reference in ("https://example.org/report.pdf", "no-such-file-id"):
        assert await error(http, "sendDocument", chat_id=LI, document=reference) == (
            "Bad Request: wrong file identifier/HTTP URL specified"
        )
    assert await error(http, "sendDocument", chat_id=LI) == (
        "Bad Request: there is no document in the request"
    )
    assert await error(http, "getFile", file_id="nope") == "Bad Request: invalid file_id"


async def test_an_attach_uri_points_at_its_multipart_part(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    server.user(LI)
    response = await http.post(
        "sendDocument",
        data={"chat_id": str(LI), "document": "attach://f1"},
        files={"f1": ("notes.txt", b"hello", "text/plain")},
    )
    assert response.json()["result"]["document"]["file_name"] == "notes.txt"
    assert server.messages_to(LI)[0].file.data == b"hello"  # type: ignore[union-attr]


# -- commands, chat actions -------------------------------------------------------------------


async def test_commands_are_kept_per_scope_and_language(server: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([("start", "Begin"), ("help", "Help")])
    await bot.set_my_commands([("start", "开始")], language_code="zh")
    assert server.commands() == [
        {"command": "start", "description": "Begin"},
        {"command": "help", "description": "Help"},
    ]
    assert [c.command for c in await bot.get_my_commands(language_code="zh")] == ["start"]
    await bot.delete_my_commands()
    assert server.commands() is None and server.commands(language_code="zh") is not None
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Not Valid!", "x")])


async def test_chat_actions_are_recorded_and_checked(server: FakeTelegram, bot: Bot) -> None:
    server.user(LI)
    await bot.send_chat_action(LI, "typing")
    assert server.chat_actions(LI) == ["typing"]
    with pytest.raises(BadRequest, match="Wrong parameter action"):
        await bot.send_chat_action(LI, "dancing")


# -- faults -------------------------------------------------------------------------------------


async def test_a_flood_answer_carries_retry_after_then_the_method_recovers(
    server: FakeTelegram, http: httpx.AsyncClient, bot: Bot
) -> None:
    server.user(LI)
    server.flood("sendMessage", times=2, retry_after=1)
    status, body = await call(http, "sendMessage", chat_id=LI, text="x")
    assert (status, body) == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    )
    with pytest.raises(RetryAfter):
        await bot.send_message(LI, "x")
    await bot.send_message(LI, "x")
    assert server.calls["sendMessage"] == 3 and len(server.messages_to(LI)) == 1
    assert not server.api_errors  # injected faults are not the bot's mistakes


async def test_a_bad_gateway_and_a_reset_connection_are_network_errors(
    server: FakeTelegram, bot: Bot
) -> None:
    server.user(LI)
    server.fail("sendMessage", status=502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(LI, "x")
    server.reset_connection("*")
    with pytest.raises(NetworkError):
        await bot.send_message(LI, "x")
    await bot.send_message(LI, "through")
    assert [m.text for m in server.messages_to(LI)] == ["through"]


async def test_a_delayed_answer_times_the_client_out_but_the_message_is_sent(
    server: FakeTelegram,
) -> None:
    server.user(LI)
    server.delay("sendMessage", seconds=0.5)
    request = HTTPXRequest(read_timeout=0.1)
    async with Bot(server.token, base_url=server.base_url, request=request) as impatient:
        with pytest.raises(TimedOut):
            await impatient.send_message(LI, "slow")
    await server.wait_until(lambda: len(server.messages_to(LI)) == 1, what="the late send")


async def test_faults_are_taken_one_per_call_in_order(server: FakeTelegram, bot: Bot) -> None:
    server.fail("getMe", times=1, status=500)
    server.flood("getMe", times=1, retry_after=2)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.get_me()
    with pytest.raises(RetryAfter):
        await bot.get_me()
    assert (await bot.get_me()).username == "caseflow_test_bot"
    assert server.calls["getMe"] == 4  # one from initialising the Bot


# -- scripted users -------------------------------------------------------------------------


async def test_user_updates_parse_as_ptb_objects(server: FakeTelegram, bot: Bot) -> None:
    li = server.user(LI, first_name="Li", language_code="zh")
    updates = [
        li.send_command("start", "payload"),
        li.send_text("/help me"),
        li.send_voice(3),
        li.send_sticker("🙂"),
        li.send_photo(caption="scan"),
        li.send_location(51.5, -0.12),
        li.send_document("intake.pdf", b"%PDF-1.4", mime_type="application/pdf"),
    ]
    parsed = [Update.de_json(u, bot) for u in updates]
    messages = [u.message for u in parsed]
    assert all(m is not None for m in messages)
    start, help_, voice, sticker, photo, location, document = messages  # type: ignore[misc]
    assert start.text == "/start payload" and start.entities[0].type == "bot_command"
    assert start.entities[0].length == 6 and start.from_user.language_code == "zh"
    assert help_.entities[0].length == 5
    assert voice.voice.mime_type == "audio/ogg" and updates[2]["message"]["voice"]["duration"] == 3
    assert sticker.sticker.emoji == "🙂" and sticker.sticker.type == "regular"
    assert photo.photo[-1].width == 1280 and photo.caption == "scan" and len(photo.photo) == 2
    assert (location.location.latitude, location.location.longitude) == (51.5, -0.12)
    assert document.document.file_name == "intake.pdf"
    assert [m.message_id for m in messages] == list(range(1, 8))
    ids = [u.update_id for u in parsed]
    assert ids == sorted(ids) and len(set(ids)) == 7


async def test_message_ids_are_per_chat_and_shared_with_the_bot(
    server: FakeTelegram, bot: Bot
) -> None:
    li, ann = server.user(LI), server.user(1002, first_name="Ann")
    assert li.send_text("hi")["message"]["message_id"] == 1
    assert (await bot.send_message(LI, "hello")).message_id == 2
    assert ann.send_text("hi")["message"]["message_id"] == 1
    assert li.send_text("again")["message"]["message_id"] == 3


async def test_press_finds_a_button_by_text_or_data_in_the_latest_message_with_it(
    server: FakeTelegram, bot: Bot
) -> None:
    li = server.user(LI)
    first = await bot.send_message(
        LI,
        "old",
        reply_markup=InlineKeyboardMarkup.from_button(
            InlineKeyboardButton("Old", callback_data="old")
        ),
    )
    await bot.send_message(
        LI,
        "new",
        reply_markup=InlineKeyboardMarkup.from_row(
            [
                InlineKeyboardButton("Yes", callback_data="y"),
                InlineKeyboardButton("Site", url="https://example.org"),
            ]
        ),
    )
    by_text = Update.de_json(li.press("Yes"), bot).callback_query
    by_data = Update.de_json(li.press("y"), bot).callback_query
    older = Update.de_json(li.press("Old"), bot).callback_query
    assert by_text and by_data and older
    assert by_text.data == by_data.data == "y" and by_text.id != by_data.id
    assert by_text.message and by_text.message.message_id == 2
    assert by_text.from_user.id == LI and by_text.chat_instance
    assert older.message and older.message.message_id == first.message_id
    with pytest.raises(LookupError, match="not a callback button"):
        li.press("Site")
    with pytest.raises(LookupError, match=r"no inline button 'Maybe'.*\['Yes', 'Site'\]"):
        li.press("Maybe")


async def test_press_data_on_a_missing_message_carries_an_inaccessible_message(
    server: FakeTelegram, bot: Bot
) -> None:
    li = server.user(LI)
    query = Update.de_json(li.press_data("forged:1", 77), bot).callback_query
    assert query and query.data == "forged:1"
    assert query.message is not None and query.message.message_id == 77
    assert not query.message.is_accessible


async def test_a_user_edit_becomes_an_edited_message_update(server: FakeTelegram, bot: Bot) -> None:
    li = server.user(LI)
    message_id = li.send_text("typo")["message"]["message_id"]
    update = Update.de_json(li.edit_text(message_id, "fixed"), bot)
    assert update.edited_message and update.edited_message.text == "fixed"
    assert update.edited_message.edit_date is not None


async def test_the_server_measures_its_own_cost_per_request(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    server.user(LI)
    for n in range(50):
        await call(http, "sendMessage", chat_id=LI, text=f"<b>{n}</b>", parse_mode="HTML")
    assert server.stats.requests == 50
    assert 0 < server.stats.seconds_per_request < 0.01
    assert server.stats.bytes_in > 0 and server.stats.bytes_out > 0
