"""Interviews in the browser: a ``Prompt`` as an HTML page, a posted form as a ``Reply``.

One question per page, with the same rules as on Telegram (``bot/telegram_service.py``):
choices, yes/no and scales are one tap (faces for a faces scale), several choices are
ticked and then Done, dates offer Today and Yesterday, numbers and texts are typed (a
roomy text box on a desktop), optional questions can be skipped, and every page has back
and pause where the engine allows them; the review lists the answers with a change
button each, and Submit. Every reply goes through ``casework.interviews.Interviews``, so
what is stored, scored, flagged and audited is what Telegram stores.

Forms are plain HTML (no script) and are read the way Telegram reads a button: a button
names an option by its position (``choice:2``), never by a value the page could forge,
and typed text is always an answer, never a command. Every form carries the session, the
question, and a nonce derived from the session's state and last change: a form from a
page that has since moved on (a double tap, the browser's back button, an answer given on
Telegram meanwhile) changes nothing and is answered with the current question. After a
post the browser is sent back to the page (303), so reloading never posts again.

Used by the worker's desk (``/cases/{code}/interview/{flow}`` behind its sign-in:
:class:`WorkerInterviews`) and by members' web links (``desk/respond.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

import templates as templates_package
from casework import cases as case_actions
from casework.errors import NotFound
from casework.interviews import CaseIsClosed, InterviewError, Interviews, NotOnCase
from flows.answers import options
from flows.compile import PAUSED, REVIEW, TERMINAL
from flows.engine import Engine, Prompt, Reply, Session, Turn
from flows.messages import say
from flows.registry import FlowRegistry
from storage.schedules import Schedules
from storage.store import Store

T = TypeVar("T")

CHANNEL = "web"
FORM_LIMIT = 256 * 1024  # a 4,000-character answer in CJK is about 36 KiB urlencoded
FORM_FIELDS = 64
CSS_PATH = "/assets/interview.css"
TEMPLATE_DIR = Path(templates_package.__file__).parent / "desk" / "interview"

# No script at all, styles only from our own file, forms only back to us, never framed.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The respondent's URL is their credential: never send it on in a Referer.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class StoreRunner(Protocol):
    """Runs ``fn(store)`` on the thread that owns the database: ``Backend.run``."""

    def __call__(self, fn: Callable[[Store], T], /) -> Awaitable[T]: ...


TEXTS: dict[str, dict[str, str]] = {
    "progress": {"en": "Question {position} of {total}", "zh": "第 {position} 题，共 {total} 题"},
    "answer": {"en": "Next ➡", "zh": "下一题 ➡"},
    "done": {"en": "Done ✓", "zh": "选好了 ✓"},  # a text tick: it takes the button's colour
    "back": {"en": "⬅ Back", "zh": "⬅ 上一题"},
    "skip": {"en": "Skip ➡", "zh": "跳过 ➡"},
    "pause": {"en": "⏸ Pause", "zh": "⏸ 先暂停"},
    "submit": {"en": "✅ Submit", "zh": "✅ 提交"},
    "change": {"en": "Change", "zh": "修改"},
    "continue": {"en": "Continue ▶", "zh": "继续 ▶"},
    "keep": {"en": "✓ Keep: {value}", "zh": "✓ 保持：{value}"},
    "same": {"en": "↩ Same as last time: {value}", "zh": "↩ 和上次一样：{value}"},
    "or_type_date": {"en": "or pick a date:", "zh": "或者选一个日期："},
    "type_here": {"en": "Type your answer here", "zh": "请在这里输入"},
    "review_hint": {
        "en": "To change an answer, tap Change beside it. If all is right, tap Submit below.",
        "zh": "要改哪一条，就点旁边的“修改”；都对的话，点下面的“提交”。",
    },
    "stale": {
        "en": "That page had moved on, so it changed nothing. Here is where you are now.",
        "zh": "那一页已经过时了，刚才那一下没有改动什么。现在到这里：",
    },
    "paused": {
        "en": "Paused. Your answers are saved. Open the same link again whenever you want "
        "to carry on.",
        "zh": "已暂停，您的回答都保存好了。想接着填的时候，再点开同一个链接就行。",
    },
    "completed": {
        "en": "Thank you, all done. Your answers are saved.",
        "zh": "谢谢您！都填好了，回答已经保存。",
    },
    "start": {"en": "Start", "zh": "开始填写"},
    "resume": {"en": "Carry on", "zh": "接着填"},
    "paused_since": {
        "en": "Paused. Your answers so far are saved.",
        "zh": "已暂停，之前的回答都保存好了。",
    },
    "back_to_case": {"en": "Back to the case", "zh": "返回个案"},
    "not_found": {"en": "There is nothing here.", "zh": "这里没有内容。"},
    "not_for_desk": {
        "en": "{title} is answered by the caregiver on their own phone: give them a link.",
        "zh": "“{title}”要由照顾者在自己的手机上填写，请给对方一个填写链接。",
    },
    "case_closed": {
        "en": "Case {code} is closed: it takes only a follow-up visit. To record anything "
        "else, reopen it (with the reason) on the case page.",
        "zh": "个案 {code} 已结案，只能填写跟进回访记录。如需填写其他记录，"
        "请先在个案页面写明原因，重新开案。",
    },
    "too_big": {
        "en": "That was too much to send at once. Please shorten the answer.",
        "zh": "一次发送的内容太多了，请把回答写短一些。",
    },
}


def ui(key: str, lang: str, **params: object) -> str:
    texts = TEXTS[key]
    return (texts.get(lang) or texts["en"]).format(**params)


_env = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["ui"] = ui


def render_page(name: str, context: Mapping[str, Any], status: int = 200) -> Response:
    """A template as a response with the security headers every page carries."""
    html = _env.get_template(name).render(css_url=CSS_PATH, **context)
    return secure(HTMLResponse(html, status_code=status))


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


async def stylesheet(request: Request) -> Response:
    css = (TEMPLATE_DIR / "interview.css").read_text(encoding="utf-8")
    response = Response(css, media_type="text/css; charset=utf-8")
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def asset_routes() -> list[BaseRoute]:
    return [Route(CSS_PATH, stylesheet, methods=["GET"], name="interview_css")]


# -- forms ----------------------------------------------------------------------------------


class Form:
    """A posted urlencoded form: the first value of a field, or all of them."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.pairs = list(pairs)

    @classmethod
    def of(cls, form: FormData) -> Form:
        """A form Starlette has parsed already (the desk reads it to check its CSRF token)."""
        return cls([(k, v) for k, v in form.multi_items() if isinstance(v, str)])

    def get(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.pairs if k == name), default)

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]


