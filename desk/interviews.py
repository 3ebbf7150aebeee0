"""The desk's mount of interviews in the browser: a worker's own flows behind the desk's
sign-in and CSRF check (``desk/interview_pages.py``), and members' web links at
``/r/<token>`` (``desk/respond.py``), which need no sign-in: the link is the credential.

``build_app`` adds ``routes(desk, backend, clock)`` to its routes; everything else about
these pages lives in the two modules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.routing import BaseRoute

from casework.identity import Actor
from desk import interview_pages, respond
from desk.auth import CSRF_FIELD, SignInRequired, checked_form, csrf_binding
from desk.backend import Backend
from desk.context import Desk

__all__ = ["routes"]


def routes(desk: Desk, backend: Backend, clock: Callable[[], datetime]) -> list[BaseRoute]:
    def signed_in(request: Request) -> int:
        actor = request.scope.get("state", {}).get("actor")
        if not isinstance(actor, Actor):
            raise SignInRequired()  # the desk's page that says how to get a sign-in link
        return actor.person_id

    def csrf(request: Request) -> dict[str, str]:
        binding = csrf_binding(request)
        return {CSRF_FIELD: desk.auth.csrf(binding)} if binding else {}

    async def checked(request: Request) -> FormData:
        return await checked_form(request, desk.auth)

    return [
        *interview_pages.routes(
            backend.run,
            desk.registry,
            signed_in=signed_in,
            hidden_fields=csrf,
            checked_form=checked,
            done_url=lambda code, session_id: f"/records/{session_id}",
            clock=clock,
        ),
        *respond.routes(backend.run, desk.registry, clock=clock),
    ]
