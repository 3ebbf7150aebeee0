"""The case file in the records: the profile and a missing consent on every record, the
supervisor's comment, the timeline by the day held, goals with their progress, stages as a
sequence, check-in trends, a flow's own ratings in the summary and the pre/post report, and
a closed case's closing report."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from storage.casefile import CaseFile
from storage.records import Records
from templates.render import Renderer
from tests.studies import child_checkin, interview, session_record
from tests.test_records import clock as clock  # the fixture (a predictable clock)

AS_OF = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def bundled_only(monkeypatch):
    for name in ("CASEFLOW_FLOWS", "CASEFLOW_INSTRUMENTS", "CASEFLOW_TEMPLATES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def case_file(store, clock):
    def at(month, day, hour=9):
        clock.at(datetime(2026, month, day, hour, tzinfo=UTC))

    at(3, 2)
    worker = store.add_person("王芳", "worker")
    supervisor = store.add_person("陈丽", "supervisor")
    case = store.create_case("LBC-01", worker, title="小雨")
    store.add_member(case.id, supervisor, "supervisor", worker)
    grandma = store.add_person("陈秀英", "caregiver", lang="zh")
    store.add_member(case.id, grandma, "caregiver", worker)
    casefile = CaseFile(store)
    casefile.set_profile(
        case.id,
        worker,
        client_name="小雨",
        birth_year=2016,
        client_group="left_behind_child",
        caregiver="奶奶 陈秀英",
        worker_id=worker,
    )
    casefile.add_goal(
        case.id, "说出自己的情绪", area="情绪表达", target="能说出 6 种情绪", actor_id=worker
    )
    casefile.add_goal(case.id, "奶奶能回应情绪", area="家庭支持", actor_id=worker)
    return store, case, {"worker": worker, "supervisor": supervisor, "grandma": grandma}, at


def record(number, day, stage, goals, ratings):
    return session_record(
        number,
        day,
        stage,
        goals,
        ratings,
        setting="1",
        present="1",
        work="做了情绪卡片。",
        techniques="6",
        response="1",
        notes="愿意说。",
        observed="放松。",
        reflection="节奏合适。",
        next_steps="下周继续。",
    )


def test_every_record_carries_the_profile_and_says_when_there_is_no_consent(case_file):
    store, case, people, _at = case_file
    sid = interview(
        store, "child_checkin", case, people["grandma"], child_checkin("3", "1", "1", "0")
    )
    renderer = Renderer(store)
    text = renderer.session(sid, "md")
    assert "**服务对象**：小雨 · 约 10 岁 · 留守儿童 · 主要照顾者：奶奶 陈秀英" in text
    assert "⚠ 本个案尚未记录知情同意" in text
    assert "⚠ 本个案尚未记录知情同意" in renderer.case(case, "md", lang="zh", as_of=AS_OF)
    CaseFile(store).record_consent(
        case.id,
        agreed=True,
        by="陈秀英",
        role="caregiver",
        method="paper",
        on="2026-03-02",
        actor_id=people["worker"],
    )
    assert "知情同意" not in renderer.session(sid, "md")
    summary = renderer.case(case, "md", lang="zh", as_of=AS_OF)
    assert "**知情同意**：陈秀英（照顾者）于 2026年3月2日 书面签字同意" in summary
    CaseFile(store).record_consent(
        case.id,
        agreed=False,
        by="陈秀英",
        role="caregiver",
        method="spoken",
        on="2026-04-01",
        actor_id=people["worker"],
    )
    assert "⚠ 2026年4月1日 对方表示不同意或撤回了同意。" in renderer.session(sid, "md")


def test_the_age_in_a_record_is_the_age_on_the_day_of_the_session(case_file):
    store, case, people, _at = case_file
    sid = interview(
        store, "child_checkin", case, people["grandma"], child_checkin("3", "1", "1", "0")
    )
    record_view = json.loads(Renderer(store).session(sid, "json"))
    assert record_view["profile"]["age"] == "约 10 岁"  # 2026 - 2016, whatever year it is now


def test_a_session_record_shows_its_held_day_stage_and_the_supervisors_comment(case_file):
    store, case, people, at = case_file
    at(3, 12)
    sid = interview(
        store, "session_record", case, people["worker"], record(2, "2026-03-11", "2", "1", {1: "3"})
    )
    Records(store).sign(sid, people["supervisor"], comment="请补充奶奶的回应，下次写明依据。")
    renderer = Renderer(store)
    text = renderer.session(sid, "md")
    assert "- **会谈日期**：2026年3月11日 · 第 2 次\n" in text
    assert "- **介入阶段**：间接介入\n" in text
    assert "督导意见：请补充奶奶的回应，下次写明依据。" in text
    html = renderer.session(sid, "html")
    assert "督导意见：" in html and "请补充奶奶的回应，下次写明依据。" in html


def test_the_timeline_runs_by_the_day_a_session_was_held_not_the_day_it_was_typed(case_file):
    store, case, people, at = case_file
    at(3, 20)
    late = interview(
        store, "session_record", case, people["worker"], record(1, "2026-03-04", "1", "1", {1: "1"})
    )
    at(3, 10, 19)
    checkin = interview(
        store, "child_checkin", case, people["grandma"], child_checkin("3", "1", "1", "0")
    )
    view = json.loads(Renderer(store).case(case, "json", lang="zh", as_of=AS_OF))
    order = [e["session_id"] for e in view["timeline"]]
    assert order.index(late) < order.index(checkin)
    assert view["timeline"][order.index(late)]["day"] == "2026年3月4日"


def test_goals_show_their_progress_and_the_stages_run_in_the_order_held(case_file):
    store, case, people, at = case_file
    for n, (day, stage, goals, ratings) in enumerate(
        [
            ("2026-03-04", "1", "1", {1: "1"}),
            ("2026-03-11", "1", "1,2", {1: "2", 2: "1"}),
            ("2026-03-18", "2", "2", {2: "3"}),
            ("2026-03-25", "3", "1", {1: "4"}),
            ("2026-04-01", "1", "1", {1: "5"}),
        ],
        start=1,
    ):
        at(int(day[5:7]), int(day[8:]), 12)
        interview(
            store, "session_record", case, people["worker"], record(n, day, stage, goals, ratings)
        )
    view = json.loads(Renderer(store).case(case, "json", lang="zh", as_of=AS_OF))
    first, second = view["goals"]
    assert first["progress"] == "1 → 2 → 4 → 5 / 5" and first["sessions"] == 4
    assert next(r["day"] for r in first["ratings"]) == "2026年3月4日"
    assert second["progress"] == "1 → 3 / 5" and second["status_label"] == "进行中"
    runs = [(r["label"], r["sessions"]) for r in view["stage_runs"]]
    assert runs == [("直接介入", 2), ("间接介入", 1), ("巩固", 1), ("直接介入", 1)]
    md = Renderer(store).case(case, "md", lang="zh", as_of=AS_OF)
    assert "**直接介入**（2 次会谈） → **间接介入**（1 次会谈） → **巩固**（1 次会谈）" in md


def test_check_in_answers_are_charted_over_time_in_the_readers_language(case_file):
    store, case, people, at = case_file
    for day, mood, sleep in ((8, "2", "3"), (15, "3", "2"), (22, "5", "1")):
        at(3, day, 19)
        interview(
            store, "child_checkin", case, people["grandma"], child_checkin(mood, "1", sleep, "0")
        )
    renderer = Renderer(store)
    view = json.loads(renderer.case(case, "json", lang="en", as_of=AS_OF))
    trends = {t["item_id"]: t for t in view["trends"]}
    assert set(trends) == {"mood", "sleep", "school_days_missed"}
    assert [p["value"] for p in trends["mood"]["points"]] == [2, 3, 5]
    assert [p["value"] for p in trends["sleep"]["points"]] == [3, 2, 1]
    assert [p["text"] for p in trends["sleep"]["points"]] == [
        "Badly most nights",
        "Some bad nights",
        "Well",
    ]
    assert trends["sleep"]["scale"] == "Scale: 1 = Well; 2 = Some bad nights; 3 = Badly most nights"
    html = renderer.case(case, "html", lang="zh", as_of=AS_OF)
    assert html.count("<svg") == 3 and "定期问答的变化趋势" in html


def test_a_flows_own_ratings_are_in_the_summary_and_the_prepost_report(case_file):
    store, case, people, at = case_file
    ratings = {
        "start": ("1", "2 1 2 2 2 1 1 2 1"),
        "middle": ("2", "3 3 3 3 3 2 2 3 2"),
        "end": ("3", "4 4 4 4 4 3 4 4 4"),
    }
    keys = (
        "meaning",
        "outlook",
        "transcendence",
        "flexibility",
        "connectedness",
        "resources",
        "clarity",
        "sharing",
        "problem_solving",
    )
    for day, (point, scores) in zip((6, 20, 30), ratings.values(), strict=True):
        at(4, day, 12)
        answers = {"meeting_date": "今天", "review_point": point, "present": "1,3"}
        answers |= {f"{k}_notes": "说了。" for k in keys}
        answers |= {f"{k}_score": r for k, r in zip(keys, scores.split(), strict=True)}
        answers |= {"family_strengths": "一起扛。", "focus_area": "1", "next_step": "开家庭会议。"}
        interview(store, "family_resilience", case, people["worker"], answers)
    renderer = Renderer(store)
    report = renderer.prepost(case, "md", lang="zh", as_of=AS_OF)
    assert "## 家庭抗逆力评分（Walsh 框架）" in report
    assert "| 信念系统 | 1.67 | 4 | +2.33 |" in report
    assert "| 沟通与问题解决 | 1.33 | 4 | +2.67 |" in report
    assert "前测（2026年4月6日，前测）" in report and "后测（2026年4月30日，后测）" in report
    assert "此为评分而非标准化量表" in report
    (evaluation,) = json.loads(renderer.prepost(case, "json", lang="zh", as_of=AS_OF))[
        "evaluations"
    ]
    assert [p["phase"] for p in evaluation["administrations"]] == ["pre", "mid", "post"]
    summary = renderer.case(case, "md", lang="zh", as_of=AS_OF)
    assert "| 家庭抗逆力 | 2026年4月30日 | 后测 | **3.89** / 1–5 | — |" in summary


def test_the_pretest_is_the_administration_marked_pre_even_after_a_baseline(case_file):
    store, case, people, at = case_file
    keys = (
        "meaning",
        "outlook",
        "transcendence",
        "flexibility",
        "connectedness",
        "resources",
        "clarity",
        "sharing",
        "problem_solving",
    )
    for day, point, score in ((6, "2", "2"), (13, "1", "3"), (20, "3", "5"), (27, "4", "4")):
        at(4, day, 12)
        answers = {"meeting_date": "今天", "review_point": point, "present": "1"}
        answers |= {f"{k}_notes": "说了。" for k in keys} | {f"{k}_score": score for k in keys}
        answers |= {"family_strengths": "有。", "focus_area": "1", "next_step": "做。"}
        interview(store, "family_resilience", case, people["worker"], answers)
    (evaluation,) = json.loads(Renderer(store).prepost(case, "json", as_of=AS_OF))["evaluations"]
    assert (
        evaluation["pre"]["total"] == 3 and evaluation["post"]["total"] == 5
    )  # not mid, not follow-up


def test_a_closed_case_ends_with_its_closing_report(case_file, capsys):
    store, case, people, at = case_file
    at(5, 6, 10)
    interview(
        store,
        "closing_report",
        case,
        people["worker"],
        {
            "closing_date": "今天",
            "closing_reason": "1",
            "sessions_held": "8",
            "goals_met": "1",
            "goals_evidence": "会说出情绪了。",
            "prepost_summary": "关注程度下降。",
            "physio_concern": "1",
            "psych_concern": "2",
            "social_concern": "2",
            "client_view": "我会说了。",
            "family_view": "开朗了。",
            "satisfaction": "5",
            "worker_reflection": "还可以更早联系老师。",
            "referred": "否",
            "followup_plan": "六月回访。",
        },
    )
    renderer = Renderer(store)
    assert "## 结案" not in renderer.case(case, "md", lang="zh", as_of=AS_OF)
    CaseFile(store).close(case.id, people["worker"])
    text = renderer.case(store.case(case.id), "md", lang="zh", as_of=AS_OF)
    closing = text[text.index("## 结案\n") :]
    assert "- 王芳 于 2026年5月6日 结案" in closing and "### 结案报告" in closing
    assert "- **社工反思**：还可以更早联系老师。" in closing
    assert re.search(r"已结案\n", text)
    goals = json.loads(renderer.case(store.case(case.id), "json", lang="zh", as_of=AS_OF))["goals"]
    assert [g["status_label"] for g in goals] == ["已达成", "未达成"]
