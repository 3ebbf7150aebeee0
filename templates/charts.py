"""Charts of a scale's scores over time, drawn with matplotlib as SVG text to inline in HTML.

The chart carries numbers and dates only: the scale's name, its band labels and the phase of
each administration are written beside it in the record's language, so the SVG never needs
a font for Chinese and reads the same in every language. Output is deterministic (a fixed
hash salt per chart, no date or creator metadata, no element ids that are not referenced),
so a golden file can hold it.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import matplotlib
from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# A Figure drawn straight to SVG needs no backend; Agg keeps pyplot, should anything import
# it, away from a display.
matplotlib.use("Agg")

# matplotlib.dates has no type annotations.
_date2num = cast(Callable[[datetime], float], mdates.date2num)
_AutoDateLocator = cast(Callable[..., Any], mdates.AutoDateLocator)
_DateFormatter = cast(Callable[[str], Any], mdates.DateFormatter)

__all__ = ["BAND_TONES", "BandShade", "band_colours", "score_chart", "score_panels_png"]

BAND_TONES = ("#d8efd9", "#eef3c7", "#fdf0bf", "#fddcb5", "#f7c4c0", "#efaaa6")
"""Band shades from the best band to the worst: pale enough to print the line over them."""

LINE = "#1d3557"
# rc_context changes matplotlib's global settings for its duration: two threads drawing at
# once (the bot's database thread and the desk's page renderer) would see each other's.
_DRAWING = threading.Lock()
_UNREFERENCED_ID = re.compile(r'<g id="[^"]*"')
_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


@dataclass(frozen=True, slots=True)
class BandShade:
    """A scale band as drawn: its bounds (inclusive) and its shade."""

    at_least: float
    at_most: float
    colour: str


def band_colours(count: int, higher_is: str) -> list[str]:
    """A shade for each of ``count`` bands in ascending score order: from the best band
    (pale green) to the worst (pale red), whichever end of the scale is better."""
    if count <= 0:
        return []
    if count == 1:
        return [BAND_TONES[0]]
    last = len(BAND_TONES) - 1
    best_to_worst = [BAND_TONES[round(i * last / (count - 1))] for i in range(count)]
    return best_to_worst if higher_is == "worse" else best_to_worst[::-1]


def _spans(bands: Sequence[BandShade], low: float, high: float) -> list[tuple[float, float, str]]:
    """Band areas that meet halfway across the gaps between bands (a whole-number scale's
    0-4 and 5-9 meet at 4.5), clipped to the scale's range."""
    ordered = sorted(bands, key=lambda b: b.at_least)
    out = []
    for i, band in enumerate(ordered):
        bottom = low if i == 0 else (ordered[i - 1].at_most + band.at_least) / 2
        top = high if i == len(ordered) - 1 else (band.at_most + ordered[i + 1].at_least) / 2
        out.append((max(bottom, low), min(top, high), band.colour))
    return out


Points = Sequence[tuple[datetime, float]]

# Typed loosely: matplotlib types rc keys as a Literal of every known name.
_STYLE: Any = {
    "font.size": 9,
    "axes.edgecolor": "#555555",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
}


def _draw(
    axes: Any,
    points: Points,
    bands: Sequence[BandShade],
    low: float,
    high: float,
    label_points: bool | None,
) -> None:
    """One scale's scores over time on ``axes``, its bands shaded behind them."""
    ordered = sorted(points)
    pad = (high - low) * 0.04 or 0.5
    axes.set_ylim(low - pad, high + pad)
    spans = _spans(bands, low, high)
    for bottom, top, colour in spans:
        axes.axhspan(bottom, top, facecolor=colour, edgecolor="none", zorder=0)
    for bottom, _top, _colour in spans[1:]:
        axes.axhline(bottom, color="#8a8a8a", linewidth=0.6, linestyle=(0, (3, 3)), zorder=1)
    if ordered:
        xs = [_date2num(when) for when, _ in ordered]
        ys = [score for _, score in ordered]
        axes.plot(xs, ys, color=LINE, linewidth=1.4, marker="o", markersize=4, zorder=3)
        if label_points if label_points is not None else len(ordered) <= 12:
            for x, y in zip(xs, ys, strict=True):
                axes.annotate(
                    f"{y:g}",
                    (x, y),
                    textcoords="offset points",
                    xytext=(0, 6),
                    ha="center",
                    fontsize=8,
                    color=LINE,
                    zorder=4,
                )
        first, last = ordered[0][0], ordered[-1][0]
        margin = max((last - first) * 0.05, timedelta(days=3))
        axes.set_xlim(_date2num(first - margin), _date2num(last + margin))
    axes.xaxis.set_major_locator(_AutoDateLocator(minticks=2, maxticks=6))
    axes.xaxis.set_major_formatter(_DateFormatter("%Y-%m-%d"))
    axes.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    axes.spines[["top", "right"]].set_visible(False)


def score_chart(
    points: Points,
    bands: Sequence[BandShade],
    low: float,
    high: float,
    *,
    salt: str = "caseflow",
    label_points: bool | None = None,
) -> str:
    """An SVG chart of scores over time with the scale's bands shaded behind them.

    ``points`` are (when, score) pairs; ``low`` and ``high`` the scale's range. Points are
    labelled with their score when there are few of them (``label_points`` overrides).
    ``salt`` makes the ids inside this SVG differ from those of another chart inlined in
    the same page."""
    style: Any = {**_STYLE, "svg.hashsalt": salt, "svg.fonttype": "none"}
    with _DRAWING, matplotlib.rc_context(style):
        figure = Figure(figsize=(7.2, 2.6))
        _draw(figure.add_subplot(), points, bands, low, high, label_points)
        # Fixed margins, not tight_layout (which draws the figure an extra time): the tick
        # labels are short numbers and ISO dates, so their room is known.
        figure.subplots_adjust(left=0.065, right=0.985, bottom=0.12, top=0.965)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=_METADATA)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # inline in HTML: no XML declaration, no DOCTYPE
    return _UNREFERENCED_ID.sub("<g", svg).strip()


def score_panels_png(
    panels: Sequence[tuple[str, Points, Sequence[BandShade], float, float]], dpi: int = 110
) -> bytes:
    """A PNG with one chart per scale, stacked, for a chat message. Each panel is
    (title, points, bands, low, high); a title that is not plain ASCII is left out, since
    a PNG has no fallback font for it (the message text names the scales in order)."""
    with _DRAWING, matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=(7.2, 2.3 * max(len(panels), 1)))
        for i, (title, points, bands, low, high) in enumerate(panels):
            axes = figure.add_subplot(len(panels), 1, i + 1)
            _draw(axes, points, bands, low, high, None)
            if title.isascii():
                axes.set_title(title, loc="left", fontsize=10, fontweight="bold")
        figure.tight_layout(pad=0.6)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()
