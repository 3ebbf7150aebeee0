"""The desk's pages for workers and supervisors, through HTTP: caseload, case page, record
page with sign-off and amendment, schedules, invitations, exports, language."""

from __future__ import annotations

import io
import re
import string
import zipfile

import pytest

from desk.i18n import LABELS, LANGUAGES
from tests.deskkit import session_of


def rows_of(html: str, table_caption: str) -> list[str]:
    """The case codes listed in the caseload table with this caption."""
    start = html.index(table_caption)
    end = html.find("</table>", start)
    return re.findall(r'class="case-link" href="/cases/([^"]+)"', html[start:end])


def test_a_worker_sees_only_their_cases(desk):
    page = desk.signed_in(desk.team.worker).get("/caseload").text
    assert rows_of(page, "My cases") == ["LBC-07"]
    assert "EL-02" not in page
    other = desk.signed_in(desk.team.other_worker).get("/caseload").text
    assert rows_of(other, "My cases") == ["EL-02"]
    assert "LBC-07" not in other


def test_a_supervisor_sees_the_teams_cases_grouped_by_worker(desk):
    page = desk.signed_in(desk.team.supervisor).get("/caseload").text
    assert "My team&#39;s cases" in page or "My team's cases" in page
    assert rows_of(page, "Cases of Wang Fang") == ["LBC-07"]
    assert "EL-02" not in page  # Zhao Lei is not on Chen Li's team


def test_the_caseload_lists_members_last_contact_and_check_in_figures(desk):
    page = desk.signed_in(desk.team.worker).get("/caseload").text
    row = page[page.index('href="/cases/LBC-07"') :].split("</tr>")[0]
    assert "Li Guilan" in row and "caregiver" in row
    assert "18 Feb 2026" in row  # the post-test scales, the latest contact
    assert "none scheduled" in row


def test_the_caseload_searches_by_code_or_member_name_and_sorts(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.post("/cases", {"code": "AB-01", "title": "Zhou family"})
    assert rows_of(browser.get("/caseload?q=guilan").text, "My cases") == ["LBC-07"]
    assert rows_of(browser.get("/caseload?q=zhou").text, "My cases") == ["AB-01"]
    assert rows_of(browser.get("/caseload?q=lbc").text, "My cases") == ["LBC-07"]
    assert "No case matches" in browser.get("/caseload?q=nobody").text
    by_code = rows_of(browser.get("/caseload?sort=code").text, "My cases")
    by_code_desc = rows_of(browser.get("/caseload?sort=code&dir=desc").text, "My cases")
    assert by_code == ["AB-01", "LBC-07"] and by_code_desc == ["LBC-07", "AB-01"]
    latest_first = rows_of(browser.get("/caseload?sort=last&dir=desc").text, "My cases")
    assert latest_first == ["LBC-07", "AB-01"]  # AB-01 has never been contacted
    assert "EL-02" not in browser.get("/caseload?q=EL").text


def test_a_worker_opens_a_case_with_a_profile_and_a_check_in_flow(desk):
    browser = desk.signed_in(desk.team.worker)
    response = browser.post(
        "/cases",
        {
            "code": "lbc-12",
            "title": "Two brothers",
            "client_name": "Xiao Hu",
            "age": "7",
            "group": "left_behind_child",
            "checkin_flow": "child_checkin",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/cases/LBC-12?ok=case_opened"
    page = browser.get(response.headers["location"]).text
    assert "The case is open." in page
    assert "Two brothers" in page and "Xiao Hu" in page
    assert "Weekly check-in about the child" in page
    case = desk.call(lambda store: store.case_by_code("LBC-12"))
    assert case.facts == {"checkin_flow": "child_checkin"}  # the rest is the profile's
    # 7 years old by the desk's clock (20 Feb 2026)
    assert case.flow_facts["child_name"] == "Xiao Hu" and case.flow_facts["birth_year"] == 2019
    assert desk.call(lambda store: store.case_relations(case.id, desk.team.worker)) == {"worker"}


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"code": "LBC-07"}, "There is already a case LBC-07."),
        ({"code": "no spaces"}, "A case code is 1–20 letters"),
        ({"code": "OK-1", "age": "two"}, "Write the age (e.g. 8) or the year of birth"),
    ],
)
def test_a_new_case_with_a_bad_code_or_age_is_refused_with_the_reason(desk, form, message):
    browser = desk.signed_in(desk.team.worker)
    response = browser.post("/cases", form)
    assert response.status_code == 400
    assert message in response.text
    assert desk.call(lambda store: store.case_exists("OK-1")) is False


