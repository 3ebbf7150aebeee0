"""The security review's findings (issue 10), each pinned by a test that failed before the
access policy and passes now. Findings 5 (file modes) and 6 (failed updates) are pinned in
test_private_files.py and test_update_reliability.py; 7 (sandbox budgets) in
test_sandbox_budgets.py."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot import cli as cli_module
from bot.scheduler import CheckinScheduler
from bot.telegram_service import SendDocument, SendVoice, TelegramService
from casework.interviews import Interviews
from flows.load import find_flow
from flows.recurrence import Recurrence
from flows.registry import FlowRegistry
from storage.schedules import Schedules
from storage.store import Store
from tests.conftest import run_as
from tests.test_policy import World
from tests.test_telegram_service import CLOCK, Phone, invite_token, texts


@pytest.fixture
def world(tmp_path):
    world = World(str(tmp_path / "review.db"))
    yield world
    world.store.close()


@pytest.fixture
def service(world):
    service = TelegramService(
        world.store,
        Interviews(world.store, FlowRegistry()),
        "caseflow_test_bot",
        render_record=lambda session_id, lang: ("record.html", b"<html></html>"),
        scheduler=CheckinScheduler(world.store),
        clock=lambda: CLOCK,
    )
    service.outbox_sent = []
    return service


def phone(world, service, relation):
    return Phone(service, 11 + list(world.ids).index(relation), relation.title())


def schedules_of(world):
    return [(s.person_id, s.flow_id) for s in Schedules(world.store).all(world.case.id)]


# -- 1. a caregiver creating schedules with hand-made /schedule buttons -------------------------


def test_a_caregiver_pressing_a_forged_schedule_button_creates_nothing(world, service):
    before = schedules_of(world)
    grandma = phone(world, service, "caregiver")
    me = world.ids["caregiver"]
    for flow in ("intake_assessment", "elder_checkin"):
        outs = grandma.tap_data(f"G:{world.case.id}:4:{flow}.{me}.d.0800.1")
        assert texts(outs)[-1] == "That button no longer works."
    assert schedules_of(world) == before
    refusals = [r for r in world.store.audit_rows() if r["action"] == "access.refused"]
    assert any(json.loads(r["detail"]).get("refused") == "schedule.create" for r in refusals)


@pytest.mark.parametrize(
    "flow", ["intake_assessment", "no_such_flow", "/etc/x", "..", "Child_Checkin"]
)
def test_a_worker_cannot_schedule_a_flow_that_is_unknown_or_not_the_members(world, service, flow):
    before = schedules_of(world)
    worker = phone(world, service, "worker")
    member = world.ids["client"]
    outs = worker.tap_data(f"G:{world.case.id}:4:{flow}.{member}.d.0800.1")
    assert texts(outs)[-1] == "That button no longer works."
    assert schedules_of(world) == before


def test_a_flow_id_is_never_a_path(tmp_path):
    (tmp_path / "secret.yaml").write_text("id: secret\n")
    with pytest.raises(FileNotFoundError):
        find_flow(str(tmp_path / "secret"))
    with pytest.raises(FileNotFoundError):
        FlowRegistry().current(str(tmp_path / "secret.yaml"))
    assert not FlowRegistry().known("../bundled/child_checkin")


def test_a_caregiver_is_never_opened_a_workers_interview(world, service):
    grandma = phone(world, service, "caregiver")
    assert world.store.current_session(world.ids["caregiver"], "telegram") is None
    with pytest.raises(Exception, match="A-1"):
        Interviews(world.store, FlowRegistry()).open(
            "intake_assessment", world.case, world.ids["caregiver"], "telegram"
        )
    grandma.say("/interview A-1 intake_assessment")
    assert world.store.current_session(world.ids["caregiver"], "telegram") is None


def test_one_broken_schedule_is_set_aside_and_reported_and_stops_no_other_check_in(world):
    store = world.store
    rule = Recurrence.model_validate(
        {"kind": "daily", "at": "18:00", "tz": "UTC", "window": "24h", "reminders": ["4h"]}
    )
    schedules = Schedules(store)
    # A schedule written before flow ids were checked, for a flow that is not installed.
    broken = schedules.create(
        world.case.id, world.ids["client"], "gone_flow", rule, world.ids["worker"], CLOCK
    )
    store.set_chat(world.ids["client"], 14)
    scheduler = CheckinScheduler(store, schedules)
    due = CLOCK.replace(hour=18, minute=1)
    actions = scheduler.tick(due)
    sent = [(a.kind, a.schedule_id) for a in actions]
    assert ("invite", world.schedule.id) in sent  # the healthy schedule still goes out
    reports = [a.send.text for a in actions if a.schedule_id is None]
    assert any(f"no. {broken.id} (gone_flow)" in text for text in reports)
    assert schedules.get(broken.id).state == "paused"
    assert scheduler.tick(due + timedelta(minutes=1)) == []  # reported once


# -- 2. a caregiver replaying a worker's voice notes -------------------------------------------


def test_a_caregiver_pressing_a_forged_voice_button_hears_nothing(world, service):
    data = f"V:{world.number}:{world.voice_index}:0"
    outs = phone(world, service, "caregiver").tap_data(data)
    assert not any(isinstance(o, SendVoice) for o in outs)
    assert texts(outs)[-1] == "That button no longer works."
    outs = phone(world, service, "supervisor").tap_data(data)
    assert [o.file_id for o in outs if isinstance(o, SendVoice)] == ["voice-file-1"]


# -- 3. a worker who opens a caregiver invite of another worker's case ---------------------------


def test_a_worker_joining_by_a_caregiver_invite_gets_a_caregivers_rights_only(world, service):
    token = invite_token(phone(world, service, "worker").say("/invite A-1"))
    other = phone(world, service, "other_worker")
    assert "connected to case A-1" in texts(other.say(f"/start {token}"))[0]
    assert world.store.case_relations(world.case.id, world.ids["other_worker"]) == {"caregiver"}
    outs = other.say(f"/record {world.number}")
    assert not any(isinstance(o, SendDocument) for o in outs)
    assert "can't find case" in texts(other.say("/invite A-1"))[0]
    assert "A-1" not in " ".join(texts(other.say("/cases")))
    outs = other.tap_data(f"V:{world.number}:{world.voice_index}:0")
    assert not any(isinstance(o, SendVoice) for o in outs)


# -- 4. the command line trusting any name -------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["compliance", "A-1", "--as", "worker"],
        ["sign", "0000", "--worker", "1"],
        ["render", "case", "A-1", "--as", "worker"],
    ],
)
def test_the_command_line_takes_no_name_to_act_as(world, argv, capsys):
    with pytest.raises(SystemExit) as raised:
        cli_module.main([*argv, "--db", world.db])
    assert raised.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_sign_signs_as_the_caller_and_the_audit_names_the_os_account(world, capsys):
    world.store.close()
    assert run_as("supervisor", cli_module.main, ["sign", world.session_id, "--db", world.db]) == 0
    store = world.store = Store.open(world.db)
    assert store.session_info(world.session_id).status == "completed"
    row = store._one("SELECT signed_by FROM sessions WHERE id = ?", (world.session_id,))
    assert row["signed_by"] == world.ids["supervisor"]
    (audit,) = [r for r in store.audit_rows() if r["action"] == "session.sign"]
    assert audit["actor_id"] == world.ids["supervisor"]
    assert json.loads(audit["detail"]) == {"channel": "terminal", "os_user": "supervisor"}


def test_naming_an_unknown_account_creates_nobody(world, capsys):
    people = world.store.db.execute("SELECT COUNT(*) FROM people").fetchone()[0]
    world.store.close()
    assert run_as("newcomer", cli_module.main, ["schedule", "list", "--db", world.db]) == 3
    world.store = Store.open(world.db)
    assert world.store.db.execute("SELECT COUNT(*) FROM people").fetchone()[0] == people


def test_workers_add_links_an_os_account_and_link_changes_it(tmp_path, capsys):
    db = str(tmp_path / "w.db")
    assert (
        cli_module.main(["workers", "add", "900", "--name", "Li", "--login", "li", "--db", db]) == 0
    )
    assert (
        cli_module.main(["workers", "add", "901", "--name", "Ma", "--login", "li", "--db", db]) == 2
    )
    assert cli_module.main(["workers", "add", "901", "--name", "Ma", "--db", db]) == 0
    assert cli_module.main(["workers", "link", "901", "--login", "ma", "--db", db]) == 0
    store = Store.open(db)
    assert store.person_by_login("ma")["name"] == "Ma"
    assert store.person_by_login("li")["name"] == "Li"
    store.close()


# -- 8. unbounded growth from strangers -----------------------------------------------------------


def test_a_strangers_flood_leaves_one_audit_row(world, service):
    stranger = Phone(service, 999_999, "Flood")
    for i in range(300):
        stranger.say(f"hello {i}")
    rows = [r for r in world.store.audit_rows() if r["action"] == "access.refused"]
    assert len(rows) == 1
    assert json.loads(rows[0]["detail"])["count"] == 300


# -- 9. the guided /schedule offers only windows that fit -----------------------------------------


def test_every_day_offers_no_window_longer_than_a_day(world, service):
    worker = phone(world, service, "worker")
    worker.say("/schedule A-1 elder_checkin")
    worker.tap("Client")
    worker.tap("Every day")
    outs = worker.tap("18:00")
    labels = [b.text for row in outs[-1].keyboard for b in row]
    assert labels == ["12 h; remind after 4 h", "24 h; remind after 4 h"]
    member = world.ids["client"]
    outs = worker.tap_data(f"G:{world.case.id}:4:elder_checkin.{member}.d.1800.0")  # 48 h
    assert texts(outs)[-1] == "That button no longer works."
    outs = worker.tap("24 h")
    assert texts(outs)[-1].startswith("Scheduled (no. ")


# -- 7. an organisation's template that would run for ever affects that record only -------------


def test_a_template_over_its_budget_makes_that_record_unavailable_not_the_bot(
    world, tmp_path, monkeypatch
):
    from templates import telegram_hooks

    org = tmp_path / "org"
    org.mkdir()
    (org / "session.html.j2").write_text(
        "{% set xs = [0] * 10000 %}{% for a in xs %}{% for b in xs %}{% for c in xs %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    )
    monkeypatch.setenv("CASEFLOW_TEMPLATES", str(org))
    render, _ = telegram_hooks(world.store)
    service = TelegramService(
        world.store,
        Interviews(world.store, FlowRegistry()),
        "caseflow_test_bot",
        render_record=render,
        clock=lambda: CLOCK,
    )
    worker = phone(world, service, "worker")
    assert texts(worker.say(f"/record {world.number}")) == [
        "Records can't be rendered in this installation."
    ]
    assert texts(worker.say("/cases"))[0].startswith("Your cases:")
