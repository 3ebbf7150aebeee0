"""The access policy as a table: every action against every relation to a case, in the
policy itself and through each channel that offers the action.

A new action in ``casework.policy.RULES`` without a row here fails
``test_every_action_has_a_row_in_the_table``; a channel that decides differently from the
policy fails the channel tests.
"""

from __future__ import annotations

import pytest

from bot import cli as cli_module
from bot.scheduler import CheckinScheduler
from bot.telegram_service import SendDocument, SendVoice, TelegramService
from casework import policy
from casework.interviews import Interviews
from flows.engine import Reply, Voice
from flows.recurrence import Recurrence
from flows.registry import FlowRegistry
from storage.schedules import Schedules
from storage.store import Store
from tests.conftest import run_as, valid_answer
from tests.test_telegram_service import CLOCK, Phone, texts

RELATIONS = (
    "worker",  # a worker on the case
    "supervisor",  # the supervisor of a worker on the case
    "caregiver",  # a caregiver on the case
    "client",  # a client on the case
    "other_worker",  # a worker on another case
    "other_caregiver",  # a caregiver on another case
    "stranger",  # nobody we know (registered, with no case, for the policy itself)
)
STAFF = {"worker", "supervisor"}
RESPONDENTS = {"caregiver", "client"}

# What a supervisor would write on paper.
EXPECTED: dict[str, set[str]] = {
    "case.view": STAFF,
    "case.edit": {"worker"},
    "case.close": {"worker"},
    "case.profile.edit": {"worker"},
    "consent.record": {"worker"},
    "plan.edit": {"worker"},
    "member.invite": {"worker"},
    "member.link": {"worker"},
    "interview.run": {"worker"},
    "checkin.answer": RESPONDENTS,
    "note.create": {"worker"} | RESPONDENTS,
    "record.view": STAFF,
    "record.sign": STAFF,
    "record.amend": {"worker"},
    "record.export": STAFF,
    "scores.view": STAFF,
    "voice.replay": STAFF,
    "schedule.view": STAFF,
    "schedule.create": {"worker"},
    "schedule.change": {"worker"},
    "compliance.view": STAFF,
    "flag.view": STAFF,
    "flag.ack": STAFF,
    "followup.view": STAFF,
    "followup.done": STAFF,
}

TELEGRAM_IDS = dict(zip(RELATIONS, range(11, 18), strict=True))


class World:
    """Case A-1 with its worker, their supervisor, a caregiver and a client; case B-1 with
    another worker and caregiver; and a stranger. Everyone but the stranger has a Telegram
    id and an OS account (their relation's name) linked."""

    def __init__(self, db: str) -> None:
        self.db = db
        store = self.store = Store.open(db)
        ids = {}
        roles = {
            "worker": "worker",
            "supervisor": "supervisor",
            "caregiver": "caregiver",
            "client": "client",
            "other_worker": "worker",
            "other_caregiver": "caregiver",
            "stranger": "worker",
        }
        for relation, role in roles.items():
            telegram = None if relation == "stranger" else TELEGRAM_IDS[relation]
            ids[relation] = store.add_person(
                relation.title(), role, telegram_user_id=telegram, local_user=relation
            )
            if telegram is not None:
                store.set_chat(ids[relation], telegram)
        self.ids = ids
        store.set_supervisor(ids["worker"], ids["supervisor"])
        self.case = store.create_case("A-1", ids["worker"], facts={"checkin_flow": "elder_checkin"})
        store.add_member(self.case.id, ids["caregiver"], "caregiver", ids["worker"])
        store.add_member(self.case.id, ids["client"], "client", ids["worker"])
        other = store.create_case("B-1", ids["other_worker"])
        store.add_member(other.id, ids["other_caregiver"], "caregiver", ids["other_worker"])
        self.session_id, self.voice_index = self._record_with_a_voice_answer()
        self.number = store.session_number(self.session_id)
        rule = Recurrence.model_validate(
            {
                "kind": "daily",
                "at": "18:00",
                "tz": "Asia/Shanghai",
                "window": "24h",
                "reminders": ["4h"],
            }
        )
        self.schedule = Schedules(store).create(
            self.case.id, ids["client"], "elder_checkin", rule, ids["worker"], CLOCK
        )

    def _record_with_a_voice_answer(self) -> tuple[str, int]:
        """A completed session record on A-1, one of whose text answers is a voice note."""
        interviews = Interviews(self.store, FlowRegistry())
        worker = self.ids["worker"]
        opened = interviews.open("session_record", self.case, worker, "terminal")
        engine, turn, voice_index = opened.engine, opened.turn, -1
        while turn.status != "completed":
            prompt = turn.prompt
            assert prompt is not None
            if prompt.type == "text" and voice_index < 0:
                voice_index = engine.compiled.by_id[prompt.token].index
                reply = Reply(voice=Voice("voice-file-1", 7))
            else:
                reply = Reply(text=valid_answer(engine, prompt))
            turn = interviews.reply(opened.session.id, worker, reply)
            assert turn.error is None, turn.error
        return opened.session.id, voice_index