def test_an_empty_code_takes_the_next_free_number(desk):
    browser = desk.signed_in(desk.team.worker)
    response = browser.post("/cases", {"code": ""})
    assert response.headers["location"].startswith("/cases/C-0003")


def test_the_case_page_shows_profile_members_scores_charts_trends_and_timeline(desk):
    page = desk.signed_in(desk.team.worker).get("/cases/LBC-07").text
    assert "Xiao Yu" in page and "Li Guilan" in page
    charts = re.findall(r'<img src="(/cases/LBC-07/charts/[0-9a-f]{32}\.svg)"', page)
    assert len(charts) >= 3 + 3  # GAD-7, PHQ-9, WHO-5, and check-in trends
    assert "Mood this week" in page and "Sleep" in page
    assert "1 = Well; 2 = Some bad nights; 3 = Badly most nights" in page
    timeline = page[page.index('class="timeline"') :]
    assert timeline.count("Open record") == 10
    # one line per session: key answers, flags, scores
    assert "Mood this week: 5" in timeline
    assert "URGENT" in timeline and "PHQ-9 <strong>10</strong>" in timeline
    # newest first
    assert timeline.index("18 Feb 2026") < timeline.index("5 Jan 2026")


def test_charts_are_images_drawn_on_request_for_those_who_may_see_the_case(desk):
    page = desk.signed_in(desk.team.worker).get("/cases/LBC-07").text
    (first, *_) = re.findall(r'<img src="(/cases/LBC-07/charts/[0-9a-f]{32}\.svg)"', page)
    browser = desk.signed_in(desk.team.worker)
    svg = browser.get(first)
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith("<svg") and "Li Guilan" not in svg.text
    assert svg.headers["content-security-policy"].startswith("default-src 'none'")
    assert browser.get(first).text == svg.text  # drawn once, kept
    other = desk.signed_in(desk.team.other_worker)
    assert other.get(first).status_code == 404
    assert other.get(first.replace("LBC-07", "EL-02")).status_code == 404
    assert browser.get("/cases/LBC-07/charts/" + "0" * 32 + ".svg").status_code == 404
    assert desk.browser().get(first).status_code == 401


def test_a_session_in_progress_shows_the_stage_it_is_at(desk):
    page = desk.signed_in(desk.team.other_worker).get("/cases/EL-02").text
    assert "in progress" in page and "at “" in page


def test_schedules_are_added_paused_resumed_and_removed_in_the_clis_words(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    form = {
        "member": str(desk.team.caregiver),
        "flow": "child_checkin",
        "how": "weekly",
        "weekdays": "mon,thu",
        "at": "18:00",
        "window": "48h",
        "remind": "4h,24h",
        "quiet": "21:00-08:00",
    }
    response = browser.post("/cases/LBC-07/schedules", form)
    assert response.status_code == 303, response.text
    page = browser.get("/cases/LBC-07").text
    assert "weekly mon,thu at 18:00 Asia/Shanghai; window 48h; reminders 4h, 24h" in page
    assert "next: " in page
    (sid,) = re.findall(r"/cases/LBC-07/schedules/(\d+)/pause", page)
    assert browser.post(f"/cases/LBC-07/schedules/{sid}/pause").status_code == 303
    page = browser.get("/cases/LBC-07").text
    assert ">paused<" in page and f"/schedules/{sid}/resume" in page
    assert browser.post(f"/cases/LBC-07/schedules/{sid}/resume").status_code == 303
    assert browser.post(f"/cases/LBC-07/schedules/{sid}/remove").status_code == 303
    page = browser.get("/cases/LBC-07").text
    assert "Nothing is scheduled." in page
    actions = [r["action"] for r in desk.call(lambda s: s.audit_rows(desk.team.case.id))]
    for action in ("schedule.create", "schedule.pause", "schedule.resume", "schedule.remove"):
        assert action in actions


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"at": "25:00"}, "is not a time; write it like 18:00"),
        ({"flow": "session_record"}, "is answered by a worker"),
        ({"member": str(10**6)}, "is not a caregiver or client on this case"),
        ({"weekdays": "someday"}, "weekdays"),
    ],
)
def test_a_bad_schedule_is_refused_with_the_reason(desk, change, message):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    form = {"member": str(desk.team.caregiver), "flow": "child_checkin", "how": "weekly"}
    form |= {"weekdays": "mon", "at": "18:00", **change}
    response = browser.post("/cases/LBC-07/schedules", form)
    assert response.status_code == 400
    assert message in response.text
    assert "Nothing is scheduled." in response.text


