"""The bot's lean HTTP path and its message rate limit, against the fake Bot API."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot
from telegram.error import NetworkError
from telegram.ext import AIORateLimiter

from bot.http import LeanRequest, MessageRateLimiter, _response
from tests.fakebot import FakeTelegram, bypass_proxies


@pytest.fixture(autouse=True)
def _no_proxy() -> None:
    bypass_proxies()


async def lean_bot(server: FakeTelegram) -> Bot:
    bot = Bot(
        server.token,
        base_url=server.base_url,
        request=LeanRequest(),
        get_updates_request=LeanRequest(),
    )
    await bot.initialize()
    return bot


async def test_lean_requests_reuse_one_kept_alive_connection(monkeypatch):
    opened = 0
    real_open = asyncio.open_connection

    async def counting_open(*args, **kwargs):
        nonlocal opened
        opened += 1
        return await real_open(*args, **kwargs)

    monkeypatch.setattr(asyncio, "open_connection", counting_open)
    async with FakeTelegram() as server:
        server.user(7, first_name="A")
        bot = await lean_bot(server)
        for n in range(20):
            await bot.send_message(7, f"hello {n}")
        await bot.shutdown()
    assert server.calls["sendMessage"] == 20
    assert opened <= 2  # getMe and the sends share a kept-alive connection


async def test_a_connection_reset_mid_request_is_an_error_not_a_silent_resend():
    async with FakeTelegram() as server:
        server.user(7, first_name="A")
        bot = await lean_bot(server)
        await bot.send_message(7, "first")
        server.reset_connection("sendMessage")
        with pytest.raises(NetworkError):
            await bot.send_message(7, "second")
        await bot.send_message(7, "third")
        await bot.shutdown()
    assert [m.text for m in server.messages_to(7)] == ["first", "third"]


async def test_a_chunked_response_is_read_whole():
    reader = asyncio.StreamReader()
    reader.feed_data(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"ok\r\n7\r\n":true}\r\n0\r\n\r\n'
    )
    reader.feed_eof()
    assert await _response(reader) == (200, True, b'{"ok":true}')


async def test_the_rate_limit_counts_messages_not_button_answers_or_polls(monkeypatch):
    limited: list[str] = []

    async def recording(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        limited.append(endpoint)
        return await callback(*args, **kwargs)

    monkeypatch.setattr(AIORateLimiter, "process_request", recording)
    limiter = MessageRateLimiter(overall_max_rate=30, max_retries=3)
    sent: list[str] = []

    async def call(name: str) -> bool:
        sent.append(name)
        return True

    for endpoint in [
        "getUpdates",
        "answerCallbackQuery",
        "sendMessage",
        "editMessageText",
        "sendDocument",
        "setMyCommands",
    ]:
        await limiter.process_request(call, (endpoint,), {}, endpoint, {}, None)
    assert sent == [
        "getUpdates",
        "answerCallbackQuery",
        "sendMessage",
        "editMessageText",
        "sendDocument",
        "setMyCommands",
    ]
    assert limited == ["sendMessage", "editMessageText", "sendDocument"]
