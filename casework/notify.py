"""When a worker may be told something: quiet hours, the digest time, the local day.

A worker's quiet hours (``people.quiet_hours``: ``HH:MM-HH:MM``, ``none``; unset means
21:00-08:00) and digest time (``people.digest_at``: ``HH:MM``, ``off``; unset means 08:00)
are wall-clock times in ``$CASEFLOW_TZ`` (Asia/Shanghai when unset). Everything takes
``now``: nothing here reads the clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from casework.errors import Invalid
from flows.recurrence import DEFAULT_TZ, QuietHours, default_tz, local_to_utc

__all__ = [
    "DEFAULT_DIGEST",
    "DEFAULT_QUIET",
    "digest_time",
    "local_day",
    "parse_digest",
    "parse_quiet",
    "quiet_hours",
    "quiet_until",
    "zone",
]

DEFAULT_QUIET = QuietHours(start=time(21, 0), end=time(8, 0))
DEFAULT_DIGEST = time(8, 0)
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def zone() -> ZoneInfo:
    """The organisation's time zone (``$CASEFLOW_TZ``)."""
    try:
        return ZoneInfo(default_tz())
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def local_day(now: datetime) -> date:
    return now.astimezone(zone()).date()


def _clock(text: str, what: str) -> time:
    match = _CLOCK.match(text.strip())
    if not match:
        raise Invalid(f"{what} {text!r} is not a time of day; write it like 08:00")
    return time(int(match.group(1)), int(match.group(2)))


def parse_quiet(text: str) -> str:
    """A quiet-hours setting as stored: ``HH:MM-HH:MM`` or ``none`` (Invalid otherwise)."""
    text = text.strip().lower()
    if text in ("none", "off", "no"):
        return "none"
    start, sep, end = text.partition("-")
    if not sep:
        raise Invalid(f"quiet hours {text!r}: write them like 21:00-08:00, or none")
    first, last = _clock(start, "quiet hours"), _clock(end, "quiet hours")
    if first == last:
        raise Invalid("quiet hours start and end at the same time; say none instead")
    return f"{first:%H:%M}-{last:%H:%M}"


def parse_digest(text: str) -> str:
    """A digest setting as stored: ``HH:MM`` or ``off``."""
    text = text.strip().lower()
    if text in ("off", "none", "no"):
        return "off"
    return f"{_clock(text, 'digest time'):%H:%M}"


def quiet_hours(person: Mapping[str, Any]) -> QuietHours | None:
    """A person's quiet hours (None: none)."""
    stored = person.get("quiet_hours")
    if not stored:
        return DEFAULT_QUIET
    if stored == "none":
        return None
    start, _, end = str(stored).partition("-")
    try:
        return QuietHours(start=_clock(start, "quiet"), end=_clock(end, "quiet"))
    except (Invalid, ValueError):
        return DEFAULT_QUIET  # a hand-edited setting that does not read: the default


def digest_time(person: Mapping[str, Any]) -> time | None:
    """When a person gets the daily digest (None: they do not want one)."""
    stored = person.get("digest_at")
    if not stored:
        return DEFAULT_DIGEST
    if stored == "off":
        return None
    try:
        return _clock(str(stored), "digest")
    except Invalid:
        return DEFAULT_DIGEST


def quiet_until(person: Mapping[str, Any], now: datetime) -> datetime | None:
    """The end of the quiet hours ``now`` falls in for this person; None when not quiet."""
    quiet = quiet_hours(person)
    if quiet is None:
        return None
    tz = zone()
    local = now.astimezone(tz)
    wall = local.time().replace(tzinfo=None)
    if not quiet.contains(wall):
        return None
    day = local.date()
    if quiet.start > quiet.end and wall >= quiet.start:
        day += timedelta(days=1)
    return max(local_to_utc(day, quiet.end, tz), now)


def describe(person: Mapping[str, Any]) -> tuple[str, str]:
    """The quiet hours and digest time as a worker reads them."""
    quiet = quiet_hours(person)
    digest = digest_time(person)
    return (
        "none" if quiet is None else f"{quiet.start:%H:%M}-{quiet.end:%H:%M}",
        "off" if digest is None else f"{digest:%H:%M}",
    )
