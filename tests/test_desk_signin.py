"""Sign-in links from the bot and from the command line, and the first worker of a fresh
install."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.cli import main as cli
from bot.telegram_service import Incoming, Send, TelegramService
from casework import signin
from casework.errors import Invalid, NotFound
from casework.interviews import Interviews
from flows.registry import FlowRegistry
from storage.store import Store
from tests.conftest import run_as

NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def test_a_link_signs_in_once_within_fifteen_minutes(store):
    worker = store.add_person("Wang Fang", "worker", telegram_user_id=1)
    token = signin.issue_link(store, worker, NOW, created_by=None, via="test")
    session = signin.redeem_link(store, token, NOW + timedelta(minutes=14))
    assert session.actor.person_id == worker and session.actor.channel == "desk"
    with pytest.raises(NotFound):
        signin.redeem_link(store, token, NOW + timedelta(minutes=14))
    late = signin.issue_link(store, worker, NOW, created_by=None, via="test")
    with pytest.raises(NotFound):
        signin.redeem_link(store, late, NOW + timedelta(minutes=15, seconds=1))
    with pytest.raises(NotFound):
        signin.redeem_link(store, "not-a-token-at-all", NOW)


def test_only_workers_and_supervisors_get_links(store):
    grandma = store.add_person("Li Guilan", "caregiver", telegram_user_id=5)
    with pytest.raises(Invalid):
        signin.issue_link(store, grandma, NOW, created_by=None, via="test")


def test_a_desk_session_ends_when_idle_and_on_sign_out(store):
    worker = store.add_person("Wang Fang", "worker")
    token = signin.issue_link(store, worker, NOW, created_by=None, via="test")
    session = signin.redeem_link(store, token, NOW)
    later = NOW + timedelta(minutes=29)
    assert signin.resume(store, session.token, later) is not None
    assert signin.resume(store, session.token, later + timedelta(minutes=29)) is not None
    assert signin.resume(store, session.token, later + timedelta(minutes=60)) is None
    again = signin.redeem_link(
        store, signin.issue_link(store, worker, NOW, created_by=None, via="test"), NOW
    )
    signin.sign_out(store, again.token, NOW)
    assert signin.resume(store, again.token, NOW) is None


def test_a_worker_found_by_telegram_id_or_login(store):
    worker = store.add_person("Wang Fang", "worker", telegram_user_id=1001, local_user="wang")
    assert signin.worker_by_key(store, "1001")["id"] == worker
    assert signin.worker_by_key(store, "wang")["id"] == worker
    with pytest.raises(NotFound):
        signin.worker_by_key(store, "nobody")


def test_an_empty_database_registers_the_os_account_as_the_first_worker(store):
    found = signin.first_worker(store, "alice")
    assert found is not None and found.created and found.name == "alice"
    person = store.person(found.person_id)
    assert (person["role"], person["local_user"]) == ("worker", "alice")
    assert [r["action"] for r in store.audit_rows()].count("desk.first_worker") == 1
    again = signin.first_worker(store, "alice")
    assert again is not None and not again.created and again.person_id == found.person_id
    # With workers registered, another account is not registered by itself.
    assert signin.first_worker(store, "mallory") is None
    assert store.person_by_login("mallory") is None


def desk_service(store: Store, desk_url: str | None) -> TelegramService:
    return TelegramService(
        store,
        Interviews(store, FlowRegistry()),
        "caseflow_test_bot",
        clock=lambda: NOW,
        desk_url=desk_url,
    )


def say(service: TelegramService, user_id: int, text: str) -> str:
    event = Incoming(
        update_id=hash((user_id, text)) % 10**9, user_id=user_id, chat_id=user_id, text=text
    )
    outs = service.handle(event).outs
    return "\n".join(o.text for o in outs if isinstance(o, Send))


def test_desk_in_telegram_gives_a_worker_a_one_time_link(store):
    worker = store.add_person("Wang Fang", "worker", telegram_user_id=1001)
    service = desk_service(store, "https://desk.example.org/")
    reply = say(service, 1001, "/desk")
    (token,) = re.findall(r"https://desk\.example\.org/signin/([A-Za-z0-9_-]{40,})", reply)
    assert "15 minutes" in reply
    assert signin.redeem_link(store, token, NOW).actor.person_id == worker
    rows = [r for r in store.audit_rows() if r["action"] == "desk.link.create"]
    assert rows[-1]["actor_id"] == worker and '"via":"telegram"' in rows[-1]["detail"]


def test_desk_in_telegram_refuses_a_caregiver_and_says_when_it_is_not_set_up(store):
    store.add_person("Li Guilan", "caregiver", telegram_user_id=5005)
    store.add_person("Wang Fang", "worker", telegram_user_id=1001)
    assert "signin" not in say(desk_service(store, "https://desk.example.org"), 5005, "/desk")
    assert "CASEFLOW_DESK_URL" in say(desk_service(store, None), 1001, "/desk")


def test_caseflow_desk_link_prints_a_link_for_a_worker(tmp_path, capsys):
    db = str(tmp_path / "c.db")
    store = Store.open(db)
    worker = store.add_person("Wang Fang", "worker", telegram_user_id=1001)
    store.close()
    code = run_as("admin", cli, ["desk", "link", "1001", "--db", db, "--url", "https://d.example"])
    out = capsys.readouterr().out
    assert code == 0
    (token,) = re.findall(r"https://d\.example/signin/(\S+)", out)
    store = Store.open(db)
    try:
        assert signin.redeem_link(store, token, datetime.now(UTC)).actor.person_id == worker
    finally:
        store.close()
    assert run_as("admin", cli, ["desk", "link", "9999", "--db", db]) == 2
    assert "no registered worker" in capsys.readouterr().err
