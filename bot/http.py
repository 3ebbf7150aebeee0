"""The bot's HTTP path to the Bot API: lean keep-alive requests, and a message rate limit.

``LeanRequest`` is a ``telegram.request.BaseRequest`` (python-telegram-bot lets a bot plug in
its own) that speaks HTTP/1.1 with keep-alive over asyncio streams, for JSON requests.
Measured with bench/telegram.py on 2 cores, against PTB's default ``HTTPXRequest``: CPU per
update fell from ~13.5 ms to ~3 ms. The cost it removes is httpcore's: every request scans
the whole connection pool (PTB's default is 256 connections) with a socket probe for each
idle connection, plus httpx's request and response objects. Uploads (a record, a chart, a QR
code) still go through ``HTTPXRequest``.

A POST is never sent twice on our own initiative: a kept-alive connection is dropped before
the server's idle timeout can close it, and a request is tried again on a fresh connection
only when the reused one gave back nothing at all (the server had closed it unseen).

``MessageRateLimiter`` keeps PTB's ``AIORateLimiter`` (Telegram's ~30 messages a second, and
retries on ``RetryAfter``) for calls that send or edit messages, and lets the rest through:
answering a button, getUpdates and the like are not messages.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from telegram.error import NetworkError, TimedOut
from telegram.ext import AIORateLimiter
from telegram.request import BaseRequest, HTTPXRequest, RequestData

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter, float]
IDLE_SECONDS = 20.0  # well inside the idle timeouts of Telegram's and common proxies' servers
NOT_MESSAGES = frozenset(
    {
        "getUpdates",
        "getMe",
        "answerCallbackQuery",
        "setMyCommands",
        "deleteMyCommands",
        "deleteWebhook",
        "setWebhook",
        "getFile",
        "sendChatAction",
    }
)


class LeanRequest(BaseRequest):
    """Keep-alive HTTP/1.1 connections, reused last-in first-out, per origin."""

    def __init__(
        self, read_timeout: float = 5.0, connect_timeout: float = 5.0, max_idle: int = 16
    ) -> None:
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._max_idle = max_idle
        self._idle: dict[tuple[str, int, bool], list[Stream]] = {}
        self._files = HTTPXRequest(connection_pool_size=4)
        self._tls = ssl.create_default_context()

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        await self._files.initialize()

    async def shutdown(self) -> None:
        for streams in self._idle.values():
            for _, writer, _ in streams:
                writer.close()
        self._idle.clear()
        await self._files.shutdown()

    def _take(self, key: tuple[str, int, bool]) -> Stream | None:
        idle = self._idle.get(key, [])
        now = time.monotonic()
        while idle:
            reader, writer, since = idle.pop()
            if now - since < IDLE_SECONDS and not writer.is_closing() and not reader.at_eof():
                return reader, writer, since
            writer.close()
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is not None and request_data.contains_files:
            return await self._files.do_request(
                url,
                method,
                request_data,
                read_timeout,
                write_timeout,
                connect_timeout,
                pool_timeout,
            )
        timeout = read_timeout if isinstance(read_timeout, int | float) else self._read_timeout
        connect = (
            connect_timeout if isinstance(connect_timeout, int | float) else self._connect_timeout
        )
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        key = (parts.hostname or "", parts.port or (443 if tls else 80), tls)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        body = request_data.json_payload if request_data is not None else b""
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"User-Agent: {self.USER_AGENT}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        for attempt in range(2):
            stream = self._take(key)
            reused = stream is not None
            if stream is None:
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(key[0], key[1], ssl=self._tls if tls else None),
                        connect,
                    )
                except TimeoutError as exc:
                    raise TimedOut("connect timed out") from exc
                except OSError as exc:
                    raise NetworkError(f"connect failed: {type(exc).__name__}") from exc
            else:
                reader, writer, _ = stream
            try:
                writer.write(head + body)
                status, keep, payload = await asyncio.wait_for(_response(reader), timeout)
            except TimeoutError as exc:
                writer.close()
                raise TimedOut from exc
            except asyncio.IncompleteReadError as exc:
                writer.close()
                if reused and attempt == 0 and not exc.partial:
                    continue  # closed before it answered anything: once more, fresh
                raise NetworkError("the connection closed mid-response") from exc
            except (OSError, asyncio.LimitOverrunError, ValueError) as exc:
                writer.close()
                raise NetworkError(f"connection failed: {type(exc).__name__}") from exc
            idle = self._idle.setdefault(key, [])
            if keep and len(idle) < self._max_idle:
                idle.append((reader, writer, time.monotonic()))
            else:
                writer.close()
            return status, payload
        raise NetworkError("connection failed")


async def _response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    keep = headers.get("connection", "").lower() != "close"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        return status, keep, b"".join(chunks)
    length = int(headers.get("content-length", "0"))
    return status, keep, (await reader.readexactly(length)) if length else b""


class MessageRateLimiter(AIORateLimiter):
    """Telegram's message limits for calls that send or edit messages; the rest pass."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if endpoint in NOT_MESSAGES:
            return await callback(*args, **kwargs)
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