class FormTooLarge(Exception):
    """A posted body over ``FORM_LIMIT``."""


async def read_form(request: Request) -> Form:
    """The request's urlencoded body, at most ``FORM_LIMIT`` bytes and ``FORM_FIELDS``
    fields. Other content types read as an empty form (our pages post nothing else)."""
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > FORM_LIMIT:
        raise FormTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            raise FormTooLarge
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return Form([])
    try:
        pairs = parse_qsl(
            body.decode("utf-8", "replace"),
            keep_blank_values=True,
            max_num_fields=FORM_FIELDS,
        )
    except ValueError:  # too many fields
        return Form([])
    return Form(pairs)


def nonce_of(session: Session, stamp: str | None) -> str:
    """The page's nonce: it changes whenever the session changes (any channel, any
    process), so only a form from the page showing the session as it is now counts."""
    material = f"{session.id}\x1f{session.state}\x1f{stamp or ''}".encode()
    return hashlib.sha256(material).hexdigest()[:24]


def reply_from_form(engine: Engine, session: Session, form: Form) -> Reply | None:
    """The reply a posted form stands for; None for a form no page of ours makes."""
    token = form.get("q")
    if token != session.state:
        return None
    kind, _, arg = form.get("do").partition(":")
    if token == REVIEW:
        if kind == "submit":
            return Reply(text="/submit", token=REVIEW)
        if kind == "edit" and arg.isdecimal() and len(arg) <= 4:
            return Reply(text=f"/edit {int(arg)}", token=REVIEW)
        if kind in ("back", "pause"):
            return Reply(text=f"/{kind}", token=REVIEW)
        return None
    question = engine.compiled.by_id.get(token)
    if question is None:
        return None
    values = [value for value, _ in options(question.item, "en")]
    if kind == "choice" and arg.isdecimal() and int(arg) < len(values):
        return Reply(choice=values[int(arg)], token=token)
    if kind == "done":
        picked = sorted({int(p) for p in form.getall("pick") if p.isdecimal() and len(p) < 4})
        chosen = [values[i] for i in picked if i < len(values)]
        return Reply(choice=chosen if chosen else "", token=token)
    if kind == "answer":
        # Typed text is an answer, never a command: it goes in as a choice, not as text.
        return Reply(choice=form.get("text"), token=token)
    if kind in ("keep", "continue"):
        return Reply(choice="", token=token)
    if kind == "date" and arg.isdecimal() and len(arg) < 3:
        prompt = engine.prompt(session)
        days = _date_buttons(prompt) if prompt is not None else []
        index = int(arg)
        return Reply(choice=days[index][0], token=token) if index < len(days) else None
    if kind in ("back", "skip", "pause", "review"):
        return Reply(text=f"/{kind}", token=token)
    return None


