"""Driving the desk's pages through Starlette's TestClient the way a person does: read the
page, press a button (its form is posted with its hidden fields), follow the redirect.

``Web`` serves the respondent and interview routes from a database file on their own
thread (the desk's ``Backend``, as in production), on a clock the test controls; ``Web.db(fn)`` runs ``fn(store)``
on that thread, for setting up and for looking at what was stored.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.testclient import TestClient

from desk import interview_pages, respond
from desk.backend import Backend
from flows.registry import FlowRegistry
from storage.store import Store


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Button:
    name: str
    value: str
    text: str
    classes: str


@dataclass
class FormInfo:
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # hidden, text, textarea
    checkboxes: list[tuple[str, str, str, bool]] = field(
        default_factory=list
    )  # name, value, label, on
    buttons: list[Button] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[FormInfo] = []
        self.form: FormInfo | None = None
        self.button: dict[str, str] | None = None
        self.button_text: list[str] = []
        self.textarea: str | None = None
        self.textarea_text: list[str] = []
        self.label_box: list[Any] | None = None
        self.label_text: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script":
            self.scripts += 1
        if tag == "form":
            self.form = FormInfo(a.get("action", ""))
            self.forms.append(self.form)
        elif self.form is None:
            return
        elif tag == "input":
            kind = a.get("type", "text")
            if kind == "checkbox":
                box = [a.get("name", ""), a.get("value", ""), "", "checked" in a]
                self.form.checkboxes.append(box)  # type: ignore[arg-type]
                self.label_box = box
            elif kind in ("hidden", "text", "date"):
                self.form.fields.append((a.get("name", ""), a.get("value", "")))
        elif tag == "textarea":
            self.textarea = a.get("name", "")
            self.textarea_text = []
        elif tag == "button":
            self.button = a
            self.button_text = []
        elif tag == "label":
            self.label_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.form = None
        elif tag == "textarea" and self.form is not None and self.textarea is not None:
            self.form.fields.append((self.textarea, "".join(self.textarea_text)))
            self.textarea = None
        elif tag == "button" and self.form is not None and self.button is not None:
            self.form.buttons.append(
                Button(
                    self.button.get("name", ""),
                    self.button.get("value", ""),
                    " ".join("".join(self.button_text).split()),
                    self.button.get("class", ""),
                )
            )
            self.button = None
        elif tag == "label" and self.label_box is not None:
            self.label_box[2] = " ".join("".join(self.label_text).split())
            self.label_box = None

    def handle_data(self, data: str) -> None:
        if self.button is not None:
            self.button_text.append(data)
        if self.textarea is not None:
            self.textarea_text.append(data)
        self.label_text.append(data)


class Page:
    def __init__(self, web: Web, response: Any) -> None:
        self.web = web
        self.response = response
        self.status = response.status_code
        self.url = str(response.url)
        self.html = response.text
        parser = _Parser()
        parser.feed(self.html)
        self.forms = parser.forms
        self.scripts = parser.scripts

    # -- reading -----------------------------------------------------------------------------

    def _all(self, pattern: str) -> list[str]:
        found = re.findall(pattern, self.html, flags=re.S)
        return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", f)).split()) for f in found]

    @property
    def question(self) -> str:
        found = self._all(r'<h1 class="question"[^>]*>(.*?)</h1>')
        return found[0] if found else ""

    @property
    def error(self) -> str | None:
        found = self._all(r'<p class="error"[^>]*>(.*?)</p>')
        return found[0] if found else None

    @property
    def notices(self) -> list[str]:
        return self._all(r'<p class="notice"[^>]*>(.*?)</p>')

    @property
    def progress(self) -> str:
        found = self._all(r'<div class="progress">(.*?)</div>')
        return found[0] if found else ""

    @property
    def text(self) -> str:
        body = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", self.html, flags=re.S)
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())

    def buttons(self) -> list[str]:
        return [b.text for f in self.forms for b in f.buttons]

    def field(self, name: str) -> str | None:
        for form in self.forms:
            for key, value in form.fields:
                if key == name:
                    return value
        return None

    # -- acting --------------------------------------------------------------------------------

    def find(self, label: str) -> tuple[FormInfo, Button]:
        for exact in (True, False):
            for form in self.forms:
                for button in form.buttons:
                    if (button.text == label) if exact else (label in button.text):
                        return form, button
        raise AssertionError(f"no button {label!r} on the page; buttons: {self.buttons()}")

    def press_value(self, do: str, *, text: str | None = None) -> Page:
        """Press the button that posts ``do=<value>`` (``choice:0``: the first option)."""
        for form in self.forms:
            for button in form.buttons:
                if button.name == "do" and button.value == do:
                    return self.web.post(self.data(form, button, text=text), form.action)
        raise AssertionError(f"no button for {do!r}; buttons: {self.buttons()}")

    def press(
        self, label: str, *, text: str | None = None, tick: tuple[str, ...] | None = None
    ) -> Page:
        """Press the button labelled ``label`` (exactly, else the first containing it), with
        ``text`` typed into the form's text box and, for several choices, ``tick`` the
        boxes labelled so (None: leave them as they are)."""
        form, button = self.find(label)
        return self.web.post(self.data(form, button, text=text, tick=tick), form.action)

    def data(
        self,
        form: FormInfo,
        button: Button,
        *,
        text: str | None = None,
        tick: tuple[str, ...] | None = None,
    ) -> list[tuple[str, str]]:
        data = [(k, text if (k == "text" and text is not None) else v) for k, v in form.fields]
        for name, value, label, on in form.checkboxes:
            if (label in tick) if tick is not None else on:
                data.append((name, value))
        if button.name:
            data.append((button.name, button.value))
        return data


class Web:
    """The respondent pages and the worker's interview pages, served from ``db_path``."""

    def __init__(self, db_path: Path, clock: Clock, registry: FlowRegistry | None = None):
        self.db_path = db_path
        self.clock = clock
        self.registry = registry or FlowRegistry()
        self.backend = Backend.open(db_path)
        self.runner = self.backend.run

        def signed_in(request: Request) -> int | None:
            who = request.headers.get("x-test-person", "")
            return int(who) if who.isdecimal() else None

        self.csrf = {"csrf": "test-token"}

        async def checked_form(request: Request) -> FormData:
            """As the desk does: the form, once its CSRF token is checked."""
            form = await request.form()
            if form.get("csrf") != "test-token":
                raise HTTPException(403, "CSRF")
            return form

        app = Starlette(
            routes=[
                *respond.routes(self.runner, self.registry, clock=clock),
                *interview_pages.routes(
                    self.runner,
                    self.registry,
                    signed_in=signed_in,
                    hidden_fields=lambda request: self.csrf,
                    checked_form=checked_form,
                    clock=clock,
                ),
            ]
        )
        self.client = TestClient(app, base_url="http://desk.test")
        self.person: int | None = None

    def db(self, fn: Callable[[Store], Any]) -> Any:
        return self.backend.db.call(lambda: fn(self.backend.store))

    def _headers(self) -> dict[str, str]:
        return {"x-test-person": str(self.person)} if self.person is not None else {}

    def get(self, path: str) -> Page:
        return Page(self, self.client.get(path, headers=self._headers()))

    def post(self, data: list[tuple[str, str]], path: str) -> Page:
        headers = {**self._headers(), "content-type": "application/x-www-form-urlencoded"}
        return Page(self, self.client.post(path, content=urlencode(data), headers=headers))

    def close(self) -> None:
        self.client.close()
        self.backend.close()
