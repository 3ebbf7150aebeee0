"""The desk's way to the database.

- **Writes** go through ``Backend.run``: every store call that may write runs on the one
  database thread, shared with the bot in ``caseflow run`` (one owner of write transactions
  per process). A call that finds the database locked by another process for longer than the
  busy timeout is tried again a few times, then reported as ``Busy``.
- **Page reads** go through ``Backend.read``: on a second connection, on a thread of its own,
  opened ``query_only`` (SQLite refuses any write on it). In WAL mode a reader never waits
  for the writer, so a caseload being read does not hold up the bot's next answer. The audit
  rows a read asks for (who viewed what; a refusal) are kept and written afterwards on the
  database thread, also when the read ends in a refusal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from storage.store import Store, connect
from storage.thread import DatabaseThread, is_locked

T = TypeVar("T")

TRIES = 4

__all__ = ["Backend", "Busy", "ReadStore"]


class Busy(Exception):
    """The database stayed locked by another process; nothing was changed."""


class ReadStore(Store):
    """A store on a read-only connection: audit rows are kept for the writer to write."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(connect(path))
        self.query_only()
        self.deferred: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def audit(self, *args: Any, **kwargs: Any) -> None:
        self.deferred.append(("audit", args, kwargs))

    def audit_refusal(self, *args: Any, **kwargs: Any) -> None:
        self.deferred.append(("audit_refusal", args, kwargs))


class Backend:
    """A store and the thread that owns it; a read-only store and its thread."""

    def __init__(
        self,
        store: Store,
        db: DatabaseThread,
        *,
        path: str | Path,
        owned: bool = False,
    ) -> None:
        self.store = store
        self.db = db
        self.path = str(path)
        self._owned = owned
        self._reader: DatabaseThread | None = None
        self.reader: Store = store
        if self.path not in ("", ":memory:"):
            self._reader = DatabaseThread("caseflow-db-read")
            self.reader = self._reader.call(ReadStore, self.path)

    @classmethod
    def open(cls, path: str | Path) -> Backend:
        """A new database thread with the store at ``path`` opened on it."""
        db = DatabaseThread()
        store = db.call(Store.open, path)
        return cls(store, db, path=path, owned=True)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(store, *args)`` on the database thread (for anything that writes), ahead of
        the bot's updates waiting there: a person at the desk is waiting for this one."""
        for attempt in range(TRIES):
            try:
                return await self.db.run(fn, self.store, *args, first=True)
            except Exception as exc:
                if not is_locked(exc):
                    raise
                if attempt == TRIES - 1:
                    raise Busy() from exc
                await asyncio.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(store, *args)`` on the read-only connection; the audit rows it asked for
        are written on the database thread before this returns (or raises)."""
        if self._reader is None:
            return await self.run(fn, *args)
        reader = self.reader
        assert isinstance(reader, ReadStore)

        def call() -> tuple[T | None, BaseException | None, list[Any]]:
            try:
                result, error = fn(reader, *args), None
            except Exception as exc:
                result, error = None, exc
            deferred, reader.deferred = reader.deferred, []
            return result, error, deferred

        result, error, deferred = await self._reader.run(call)
        if deferred:
            await self.run(_write_audit, deferred)
        if error is not None:
            raise error
        return result  # type: ignore[return-value]

    def close(self) -> None:
        """Close the stores and the threads, when this backend made them."""
        if self._reader is not None:
            self._reader.call(self.reader.close)
            self._reader.close()
            self._reader = None
        if self._owned:
            self.db.call(self.store.close)
            self.db.close()


def _write_audit(store: Store, deferred: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> None:
    with store.atomic():
        for method, args, kwargs in deferred:
            getattr(store, method)(*args, **kwargs)
