"""The desk's handlers: each parses the request, calls one function on the database thread,
and renders one template. Refusals by the access policy arrive as ``NotFound`` and are shown
as a missing page; forms are checked for their CSRF token before anything else is read."""

from __future__ import annotations

import argparse
import contextlib
import io
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
import segno
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from casework import casefile as casefile_actions
from casework import cases as case_actions
from casework import policy, signin
from casework import records as record_actions
from casework import schedules as schedule_actions
from casework.caseload import CaseRow, by_worker
from casework.errors import Invalid, NotAllowed, NotFound
from casework.identity import Actor, set_language
from desk import views
from desk.auth import SESSION_COOKIE, SIGNIN_COOKIE, actor_of, checked_form
from desk.context import Chart, Desk, svg_data_uri
from desk.i18n import LABELS, label
from flows.model import CONSENT_METHODS, CONSENT_ROLES
from flows.recurrence import RecurrenceError, describe
from storage.store import Case, Store
from templates.charts import BandShade
from templates.i18n import format_moment
from templates.render import Renderer

__all__ = ["ROUTES"]

SORTS = ("code", "last", "due", "rate", "flags", "followups")
# Consent the worker records by hand; consent in the chat is the consent interview's.
CONSENT_METHODS_BY_HAND = tuple(m for m in CONSENT_METHODS if m != "chat")