@pytest.fixture
def world(tmp_path):
    world = World(str(tmp_path / "policy.db"))
    yield world
    world.store.close()


def test_every_action_has_a_row_in_the_table():
    assert set(EXPECTED) == set(policy.RULES) == set(policy.ACTIONS)


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_the_policy_allows_each_action_exactly_to_the_relations_in_the_table(world, action):
    allowed = {
        relation
        for relation in RELATIONS
        if policy.allowed(world.store, world.ids[relation], action, world.case.id)
    }
    assert allowed == EXPECTED[action]


def test_a_global_role_grants_nothing_on_a_case(world):
    admin = world.store.add_person("Administrator", "admin")
    assert not [a for a in policy.ACTIONS if policy.allowed(world.store, admin, a, world.case.id)]


def test_an_unknown_action_is_never_allowed(world):
    assert not policy.allowed(world.store, world.ids["worker"], "case.delete", world.case.id)


def test_a_refusal_is_audited_once_an_hour_with_the_action_and_the_case(world):
    for _ in range(3):
        with pytest.raises(policy.NotAllowed):
            policy.require(world.store, world.ids["caregiver"], "record.view", world.case.id)
    rows = [r for r in world.store.audit_rows(world.case.id) if r["action"] == "access.refused"]
    assert len(rows) == 1
    assert rows[0]["actor_id"] == world.ids["caregiver"]
    assert '"refused":"record.view"' in rows[0]["detail"]
    assert '"count":3' in rows[0]["detail"]


# -- through Telegram ---------------------------------------------------------------------------

REFUSALS = ("can't find case", "not registered", "only social workers", "no longer works")


def _refused(outs) -> bool:
    return not outs or any(marker in text for text in texts(outs) for marker in REFUSALS)


def _telegram(world: World) -> TelegramService:
    service = TelegramService(
        world.store,
        Interviews(world.store, FlowRegistry()),
        "caseflow_test_bot",
        render_record=lambda session_id, lang: ("record.html", b"<html></html>"),
        chart_scores=lambda case_id, lang: ("scores", None),
        scheduler=CheckinScheduler(world.store),
        clock=lambda: CLOCK,
    )
    service.outbox_sent = []
    return service


def _on_telegram(world: World, service: TelegramService, action: str, relation: str) -> bool:
    phone = Phone(service, TELEGRAM_IDS[relation], relation.title())
    case, number = world.case, world.number
    if action == "case.view":
        return "A-1" in " ".join(texts(phone.say("/cases")))
    if action == "member.invite":
        return "start=" in " ".join(texts(phone.say("/invite A-1")))
    if action == "interview.run":
        return not _refused(phone.say("/interview A-1 session_record"))
    if action == "record.view":
        return any(isinstance(o, SendDocument) for o in phone.say(f"/record {number}"))
    if action == "voice.replay":
        outs = phone.tap_data(f"V:{number}:{world.voice_index}:0")
        return any(isinstance(o, SendVoice) for o in outs)
    if action == "scores.view":
        return not _refused(phone.say("/scores A-1"))
    if action == "compliance.view":
        return "elder_checkin" in " ".join(texts(phone.say("/compliance A-1")))
    if action == "schedule.create":
        asked = "Who answers" in " ".join(texts(phone.say("/schedule A-1 elder_checkin")))
        # The last button of the guided /schedule, made by hand: a claim, checked again.
        member = world.ids["client"]
        forged = phone.tap_data(f"G:{case.id}:4:elder_checkin.{member}.d.0800.1")
        saved = "Scheduled" in " ".join(texts(forged))
        assert asked == saved
        return saved
    if action == "case.profile.edit":
        return "The client's name" in " ".join(texts(phone.say("/profile A-1")))
    if action == "case.close":
        # Allowed by the policy, then refused by the case file's own rule: no closing report.
        return "no closing report" in " ".join(texts(phone.say("/close A-1")))
    if action in ("checkin.answer", "note.create"):
        phone.say("/checkin" if action == "checkin.answer" else "/note A-1")
        if relation == "stranger":
            return False
        current = world.store.current_session(world.ids[relation], "telegram")
        return current is not None and current["case_id"] == case.id
    raise AssertionError(action)


