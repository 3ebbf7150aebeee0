"""Rendering records as Markdown, self-contained HTML or JSON.

``Renderer`` reads what is stored (``storage.records``), builds the plain-data view
(``templates.view``) and renders it with a template: an organisation's own template from
``--templates DIR`` (or ``$CASEFLOW_TEMPLATES``) where one of that file name exists, else the
bundled one, so a template can be replaced file by file. Every template runs in the shared
sandbox (``flows.sandbox``: Jinja's immutable sandbox with budgets for sizes, steps and time,
``TEMPLATE_LIMITS``), so a template can neither reach Python's internals nor exhaust the
machine; one that tries gets a ``RenderError`` naming it and the line. HTML escapes
everything (autoescape), and Markdown escapes every character that Markdown or HTML would
read as markup (the ``md`` filter), because answers are text written by clients and
caregivers. JSON is the view itself.

Each render writes an audit row (ids and the format, never content).
"""

from __future__ import annotations

import json
import os
import re
import traceback
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    DictLoader,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    TemplateError,
)
from jinja2.exceptions import SecurityError
from markupsafe import Markup

from flows.registry import FlowRegistry
from flows.sandbox import TEMPLATE_LIMITS, BudgetExceeded, Sandbox
from storage.records import Records
from storage.store import Case, Store
from templates.charts import BandShade, score_chart
from templates.i18n import label, labels, parse_moment
from templates.view import (
    Band,
    CaseSummary,
    ContactLog,
    Point,
    PrePost,
    SessionRecord,
    Trend,
    Views,
)

__all__ = [
    "BUNDLED",
    "ENV_VAR",
    "FORMATS",
    "KINDS",
    "RenderError",
    "Renderer",
    "chart",
    "environment",
    "md",
    "template_dir",
]

BUNDLED = Path(__file__).resolve().parent / "bundled"
ENV_VAR = "CASEFLOW_TEMPLATES"
FORMATS = ("md", "html", "json")
KINDS = ("session", "case", "prepost", "notes")

# Markdown indentation for `md(N)`: a list item nests a few levels at most.
_MAX_MD_INDENT = 64
# A template error quotes what the template did (a key, a value): keep the message short.
_MAX_MESSAGE = 300


class RenderError(Exception):
    """A record could not be rendered: a template is missing, broken or did something the
    sandbox forbids."""


# --------------------------------------------------------------------------- Markdown

# Characters that start or end Markdown inline markup (emphasis, code, links, images,
# autolinks, raw HTML, entities, tables, strikethrough, math) wherever they are, and "#"
# where it could open or close a heading.
_INLINE = re.compile(r"([\\`*_\[\]<>&|~$]|(?:(?<=\s)|^)#)")
# Markup only at the start of a line: list items ("- ", "+ ", "1. ", "1) "), and setext
# underlines or thematic breaks ("---", "===").
_LINE_START = re.compile(r"^(\s*)(?:([-+])(?=\s|$)|(\d{1,9})(?=[.)](?:\s|$))|([-=])(?=[-=\s]*$))")
_BLANK_LINES = re.compile(r"\n[ \t]*\n")


class Md(str):
    """Markdown text that is already escaped (what the ``md`` filter returns)."""

    __slots__ = ()


def md(value: object, indent: int = 0) -> Md:
    """``value`` as Markdown text that reads as itself: nothing in it becomes markup.

    Lines keep their breaks (a backslash hard break) and paragraphs their blank line;
    continuation lines are indented by ``indent`` spaces so that a multi-line answer stays
    inside the list item it belongs to. Already escaped text is returned as it is."""
    if isinstance(value, Md):
        return value
    if value is None:
        return Md("")
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    pad = "\n" + " " * indent
    paragraphs = []
    for paragraph in _BLANK_LINES.split(text):
        lines = []
        for line in paragraph.split("\n"):
            line = _INLINE.sub(r"\\\1", line)
            line = _LINE_START.sub(_escape_line_start, line)
            lines.append(line)
        paragraphs.append(("\\" + pad).join(lines))
    return Md(("\n" + pad).join(paragraphs))


