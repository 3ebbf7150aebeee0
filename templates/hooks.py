"""What a chat channel calls to send records: a session record as an HTML file, and a case's
scales as a short text with a PNG chart.

The channel checks who may see what and writes the audit rows (it knows who asked), so
these only render. ``telegram_hooks`` matches what ``bot/telegram.py`` looks for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC

from flows.recurrence import default_tz
from flows.registry import FlowRegistry
from storage.store import Store
from templates.charts import BandShade, score_panels_png
from templates.i18n import label, parse_moment, zone
from templates.render import Renderer

__all__ = ["RecordHook", "ScoresHook", "telegram_hooks"]

RecordHook = Callable[[str, str], tuple[str, bytes]]
"""(session id, language) → (file name, the HTML record as UTF-8)."""
ScoresHook = Callable[[int, str], tuple[str, bytes | None]]
"""(case id, language) → (a text summary, a PNG of the scores over time or None)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def telegram_hooks(store: Store, interviews: object | None = None) -> tuple[RecordHook, ScoresHook]:
    """The record and scores hooks over ``store`` (sharing the flow registry of
    ``interviews``, when given, so each flow version is compiled once)."""
    registry = getattr(interviews, "registry", None)
    renderer = Renderer(
        store,
        registry=registry if isinstance(registry, FlowRegistry) else None,
        audit=False,
        tz=zone(default_tz()),  # workers read local times; one setting with schedules
    )

    def render_record(session_id: str, lang: str) -> tuple[str, bytes]:
        html = renderer.session(session_id, "html", lang=lang)
        code = store.case(store.session_info(session_id).case_id).code
        name = _UNSAFE.sub("-", f"record-{code}-{session_id[:8]}").strip("-")
        return f"{name}.html", html.encode("utf-8")

    def chart_scores(case_id: int, lang: str) -> tuple[str, bytes | None]:
        case = store.case(case_id)
        series = renderer.views.series(case, lang)
        if not series:
            return f"{case.code}: {label('no_scores', lang)}", None
        colon = label("colon", lang)
        lines = [f"{case.code} · {label('scores_over_time', lang)}"]
        for one in series:
            latest = one.latest
            line = f"{one.instrument}{colon}{latest.total_text} / {one.range_text}"
            if latest.band:
                line += label("space", lang) + label("paren", lang, text=latest.band)
            line += f" · {latest.at.day}"
            if len(one.points) > 1:
                first = one.points[0]
                line += f" ({label('pre', lang)} {first.total_text}, {first.at.day})"
            if latest.flagged:
                line = "⚠ " + line
            lines.append(line)
        panels = []
        for one in series:
            points = []
            for p in one.points:
                moment = parse_moment(p.at.iso)
                if moment is not None and p.total is not None:
                    points.append((moment.astimezone(UTC).replace(tzinfo=None), float(p.total)))
            shades = [BandShade(float(b.at_least), float(b.at_most), b.colour) for b in one.bands]
            panels.append((one.instrument, points, shades, float(one.low), float(one.high)))
        return "\n".join(lines), score_panels_png(panels)

    return render_record, chart_scores
