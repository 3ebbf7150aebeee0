"""The interview pages and members' web links as the desk serves them: behind its sign-in,
its CSRF check and its security headers (``desk/interviews.py`` mounts them in build_app)."""

from __future__ import annotations

import re

from casework import weblinks
from tests.webpages import Page


class _Web:
    """Lets ``tests.webpages.Page`` press buttons through a desk Browser."""

    def __init__(self, browser) -> None:
        self.browser = browser

    def post(self, data, path):
        form: dict[str, list[str]] = {}
        for key, value in data:
            form.setdefault(key, []).append(value)
        response = self.browser.client.post(path, data=form)
        return (
            self.get(response.headers["location"])
            if response.status_code == 303
            else Page(self, response)
        )

    def get(self, path):
        return Page(self, self.browser.get(path))


def test_a_signed_in_worker_runs_a_session_record_in_the_desk_and_lands_on_the_record(desk):
    web = _Web(desk.signed_in(desk.team.worker))
    page = web.get("/cases/LBC-07/interview/session_record")
    assert page.status == 200 and page.buttons()[-1] == "Start"
    assert all(("csrf", web.browser.csrf) in f.fields for f in page.forms if f.buttons)
    page = page.press("Start")
    assert page.question == "Which session number is this?"
    page = page.press_value("answer", text="7")
    assert page.question == "When did the session take place?"
    session_id = page.field("session")
    assert desk.call(lambda store: store.session_info(session_id).channel) == "web"
    page = page.press("Pause")
    assert "Paused." in " ".join(page.notices)


def test_the_interview_pages_need_a_signed_in_worker(desk):
    response = desk.browser().get("/cases/LBC-07/interview/session_record")
    assert response.status_code == 401


def test_an_answer_without_the_csrf_token_is_refused(desk):
    browser = desk.signed_in(desk.team.worker)
    web = _Web(browser)
    page = web.get("/cases/LBC-07/interview/session_record").press("Start")
    form, button = page.find("Next")
    data = {k: v for k, v in page.data(form, button, text="7") if k != "csrf"}
    response = browser.client.post(form.action, data=data)
    assert response.status_code == 403
    session_id = page.field("session")
    assert desk.call(lambda store: store.answer_history(session_id)) == []


def test_another_workers_case_is_a_missing_page(desk):
    web = _Web(desk.signed_in(desk.team.other_worker))
    assert web.get("/cases/LBC-07/interview/session_record").status == 404


def test_a_members_web_link_is_served_by_the_desk_without_signing_in(desk):
    def link(store):
        return weblinks.create(
            store, desk.team.worker, desk.team.case, desk.team.caregiver, desk.clock()
        ).token

    token = desk.call(link)
    response = desk.browser().get(f"/r/{token}")
    assert response.status_code == 200
    assert "Li Guilan" in response.text
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert not re.search(r"<script", response.text)
    assert desk.browser().get("/r/" + "x" * 43).status_code == 404
