"""Serving the desk: ``caseflow desk``, ``caseflow desk link`` and ``caseflow run``.

uvicorn serves the app on loopback by default; TLS belongs to a reverse proxy in front
(README). The access log is off: a sign-in link's token is in its path. ``caseflow run``
serves the desk and, with ``TELEGRAM_BOT_TOKEN`` set, the bot in the same process and the
same event loop, both on one database thread.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import uvicorn

from casework import signin
from casework.errors import Invalid, NotFound
from casework.identity import os_login
from desk.app import build_app
from desk.auth import load_secret
from desk.backend import Backend
from flows.recurrence import default_tz
from storage.store import Store
from templates.i18n import zone

log = logging.getLogger("caseflow.desk")

DEFAULT_LISTEN = "127.0.0.1:8080"
URL_VAR = "CASEFLOW_DESK_URL"
BOT_VAR = "CASEFLOW_BOT_USERNAME"

__all__ = ["DEFAULT_LISTEN", "cmd_desk", "cmd_desk_link", "cmd_run", "public_url"]


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the caller stops it (and the bot)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def parse_listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdecimal() or not 0 < int(port) < 65536:
        raise SystemExit(f"caseflow: --listen {text!r}: write it like 127.0.0.1:8080.")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def public_url(listen: str, given: str | None = None) -> str:
    """Where people reach the desk: ``given``, ``$CASEFLOW_DESK_URL``, or the listen address."""
    url = given or os.environ.get(URL_VAR, "").strip()
    if url:
        return url.rstrip("/")
    host, port = parse_listen(listen)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def signin_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/signin/{token}"


def _config(app: object, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        access_log=False,  # a sign-in token is in its URL's path
        log_level="warning",
        lifespan="off",
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        server_header=False,
    )


# The sqlite3 module lets go of the GIL for every row it steps through, and takes it back
# after; with other threads busy in Python (the bot's updates, pages being rendered), each
# take-back can wait a whole switch interval (5 ms by default), so a page that reads a
# thousand rows could wait seconds. Handing the GIL over sooner keeps that wait short.
SWITCH_INTERVAL = 0.0005


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


def _first_link(backend: Backend, base: str) -> str:
    """What to tell the local administrator: their sign-in link, and on an empty database
    that their OS account has been registered as the first worker."""
    login = os_login()
    found = backend.db.call(signin.first_worker, backend.store, login)
    if found is None:
        return (
            f"The account {login!r} is not linked to a worker. For a sign-in link: "
            f"caseflow desk link TELEGRAM_ID_OR_LOGIN (or link this account: caseflow "
            f"workers link TELEGRAM_ID --login {login})."
        )
    lines = []
    if found.created:
        lines.append(
            f"This database had no workers: the account {login!r} is now registered as the "
            f"first worker, {found.name!r} (audited). Add colleagues with `caseflow workers add`."
        )
    token = backend.db.call(
        lambda: signin.issue_link(
            backend.store, found.person_id, datetime.now(UTC), created_by=None, via="terminal"
        )
    )
    lines.append(f"Sign in to the desk (once, within 15 minutes): {signin_url(base, token)}")
    return "\n".join(lines)


async def _serve(
    backend: Backend,
    listen: str,
    base: str,
    *,
    bot_username: str | None,
    stop: asyncio.Event,
    templates: str | None = None,
    announce: str | None = None,
) -> None:
    host, port = parse_listen(listen)
    app = build_app(
        backend,
        secret=load_secret(backend.path),
        tz=zone(default_tz()),
        bot_username=bot_username,
        templates=templates,
    )
    await asyncio.to_thread(app.state.desk.warm)
    sys.setswitchinterval(SWITCH_INTERVAL)
    server = _Server(_config(app, host, port))
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started and announce:
        print(announce, flush=True)  # only once it listens: the link works when shown
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    waiter.cancel()
    await task
    if not server.started:
        raise SystemExit(f"caseflow: the desk could not listen on {listen}.")


def cmd_desk(args: argparse.Namespace) -> int:
    """`caseflow desk`: the desk alone."""
    base = public_url(args.listen, getattr(args, "url", None))
    backend = Backend.open(args.db)

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        await _serve(
            backend,
            args.listen,
            base,
            bot_username=os.environ.get(BOT_VAR) or None,
            stop=stop,
            templates=getattr(args, "templates", None),
            announce=f"caseflow desk on {base} (database {args.db}); Ctrl-C stops it.",
        )

    try:
        asyncio.run(main())
    finally:
        backend.close()
    return 0


def cmd_desk_link(args: argparse.Namespace) -> int:
    """`caseflow desk link WORKER`: a one-time sign-in link, printed (an administrator's
    step: whoever runs it can read the database)."""
    store = Store.open(args.db)
    try:
        store.via = {"channel": "terminal", "os_user": os_login()}
        try:
            person = signin.worker_by_key(store, args.worker)
            token = signin.issue_link(
                store, int(person["id"]), datetime.now(UTC), created_by=None, via="terminal"
            )
        except (NotFound, Invalid) as exc:
            print(f"caseflow: {exc}.", file=sys.stderr)
            return 2
    finally:
        store.close()
    base = public_url(args.listen, args.url)
    print(f"Sign-in link for {person['name']} (once, within 15 minutes):")
    print(signin_url(base, token))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """`caseflow run` and `make run`: the desk, and the bot too when a token is set."""
    listen = getattr(args, "listen", None) or DEFAULT_LISTEN
    base = public_url(listen, getattr(args, "url", None))
    token = os.environ.get("TELEGRAM_BOT_TOKEN")
    backend = Backend.open(args.db)
    try:
        told = _first_link(backend, base)
        asyncio.run(_run(backend, args.db, listen, base, told, with_bot=bool(token)))
    finally:
        backend.close()
    return 0


async def _run(
    backend: Backend, db: str, listen: str, base: str, told: str, *, with_bot: bool
) -> None:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    if not with_bot:
        await _serve(
            backend,
            listen,
            base,
            bot_username=os.environ.get(BOT_VAR) or None,
            stop=stop,
            announce=f"{told}\ncaseflow desk on {base} (database {db}); Ctrl-C stops it.",
        )
        return
    from bot.telegram import Settings, TelegramChannel

    settings = Settings.load(None, db=db, desk_url=base)
    channel = TelegramChannel(settings, store_factory=lambda: backend.store, db=backend.db)
    await channel.start()
    username = channel.application.bot.username
    bot = asyncio.create_task(channel.serve_webhook() if settings.webhook_url else channel.poll())
    announce = (
        f"{told}\ncaseflow bot @{username} and desk on {base} (database {db}); Ctrl-C stops both."
    )
    desk = asyncio.create_task(
        _serve(backend, listen, base, bot_username=username, stop=stop, announce=announce)
    )
    try:
        await asyncio.wait({bot, desk}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        channel.stop()
        await asyncio.gather(bot, desk, return_exceptions=True)
        await channel.shutdown()
    for task in (bot, desk):
        if task.done() and not task.cancelled():
            error = task.exception()
            if error is not None:
                raise error