def _desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def _ok(path: str, key: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?ok={quote(key)}", status_code=303)


def _text(form: FormData, name: str, limit: int = 200) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _local(path: str) -> str:
    """A path on this site to go back to (never another site's address)."""
    if path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path[:300]
    return "/caseload"


# --------------------------------------------------------------------------- signing in


async def home(request: Request) -> Response:
    actor_of(request)
    return RedirectResponse("/caseload", status_code=303)


async def signin_page(request: Request) -> Response:
    """The page a sign-in link opens: one button that spends the link (a POST), so a link
    preview or a scanner that fetches the URL does not use it up."""
    desk = _desk(request)
    token = request.path_params["token"]
    if not 16 <= len(token) <= 128:
        return await desk.page(request, "signin_refused.html.j2", status=404)
    pre = request.cookies.get(SIGNIN_COOKIE)
    if not pre or not 16 <= len(pre) <= 64:
        pre = secrets.token_urlsafe(24)
    # The form is bound to the sign-in cookie set with it.
    response = await desk.page(request, "signin.html.j2", binding=f"signin:{pre}", token=token)
    desk.auth.set_cookie(response, request, SIGNIN_COOKIE, pre)
    return response


async def signin_post(request: Request) -> Response:
    desk = _desk(request)
    form = await checked_form(request, desk.auth)
    token = _text(form, "token", 200)
    try:
        session = await desk.backend.run(signin.redeem_link, token, desk.clock())
    except NotFound:
        return await desk.page(request, "signin_refused.html.j2", status=404)
    old = request.scope.get("state", {}).get("session_token")
    if isinstance(old, str):
        await desk.backend.run(signin.sign_out, old, desk.clock())
    response = RedirectResponse("/caseload", status_code=303)
    desk.auth.set_cookie(response, request, SESSION_COOKIE, desk.auth.cookie_value(session.token))
    desk.auth.clear_cookie(response, request, SIGNIN_COOKIE)
    return response


async def signout(request: Request) -> Response:
    desk = _desk(request)
    form = await checked_form(request, desk.auth)
    del form
    token = request.scope.get("state", {}).get("session_token")
    lang = desk.lang(request, request.scope.get("state", {}).get("actor"))
    if isinstance(token, str):
        await desk.backend.run(signin.sign_out, token, desk.clock())
    request.scope["state"].pop("actor", None)
    request.scope["state"].pop("session_token", None)
    response = await desk.page(request, "signed_out.html.j2", page_lang=lang)
    desk.auth.clear_cookie(response, request, SESSION_COOKIE)
    return response


async def language(request: Request) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    form = await checked_form(request, desk.auth)
    lang = _text(form, "lang", 5)
    with contextlib.suppress(Invalid):  # an unknown language changes nothing
        await desk.backend.run(_set_language, actor, lang)
    return RedirectResponse(_local(_text(form, "next", 300)), status_code=303)


def _set_language(store: Store, actor: Actor, lang: str) -> None:
    set_language(store, actor, lang)


# --------------------------------------------------------------------------- caseload


def _sort(rows: list[CaseRow], key: str, descending: bool) -> list[CaseRow]:
    far = datetime.max.replace(tzinfo=None)

    def value(row: CaseRow) -> Any:
        if key == "last":
            return row.last_contact or ""
        if key == "due":
            return row.next_due.replace(tzinfo=None) if row.next_due else far
        if key == "rate":
            return -1.0 if row.compliance is None else row.compliance
        if key == "flags":
            return row.open_flags or 0
        if key == "followups":
            return row.overdue_followups or 0
        return row.code

    return sorted(rows, key=lambda r: (value(r), r.code), reverse=descending)


async def caseload(request: Request, *, error: str | None = None, filled: Any = None) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    lang = desk.lang(request, actor)
    query = request.query_params.get("q", "").strip()[:60]
    sort = request.query_params.get("sort", "code")
    sort = sort if sort in SORTS else "code"
    descending = request.query_params.get("dir") == "desc"
    data = await desk.backend.read(
        views.caseload_page, desk.registry, actor, desk.clock(), query, lang
    )
    rows = _sort(data.rows, sort, descending)
    mine = [r for r in rows if r.mine]
    team = by_worker(rows)
    return await desk.page(
        request,
        "caseload.html.j2",
        status=400 if error else 200,
        actor=actor,
        data=data,
        mine=mine,
        team=team,
        count=len(rows),
        query=query,
        sort=sort,
        descending=descending,
        moment=_moment(desk, lang),
        error=error,
        filled=filled or {},
        groups=casefile_actions.CLIENT_GROUPS,
    )


def _moment(desk: Desk, lang: str) -> Callable[[Any], str]:
    def moment(value: Any) -> str:
        if value is None:
            return ""
        text = value.isoformat() if isinstance(value, datetime) else str(value)
        return format_moment(text, lang, desk.tz)

    return moment


class CaseExists(Exception):
    """A new case's code is taken."""


def _today(desk: Desk) -> date:
    return desk.clock().astimezone(desk.tz).date()


def _message(exc: Exception, lang: str) -> str:
    """An application error in the worker's words: a desk label when it names one (the
    case file's catalogue keys, such as ``age_bad``), else the error's own sentence."""
    key = str(exc)
    return label(key, lang) if key in LABELS else key


async def open_case(request: Request) -> Response:
    """Open a case with its profile (client, age or year of birth, group, main caregiver;
    the worker opening it is responsible), and optionally its weekly check-in flow."""
    desk = _desk(request)
    actor = actor_of(request)
    form = await checked_form(request, desk.auth)
    lang = desk.lang(request, actor)
    code = _text(form, "code", 40).upper()
    filled = {
        "code": code,
        "title": _text(form, "title", 120),
        "client_name": _text(form, "client_name", 80),
        "age": _text(form, "age", 10),
        "group": _text(form, "group", 40),
        "caregiver": _text(form, "caregiver", 80),
        "flow": _text(form, "checkin_flow", 40),
    }
    if code and not case_actions.CASE_CODE.match(code):
        return await caseload(request, error=label("case_code_bad", lang), filled=filled)
    try:
        opened = await desk.backend.run(_open_case, desk.registry, actor, filled, _today(desk))
    except CaseExists:
        return await caseload(request, error=label("case_exists", lang, code=code), filled=filled)
    except Invalid as exc:
        return await caseload(request, error=_message(exc, lang), filled=filled)
    except NotAllowed:
        raise NotFound("case.create") from None
    return _ok(f"/cases/{quote(opened)}", "case_opened")


def _open_case(
    store: Store, registry: Any, actor: Actor, filled: dict[str, str], today: date
) -> str:
    """The case and its profile in one transaction: a profile it cannot hold opens no case."""
    profile = _profile_changes(filled, today)
    facts: dict[str, Any] = {}
    flow = filled["flow"]
    if flow and (
        registry.known(flow)
        and flow in {f.id for f in views.flow_choices(registry, "en", {"caregiver", "client"})}
    ):
        facts["checkin_flow"] = flow
    code = filled["code"] or case_actions.next_code(store)
    if not policy.may_open_cases(actor):
        # Refused (and the refusal audited) outside the transaction below, which would
        # take the audit row back with it.
        case_actions.open_case(store, actor, code, facts)
    with store.atomic():
        try:
            case = case_actions.open_case(store, actor, code, facts, title=filled["title"])
        except Invalid:
            raise CaseExists(code) from None
        casefile_actions.set_profile(store, actor, case, worker_id=actor.person_id, **profile)
    return case.code


def _profile_changes(filled: dict[str, str], today: date) -> dict[str, Any]:
    """A profile form's fields as the profile holds them (an empty field clears)."""
    group = filled["group"]
    if group and group not in casefile_actions.CLIENT_GROUPS:
        raise Invalid("group_bad")
    return {
        "client_name": filled["client_name"] or None,
        "birth_year": casefile_actions.age_or_birth_year(filled["age"], today),
        "client_group": group or None,
        "caregiver": filled["caregiver"] or None,
    }


# --------------------------------------------------------------------------- case page


async def _case_response(
    request: Request,
    *,
    status: int = 200,
    error: str | None = None,
    filled: dict[str, str] | None = None,
    open_form: str | None = None,
) -> Response:
    """The case page; after a refused form, with the message, the form open (``open_form``)
    and what was typed in it (``filled``)."""
    desk = _desk(request)
    actor = actor_of(request)
    lang = desk.lang(request, actor)
    code = request.path_params["code"]
    data = await desk.backend.read(
        views.case_page, desk.registry, actor, code, desk.clock(), lang, desk.tz
    )
    charts, trends = _case_charts(desk, data)
    return await desk.page(
        request,
        "case.html.j2",
        status=status,
        actor=actor,
        data=data,
        v=data.summary,
        charts=charts,
        trend_charts=trends,
        moment=_moment(desk, lang),
        error=error,
        filled=filled or {},
        open_form=open_form,
        today=_today(desk).isoformat(),
        groups=casefile_actions.CLIENT_GROUPS,
        goal_statuses=casefile_actions.GOAL_STATUSES,
        consent_roles=CONSENT_ROLES,
        consent_methods=CONSENT_METHODS_BY_HAND,
        bot_username=desk.bot_username,
    )


def _case_charts(desk: Desk, data: views.CasePage) -> tuple[dict[str, str], list[str]]:
    """The charts' addresses: each chart's data is kept for the image request to draw."""
    from templates.i18n import parse_moment

    code = quote(data.case.code)

    def url(
        points: list[tuple[datetime, float]],
        bands: list[BandShade],
        low: float,
        high: float,
        salt: str,
    ) -> str:
        chart = Chart(data.case.id, tuple(points), tuple(bands), low, high, salt)
        return f"/cases/{code}/charts/{desk.charts.add(chart)}.svg"

    charts = {}
    for s in data.summary.series:
        points = []
        for p in s.points:
            moment = parse_moment(p.at.iso)
            if moment is not None and p.total is not None:
                points.append((moment.astimezone(desk.tz).replace(tzinfo=None), float(p.total)))
        shades = [BandShade(float(b.at_least), float(b.at_most), b.colour) for b in s.bands]
        charts[s.instrument_id] = url(
            points, shades, float(s.low), float(s.high), f"case-{s.instrument_id}"
        )
    trends = []
    for t in data.summary.trends:
        points = []
        for tp in t.points:
            moment = parse_moment(tp.at.iso)
            if moment is not None:
                points.append((moment.astimezone(desk.tz).replace(tzinfo=None), float(tp.value)))
        trends.append(url(points, [], float(t.low), float(t.high), f"trend-{t.key}"))
    return charts, trends


async def chart(request: Request) -> Response:
    """One chart of a case page, drawn now (or found drawn). Only for a person who may view
    the case, and only a chart some case page of it showed (else it is not found)."""
    desk = _desk(request)
    actor = actor_of(request)
    key = str(request.path_params["key"])
    found = desk.charts.get(key)
    if found is None:
        raise NotFound("chart")
    case = await desk.backend.read(_viewable, actor, request.path_params["code"])
    if case.id != found.case_id:
        raise NotFound("chart")
    svg = await anyio.to_thread.run_sync(desk.charts.svg, key, found)
    return Response(
        svg,
        media_type="image/svg+xml",
        # An SVG keeps its styles inline; as an image it runs nothing, and opened on its own
        # it may still run nothing.
        headers={"content-security-policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )


def _viewable(store: Store, actor: Actor, code: str) -> Case:
    return case_actions.case_for(store, actor, code, "case.view")


async def case_page(request: Request) -> Response:
    return await _case_response(request)


# --------------------------------------------------------------------------- the case file


async def edit_profile(request: Request) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    form = await checked_form(request, desk.auth)
    code = request.path_params["code"]
    filled = {
        "client_name": _text(form, "client_name", 80),
        "age": _text(form, "age", 10),
        "group": _text(form, "group", 40),
        "caregiver": _text(form, "caregiver", 80),
        "worker_id": _text(form, "worker_id", 12),
    }
    try:
        await desk.backend.run(_set_profile, actor, code, filled, _today(desk))
    except Invalid as exc:
        return await _refused(request, exc, filled, "profile")
    return _ok(f"/cases/{quote(code)}", "profile_saved")


def _set_profile(
    store: Store, actor: Actor, code: str, filled: dict[str, str], today: date
) -> None:
    case = case_actions.case_for(store, actor, code, "case.profile.edit")
    changes = _profile_changes(filled, today)
    worker = filled["worker_id"]
    if worker:
        staff = {
            str(m["id"]) for m in store.members(case.id) if m["role"] in ("worker", "supervisor")
        }
        if worker not in staff:
            raise Invalid("worker_not_on_case")
        changes["worker_id"] = int(worker)
    casefile_actions.set_profile(store, actor, case, **changes)


async def record_consent(request: Request) -> Response:
    """Consent given on paper or spoken, recorded by the worker who saw it given."""
    desk = _desk(request)
    actor = actor_of(request)
    form = await checked_form(request, desk.auth)
    code = request.path_params["code"]
    filled = {
        "by": _text(form, "by", 80),
        "role": _text(form, "role", 20),
        "method": _text(form, "method", 20),
        "on": _text(form, "on", 20),
    }
    try:
        await desk.backend.run(_record_consent, actor, code, filled, _today(desk))
    except Invalid as exc:
        return await _refused(request, exc, filled, "consent")
    return _ok(f"/cases/{quote(code)}", "consent_recorded")


def _record_consent(
    store: Store, actor: Actor, code: str, filled: dict[str, str], today: date
) -> None:
    case = case_actions.case_for(store, actor, code, "consent.record")
    if not filled["by"]:
        raise Invalid("consent_by_needed")
    try:
        day = date.fromisoformat(filled["on"])
    except ValueError:
        raise Invalid("consent_date_bad") from None
    if day > today:
        raise Invalid("consent_date_future")
    casefile_actions.record_consent(
        store,
        actor,
        case,
        by=filled["by"],
        role=filled["role"],
        method=filled["method"],
        on=day.isoformat(),
    )


async def add_goal(request: Request) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    form = await checked_form(request, desk.auth)
    code = request.path_params["code"]
    filled = {
        "title": _text(form, "title", 200),
        "area": _text(form, "area", 120),
        "activities": _text(form, "activities", 2000),
        "target": _text(form, "target", 400),
    }
    try:
        await desk.backend.run(_add_goal, actor, code, filled)
    except Invalid as exc:
        return await _refused(request, exc, filled, "goal")
    return _ok(f"/cases/{quote(code)}", "goal_added")


def _add_goal(store: Store, actor: Actor, code: str, filled: dict[str, str]) -> None:
    case = case_actions.case_for(store, actor, code, "plan.edit")
    if not filled["title"]:
        raise Invalid("goal_title_needed")
    try:
        casefile_actions.add_goal(
            store,
            actor,
            case,
            filled["title"],
            area=filled["area"] or None,
            activities=filled["activities"] or None,
            target=filled["target"] or None,
        )
    except casefile_actions.Refused:
        raise Invalid("plan_closed") from None


async def goal_status(request: Request) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    form = await checked_form(request, desk.auth)
    code = request.path_params["code"]
    number = int(request.path_params["number"])
    status = _text(form, "status", 20)
    try:
        await desk.backend.run(_goal_status, actor, code, number, status)
    except Invalid as exc:
        return await _refused(request, exc, {}, None)
    return _ok(f"/cases/{quote(code)}", "goal_status_changed")


def _goal_status(store: Store, actor: Actor, code: str, number: int, status: str) -> None:
    case = case_actions.case_for(store, actor, code, "plan.edit")
    try:
        casefile_actions.set_goal_status(store, actor, case, number, status)
    except casefile_actions.Refused:
        raise Invalid("plan_closed") from None


async def close_case(request: Request) -> Response:
    """Close the case (it needs a closing report since it was opened); its check-ins pause."""
    desk = _desk(request)
    actor = actor_of(request)
    await checked_form(request, desk.auth)
    code = request.path_params["code"]
    try:
        paused = await desk.backend.run(_close, actor, code)
    except Invalid as exc:
        return await _refused(request, exc, {}, "close")
    return _ok(f"/cases/{quote(code)}", "case_closed" if paused else "case_closed_none")


def _close(store: Store, actor: Actor, code: str) -> int:
    case = case_actions.case_for(store, actor, code, "case.close")
    if case.status == "closed":
        raise Invalid("already_closed")
    try:
        closed = casefile_actions.close(store, actor, case)
    except casefile_actions.Refused:
        raise Invalid("no_closing_report") from None
    return len(closed.paused_schedules)


async def reopen_case(request: Request) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    form = await checked_form(request, desk.auth)
    code = request.path_params["code"]
    reason = _text(form, "reason", 2000)
    try:
        paused = await desk.backend.run(_reopen, actor, code, reason)
    except Invalid as exc:
        return await _refused(request, exc, {"reason": reason}, "reopen")
    return _ok(f"/cases/{quote(code)}", "case_reopened_paused" if paused else "case_reopened")


def _reopen(store: Store, actor: Actor, code: str, reason: str) -> int:
    case = case_actions.case_for(store, actor, code, "case.close")
    if not reason:
        raise Invalid("reopen_reason_needed")
    try:
        return len(casefile_actions.reopen(store, actor, case, reason))
    except casefile_actions.Refused:
        raise Invalid("not_closed") from None


async def _refused(
    request: Request, exc: Invalid, filled: dict[str, str], open_form: str | None
) -> Response:
    """The case page again with why the form was not saved, and what was typed in it."""
    lang = _desk(request).lang(request, actor_of(request))
    return await _case_response(
        request, status=400, error=_message(exc, lang), filled=filled, open_form=open_form
    )


async def add_schedule(request: Request) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    form = await checked_form(request, desk.auth)
    code = request.path_params["code"]
    how = _text(form, "how", 10)
    args = argparse.Namespace(
        daily=how == "daily",
        weekly=_text(form, "weekdays", 40) if how == "weekly" else None,
        every=None,
        once=_text(form, "on", 20) if how == "once" else None,
        start=None,
        at=_text(form, "at", 10) or "18:00",
        window=_text(form, "window", 20) or None,
        remind=_text(form, "remind", 60) or None,
        quiet=_text(form, "quiet", 20) or None,
        tz=None,
    )
    if how == "every":
        every = _text(form, "every", 4)
        args.every = int(every) if every.isdecimal() else 0
    if how not in ("daily", "weekly", "every", "once"):
        return await _case_response(request, status=400, error="how often?")
    member = _text(form, "member", 12)
    flow = _text(form, "flow", 40)
    try:
        text = await desk.backend.run(
            _add_schedule, desk.registry, actor, code, member, flow, args, desk.clock()
        )
    except (Invalid, RecurrenceError) as exc:
        return await _case_response(request, status=400, error=str(exc))
    except ValidationError as exc:
        message = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        return await _case_response(request, status=400, error=message)
    del text
    return _ok(f"/cases/{quote(code)}", "schedule_added")


def _add_schedule(
    store: Store,
    registry: Any,
    actor: Actor,
    code: str,
    member: str,
    flow: str,
    args: argparse.Namespace,
    now: datetime,
) -> str:
    from bot.cli_schedules import rule_from_args

    case = case_actions.case_for(store, actor, code, "schedule.create")
    if not member.isdecimal():
        raise Invalid("choose who answers")
    rule = rule_from_args(args, now)
    schedule = schedule_actions.create(
        store, registry, actor, case.id, int(member), flow, rule, now
    )
    return describe(schedule.rule)


async def change_schedule(request: Request) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    await checked_form(request, desk.auth)
    code = request.path_params["code"]
    verb = request.path_params["verb"]
    if verb not in ("pause", "resume", "remove"):
        raise NotFound(verb)
    schedule_id = int(request.path_params["schedule_id"])
    try:
        await desk.backend.run(_change_schedule, actor, code, schedule_id, verb, desk.clock())
    except Invalid as exc:
        return await _case_response(request, status=400, error=str(exc))
    return _ok(f"/cases/{quote(code)}", "schedule_changed")


def _change_schedule(
    store: Store, actor: Actor, code: str, schedule_id: int, verb: str, now: datetime
) -> bool:
    case = case_actions.case_for(store, actor, code, "case.view")
    schedule = schedule_actions.get(store, actor, schedule_id, "schedule.change")
    if schedule.case_id != case.id:
        raise NotFound(f"no schedule {schedule_id}")
    return schedule_actions.change(store, actor, schedule_id, verb, now)


async def invite(request: Request) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    form = await checked_form(request, desk.auth)
    code = request.path_params["code"]
    lang = desk.lang(request, actor)
    role = _text(form, "role", 12) or "caregiver"
    if desk.bot_username is None:
        return await _case_response(request, status=400, error=label("invite_no_bot", lang))
    try:
        made = await desk.backend.run(_invite, actor, code, role, desk.clock())
    except Invalid as exc:
        return await _case_response(request, status=400, error=str(exc))
    link = f"https://t.me/{desk.bot_username}?start={made.token}"
    qr = segno.make(link, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=6, border=2, xmldecl=False, svgns=True)
    return await desk.page(
        request,
        "invite.html.j2",
        actor=actor,
        code=made.case.code,
        link=link,
        role=made.role,
        expires=format_moment(made.expires.isoformat(), lang, desk.tz),
        qr=svg_data_uri(buffer.getvalue().decode("utf-8")),
    )


async def weblink(request: Request) -> Response:
    """Give a member a web link (or a new one in place of the old), or revoke theirs."""
    desk = _desk(request)
    actor = actor_of(request)
    await checked_form(request, desk.auth)
    code = request.path_params["code"]
    verb = request.path_params["verb"]
    if verb not in ("give", "replace", "revoke"):
        raise NotFound(verb)
    member = int(request.path_params["member_id"])
    lang = desk.lang(request, actor)
    try:
        issued = await desk.backend.run(_weblink, actor, code, member, verb, desk.clock())
    except Invalid as exc:
        return await _case_response(request, status=400, error=str(exc))
    if issued is None:
        return _ok(f"/cases/{quote(code)}", "link_revoked")
    url = issued.url(str(request.base_url).rstrip("/"))
    qr = segno.make(url, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=5, border=2, xmldecl=False, svgns=True)
    return await desk.page(
        request,
        "weblink.html.j2",
        actor=actor,
        code=code.upper(),
        member=issued.member.name,
        url=url,
        replaced=verb == "replace",
        forward=label("weblink_forward", issued.member.lang, name=issued.member.name, url=url),
        qr=svg_data_uri(buffer.getvalue().decode("utf-8")),
        lang_note=label("weblink_lang", lang, member_lang=issued.member.lang),
    )


def _weblink(store: Store, actor: Actor, code: str, member: int, verb: str, now: datetime) -> Any:
    from casework import weblinks as weblink_actions

    case = case_actions.case_for(store, actor, code, "member.link")
    try:
        if verb == "revoke":
            weblink_actions.revoke(store, actor, case, member, now)
            return None
        make = weblink_actions.create if verb == "give" else weblink_actions.replace
        return make(store, actor, case, member, now)
    except NotAllowed as exc:
        raise NotFound(code) from exc


def _invite(store: Store, actor: Actor, code: str, role: str, now: datetime) -> Any:
    case = case_actions.case_for(store, actor, code, "member.invite")
    return case_actions.invite(store, actor, case, role, now)


async def export_summary(request: Request) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    lang = desk.lang(request, actor)
    code = request.path_params["code"]
    html, name = await desk.backend.read(_summary, desk, actor, code, lang)
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def _summary(store: Store, desk: Desk, actor: Actor, code: str, lang: str) -> tuple[str, str]:
    case = case_actions.case_for(store, actor, code, "record.export")
    renderer = Renderer(store, registry=desk.registry, tz=desk.tz, audit=True)
    html = renderer.case(case, "html", lang=lang, as_of=desk.clock(), actor_id=actor.person_id)
    return html, f"case-{_safe(case.code)}.html"


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


async def export_tables(request: Request) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    lang = desk.lang(request, actor)
    code = request.path_params["code"]
    data, name = await desk.backend.read(_tables, desk, actor, code, lang)
    return Response(
        data,
        media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def _tables(store: Store, desk: Desk, actor: Actor, code: str, lang: str) -> tuple[bytes, str]:
    from templates.export import export

    case = case_actions.case_for(store, actor, code, "record.export")
    folder = Path(tempfile.mkdtemp(prefix="caseflow-export-"))  # 0700, removed below
    try:
        written = export(
            store,
            [case],
            folder / "tables",
            "csv",
            lang=lang,
            actor_id=actor.person_id,
            registry=desk.registry,
        )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in written:
                archive.write(path, f"{_safe(case.code)}/{path.name}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return buffer.getvalue(), f"case-{_safe(case.code)}-tables.zip"


# --------------------------------------------------------------------------- records


async def _record_response(
    request: Request, *, status: int = 200, error: str | None = None, filled: Any = None
) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    lang = desk.lang(request, actor)
    sid = request.path_params["session_id"]
    data = await desk.backend.read(views.record_page, desk.renderer, actor, sid, lang, desk.tz)
    return await desk.page(
        request,
        "record.html.j2",
        status=status,
        actor=actor,
        data=data,
        error=error,
        filled=filled or {},
    )


async def record_page(request: Request) -> Response:
    return await _record_response(request)


def _sid(request: Request) -> str:
    sid = str(request.path_params["session_id"])
    if not 4 <= len(sid) <= 64:
        raise NotFound(sid[:64])
    return sid


async def sign(request: Request) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    form = await checked_form(request, desk.auth)
    sid = _sid(request)
    comment = _text(form, "comment", 4000)
    try:
        await desk.backend.run(record_actions.sign_off, actor, sid, comment)
    except Invalid as exc:
        return await _record_response(
            request, status=400, error=str(exc), filled={"comment": comment}
        )
    return _ok(f"/records/{quote(sid)}", "signed")


async def amend(request: Request) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    form = await checked_form(request, desk.auth)
    sid = _sid(request)
    question = _text(form, "question", 80)
    value = _text(form, "value", 4000)
    reason = _text(form, "reason", 2000) or None
    filled = {"question": question, "value": value, "reason": reason or ""}
    try:
        await desk.backend.run(
            record_actions.amend, desk.registry, actor, sid, question, value, reason
        )
    except Invalid as exc:
        return await _record_response(request, status=400, error=str(exc), filled=filled)
    return _ok(f"/records/{quote(sid)}", "amended")


# --------------------------------------------------------------------------- inbox


async def inbox(request: Request, *, status: int = 200, error: str | None = None) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    lang = desk.lang(request, actor)
    data = await desk.backend.read(views.inbox_page, actor, desk.clock(), lang, desk.tz)
    return await desk.page(
        request,
        "inbox.html.j2",
        status=status,
        actor=actor,
        flags=data.flags,
        followups=data.followups,
        error=error,
    )


async def acknowledge_flag(request: Request) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    form = await checked_form(request, desk.auth)
    note = _text(form, "note", 2000)
    if not note:
        lang = desk.lang(request, actor)
        return await inbox(request, status=400, error=label("ack_note_needed", lang))
    flag_id = int(request.path_params["flag_id"])
    try:
        done = await desk.backend.run(_acknowledge, actor, flag_id, note, desk.clock())
    except Invalid as exc:
        return await inbox(request, status=400, error=str(exc))
    return _ok("/inbox", "acked" if done else "acked_before")


def _acknowledge(store: Store, actor: Actor, flag_id: int, note: str, now: datetime) -> bool:
    from casework import flags as flag_actions

    try:
        return flag_actions.acknowledge(store, actor, flag_id, note, now).first
    except NotAllowed as exc:  # another case's flag is as good as none
        raise NotFound(f"no flag {flag_id}") from exc


async def followup_done(request: Request) -> Response:
    desk = _desk(request)
    actor = actor_of(request)
    form = await checked_form(request, desk.auth)
    note = _text(form, "note", 2000) or None
    task_id = int(request.path_params["followup_id"])
    try:
        done = await desk.backend.run(_followup_done, actor, task_id, note, desk.clock())
    except Invalid as exc:
        return await inbox(request, status=400, error=str(exc))
    return _ok("/inbox", "done" if done else "done_before")


def _followup_done(
    store: Store, actor: Actor, task_id: int, note: str | None, now: datetime
) -> bool:
    from casework import followups as followup_actions

    try:
        return followup_actions.done(store, actor, task_id, note, now).first
    except NotAllowed as exc:
        raise NotFound(f"no follow-up {task_id}") from exc


# --------------------------------------------------------------------------- static


async def record_css(request: Request) -> Response:
    desk = _desk(request)
    return PlainTextResponse(
        desk.record_css,
        media_type="text/css; charset=utf-8",
        headers={"cache-control": "public, max-age=3600"},
    )


FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#1d3557"/>'
    '<path d="M4 8h8M8 4v8" stroke="#fff" stroke-width="2"/></svg>'
)


async def favicon(request: Request) -> Response:
    return Response(
        FAVICON, media_type="image/svg+xml", headers={"cache-control": "public, max-age=86400"}
    )


ROUTES: list[tuple[str, Callable[..., Any], list[str]]] = [
    ("/", home, ["GET"]),
    ("/signin/{token}", signin_page, ["GET"]),
    ("/signin", signin_post, ["POST"]),
    ("/signout", signout, ["POST"]),
    ("/language", language, ["POST"]),
    ("/caseload", caseload, ["GET"]),
    ("/cases", open_case, ["POST"]),
    ("/cases/{code}", case_page, ["GET"]),
    ("/cases/{code}/profile", edit_profile, ["POST"]),
    ("/cases/{code}/consent", record_consent, ["POST"]),
    ("/cases/{code}/goals", add_goal, ["POST"]),
    ("/cases/{code}/goals/{number:int}/status", goal_status, ["POST"]),
    ("/cases/{code}/close", close_case, ["POST"]),
    ("/cases/{code}/reopen", reopen_case, ["POST"]),
    ("/cases/{code}/schedules", add_schedule, ["POST"]),
    ("/cases/{code}/schedules/{schedule_id:int}/{verb}", change_schedule, ["POST"]),
    ("/cases/{code}/invite", invite, ["POST"]),
    ("/cases/{code}/weblinks/{member_id:int}/{verb}", weblink, ["POST"]),
    ("/cases/{code}/charts/{key}.svg", chart, ["GET"]),
    ("/cases/{code}/summary.html", export_summary, ["GET"]),
    ("/cases/{code}/tables.zip", export_tables, ["GET"]),
    ("/records/{session_id}", record_page, ["GET"]),
    ("/records/{session_id}/sign", sign, ["POST"]),
    ("/records/{session_id}/amend", amend, ["POST"]),
    ("/inbox", inbox, ["GET"]),
    ("/inbox/flags/{flag_id:int}/ack", acknowledge_flag, ["POST"]),
    ("/inbox/followups/{followup_id:int}/done", followup_done, ["POST"]),
    ("/static/record.css", record_css, ["GET"]),
    ("/favicon.ico", favicon, ["GET"]),
]
