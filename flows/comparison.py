"""Pre/post comparison of one instrument's administrations on a case. Pure: no I/O.

The rows come from storage (each completed session's latest score for the instrument);
this module orders them, works out the change from the first to the last administration
and, where the instrument file declares a reliability and a norm SD, the Jacobson-Truax
reliable change index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.instruments import Instrument
from flows.scoring import ReliableChange, reliable_change

PHASE_ORDER = {"baseline": 0, "pre": 1, "mid": 2, "ongoing": 2, "post": 3, "follow-up": 4}


@dataclass(frozen=True)
class Administration:
    """One completed administration: when, in which phase, and its stored score."""

    session_id: str
    when: str
    phase: str
    result: dict[str, Any]

    @property
    def total(self) -> float | None:
        value = self.result.get("total")
        return None if value is None else float(value)

    @property
    def band_label(self) -> dict[str, str]:
        band = self.result.get("band")
        return dict(band.get("label", {})) if isinstance(band, dict) else {}

    @property
    def subscales(self) -> dict[str, Any]:
        return dict(self.result.get("subscales") or {})


@dataclass(frozen=True)
class Comparison:
    instrument: Instrument
    administrations: list[Administration]
    change: float | None
    reliable: ReliableChange | None

    @property
    def first(self) -> Administration | None:
        scored = [a for a in self.administrations if a.total is not None]
        return scored[0] if scored else None

    @property
    def last(self) -> Administration | None:
        scored = [a for a in self.administrations if a.total is not None]
        return scored[-1] if len(scored) > 1 else None

    def reading(self) -> str:
        """improved | deteriorated | no_reliable_change | unchanged | rci_unavailable | single"""
        if self.last is None:
            return "single"
        if self.reliable is not None:
            return self.reliable.direction
        return "rci_unavailable"

    def to_dict(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument.id,
            "instrument_version": self.instrument.version,
            "higher_is": self.instrument.higher_is_for(self.instrument.total_scale.id),
            "administrations": [
                {
                    "session": a.session_id,
                    "when": a.when,
                    "phase": a.phase,
                    "total": a.result.get("total"),
                    "band": a.result.get("band"),
                    "subscales": a.subscales,
                    "flags": a.result.get("flags", []),
                }
                for a in self.administrations
            ],
            "change": self.change,
            "reliable_change": self.reliable.to_dict() if self.reliable else None,
            "reading": self.reading(),
        }


def compare(instrument: Instrument, administrations: list[Administration]) -> Comparison:
    """Order the administrations by time and compare the first scored with the last."""
    ordered = sorted(administrations, key=lambda a: (a.when, PHASE_ORDER.get(a.phase, 2)))
    scored = [a for a in ordered if a.total is not None]
    change: float | None = None
    reliable = None
    if len(scored) > 1:
        pre, post = scored[0].total, scored[-1].total
        assert pre is not None and post is not None
        change = post - pre
        reliable = reliable_change(instrument, instrument.total_scale.id, pre, post)
    return Comparison(instrument, ordered, change, reliable)
