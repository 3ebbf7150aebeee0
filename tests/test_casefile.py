"""The case file in storage: profile, consent, goals and their progress, the facts a session
record sets, closing and reopening, and what flows see of a case."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from casework.interviews import Interviews
from flows.outcome import Consent, Outcome
from flows.recurrence import Recurrence
from flows.registry import FlowRegistry
from storage.casefile import (
    CaseClosed,
    CaseFile,
    CaseNotClosed,
    NoClosingReport,
    write_outcome,
)
from storage.records import Records
from storage.schedules import Schedules
from storage.store import NotFound, StorageError

CLOSING = """\
id: closing_test
version: 1
title: {en: Closing, zh: 结案}
respondent: worker
languages: [en, zh]
purpose: closing
stages:
  - id: s
    title: {en: S, zh: S}
    items:
      - {id: summary, type: text, prompt: {en: "Summary?", zh: 总结？}}
"""


@pytest.fixture
def worker(store):
    return store.add_person("Wang Fang", "worker")


@pytest.fixture
def case(store, worker):
    return store.create_case("LBC-07", worker)


@pytest.fixture
def casefile(store):
    return CaseFile(store)


@pytest.fixture
def registry(tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "closing_test.yaml").write_text(CLOSING)
    return FlowRegistry([folder])


def complete(store, registry, flow, case, person, *answers):
    interviews = Interviews(store, registry)
    from flows.engine import Reply

    sid = interviews.open(flow, case, person, "terminal").session.id
    turn = None
    for answer in answers:
        turn = interviews.reply(sid, person, Reply(text=answer))
        assert turn.error is None, turn.error
    assert turn is not None and turn.status == "completed"
    return sid


# -- profile -----------------------------------------------------------------------------


def test_a_profile_is_set_field_by_field_and_the_others_stay(store, casefile, case, worker):
    assert casefile.profile(case.id) is None
    casefile.set_profile(case.id, worker, client_name="小明", birth_year=2017)
    profile = casefile.set_profile(
        case.id, worker, client_group="left_behind_child", caregiver="奶奶 李桂兰"
    )
    assert (profile.client_name, profile.birth_year) == ("小明", 2017)
    assert (profile.client_group, profile.caregiver) == ("left_behind_child", "奶奶 李桂兰")
    assert profile.age(date(2026, 3, 2)) == 9
    profile = casefile.set_profile(case.id, worker, caregiver=None, worker_id=worker)
    assert profile.caregiver is None and profile.worker_name == "Wang Fang"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"client_group": "orphan"}, "unknown group 'orphan'"),
        ({"birth_year": 1700}, "birth year 1700 is not a plausible year"),
        ({"birth_year": date.today().year + 1}, "is not a plausible year"),
        ({"nickname": "x"}, "a profile has no field nickname"),
    ],
)
def test_a_profile_refuses_what_it_cannot_hold_and_keeps_what_it_had(
    casefile, case, worker, changes, message
):
    casefile.set_profile(case.id, worker, client_name="小明")
    with pytest.raises(StorageError, match=message):
        casefile.set_profile(case.id, worker, **changes)
    assert casefile.profile(case.id).client_name == "小明"


def test_a_profile_change_is_audited_by_field_name_without_its_content(
    store, casefile, case, worker
):
    casefile.set_profile(case.id, worker, client_name="小明", caregiver="奶奶")
    (row,) = [r for r in store.audit_rows(case.id) if r["action"] == "case.profile.edit"]
    assert json.loads(row["detail"]) == {"fields": ["caregiver", "client_name"]}
    assert "小明" not in json.dumps([dict(r) for r in store.audit_rows()], ensure_ascii=False)


def test_flows_see_the_profile_goals_and_consent_as_case_facts(store, casefile, case, worker):
    assert store.case(case.id).flow_facts == {"consent": False}
    assert store.case(case.id).facts == {}  # what the case was opened with stays as it was
    casefile.set_profile(case.id, worker, client_name="小明", client_group="left_behind_child")
    casefile.set_profile(case.id, worker, birth_year=2017, caregiver="奶奶")
    casefile.add_goal(case.id, "能说出自己的情绪", area="情绪表达", actor_id=worker)
    casefile.record_consent(
        case.id,
        agreed=True,
        by="李桂兰",
        role="caregiver",
        method="paper",
        on="2026-03-02",
        actor_id=worker,
    )
    facts = store.case(case.id).flow_facts
    assert facts["client_name"] == facts["child_name"] == "小明"
    assert facts["age"] == date.today().year - 2017 and facts["caregiver"] == "奶奶"
    assert facts["goals"] == [
        {
            "number": 1,
            "title": "能说出自己的情绪",
            "area": "情绪表达",
            "target": None,
            "status": "active",
        }
    ]
    assert facts["consent"] is True


def test_an_older_client_has_a_client_name_and_no_child_name(store, casefile, case, worker):
    casefile.set_profile(case.id, worker, client_name="张奶奶", client_group="elder_alone")
    facts = store.case(case.id).flow_facts
    assert facts["client_name"] == "张奶奶" and "child_name" not in facts


def test_the_profile_overrides_a_name_stored_with_the_case(store, casefile, worker):
    case = store.create_case("OLD-1", worker, facts={"child_name": "Xiaoming"})
    assert store.case(case.id).flow_facts["child_name"] == "Xiaoming"
    casefile.set_profile(case.id, worker, client_name="小明", client_group="low_income_child")
    assert store.case(case.id).flow_facts["child_name"] == "小明"


# -- consent -----------------------------------------------------------------------------


def test_the_latest_consent_holds_and_a_later_refusal_withdraws_it(store, casefile, case, worker):
    assert casefile.consent(case.id) is None
    casefile.record_consent(
        case.id,
        agreed=True,
        by="李桂兰",
        role="caregiver",
        method="spoken",
        on="2026-03-02",
        explained=["purpose", "stop_any_time"],
        actor_id=worker,
    )
    assert casefile.consent(case.id).explained == ["purpose", "stop_any_time"]
    assert store.case(case.id).flow_facts["consent"] is True
    casefile.record_consent(
        case.id,
        agreed=False,
        by="李桂兰",
        role="caregiver",
        method="chat",
        on="2026-04-01",
        actor_id=worker,
    )
    assert casefile.consent(case.id).agreed is False
    assert store.case(case.id).flow_facts["consent"] is False
    assert len(casefile.consents(case.id)) == 2


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("method", "fax", "unknown way of agreeing 'fax'"),
        ("role", "neighbour", "unknown role 'neighbour'"),
        ("on", "last week", "'last week' is not a date"),
        ("by", "  ", "say who agreed"),
    ],
)
def test_a_consent_needs_who_how_and_when(casefile, case, worker, field, value, message):
    given = {"by": "李桂兰", "role": "caregiver", "method": "paper", "on": "2026-03-02"}
    given[field] = value
    with pytest.raises(StorageError, match=message):
        casefile.record_consent(case.id, agreed=True, actor_id=worker, **given)
    assert casefile.consents(case.id) == []


# -- goals -------------------------------------------------------------------------------


def test_goals_are_numbered_in_the_order_added(casefile, case, worker):
    first = casefile.add_goal(case.id, "  能说出 自己的情绪 ", area="情绪表达", actor_id=worker)
    second = casefile.add_goal(
        case.id,
        "每周和妈妈视频一次",
        activities="家庭会议\n约定通话时间",
        target="连续四周",
        actor_id=worker,
    )
    assert (first.number, first.title) == (1, "能说出 自己的情绪")
    assert (second.number, second.activities, second.target) == (
        2,
        "家庭会议\n约定通话时间",
        "连续四周",
    )
    assert [g.number for g in casefile.goals(case.id)] == [1, 2]
    with pytest.raises(StorageError, match="a goal needs a title"):
        casefile.add_goal(case.id, " ", actor_id=worker)
    with pytest.raises(NotFound, match="has no goal 3"):
        casefile.goal(case.id, 3)


def test_a_dropped_goal_is_not_offered_to_flows_but_stays_in_the_plan(
    store, casefile, case, worker
):
    casefile.add_goal(case.id, "甲", actor_id=worker)
    casefile.add_goal(case.id, "乙", actor_id=worker)
    casefile.set_goal_status(case.id, 1, "dropped", worker)
    from flows.outcome import goal_options

    options = goal_options(store.case(case.id).flow_facts, ["en", "zh"])
    assert [(o.value, o.label["zh"]) for o in options] == [(2, "2. 乙")]
    assert casefile.goal(case.id, 1).status == "dropped"
    with pytest.raises(StorageError, match="unknown status"):
        casefile.set_goal_status(case.id, 2, "done", worker)


def test_a_session_outcome_sets_its_held_day_stage_and_goal_ratings(
    store, casefile, case, worker, registry
):
    casefile.add_goal(case.id, "甲", actor_id=worker)
    casefile.add_goal(case.id, "乙", actor_id=worker)
    sid = complete(store, registry, "closing_test", case, worker, "ok", "/submit")
    outcome = Outcome(
        held_on="2026-03-09",
        number=3,
        stage="indirect",
        phase="mid",
        goals={1: 4, 2: None, 7: 5},
        goal_ranges={1: (1, 5)},
    )
    with store.atomic():
        write_outcome(store, sid, case.id, outcome, worker)
    row = store._one("SELECT held_on, number, stage, phase FROM sessions WHERE id = ?", (sid,))
    assert row == {"held_on": "2026-03-09", "number": 3, "stage": "indirect", "phase": "mid"}
    first, second = casefile.goals(case.id)
    assert [(r.rating, r.low, r.high, r.rated_on) for r in first.ratings] == [
        (4, 1, 5, "2026-03-09")
    ]
    assert [r.rating for r in second.ratings] == [None]  # worked on, not rated
    with store.atomic():  # written again after an amendment: replaced, not added
        write_outcome(store, sid, case.id, Outcome(held_on="2026-03-09", goals={1: 5}), worker)
    assert [r.rating for r in casefile.goal(case.id, 1).ratings] == [5]
    assert casefile.goal(case.id, 2).ratings == []


def test_a_consent_flow_outcome_records_the_consent_once_per_session(
    store, casefile, case, worker, registry
):
    sid = complete(store, registry, "closing_test", case, worker, "ok", "/submit")
    consent = Consent(True, "李桂兰", "caregiver", "spoken", "2026-03-02", ["purpose"])
    for _ in range(2):
        with store.atomic():
            write_outcome(store, sid, case.id, Outcome(purpose="consent", consent=consent), worker)
    (recorded,) = casefile.consents(case.id)
    assert (recorded.session_id, recorded.agreed_by, recorded.method) == (sid, "李桂兰", "spoken")


# -- closing -----------------------------------------------------------------------------


def test_a_case_closes_only_with_a_closing_report(store, casefile, case, worker, registry):
    with pytest.raises(NoClosingReport, match="caseflow chat closing_report --case LBC-07"):
        casefile.close(case.id, worker)
    complete(store, registry, "closing_test", case, worker, "目标基本达成", "/submit")
    event = casefile.close(case.id, worker)
    assert store.case(case.id).status == "closed" and event["kind"] == "closed"
    assert event["session_id"] is not None
    with pytest.raises(CaseClosed):
        casefile.close(case.id, worker)
    with pytest.raises(CaseClosed, match="reopen it"):
        casefile.add_goal(case.id, "新目标", actor_id=worker)


def test_closing_pauses_the_case_schedules_and_reopening_leaves_them_to_the_worker(
    store, casefile, case, worker, registry
):
    grandma = store.add_person("Li Guilan", "caregiver")
    store.add_member(case.id, grandma, "caregiver", worker)
    schedules = Schedules(store)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    rule = Recurrence(kind="weekly", weekdays=["mon"], at="18:00", tz="Asia/Shanghai")
    kept = schedules.create(case.id, grandma, "child_checkin", rule, worker, now)
    removed = schedules.create(case.id, grandma, "child_checkin", rule, worker, now)
    schedules.remove(removed.id, worker, now)
    later = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
    assert schedules.due_work(later)  # a check-in falls due then, while the case is open
    complete(store, registry, "closing_test", case, worker, "ok", "/submit")
    event = casefile.close(case.id, worker)
    assert json.loads(event["schedules"]) == [kept.id]
    assert schedules.get(kept.id).state == "paused"
    assert schedules.due_work(later) == []
    casefile.reopen(case.id, "家长要求继续服务", worker)
    assert schedules.get(kept.id).state == "paused"


def test_reopening_needs_a_reason_and_closing_again_needs_a_new_report(
    store, casefile, case, worker, registry
):
    complete(store, registry, "closing_test", case, worker, "ok", "/submit")
    casefile.close(case.id, worker)
    with pytest.raises(StorageError, match="say why"):
        casefile.reopen(case.id, "  ", worker)
    event = casefile.reopen(case.id, "孩子又出现厌学情况", worker)
    assert event["reason"] == "孩子又出现厌学情况" and store.case(case.id).status == "open"
    with pytest.raises(CaseNotClosed):
        casefile.reopen(case.id, "again", worker)
    with pytest.raises(NoClosingReport):
        casefile.close(case.id, worker)
    actions = [r["action"] for r in store.audit_rows(case.id)]
    assert actions.count("case.close") == 1 and actions.count("case.reopen") == 1


# -- supervision ---------------------------------------------------------------------------


def test_a_sign_off_keeps_the_supervisors_comment(store, case, worker, registry):
    sid = complete(store, registry, "closing_test", case, worker, "ok", "/submit")
    Records(store).sign(sid, worker, comment="  目标二的进展证据不足，下次补充老师反馈。 ")
    row = store._one("SELECT sign_comment FROM sessions WHERE id = ?", (sid,))
    assert row["sign_comment"] == "目标二的进展证据不足，下次补充老师反馈。"
    (audit,) = [r for r in store.audit_rows(case.id) if r["action"] == "session.sign"]
    assert json.loads(audit["detail"]) == {"comment": True}


# -- scales for the client's age ------------------------------------------------------------


def test_an_adult_screener_on_a_childs_case_warns_the_worker(store, casefile, case, worker):
    casefile.set_profile(case.id, worker, client_name="小明", birth_year=date.today().year - 10)
    case = store.case(case.id)
    opened = Interviews(store, FlowRegistry()).open("adult_scales", case, worker, "terminal")
    assert opened.warnings == [
        "PHQ-9 is made for ages 18+, and the client of this case is 10. Use a scale made for "
        "their age, or note in the record why you use this one.",
        "GAD-7 is made for ages 18+, and the client of this case is 10. Use a scale made for "
        "their age, or note in the record why you use this one.",
    ]
    zh = Interviews(store, FlowRegistry()).open("elder_scales", case, worker, "terminal", lang="zh")
    assert zh.warnings[0].startswith("GDS-15适用于 60+ 岁的人，本个案的服务对象 10 岁。")


def test_a_caregiver_answering_scales_about_herself_is_not_warned(store, casefile, case, worker):
    casefile.set_profile(case.id, worker, birth_year=date.today().year - 10)
    grandma = store.add_person("Li Guilan", "caregiver")
    store.add_member(case.id, grandma, "caregiver", worker)
    opened = Interviews(store, FlowRegistry()).open(
        "adult_scales", store.case(case.id), grandma, "terminal"
    )
    assert opened.warnings == []


def test_scales_made_for_the_clients_age_or_an_unknown_age_do_not_warn(
    store, casefile, case, worker
):
    interviews = Interviews(store, FlowRegistry())
    assert interviews.open("adult_scales", store.case(case.id), worker, "terminal").warnings == []
    casefile.set_profile(case.id, worker, birth_year=date.today().year - 78)
    assert interviews.open("elder_scales", store.case(case.id), worker, "terminal").warnings == []
