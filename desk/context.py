"""What every desk handler needs: the backend, the signer, the flows, the templates, a clock."""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from casework.identity import Actor
from desk import i18n
from desk.auth import CSRF_FIELD, Auth, csrf_binding
from desk.backend import Backend
from flows.registry import FlowRegistry
from templates import i18n as record_i18n
from templates.charts import BandShade, score_chart
from templates.render import Renderer

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "desk"
STATIC = TEMPLATES / "static"

__all__ = ["STATIC", "TEMPLATES", "Desk", "svg_data_uri"]


def svg_data_uri(svg: str) -> str:
    """An SVG as a ``data:`` URI for an ``<img>``: the page's CSP allows data images and no
    inline style, and an image's SVG keeps its own styles to itself."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


@functools.lru_cache(maxsize=1024)
def _cached_chart(
    points: tuple[tuple[datetime, float], ...],
    bands: tuple[BandShade, ...],
    low: float,
    high: float,
    salt: str,
) -> str:
    return svg_data_uri(score_chart(points, bands, low, high, salt=salt))


def chart_uri(
    points: Sequence[tuple[datetime, float]],
    bands: Sequence[BandShade],
    low: float,
    high: float,
    salt: str,
) -> str:
    """A chart as a data URI; the same data draws once (drawing is the slow part)."""
    return _cached_chart(tuple(points), tuple(bands), low, high, salt)


@dataclass
class Desk:
    backend: Backend
    auth: Auth
    registry: FlowRegistry
    renderer: Renderer
    tz: tzinfo
    clock: Callable[[], datetime]
    idle: timedelta
    bot_username: str | None
    env: Environment
    record_css: str

    @classmethod
    def make(
        cls,
        backend: Backend,
        *,
        secret: bytes,
        tz: tzinfo,
        clock: Callable[[], datetime],
        idle: timedelta,
        bot_username: str | None,
        registry: FlowRegistry | None = None,
        templates: str | None = None,
    ) -> Desk:
        registry = registry or FlowRegistry()
        renderer = Renderer(
            backend.store,
            registry=registry,
            templates=templates,
            tz=tz,
            audit=False,
            fragment=True,
        )
        env = Environment(
            loader=FileSystemLoader(str(TEMPLATES), encoding="utf-8"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        return cls(
            backend=backend,
            auth=Auth(secret),
            registry=registry,
            renderer=renderer,
            tz=tz,
            clock=clock,
            idle=idle,
            bot_username=bot_username,
            env=env,
            record_css=renderer.stylesheet(),
        )

    def lang(self, request: Request, actor: Actor | None = None) -> str:
        if actor is not None:
            return actor.lang if actor.lang in i18n.LANGUAGES else "en"
        accept = request.headers.get("accept-language", "").lower()
        return "zh" if accept.startswith("zh") else "en"

    async def page(
        self,
        request: Request,
        name: str,
        *,
        status: int = 200,
        actor: Actor | None = None,
        binding: str | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """A desk page, rendered off the event loop (a long caseload takes some doing).
        Its forms' CSRF token is bound to the desk session, or to ``binding``."""
        lang = str(context.pop("page_lang", None) or self.lang(request, actor))
        binding = binding or csrf_binding(request)
        csrf = self.auth.csrf(binding) if binding else ""
        values: dict[str, Any] = {
            "t": i18n.labels(lang),
            "tf": lambda key, **params: i18n.label(key, lang, **params),
            "rt": record_i18n.labels(lang),
            "rtf": lambda key, **params: record_i18n.label(key, lang, **params),
            "lang": lang,
            "actor": actor,
            "csrf_field": Markup('<input type="hidden" name="{}" value="{}">').format(
                CSRF_FIELD, csrf
            ),
            "path": request.url.path,
            "ok": request.query_params.get("ok", ""),
            **context,
        }
        template = self.env.get_template(name)
        html = await anyio.to_thread.run_sync(template.render, values)
        return HTMLResponse(html, status_code=status)
