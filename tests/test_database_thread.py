"""The database thread: one owner of the connection, calls in order, a desk call first."""

from __future__ import annotations

import asyncio
import threading

import pytest

from storage.thread import DatabaseThread


def test_calls_run_on_one_thread_in_the_order_they_came():
    db = DatabaseThread("test-db")
    try:
        seen: list[tuple[int, str]] = []
        futures = [
            db.submit(lambda n=n: seen.append((n, threading.current_thread().name)))
            for n in range(50)
        ]
        for f in futures:
            f.result()
        assert [n for n, _ in seen] == list(range(50))
        assert {name for _, name in seen} == {"test-db"}
    finally:
        db.close()


def test_a_call_marked_first_runs_before_the_calls_already_waiting():
    db = DatabaseThread()
    gate = threading.Event()
    order: list[str] = []
    try:
        db.submit(gate.wait)  # the thread is busy with this one
        queued = [db.submit(order.append, f"bot {n}") for n in range(5)]
        desk = db.submit(order.append, "desk", first=True)
        gate.set()
        desk.result()
        for f in queued:
            f.result()
        assert order == ["desk", "bot 0", "bot 1", "bot 2", "bot 3", "bot 4"]
    finally:
        db.close()


def test_an_error_reaches_the_caller_and_the_thread_goes_on():
    db = DatabaseThread()

    def broken() -> None:
        raise ValueError("no such column")

    async def scenario() -> int:
        with pytest.raises(ValueError, match="no such column"):
            await db.run(broken)
        return await db.run(lambda: 7)

    try:
        assert asyncio.run(scenario()) == 7
    finally:
        db.close()


def test_close_runs_what_was_waiting_and_refuses_more():
    db = DatabaseThread()
    gate = threading.Event()
    done: list[int] = []
    db.submit(gate.wait)
    pending = [db.submit(done.append, n) for n in range(3)]
    closer = threading.Thread(target=db.close)
    closer.start()
    gate.set()
    closer.join(timeout=10)
    assert not closer.is_alive()
    assert done == [0, 1, 2] and all(f.done() for f in pending)
    with pytest.raises(RuntimeError, match="closed"):
        db.submit(done.append, 4)