def code(value: object) -> Md:
    """``value`` as a Markdown code span, fenced with more backticks than it contains (code
    spans show backslashes as they are, so ``md`` would be wrong there)."""
    text = " ".join(str(value or "").split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Md(f"{fence}{pad}{text}{pad}{fence}")


def _escape_line_start(match: re.Match[str]) -> str:
    lead, marker, number, rule = match.group(1), match.group(2), match.group(3), match.group(4)
    if number is not None:
        return lead + number + "\\"  # "1." → "1\." (the escape goes before the dot)
    return lead + "\\" + (marker or rule)


# --------------------------------------------------------------------------- environment


def template_dir(given: str | os.PathLike[str] | None = None) -> Path | None:
    """The organisation's template folder: ``given``, else ``$CASEFLOW_TEMPLATES``."""
    chosen = given if given else os.environ.get(ENV_VAR, "").strip()
    return Path(chosen) if chosen else None


def _blank(value: Any) -> Any:
    return "" if value is None else value


# A page around a record: the record itself is the ``body`` block (the desk shows it inside
# its own page, with the records' stylesheet linked rather than inlined).
FRAGMENT_BASE = "{% block body %}{% endblock %}"


def _md_bound(value: object, indent: object = 0) -> int:
    """The longest ``md(value, indent)`` can be: every character escaped, and the indent
    repeated on every line."""
    if not isinstance(indent, int) or not 0 <= indent <= _MAX_MD_INDENT:
        raise SecurityError(f"md takes an indent from 0 to {_MAX_MD_INDENT}")
    text = "" if value is None else str(value)
    return 2 * len(text) + (text.count("\n") + text.count("\r") + 1) * (indent + 3)


def environment(
    organisation: Path | None = None, fmt: str = "html", *, fragment: bool = False
) -> Sandbox:
    """The sandboxed environment for one format: an organisation's templates first, file
    by file, then the bundled ones. ``bundled/NAME`` always names the bundled file, so an
    organisation's template can extend the one it replaces.

    Whatever a template prints is escaped for its format: HTML by autoescape, Markdown by
    running every printed value through ``md`` (the Markdown counterpart of autoescape), so
    a template cannot forget to escape an answer."""
    loaders: list[Any] = []
    if fragment:
        loaders.append(DictLoader({"base.html.j2": FRAGMENT_BASE}))
    if organisation is not None:
        loaders.append(FileSystemLoader(str(organisation), encoding="utf-8"))
    loaders.append(FileSystemLoader(str(BUNDLED), encoding="utf-8"))
    loaders.append(PrefixLoader({"bundled": FileSystemLoader(str(BUNDLED), encoding="utf-8")}))
    env = Sandbox(
        TEMPLATE_LIMITS,
        loader=ChoiceLoader(loaders),
        autoescape=fmt == "html",
        finalize=md if fmt == "md" else _blank,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.add_filter("md", md, bound=_md_bound)
    env.add_filter("code", code)
    return env


# --------------------------------------------------------------------------- charts


def chart(
    points: Sequence[Point], bands: Sequence[Band], low: float, high: float, tz: tzinfo, salt: str
) -> Markup:
    """The SVG chart of a scale's administrations with its bands, dates in ``tz``."""
    return _chart(points, bands, low, high, tz, salt)


def _chart(
    points: Sequence[Point], bands: Sequence[Band], low: float, high: float, tz: tzinfo, salt: str
) -> Markup:
    data = []
    for point in points:
        moment = parse_moment(point.at.iso)
        if moment is not None and point.total is not None:
            # Naive local time: the axis shows the reader's dates, not UTC's.
            data.append((moment.astimezone(tz).replace(tzinfo=None), float(point.total)))
    shades = [BandShade(float(b.at_least), float(b.at_most), b.colour) for b in bands]
    # The SVG is drawn by us from numbers and dates: no user text reaches it.
    return Markup(score_chart(data, shades, float(low), float(high), salt=salt))  # noqa: S704


def _trend_chart(trend: Trend, tz: tzinfo, salt: str) -> Markup:
    data = []
    for point in trend.points:
        moment = parse_moment(point.at.iso)
        if moment is not None:
            data.append((moment.astimezone(tz).replace(tzinfo=None), float(point.value)))
    # Numbers and dates only, as for the scales: what they mean is written beside the chart.
    return Markup(score_chart(data, [], float(trend.low), float(trend.high), salt=salt))  # noqa: S704


# --------------------------------------------------------------------------- renderer


View = SessionRecord | CaseSummary | PrePost | ContactLog


class Renderer:
    """Renders the records of one store."""

    def __init__(
        self,
        store: Store,
        *,
        registry: FlowRegistry | None = None,
        templates: str | os.PathLike[str] | None = None,
        tz: tzinfo = UTC,
        charts: bool = True,
        audit: bool = True,
        fragment: bool = False,
    ) -> None:
        """``audit=False`` leaves the audit row to a caller that writes its own (a chat
        channel that knows who asked). ``fragment=True`` renders HTML records without the
        page around them (no ``<html>``, no inlined style), for the desk to place in its own
        page with :meth:`stylesheet` linked."""
        self.store = store
        self.audit = audit
        self.records = Records(store)
        self.views = Views(self.records, registry, tz)
        self.tz = tz
        self.charts = charts
        self.organisation = template_dir(templates)
        self.envs = {
            fmt: environment(self.organisation, fmt, fragment=fragment and fmt == "html")
            for fmt in ("md", "html")
        }

    def stylesheet(self) -> str:
        """The records' CSS (``style.css.j2``, an organisation's own where it has one)."""
        try:
            return self.envs["html"].get_template("style.css.j2").render()
        except TemplateError as exc:
            raise RenderError(f"template style.css.j2: {exc}") from exc

    # -- public -----------------------------------------------------------------------

    def session(
        self,
        session_ids: str | Sequence[str],
        fmt: str,
        *,
        lang: str | None = None,
        actor_id: int | None = None,
    ) -> str:
        """One or more session records (HTML puts a page break between them) in ``lang``,
        by default the language of the (first) session; answers always read as given."""
        ids = [session_ids] if isinstance(session_ids, str) else list(session_ids)
        first = self.views.session(ids[0], lang)
        views = [first, *(self.views.session(sid, first.lang) for sid in ids[1:])]
        if fmt == "json":
            data: Any = [asdict(v) for v in views]
            text = _json(data[0] if len(data) == 1 else data)
        else:
            text = self._template("session", fmt, views[0].lang, records=views)
        for view in views:
            self._audit(actor_id, "session", view.id, self._case_id(view.case_code), fmt)
        return text

    def record_html(self, view: SessionRecord) -> str:
        """One session record already built (``self.views.session``) as HTML, unaudited:
        the caller audits, knowing who asked."""
        return self._template("session", "html", view.lang, records=[view])

    def case(
        self,
        case: Case | str,
        fmt: str,
        *,
        lang: str = "en",
        as_of: datetime | None = None,
        actor_id: int | None = None,
    ) -> str:
        """The case summary: who is on the case, flags, latest scores with charts, and the
        timeline of sessions and informal-contact notes."""
        case = self._resolve(case)
        view = self.views.case(case, lang, as_of or datetime.now(UTC))
        charts: dict[str, Markup] = {}
        if fmt == "html" and self.charts:
            charts = {
                s.instrument_id: _chart(
                    s.points, s.bands, s.low, s.high, self.tz, f"case-{s.instrument_id}"
                )
                for s in view.series
            }
            charts |= {
                f"trend-{tr.key}": _trend_chart(tr, self.tz, f"trend-{tr.key}")
                for tr in view.trends
            }
        return self._finish(view, "case", fmt, case.id, actor_id, charts=charts)

    def prepost(
        self,
        case: Case | str,
        fmt: str,
        *,
        lang: str = "en",
        as_of: datetime | None = None,
        actor_id: int | None = None,
    ) -> str:
        """The pre/post evaluation: per scale, first and last side by side, change and RCI."""
        case = self._resolve(case)
        view = self.views.prepost(case, lang, as_of or datetime.now(UTC))
        charts: dict[str, Markup] = {}
        if fmt == "html" and self.charts:
            charts = {
                e.instrument_id: _chart(
                    e.administrations, e.bands, e.low, e.high, self.tz, f"prepost-{e.instrument_id}"
                )
                for e in view.evaluations
            }
        return self._finish(view, "prepost", fmt, case.id, actor_id, charts=charts)

    def notes(
        self,
        case: Case | str,
        fmt: str,
        *,
        lang: str = "en",
        as_of: datetime | None = None,
        actor_id: int | None = None,
    ) -> str:
        """The informal-contact log of a case."""
        case = self._resolve(case)
        view = self.views.notes(case, lang, as_of or datetime.now(UTC))
        return self._finish(view, "notes", fmt, case.id, actor_id)

    # -- internals --------------------------------------------------------------------

    def _resolve(self, case: Case | str) -> Case:
        return self.records.case_by_code(case) if isinstance(case, str) else case

    def _case_id(self, code: str) -> int:
        return self.records.case_by_code(code).id

    def _finish(
        self,
        view: View,
        kind: str,
        fmt: str,
        case_id: int,
        actor_id: int | None,
        charts: dict[str, Markup] | None = None,
    ) -> str:
        if fmt == "json":
            text = _json(asdict(view))
        else:
            text = self._template(kind, fmt, view.lang, view=view, charts=charts or {})
        self._audit(actor_id, "case", case_id, case_id, fmt, kind=kind)
        return text

    def _template(self, kind: str, fmt: str, lang: str, **context: Any) -> str:
        if fmt not in FORMATS:
            raise RenderError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        name = f"{kind}.{fmt}.j2"
        try:
            template = self.envs[fmt].get_template(name)
            return template.render(
                t=labels(lang),
                tf=lambda key, **params: label(key, lang, **params),
                paren=lambda text: label("space", lang) + label("paren", lang, text=text),
                lang=lang,
                kind=kind,
                **context,
            )
        except BudgetExceeded as exc:
            raise RenderError(
                f"template {name} went over its budget{_line(exc)}: {_short(exc)}"
            ) from exc
        except SecurityError as exc:
            raise RenderError(
                f"template {name} tried something not allowed{_line(exc)}: {_short(exc)}"
            ) from exc
        except RecursionError as exc:  # a macro or include that calls itself without end
            raise RenderError(f"template {name} nests too deeply{_line(exc)}") from exc
        except TemplateError as exc:
            where = getattr(exc, "filename", None) or name
            line = getattr(exc, "lineno", None)
            at = f"{where}:{line}" if line else where
            raise RenderError(f"template {at}: {_short(exc.message or exc)}") from exc

    def _audit(
        self,
        actor_id: int | None,
        entity: str,
        entity_id: object,
        case_id: int,
        fmt: str,
        **detail: Any,
    ) -> None:
        if not self.audit:
            return
        self.store.audit(
            actor_id, "record.render", entity, entity_id, case_id, format=fmt, **detail
        )


def _line(exc: BaseException) -> str:
    """Where in the templates ``exc`` was raised (" at case.md.j2, line 12"), from the
    traceback Jinja rewrites to point at template lines."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2") and frame.lineno:
            return f" at {Path(frame.filename).name}, line {frame.lineno}"
    return ""


def _short(message: object) -> str:
    text = str(message)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
