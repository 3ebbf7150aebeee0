"""A worker runs an interview in the browser (``desk/interview_pages.py``): any flow a worker
answers, one question per page, through the same engine and storage as Telegram."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from casework.interviews import Interviews
from desk.interview_pages import Form, WorkerInterviews, question_view, reply_from_form
from flows.engine import Reply
from flows.registry import FlowRegistry
from tests.conftest import flow_yaml, make_engine
from tests.webpages import Clock, Page, Web

NOW = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)


@pytest.fixture
def web(tmp_path):
    web = Web(tmp_path / "desk.db", Clock(NOW))

    def setup(store):
        wang = store.add_person("Wang Fang", "worker", lang="en")
        chen = store.add_person("Chen Li", "worker", lang="en")
        case = store.create_case("LBC-07", wang)
        granny = store.add_person("Grandma Li", "caregiver")
        store.add_member(case.id, granny, "caregiver", wang)
        return {"wang": wang, "chen": chen, "case": case.id, "granny": granny}

    web.ids = web.db(setup)
    web.person = web.ids["wang"]
    yield web
    web.close()


def answer_page(page: Page) -> Page:
    """Some answer a worker might give: the first option, ticks, a number, today, words."""
    buttons = [b for f in page.forms for b in f.buttons]
    dos = [b.value for b in buttons if b.name == "do"]
    if "submit" in dos:
        return page.press_value("submit")
    if "continue" in dos:
        return page.press_value("continue")
    if "done" in dos:
        first = next(f for f in page.forms if f.checkboxes)
        return page.press("Done ✓", tick=(first.checkboxes[0][2],))
    if "date:0" in dos:
        return page.press_value("date:0")
    if "choice:0" in dos:
        return page.press_value("choice:0")
    if page.field("text") is not None:
        typed = "3" if 'inputmode="decimal"' in page.html else "Talked about school at length."
        return page.press_value("answer", text=typed)
    raise AssertionError(f"nothing to answer on {page.question!r}: {page.buttons()}")


def test_a_worker_runs_the_session_record_in_the_browser_to_the_end(web):
    url = "/cases/LBC-07/interview/session_record"
    page = web.get(url)
    assert page.status == 200 and page.buttons() == ["Start"]
    page = page.press("Start")
    assert page.question == "Which session number is this?"
    assert page.progress.startswith("1/")
    for _ in range(60):
        if "Thank you, all done. Your answers are saved." in page.notices:
            break
        page = answer_page(page)
        assert page.status == 200 and page.error is None, (page.question, page.error)
    else:
        raise AssertionError("the session record never ended")

    def stored(store):
        (session,) = store.sessions_of_case(web.ids["case"])
        return session, store.current_answers(session["id"])

    session, answers = web.db(stored)
    assert (session["flow_id"], session["status"], session["channel"]) == (
        "session_record",
        "completed",
        "web",
    )
    assert session["respondent_id"] == web.ids["wang"]
    values = {a["question_id"]: json.loads(a["value"]) for a in answers if a["value"]}
    assert values["session_number"] == 3
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", values["session_date"])
    assert values["goals_addressed"] == "Talked about school at length."


def test_long_free_text_gets_a_roomy_box_at_the_desk(web):
    page = web.get("/cases/LBC-07/interview/session_record").press("Start")
    for _ in range(10):
        if "<textarea" in page.html:
            break
        page = answer_page(page)
    assert re.search(r'<textarea name="text" rows="14"', page.html)


def test_every_form_carries_the_desks_hidden_fields(web):
    page = web.get("/cases/LBC-07/interview/session_record")
    pages = [page, page.press("Start")]
    for current in pages:
        for form in current.forms:
            if form.action.endswith("/language"):
                continue
            assert ("csrf", "test-token") in form.fields, form.action


def test_a_form_without_the_desks_csrf_token_is_refused_and_changes_nothing(web):
    page = web.get("/cases/LBC-07/interview/session_record").press("Start")
    form, button = page.find("Next")
    data = [(k, v) for k, v in page.data(form, button, text="4") if k != "csrf"]
    assert web.post(data, form.action).status == 403
    assert web.db(lambda store: store.answer_history(page.field("session"))) == []


def test_a_worker_not_on_the_case_gets_a_missing_page_and_nothing_starts(web):
    web.person = web.ids["chen"]
    assert web.get("/cases/LBC-07/interview/session_record").status == 404
    response = web.client.post(
        "/cases/LBC-07/interview/session_record/start",
        data={"csrf": "test-token"},
        headers={"x-test-person": str(web.ids["chen"])},
    )
    assert response.status_code == 404
    assert web.db(lambda store: store.sessions_of_case(web.ids["case"])) == []
    refusals = [r for r in web.db(lambda s: s.audit_rows()) if r["action"] == "access.refused"]
    assert refusals and refusals[-1]["actor_id"] == web.ids["chen"]


def test_nobody_signed_in_gets_a_missing_page(web):
    web.person = None
    assert web.get("/cases/LBC-07/interview/session_record").status == 404


@pytest.mark.parametrize("flow", ["no_such_flow", "Session_Record", "child_checkin"])
def test_a_flow_a_worker_does_not_answer_here_is_not_run(web, flow):
    page = web.get(f"/cases/LBC-07/interview/{flow}")
    if flow == "child_checkin":
        assert "is answered by the caregiver on their own phone" in page.text
        assert "Start" not in page.buttons()
    else:
        assert page.status == 404


def test_a_caregivers_session_id_in_a_workers_form_is_refused(web):
    def caregiver_session(store):
        interviews = Interviews(store, web.registry)
        case = store.case(web.ids["case"])
        return interviews.open("child_checkin", case, web.ids["granny"], "telegram").session.id

    theirs = web.db(caregiver_session)
    page = web.get("/cases/LBC-07/interview/session_record").press("Start")
    form, button = page.find("Next")
    data = [("session", theirs) if k == "session" else (k, v) for k, v in page.data(form, button)]
    assert web.post(data, form.action).status == 404
    assert web.db(lambda store: store.answer_history(theirs)) == []


def test_a_form_of_another_flow_posted_to_this_flows_page_changes_nothing(web):
    record = web.get("/cases/LBC-07/interview/session_record").press("Start")
    form, button = record.find("Next")
    data = record.data(form, button, text="4")
    answer = web.post(data, "/cases/LBC-07/interview/family_resilience")
    assert answer.status == 404
    assert web.db(lambda store: store.answer_history(record.field("session"))) == []


def test_an_interview_started_on_telegram_is_carried_on_in_the_browser(web):
    def started(store):
        interviews = Interviews(store, web.registry)
        case = store.case(web.ids["case"])
        opened = interviews.open("session_record", case, web.ids["wang"], "telegram", lang="en")
        interviews.reply(opened.session.id, web.ids["wang"], Reply(text="4"), "telegram")
        return opened.session.id

    sid = web.db(started)
    page = web.get("/cases/LBC-07/interview/session_record")
    assert page.question == "When did the session take place?"
    page = page.press("Today")
    assert web.db(lambda store: store.current_session(web.ids["wang"], "web"))["id"] == sid


def test_pause_at_the_desk_then_carry_on(web):
    url = "/cases/LBC-07/interview/session_record"
    page = web.get(url).press("Start").press_value("answer", text="2").press("⏸ Pause")
    assert "Paused. Your answers are saved." in page.notices[-1]
    assert page.buttons() == ["Carry on"]
    page = page.press("Carry on")
    assert page.notices[0].startswith("Welcome back. You were at question 2")
    assert page.question == "When did the session take place?"


def test_a_completed_interview_goes_where_the_desk_says(tmp_path):
    web = Web(tmp_path / "d.db", Clock(NOW))
    try:
        wang = web.db(lambda s: s.add_person("Wang", "worker"))
        web.db(lambda s: s.create_case("C-1", wang))
        pages = WorkerInterviews(
            web.runner, FlowRegistry(), done_url=lambda code, sid: f"/cases/{code}/records/{sid}"
        )

        async def page(request: Request) -> Response:
            return await pages.page(request, wang)

        async def post(request: Request) -> Response:
            form = await request.form()  # as the desk does, to check its CSRF token
            assert isinstance(form, FormData)
            return await pages.post(request, wang, form)

        async def start(request: Request) -> Response:
            return await pages.start(request, wang, await request.form())

        path = "/cases/{code}/interview/{flow}"
        app = Starlette(
            routes=[
                Route(path, page, methods=["GET"]),
                Route(path, post, methods=["POST"]),
                Route(path + "/start", start, methods=["POST"]),
            ]
        )
        with TestClient(app, base_url="http://desk.test") as client:
            client.post("/cases/C-1/interview/contact_note/start")
            for _ in range(40):
                response = client.get("/cases/C-1/interview/contact_note")
                current = Page(web, response)
                if not current.forms:
                    break
                form, data = _any_answer(current)
                response = client.post(form, data=data, follow_redirects=False)
                assert response.status_code == 303
                if "/records/" in response.headers["location"]:
                    break
            assert re.fullmatch(r"/cases/C-1/records/[0-9a-f-]{36}", response.headers["location"])
    finally:
        web.close()


def _any_answer(page: Page) -> tuple[str, dict[str, list[str]]]:
    """The action and fields of some answer to the page, as a dict for httpx."""
    chosen = None
    for wanted in ("submit", "continue", "date:0", "choice:0", "done", "answer"):
        for form in page.forms:
            for button in form.buttons:
                if button.value == wanted:
                    chosen = (form, button)
                    break
            if chosen:
                break
        if chosen:
            break
    assert chosen is not None, page.buttons()
    form, button = chosen
    tick = (form.checkboxes[0][2],) if form.checkboxes else None
    data: dict[str, list[str]] = {}
    for key, value in page.data(
        form, button, text="A note." if button.value == "answer" else None, tick=tick
    ):
        data.setdefault(key, []).append(value)
    return form.action, data


# -- the date buttons a prompt asks for -----------------------------------------------------------


@pytest.mark.parametrize(
    ("validation", "offered"),
    [
        ("{}", [("date:0", "Today"), ("date:1", "Yesterday")]),
        (
            "{not_future: false}",
            [("date:0", "Yesterday"), ("date:1", "Today"), ("date:2", "Tomorrow")],
        ),
    ],
)
def test_a_date_question_offers_the_days_its_prompt_gives_and_reads_them_back(validation, offered):
    engine = make_engine(
        flow_yaml(
            f"""
            - id: due
              type: date
              validation: {validation}
              prompt: {{en: "Due when?"}}
            """
        )
    )
    session = engine.new_session("s", "en")
    engine.start(session)
    prompt = engine.prompt(session)
    assert prompt is not None
    view = question_view(engine, session, prompt, "stamp")
    assert [(c.do, c.label) for c in view.dates] == offered
    days = [day for day, _label in prompt.quick_dates]
    for i, day in enumerate(days):
        form = Form([("q", "due"), ("do", f"date:{i}")])
        assert reply_from_form(engine, session, form) == Reply(choice=day, token="due")
    beyond = Form([("q", "due"), ("do", f"date:{len(days)}")])
    assert reply_from_form(engine, session, beyond) is None
