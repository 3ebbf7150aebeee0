"""One thread owns the database connection: every store call of a process runs there.

A ``sqlite3`` connection belongs to the thread that made it, and one owner of write
transactions per process means a transaction is never interleaved with another one of the
same process. The bot and the desk each run their store calls through a ``DatabaseThread``;
``caseflow run`` gives both the same one.

Calls run in the order they came, except that a call marked ``first`` (a person waiting at
the desk: a page's audit row, a form) goes before the ones already waiting. The bot hands
over a whole batch of updates at once; without this a desk page waited behind all of them
(bench/desk.py measured a p95 of 0.4-0.8 s while 200 caregivers answered).
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["DatabaseThread", "is_locked"]

_FIRST, _IN_TURN, _STOP = 0, 1, 2


def is_locked(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite saying another connection held the write lock for longer
    than the busy timeout (or moved on since this transaction read): try again later."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class DatabaseThread:
    """Runs functions on the one thread that owns the database connection."""

    def __init__(self, name: str = "caseflow-db") -> None:
        self._jobs: queue.PriorityQueue[
            tuple[int, int, Callable[[], Any] | None, Future[Any] | None]
        ] = queue.PriorityQueue()
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._closed = False
        # A daemon thread: a process that ends without close() is not kept alive by it; what
        # it had committed is on disk, and a transaction it was in is rolled back by SQLite.
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            _, _, job, future = self._jobs.get()
            if job is None or future is None:
                return
            if not future.set_running_or_notify_cancel():
                continue  # its caller stopped waiting before it started
            try:
                result = job()
            except BaseException as exc:  # handed to the caller, as an executor does
                future.set_exception(exc)
            else:
                future.set_result(result)

    def submit(self, fn: Callable[..., T], *args: Any, first: bool = False) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the database thread is closed")
            self._jobs.put(
                (_FIRST if first else _IN_TURN, next(self._order), partial(fn, *args), future)
            )
        return future

    async def run(self, fn: Callable[..., T], *args: Any, first: bool = False) -> T:
        """``fn(*args)`` on the thread; ``first``: before the calls already waiting."""
        return await asyncio.wrap_future(self.submit(fn, *args, first=first))

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """The same, from a thread without an event loop (start-up, tests): waits."""
        return self.submit(fn, *args).result()

    def close(self) -> None:
        """Run what is waiting, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._jobs.put((_STOP, next(self._order), None, None))
        if threading.current_thread() is not self._thread:
            self._thread.join()
