"""The desk as one Starlette application: every route, mount and middleware is declared in
``build_app``.

    build_app(backend, secret=...) -> Starlette

Middleware, outermost first: security headers on every response, then the desk session
(who is signed in; cross-site POSTs marked for refusal). Each POST handler checks its form's
CSRF token before reading anything else. A case or record the worker may not see, like one
that does not exist, is a 404 page; a page that needs a signed-in worker says how to get a
sign-in link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from casework.errors import NotFound
from casework.identity import Actor
from casework.signin import IDLE_TIMEOUT
from desk import interviews, pages
from desk.auth import CsrfRefused, DeskSessions, SecurityHeaders, SignInRequired
from desk.backend import Backend, Busy
from desk.context import STATIC, Desk
from flows.registry import FlowRegistry

log = logging.getLogger("caseflow.desk")

__all__ = ["build_app"]


def _desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def _actor(request: Request) -> Actor | None:
    actor = request.scope.get("state", {}).get("actor")
    return actor if isinstance(actor, Actor) else None


async def _not_found(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException) and exc.status_code != 404:
        desk = _desk(request)
        return await desk.page(
            request,
            "message.html.j2",
            status=exc.status_code,
            actor=_actor(request),
            title_key="not_found",
            why_key="not_found_why",
        )
    return await _desk(request).page(
        request,
        "message.html.j2",
        status=404,
        actor=_actor(request),
        title_key="not_found",
        why_key="not_found_why",
    )


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    desk = _desk(request)
    ended = bool(request.scope.get("state", {}).get("session_ended"))
    return await desk.page(
        request,
        "signin_needed.html.j2",
        status=401,
        ended=ended,
        idle_minutes=int(desk.idle.total_seconds() // 60),
    )


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return await _desk(request).page(
        request,
        "message.html.j2",
        status=403,
        actor=_actor(request),
        title_key="form_expired",
        why_key="form_expired_why",
    )


async def _busy(request: Request, exc: Exception) -> Response:
    return await _desk(request).page(
        request,
        "message.html.j2",
        status=503,
        actor=_actor(request),
        title_key="busy",
        why_key="busy_why",
    )


def build_app(
    backend: Backend,
    *,
    secret: bytes,
    tz: tzinfo = UTC,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    idle: timedelta = IDLE_TIMEOUT,
    bot_username: str | None = None,
    registry: FlowRegistry | None = None,
    templates: str | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The desk over ``backend``. ``clock`` and ``idle`` are there for tests; ``templates``
    is an organisation's record templates (as ``caseflow render --templates``);
    ``extra_routes`` are mounted as they are (the respondents' web link)."""
    desk = Desk.make(
        backend,
        secret=secret,
        tz=tz,
        clock=clock,
        idle=idle,
        bot_username=bot_username,
        registry=registry,
        templates=templates,
    )
    routes: list[BaseRoute] = [
        Route(path, endpoint, methods=methods) for path, endpoint, methods in pages.ROUTES
    ]
    routes.append(Mount("/static", StaticFiles(directory=str(STATIC)), name="static"))
    routes.extend(extra_routes)
    routes.extend(interviews.routes(desk, backend, clock))  # desk/interviews.py
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(DeskSessions, auth=desk.auth, backend=backend, clock=clock, idle=idle),
        ],
        exception_handlers={
            404: _not_found,
            405: _not_found,
            NotFound: _not_found,
            SignInRequired: _sign_in_required,
            CsrfRefused: _csrf_refused,
            Busy: _busy,
        },
    )
    app.state.desk = desk
    return app
