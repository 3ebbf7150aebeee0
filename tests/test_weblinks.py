"""Members' web links as application actions: made, replaced, revoked, resolved; which
check-ins they open; the text a worker forwards; ``caseflow link``."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from unittest.mock import patch

import pytest

from casework import schedules as schedule_actions
from casework import weblinks
from casework.errors import Invalid, NotAllowed, NotFound
from casework.interviews import Interviews
from flows.engine import Reply
from flows.recurrence import Recurrence
from flows.registry import FlowRegistry
from storage.schedules import Schedules
from storage.store import Store
from tests.conftest import script_for

REGISTRY = FlowRegistry()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Every Monday 18:00 in Shanghai (10:00 UTC), 48 hours to answer, a reminder after 4 hours.
WEEKLY = Recurrence.model_validate(
    {
        "kind": "weekly",
        "weekdays": "mon",
        "at": "18:00",
        "tz": "Asia/Shanghai",
        "window": "48h",
        "reminders": "4h",
        "quiet_hours": {"start": "21:00", "end": "08:00"},
    }
)
CREATED = utc(2026, 3, 10)
DUE = utc(2026, 3, 16, 10)  # Mon 18:00 Shanghai
CLOSE = utc(2026, 3, 18, 10)  # Wed 18:00


class World:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.worker = store.add_person("王芳", "worker", lang="zh")
        self.case = store.create_case("LBC-07", self.worker, facts={"child_name": "小明"})
        self.granny = weblinks.add_member(
            store, self.worker, self.case, "李奶奶", "caregiver", "zh"
        )
        self.interviews = Interviews(store, REGISTRY)

    def schedule(self, flow: str = "child_checkin", rule: Recurrence = WEEKLY) -> int:
        made = schedule_actions.create(
            self.store,
            REGISTRY,
            self.worker,
            self.case.id,
            self.granny.person_id,
            flow,
            rule,
            CREATED,
        )
        return made.id

    def due(self, now: datetime) -> list[weblinks.Due]:
        return weblinks.due_checkins(
            self.store, REGISTRY, self.granny.person_id, self.case, now, "zh"
        )


@pytest.fixture
def world(store):
    return World(store)


# -- links ------------------------------------------------------------------------------------


def test_a_link_is_long_and_only_its_hash_is_stored(world, store):
    issued = weblinks.create(store, world.worker, world.case, world.granny.person_id, CREATED)
    assert len(issued.token) == 43 and issued.path == f"/r/{issued.token}"
    assert issued.url("https://desk.example/") == f"https://desk.example/r/{issued.token}"
    dump = "\n".join(store.db.conn.iterdump())
    assert issued.token not in dump
    assert weblinks.token_hash(issued.token) in dump


def test_a_link_lets_in_its_member_on_its_case(world, store):
    issued = weblinks.create(store, world.worker, world.case, world.granny.person_id, CREATED)
    visitor = weblinks.resolve(store, issued.token)
    assert (visitor.person_id, visitor.case.id, visitor.name, visitor.lang) == (
        world.granny.person_id,
        world.case.id,
        "李奶奶",
        "zh",
    )


def test_a_second_link_for_the_same_member_is_refused_until_replaced(world, store):
    weblinks.create(store, world.worker, world.case, world.granny.person_id, CREATED)
    with pytest.raises(Invalid, match="already has a link on case LBC-07: replace it"):
        weblinks.create(store, world.worker, world.case, world.granny.person_id, CREATED)


def test_replacing_a_link_stops_the_old_one_at_once(world, store):
    old = weblinks.create(store, world.worker, world.case, world.granny.person_id, CREATED)
    new = weblinks.replace(store, world.worker, world.case, world.granny.person_id, CREATED)
    assert weblinks.resolve(store, new.token).person_id == world.granny.person_id
    with pytest.raises(NotFound):
        weblinks.resolve(store, old.token)
    (state,) = weblinks.link_states(store, world.worker, world.case)
    assert state.link is not None and state.link.id == new.link.id
    actions = [r["action"] for r in store.audit_rows(world.case.id)]
    assert "weblink.replace" in actions


def test_a_revoked_link_no_longer_resolves_and_the_refusal_is_audited_without_the_token(
    world, store
):
    issued = weblinks.create(store, world.worker, world.case, world.granny.person_id, CREATED)
    assert weblinks.revoke(store, world.worker, world.case, world.granny.person_id, CREATED)
    assert not weblinks.revoke(store, world.worker, world.case, world.granny.person_id, CREATED)
    with pytest.raises(NotFound):
        weblinks.resolve(store, issued.token)
    refusal = store.audit_rows()[-1]
    assert refusal["action"] == "access.refused"
    assert refusal["entity"] == "weblink" and refusal["entity_id"] == str(issued.link.id)
    assert issued.token not in json.dumps(store.audit_rows())


@pytest.mark.parametrize(
    "token",
    ["", "x", "a" * 43, "a" * 44, "../../etc/passwd", "%00" * 15, "é" * 43, "a" * 10_000],
)
def test_a_token_that_names_no_link_is_not_found(world, store, token):
    with pytest.raises(NotFound):
        weblinks.resolve(store, token)


def test_unknown_tokens_leave_one_audit_row_an_hour_however_many(world, store):
    for n in range(50):
        with pytest.raises(NotFound):
            weblinks.resolve(store, f"{n:043d}")
    refusals = [r for r in store.audit_rows() if r["action"] == "access.refused"]
    assert len(refusals) == 1
    assert json.loads(refusals[0]["detail"])["count"] == 50


def test_a_link_of_a_closed_case_no_longer_works(world, store):
    issued = weblinks.create(store, world.worker, world.case, world.granny.person_id, CREATED)
    store.db.execute("UPDATE cases SET status = 'closed' WHERE id = ?", (world.case.id,))
    with pytest.raises(NotFound):
        weblinks.resolve(store, issued.token)


def test_a_link_stops_when_its_person_is_no_longer_a_member(world, store):
    issued = weblinks.create(store, world.worker, world.case, world.granny.person_id, CREATED)
    store.db.execute("DELETE FROM case_members WHERE person_id = ?", (world.granny.person_id,))
    with pytest.raises(NotFound):
        weblinks.resolve(store, issued.token)


def test_only_a_worker_on_the_case_makes_links(world, store):
    other = store.add_person("Other Worker", "worker")
    supervisor = store.add_person("Chen Li", "supervisor")
    store.set_supervisor(world.worker, supervisor)
    for person in (other, supervisor, world.granny.person_id):
        with pytest.raises(NotAllowed):
            weblinks.create(store, person, world.case, world.granny.person_id, CREATED)
    assert store.audit_rows()[-1]["action"] == "access.refused"


def test_links_are_for_caregivers_and_clients_only(world, store):
    with pytest.raises(Invalid, match="not a caregiver or client"):
        weblinks.create(store, world.worker, world.case, world.worker, CREATED)


def test_a_member_without_telegram_is_added_with_their_language(world, store):
    member = weblinks.add_member(store, world.worker, world.case, " 张  爷爷 ", "client", "zh")
    assert (member.name, member.role, member.lang, member.on_telegram) == (
        "张 爷爷",
        "client",
        "zh",
        False,
    )
    with pytest.raises(Invalid, match="already has a member called"):
        weblinks.add_member(store, world.worker, world.case, "张 爷爷", "client", "zh")
    with pytest.raises(Invalid):
        weblinks.add_member(store, world.worker, world.case, "Someone", "worker", "zh")


def test_a_member_is_found_by_name_or_number_and_an_unknown_name_lists_the_members(world, store):
    assert weblinks.find_member(store, world.case, "李奶奶").person_id == world.granny.person_id
    found = weblinks.find_member(store, world.case, f"#{world.granny.person_id}")
    assert found.name == "李奶奶"
    with pytest.raises(Invalid, match=r"members: 李奶奶 \(#\d+, caregiver\)"):
        weblinks.find_member(store, world.case, "Nobody")


# -- which check-ins a link opens ---------------------------------------------------------------


def test_a_check_in_is_open_from_its_due_instant_until_its_window_closes(world):
    world.schedule()
    assert world.due(DUE - timedelta(minutes=1)) == []
    (due,) = world.due(DUE)
    assert (due.due_at, due.close_at, due.title) == (DUE, CLOSE, "孩子每周情况小调查")
    assert due.close_text == "3月18日 18:00"
    assert world.due(CLOSE - timedelta(minutes=1))[0].due_at == DUE
    assert world.due(CLOSE) == []


def test_a_check_in_due_in_quiet_hours_is_open_on_the_web_from_its_due_instant(world):
    at_22 = WEEKLY.model_copy(update={"at": datetime(2026, 1, 1, 22, 0).time()})
    world.schedule(rule=at_22)
    due_22 = utc(2026, 3, 16, 14)  # Mon 22:00 Shanghai: nothing is sent before 08:00
    assert [d.due_at for d in world.due(due_22 + timedelta(minutes=5))] == [due_22]


def test_a_completed_check_in_is_no_longer_offered_even_before_the_scheduler_records_it(
    world, store
):
    world.schedule()
    opened = world.interviews.open(
        "child_checkin", world.case, world.granny.person_id, "web", lang="zh"
    )
    for line in script_for(opened.engine, "zh"):
        world.interviews.reply(opened.session.id, world.granny.person_id, Reply(text=line))
    store.db.execute(
        "UPDATE sessions SET completed_at = ? WHERE id = ?",
        ((DUE + timedelta(hours=1)).isoformat(), opened.session.id),
    )
    assert world.due(DUE + timedelta(hours=2)) == []


def test_a_paused_schedule_offers_only_a_check_in_taken_up_before_the_pause(world, store):
    schedule_id = world.schedule()
    schedules = Schedules(store)
    schedules.record(schedule_id, DUE, "due", DUE)
    schedules.pause(schedule_id, world.worker, DUE + timedelta(hours=1))
    assert [d.due_at for d in world.due(DUE + timedelta(hours=2))] == [DUE]
    next_week = DUE + timedelta(weeks=1)
    assert world.due(next_week + timedelta(hours=1)) == []


def test_a_removed_schedule_offers_nothing(world, store):
    schedule_id = world.schedule()
    Schedules(store).remove(schedule_id, world.worker, DUE - timedelta(hours=1))
    assert world.due(DUE + timedelta(hours=1)) == []


def test_another_members_check_ins_are_not_offered(world, store):
    uncle = weblinks.add_member(store, world.worker, world.case, "Uncle", "caregiver", "en")
    schedule_actions.create(
        store,
        REGISTRY,
        world.worker,
        world.case.id,
        uncle.person_id,
        "child_checkin",
        WEEKLY,
        CREATED,
    )
    assert world.due(DUE + timedelta(hours=1)) == []


def test_opening_a_due_check_in_links_its_session_so_it_completes_it(world, store):
    schedule_id = world.schedule()
    issued = weblinks.create(store, world.worker, world.case, world.granny.person_id, CREATED)
    visitor = weblinks.resolve(store, issued.token)
    now = DUE + timedelta(hours=1)
    opened = weblinks.open_due(world.interviews, visitor, schedule_id, DUE, now)
    kinds = [e["kind"] for e in Schedules(store).events(schedule_id, DUE)]
    assert kinds == ["due", "started"]
    assert store.session_info(opened.session.id).channel == "web"
    assert world.due(now)[0].session_id == opened.session.id
    with pytest.raises(NotFound):
        weblinks.open_due(world.interviews, visitor, schedule_id, DUE + timedelta(weeks=1), now)


# -- what the worker forwards ----------------------------------------------------------------


def test_the_invitation_names_the_check_in_and_its_close_in_the_members_language(world, store):
    world.schedule()
    issued = weblinks.create(store, world.worker, world.case, world.granny.person_id, CREATED)
    url = issued.url("https://desk.example")
    now = DUE + timedelta(minutes=5)
    text = weblinks.invitation_text(
        store, REGISTRY, world.worker, world.case, world.granny.person_id, now, url=url
    )
    assert text == (
        "李奶奶，您好！现在可以填写“孩子每周情况小调查”了，只要几分钟，3月18日 18:00 前填好就行。"
        f"请点开这个链接填写：\n{url}"
    )
    later = weblinks.invitation_text(
        store, REGISTRY, world.worker, world.case, world.granny.person_id, now
    )
    assert later.endswith("请点开我之前发给您的链接填写。")


def test_the_invitation_with_nothing_due_gives_the_link_for_later(world, store):
    issued = weblinks.create(store, world.worker, world.case, world.granny.person_id, CREATED)
    url = issued.url("https://desk.example")
    text = weblinks.invitation_text(
        store, REGISTRY, world.worker, world.case, world.granny.person_id, CREATED, url=url
    )
    assert text.startswith("李奶奶，您好！这是您专用的填写链接") and text.endswith(url)


# -- the command line --------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path, monkeypatch):
    from bot import cli_weblinks

    path = tmp_path / "c.db"
    store = Store.open(path)
    ana = store.add_person("ana", "worker", local_user="ana")
    case = store.create_case("LBC-07", ana)
    granny = store.add_person("Grandma Li", "caregiver", lang="en")
    store.add_member(case.id, granny, "caregiver", ana)
    store.close()
    monkeypatch.setattr(cli_weblinks, "clock", lambda: CREATED)
    monkeypatch.delenv("CASEFLOW_DESK_URL", raising=False)
    parser = argparse.ArgumentParser(prog="caseflow")
    cli_weblinks.register(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str, who: str = "ana") -> int:
        args = parser.parse_args([*argv, "--db", str(path)])
        with patch("casework.identity.os_login", return_value=who):
            return int(args.func(args))

    run.path = path  # type: ignore[attr-defined]
    return run


def _link(out: str) -> str:
    return next(line for line in out.splitlines() if "/r/" in line and " " not in line)


def test_link_prints_the_link_once_with_the_text_to_forward(cli, capsys):
    assert cli("link", "LBC-07", "--member", "grandma li") == 0
    out = capsys.readouterr().out
    url = _link(out)
    assert url.startswith("http://127.0.0.1:8080/r/")
    assert "Hello Grandma Li. This is your own link for the check-ins" in out
    store = Store.open(cli.path)
    try:
        assert weblinks.resolve(store, url.rsplit("/", 1)[1]).name == "Grandma Li"
    finally:
        store.close()


def test_link_twice_says_to_replace_and_replace_stops_the_old_link(cli, capsys):
    cli("link", "LBC-07", "--member", "Grandma Li", "--base-url", "https://desk.example")
    first = _link(capsys.readouterr().out)
    assert cli("link", "LBC-07", "--member", "Grandma Li") == 2
    assert capsys.readouterr().err == (
        "caseflow: Grandma Li already has a link on case LBC-07; a link is shown only when it"
        " is made: add --replace for a new one (the old one stops working).\n"
    )
    assert cli("link", "LBC-07", "--member", "Grandma Li", "--replace") == 0
    second = _link(capsys.readouterr().out)
    assert first != second
    assert cli("link", "LBC-07", "--member", "Grandma Li", "--revoke") == 0
    assert "no longer works" in capsys.readouterr().out
    store = Store.open(cli.path)
    try:
        for url in (first, second):
            with pytest.raises(NotFound):
                weblinks.resolve(store, url.rsplit("/", 1)[1])
    finally:
        store.close()


def test_link_adds_a_member_without_telegram(cli, capsys):
    assert cli("link", "LBC-07", "--member", "王爷爷", "--add", "client", "--lang", "zh") == 0
    out = capsys.readouterr().out
    assert "王爷爷 (#" in out and "is now a client on LBC-07" in out
    assert "王爷爷，您好！这是您专用的填写链接" in out


def test_link_refuses_someone_not_a_worker_on_the_case(cli, capsys):
    store = Store.open(cli.path)
    store.add_person("bob", "worker", local_user="bob")
    store.close()
    assert cli("link", "LBC-07", "--member", "Grandma Li", who="bob") == 3
    assert "/r/" not in capsys.readouterr().out


def test_link_for_an_unknown_member_lists_the_members(cli, capsys):
    assert cli("link", "LBC-07", "--member", "Nobody") == 2
    assert "members: Grandma Li (#" in capsys.readouterr().err
