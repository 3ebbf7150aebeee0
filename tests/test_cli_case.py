"""``caseflow case ...``: profile, consent, goals, closing and reopening from the command
line, and the bundled case-file flows run through real interviews."""

from __future__ import annotations

import json
from datetime import date

import pytest

from casework.interviews import CaseIsClosed, Interviews
from casework.records import amend_answer
from flows.registry import FlowRegistry
from storage.casefile import CaseFile
from storage.store import Store
from tests.conftest import run_as
from tests.test_records import administer, cli
from tests.test_records import clock as clock  # the fixture (a predictable clock)


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "c.db")


def run(db, *argv, who="wang"):
    """``caseflow ARGV`` as the worker linked to the OS account ``who`` (created, and linked,
    the first time: an administrator's ``caseflow workers add ... --login``)."""
    linked_worker(db, who)
    return run_as(who, cli, [*argv, "--db", db])


def linked_worker(db_or_store, login="wang"):
    """The worker linked to the OS account ``login``, registered on first use."""
    store = Store.open(db_or_store) if isinstance(db_or_store, str) else db_or_store
    try:
        row = store.person_by_login(login)
        return int(row["id"]) if row else store.add_person(login, "worker", local_user=login)
    finally:
        if isinstance(db_or_store, str):
            store.close()


def opened(db):
    return Store.open(db)


# The bundled session record on a case with two goals, goal 1 worked on and rated 2.
def record_answers(number, day, stage, worked, ratings):
    return [
        str(number),
        day,
        stage,
        "1",
        "1,2",
        worked,
        *ratings,
        "Played the emotion-card game.",
        "/skip",
        "4",
        "1",
        "He named 'angry' and 'missing Mum'.",
        "/skip",
        "/skip",
        "Relaxed, laughed twice.",
        "Went well; keep the cards.",
        "/skip",
        "Next week: the feelings diary.",
        "/skip",
        "/skip",
        "no",
        "/submit",
    ]