def _date_buttons(prompt: Prompt) -> list[tuple[str, str]]:
    """The days a date question offers as one tap, as (what to send, label): the engine's
    ``quick_dates`` (no Yesterday for a deadline, Tomorrow where the future is allowed),
    exactly as Telegram's keyboard offers them."""
    return list(prompt.quick_dates)


# -- pages ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    do: str
    label: str
    chosen: bool = False
    face: str | None = None
    caption: str = ""


@dataclass
class QuestionView:
    """What one question page shows; the templates only lay it out."""

    session_id: str
    nonce: str
    token: str
    lang: str
    kind: str
    type: str | None
    text: str
    help: str | None
    stage_title: str | None
    stage_intro: str | None
    position: int
    total: int
    progress: str
    buttons: list[Choice] = field(default_factory=list)
    layout: Literal["list", "faces", "scale", "yesno", "multi", "none"] = "none"
    anchors: list[str] = field(default_factory=list)
    picks: list[tuple[int, str, bool]] = field(default_factory=list)  # multi: index, label, on
    input: Literal["textarea", "number", "date"] | None = None
    roomy: bool = False  # a big text box: typing a long answer at a desk
    input_value: str = ""
    unit: str | None = None
    dates: list[Choice] = field(default_factory=list)
    keep: Choice | None = None
    nav: list[Choice] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)
    submit: Choice | None = None
    hint: str | None = None


def _label_parts(label: str) -> tuple[str, str]:
    face, _, caption = label.partition(" ")
    return face, caption


def question_view(
    engine: Engine,
    session: Session,
    prompt: Prompt,
    stamp: str | None,
    *,
    kept: str | None = None,
    desktop: bool = False,
) -> QuestionView:
    """Lay a prompt out as a page: the same buttons Telegram's keyboard offers."""
    lang = session.lang
    view = QuestionView(
        session_id=session.id,
        nonce=nonce_of(session, stamp),
        token=prompt.token,
        lang=lang,
        kind=prompt.kind,
        type=prompt.type,
        text=prompt.text,
        help=prompt.help,
        stage_title=prompt.stage_title,
        stage_intro=prompt.stage_intro,
        position=prompt.position,
        total=prompt.total,
        progress=ui("progress", lang, position=prompt.position, total=prompt.total)
        if prompt.kind == "question"
        else "",
    )
    if prompt.kind == "review":
        view.hint = ui("review_hint", lang)
        view.review = [
            {
                "number": line.number,
                "label": line.label,
                "answer": line.answer,
                "probe": line.probe,
                "change": Choice(f"edit:{line.number}", ui("change", lang)),
            }
            for line in prompt.review
        ]
        view.submit = Choice("submit", ui("submit", lang))
        view.nav = [Choice(c, ui(c, lang)) for c in ("back", "pause") if c in prompt.commands]
        return view
    if prompt.kind == "note":
        view.buttons = [Choice("continue", ui("continue", lang))]
        view.layout = "list"
        view.nav = [Choice(c, ui(c, lang)) for c in ("back", "pause") if c in prompt.commands]
        return view
    value = session.value(prompt.token)
    if prompt.current:
        view.keep = Choice("keep", ui("keep", lang, value=_shown(prompt.current)))
    elif prompt.last_time:
        view.keep = Choice("keep", ui("same", lang, value=_shown(prompt.last_time)))
    chosen_values = {str(v) for v in value} if isinstance(value, list) else {str(value)}
    if prompt.type == "multi":
        view.layout = "multi"
        view.picks = [
            (i, label, str(v) in chosen_values and value is not None)
            for i, (v, label) in enumerate(prompt.options)
        ]
        view.buttons = [Choice("done", ui("done", lang))]
    elif prompt.type == "scale" and prompt.style == "faces":
        view.layout = "faces"
        for i, (v, label) in enumerate(prompt.options):
            face, caption = _label_parts(label)
            chosen = value is not None and str(v) == str(value)
            view.buttons.append(Choice(f"choice:{i}", label, chosen, face, caption))
    elif prompt.type == "scale":
        view.layout = "scale"
        for i, (v, _label) in enumerate(prompt.options):
            chosen = value is not None and str(v) == str(value)
            view.buttons.append(Choice(f"choice:{i}", v, chosen))
        view.anchors = [label for _, label in prompt.options if not label.isdecimal()]
    elif prompt.options:
        view.layout = "yesno" if prompt.type == "yesno" else "list"
        for i, (v, label) in enumerate(prompt.options):
            chosen = value is not None and (
                str(v) == str(value) or (prompt.type == "yesno" and (v == "yes") == (value is True))
            )
            view.buttons.append(Choice(f"choice:{i}", label, chosen))
    elif prompt.type == "date":
        view.input = "date"
        view.dates = [
            Choice(f"date:{i}", label) for i, (_day, label) in enumerate(_date_buttons(prompt))
        ]
    elif prompt.type == "number":
        view.input = "number"
        item = engine.compiled.by_id[prompt.token].item
        unit = getattr(item, "unit", None)
        view.unit = (unit.get(lang) or next(iter(unit.values()))) if unit else None
    else:
        view.input = "textarea"
        view.roomy = desktop
    if view.input is not None:
        plain = isinstance(value, str | int | float) and not isinstance(value, bool)
        typed = value if plain else ""
        view.input_value = kept if kept is not None else str(typed)
        view.buttons = [Choice("answer", ui("answer", lang))]
    view.nav = [Choice(c, ui(c, lang)) for c in ("back", "skip", "pause") if c in prompt.commands]
    return view


