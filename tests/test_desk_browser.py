"""What a worker and a supervisor see, in a real headless Chromium driven by Selenium.

The desk is served by uvicorn on 127.0.0.1 (a free port) in a thread. Debian's ``chromium``
and ``chromium-driver`` are used as installed: Selenium is given both paths, so it never
looks for (or downloads) a browser of its own. Without them these tests are skipped, saying
which packages to install; ``.ci/run`` installs them.

Screenshots of the caseload, a case page, a record page and a new case's file are written to
the folder in ``$CASEFLOW_SCREENSHOTS`` when it is set (the README's are made with
``CASEFLOW_SCREENSHOTS=docs/screenshots``), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tests.desk_client import DeskUnderTest, make_desk
from tests.deskkit import link_for

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = (
    "the browser tests need Debian's chromium and chromium-driver "
    "(apt-get install chromium chromium-driver fonts-noto-cjk; .ci/run does this)"
)

if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(MISSING, allow_module_level=True)

from selenium import webdriver  # noqa: E402  (only once the browser is known to be there)
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    """The desk under test, served by uvicorn in a thread."""

    def __init__(self, desk: DeskUnderTest) -> None:
        self.desk = desk
        self.port = _free_port()
        config = uvicorn.Config(
            desk.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the desk did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def link(self, person_id: int) -> str:
        token = self.desk.call(link_for, person_id, self.desk.clock())
        return f"{self.url}/signin/{token}"


@pytest.fixture
def served(desk_template: Path, tmp_path: Path) -> Iterator[Served]:
    desk = make_desk(desk_template, tmp_path)
    try:
        with Served(desk) as running:
            yield running
    finally:
        desk.backend.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager must not phone home
    options = Options()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1280,900",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CASEFLOW_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(driver: WebDriver, path: Path, *, full: bool = True) -> None:
    """The whole page (the window made as tall as the page, up to 4000 pixels)."""
    if full:
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.set_window_size(1280, min(max(height, 900), 4000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)


def sign_in(driver: WebDriver, link: str) -> None:
    driver.get(link)
    driver.find_element(By.ID, "sign-in").click()
    WebDriverWait(driver, 20).until(ec.url_contains("/caseload"))


def visible_cases(driver: WebDriver) -> list[str]:
    return [a.text for a in driver.find_elements(By.CSS_SELECTOR, "a.case-link")]


def test_a_worker_signs_in_sees_only_their_cases_and_signs_a_record_off(
    served: Served, browser: WebDriver, shots: Path
):
    team = served.desk.team
    sign_in(browser, served.link(team.worker))
    assert visible_cases(browser) == ["LBC-07"]  # not Zhao Lei's EL-02
    assert "Signed in as Wang Fang" in browser.find_element(By.CSS_SELECTOR, ".me").text
    screenshot(browser, shots / "caseload.png", full=False)

    browser.find_element(By.LINK_TEXT, "LBC-07").click()
    WebDriverWait(browser, 20).until(ec.url_contains("/cases/LBC-07"))
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("LBC-07")
    charts = browser.find_elements(By.CSS_SELECTOR, "figure img")
    assert len(charts) >= 6
    # The charts are data-URI images the CSP allows, and they load.
    assert all(browser.execute_script("return arguments[0].naturalWidth", c) > 0 for c in charts)
    screenshot(browser, shots / "case.png")

    row = browser.find_element(By.XPATH, "//tr[.//strong[text()='Session record']]")
    row.find_element(By.LINK_TEXT, "Open record").click()
    WebDriverWait(browser, 20).until(ec.url_contains("/records/"))
    shows(browser, "Not signed off")
    browser.find_element(By.ID, "comment").send_keys("Good session; call the school this week.")
    browser.find_element(By.ID, "sign-button").click()
    WebDriverWait(browser, 20).until(ec.url_contains("ok=signed"))
    signoff = browser.find_element(By.CSS_SELECTOR, ".record .signoff").text
    assert "Signed off by Wang Fang" in signoff
    assert "Good session; call the school this week." in signoff
    assert not browser.find_elements(By.ID, "sign-button")
    screenshot(browser, shots / "record.png")


def test_a_worker_opens_a_case_with_a_profile_adds_a_goal_and_sees_it(
    served: Served, browser: WebDriver, shots: Path
):
    sign_in(browser, served.link(served.desk.team.worker))
    browser.find_element(By.CSS_SELECTOR, "details.new-case summary").click()
    form = browser.find_element(By.CSS_SELECTOR, "details.new-case form")
    for name, value in (
        ("code", "LBC-12"),
        ("title", "Two brothers"),
        ("client_name", "Xiao Hu"),
        ("age", "2017"),
        ("caregiver", "grandmother, Zhou Lan"),
    ):
        form.find_element(By.NAME, name).send_keys(value)
    form.find_element(By.CSS_SELECTOR, "select[name=group] option[value=left_behind_child]").click()
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 20).until(ec.url_contains("/cases/LBC-12?ok=case_opened"))
    profile = browser.find_element(By.ID, "profile").text
    assert "Xiao Hu" in profile and "left-behind child" in profile
    assert "grandmother, Zhou Lan" in profile and "Wang Fang" in profile
    assert "No consent recorded" in profile

    goal = browser.find_element(By.ID, "goal-form")  # open while the plan has no goal
    goal.find_element(By.NAME, "title").send_keys("Xiao Hu tells his grandmother when he is sad")
    goal.find_element(By.NAME, "area").send_keys("RSCA: emotional reactivity")
    goal.find_element(By.NAME, "activities").send_keys("Feelings cards; a weekly call home")
    goal.find_element(By.NAME, "target").send_keys("Tells someone once a week")
    goal.find_element(By.ID, "add-goal").click()
    WebDriverWait(browser, 20).until(ec.url_contains("ok=goal_added"))
    row = browser.find_element(By.ID, "goal-1").text
    assert "Xiao Hu tells his grandmother when he is sad" in row
    assert "RSCA: emotional reactivity" in row and "not rated yet" in row
    assert "The goal is added to the plan." in browser.find_element(By.CSS_SELECTOR, ".flash").text
    screenshot(browser, shots / "casefile.png")


def test_a_supervisor_sees_the_teams_cases_by_worker(served: Served, browser: WebDriver):
    sign_in(browser, served.link(served.desk.team.supervisor))
    captions = [c.text for c in browser.find_elements(By.TAG_NAME, "caption")]
    assert captions == ["Cases of Wang Fang (1)"]
    assert visible_cases(browser) == ["LBC-07"]


def test_a_used_sign_in_link_is_refused_and_signing_out_ends_the_session(
    served: Served, browser: WebDriver
):
    link = served.link(served.desk.team.worker)
    sign_in(browser, link)
    browser.find_element(By.ID, "sign-out").click()
    shows(browser, "You have signed out")
    browser.get(link)
    browser.find_element(By.ID, "sign-in").click()
    shows(browser, "This sign-in link does not work")
    browser.get(f"{served.url}/caseload")
    shows(browser, "Please sign in")


def shows(driver: WebDriver, text: str) -> None:
    """Wait (bounded) until the page that a click led to shows ``text``."""
    WebDriverWait(driver, 20).until(lambda d: text in d.page_source)
