"""One thread owns the database connection; request handlers hand it functions to run.

SQLite connections belong to the thread that made them, so the store is opened on that
thread, and every route awaits ``runner(fn)`` where ``fn(store)`` runs there, one at a
time: one writer per process, as in the bot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from storage.store import Store

T = TypeVar("T")


class StoreThread:
    """``await runner(fn)`` runs ``fn(store)`` on the thread that owns the store."""

    def __init__(self, open_store: Callable[[], Store]) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="caseflow-desk-db")
        self.store: Store = self._executor.submit(open_store).result()

    async def __call__(self, fn: Callable[[Store], T], /) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, self.store))

    def run_sync(self, fn: Callable[[Store], T], /) -> T:
        """The same from a thread that is not running an event loop (setup in tests, CLI)."""
        return self._executor.submit(fn, self.store).result()

    def close(self) -> None:
        self._executor.submit(self.store.close).result()
        self._executor.shutdown(wait=True)


__all__ = ["StoreThread"]
