"""A grandmother answers this week's check-in from her web link, in a real browser.

Headless Chromium (Debian's ``chromium`` and ``chromium-driver``; Selenium 4 uses the
driver found there, nothing is downloaded) on a 390×844 window, the size of a common phone,
against the pages served by uvicorn on a free local port. She opens the link in Chinese,
taps a face, goes back, pauses, comes back later through the same link, trips over a
number out of range, and submits. Screenshots of each screen are saved in
``build/screenshots/`` (ignored by git), or in ``$CASEFLOW_SCREENSHOTS`` when it is set: the
README's copies in ``docs/screenshots/`` are made with ``CASEFLOW_SCREENSHOTS=docs/screenshots``,
so an ordinary test run leaves the working tree as it was.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from casework import schedules as schedule_actions
from casework import weblinks
from desk import respond
from desk.backend import Backend
from flows.recurrence import Recurrence
from flows.registry import FlowRegistry
from storage.schedules import Schedules
from storage.store import Store

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("CASEFLOW_SCREENSHOTS") or ROOT / "build" / "screenshots")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
MISSING = [
    name
    for name, path in (("chromium", CHROMIUM), ("chromium-driver", CHROMEDRIVER))
    if not Path(path).exists()
]
try:
    import selenium  # noqa: F401
except ImportError:  # pragma: no cover - the dev extras install it
    MISSING.append("selenium (pip install -e '.[dev]')")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING),
        reason="browser tests skipped: needs "
        + ", ".join(MISSING)
        + " (Debian: apt-get install chromium chromium-driver fonts-noto-cjk"
        " fonts-noto-color-emoji)",
    ),
]

DUE = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)  # Monday 18:00 in Shanghai
WEEKLY = Recurrence.model_validate(
    {"kind": "weekly", "weekdays": "mon", "at": "18:00", "tz": "Asia/Shanghai", "window": "48h"}
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[str, str, Backend, dict[str, int]]]:
    """The respondent pages on uvicorn, and Grandma Li's link to a check-in due now."""
    import uvicorn
    from starlette.applications import Starlette

    backend = Backend.open(tmp_path / "phone.db")

    def setup(store: Store) -> tuple[str, dict[str, int]]:
        worker = store.add_person("王芳", "worker", lang="zh")
        case = store.create_case("LBC-07", worker, facts={"child_name": "小明"})
        granny = weblinks.add_member(store, worker, case, "李奶奶", "caregiver", "zh")
        schedule = schedule_actions.create(
            store,
            FlowRegistry(),
            worker,
            case.id,
            granny.person_id,
            "child_checkin",
            WEEKLY,
            DUE - timedelta(days=3),
        )
        token = weblinks.create(store, worker, case, granny.person_id, DUE).token
        return token, {"case": case.id, "granny": granny.person_id, "schedule": schedule.id}

    token, ids = backend.db.call(lambda: setup(backend.store))
    app = Starlette(
        routes=respond.routes(
            backend.run, FlowRegistry(), clock=lambda: DUE + timedelta(minutes=20)
        )
    )
    respond.install_log_redaction()
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=True, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", token, backend, ids
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        backend.close()


@pytest.fixture
def phone(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=390,844",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--lang=zh-CN",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    # Chromium keeps a window at least 500 px wide whatever --window-size says; the page is
    # laid out on a phone's viewport, at a phone's pixel density, as in WeChat's browser.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
    )
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"phone-{name}.png"))


