"""The Telegram channel: python-telegram-bot wiring around ``TelegramService``.

- One thread owns the SQLite connection (sqlite3 connections belong to the thread that
  made them); every update's effect runs there as one transaction.
- Polling confirms an update (the ``offset`` of the next getUpdates) only after it has
  been handled. PTB's own Updater confirms a batch as soon as it is fetched, so a crash in
  between would lose updates; here a crash means redelivery, and the update id stored with
  each effect makes a redelivered update change nothing.
- An update whose handling failed is not confirmed: polling does not move the offset past
  it, the webhook answers 500, and Telegram delivers it again. After ``update_tries`` failed
  tries (counted in ``update_failures``) it is set aside: confirmed and skipped, logged for
  administrators with its id and the exception's class only, so one bad update cannot block
  its chat for ever. A database that is locked is not counted against an update.
- Updates of one chat are handled in order; different chats run concurrently.
- The conversation state lives in SQLite (the engine's sessions), not in a
  ConversationHandler or a pickle.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import tomllib
import traceback
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bot.http import LeanRequest, MessageRateLimiter
from bot.scheduler import CheckinScheduler
from bot.telegram_service import (
    AnswerCallback,
    Edit,
    Handled,
    Incoming,
    Keyboard,
    Out,
    Send,
    SendDocument,
    SendPhoto,
    TelegramService,
    command_list,
    text,
)
from casework.interviews import Interviews
from flows.engine import Voice
from flows.registry import FlowRegistry
from storage.schedules import Schedules
from storage.store import Store
from storage.thread import DatabaseThread

log = logging.getLogger("caseflow.telegram")
MAX_WEBHOOK_BODY = 1 << 20
# Telegram's file ids are well under 200 characters; a voice answer is at most an hour.
MAX_FILE_ID = 256
MAX_VOICE_SECONDS = 3600
# Telegram keeps an unconfirmed update for 24 hours; a handled id older than this cannot come
# back, so it is forgotten, at most PRUNE_BATCH ids a run.
KEEP_UPDATE_IDS = timedelta(hours=48)
PRUNE_BATCH = 5000


@dataclass
class Settings:
    """Where the bot runs. Environment variables override the TOML file."""

    token: str
    db: str = "caseflow.db"
    base_url: str | None = None
    base_file_url: str | None = None
    webhook_url: str | None = None
    listen: str = "127.0.0.1:8443"
    poll_timeout: int = 30
    checkin_interval: int = 30  # seconds between looks at scheduled check-ins; 0: never
    casework_interval: int = 30  # seconds between looks at escalations, digests, reminders
    message_rate: float = 30  # messages a second to Telegram; 0 only for a local fake server
    http: str = "lean"  # "lean" (bot/http.py) or "httpx" (python-telegram-bot's default)
    update_tries: int = 5  # failed tries after which an update is set aside
    retry_delay: float = 0.5  # polling: first pause before fetching a failed update again
    housekeeping_interval: int = 600  # seconds between prunings of handled update ids
    desk_url: str | None = None  # where /desk links point (the desk's public address)

    @classmethod
    def load(cls, path: str | None = None, **overrides: Any) -> Settings:
        data: dict[str, Any] = {}
        config = path or os.environ.get("CASEFLOW_CONFIG")
        if config and Path(config).exists():
            with open(config, "rb") as handle:
                raw = tomllib.load(handle)
            data.update(raw.get("caseflow", {}))
            data.update(raw.get("telegram", {}))
            if "url" in raw.get("desk", {}):
                data["desk_url"] = raw["desk"]["url"]
        env = {
            "token": os.environ.get("TELEGRAM_BOT_TOKEN"),
            "db": os.environ.get("CASEFLOW_DB"),
            "base_url": os.environ.get("CASEFLOW_TELEGRAM_BASE_URL"),
            "base_file_url": os.environ.get("CASEFLOW_TELEGRAM_BASE_FILE_URL"),
            "message_rate": os.environ.get("CASEFLOW_TELEGRAM_RATE"),
            "http": os.environ.get("CASEFLOW_TELEGRAM_HTTP"),
            "desk_url": os.environ.get("CASEFLOW_DESK_URL"),
        }
        data.update({k: v for k, v in env.items() if v})
        data.update({k: v for k, v in overrides.items() if v is not None})
        if not data.get("token"):
            raise SystemExit("caseflow: set TELEGRAM_BOT_TOKEN (or token in the config file).")
        known = set(cls.__dataclass_fields__)
        settings = cls(**{k: v for k, v in data.items() if k in known})
        settings.message_rate = float(settings.message_rate)
        settings.poll_timeout = int(settings.poll_timeout)
        settings.update_tries = max(1, int(settings.update_tries))
        settings.retry_delay = float(settings.retry_delay)
        settings.housekeeping_interval = int(settings.housekeeping_interval)
        if settings.http not in ("lean", "httpx"):
            raise SystemExit("caseflow: http must be 'lean' or 'httpx'.")
        return settings

    def __repr__(self) -> str:  # the token must never be printed
        return f"Settings(db={self.db!r}, base_url={self.base_url!r}, token=<hidden>)"


def incoming(update: Update) -> Incoming | None:
    """The parts of an update the service reads; None for updates it ignores."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or chat.type != "private":
        return None
    base = Incoming(
        update_id=update.update_id,
        user_id=user.id,
        chat_id=chat.id,
        first_name=user.first_name or "",
        language_code=user.language_code,
    )
    query = update.callback_query
    if query is not None:
        message = query.message
        checked: list[int] = []
        markup = getattr(message, "reply_markup", None)
        for row in markup.inline_keyboard if markup else ():
            for button in row:
                data = button.callback_data
                if isinstance(data, str) and data.startswith("m:") and button.text.startswith("✓"):
                    tail = data.rsplit(":", 1)[-1]
                    if tail.isdecimal():
                        checked.append(int(tail))
        return replace(
            base,
            callback_id=query.id,
            callback_data=query.data if isinstance(query.data, str) else None,
            message_id=message.message_id if message else None,
            message_text=getattr(message, "text", None),
            checked=tuple(checked),
        )
    message = update.message
    if message is None:
        return None
    if message.voice is not None:
        duration = message.voice.duration
        seconds = int(duration.total_seconds()) if hasattr(duration, "total_seconds") else duration
        return replace(base, voice=Voice(message.voice.file_id, int(seconds or 0)))
    if message.text is not None:
        return replace(base, text=message.text)
    kinds = ("sticker", "photo", "location", "document", "video", "audio", "contact", "animation")
    media = next((k for k in kinds if getattr(message, k, None)), "other")
    return replace(base, media=media)


