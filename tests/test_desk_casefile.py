"""The case file on the desk, through HTTP: the profile set when a case is opened and changed
on the case page, consent recorded by hand, the plan's goals and their status, the stages as
held, closing with a closing report and reopening with a reason; who may do which, and the
words a mainland caseworker reads."""

from __future__ import annotations

import html
import re

import pytest

from casework.interviews import Interviews
from flows.outcome import Outcome
from flows.registry import FlowRegistry
from storage.casefile import CaseFile, write_outcome
from storage.store import Store
from tests.deskkit import administer, session_of

# The desk's clock in these tests is 20 Feb 2026 (tests/desk_client.py).
NEW_CASE = {
    "code": "LBC-12",
    "title": "Two brothers",
    "client_name": "Xiao Hu",
    "age": "8",
    "group": "left_behind_child",
    "caregiver": "grandmother, Zhou Lan",
    "checkin_flow": "child_checkin",
}


def section(page: str, element_id: str) -> str:
    """The part of a page from the element with this id to the end of its section."""
    start = page.index(f'id="{element_id}"')
    end = page.find("</section>", start)
    return page[start : end if end != -1 else len(page)]


def text_of(fragment: str) -> str:
    """What a person reads: the markup gone, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def profile_of(store: Store, code: str):
    return CaseFile(store).profile(store.case_by_code(code).id)


def closing_report(store: Store, code: str, worker: int) -> str:
    """A completed closing report on the case, written as the terminal would."""
    interviews = Interviews(store, FlowRegistry())
    return administer(interviews, "closing_report", store.case_by_code(code), worker, [])


def refused_actions(desk, person: int) -> list[str]:
    rows = [r for r in desk.audit("access.refused") if r["actor_id"] == person]
    return [re.search(r'"refused":"([^"]+)"', r["detail"]).group(1) for r in rows]


# -- opening a case with a profile -------------------------------------------------------------


def test_the_new_case_form_sets_the_profile_and_flows_see_the_clients_name(desk):
    browser = desk.signed_in(desk.team.worker)
    response = browser.post("/cases", NEW_CASE)
    assert response.headers["location"] == "/cases/LBC-12?ok=case_opened"
    profile = desk.call(profile_of, "LBC-12")
    assert (profile.client_name, profile.birth_year, profile.client_group) == (
        "Xiao Hu",
        2018,
        "left_behind_child",
    )
    assert profile.caregiver == "grandmother, Zhou Lan"
    assert profile.worker_id == desk.team.worker  # whoever opens the case is responsible
    case = desk.call(lambda store: store.case_by_code("LBC-12"))
    assert case.facts == {"checkin_flow": "child_checkin"}  # the rest lives in the profile
    assert case.flow_facts["client_name"] == "Xiao Hu"
    assert case.flow_facts["child_name"] == "Xiao Hu"  # a left-behind child is a child
    shown = text_of(section(browser.get(response.headers["location"]).text, "profile"))
    for text in (
        "Client Xiao Hu",
        "Age born 2018, about 8",
        "Group left-behind child",
        "Main caregiver grandmother, Zhou Lan",
        "Responsible worker Wang Fang",
        "Check-in Weekly check-in about the child",
    ):
        assert text in shown


@pytest.mark.parametrize("age", ["eight", "8.5", "1850", "2031", "12345", "-3"])
def test_a_bad_age_is_answered_with_a_message_and_keeps_what_was_typed(desk, age):
    browser = desk.signed_in(desk.team.worker)
    response = browser.post("/cases", NEW_CASE | {"age": age})
    assert response.status_code == 400
    assert "Write the age (e.g. 8) or the year of birth (e.g. 2017) in digits." in response.text
    form = response.text[response.text.index('class="new-case"') :]
    assert '<details class="new-case" open>' in response.text
    for name in ("code", "title", "client_name", "caregiver"):
        assert (
            f'name="{name}"' in form
            and f'value="{NEW_CASE[name].upper() if name == "code" else NEW_CASE[name]}"' in form
        )
    assert f'value="{age}"' in form
    assert '<option value="left_behind_child" selected>' in form
    assert '<option value="child_checkin" selected>' in form
    assert desk.call(lambda store: store.case_exists("LBC-12")) is False


def test_an_age_or_a_year_of_birth_both_set_the_birth_year(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.post("/cases", {"code": "A-1", "age": "9"})
    browser.post("/cases", {"code": "A-2", "age": "2017"})
    browser.post("/cases", {"code": "A-3", "age": ""})
    years = [desk.call(profile_of, code).birth_year for code in ("A-1", "A-2", "A-3")]
    assert years == [2017, 2017, None]


def test_a_group_not_on_the_list_is_refused(desk):
    browser = desk.signed_in(desk.team.worker)
    response = browser.post("/cases", NEW_CASE | {"group": "martians"})
    assert response.status_code == 400 and "Choose a group from the list." in response.text
    assert desk.call(lambda store: store.case_exists("LBC-12")) is False


# -- the profile on the case page -------------------------------------------------------------


def test_a_case_opened_before_profiles_offers_its_name_and_age_in_the_profile_form(desk):
    page = desk.signed_in(desk.team.worker).get("/cases/LBC-07").text
    form = section(page, "profile-form")
    assert 'name="client_name" maxlength="80" value="Xiao Yu"' in form
    assert 'name="age" inputmode="numeric" maxlength="10" value="9"' in form
    shown = text_of(section(page, "profile"))
    assert "Client Xiao Yu" in shown and "Age 9" in shown


def test_the_profile_is_changed_from_the_case_page(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    form = {
        "client_name": "Xiao Yu",
        "age": "2016",
        "group": "left_behind_child",
        "caregiver": "grandmother, Li Guilan",
        "worker_id": str(desk.team.worker),
    }
    response = browser.post("/cases/LBC-07/profile", form)
    assert response.headers["location"] == "/cases/LBC-07?ok=profile_saved"
    page = browser.get(response.headers["location"]).text
    assert "The profile is saved." in page
    shown = text_of(section(page, "profile"))
    assert "Age born 2016, about 10" in shown
    assert "Main caregiver grandmother, Li Guilan" in shown
    assert shown.count("Xiao Yu") == 1
    profile = desk.call(profile_of, "LBC-07")
    assert (profile.birth_year, profile.worker_id) == (2016, desk.team.worker)
    assert desk.audit("case.profile.edit")[-1]["actor_id"] == desk.team.worker
    assert "Li Guilan" not in desk.audit("case.profile.edit")[-1]["detail"]


@pytest.mark.parametrize("who", ["caregiver", "other_worker", "nobody"])
def test_the_responsible_worker_must_be_a_worker_on_the_case(desk, who):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    person = "999999" if who == "nobody" else str(getattr(desk.team, who))
    form = {"client_name": "Xiao Yu (typed)", "age": "9", "group": "", "caregiver": "Gran"}
    response = browser.post("/cases/LBC-07/profile", form | {"worker_id": person})
    assert response.status_code == 400
    assert "The responsible worker must be one of the workers on this case." in response.text
    kept = section(response.text, "profile-form")
    assert '<details id="profile-form" open>' in response.text
    assert 'value="Xiao Yu (typed)"' in kept and 'value="Gran"' in kept
    assert desk.call(profile_of, "LBC-07") is None  # nothing saved


def test_the_responsible_worker_is_chosen_from_the_cases_workers(desk):
    page = desk.signed_in(desk.team.worker).get("/cases/LBC-07").text
    choices = re.findall(r'<option value="(\d+)"', section(page, "profile-form"))
    assert choices == [str(desk.team.worker)]  # not the grandmother, not another worker


# -- consent -------------------------------------------------------------------------------


def test_consent_recorded_from_the_form_shows_on_the_page_and_the_warning_goes(desk):
    browser = desk.signed_in(desk.team.worker)
    page = browser.get("/cases/LBC-07").text
    assert 'id="consent-warning"' in page and "No consent recorded" in page
    assert 'action="/cases/LBC-07/interview/consent/start"' in page
    form = {"by": "Li Guilan", "role": "caregiver", "method": "paper", "on": "2026-01-05"}
    response = browser.post("/cases/LBC-07/consent", form)
    assert response.headers["location"] == "/cases/LBC-07?ok=consent_recorded"
    page = browser.get(response.headers["location"]).text
    assert "The consent is recorded." in page
    assert 'id="consent-warning"' not in page and "No consent recorded" not in page
    assert "given by Li Guilan (caregiver), signed on paper, 5 Jan 2026" in page
    consent = desk.call(lambda store: CaseFile(store).consent(desk.team.case.id))
    assert (consent.agreed, consent.method, consent.recorded_by) == (
        True,
        "paper",
        desk.team.worker,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"by": ""}, "Say who agreed."),
        ({"on": "5/1/2026"}, "Write the date like 2026-03-02."),
        ({"on": "2026-02-21"}, "The day of consent cannot be after today."),
        ({"method": "telepathy"}, "unknown way of agreeing"),
    ],
)
def test_a_consent_the_form_cannot_hold_is_refused_and_keeps_what_was_typed(desk, change, message):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    form = {"by": "Li Guilan", "role": "guardian", "method": "spoken", "on": "2026-01-05"}
    response = browser.post("/cases/LBC-07/consent", form | change)
    assert response.status_code == 400 and message in response.text
    kept = section(response.text, "consent-form")
    assert f'value="{(form | change)["by"]}"' in kept
    assert '<option value="guardian" selected>' in kept
    assert desk.call(lambda store: CaseFile(store).consent(desk.team.case.id)) is None


# -- plan and goals ------------------------------------------------------------------------


def test_a_worker_adds_a_goal_and_changes_its_status(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    goal = {
        "title": "Xiao Yu tells her grandmother when she is sad",
        "area": "RSCA: emotional reactivity",
        "activities": "Feelings cards; a weekly call with her mother",
        "target": "Tells someone at least once a week",
    }
    response = browser.post("/cases/LBC-07/goals", goal)
    assert response.headers["location"] == "/cases/LBC-07?ok=goal_added"
    page = browser.get(response.headers["location"]).text
    plan = text_of(section(page, "plan"))
    for value in goal.values():
        assert value in plan
    assert "not rated yet" in plan
    response = browser.post("/cases/LBC-07/goals/1/status", {"status": "partly_met"})
    assert response.headers["location"] == "/cases/LBC-07?ok=goal_status_changed"
    page = browser.get(response.headers["location"]).text
    assert '<option value="partly_met" selected>partly met</option>' in section(page, "goal-1")
    goals = desk.call(lambda store: CaseFile(store).goals(desk.team.case.id))
    assert [(g.number, g.status) for g in goals] == [(1, "partly_met")]


def test_a_goal_needs_a_title_and_a_status_from_the_list(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    response = browser.post("/cases/LBC-07/goals", {"title": " ", "target": "typed target"})
    assert response.status_code == 400 and "A goal needs a title." in response.text
    assert 'value="typed target"' in section(response.text, "goal-form")
    browser.post("/cases/LBC-07/goals", {"title": "Sleeps better"})
    refused = browser.post("/cases/LBC-07/goals/1/status", {"status": "finished"})
    assert refused.status_code == 400 and "unknown status" in refused.text
    missing = browser.post("/cases/LBC-07/goals/7/status", {"status": "met"})
    assert missing.status_code == 400 and "has no goal 7" in missing.text


def _rate(store: Store, case_id: int, ratings: list[tuple[str, str, int]]) -> None:
    """Progress ratings of goal 1, as completed session records would set them."""
    sessions = [
        s["id"]
        for s in store._all(
            "SELECT id FROM sessions WHERE case_id = ? AND status = 'completed'"
            " AND flow_id = 'child_checkin' ORDER BY started_at",
            (case_id,),
        )
    ]
    for sid, (day, stage, rating) in zip(sessions, ratings, strict=False):
        outcome = Outcome(held_on=day, stage=stage, goals={1: rating}, goal_ranges={1: (1, 5)})
        with store.atomic():
            write_outcome(store, sid, case_id, outcome, None)


def test_goals_show_their_progress_trail_and_the_stages_as_held(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    browser.post("/cases/LBC-07/goals", {"title": "Sleeps through the night"})
    ratings = [
        ("2026-01-06", "direct", 2),
        ("2026-01-13", "direct", 3),
        ("2026-01-20", "indirect", 4),
    ]
    desk.call(_rate, desk.team.case.id, ratings)
    page = browser.get("/cases/LBC-07").text
    assert "2 → 3 → 4 / 5" in text_of(section(page, "goal-1"))
    stages = text_of(section(page, "stages"))
    assert "direct intervention ×2" in stages and "indirect intervention ×1" in stages
    assert stages.index("direct intervention ×2") < stages.index("indirect intervention ×1")


# -- who may change the case file --------------------------------------------------------------

FORGED = [
    ("/cases/LBC-07/profile", {"client_name": "x", "age": "", "group": "", "caregiver": ""}),
    ("/cases/LBC-07/consent", {"by": "x", "role": "client", "method": "paper", "on": "2026-01-05"}),
    ("/cases/LBC-07/goals", {"title": "x"}),
    ("/cases/LBC-07/goals/1/status", {"status": "met"}),
    ("/cases/LBC-07/close", {}),
    ("/cases/LBC-07/reopen", {"reason": "x"}),
]


def test_a_supervisor_sees_the_case_file_without_its_forms_and_a_forged_post_is_404(desk):
    worker = desk.signed_in(desk.team.worker)
    worker.get("/cases/LBC-07")
    worker.post("/cases/LBC-07/goals", {"title": "Sleeps better"})
    supervisor = desk.signed_in(desk.team.supervisor)
    page = supervisor.get("/cases/LBC-07").text
    assert "Sleeps better" in section(page, "plan")
    for form_id in ("profile-form", "consent-form", "goal-form", "close-form", "reopen-form"):
        assert f'id="{form_id}"' not in page
    assert "/goals/1/status" not in page and "/interview/" not in page
    for path, form in FORGED:
        assert supervisor.post(path, form).status_code == 404, path
    assert set(refused_actions(desk, desk.team.supervisor)) == {
        "case.profile.edit",
        "consent.record",
        "plan.edit",
        "case.close",
    }
    goals = desk.call(lambda store: CaseFile(store).goals(desk.team.case.id))
    assert [(g.title, g.status) for g in goals] == [("Sleeps better", "active")]
    assert desk.call(profile_of, "LBC-07") is None
    assert desk.call(lambda store: store.case(desk.team.case.id).status) == "open"


def test_a_worker_on_another_case_gets_404_for_every_case_file_form(desk):
    other = desk.signed_in(desk.team.other_worker)
    other.get("/caseload")
    for path, form in FORGED:
        assert other.post(path, form).status_code == 404, path


@pytest.mark.parametrize(("path", "form"), FORGED)
def test_a_case_file_form_without_its_csrf_token_is_refused(desk, path, form):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    assert browser.post(path, form, csrf=False).status_code == 403
    assert browser.post(path, form | {"csrf": "0" * 64}).status_code == 403
    assert desk.call(profile_of, "LBC-07") is None
    assert desk.call(lambda store: CaseFile(store).goals(desk.team.case.id)) == []
    assert desk.call(lambda store: CaseFile(store).consent(desk.team.case.id)) is None


# -- closing and reopening -----------------------------------------------------------------


def _schedule(browser) -> None:
    form = {"member": str(browser.desk.team.caregiver), "flow": "child_checkin", "how": "daily"}
    assert browser.post("/cases/LBC-07/schedules", form | {"at": "18:00"}).status_code == 303


def test_closing_needs_a_closing_report_then_closes_and_pauses_the_check_ins(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    _schedule(browser)
    page = browser.get("/cases/LBC-07").text
    closing = section(page, "close-form")
    assert "There is no closing report since the case was opened: write one first." in closing
    assert 'action="/cases/LBC-07/interview/closing_report/start"' in closing
    assert 'id="close-case"' not in closing
    refused = browser.post("/cases/LBC-07/close")
    assert refused.status_code == 400
    assert "There is no closing report since the case was opened" in refused.text
    assert desk.call(lambda store: store.case(desk.team.case.id).status) == "open"

    report = desk.call(closing_report, "LBC-07", desk.team.worker)
    page = browser.get("/cases/LBC-07").text
    closing = section(page, "close-form")
    assert "The closing report is written." in closing and f"/records/{report}" in closing
    response = browser.post("/cases/LBC-07/close")
    assert response.headers["location"] == "/cases/LBC-07?ok=case_closed"
    page = browser.get(response.headers["location"]).text
    assert "The case is closed. Its scheduled check-ins are paused (listed below)." in page
    assert 'id="closed-banner"' in page and "This case is closed." in page
    closed = text_of(section(page, "closing"))
    assert "Closing paused these scheduled check-ins: #1 Li Guilan" in closed
    assert f'href="/records/{report}" id="closing-report-link"' in page
    assert 'action="/cases/LBC-07/reopen"' in page
    state = desk.call(lambda store: store._one("SELECT paused_at FROM schedules WHERE id = 1"))
    assert state["paused_at"] is not None
    again = browser.post("/cases/LBC-07/close")
    assert again.status_code == 400 and "The case is closed already." in again.text


def test_a_case_without_check_ins_says_none_were_paused(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    desk.call(closing_report, "LBC-07", desk.team.worker)
    response = browser.post("/cases/LBC-07/close")
    assert response.headers["location"] == "/cases/LBC-07?ok=case_closed_none"


def test_reopening_requires_a_reason_and_leaves_the_check_ins_paused(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    _schedule(browser)
    desk.call(closing_report, "LBC-07", desk.team.worker)
    browser.post("/cases/LBC-07/close")
    browser.get("/cases/LBC-07")
    refused = browser.post("/cases/LBC-07/reopen", {"reason": "  "})
    assert refused.status_code == 400 and "Say why the case is reopened." in refused.text
    assert '<details id="reopen-form" open>' in refused.text
    assert desk.call(lambda store: store.case(desk.team.case.id).status) == "closed"
    response = browser.post("/cases/LBC-07/reopen", {"reason": "She stopped going to school"})
    assert response.headers["location"] == "/cases/LBC-07?ok=case_reopened_paused"
    page = browser.get(response.headers["location"]).text
    assert "resume those still wanted below" in page
    assert "She stopped going to school" in text_of(section(page, "closing"))
    assert 'id="closed-banner"' not in page
    assert "There is no closing report since the case was opened" in page  # a new one
    assert "/schedules/1/resume" in page
    assert desk.call(lambda store: store.case(desk.team.case.id).status) == "open"


def test_a_closed_case_shows_its_plan_read_only_and_refuses_a_new_goal(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    browser.post("/cases/LBC-07/goals", {"title": "Sleeps better"})
    desk.call(closing_report, "LBC-07", desk.team.worker)
    browser.post("/cases/LBC-07/close")
    page = browser.get("/cases/LBC-07").text
    plan = section(page, "plan")
    assert "Sleeps better" in plan and "The case is closed: its plan is shown as it was." in plan
    assert 'id="goal-form"' not in page and "/goals/1/status" not in page
    refused = browser.post("/cases/LBC-07/goals", {"title": "Another goal"})
    assert refused.status_code == 400
    assert "The case is closed: reopen it to change its plan." in refused.text
    status = browser.post("/cases/LBC-07/goals/1/status", {"status": "met"})
    assert status.status_code == 400
    goals = desk.call(lambda store: CaseFile(store).goals(desk.team.case.id))
    assert [g.title for g in goals] == ["Sleeps better"]


def test_a_closed_case_offers_only_the_follow_up_interview(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    desk.call(closing_report, "LBC-07", desk.team.worker)
    browser.post("/cases/LBC-07/close")
    page = browser.get("/cases/LBC-07").text
    offered = re.findall(r"/cases/LBC-07/interview/([a-z_]+)", page)
    assert set(offered) == {"followup_visit"}
    assert 'id="start-followup"' in page
    started = browser.post("/cases/LBC-07/interview/followup_visit/start")
    assert started.status_code == 303
    assert started.headers["location"].startswith("/cases/LBC-07/interview/followup_visit")


def test_the_closing_report_interview_starts_from_the_case_page(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    started = browser.post("/cases/LBC-07/interview/closing_report/start")
    assert started.status_code == 303
    page = browser.get(started.headers["location"])
    assert page.status_code == 200 and "Closing report" in page.text


def test_a_closed_case_does_not_start_another_interview(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    desk.call(closing_report, "LBC-07", desk.team.worker)
    browser.post("/cases/LBC-07/close")
    refused = browser.post("/cases/LBC-07/interview/session_record/start")
    assert refused.status_code == 303
    page = browser.get(refused.headers["location"]).text
    assert "Case LBC-07 is closed: it takes only a follow-up visit." in page
    assert 'href="/cases/LBC-07"' in page and "Start" not in page
    sessions = desk.call(
        lambda store: store._all(
            "SELECT id FROM sessions WHERE case_id = ? AND flow_id = 'session_record'"
            " AND status != 'completed'",
            (desk.team.case.id,),
        )
    )
    assert sessions == []


# -- words ---------------------------------------------------------------------------------


def test_the_case_file_reads_as_a_mainland_caseworker_writes(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.post("/language", {"lang": "zh", "next": "/cases/LBC-07"})
    page = browser.get("/cases/LBC-07").text
    for words in (
        "基本信息",
        "知情同意",
        "服务计划与目标",
        "介入阶段进程",
        "结案",
        "未记录知情同意",
    ):
        assert words in page, words
    assert "登记书面或口头知情同意" in page and "新增服务目标" in page
    assert "本个案开案以来还没有结案报告，请先填写结案报告。" in page
    desk.call(closing_report, "LBC-07", desk.team.worker)
    browser.get("/cases/LBC-07")
    browser.post("/cases/LBC-07/close")
    page = browser.get("/cases/LBC-07").text
    assert "重新开案（请写明原因）" in page and "本个案已结案。" in page
    refused = browser.post("/cases/LBC-07/reopen", {"reason": ""})
    assert "未保存：请写明重新开案的原因。" in refused.text


def test_the_supervisors_sign_off_comment_is_called_the_supervisors_comment(desk):
    sid = desk.call(session_of, desk.team.case, "session_record")
    supervisor = desk.signed_in(desk.team.supervisor)
    supervisor.post("/language", {"lang": "zh", "next": "/caseload"})
    page = supervisor.get(f"/records/{sid}").text
    assert "督导意见（选填）" in page and "审核意见" not in page
    supervisor.post(f"/records/{sid}/sign", {"comment": "请补充老师的反馈。"})
    case_page = supervisor.get("/cases/LBC-07").text
    assert "督导意见：<bdi>请补充老师的反馈。</bdi>" in case_page
    record = supervisor.get(f"/records/{sid}").text
    assert "督导意见：" in record and "审核意见" not in record
    english = desk.signed_in(desk.team.worker).get("/cases/LBC-07").text
    assert "Supervisor&#39;s comment: <bdi>请补充老师的反馈。</bdi>" in english


def test_a_closed_case_schedules_no_check_ins_until_it_is_reopened(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    _schedule(browser)
    desk.call(closing_report, "LBC-07", desk.team.worker)
    browser.post("/cases/LBC-07/close")
    page = browser.get("/cases/LBC-07").text
    assert "/schedules/1/resume" not in page and 'class="add-schedule"' not in page
    forged = browser.post("/cases/LBC-07/schedules/1/resume")
    assert forged.status_code == 400
    assert "case LBC-07 is closed; reopen it" in html.unescape(forged.text)
    state = desk.call(lambda store: store._one("SELECT paused_at FROM schedules WHERE id = 1"))
    assert state["paused_at"] is not None, "still paused"
    form = {"member": str(desk.team.caregiver), "flow": "child_checkin", "how": "daily"}
    refused = browser.post("/cases/LBC-07/schedules", form | {"at": "18:00"})
    assert refused.status_code == 400 and "is closed; reopen it" in html.unescape(refused.text)
    count = desk.call(lambda store: store._one("SELECT COUNT(*) AS n FROM schedules"))["n"]
    assert count == 1, "no new schedule on a closed case"
