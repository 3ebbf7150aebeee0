"""The desk's way to the database: every store call on the one database thread.

Handlers never touch the store themselves: they hand a function of the store to
``Backend.run``, which runs it on the database thread (shared with the bot in ``caseflow
run``) and retries it a few times when another process holds the write lock for longer than
the busy timeout, so a worker clicking during a burst of bot traffic is not told off for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from storage.store import Store
from storage.thread import DatabaseThread, is_locked

T = TypeVar("T")

TRIES = 4

__all__ = ["Backend", "Busy"]


class Busy(Exception):
    """The database stayed locked by another process; nothing was changed."""


class Backend:
    """A store and the thread that owns it."""

    def __init__(
        self, store: Store, db: DatabaseThread, *, path: str | Path, owned: bool = False
    ) -> None:
        self.store = store
        self.db = db
        self.path = str(path)
        self._owned = owned

    @classmethod
    def open(cls, path: str | Path) -> Backend:
        """A new database thread with the store at ``path`` opened on it."""
        db = DatabaseThread()
        store = db.call(Store.open, path)
        return cls(store, db, path=path, owned=True)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(store, *args)`` on the database thread."""
        for attempt in range(TRIES):
            try:
                return await self.db.run(fn, self.store, *args)
            except Exception as exc:
                if not is_locked(exc):
                    raise
                if attempt == TRIES - 1:
                    raise Busy() from exc
                await asyncio.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the store and the thread, when this backend made them."""
        if self._owned:
            self.db.call(self.store.close)
            self.db.close()