def test_a_supervisor_sees_schedules_but_cannot_change_them(desk):
    worker = desk.signed_in(desk.team.worker)
    worker.get("/cases/LBC-07")
    form = {"member": str(desk.team.caregiver), "flow": "child_checkin", "how": "daily"}
    assert worker.post("/cases/LBC-07/schedules", form | {"at": "09:00"}).status_code == 303
    supervisor = desk.signed_in(desk.team.supervisor)
    page = supervisor.get("/cases/LBC-07").text
    assert "daily at 09:00" in page
    assert "/pause" not in page and "Add a schedule" not in page
    assert supervisor.post("/cases/LBC-07/schedules/1/pause").status_code == 404
    assert supervisor.post("/cases/LBC-07/schedules", form).status_code == 404


def test_a_worker_invites_a_caregiver_with_a_telegram_link_and_a_qr_code(desk):
    browser = desk.signed_in(desk.team.worker)
    browser.get("/cases/LBC-07")
    page = browser.post("/cases/LBC-07/invite", {"role": "caregiver"}).text
    (token,) = re.findall(r"https://t\.me/caseflow_test_bot\?start=([A-Za-z0-9_-]+)", page)[:1]
    assert '<img class="qr" src="data:image/svg+xml;base64,' in page
    row = desk.call(lambda store: store.invite(token))
    assert row["case_id"] == desk.team.case.id and row["role"] == "caregiver"


def test_without_the_bots_username_the_desk_says_how_to_invite(desk_template, tmp_path):
    from tests.desk_client import make_desk

    desk = make_desk(desk_template, tmp_path, bot_username=None)
    try:
        browser = desk.signed_in(desk.team.worker)
        assert "CASEFLOW_BOT_USERNAME" in browser.get("/cases/LBC-07").text
        response = browser.post("/cases/LBC-07/invite", {"role": "caregiver"})
        assert response.status_code == 400 and "CASEFLOW_BOT_USERNAME" in response.text
    finally:
        desk.backend.close()


def test_the_case_exports_as_a_printable_summary_and_as_tables(desk):
    browser = desk.signed_in(desk.team.supervisor)
    summary = browser.get("/cases/LBC-07/summary.html")
    assert summary.status_code == 200
    assert summary.headers["content-disposition"] == 'attachment; filename="case-LBC-07.html"'
    assert "<h1><bdi>LBC-07</bdi>" in summary.text and "<svg" in summary.text
    tables = browser.get("/cases/LBC-07/tables.zip")
    names = zipfile.ZipFile(io.BytesIO(tables.content)).namelist()
    assert sorted(names) == [f"LBC-07/{t}.csv" for t in ("answers", "items", "scores", "variables")]
    assert len(desk.audit("records.export")) == 1
    assert [r["detail"] for r in desk.audit("record.render")][-1].count('"kind":"case"') == 1