def _shown(line: str) -> str:
    """The answer part of the engine's "Your answer now: …" / "上次您的回答是：…"."""
    for separator in ("：", ": "):
        if separator in line:
            return line.split(separator, 1)[1]
    return line


# -- flashes: what a post has to say, shown once by the page it redirects to --------------


@dataclass
class Flash:
    person_id: int
    notices: list[str]
    error: str | None = None
    kept: str | None = None
    at: float = field(default_factory=time.monotonic)


class Flashes:
    """Messages carried across a post's redirect, in memory, for a few minutes. Losing one
    (a restart) loses only the words: the answer is on disk already."""

    def __init__(self, limit: int = 2000, ttl: float = 600.0) -> None:
        self._items: OrderedDict[str, Flash] = OrderedDict()
        self.limit, self.ttl = limit, ttl

    def put(self, flash: Flash) -> str:
        key = secrets.token_urlsafe(9)
        self._items[key] = flash
        while len(self._items) > self.limit:
            self._items.popitem(last=False)
        return key

    def take(self, key: str | None, person_id: int) -> Flash | None:
        if not key:
            return None
        flash = self._items.get(key)
        if flash is None or flash.person_id != person_id:
            return None
        del self._items[key]
        return flash if time.monotonic() - flash.at < self.ttl else None


# -- posting an answer -----------------------------------------------------------------------


@dataclass
class Posted:
    """What a posted answer did. ``stale``: the page had moved on, nothing changed."""

    session_id: str
    stale: bool
    turn: Turn | None = None
    kept: str | None = None


class Gone(Exception):
    """The session named in the form is not this person's on this case (audited)."""


