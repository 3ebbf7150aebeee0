"""One thread owns the database connection: every store call of a process runs there.

A ``sqlite3`` connection belongs to the thread that made it, and one owner of write
transactions per process means a transaction is never interleaved with another one of the
same process. The bot and the desk each run their store calls through a ``DatabaseThread``;
``caseflow run`` gives both the same one.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["DatabaseThread", "is_locked"]


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
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args))

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """The same, from a thread without an event loop (start-up, tests): waits."""
        return self._executor.submit(fn, *args).result()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