def test_every_view_of_personal_data_is_audited_with_ids_only(desk):
    browser = desk.signed_in(desk.team.worker)
    sid = desk.call(session_of, desk.team.case, "child_checkin")
    browser.get("/caseload")
    browser.get("/cases/LBC-07")
    browser.get(f"/records/{sid}")
    caseload = desk.audit("desk.caseload.view")
    case = desk.audit("desk.case.view")
    record = desk.audit("desk.record.view")
    assert [(r["actor_id"], r["entity_id"]) for r in caseload][-1] == (
        desk.team.worker,
        str(desk.team.worker),
    )
    assert [(r["actor_id"], r["case_id"]) for r in case] == [(desk.team.worker, desk.team.case.id)]
    assert [(r["actor_id"], r["entity_id"]) for r in record] == [(desk.team.worker, sid)]
    for row in caseload + case + record:
        assert row["at"]
        assert "Li Guilan" not in row["detail"] and "Wang" not in row["detail"]


def test_the_record_page_shows_the_rendered_record_with_sign_off_and_amend_forms(desk):
    sid = desk.call(session_of, desk.team.case, "child_checkin")
    page = desk.signed_in(desk.team.worker).get(f"/records/{sid}").text
    assert "Weekly check-in about the child" in page
    assert "Not signed off" in page
    assert 'action="/records/' + sid + '/sign"' in page
    assert 'action="/records/' + sid + '/amend"' in page
    assert '<link rel="stylesheet" href="/static/record.css">' in page
    assert "<style" not in page


def test_a_supervisor_signs_a_record_off_with_a_comment(desk):
    sid = desk.call(session_of, desk.team.case, "session_record")
    browser = desk.signed_in(desk.team.supervisor)
    browser.get(f"/records/{sid}")
    response = browser.post(f"/records/{sid}/sign", {"comment": "Good work; call the school."})
    assert response.status_code == 303
    page = browser.get(response.headers["location"]).text
    assert "The record is signed off." in page
    assert "Signed off by Chen Li" in page
    assert "Good work; call the school." in page
    assert 'action="/records/' + sid + '/sign"' not in page
    row = desk.call(lambda store: store._one("SELECT * FROM sessions WHERE id = ?", (sid,)))
    assert (row["signed_by"], row["sign_comment"]) == (
        desk.team.supervisor,
        "Good work; call the school.",
    )
    again = browser.post(f"/records/{sid}/sign", {"comment": ""})
    assert again.status_code == 400 and "was signed off at" in again.text
    case_page = browser.get("/cases/LBC-07").text
    assert "Good work; call the school." in case_page  # on the timeline too


def test_after_sign_off_an_amendment_needs_a_reason_and_shows_in_the_history(desk):
    sid = desk.call(session_of, desk.team.case, "child_checkin")
    browser = desk.signed_in(desk.team.worker)
    browser.get(f"/records/{sid}")
    assert browser.post(f"/records/{sid}/sign", {}).status_code == 303
    browser.get(f"/records/{sid}")
    refused = browser.post(f"/records/{sid}/amend", {"question": "mood", "value": "3"})
    assert refused.status_code == 400 and "say why the answer changes" in refused.text
    response = browser.post(
        f"/records/{sid}/amend",
        {"question": "mood", "value": "3", "reason": "Grandmother corrected it by phone"},
    )
    assert response.status_code == 303
    page = browser.get(response.headers["location"]).text
    history = page[page.index('id="history"') :]
    assert "Grandmother corrected it by phone" in history
    assert '<td class="num">2</td>' in history
    assert "Changes after the interview" in page


def test_an_answer_the_question_does_not_take_is_refused_with_its_choices(desk):
    sid = desk.call(session_of, desk.team.case, "child_checkin")
    browser = desk.signed_in(desk.team.worker)
    browser.get(f"/records/{sid}")
    response = browser.post(f"/records/{sid}/amend", {"question": "sleep", "value": "9"})
    assert response.status_code == 400
    assert "Well" in response.text and "Badly most nights" in response.text


def test_a_supervisor_may_sign_but_not_amend(desk):
    sid = desk.call(session_of, desk.team.case, "child_checkin")
    browser = desk.signed_in(desk.team.supervisor)
    page = browser.get(f"/records/{sid}").text
    assert "/amend" not in page
    assert (
        browser.post(f"/records/{sid}/amend", {"question": "mood", "value": "3"}).status_code == 404
    )