def post_answer(
    interviews: Interviews,
    person_id: int,
    case_id: int,
    form: Form,
    now: datetime,
    *,
    flow_id: str | None = None,
) -> Posted:
    """Apply a posted form to the person's session, if the page it came from is current:
    the reply (with the alerts a flagged answer owes the case's workers) and a completed
    check-in's record, in one transaction. Raises ``Gone`` for a session that is not the
    person's on this case (or not of ``flow_id``, when given)."""
    store = interviews.store
    session_id = form.get("session")[:64]
    try:
        session, session_case = interviews.session(session_id, person_id)
    except InterviewError as exc:  # no such session, or another person's (audited)
        raise Gone(session_id) from exc
    if session_case != case_id or (flow_id is not None and session.flow_id != flow_id):
        store.audit_refusal(person_id, "session.answer", "session", session_id, case_id)
        raise Gone(session_id)
    current = nonce_of(session, store.session_stamp(session_id))
    if session.state in TERMINAL or session.state == PAUSED:
        return Posted(session_id, stale=True)
    if not hmac.compare_digest(form.get("nonce").encode(), current.encode()):
        return Posted(session_id, stale=True)
    engine = interviews.engine_for(session)
    reply = reply_from_form(engine, session, form)
    if reply is None:
        return Posted(session_id, stale=True)
    with store.atomic():
        # Flags raised by the answer queue their alerts inside reply(), as on Telegram.
        turn = interviews.reply(session_id, person_id, reply, CHANNEL)
        if turn.status == "completed":
            Schedules(store).session_completed(session_id, now)
    kept = form.get("text") if turn.error and form.get("do") == "answer" else None
    return Posted(session_id, stale=False, turn=turn, kept=kept)


def flash_for(posted: Posted, person_id: int, lang: str) -> Flash:
    """The words a post leaves for the next page: the engine's error and notices, in the
    browser's words where the engine speaks of chat commands."""
    if posted.stale or posted.turn is None:
        return Flash(person_id, [ui("stale", lang)])
    turn = posted.turn
    telegram_words = {say("paused", lang), say("completed", lang), say("cancelled", lang)}
    notices = [n for n in turn.notices if n not in telegram_words]
    if turn.status == "paused":
        notices.append(ui("paused", lang))
    elif turn.status == "completed":
        notices.append(ui("completed", lang))
    elif turn.status == "cancelled":
        notices.append(say("cancelled", lang))
    return Flash(person_id, notices, turn.error, posted.kept)


# -- the worker's desk -----------------------------------------------------------------------


SignedIn = Callable[[Request], "int | Awaitable[int | None] | None"]
Fields = Callable[[Request], Mapping[str, str]]
CheckedForm = Callable[[Request], Awaitable[FormData]]


def _no_fields(request: Request) -> Mapping[str, str]:
    return {}


@dataclass
class _Shared:
    registry: FlowRegistry
    interviews: Interviews | None = None
    clock: Callable[[], datetime] | None = None

    def get(self, store: Store) -> Interviews:
        if self.interviews is None or self.interviews.store is not store:
            self.interviews = Interviews(store, self.registry, self.clock)
        return self.interviews