def test_a_profile_makes_the_case_and_show_prints_the_case_file(db, capsys):
    assert run(db, "case", "profile", "lbc-07", "--name", "小明", "--birth-year", "2017") == 0
    out = capsys.readouterr().out
    assert "New case LBC-07, with you as its worker." in out
    assert (
        run(
            db,
            "case",
            "profile",
            "LBC-07",
            "--group",
            "left_behind_child",
            "--caregiver",
            "奶奶 李桂兰",
            "--worker",
            "wang",
            "--lang",
            "zh",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "服务对象：小明（2017 年出生" in out and "留守儿童" in out
    assert "主要照顾者：奶奶 李桂兰" in out and "负责社工：wang" in out
    assert "知情同意：尚未记录知情同意" in out
    store = opened(db)
    case = store.case_by_code("LBC-07")
    assert store.case(case.id).flow_facts["child_name"] == "小明"


def test_a_profile_refuses_a_value_it_cannot_hold_with_the_reason(db, capsys):
    run(db, "case", "profile", "LBC-07", "--name", "小明")
    assert run(db, "case", "profile", "LBC-07", "--birth-year", "1066") == 2
    assert "birth year 1066 is not a plausible year" in capsys.readouterr().err
    assert run(db, "case", "profile", "LBC-07", "--worker", "nobody") == 2
    assert "its workers: wang" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(db, "case", "profile", "LBC-07", "--group", "orphan")


def test_someone_not_working_on_the_case_is_refused_and_audited(db, capsys):
    run(db, "case", "profile", "LBC-07", "--name", "小明")
    for argv in (
        ("case", "show", "LBC-07"),
        ("case", "profile", "LBC-07", "--name", "x"),
        ("case", "goals", "LBC-07", "add", "x"),
        ("case", "close", "LBC-07"),
    ):
        assert run(db, *argv, who="stranger") == 3
    assert "you may not do that on case LBC-07" in capsys.readouterr().err
    store = opened(db)
    refused = [r for r in store.audit_rows() if r["action"] == "access.refused"]
    assert len(refused) == 4
    assert store.case(store.case_by_code("LBC-07").id).flow_facts["client_name"] == "小明"
    assert run(db, "case", "show", "NOPE") == 2


def test_goals_are_added_listed_and_given_a_status(db, capsys):
    run(db, "case", "profile", "LBC-07", "--name", "小明")
    capsys.readouterr()
    assert (
        run(
            db,
            "case",
            "goals",
            "LBC-07",
            "add",
            "能用语言说出自己的情绪",
            "--area",
            "情绪表达（心理层面）",
            "--activities",
            "情绪卡片\n角色扮演",
            "--target",
            "连续两周每天说出一次",
        )
        == 0
    )
    assert run(db, "case", "goals", "LBC-07", "add", "每周和妈妈视频一次") == 0
    assert run(db, "case", "goals", "LBC-07", "status", "2", "dropped") == 0
    capsys.readouterr()
    assert run(db, "case", "goals", "LBC-07", "list", "--lang", "zh") == 0
    out = capsys.readouterr().out
    assert "1. 能用语言说出自己的情绪 [进行中]" in out
    assert "计划活动：情绪卡片 / 角色扮演" in out and "2. 每周和妈妈视频一次 [已取消]" in out
    assert run(db, "case", "goals", "LBC-07", "status", "9", "met") == 2
    assert "has no goal 9" in capsys.readouterr().err


def test_consent_on_paper_is_recorded_from_the_command_line(db, capsys):
    run(db, "case", "profile", "LBC-07", "--name", "小明")
    assert (
        run(
            db,
            "case",
            "consent",
            "LBC-07",
            "--by",
            "李桂兰（奶奶）",
            "--role",
            "caregiver",
            "--method",
            "paper",
            "--on",
            "2026-03-02",
            "--lang",
            "zh",
        )
        == 0
    )
    assert "知情同意：李桂兰（奶奶）（照顾者）于 2026-03-02 书面签字同意" in capsys.readouterr().out
    assert (
        run(
            db,
            "case",
            "consent",
            "LBC-07",
            "--by",
            "x",
            "--role",
            "caregiver",
            "--method",
            "paper",
            "--on",
            "March",
        )
        == 2
    )


def test_the_consent_interview_records_the_consent(db, clock):
    store = opened(db)
    me = linked_worker(store)
    case = store.create_case("LBC-07", me)
    administer(
        store,
        "consent",
        case,
        me,
        [
            "",
            "",
            "",
            "",
            "",
            "1,2,3,4,5",
            "/skip",
            "是",
            "李桂兰，奶奶",
            "2",
            "1",
            "2026-03-02",
            "/submit",
        ],
        lang="zh",
    )
    consent = CaseFile(store).consent(case.id)
    assert (consent.agreed_by, consent.agreed_role, consent.method) == (
        "李桂兰，奶奶",
        "caregiver",
        "spoken",
    )
    assert consent.explained == ["purpose", "recorded", "who_sees", "kept", "stop_any_time"]
    assert store.case(case.id).flow_facts["consent"] is True


def test_a_session_record_rates_the_goals_worked_on_and_an_amendment_rates_again(db, clock):
    store = opened(db)
    me = linked_worker(store)
    case = store.create_case("LBC-07", me)
    casefile = CaseFile(store)
    casefile.add_goal(case.id, "说出情绪", actor_id=me)
    casefile.add_goal(case.id, "和妈妈视频", actor_id=me)
    case = store.case(case.id)
    sid = administer(
        store, "session_record", case, me, record_answers(3, "2026-02-16", "2", "1", ["2"])
    )
    row = store._one("SELECT held_on, number, stage FROM sessions WHERE id = ?", (sid,))
    assert row == {"held_on": "2026-02-16", "number": 3, "stage": "indirect"}
    assert [r.rating for r in casefile.goal(case.id, 1).ratings] == [2]
    assert casefile.goal(case.id, 2).ratings == []
    amend_answer(store, sid, "goal_progress_1", "4", "typed 2 for 4", me)
    assert [r.rating for r in casefile.goal(case.id, 1).ratings] == [4]
    amend_answer(store, sid, "session_date", "2026-02-17", None, me)
    assert casefile.goal(case.id, 1).ratings[0].rated_on == "2026-02-17"


def test_a_family_review_sets_its_phase_and_its_domain_scores(db, clock):
    store = opened(db)
    me = linked_worker(store)
    case = store.create_case("FAM-04", me)
    engine = FlowRegistry().current("family_resilience").engine
    questions = [q for q in engine.questions if q.parent is None]
    answers = []
    for q in questions:
        if q.id == "review_point":
            answers.append("1")
        elif q.item.type == "scale":
            answers.append("2")
        elif q.item.type in ("choice", "multi"):
            answers.append("1")
        elif q.item.type == "date":
            answers.append("2026-02-06" if q.item.required else "/skip")
        elif q.item.type == "note":
            answers.append("")
        else:
            answers.extend(
                ["说了些什么", *["/skip"] * sum(1 for p in engine.questions if p.parent == q.id)]
            )
    sid = administer(store, "family_resilience", case, me, [*answers, "/submit"], lang="zh")
    info = store.session_info(sid)
    assert info.phase == "pre"
    (score,) = [s for s in store.scores(sid)]
    result = json.loads(score["result"])
    assert result["instrument"] == "walsh_resilience" and result["total"] == 2
    assert result["subscales"] == {"beliefs": 2, "organisation": 2, "communication": 2}
    amend_answer(store, sid, "clarity_score", "5", None, me)
    (score,) = store.scores(sid)
    assert json.loads(score["result"])["subscales"]["communication"] == 3
    assert score["revision"] == 2


def closing_answers(goals_met, goals_partly):
    return [
        "2026-03-01",
        "1",
        "12",
        goals_met,
        goals_partly,
        "目标一：情绪卡片使用熟练，奶奶反映孩子会说“我生气了”。",
        "/skip",
        "后测 WHO-5 提高 6 分。",
        "1",
        "2",
        "2",
        "我现在会说了。",
        "奶奶说孩子开朗多了。",
        "5",
        "前期节奏偏快。",
        "/skip",
        "/skip",
        "否",
        "三个月后电话回访。",
        "/skip",
        "/submit",
    ]


def test_closing_needs_the_report_judges_the_goals_and_only_follow_up_comes_after(
    db, clock, capsys
):
    store = opened(db)
    me = linked_worker(store)
    case = store.create_case("LBC-07", me)
    casefile = CaseFile(store)
    for title in ("说出情绪", "和妈妈视频", "交到朋友"):
        casefile.add_goal(case.id, title, actor_id=me)
    assert run(db, "case", "close", "LBC-07") == 1
    assert "caseflow chat closing_report --case LBC-07" in capsys.readouterr().err
    case = store.case(case.id)
    administer(store, "closing_report", case, me, closing_answers("1", "2"), lang="zh")
    assert [g.status for g in casefile.goals(case.id)] == ["met", "partly_met", "not_met"]
    assert run(db, "case", "close", "LBC-07") == 0
    assert "Case LBC-07 is closed" in capsys.readouterr().out
    case = store.case(case.id)
    interviews = Interviews(store, FlowRegistry())
    with pytest.raises(CaseIsClosed):
        interviews.open("child_checkin", case, me, "terminal")
    assert interviews.open("followup_visit", case, me, "terminal").session.id
    assert run(db, "chat", "child_checkin", "--case", "LBC-07") == 1
    assert "caseflow chat followup_visit --case LBC-07" in capsys.readouterr().err
    assert run(db, "case", "close", "LBC-07") == 1
    assert run(db, "case", "reopen", "LBC-07", "--reason", "孩子又不愿上学") == 0
    assert run(db, "case", "reopen", "LBC-07", "--reason", "again") == 1
    assert run(db, "case", "close", "LBC-07") == 1  # a new closing report first
    capsys.readouterr()
    assert run(db, "case", "show", "LBC-07", "--lang", "zh") == 0
    out = capsys.readouterr().out
    assert "结案：" in out and "重新开案：" in out and "（孩子又不愿上学）" in out


def test_a_sign_off_takes_the_supervisors_comment(db, clock, capsys):
    store = opened(db)
    me = linked_worker(store)
    case = store.create_case("LBC-07", me)
    sid = administer(
        store,
        "contact_note",
        case,
        me,
        ["today", "2", "1", "Grandmother called.", "no", "no", "/submit"],
    )
    assert run(db, "sign", sid[:8], "--comment", "请补充孩子本人的说法。") == 0
    row = store._one("SELECT sign_comment FROM sessions WHERE id = ?", (sid,))
    assert row["sign_comment"] == "请补充孩子本人的说法。"


def test_caseflow_chat_says_when_a_scale_is_not_made_for_the_clients_age(tmp_path):
    from casework.identity import os_login
    from tests.test_chat_cli import chat

    db = str(tmp_path / "c.db")
    store = Store.open(db)
    me = store.add_person("Tester", "worker", local_user=os_login())
    case = store.create_case("LBC-07", me)
    CaseFile(store).set_profile(case.id, me, client_name="小明", birth_year=date.today().year - 9)
    store.close()
    done = chat("adult_scales", "--case", "LBC-07", "--db", db, stdin="/cancel\n")
    assert done.returncode == 0, done.stderr
    assert "caseflow: PHQ-9 is made for ages 18+, and the client of this case is 9." in done.stderr
