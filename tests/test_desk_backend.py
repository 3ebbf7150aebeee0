"""The desk's way to the database: one thread, and a locked database tried again."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from casework import signin
from desk.backend import Backend, Busy


@pytest.fixture
def backend():
    made = Backend.open(":memory:")
    yield made
    made.close()


async def test_every_store_call_runs_on_the_one_database_thread(backend):
    names = {await backend.run(lambda store: threading.current_thread().name) for _ in range(5)}
    assert len(names) == 1 and next(iter(names)).startswith("caseflow-db")


async def test_a_locked_database_is_tried_again_and_then_reported_busy(backend):
    tries = []

    def flaky(store, fail_times):
        tries.append(1)
        if len(tries) <= fail_times:
            raise sqlite3.OperationalError("database is locked")
        return "done"

    assert await backend.run(flaky, 2) == "done"
    tries.clear()
    with pytest.raises(Busy):
        await backend.run(flaky, 99)
    assert len(tries) == 4


async def test_other_errors_are_not_tried_again(backend):
    tries = []

    def broken(store):
        tries.append(1)
        raise sqlite3.OperationalError("no such table: nope")

    with pytest.raises(sqlite3.OperationalError):
        await backend.run(broken)
    assert len(tries) == 1


def test_a_busy_database_shows_a_page_that_says_nothing_was_changed(desk, monkeypatch):
    browser = desk.signed_in(desk.team.worker)
    real = desk.backend.run

    async def busy_pages(fn, *args):
        if fn is signin.resume:
            return await real(fn, *args)
        raise Busy()

    monkeypatch.setattr(desk.backend, "run", busy_pages)
    response = browser.get("/caseload")
    assert response.status_code == 503
    assert "Nothing was changed" in response.text

    async def busy(*args):
        raise Busy()

    monkeypatch.setattr(desk.backend, "run", busy)
    response = browser.get("/caseload")
    assert response.status_code == 503
    assert "nothing was changed" in response.text


async def test_pages_read_on_a_read_only_connection_and_their_audit_rows_are_written(desk):
    backend = desk.backend

    def read_and_try_to_write(store):
        store.audit(desk.team.worker, "desk.test.view", "case", 1, 1)
        assert threading.current_thread().name.startswith("caseflow-db-read")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.db.execute("UPDATE people SET lang = 'zh'")
        return store.case_by_code("LBC-07").code

    assert await backend.read(read_and_try_to_write) == "LBC-07"
    assert [r["actor_id"] for r in desk.audit("desk.test.view")] == [desk.team.worker]


async def test_a_refusal_in_a_read_is_still_audited(desk):
    from casework.cases import case_for
    from casework.errors import NotFound

    with pytest.raises(NotFound):
        await desk.backend.read(case_for, desk.team.worker, "EL-02", "case.view")
    refused = desk.audit("access.refused")
    assert [(r["actor_id"], r["case_id"]) for r in refused][-1] == (
        desk.team.worker,
        desk.team.other_case.id,
    )