TELEGRAM_ACTIONS = (
    "case.view",
    "member.invite",
    "interview.run",
    "record.view",
    "voice.replay",
    "scores.view",
    "compliance.view",
    "schedule.create",
    "checkin.answer",
    "note.create",
    "case.profile.edit",
    "case.close",
)


@pytest.mark.parametrize("action", TELEGRAM_ACTIONS)
def test_telegram_offers_each_action_exactly_to_the_relations_in_the_table(world, action):
    service = _telegram(world)
    allowed = {r for r in RELATIONS if _on_telegram(world, service, action, r)}
    # A stranger here is a Telegram user nobody registered: refused like everyone outside.
    assert allowed == EXPECTED[action]


# -- through the command line -------------------------------------------------------------------


def _on_the_command_line(world: World, action: str, relation: str, tmp_path) -> bool:
    db = world.db
    argv = {
        "schedule.create": [
            *("schedule", "add", "A-1", "elder_checkin", "--member", str(world.ids["client"])),
            *("--daily", "--at", "18:00", "--window", "12h", "--remind", "4h"),
        ],
        "schedule.view": ["schedule", "list", "--case", "A-1"],
        "schedule.change": ["schedule", "pause", str(world.schedule.id)],
        "compliance.view": ["compliance", "A-1"],
        "record.view": ["render", "session", world.session_id],
        "record.export": [
            *("export", "--case", "A-1", "--format", "json"),
            *("--out", str(tmp_path / relation)),
        ],
        "record.sign": ["sign", world.session_id],
        "record.amend": ["amend", world.session_id, "session_number", "3", "--reason", "typo"],
        "scores.view": ["compare", "A-1", "phq9"],
        "case.view": ["case", "show", "A-1"],
        "case.profile.edit": ["case", "profile", "A-1", "--caregiver", "奶奶"],
        "consent.record": [
            *("case", "consent", "A-1", "--by", "本人", "--role", "client"),
            *("--method", "spoken", "--on", "2026-03-01"),
        ],
        "plan.edit": ["case", "goals", "A-1", "add", "每周出门一次"],
        "case.close": ["case", "close", "A-1"],  # 1 for the worker: no closing report yet
        "member.link": ["link", "A-1", "--member", f"#{world.ids['client']}", "--replace"],
    }[action]
    code = run_as(relation, cli_module.main, [*argv, "--db", db])
    assert code in (0, 1, 2, 3), code
    return code in (0, 1)  # 1: allowed but the record's state says no (signed already)


CLI_ACTIONS = (
    "schedule.create",
    "schedule.view",
    "schedule.change",
    "compliance.view",
    "record.view",
    "record.export",
    "record.sign",
    "record.amend",
    "scores.view",
    "case.view",
    "case.profile.edit",
    "consent.record",
    "plan.edit",
    "case.close",
    "member.link",
)


@pytest.mark.parametrize("action", CLI_ACTIONS)
def test_the_command_line_offers_each_action_exactly_to_the_relations_in_the_table(
    world, action, tmp_path, capsys
):
    world.store.close()
    allowed = {r for r in RELATIONS if _on_the_command_line(world, action, r, tmp_path)}
    world.store = Store.open(world.db)
    assert allowed == EXPECTED[action]


def test_an_os_account_linked_to_nobody_may_do_nothing_on_the_command_line(world, capsys):
    world.store.close()
    code = run_as("unlinked", cli_module.main, ["compliance", "A-1", "--db", world.db])
    world.store = Store.open(world.db)
    assert code == 3
    assert "--login unlinked" in capsys.readouterr().err
