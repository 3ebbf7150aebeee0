"""The desk offers each action exactly to the relations in the policy's table
(``tests/test_policy.py``): a worker on the case, the supervisor of its worker, a worker on
another case, a worker on no case. Caregivers and clients do not sign in to the desk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from casework import signin
from casework.errors import Invalid
from desk.app import build_app
from desk.backend import Backend
from tests.desk_client import NOW, Browser, Clock, DeskUnderTest
from tests.test_policy import EXPECTED, World

DESK_RELATIONS = ("worker", "supervisor", "other_worker", "stranger")
LATER = datetime.now(UTC) + timedelta(days=2)


@pytest.fixture
def world(tmp_path):
    made = World(str(tmp_path / "policy.db"))
    yield made
    made.store.close()


@pytest.fixture
def desk(world):
    backend = Backend.open(world.db)
    clock = Clock(LATER)  # the world's follow-up (due the day it was made) is due by then
    app = build_app(backend, secret=b"p" * 32, clock=clock, bot_username="caseflow_test_bot")
    yield DeskUnderTest(backend, app, None, clock, world.db)  # type: ignore[arg-type]
    backend.close()


def browsers(desk: DeskUnderTest, world: World) -> dict[str, Browser]:
    out = {}
    for relation in DESK_RELATIONS:
        browser = desk.browser()
        browser.sign_in(world.ids[relation])
        out[relation] = browser
    return out


def probe(action: str, browser: Browser, world: World) -> bool:
    """Whether the desk lets this browser's worker do ``action`` on case A-1."""
    sid = world.session_id
    schedule = world.schedule.id
    page = browser.get("/cases/A-1")
    if action == "case.view":
        return page.status_code == 200
    if action == "schedule.view":
        return page.status_code == 200 and "daily at 18:00" in page.text
    if action == "record.view":
        return browser.get(f"/records/{sid}").status_code == 200
    if action == "record.export":
        return browser.get("/cases/A-1/summary.html").status_code == 200
    if action == "scores.view":
        return page.status_code == 200 and "Latest scores" in page.text
    if action == "compliance.view":
        return page.status_code == 200 and "Scheduled check-ins, last 8 weeks" in page.text
    if action == "schedule.create":
        form = {"member": str(world.ids["client"]), "flow": "elder_checkin", "how": "daily"}
        return browser.post("/cases/A-1/schedules", form | {"at": "10:00"}).status_code != 404
    if action == "schedule.change":
        return browser.post(f"/cases/A-1/schedules/{schedule}/pause").status_code != 404
    if action == "member.invite":
        return browser.post("/cases/A-1/invite", {"role": "caregiver"}).status_code != 404
    if action == "record.sign":
        return browser.post(f"/records/{sid}/sign", {"comment": "ok"}).status_code != 404
    if action in ("flag.view", "followup.view"):
        inbox = browser.get("/inbox").text
        section = "flags" if action == "flag.view" else "followups"
        start = inbox.index(f'id="{section}"')
        return 'href="/cases/A-1"' in inbox[start : inbox.find("</section>", start)]
    if action == "flag.ack":
        flag = world.store._one("SELECT id FROM flags")["id"]
        return browser.post(f"/inbox/flags/{flag}/ack", {"note": "seen"}).status_code != 404
    if action == "followup.done":
        task = world.store._one("SELECT id FROM followups")["id"]
        return browser.post(f"/inbox/followups/{task}/done", {"note": "ok"}).status_code != 404
    if action == "member.link":
        client = world.ids["client"]
        return browser.post(f"/cases/A-1/weblinks/{client}/give").status_code != 404
    if action == "interview.run":
        return browser.get("/cases/A-1/interview/session_record").status_code == 200
    if action == "case.profile.edit":
        form = {"client_name": "A", "age": "", "group": "", "caregiver": "", "worker_id": ""}
        return browser.post("/cases/A-1/profile", form).status_code != 404
    if action == "consent.record":
        form = {"by": "A", "role": "client", "method": "paper", "on": "2026-01-05"}
        return browser.post("/cases/A-1/consent", form).status_code != 404
    if action == "plan.edit":
        return browser.post("/cases/A-1/goals", {"title": "A goal"}).status_code != 404
    if action == "case.close":  # refused for want of a closing report, but not hidden
        return browser.post("/cases/A-1/close").status_code != 404
    if action == "record.amend":
        form = {"question": "session_number", "value": "7", "reason": "typo"}
        return browser.post(f"/records/{sid}/amend", form).status_code != 404
    raise AssertionError(action)


OFFERED = (
    "case.view",
    "schedule.view",
    "record.view",
    "record.export",
    "scores.view",
    "compliance.view",
    "schedule.create",
    "schedule.change",
    "member.invite",
    "record.sign",
    "record.amend",
    "flag.view",
    "flag.ack",
    "followup.view",
    "followup.done",
    "member.link",
    "interview.run",
    "case.profile.edit",
    "consent.record",
    "plan.edit",
    "case.close",
)


@pytest.mark.parametrize("action", OFFERED)
def test_the_desk_offers_each_action_exactly_to_the_relations_in_the_table(desk, world, action):
    people = browsers(desk, world)
    offered = {relation for relation, browser in people.items() if probe(action, browser, world)}
    assert offered == EXPECTED[action] & set(DESK_RELATIONS), action


@pytest.mark.parametrize("relation", ["caregiver", "client", "other_caregiver"])
def test_caregivers_and_clients_get_no_sign_in_link(world, relation):
    with pytest.raises(Invalid):
        signin.issue_link(world.store, world.ids[relation], NOW, created_by=None, via="test")
