"""What every desk handler needs: the backend, the signer, the flows, the templates, a clock."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
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

__all__ = ["STATIC", "TEMPLATES", "Chart", "Charts", "Desk", "svg_data_uri"]


def svg_data_uri(svg: str) -> str:
    """An SVG as a ``data:`` URI for an ``<img>`` (a QR code): the page's CSP allows data
    images and no inline style, and an image's SVG keeps its own styles to itself."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


@dataclass(frozen=True, slots=True)
class Chart:
    """What one chart draws: numbers and dates only (names and labels are beside it)."""

    case_id: int
    points: tuple[tuple[datetime, float], ...]
    bands: tuple[BandShade, ...]
    low: float
    high: float
    salt: str

    @property
    def key(self) -> str:
        data = repr((self.case_id, self.points, self.bands, self.low, self.high, self.salt))
        digest = hashlib.sha256(data.encode())
        return digest.hexdigest()[:32]


class Charts:
    """Charts a case page showed, by key, for the image requests that follow it.

    The page puts each chart's data here and links ``/cases/CODE/charts/KEY.svg``; drawing
    (matplotlib, tens of milliseconds a chart) happens when the browser asks, off the event
    loop, and a drawn chart is kept, so the page itself comes back at once and a case seen
    again is not drawn again. Bounded: the least recently used are forgotten first (a page
    reloaded puts them back)."""

    def __init__(self, keep: int = 2048, drawn: int = 512) -> None:
        self._data: OrderedDict[str, Chart] = OrderedDict()
        self._svg: OrderedDict[str, str] = OrderedDict()
        self._keep, self._drawn = keep, drawn
        self._lock = threading.Lock()

    def add(self, chart: Chart) -> str:
        key = chart.key
        with self._lock:
            self._data[key] = chart
            self._data.move_to_end(key)
            while len(self._data) > self._keep:
                self._data.popitem(last=False)
        return key

    def get(self, key: str) -> Chart | None:
        with self._lock:
            return self._data.get(key)

    def svg(self, key: str, chart: Chart) -> str:
        with self._lock:
            if key in self._svg:
                self._svg.move_to_end(key)
                return self._svg[key]
        drawn = score_chart(chart.points, chart.bands, chart.low, chart.high, salt=chart.salt)
        with self._lock:
            self._svg[key] = drawn
            while len(self._svg) > self._drawn:
                self._svg.popitem(last=False)
        return drawn


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
    charts: Charts

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
            backend.reader,  # records are read on the read-only connection
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
            charts=Charts(),
        )

    def warm(self) -> None:
        """Do before serving what the first pages would otherwise do while people wait:
        read and compile every flow file (for the forms' lists), compile the templates."""
        from desk.views import flow_choices

        for lang in i18n.LANGUAGES:
            flow_choices(self.registry, lang, {"caregiver", "client", "worker", "anyone"})
        for name in self.env.list_templates(extensions=["j2"]):
            self.env.get_template(name)

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
