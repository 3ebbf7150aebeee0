"""Members' web links: a caregiver or client answers their own check-ins on a phone.

``/r/<token>`` is the whole of it. The token is the credential: it is checked again on
every request (``casework.weblinks.resolve``), and a revoked, replaced or unknown one gets a
friendly "this link no longer works" page with status 404. The page shows the question the
member is on (whichever channel they started on), or else their due check-ins and paused
sessions on that case, and nothing of anyone else's. Answers go through the same
``Interviews`` service as Telegram's, with the same validation, flags and audit rows; see
``desk/interview_pages.py`` for how pages and forms work (no script, a nonce per page,
post then redirect).

The token must not reach a log: :class:`RedactLinks` rewrites it out of uvicorn's access
log (``install_log_redaction()``), and pages send no Referer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from casework import weblinks
from casework.errors import CaseworkError, NotFound
from casework.interviews import Interviews
from desk.interview_pages import (
    Flash,
    Flashes,
    FormTooLarge,
    Gone,
    StoreRunner,
    asset_routes,
    flash_for,
    post_answer,
    question_view,
    read_form,
    render_page,
    secure,
    ui,
)
from flows.registry import FlowRegistry
from storage.store import Store

LINK_IN_PATH = re.compile(r"/r/[A-Za-z0-9_-]+")

TEXTS: dict[str, dict[str, str]] = {
    "title": {"en": "Check-in", "zh": "填写小调查"},
    "hello": {"en": "Hello, {name}.", "zh": "{name}，您好！"},
    "due_head": {"en": "Ready for you now:", "zh": "现在可以填写："},
    "until": {"en": "Please answer by {close}.", "zh": "{close} 前填好就行。"},
    "started": {"en": "You have started this one.", "zh": "这一份您已经填了一部分。"},
    "paused_head": {"en": "Not finished yet:", "zh": "还没填完的："},
    "paused_line": {
        "en": "Paused. Your answers so far are saved.",
        "zh": "已暂停，之前的回答都保存好了。",
    },
    "start": {"en": "Start ▶", "zh": "开始填写 ▶"},
    "resume": {"en": "Carry on ▶", "zh": "接着填 ▶"},
    "nothing": {
        "en": "There is nothing to answer right now. Your social worker will let you know "
        "when there is.",
        "zh": "现在没有要填写的内容。到时候社工会告诉您。",
    },
    "gone": {
        "en": "This link no longer works",
        "zh": "这个链接已经不能用了",
    },
    "gone_detail": {
        "en": "It may have been replaced by a new one. Please ask your social worker for the "
        "link to use now.",
        "zh": "可能已经换了新链接。请联系您的社工，要一个现在能用的链接。",
    },
    "not_yours": {
        "en": "That page is not available here.",
        "zh": "这个页面在这里打不开。",
    },
    "closed": {
        "en": "That check-in can't be opened now: it may have closed or been answered already.",
        "zh": "这份小调查现在打不开了：可能已经过了填写时间，或者已经填好了。",
    },
}

LANG_OPTIONS = (("zh", "中文"), ("en", "English"))


def t(key: str, lang: str, **params: object) -> str:
    texts = TEXTS[key]
    return (texts.get(lang) or texts["en"]).format(**params)


class RedactLinks(logging.Filter):
    """Takes members' link tokens out of log records (uvicorn's access log puts the
    request path in its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                LINK_IN_PATH.sub("/r/…", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = LINK_IN_PATH.sub("/r/…", record.msg)
        return True


def install_log_redaction(*loggers: str) -> None:
    """Keep link tokens out of the named loggers (default: uvicorn's access and error
    logs). Call before serving."""
    for name in loggers or ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactLinks) for f in logger.filters):
            logger.addFilter(RedactLinks())


def cross_site(request: Request) -> bool:
    """Whether the browser says a POST came from another site (Sec-Fetch-Site), or its
    Origin names another host. Our pages only post to themselves; a member's link is secret,
    so this is a second lock, not the first."""
    site = request.headers.get("sec-fetch-site", "").lower()
    if site in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("origin", "")
    if not origin or origin == "null":
        return False
    return origin.split("://", 1)[-1].rstrip("/") != request.headers.get("host", "")


def _gone_context() -> dict[str, Any]:
    """The page for a link that does not (or no longer) work: both languages, since we do
    not know who is asking."""
    return {
        "lang": "zh",
        "layout": "phone",
        "title": t("gone", "zh"),
        "heading": t("title", "zh") + " · " + t("title", "en"),
        "message": f"{t('gone', 'zh')}\n{t('gone', 'en')}",
        "detail": f"{t('gone_detail', 'zh')}\n\n{t('gone_detail', 'en')}",
        "notices": [],
        "error": None,
        "lang_switch": None,
        "case_link": None,
    }


