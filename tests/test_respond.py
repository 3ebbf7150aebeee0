"""A member's web link, through HTTP: what the pages show, what a posted form does, and what
it refuses. The pages run on their own database thread, as in production, on a clock the
test sets; ``web.db(fn)`` looks at the database on that thread."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from casework import schedules as schedule_actions
from casework import weblinks
from desk.respond import RedactLinks
from flows.recurrence import Recurrence
from flows.registry import FlowRegistry
from storage.schedules import Schedules
from tests.webpages import Clock, Page, Web

DUE = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)  # Monday 18:00 in Shanghai
CLOSE = DUE + timedelta(hours=48)
WEEKLY = Recurrence.model_validate(
    {"kind": "weekly", "weekdays": "mon", "at": "18:00", "tz": "Asia/Shanghai", "window": "48h"}
)

# Every kind of question a page lays out, in one small flow (a caregiver answers it).
WIDGETS = """\
id: widgets
version: 1
title: {en: Widgets, zh: 小部件}
respondent: caregiver
languages: [en, zh]
stages:
  - id: s1
    title: {en: All kinds, zh: 各种题}
    items:
      - id: hello
        type: note
        prompt: {en: A few questions., zh: 几个问题。}
      - id: places
        type: multi
        prompt: {en: "Where did you go?", zh: 去了哪些地方？}
        options:
          - {value: market, label: {en: Market, zh: 菜市场}}
          - {value: park, label: {en: Park, zh: 公园}}
          - {value: clinic, label: {en: Clinic, zh: 卫生院}}
        validation: {max: 2}
      - id: visit_day
        type: date
        prompt: {en: "When did the worker last visit?", zh: 社工上次什么时候来的？}
      - id: worry
        type: scale
        min: 0
        max: 4
        anchors:
          0: {en: Not at all, zh: 一点也不}
          4: {en: Very much, zh: 非常}
        prompt: {en: "How worried are you?", zh: 您有多担心？}
      - id: weight
        type: number
        unit: {en: kg, zh: 公斤}
        validation: {min: 1, max: 200}
        prompt: {en: "The child's weight?", zh: 孩子的体重？}
      - id: remarks
        type: text
        required: false
        prompt: {en: "Anything else?", zh: 还有别的吗？}