class WorkerInterviews:
    """Any flow a worker answers (intake, session record, family review, a client's scales
    read aloud), run in the browser by the signed-in worker.

    The desk mounts ``/cases/{code}/interview/{flow}`` behind its sign-in and calls
    :meth:`page` (GET) and :meth:`post` (POST) with the signed-in person's id; or it mounts
    :func:`routes`. ``hidden_fields(request)`` adds fields to every form (the desk's CSRF
    token); ``done_url(code, session_id)`` is where a completed interview goes (default:
    this page, which offers to start another)."""

    def __init__(
        self,
        runner: StoreRunner,
        registry: FlowRegistry,
        *,
        interviews: Interviews | None = None,
        hidden_fields: Fields = _no_fields,
        done_url: Callable[[str, str], str] | None = None,
        case_url: Callable[[str], str] = lambda code: f"/cases/{code}",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.runner = runner
        self.shared = _Shared(registry, interviews, clock)
        self.hidden_fields = hidden_fields
        self.done_url = done_url
        self.case_url = case_url
        self.clock = clock
        self.flashes = Flashes()

    @staticmethod
    def url(code: str, flow: str) -> str:
        return f"/cases/{code}/interview/{flow}"

    def _open_context(
        self, store: Store, person_id: int, code: str, flow_id: str
    ) -> tuple[Interviews, int, str, str]:
        """The interviews service, the case id, its code and the flow's title, when the
        person may run this flow on this case; NotFound (a missing page) otherwise."""
        interviews = self.shared.get(store)
        case = case_actions.case_for(store, person_id, code, "interview.run")
        registry = interviews.registry
        if not registry.known(flow_id):
            raise NotFound(flow_id[:40])
        flow = registry.current(flow_id).engine.flow
        lang = str(store.person(person_id)["lang"] or "en")
        return interviews, case.id, case.code, flow.text(flow.title, lang)

    async def page(self, request: Request, person_id: int) -> Response:
        code = str(request.path_params["code"])
        flow_id = str(request.path_params["flow"])
        flash_key = request.query_params.get("f")
        extra = dict(self.hidden_fields(request))

        def build(store: Store) -> tuple[str, dict[str, Any], int]:
            try:
                interviews, case_id, case_code, title = self._open_context(
                    store, person_id, code, flow_id
                )
            except NotFound:
                return "message.html.j2", self._missing(store, person_id), 404
            lang = str(store.person(person_id)["lang"] or "en")
            flash = self.flashes.take(flash_key, person_id)
            base: dict[str, Any] = {
                "lang": lang,
                "layout": "desk",
                "title": title,
                "heading": f"{case_code} · {title}",
                "notices": flash.notices if flash else [],
                "error": flash.error if flash else None,
                "extra_fields": extra,
                "post_url": self.url(case_code, flow_id),
                "start_url": self.url(case_code, flow_id) + "/start",
                "case_link": (self.case_url(case_code), ui("back_to_case", lang)),
                "lang_switch": None,
            }
            respondent = interviews.registry.respondent(flow_id)
            if respondent == "caregiver":
                base["notices"] = [ui("not_for_desk", lang, title=title)]
                return "message.html.j2", base, 200
            if self._closed_to(store, case_id, interviews, flow_id):
                base["notices"] = [ui("case_closed", lang, code=case_code)]
                return "message.html.j2", base, 200
            session_id = store.open_session_id(case_id, flow_id, person_id)
            if session_id is None:
                base["start"] = Choice("start", ui("start", lang))
                return "start.html.j2", base, 200
            session, _ = interviews.session(session_id, person_id)
            engine = interviews.engine_for(session)
            prompt = engine.prompt(session)
            if prompt is None:  # paused
                base["start"] = Choice("resume", ui("resume", lang))
                base["paused"] = ui("paused_since", lang)
                return "start.html.j2", base, 200
            stamp = store.session_stamp(session_id)
            store.audit(person_id, "session.view", "session", session_id, case_id, channel="web")
            view = question_view(
                engine, session, prompt, stamp, kept=flash.kept if flash else None, desktop=True
            )
            base["lang"] = session.lang
            base["q"] = view
            return ("review.html.j2" if prompt.kind == "review" else "question.html.j2"), base, 200

        name, context, status = await self.runner(build)
        return render_page(name, context, status)

    @staticmethod
    def _closed_to(store: Store, case_id: int, interviews: Interviews, flow_id: str) -> bool:
        """Whether the case is closed to this flow: a closed case takes only a follow-up."""
        if store.case(case_id).status != "closed":
            return False
        return interviews.registry.current(flow_id).engine.flow.purpose != "follow_up"

    def _missing(self, store: Store, person_id: int) -> dict[str, Any]:
        lang = str(store.person(person_id)["lang"] or "en")
        return {
            "lang": lang,
            "layout": "desk",
            "title": ui("not_found", lang),
            "heading": ui("not_found", lang),
            "notices": [],
            "error": None,
            "lang_switch": None,
            "case_link": None,
        }

    async def start(
        self, request: Request, person_id: int, form: Form | FormData | None = None
    ) -> Response:
        """Start the flow, or carry on the person's unfinished session of it. ``form``: the
        request's form when the caller has read it already (to check its CSRF token)."""
        code = str(request.path_params["code"])
        flow_id = str(request.path_params["flow"])
        if form is None:
            try:
                await read_form(request)
            except FormTooLarge:
                return secure(Response(status_code=413))

        def run(store: Store) -> tuple[str, str | None] | None:
            try:
                interviews, _case_id, case_code, _title = self._open_context(
                    store, person_id, code, flow_id
                )
            except NotFound:
                return None
            case = store.case_by_code(case_code)
            lang = str(store.person(person_id)["lang"] or "en")
            try:
                opened = interviews.open(flow_id, case, person_id, CHANNEL, lang=lang)
            except NotOnCase:
                return None
            except CaseIsClosed:
                # The interview page says why, and leads back to the case.
                return case_code, None
            key = None
            if opened.turn.notices or opened.turn.error:
                flash = Flash(person_id, list(opened.turn.notices), opened.turn.error)
                key = self.flashes.put(flash)
            return case_code, key

        done = await self.runner(run)
        if done is None:
            return await self._not_found(person_id)
        case_code, key = done
        return self._back_to(self.url(case_code, flow_id), key)

    async def post(
        self, request: Request, person_id: int, form: Form | FormData | None = None
    ) -> Response:
        """One answer (or back, skip, pause, change, submit) from a question page. ``form``:
        the request's form when the caller has read it already (to check its CSRF token)."""
        code = str(request.path_params["code"])
        flow_id = str(request.path_params["flow"])
        if form is None:
            try:
                form = await read_form(request)
            except FormTooLarge:
                return secure(Response(ui("too_big", "en"), status_code=413))
        elif isinstance(form, FormData):
            form = Form.of(form)
        posted_form = form
        now = self.clock()

        def run(store: Store) -> tuple[str, str, str | None] | None:
            try:
                interviews, case_id, case_code, _title = self._open_context(
                    store, person_id, code, flow_id
                )
            except NotFound:
                return None
            try:
                posted = post_answer(
                    interviews, person_id, case_id, posted_form, now, flow_id=flow_id
                )
            except Gone:
                return None
            session = store.session_info(posted.session_id)
            if posted.turn is not None and posted.turn.status == "completed" and self.done_url:
                return case_code, self.done_url(case_code, posted.session_id), None
            flash = flash_for(posted, person_id, session.lang)
            return case_code, self.url(case_code, flow_id), self.flashes.put(flash)

        done = await self.runner(run)
        if done is None:
            return await self._not_found(person_id)
        _code, target, key = done
        return self._back_to(target, key)

    async def _not_found(self, person_id: int) -> Response:
        context = await self.runner(lambda store: self._missing(store, person_id))
        return render_page("message.html.j2", context, 404)

    @staticmethod
    def _back_to(url: str, key: str | None) -> Response:
        target = f"{url}?f={key}" if key else url
        return secure(RedirectResponse(target, status_code=303))


def routes(
    store_runner: StoreRunner,
    registry: FlowRegistry,
    *,
    signed_in: SignedIn,
    interviews: Interviews | None = None,
    hidden_fields: Fields = _no_fields,
    checked_form: CheckedForm | None = None,
    done_url: Callable[[str, str], str] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[BaseRoute]:
    """The worker's interview pages, each behind ``signed_in(request)`` (the signed-in
    person's id, or None: then the page answers 404 like any page one may not see).
    ``checked_form(request)`` reads a POST's form once its CSRF token is checked (the
    desk's; it raises to refuse); ``hidden_fields`` puts that token in every form."""
    pages = WorkerInterviews(
        store_runner,
        registry,
        interviews=interviews,
        hidden_fields=hidden_fields,
        done_url=done_url,
        clock=clock,
    )

    def guarded(
        handler: Callable[[Request, int, Form | FormData | None], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            who = signed_in(request)
            person_id = await who if inspect.isawaitable(who) else who
            if person_id is None:
                return render_page(
                    "message.html.j2",
                    {
                        "lang": "en",
                        "layout": "desk",
                        "title": ui("not_found", "en"),
                        "heading": ui("not_found", "en"),
                        "notices": [],
                        "error": None,
                        "lang_switch": None,
                        "case_link": None,
                    },
                    404,
                )
            form = None
            if request.method == "POST" and checked_form is not None:
                form = await checked_form(request)
            return await handler(request, person_id, form)

        return endpoint

    async def page(request: Request, person_id: int, form: Form | FormData | None) -> Response:
        return await pages.page(request, person_id)

    path = "/cases/{code}/interview/{flow}"
    return [
        *asset_routes(),
        Route(path, guarded(page), methods=["GET"], name="interview_page"),
        Route(path, guarded(pages.post), methods=["POST"], name="interview_post"),
        Route(path + "/start", guarded(pages.start), methods=["POST"], name="interview_start"),
    ]


__all__ = [
    "CHANNEL",
    "CSP",
    "CSS_PATH",
    "SECURITY_HEADERS",
    "Flash",
    "Flashes",
    "Form",
    "FormTooLarge",
    "Gone",
    "Posted",
    "QuestionView",
    "StoreRunner",
    "WorkerInterviews",
    "asset_routes",
    "flash_for",
    "nonce_of",
    "post_answer",
    "question_view",
    "read_form",
    "render_page",
    "reply_from_form",
    "routes",
    "secure",
    "ui",
]
