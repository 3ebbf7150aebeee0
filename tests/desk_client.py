"""The desk under Starlette's TestClient: a database made once per test session and copied,
a clock the test moves, and a browser-like client that signs in by link and sends forms
with their CSRF token."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.testclient import TestClient

from desk.app import build_app
from desk.backend import Backend
from storage.store import Store
from tests.deskkit import Team, link_for, team

NOW = datetime(2026, 2, 20, 9, 0, tzinfo=UTC)
SECRET = b"0123456789abcdef" * 4
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class DeskUnderTest:
    backend: Backend
    app: Starlette
    team: Team
    clock: Clock
    path: Path

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(store, ...)`` on the desk's database thread."""
        return self.backend.db.call(lambda: fn(self.backend.store, *args, **kwargs))

    def audit(self, action: str) -> list[dict[str, Any]]:
        return [r for r in self.call(Store.audit_rows) if r["action"] == action]

    def browser(self, *, https: bool = False) -> Browser:
        base = "https://testserver" if https else "http://testserver"
        return Browser(TestClient(self.app, base_url=base, follow_redirects=False), self)

    def signed_in(self, person_id: int, **kwargs: Any) -> Browser:
        browser = self.browser(**kwargs)
        browser.sign_in(person_id)
        return browser


class Browser:
    """A client that remembers the CSRF token of the last page it was shown."""

    def __init__(self, client: TestClient, desk: DeskUnderTest) -> None:
        self.client = client
        self.desk = desk
        self.csrf = ""

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, **kwargs)
        found = (
            CSRF.search(response.text)
            if "text/html" in response.headers.get("content-type", "")
            else None
        )
        if found:
            self.csrf = found.group(1)
        return response

    def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True, **kw: Any
    ) -> Any:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf", self.csrf)
        return self.client.post(path, data=form, **kw)

    def link(self, person_id: int) -> str:
        return str(self.desk.call(link_for, person_id, self.desk.clock()))

    def sign_in(self, person_id: int) -> Any:
        token = self.link(person_id)
        self.get(f"/signin/{token}")
        response = self.post("/signin", {"token": token})
        assert response.status_code == 303, response.text
        self.get("/caseload")
        return response


def template_db(folder: Path) -> Path:
    path = folder / "template.db"
    if not path.exists():
        store = Store.open(path)
        team(store)
        store.close()
    return path


def make_desk(template: Path, folder: Path, **kwargs: Any) -> DeskUnderTest:
    path = folder / "desk.db"
    shutil.copy(template, path)
    backend = Backend.open(path)
    clock = Clock(NOW)
    people = backend.db.call(lambda: _team_of(backend.store))
    options: dict[str, Any] = {"bot_username": "caseflow_test_bot", **kwargs}
    app = build_app(backend, secret=SECRET, clock=clock, **options)
    return DeskUnderTest(backend, app, people, clock, path)


def _team_of(store: Store) -> Team:
    def pid(name: str) -> int:
        row = store.db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
        return int(row[0])

    return Team(
        worker=pid("Wang Fang"),
        other_worker=pid("Zhao Lei"),
        supervisor=pid("Chen Li"),
        caregiver=pid("Li Guilan"),
        other_caregiver=pid("Sun Xiuying"),
        case=store.case_by_code("LBC-07"),
        other_case=store.case_by_code("EL-02"),
    )