def _tap(driver, xpath: str) -> None:
    """Tap a button and wait until the page it leads to has loaded (a new document: the
    mark set on the old one is gone)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.__tapped = true")
    driver.find_element("xpath", xpath).click()

    def loaded(d) -> bool:
        try:
            return bool(
                d.execute_script(
                    "return window.__tapped === undefined && document.readyState === 'complete'"
                )
            )
        except WebDriverException:  # between two documents
            return False

    WebDriverWait(driver, 10).until(loaded)


def _button(text: str) -> str:
    return f"//button[contains(normalize-space(.), '{text}')]"


def _question(driver) -> str:
    return driver.find_element("css selector", "h1.question").text


def test_a_grandmother_answers_her_check_in_on_a_phone_in_chinese(served, phone, caplog):
    base, token, backend, ids = served
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    phone.get(f"{base}/r/{token}")
    assert phone.execute_script("return document.documentElement.lang") == "zh-CN"
    assert _question(phone) == "李奶奶，您好！"
    _shot(phone, "1-home")

    _tap(phone, _button("开始填写"))
    assert _question(phone) == "这一周孩子的心情怎么样？"
    width = phone.execute_script(
        "return [window.innerWidth, window.innerHeight, document.documentElement.scrollWidth]"
    )
    assert width[:2] == [390, 844]
    assert width[2] <= width[0], f"the page is wider than the phone: {width}"
    faces = phone.find_elements("css selector", ".options.faces button")
    assert len(faces) == 5
    assert all(f.size["height"] >= 56 and f.size["width"] >= 56 for f in faces)
    size = phone.execute_script(
        "return parseFloat(getComputedStyle(document.querySelector('h1.question')).fontSize)"
    )
    assert size >= 24
    _shot(phone, "2-faces")

    _tap(phone, "//button[@aria-label='🙂']")  # a face
    assert _question(phone) == "孩子遇到不高兴的事时，是怎么表现的？可以选几个。"
    _tap(phone, _button("上一题"))  # back
    assert _question(phone) == "这一周孩子的心情怎么样？"
    chosen = phone.find_element("css selector", ".options.faces button.chosen")
    assert chosen.get_attribute("aria-label") == "🙂"
    _tap(phone, "//button[@aria-label='😄 很开心']")  # changes her mind
    assert _question(phone) == "孩子遇到不高兴的事时，是怎么表现的？可以选几个。"
    phone.find_element("xpath", "//label[contains(normalize-space(.), '哭或者发脾气')]").click()
    _shot(phone, "2b-several")
    _tap(phone, _button("选好了"))
    assert _question(phone) == "发生了什么事？简单说几句就可以。"
    phone.find_element("css selector", "textarea").send_keys("晚上想妈妈，哭了一会儿")
    _shot(phone, "3-text")
    _tap(phone, _button("下一题"))
    assert _question(phone) == "这一周孩子睡得怎么样？"

    _tap(phone, _button("先暂停"))  # pause
    notice = phone.find_element("css selector", ".notice").text
    assert notice.startswith("已暂停，您的回答都保存好了。")
    _shot(phone, "4-paused")

    phone.get(f"{base}/r/{token}")  # later: the same link again
    _tap(phone, _button("接着填"))  # resume
    assert phone.find_element("css selector", ".notice").text.startswith("欢迎回来。")
    assert _question(phone) == "这一周孩子睡得怎么样？"
    _shot(phone, "5-resumed")
    _tap(phone, _button("有几晚睡不好"))
    field = phone.find_element("css selector", "input[name=text]")
    field.send_keys("9")
    _tap(phone, _button("下一题"))
    assert phone.find_element("css selector", ".error").text == "请输入 0 到 7 之间的天数。"
    _shot(phone, "6-error")
    field = phone.find_element("css selector", "input[name=text]")
    field.clear()
    field.send_keys("0")
    _tap(phone, _button("下一题"))
    _tap(phone, "//form[contains(@class, 'yesno')]//button[normalize-space(.)='否']")
    assert _question(phone) == "请核对一下您的回答："
    _shot(phone, "7-review")
    _tap(phone, _button("提交"))
    assert phone.find_element("css selector", ".notice").text == "谢谢您！都填好了，回答已经保存。"
    _shot(phone, "8-done")

    def stored(store: Store) -> tuple[str, dict[str, object], list[str]]:
        (session,) = store.sessions_of_case(ids["case"])
        answers = {
            a["question_id"]: json.loads(a["value"]) for a in store.current_answers(session["id"])
        }
        events = [e["kind"] for e in Schedules(store).events(ids["schedule"], DUE)]
        return session["status"], answers, events

    status, answers, events = backend.db.call(lambda: stored(backend.store))
    assert status == "completed"
    assert answers == {
        "mood": 5,
        "expression": ["cried"],
        "expression_detail": "晚上想妈妈，哭了一会儿",
        "sleep": "some_bad_nights",
        "school_days_missed": 0,
        "has_worries": False,
    }
    assert events == ["due", "started", "completed"]
    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert access, "uvicorn's access log was not captured"
    assert all(token not in line for line in access)
    assert any("/r/…" in line for line in access)