def test_an_unfinished_session_cannot_be_signed(desk):
    sid = desk.call(session_of, desk.team.other_case, "elder_checkin")
    browser = desk.signed_in(desk.team.other_worker)
    page = browser.get(f"/records/{sid}").text
    assert "not completed" in page and f"{sid}/sign" not in page
    response = browser.post(f"/records/{sid}/sign", {})
    assert response.status_code == 400 and "only a completed session" in response.text


def test_the_worker_chooses_chinese_for_every_page(desk):
    browser = desk.signed_in(desk.team.worker)
    response = browser.post("/language", {"lang": "zh", "next": "/cases/LBC-07"})
    assert response.headers["location"] == "/cases/LBC-07"
    page = browser.get("/cases/LBC-07").text
    assert '<html lang="zh-Hans">' in page
    assert "个案概览" in page and "服务时间线" in page and "定期问答的变化趋势" in page
    assert "退出登录" in page and "English" in page
    assert desk.call(lambda store: store.person(desk.team.worker)["lang"]) == "zh"
    caseload = browser.get("/caseload").text
    assert "我负责的个案" in caseload


def test_the_language_form_only_goes_back_to_this_site(desk):
    browser = desk.signed_in(desk.team.worker)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = browser.post("/language", {"lang": "en", "next": target})
        assert response.headers["location"] == "/caseload"


def test_every_desk_label_has_every_language_with_the_same_placeholders():
    formatter = string.Formatter()
    for key, texts in LABELS.items():
        assert set(texts) == set(LANGUAGES), key
        fields = {
            lang: {f for _, f, _, _ in formatter.parse(text) if f} for lang, text in texts.items()
        }
        assert fields["en"] == fields["zh"], key


def test_chinese_labels_use_full_width_punctuation():
    for key, texts in LABELS.items():
        zh = texts["zh"]
        if re.search(r"[\u4e00-\u9fff]", zh):
            assert not re.search(r"[\u4e00-\u9fff][,:;?!]", zh), (key, zh)


def test_the_inbox_lists_unacknowledged_flags_urgent_first_and_follow_ups_due(desk):
    page = desk.signed_in(desk.team.worker).get("/inbox").text
    flags = page[page.index('id="flags"') : page.index('id="followups"')]
    assert flags.index("URGENT") < flags.index("ATTENTION") < flags.index("Note")
    assert "Thoughts that you would be better off dead" in flags and "Several days" in flags
    followups = page[page.index('id="followups"') :]
    assert "Call the school" in followups and "overdue" in followups
    assert "Visit the grandmother" not in followups  # due next month
    assert "EL-02" not in page
    assert desk.audit("desk.inbox.view")[-1]["actor_id"] == desk.team.worker


def test_a_flag_is_acknowledged_with_what_was_done(desk):
    browser = desk.signed_in(desk.team.supervisor)
    page = browser.get("/inbox").text
    first = re.search(r'action="/inbox/flags/(\d+)/ack"', page).group(1)
    refused = browser.post(f"/inbox/flags/{first}/ack", {"note": ""})
    assert refused.status_code == 400 and "Say what was done" in refused.text
    response = browser.post(f"/inbox/flags/{first}/ack", {"note": "Called her; she is safe."})
    assert response.headers["location"] == "/inbox?ok=acked"
    page = browser.get("/inbox?ok=acked").text
    assert "The flag is acknowledged." in page
    assert f"/inbox/flags/{first}/ack" not in page
    row = desk.call(lambda s: s._one("SELECT * FROM flags WHERE id = ?", (int(first),)))
    assert (row["acknowledged_by"], row["ack_note"]) == (
        desk.team.supervisor,
        "Called her; she is safe.",
    )
    again = desk.signed_in(desk.team.worker)
    again.get("/inbox")
    assert again.post(f"/inbox/flags/{first}/ack", {"note": "me too"}).headers["location"] == (
        "/inbox?ok=acked_before"
    )


def test_a_follow_up_is_marked_done_from_the_inbox(desk):
    browser = desk.signed_in(desk.team.worker)
    page = browser.get("/inbox").text
    task = re.search(r'action="/inbox/followups/(\d+)/done"', page).group(1)
    response = browser.post(f"/inbox/followups/{task}/done", {"note": "Spoke to the teacher."})
    assert response.headers["location"] == "/inbox?ok=done"
    assert "Call the school" not in browser.get("/inbox").text