def voice_fits(voice: Voice) -> bool:
    """Whether a voice note is one to keep: a sane file id and at most an hour long.

    Telegram sends neither a longer id nor a longer voice answer to an interview question;
    one that does not fit is refused with a message and never stored.
    """
    return 0 < len(voice.file_id) <= MAX_FILE_ID and 0 <= voice.duration <= MAX_VOICE_SECONDS


def _update_of(body: bytes, bot: Bot) -> Update:
    """The update in a webhook body; ValueError for anything that is not an update object."""
    data = json.loads(body)
    if not isinstance(data, dict) or type(data.get("update_id")) is not int:
        raise ValueError("not an update object")
    try:
        update = Update.de_json(data, bot)
    except Exception as exc:  # PTB raises TypeError, KeyError... on a malformed object
        raise ValueError("not an update object") from exc
    return update


def _where(exc: BaseException) -> str:
    """Where an exception was raised: class and stack frames, not its message (which may
    quote what a person sent)."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"{type(exc).__name__}\n{frames}".rstrip()


def _markup(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in keyboard]
    )


async def _call(make: Callable[[], Awaitable[Any]], attempts: int = 4) -> None:
    """One Bot API call, retried on network errors; RetryAfter is the rate limiter's job."""
    for attempt in range(attempts):
        try:
            await make()
            return
        except RetryAfter as exc:
            delay = exc.retry_after
            seconds = delay.total_seconds() if hasattr(delay, "total_seconds") else float(delay)
            await asyncio.sleep(seconds)
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            log.warning("Telegram refused a call: %s", exc.message)
            return
        except Forbidden:
            log.info("a user has blocked the bot")
            return
        except NetworkError as exc:
            if attempt == attempts - 1:
                raise
            log.info("network error, retrying: %s", type(exc).__name__)
            await asyncio.sleep(min(0.2 * 2**attempt, 3.0))