class RespondentPages:
    """The pages behind a member's link; every handler resolves the token first."""

    def __init__(
        self,
        runner: StoreRunner,
        registry: FlowRegistry,
        *,
        interviews: Interviews | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.runner = runner
        self.registry = registry
        self._interviews = interviews
        self.clock = clock
        self.flashes = Flashes()

    def interviews(self, store: Store) -> Interviews:
        if self._interviews is None or self._interviews.store is not store:
            self._interviews = Interviews(store, self.registry, self.clock)
        return self._interviews

    @staticmethod
    def _base(token: str, lang: str, visitor: weblinks.Visitor) -> dict[str, Any]:
        home = weblinks.path_for(token)
        return {
            "lang": lang,
            "layout": "phone",
            "title": t("title", lang),
            "heading": t("title", lang),
            "notices": [],
            "error": None,
            "extra_fields": {},
            "post_url": home,
            "lang_switch": {
                "url": home + "/language",
                "fields": {},
                "options": LANG_OPTIONS,
            },
            "case_link": None,
        }

    async def home(self, request: Request) -> Response:
        """The question the member is on, or their due check-ins and paused sessions."""
        token = str(request.path_params["token"])
        flash_key = request.query_params.get("f")
        now = self.clock()

        def build(store: Store) -> tuple[str, dict[str, Any], int]:
            try:
                visitor = weblinks.resolve(store, token)
            except NotFound:
                return "message.html.j2", _gone_context(), 404
            interviews = self.interviews(store)
            flash = self.flashes.take(flash_key, visitor.person_id)
            lang = visitor.lang
            context = self._base(token, lang, visitor)
            if flash:
                context["notices"], context["error"] = flash.notices, flash.error
            unfinished = store.unfinished_sessions(visitor.case.id, visitor.person_id)
            for row in unfinished:
                if row["status"] != "active":
                    continue
                session, _case_id = interviews.session(str(row["id"]), visitor.person_id)
                engine = interviews.engine_for(session)
                prompt = engine.prompt(session)
                if prompt is None:
                    continue
                store.audit(
                    visitor.person_id,
                    "session.view",
                    "session",
                    session.id,
                    visitor.case.id,
                    channel="web",
                )
                view = question_view(
                    engine,
                    session,
                    prompt,
                    store.session_stamp(session.id),
                    kept=flash.kept if flash else None,
                )
                context["lang"] = session.lang
                context["title"] = context["heading"] = weblinks.flow_title(
                    self.registry, session.flow_id, session.lang
                )
                context["q"] = view
                template = "review.html.j2" if prompt.kind == "review" else "question.html.j2"
                return template, context, 200
            paused = [
                {
                    "session": str(r["id"]),
                    "title": weblinks.flow_title(self.registry, str(r["flow_id"]), lang),
                }
                for r in unfinished
                if r["status"] == "paused"
            ]
            paused_ids = {p["session"] for p in paused}
            due = [
                d
                for d in weblinks.due_checkins(
                    store, self.registry, visitor.person_id, visitor.case, now, lang
                )
                if d.session_id not in paused_ids
            ]
            store.audit(
                visitor.person_id,
                "checkins.view",
                "case",
                visitor.case.id,
                visitor.case.id,
                channel="web",
                due=len(due),
                paused=len(paused),
            )
            context.update(
                hello=t("hello", lang, name=visitor.name),
                due=[
                    {
                        "key": f"{d.schedule_id}:{int(d.due_at.timestamp()) // 60}",
                        "title": d.title,
                        "until": t("until", lang, close=d.close_text),
                        "started": t("started", lang) if d.session_id else None,
                        "button": t("resume" if d.session_id else "start", lang),
                    }
                    for d in due
                ],
                paused=paused,
                texts={
                    key: t(key, lang)
                    for key in ("due_head", "paused_head", "paused_line", "resume", "nothing")
                },
                start_url=weblinks.path_for(token) + "/start",
            )
            return "home.html.j2", context, 200

        name, context, status = await self.runner(build)
        return render_page(name, context, status)

    async def answer(self, request: Request) -> Response:
        """One answer (or back, skip, pause, change, submit) from a question page."""
        token = str(request.path_params["token"])
        if cross_site(request):
            return self._refused_anywhere()
        try:
            form = await read_form(request)
        except FormTooLarge:
            return secure(Response(ui("too_big", "zh"), status_code=413))
        now = self.clock()

        def run(store: Store) -> tuple[str, dict[str, Any], int] | str:
            try:
                visitor = weblinks.resolve(store, token)
            except NotFound:
                return "message.html.j2", _gone_context(), 404
            try:
                posted = post_answer(
                    self.interviews(store), visitor.person_id, visitor.case.id, form, now
                )
            except Gone:
                return self._refused(token, visitor)
            lang = store.session_info(posted.session_id).lang
            return self.flashes.put(flash_for(posted, visitor.person_id, lang))

        return self._after(token, await self.runner(run))

    async def start(self, request: Request) -> Response:
        """Open a due check-in (``checkin=<schedule>:<due minute>``) or carry on a paused
        session (``session=<id>``)."""
        token = str(request.path_params["token"])
        if cross_site(request):
            return self._refused_anywhere()
        try:
            form = await read_form(request)
        except FormTooLarge:
            return secure(Response(status_code=413))
        now = self.clock()

        def run(store: Store) -> tuple[str, dict[str, Any], int] | str:
            try:
                visitor = weblinks.resolve(store, token)
            except NotFound:
                return "message.html.j2", _gone_context(), 404
            interviews = self.interviews(store)
            try:
                if form.get("session"):
                    turn = weblinks.resume(interviews, visitor, form.get("session"))
                    notices, error = list(turn.notices), turn.error
                else:
                    schedule, _, minute = form.get("checkin").partition(":")
                    if not (schedule.isdecimal() and minute.isdecimal() and len(minute) <= 10):
                        raise NotFound("check-in")
                    due = datetime.fromtimestamp(int(minute) * 60, UTC)
                    opened = weblinks.open_due(interviews, visitor, int(schedule), due, now)
                    notices, error = list(opened.turn.notices), opened.turn.error
            except CaseworkError:
                notices, error = [], t("closed", visitor.lang)
            return self.flashes.put(Flash(visitor.person_id, notices, error))

        return self._after(token, await self.runner(run))

    async def language(self, request: Request) -> Response:
        """Switch the member's language, and that of their unfinished sessions here."""
        token = str(request.path_params["token"])
        if cross_site(request):
            return self._refused_anywhere()
        try:
            form = await read_form(request)
        except FormTooLarge:
            return secure(Response(status_code=413))
        lang = form.get("lang")

        def run(store: Store) -> tuple[str, dict[str, Any], int] | None:
            try:
                visitor = weblinks.resolve(store, token)
            except NotFound:
                return "message.html.j2", _gone_context(), 404
            if lang not in weblinks.LANGUAGES:
                return None
            interviews = self.interviews(store)
            with store.atomic():
                weblinks.set_language(store, visitor, lang)
                for row in store.unfinished_sessions(visitor.case.id, visitor.person_id):
                    interviews.set_language(str(row["id"]), visitor.person_id, lang)
            return None

        done = await self.runner(run)
        if done is not None:
            return render_page(*done)
        return secure(RedirectResponse(weblinks.path_for(token), status_code=303))

    @staticmethod
    def _refused_anywhere() -> Response:
        context = _gone_context()
        context["message"] = f"{t('not_yours', 'zh')}\n{t('not_yours', 'en')}"
        del context["detail"]
        return render_page("message.html.j2", context, 403)

    def _refused(self, token: str, visitor: weblinks.Visitor) -> tuple[str, dict[str, Any], int]:
        context = self._base(token, visitor.lang, visitor)
        context["message"] = t("not_yours", visitor.lang)
        return "message.html.j2", context, 404

    @staticmethod
    def _after(token: str, done: tuple[str, dict[str, Any], int] | str) -> Response:
        if isinstance(done, tuple):
            return render_page(*done)
        target = f"{weblinks.path_for(token)}?f={done}"
        return secure(RedirectResponse(target, status_code=303))


def routes(
    store_runner: StoreRunner,
    registry: FlowRegistry,
    *,
    interviews: Interviews | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[BaseRoute]:
    """The respondents' pages under ``/r/<token>``, and the stylesheet they use."""
    pages = RespondentPages(store_runner, registry, interviews=interviews, clock=clock)
    return [
        *asset_routes(),
        Route("/r/{token}", pages.home, methods=["GET"], name="respond_home"),
        Route("/r/{token}", pages.answer, methods=["POST"], name="respond_answer"),
        Route("/r/{token}/start", pages.start, methods=["POST"], name="respond_start"),
        Route("/r/{token}/language", pages.language, methods=["POST"], name="respond_language"),
    ]


__all__ = ["RedactLinks", "RespondentPages", "install_log_redaction", "routes"]