"""


class Site:
    """Case LBC-07: worker 王芳, caregiver 李奶奶 (Chinese, no Telegram) with a weekly
    check-in due Monday 18:00 and her link; a second caregiver, Uncle, with his own."""

    def __init__(self, web: Web) -> None:
        self.web = web

        def setup(store):
            registry = web.registry
            worker = store.add_person("王芳", "worker", lang="zh")
            case = store.create_case("LBC-07", worker, facts={"child_name": "小明"})
            granny = weblinks.add_member(store, worker, case, "李奶奶", "caregiver", "zh")
            uncle = weblinks.add_member(store, worker, case, "Uncle", "caregiver", "en")
            made = DUE - timedelta(days=3)
            ids = {}
            for member, key in ((granny, "granny"), (uncle, "uncle")):
                ids[key + "_schedule"] = schedule_actions.create(
                    store,
                    registry,
                    worker,
                    case.id,
                    member.person_id,
                    "child_checkin",
                    WEEKLY,
                    made,
                ).id
            ids |= {
                "worker": worker,
                "case": case.id,
                "granny": granny.person_id,
                "uncle": uncle.person_id,
                "granny_link": weblinks.create(store, worker, case, granny.person_id, made).token,
                "uncle_link": weblinks.create(store, worker, case, uncle.person_id, made).token,
            }
            return ids

        self.ids = web.db(setup)

    def __getattr__(self, name: str):
        try:
            return self.ids[name]
        except KeyError:
            raise AttributeError(name) from None

    def home(self, who: str = "granny") -> Page:
        return self.web.get(f"/r/{self.ids[who + '_link']}")

    def answers(self, person: str = "granny") -> dict[str, object]:
        def read(store):
            (row,) = [
                r
                for r in store.sessions_of_case(self.case)
                if r["respondent_id"] == self.ids[person]
            ]
            return {
                a["question_id"]: json.loads(a["value"]) if a["value"] else None
                for a in store.current_answers(row["id"])
            }

        return self.web.db(read)

    def history(self, person: str = "granny") -> list[tuple[str, object]]:
        def read(store):
            rows = [
                r
                for r in store.sessions_of_case(self.case)
                if r["respondent_id"] == self.ids[person]
            ]
            return [
                (a["question_id"], json.loads(a["value"]) if a["value"] else None)
                for r in rows
                for a in store.answer_history(r["id"])
            ]

        return self.web.db(read)

    def audit(self) -> list[dict]:
        return self.web.db(lambda store: store.audit_rows())


@pytest.fixture
def clock():
    return Clock(DUE + timedelta(minutes=30))


@pytest.fixture
def site(tmp_path, clock):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "widgets.yaml").write_text(WIDGETS, encoding="utf-8")
    web = Web(tmp_path / "web.db", clock, FlowRegistry([flows]))
    yield Site(web)
    web.close()


# -- the link opens the member's check-in --------------------------------------------------------


def test_the_link_opens_the_due_check_in_in_the_members_language(site):
    page = site.home()
    assert page.status == 200
    assert page.question == "李奶奶，您好！"
    assert "现在可以填写： 孩子每周情况小调查 3月18日 18:00 前填好就行。" in page.text
    assert "Uncle" not in page.text


def test_a_caregiver_answers_the_whole_check_in_and_it_is_stored_as_on_telegram(site):
    page = site.home().press("开始填写")
    assert re.fullmatch(r"1/(\d+) 第 1 题，共 \1 题 · 心情", page.progress)
    assert page.question == "这一周孩子的心情怎么样？"
    assert [b for b in page.buttons() if b[0] in "😢🙁😐🙂😄"] == [
        "😢很不开心",
        "🙁",
        "😐一般",
        "🙂",
        "😄很开心",
    ]
    page = page.press("🙂")
    page = page.press("选好了 ✓", tick=("哭或者发脾气",))
    assert page.question == "发生了什么事？简单说几句就可以。"
    page = page.press("下一题", text="晚上想妈妈，哭了")
    page = page.press("有几晚睡不好")
    page = page.press("下一题", text="0")
    page = page.press("否")
    assert page.question == "请核对一下您的回答："
    assert "本周心情 4 🙂" in page.text and "发生的事 晚上想妈妈，哭了" in page.text
    page = page.press("✅ 提交")
    assert page.notices == ["谢谢您！都填好了，回答已经保存。"]
    assert "现在没有要填写的内容" in page.text
    assert site.answers() == {
        "mood": 4,
        "expression": ["cried"],
        "expression_detail": "晚上想妈妈，哭了",
        "sleep": "some_bad_nights",
        "school_days_missed": 0,
        "has_worries": False,
    }

    def check(store):
        (session,) = [
            r for r in store.sessions_of_case(site.case) if r["respondent_id"] == site.granny
        ]
        kinds = [e["kind"] for e in Schedules(store).events(site.granny_schedule, DUE)]
        return session["channel"], session["status"], kinds

    assert site.web.db(check) == (
        "web",
        "completed",
        ["due", "started", "completed"],
    )


def test_back_returns_to_the_previous_question_and_shows_the_answer_given(site):
    page = site.home().press("开始填写").press("😄")
    page = page.press("⬅ 上一题")
    assert page.question == "这一周孩子的心情怎么样？"
    assert page.buttons()[2].startswith("✓ 保持：5")
    page = page.press("✓ 保持")
    assert page.question == "孩子遇到不高兴的事时，是怎么表现的？可以选几个。"
    assert site.history() == [("mood", 5)]


def test_pause_then_carry_on_later_from_the_same_link(site):
    page = site.home().press("开始填写").press("🙂")
    page = page.press("⏸ 先暂停")
    assert page.notices == ["已暂停，您的回答都保存好了。想接着填的时候，再点开同一个链接就行。"]
    assert "还没填完的： 孩子每周情况小调查 已暂停，之前的回答都保存好了。" in page.text
    page = site.home().press("接着填")
    assert re.fullmatch(
        r"欢迎回来。您上次答到第 2 题（共 \d+ 题）：不高兴时的表现", page.notices[0]
    )
    assert page.question == "孩子遇到不高兴的事时，是怎么表现的？可以选几个。"


def test_the_language_switch_asks_the_same_question_in_english(site):
    page = site.home().press("开始填写")
    page = page.press("English")
    assert page.question == "How has the child's mood been this week?"
    assert re.match(r"1/\d+ Question 1 of \d+ · Mood", page.progress)
    assert site.web.db(lambda store: store.person(site.granny)["lang"]) == "en"


# -- the engine's rules, in the browser ------------------------------------------------------------


def test_validation_messages_are_the_engines_and_the_typed_text_is_kept(site):
    page = (
        site.home()
        .press("开始填写")
        .press("🙂")
        .press("选好了 ✓", tick=("跟人说出来",))
        .press("睡得好")
    )
    page = page.press("下一题", text="9")
    assert page.error == "请输入 0 到 7 之间的天数。"
    assert page.field("text") == "9"
    page = page.press("下一题", text="很多")
    assert page.error == "请输入一个数字，例如 3。"
    page = page.press("下一题", text="")
    assert page.error == "请回答这个问题。"
    assert "school_days_missed" not in site.answers()


def test_a_long_answer_is_refused_with_its_length_and_kept_in_the_box(site):
    page = site.home().press("开始填写").press("🙂").press("选好了 ✓", tick=("哭或者发脾气",))
    long = "她" * 4001
    page = page.press("下一题", text=long)
    assert page.error == "这个回答有 4001 个字，请控制在 4000 字以内。"
    assert page.field("text") == long


def test_only_an_optional_question_can_be_skipped(site):
    page = site.home().press("开始填写")
    assert "跳过 ➡" not in page.buttons()
    page = page.press("🙂").press("选好了 ✓", tick=("哭或者发脾气",))
    page = page.press("跳过 ➡")
    assert page.question == "这一周孩子睡得怎么样？"
    assert site.history() == [("mood", 4), ("expression", ["cried"]), ("expression_detail", None)]


def test_typed_text_is_an_answer_even_when_it_looks_like_a_command(site):
    page = site.home().press("开始填写").press("🙂").press("选好了 ✓", tick=("哭或者发脾气",))
    page = page.press("下一题", text="/skip")
    assert page.question == "这一周孩子睡得怎么样？"
    assert site.answers()["expression_detail"] == "/skip"


def test_every_kind_of_question_is_laid_out_and_read_back(site, clock):
    def schedule(store):
        return schedule_actions.create(
            store,
            site.web.registry,
            site.worker,
            site.case,
            site.granny,
            "widgets",
            WEEKLY,
            DUE - timedelta(days=3),
        ).id

    schedule_id = site.web.db(schedule)
    home = site.home()
    (form,) = [
        f for f in home.forms if dict(f.fields).get("checkin", "").startswith(f"{schedule_id}:")
    ]
    page = site.web.post(home.data(form, form.buttons[0]), form.action)
    assert page.question == "几个问题。"
    page = page.press("继续 ▶")
    assert page.question == "去了哪些地方？"
    page = page.press("选好了 ✓", tick=("菜市场", "公园", "卫生院"))
    assert page.error == "最多只能选择 2 项。"
    page = page.press("选好了 ✓", tick=("菜市场", "卫生院"))
    assert page.question == "社工上次什么时候来的？"
    assert {"今天", "昨天"} <= set(page.buttons())
    page = page.press("下一题", text="2026-03-17")  # the day after the test's today
    assert page.error == "这个日期还没到。请输入今天或之前的日期。"
    page = page.press("昨天")
    assert page.question == "您有多担心？"
    page = page.press("⬅ 上一题")
    assert page.field("text") == "2026-03-15"
    page = page.press("下一题", text="2026年3月1日")
    assert [b for b in page.buttons() if b.isdecimal()] == ["0", "1", "2", "3", "4"]
    assert "0 一点也不 · 4 非常" in page.text
    page = page.press("3")
    page = page.press("下一题", text="21.5")
    assert page.question == "还有别的吗？"
    assert "公斤" not in page.text
    page = page.press("⬅ 上一题")
    assert "公斤" in page.text and page.field("text") == "21.5"
    page = page.press("下一题", text="21.5").press("跳过 ➡")
    assert page.question == "请核对一下您的回答："
    page = page.press("✅ 提交")
    answers = site.web.db(
        lambda store: {
            a["question_id"]: json.loads(a["value"]) if a["value"] else None
            for r in store.sessions_of_case(site.case)
            if r["flow_id"] == "widgets"
            for a in store.current_answers(r["id"])
        }
    )
    assert answers == {
        "places": ["market", "clinic"],
        "visit_day": "2026-03-01",
        "worry": 3,
        "weight": 21.5,
        "remarks": None,
    }


def test_a_change_from_the_review_goes_back_to_that_answer_and_returns(site):
    page = (
        site.home()
        .press("开始填写")
        .press("🙂")
        .press("选好了 ✓", tick=("跟人说出来",))
        .press("睡得好")
    )
    page = page.press("下一题", text="0").press("否")
    (first_change, *_rest) = [b for b in page.buttons() if b == "修改"]
    assert first_change
    page = page.press_value("edit:1")
    assert page.question == "这一周孩子的心情怎么样？"
    page = page.press("😄")
    assert page.question == "请核对一下您的回答："
    assert "本周心情 5 😄" in page.text


# -- what a link refuses -----------------------------------------------------------------------


def test_a_revoked_link_says_it_no_longer_works_with_404(site):
    page = site.home().press("开始填写")

    def revoke(store):
        case = store.case(site.case)
        return weblinks.revoke(store, site.worker, case, site.granny, DUE)

    assert site.web.db(revoke)
    gone = site.home()
    assert gone.status == 404
    assert gone.question == "这个链接已经不能用了 This link no longer works"
    assert "请联系您的社工" in gone.text
    posted = page.press("🙂")  # a page still open on the phone
    assert posted.status == 404
    assert site.history() == []


@pytest.mark.parametrize("token", ["nothing", "a" * 43, "a" * 300, "a.b", "%E4%BD%A0"])
def test_a_link_that_never_existed_gets_the_same_page(site, token):
    page = site.web.get(f"/r/{token}")
    assert page.status == 404
    assert "这个链接已经不能用了" in page.text


def test_another_members_session_in_a_form_is_refused_and_nothing_is_recorded(site):
    uncle = site.home("uncle").press("Start")
    page = site.home().press("开始填写")
    form, button = page.find("🙂")
    data = page.data(form, button)
    forged = [("session", uncle.field("session")) if k == "session" else (k, v) for k, v in data]
    forged = [("nonce", uncle.field("nonce")) if k == "nonce" else (k, v) for k, v in forged]
    refused = site.web.post(forged, form.action)
    assert refused.status == 404
    assert refused.question == "这个页面在这里打不开。"
    assert site.history("uncle") == [] and site.history() == []
    refusal = site.audit()[-1]
    assert refusal["action"] == "access.refused"
    assert json.loads(refusal["detail"])["refused"] == "session.answer"
    assert refusal["actor_id"] == site.granny


def test_a_session_of_the_same_member_on_another_case_is_not_answered_through_this_link(site):
    def other_case(store):
        case = store.create_case("LBC-08", site.worker)
        store.add_member(case.id, site.granny, "caregiver", site.worker)
        schedule_actions.create(
            store,
            site.web.registry,
            site.worker,
            case.id,
            site.granny,
            "child_checkin",
            WEEKLY,
            DUE - timedelta(days=3),
        )
        return weblinks.create(store, site.worker, case, site.granny, DUE).token

    other_link = site.web.db(other_case)
    elsewhere = site.web.get(f"/r/{other_link}").press("开始填写")
    page = site.home().press("开始填写")
    form, button = page.find("🙂")
    forged = [
        (k, elsewhere.field(k) if k in ("session", "nonce") else v)
        for k, v in page.data(form, button)
    ]
    assert site.web.post(forged, form.action).status == 404


def test_a_double_tap_records_one_answer_and_shows_the_current_question(site):
    page = site.home().press("开始填写")
    first = page.press("🙂")
    second = page.press("🙂")  # the same form again: a double tap
    assert first.question == second.question == "孩子遇到不高兴的事时，是怎么表现的？可以选几个。"
    assert second.notices == ["那一页已经过时了，刚才那一下没有改动什么。现在到这里："]
    assert site.history() == [("mood", 4)]


def test_a_page_from_the_browsers_history_changes_nothing(site):
    question_1 = site.home().press("开始填写")
    question_2 = question_1.press("🙂")
    question_2.press("选好了 ✓", tick=("跟人说出来",))  # now at question 3
    again = question_1.press("😢")  # the back button shows question 1's old page
    assert again.question == "这一周孩子睡得怎么样？"
    assert site.history() == [("mood", 4), ("expression", ["told"])]


@pytest.mark.parametrize(
    "change",
    [
        {"do": "choice:99"},
        {"do": "choice:-1"},
        {"do": "evil"},
        {"do": "edit:1"},
        {"q": "sleep"},
        {"nonce": ""},
        {"nonce": "0" * 24},
    ],
)
def test_a_forged_form_changes_nothing_and_shows_the_current_question(site, change):
    page = site.home().press("开始填写")
    form, button = page.find("🙂")
    data = dict(page.data(form, button)) | change
    answer = site.web.post(list(data.items()), form.action)
    assert answer.status == 200
    assert answer.question == "这一周孩子的心情怎么样？"
    assert answer.notices == ["那一页已经过时了，刚才那一下没有改动什么。现在到这里："]
    assert site.history() == []


@pytest.mark.parametrize(
    "headers",
    [{"sec-fetch-site": "cross-site"}, {"origin": "https://evil.example"}],
)
def test_a_form_posted_from_another_site_is_refused_even_with_the_link(site, headers):
    page = site.home().press("开始填写")
    form, button = page.find("🙂")
    response = site.web.client.post(
        form.action,
        content=urlencode(page.data(form, button)),
        headers={"content-type": "application/x-www-form-urlencoded", **headers},
    )
    assert response.status_code == 403
    assert site.history() == []


def test_a_form_without_a_session_is_refused(site):
    site.home().press("开始填写")
    page = site.web.post([("do", "choice:0")], f"/r/{site.granny_link}")
    assert page.status == 404


def test_a_body_too_large_is_refused_before_it_is_read(site):
    response = site.web.client.post(
        f"/r/{site.granny_link}",
        content=b"text=" + b"x" * 300_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413


def test_a_check_in_that_closed_while_the_page_was_open_cannot_be_started(site, clock):
    home = site.home()
    clock.now = CLOSE + timedelta(minutes=1)
    page = home.press("开始填写")
    assert page.error == "这份小调查现在打不开了：可能已经过了填写时间，或者已经填好了。"
    assert site.web.db(lambda store: store.sessions_of_case(site.case)) == []


def test_before_a_check_in_falls_due_the_link_says_there_is_nothing_yet(site, clock):
    clock.now = DUE - timedelta(minutes=1)
    page = site.home()
    assert "现在没有要填写的内容。到时候社工会告诉您。" in page.text
    assert "开始填写 ▶" not in page.buttons()


# -- flags, audit, headers, logs ------------------------------------------------------------------


def test_a_flagged_answer_alerts_the_case_worker_as_on_telegram(site):
    def scales(store):
        worker_tg = store.add_person("Worker Wang", "worker", telegram_user_id=1001, lang="en")
        store.add_member(site.case, worker_tg, "worker", site.worker)
        store.set_chat(worker_tg, 1001)
        client = weblinks.add_member(
            store, site.worker, store.case(site.case), "Mr Zhao", "client", "en"
        )
        schedule_actions.create(
            store,
            site.web.registry,
            site.worker,
            site.case,
            client.person_id,
            "adult_scales",
            WEEKLY,
            DUE - timedelta(days=3),
        )
        case = store.case(site.case)
        return worker_tg, weblinks.create(store, site.worker, case, client.person_id, DUE).token

    worker_tg, link = site.web.db(scales)
    page = site.web.get(f"/r/{link}").press("Start").press("Continue ▶")
    for _ in range(5):
        page = page.press_value("choice:3")  # WHO-5
    for _ in range(8):
        page = page.press_value("choice:0")  # PHQ-9 items 1-8
    page = page.press_value("choice:2")  # PHQ-9 item 9: more than half the days

    def owed(store):
        return [
            (r["person_id"], json.loads(r["payload"])["text"], r["kind"])
            for r in store.unsent_messages()
        ]

    # The respondent sees the safety message at once, as on Telegram...
    assert any("110" in n and "120" in n for n in page.notices), page.notices
    # ...and each worker on the case is owed the alert, in their own language.
    messages = site.web.db(owed)
    assert sorted(person for person, _t, _k in messages) == sorted([site.worker, worker_tg])
    assert {kind for _p, _t, kind in messages} == {"flag"}
    assert {text.split("\n")[0] for _p, text, _k in messages} == {
        "⚠️ URGENT · Case LBC-07 · flag #1",
        "⚠️ 紧急 · 个案 LBC-07 · 警示 #1",
    }
    (alert,) = [r for r in site.audit() if r["action"] == "flag.alert"]
    assert json.loads(alert["detail"])["severity"] == "urgent"


def test_views_and_answers_are_audited_and_no_audit_row_holds_the_token(site):
    page = site.home().press("开始填写").press("🙂")
    assert page.status == 200
    rows = site.audit()
    actions = [r["action"] for r in rows if r["actor_id"] == site.granny]
    assert "checkins.view" in actions
    assert "session.view" in actions
    assert "answer.record" in actions
    views = [r for r in rows if r["action"] == "session.view"]
    assert json.loads(views[-1]["detail"]) == {"channel": "web"}
    assert site.granny_link not in json.dumps(rows)


def test_every_page_carries_the_security_headers_and_no_script(site):
    for page in (site.home(), site.home().press("开始填写"), site.web.get("/r/nothing")):
        headers = page.response.headers
        assert "script-src" not in headers["content-security-policy"]
        assert "default-src 'none'" in headers["content-security-policy"]
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert headers["x-frame-options"] == "DENY"
        assert page.scripts == 0 and " style=" not in page.html
    css = site.web.client.get("/assets/interview.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_the_log_filter_takes_link_tokens_out_of_access_log_lines(site):
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/r/{site.granny_link}?f=abc", "1.1", 200),
        None,
    )
    RedactLinks().filter(record)
    assert site.granny_link not in record.getMessage()
    assert '"GET /r/…?f=abc HTTP/1.1" 200' in record.getMessage()


def test_the_forms_post_nothing_but_the_fields_a_page_made(site):
    page = site.home().press("开始填写")
    names = {k for form in page.forms for k, _v in form.fields} | {
        b.name for form in page.forms for b in form.buttons
    }
    assert names == {"session", "nonce", "q", "do", "lang"}
    assert len(page.field("nonce") or "") == 24
