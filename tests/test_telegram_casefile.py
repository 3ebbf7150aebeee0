"""The case file from Telegram: /newcase asks the client's profile one question at a time,
/profile changes it (a skipped question keeps what was there), /close and /reopen."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.telegram_service import TelegramService
from casework.interviews import Interviews
from flows.registry import FlowRegistry
from storage.casefile import CaseFile
from storage.casefile import case_facts as facts_of
from tests.test_casefile import CLOSING
from tests.test_telegram_service import CAREGIVER_TG, Phone, invite_token, texts

WORKER_TG, OTHER_TG = 1001, 4004
CLOCK = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


@pytest.fixture
def service(store, tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "closing_test.yaml").write_text(CLOSING)
    registry = FlowRegistry([folder])
    service = TelegramService(
        store, Interviews(store, registry), "caseflow_test_bot", clock=lambda: CLOCK
    )
    service.outbox_sent = []
    store.add_person("王芳", "worker", telegram_user_id=WORKER_TG, lang="zh")
    store.add_person("Other Li", "worker", telegram_user_id=OTHER_TG)
    return service


@pytest.fixture
def worker(service):
    return Phone(service, WORKER_TG, "王芳", lang="zh")


def profile_of(store, code: str):
    return CaseFile(store).profile(store.case_by_code(code).id)


def test_newcase_asks_the_profile_in_chinese_and_stores_what_the_worker_said(store, worker):
    opened = texts(worker.say("/newcase LBC-07"))
    assert opened[0].startswith("个案 LBC-07 已建立")
    assert "服务对象的姓名" in opened[1]
    assert "服务对象今年几岁" in texts(worker.say("小明"))[-1]
    assert "属于哪一类" in texts(worker.say("八岁"))[-1], "an age in words, with its unit"
    assert "主要由谁照顾" in texts(worker.tap("留守儿童"))[-1]
    review = texts(worker.say("奶奶 李桂兰"))[-1]
    assert "请核对" in review
    done = texts(worker.say("提交"))
    assert done, "the worker is told it is saved"
    profile = profile_of(store, "LBC-07")
    assert profile is not None
    assert (profile.client_name, profile.birth_year, profile.client_group, profile.caregiver) == (
        "小明",
        datetime.now().year - 8,
        "left_behind_child",
        "奶奶 李桂兰",
    )
    facts = facts_of(store, store.case_by_code("LBC-07").id, {})
    assert facts["child_name"] == "小明", "flows that pipe case.child_name get it"


def test_profile_changes_only_what_is_answered_and_shows_what_is_there(store, worker):
    worker.say("/newcase LBC-07")
    for answer in ("小明", "8", "1", "奶奶 李桂兰", "提交"):
        worker.say(answer)
    asked = texts(worker.say("/profile LBC-07"))
    assert "现在登记的是：小明" in asked[-1], "the current value is shown"
    assert "现在登记的是 8 岁" in texts(worker.say("跳过"))[-1]
    # No age this time: the year of birth is asked instead, and may be skipped too.
    assert "哪一年出生" in texts(worker.say("跳过"))[-1]
    assert "属于哪一类" in texts(worker.say("跳过"))[-1]
    assert "现在登记的是：奶奶 李桂兰" in texts(worker.say("跳过"))[-1]
    worker.say("外婆 张秀英")
    worker.say("提交")
    profile = profile_of(store, "LBC-07")
    assert profile.client_name == "小明"
    assert profile.birth_year == datetime.now().year - 8
    assert profile.client_group == "left_behind_child"
    assert profile.caregiver == "外婆 张秀英"


def test_another_worker_cannot_change_the_profile_and_is_answered_like_a_missing_case(
    store, service, worker
):
    worker.say("/newcase LBC-07")
    other = Phone(service, OTHER_TG, "Li")
    assert texts(other.say("/profile LBC-07")) == [
        "I can't find case LBC-07 among your cases. Send /cases to see them."
    ]
    other_id = store.person_by_telegram(OTHER_TG)["id"]
    refusals = [
        r
        for r in store.audit_rows(store.case_by_code("LBC-07").id)
        if r["action"] == "access.refused" and r["actor_id"] == other_id
    ]
    assert [json.loads(r["detail"])["refused"] for r in refusals] == ["case.profile.edit"]
    assert profile_of(store, "LBC-07") is None


def test_a_caregiver_cannot_close_a_case_or_change_its_profile(store, service, worker):
    worker.say("/newcase LBC-07")
    token = invite_token(worker.say("/invite LBC-07"))
    grandma = Phone(service, CAREGIVER_TG, "Grandma Li")
    grandma.say(f"/start {token}")
    for command in ("/profile LBC-07", "/close LBC-07", "/reopen LBC-07 again"):
        assert texts(grandma.say(command)) == [
            "I can't find case LBC-07 among your cases. Send /cases to see them."
        ]
    assert store.case_by_code("LBC-07").status == "open"
    assert profile_of(store, "LBC-07") is None


def test_close_needs_a_closing_report_then_closes_and_reopen_needs_a_reason(store, worker):
    worker.say("/newcase LBC-07")
    worker.say("/cancel")
    refused = texts(worker.say("/close LBC-07"))
    assert refused == [
        "个案 LBC-07 还没有填写结案报告。请先填写：/interview LBC-07 closing_report，"
        "填完再发送 /close LBC-07。"
    ]
    assert store.case_by_code("LBC-07").status == "open"
    worker.say("/interview LBC-07 closing_test")
    worker.say("目标基本达成")
    worker.say("提交")
    closed = texts(worker.say("/close LBC-07"))
    assert closed[0].startswith("个案 LBC-07 已结案")
    assert store.case_by_code("LBC-07").status == "closed"
    assert "已经结案" in texts(worker.say("/close LBC-07"))[0]
    refused = texts(worker.say("/schedule LBC-07 child_checkin"))
    assert refused == ["个案 LBC-07 已经结案了。如需重新开案：/reopen LBC-07 原因"]
    assert "用法：/reopen" in texts(worker.say("/reopen LBC-07"))[0], "a reason is required"
    assert store.case_by_code("LBC-07").status == "closed"
    assert "已重新开案" in texts(worker.say("/reopen LBC-07 家属再次求助"))[0]
    assert store.case_by_code("LBC-07").status == "open"
    events = CaseFile(store).events(store.case_by_code("LBC-07").id)
    (event,) = [e for e in events if e["kind"] == "reopened"]
    assert event["reason"] == "家属再次求助"