async def _do(bot: Bot, out: Out) -> None:
    if isinstance(out, Send):
        await bot.send_message(out.chat_id, out.text, reply_markup=_markup(out.keyboard))
    elif isinstance(out, Edit):
        await bot.edit_message_text(
            out.text,
            chat_id=out.chat_id,
            message_id=out.message_id,
            reply_markup=_markup(out.keyboard),
        )
    elif isinstance(out, AnswerCallback):
        await bot.answer_callback_query(out.callback_id, text=out.text)
    elif isinstance(out, SendDocument):
        document = InputFile(out.data, filename=out.filename)
        await bot.send_document(out.chat_id, document, caption=out.caption or None)
    elif isinstance(out, SendPhoto):
        await bot.send_photo(out.chat_id, out.data, caption=out.caption or None)
    else:
        await bot.send_voice(out.chat_id, out.file_id, caption=out.caption or None)


async def perform(bot: Bot, outs: Sequence[Out]) -> None:
    """Carry out the service's actions in order."""
    for out in outs:
        await _call(partial(_do, bot, out))


class TelegramChannel:
    """The running bot: the service on the database thread, PTB for the Bot API."""

    def __init__(
        self,
        settings: Settings,
        store_factory: Callable[[], Store] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        db: DatabaseThread | None = None,
    ) -> None:
        """``db``: a database thread shared with another channel of this process (the
        desk, in ``caseflow run``); its owner closes it."""
        self.settings = settings
        self.clock = clock
        self._own_db = db is None
        self.db = db or DatabaseThread()
        self._store_factory = store_factory or (lambda: Store.open(settings.db))
        self.service: TelegramService | None = None
        self.application = self._build_application()
        self._stopping = asyncio.Event()

    def _build_application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        builder: Any = ApplicationBuilder().token(self.settings.token).updater(None)
        if self.settings.message_rate > 0:
            builder = builder.rate_limiter(
                MessageRateLimiter(overall_max_rate=self.settings.message_rate, max_retries=3)
            )
        if self.settings.http == "lean":
            builder = builder.request(LeanRequest()).get_updates_request(
                LeanRequest(read_timeout=self.settings.poll_timeout + 10)
            )
        if self.settings.base_url:
            builder = builder.base_url(self.settings.base_url)
            builder = builder.base_file_url(
                self.settings.base_file_url or self.settings.base_url.replace("/bot", "/file/bot")
            )
        application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        # Updates do not go through application.process_update(): it hands a handler's
        # exception to the error handlers and returns normally, so a failed update would look
        # handled and be confirmed. poll() and the webhook call settle() instead.
        application.add_error_handler(self.on_error)
        return application

    async def handle_update(self, update: Update) -> None:
        """One update: the service on the database thread, then what it says to do.

        Raises when handling failed; the update's transaction is then rolled back.
        """
        event = incoming(update)
        if event is None or self.service is None:
            return
        if event.voice is not None and not voice_fits(event.voice):
            refusal = await self.db.run(self._refuse_voice, event)
            if refusal is not None:
                await perform(self.application.bot, [refusal])
            return
        handled: Handled = await self.db.run(self.service.handle, event)
        await perform(self.application.bot, handled.outs)
        await self.flush_outbox(handled.outbox)

    def _refuse_voice(self, event: Incoming) -> Send | None:
        """The refusal of a voice note that does not fit, once per update (database thread)."""
        assert self.service is not None
        store = self.service.store
        with store.atomic():
            if not store.update_seen(event.update_id):
                return None  # refused already
            person = store.person_by_telegram(event.user_id)
        lang = str(person["lang"]) if person else _lang_of(event.language_code)
        return Send(event.chat_id, text("voice_refused", lang))

    async def settle(self, update: Update) -> bool:
        """Handle an update; True when it may be confirmed to Telegram: handled, or set aside
        after ``update_tries`` failed tries. False: Telegram must deliver it again."""
        try:
            await self.handle_update(update)
            return True
        except Exception as exc:
            return await self._failed(update, exc)

    async def _failed(self, update: Update, exc: Exception) -> bool:
        """Count a failed try at an update; set it aside (and say so) after too many."""
        assert self.service is not None
        uid, limit = update.update_id, self.settings.update_tries
        try:
            tries, set_aside = await self.db.run(
                self.service.store.update_failed, uid, type(exc).__name__, limit
            )
        except Exception as second:  # e.g. the database is locked: not the update's fault
            log.warning(
                "update %d failed and was not counted (%s); it will be delivered again: %s",
                uid,
                type(second).__name__,
                _where(exc),
            )
            return False
        if not set_aside:
            log.warning(
                "update %d failed (try %d of %d); it will be delivered again: %s",
                uid,
                tries,
                limit,
                _where(exc),
            )
            return False
        log.error(
            "update %d set aside after %d failed tries (last: %s): it will not be handled. "
            "Administrators: see the update_failures table.",
            uid,
            tries,
            type(exc).__name__,
        )
        user, chat = update.effective_user, update.effective_chat
        if user is not None and chat is not None and chat.type == "private":
            busy = Send(chat.id, text("busy_error", _lang_of(user.language_code)))
            with contextlib.suppress(Exception):
                await perform(self.application.bot, [busy])
        return True

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Errors PTB itself catches (in jobs): the class and where, not the message."""
        error = context.error
        log.error("python-telegram-bot reported an error: %s", _where(error) if error else "?")

    async def flush_outbox(self, pending: list[tuple[int, Send]]) -> None:
        assert self.service is not None
        for outbox_id, message in pending:
            try:
                await perform(self.application.bot, [message])
            except Exception:
                # Left unsent: the next look at the outbox offers it again.
                await self.db.run(self.service.release, outbox_id)
                raise
            await self.db.run(self.service.mark_sent, outbox_id)

    async def start(self) -> None:
        await self.application.initialize()
        username = self.application.bot.username
        self.service = await self.db.run(self._make_service, username)
        await self.application.start()
        for lang in ("en", "zh"):
            commands = [BotCommand(name, about) for name, about in command_list(lang)]
            with contextlib.suppress(TelegramError):
                await self.application.bot.set_my_commands(
                    commands, language_code=None if lang == "en" else lang
                )
        pending = await self.db.run(self.service.pending_outbox)
        await self.flush_outbox(pending)
        jobs = self.application.job_queue
        if jobs is not None and self.settings.housekeeping_interval > 0:
            jobs.run_repeating(
                self._housekeeping_job,
                interval=self.settings.housekeeping_interval,
                first=1,
                name="housekeeping",
                job_kwargs={"max_instances": 1, "coalesce": True},
            )
        if jobs is not None and self.settings.checkin_interval > 0:
            # Scheduled check-ins are derived from SQLite at every tick, so a restart has
            # nothing to rebuild: what fell due meanwhile is caught up, never sent twice.
            jobs.run_repeating(
                self._checkin_job,
                interval=self.settings.checkin_interval,
                first=1,
                name="checkins",
                job_kwargs={"max_instances": 1, "coalesce": True},
            )
        if jobs is not None and self.settings.casework_interval > 0:
            # Escalations, digests and reminders are derived from SQLite too; each is
            # queued once (a key in the outbox), so a restart neither loses nor repeats one.
            jobs.run_repeating(
                self._casework_job,
                interval=self.settings.casework_interval,
                first=2,
                name="casework",
                job_kwargs={"max_instances": 1, "coalesce": True},
            )

    async def _casework_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await self.run_casework()
        except Exception:
            log.exception("escalations, digests or reminders failed; the next tick tries again")

    async def run_casework(self) -> int:
        """Queue escalations, digests and follow-up reminders owed by now, then send every
        outbox message that is due (attention alerts held over quiet hours among them)."""
        assert self.service is not None
        pending = await self.db.run(self.service.casework_tick, self.clock())
        await self.flush_outbox(pending)
        return len(pending)

    async def _checkin_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await self.run_checkins()
        except Exception:
            log.exception("scheduled check-ins failed this time; the next tick tries again")

    async def _housekeeping_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await self.housekeeping()
        except Exception as exc:
            log.warning("housekeeping failed this time; the next run tries again: %s", _where(exc))

    async def housekeeping(self) -> int:
        """Forget handled update ids Telegram can no longer redeliver, at most PRUNE_BATCH."""
        assert self.service is not None
        store = self.service.store
        removed = await self.db.run(store.prune_updates, KEEP_UPDATE_IDS, PRUNE_BATCH)
        if removed:
            log.info("forgot %d handled update ids older than %s", removed, KEEP_UPDATE_IDS)
        return removed

    async def run_checkins(self, *, spread: bool = True) -> int:
        """Send what scheduled check-ins owe by now, each at its slot under the rate limit."""
        assert self.service is not None and self.service.scheduler is not None
        actions = await self.db.run(self.service.scheduler.tick, self.clock())
        for action in actions:
            if spread:
                delay = (action.at - self.clock()).total_seconds()
                if delay > 0:
                    await self._sleep_or_stop(delay)
            await perform(self.application.bot, [action.send])
        return len(actions)

    def _make_service(self, username: str) -> TelegramService:
        store = self._store_factory()
        interviews = Interviews(store, FlowRegistry(), clock=self.clock)
        render, chart = _record_hooks(store, interviews)

        scheduler = CheckinScheduler(store, Schedules(store))
        return TelegramService(
            store,
            interviews,
            username,
            render_record=render,
            chart_scores=chart,
            scheduler=scheduler,
            clock=self.clock,
            desk_url=self.settings.desk_url,
        )

    async def poll(self) -> None:
        """Fetch, handle, and only then confirm, until stopped."""
        bot = self.application.bot
        with contextlib.suppress(TelegramError):
            await bot.delete_webhook()
        offset: int | None = None
        failures = 0
        retries = 0  # batches in a row that left an update unsettled
        while not self._stopping.is_set():
            fetch = asyncio.ensure_future(
                bot.get_updates(
                    offset=offset,
                    timeout=self.settings.poll_timeout,
                    allowed_updates=["message", "callback_query"],
                )
            )
            stopped = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not fetch.done():
                # Stopping mid long-poll: whatever that poll would have fetched is not
                # confirmed, so Telegram delivers it again to the next start.
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, TelegramError):
                    await fetch
                break
            try:
                updates = fetch.result()
                failures = 0
            except RetryAfter as exc:
                delay = exc.retry_after
                await self._sleep_or_stop(
                    delay.total_seconds() if hasattr(delay, "total_seconds") else float(delay)
                )
                continue
            except (NetworkError, TelegramError) as exc:
                failures += 1
                log.warning("getUpdates failed (%s); retrying", type(exc).__name__)
                await self._sleep_or_stop(min(0.5 * failures, 10))
                continue
            if not updates:
                continue
            unsettled = await self.process(updates)
            if unsettled is None:
                offset = max(u.update_id for u in updates) + 1
                retries = 0
                continue
            # Not confirmed: the next getUpdates returns it, and the updates after it, again
            # (those already handled change nothing the second time). A pause first, longer
            # each time, or a failing update would be fetched in a tight loop.
            offset = unsettled
            retries += 1
            await self._sleep_or_stop(min(self.settings.retry_delay * 2 ** (retries - 1), 30.0))

    async def process(self, updates: Sequence[Update]) -> int | None:
        """Handle a batch: each chat's updates in order, chats side by side.

        Returns the id of the first update that failed and was not set aside (None when all
        are settled): it and any later update must not be confirmed. A chat's updates after
        a failed one wait for it.
        """
        by_chat: dict[int, list[Update]] = defaultdict(list)
        for update in updates:
            chat = update.effective_chat or update.effective_user
            by_chat[chat.id if chat else 0].append(update)
        unsettled: list[int] = []

        async def one_chat(items: list[Update]) -> None:
            for item in items:
                if not await self.settle(item):
                    unsettled.append(item.update_id)
                    return

        await asyncio.gather(*(one_chat(items) for items in by_chat.values()))
        return min(unsettled, default=None)

    async def serve_webhook(self) -> None:
        """Receive updates by webhook, answering Telegram only after each is handled.

        Telegram retries a delivery that is not answered 200, and PTB's own webhook server
        answers before handling; here a crash before the answer means a retry, which the
        stored update ids make harmless. A failed update is answered 500 (Telegram retries)
        until it is set aside; a body that is not an update object is answered 400. TLS is
        left to a reverse proxy in front.
        """
        assert self.settings.webhook_url
        host, _, port = self.settings.listen.rpartition(":")
        secret = secrets.token_urlsafe(32)
        path = urlsplit(self.settings.webhook_url).path or "/"
        server = await asyncio.start_server(
            partial(self._webhook_connection, path, secret), host or "127.0.0.1", int(port)
        )
        await self.application.bot.set_webhook(
            self.settings.webhook_url,
            secret_token=secret,
            allowed_updates=["message", "callback_query"],
        )
        async with server:
            await self._stopping.wait()

    async def _sleep_or_stop(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _webhook_connection(
        self, path: str, secret: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        status = "400 Bad Request"
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            head = request.decode("latin-1").split("\r\n")
            method, target, _ = [*head[0].split(" "), "", "", ""][:3]
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in head[1:] if line)
            }
            length = int(headers.get("content-length", "0") or 0)
            if method != "POST" or target.split("?")[0] != path:
                status = "404 Not Found"
            elif not secrets.compare_digest(
                headers.get("x-telegram-bot-api-secret-token", ""), secret
            ):
                status = "403 Forbidden"
            elif not 0 < length <= MAX_WEBHOOK_BODY:
                status = "413 Payload Too Large"
            else:
                body = await asyncio.wait_for(reader.readexactly(length), timeout=10)
                update = _update_of(body, self.application.bot)
                settled = await self.settle(update)
                # 500: not handled; Telegram will deliver it again
                status = "200 OK" if settled else "500 Internal Server Error"
        except (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            status = "400 Bad Request"
        except TimeoutError:
            status = "408 Request Timeout"
        except Exception as exc:
            log.error("a webhook request failed: %s", _where(exc))
            status = "500 Internal Server Error"
        with contextlib.suppress(ConnectionError):
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
            writer.close()

    def stop(self) -> None:
        self._stopping.set()

    async def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            await self.application.stop()
        with contextlib.suppress(Exception):
            await self.application.shutdown()
        if self._own_db:
            if self.service is not None:
                await self.db.run(self.service.store.close)
            self.db.close()


def _lang_of(language_code: str | None) -> str:
    return "zh" if (language_code or "").startswith("zh") else "en"


def _record_hooks(store: Store, interviews: Interviews) -> tuple[Any, Any]:
    """The HTML session record and the score chart, from templates/."""
    from templates import telegram_hooks  # matplotlib loads only when the bot starts

    return telegram_hooks(store, interviews)


async def serve(settings: Settings) -> None:
    channel = TelegramChannel(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, channel.stop)
    await channel.start()
    log.warning(
        "caseflow bot @%s is running (database %s)", channel.application.bot.username, settings.db
    )
    try:
        if settings.webhook_url:
            await channel.serve_webhook()
        else:
            await channel.poll()
    finally:
        await channel.shutdown()


def run_from_cli(args: argparse.Namespace) -> int:
    """`caseflow bot` and `make run` with a token."""
    settings = Settings.load(
        getattr(args, "config", None),
        db=getattr(args, "db", None),
        base_url=getattr(args, "base_url", None),
        webhook_url=getattr(args, "webhook", None),
        listen=getattr(args, "listen", None),
    )
    asyncio.run(serve(settings))
    return 0