def test_another_workers_flags_and_follow_ups_answer_404(desk):
    page = desk.signed_in(desk.team.worker).get("/inbox").text
    flag = re.search(r'action="/inbox/flags/(\d+)/ack"', page).group(1)
    task = re.search(r'action="/inbox/followups/(\d+)/done"', page).group(1)
    other = desk.signed_in(desk.team.other_worker)
    assert "No open flags" in other.get("/inbox").text
    assert other.post(f"/inbox/flags/{flag}/ack", {"note": "x"}).status_code == 404
    assert other.post(f"/inbox/followups/{task}/done", {"note": "x"}).status_code == 404
    assert other.post("/inbox/flags/99999/ack", {"note": "x"}).status_code == 404
    row = desk.call(
        lambda s: s._one("SELECT acknowledged_at FROM flags WHERE id = ?", (int(flag),))
    )
    assert row["acknowledged_at"] is None


def test_the_caseload_counts_open_flags_and_overdue_follow_ups(desk):
    page = desk.signed_in(desk.team.worker).get("/caseload").text
    row = page[page.index('href="/cases/LBC-07"') :].split("</tr>")[0]
    flags, followups = re.findall(r'href="/inbox#(?:flags|followups)">(\d+)</a>', row)
    assert int(flags) >= 3 and followups == "1"


def test_the_case_page_links_the_interviews_a_worker_runs_in_the_browser(desk):
    page = desk.signed_in(desk.team.worker).get("/cases/LBC-07").text
    section = page[
        page.index('id="run-interview"') : page.index(
            "</section>", page.index('id="run-interview"')
        )
    ]
    assert "/cases/LBC-07/interview/session_record" in section
    assert "/cases/LBC-07/interview/intake_assessment" in section
    assert "/cases/LBC-07/interview/child_checkin" not in section  # the caregiver's own
    supervisor = desk.signed_in(desk.team.supervisor).get("/cases/LBC-07").text
    assert 'id="run-interview"' not in supervisor


def test_a_worker_gives_a_member_a_web_link_replaces_it_and_revokes_it(desk):
    browser = desk.signed_in(desk.team.worker)
    page = browser.get("/cases/LBC-07").text
    grandma = desk.team.caregiver
    assert f"/cases/LBC-07/weblinks/{grandma}/give" in page
    made = browser.post(f"/cases/LBC-07/weblinks/{grandma}/give")
    assert made.status_code == 200
    (url,) = re.findall(r'<code id="web-link">(http://testserver/r/[^<]+)</code>', made.text)
    assert '<img class="qr" src="data:image/svg+xml;base64,' in made.text
    assert url in made.text[made.text.index('id="forward-text"') :]
    respondent = desk.browser()
    assert respondent.get(url.removeprefix("http://testserver")).status_code == 200
    page = browser.get("/cases/LBC-07").text
    assert "link given" in page and f"/weblinks/{grandma}/revoke" in page
    again = browser.post(f"/cases/LBC-07/weblinks/{grandma}/replace")
    (new_url,) = re.findall(r'<code id="web-link">(http://testserver/r/[^<]+)</code>', again.text)
    assert new_url != url and "The old link no longer works." in again.text
    assert respondent.get(url.removeprefix("http://testserver")).status_code == 404
    browser.get("/cases/LBC-07")
    revoked = browser.post(f"/cases/LBC-07/weblinks/{grandma}/revoke")
    assert revoked.headers["location"] == "/cases/LBC-07?ok=link_revoked"
    assert respondent.get(new_url.removeprefix("http://testserver")).status_code == 404


def test_only_the_cases_worker_gives_web_links(desk):
    supervisor = desk.signed_in(desk.team.supervisor)
    page = supervisor.get("/cases/LBC-07").text
    assert "/weblinks/" not in page
    grandma = desk.team.caregiver
    assert supervisor.post(f"/cases/LBC-07/weblinks/{grandma}/give").status_code == 404
    other = desk.signed_in(desk.team.other_worker)
    other.get("/caseload")
    assert other.post(f"/cases/LBC-07/weblinks/{grandma}/give").status_code == 404
