"""When a scheduled check-in falls due, as data and pure functions.

A :class:`Recurrence` says when a member is asked: a kind (``daily``, ``weekly`` on chosen
days, ``every_n_days`` from a start date, ``once`` on a date), a local time of day in the
member's IANA time zone, how long the answer window stays open, when to remind (offsets from
the due instant), and quiet hours in which nothing is sent to the member.

Nothing here reads a clock or a file: every function takes the instants it works on, and
every instant it returns is timezone-aware UTC. Local times are turned into instants with
:func:`local_to_utc`, which settles the two daylight-saving cases once for everyone:

- a local time that does not exist (the spring-forward gap, e.g. 02:30 in America/New_York on
  2026-03-08) is due at the first valid instant after the gap (the transition itself, 03:00
  EDT), not an hour later and not skipped;
- a local time that happens twice (the fall-back hour) is due once, at its first occurrence
  (``fold=0``).

Example rule, as stored (``Recurrence.model_dump_json()``)::

    {"kind": "weekly", "weekdays": ["mon", "thu"], "at": "18:00:00", "tz": "Asia/Shanghai",
     "window": "PT48H", "reminders": ["PT4H", "PT24H"],
     "quiet_hours": {"start": "21:00:00", "end": "08:00:00"}}

Durations also accept a short form (``"48h"``, ``"90m"``, ``"2d"``, ``"1d12h"``).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

__all__ = [
    "DEFAULT_TZ",
    "MIN_WINDOW",
    "TZ_VAR",
    "WEEKDAYS",
    "QuietHours",
    "Recurrence",
    "RecurrenceError",
    "Step",
    "default_tz",
    "describe",
    "format_duration",
    "local_date",
    "local_to_utc",
    "next_due",
    "occurrences",
    "out_of_quiet",
    "parse_duration",
    "plan",
]

TZ_VAR = "CASEFLOW_TZ"
DEFAULT_TZ = "Asia/Shanghai"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Kind = Literal["daily", "weekly", "every_n_days", "once"]

MAX_REMINDERS = 5
MIN_WINDOW = timedelta(hours=1)
# Dates whose local time falls in a gap move forward to the transition; the longest gap in
# the tz database is a whole day (Pacific/Apia, 2011-12-30), so start looking two days early.
_MARGIN = timedelta(days=2)
_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$", re.IGNORECASE)


class RecurrenceError(ValueError):
    """A schedule rule that cannot be used (the message says why and what to do)."""


def default_tz(environ: Mapping[str, str] | None = None) -> str:
    """The time zone a new schedule gets when none is given: ``$CASEFLOW_TZ`` or Shanghai."""
    value = (environ if environ is not None else os.environ).get(TZ_VAR, "").strip()
    return value or DEFAULT_TZ


def local_date(now: datetime, tz: str | None = None) -> date:
    """The day it is at the instant ``now`` in ``tz`` (default :func:`default_tz`): at 07:00
    in Beijing it is already tomorrow, though UTC still says today. A zone name that is not
    known falls back to the default one rather than to UTC."""
    try:
        zone = ZoneInfo(tz or default_tz())
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(DEFAULT_TZ)
    return now.astimezone(zone).date()


def parse_duration(text: str) -> timedelta:
    """``"48h"``, ``"90m"``, ``"2d"``, ``"1d12h"`` as a timedelta."""
    match = _DURATION.match(text)
    if not match or not any(match.groups()):
        raise RecurrenceError(f"{text!r} is not a duration; write it like 48h, 90m, 2d or 1d12h")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def format_duration(value: timedelta) -> str:
    """The short form back: ``timedelta(hours=48)`` → ``"48h"``, a week → ``"7d"``."""
    minutes = int(value // timedelta(minutes=1))
    hours, minutes = divmod(minutes, 60)
    days = 0
    if hours >= 96:  # up to four days, hours read best for a window: 48h, not 2d
        days, hours = divmod(hours, 24)
    out = (f"{days}d" if days else "") + (f"{hours}h" if hours else "")
    out += f"{minutes}m" if minutes else ""
    return out or "0m"


def _whole_minutes(value: timedelta) -> timedelta:
    if value % timedelta(minutes=1):
        raise ValueError("durations are whole minutes")
    return value


def _duration(value: Any) -> Any:
    if isinstance(value, str) and not value.upper().startswith("P"):
        return parse_duration(value)
    return value


class QuietHours(BaseModel):
    """Local times between which nothing is sent to the member; may wrap midnight
    (``21:00``–``08:00``). The start is quiet, the end is not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours start and end at the same time; leave them out instead")
        if self.start.tzinfo or self.end.tzinfo:
            raise ValueError("quiet hours are local wall-clock times, without a UTC offset")
        return self

    def contains(self, wall: time) -> bool:
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end

    @property
    def length(self) -> timedelta:
        start = datetime.combine(date.min, self.start)
        end = datetime.combine(date.min, self.end)
        return (end - start) % timedelta(days=1)


class Recurrence(BaseModel):
    """When a member is asked to check in, and how the check-in runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    at: time
    tz: str
    weekdays: tuple[Weekday, ...] = ()
    every: int | None = Field(default=None, ge=1, le=366)
    start: date | None = None
    on: date | None = None
    window: timedelta = timedelta(hours=48)
    reminders: tuple[timedelta, ...] = (timedelta(hours=4), timedelta(hours=24))
    quiet_hours: QuietHours | None = None

    @field_validator("window", mode="before")
    @classmethod
    def _window_short_form(cls, value: Any) -> Any:
        return _duration(value)

    @field_validator("reminders", mode="before")
    @classmethod
    def _reminders_short_form(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if isinstance(value, list | tuple):
            return [_duration(v) for v in value]
        return value

    @field_validator("reminders")
    @classmethod
    def _in_order(cls, value: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        for offset in value:
            _whole_minutes(offset)
        return tuple(sorted(set(value)))

    @field_validator("window")
    @classmethod
    def _window_whole_minutes(cls, value: timedelta) -> timedelta:
        return _whole_minutes(value)

    @field_serializer("window", when_used="json")
    def _window_short(self, value: timedelta) -> str:
        return format_duration(value)

    @field_serializer("reminders", when_used="json")
    def _reminders_short(self, value: tuple[timedelta, ...]) -> list[str]:
        return [format_duration(v) for v in value]

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai"
            ) from None
        return value

    @field_validator("at")
    @classmethod
    def _whole_minute(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("the time is a local wall-clock time, without a UTC offset")
        return value.replace(second=0, microsecond=0)

    @field_validator("weekdays", mode="before")
    @classmethod
    def _weekday_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if isinstance(value, list | tuple):
            out = []
            for v in value:
                name = str(v).strip().lower()[:3]
                if name not in WEEKDAYS:
                    raise ValueError(f"{v!r} is not a weekday; use mon, tue, … sun")
                out.append(name)
            return tuple(sorted(set(out), key=WEEKDAYS.index))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Recurrence:
        need = {"weekly": "weekdays", "every_n_days": "every", "once": "on"}
        for kind, name in need.items():
            given = bool(getattr(self, name))
            if kind == self.kind and not given:
                raise ValueError(f"a {kind} schedule needs {name}")
            if kind != self.kind and given:
                raise ValueError(f"{name} belongs to a {kind} schedule, not a {self.kind} one")
        if self.kind == "every_n_days" and self.start is None:
            raise ValueError("an every_n_days schedule needs the start date it counts from")
        if self.kind != "every_n_days" and self.start is not None:
            raise ValueError("start belongs to an every_n_days schedule")
        if self.window < MIN_WINDOW:
            raise ValueError(f"the answer window must be at least {format_duration(MIN_WINDOW)}")
        gap = self.shortest_gap
        if gap is not None and self.window > gap:
            raise ValueError(
                f"the answer window ({format_duration(self.window)}) is longer than the time "
                f"between two check-ins ({format_duration(gap)}): one would still be open when "
                "the next is sent; shorten the window"
            )
        if self.quiet_hours is not None and self.window <= self.quiet_hours.length:
            raise ValueError(
                f"the answer window ({format_duration(self.window)}) must be longer than the "
                f"quiet hours ({format_duration(self.quiet_hours.length)}), otherwise a "
                "check-in due at night could close before the member may be asked"
            )
        if len(self.reminders) > MAX_REMINDERS:
            raise ValueError(f"at most {MAX_REMINDERS} reminders")
        for offset in self.reminders:
            if not timedelta(0) < offset < self.window:
                raise ValueError(
                    f"a reminder after {format_duration(offset)} is not inside the "
                    f"{format_duration(self.window)} window"
                )
        return self

    def to_json(self) -> str:
        """The rule as stored: short durations, no empty fields."""
        return self.model_dump_json(exclude_none=True, exclude_defaults=False)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def shortest_gap(self) -> timedelta | None:
        """The shortest time between two due dates, by the calendar; None for ``once``."""
        if self.kind == "daily":
            return timedelta(days=1)
        if self.kind == "every_n_days":
            return timedelta(days=self.every or 1)
        if self.kind == "weekly":
            days = sorted(WEEKDAYS.index(d) for d in self.weekdays)
            gaps = [(b - a) % 7 or 7 for a, b in itertools.pairwise([*days, days[0]])]
            return timedelta(days=min(gaps))
        return None


class Step(NamedTuple):
    """One step of a check-in's plan: ``invite``, ``remind`` (with the reminder's index in
    the rule's ``reminders``) or ``close``, and when, in UTC."""

    kind: Literal["invite", "remind", "close"]
    at: datetime
    reminder: int | None = None


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant a local wall-clock time names; see the module docstring for DST."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first  # it exists; fold=0 is the first of an ambiguous pair
    # In a gap, fold=0 and fold=1 read the time with the offsets before and after the
    # transition: the two instants bracket the transition. Find it to the second.
    other = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = min(first, other), max(first, other)
    target = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = (low + (high - low) / 2).replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return high


def _dates(rule: Recurrence, first: date) -> Iterator[date]:
    """The local dates the rule falls on, from ``first`` on, in order."""
    try:
        if rule.kind == "once":
            if rule.on is not None and rule.on >= first:
                yield rule.on
            return
        if rule.kind == "every_n_days":
            assert rule.start is not None and rule.every is not None
            step = rule.every
            behind = (first - rule.start).days
            day = rule.start if behind <= 0 else rule.start + timedelta(-(-behind // step) * step)
            while True:
                yield day
                day += timedelta(days=step)
        wanted = {WEEKDAYS.index(d) for d in rule.weekdays} if rule.kind == "weekly" else None
        day = first
        while True:
            if wanted is None or day.weekday() in wanted:
                yield day
            day += timedelta(days=1)
    except OverflowError:
        return


def _dues_from(rule: Recurrence, start: datetime) -> Iterator[datetime]:
    """Due instants at or after ``start``, strictly increasing (two dates that resolve to the
    same instant, which only a day-long gap can cause, are due once)."""
    zone = rule.zone
    first = (start.astimezone(zone) - _MARGIN).date()
    last: datetime | None = None
    for day in _dates(rule, first):
        due = local_to_utc(day, rule.at, zone)
        if due < start or (last is not None and due <= last):
            continue
        last = due
        yield due


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise RecurrenceError(f"{name} must be timezone-aware (UTC)")
    return moment.astimezone(UTC)


def occurrences(rule: Recurrence, start_utc: datetime, end_utc: datetime) -> list[datetime]:
    """Every due instant ``t`` with ``start_utc <= t < end_utc``, in order, in UTC."""
    start, end = _utc(start_utc, "start_utc"), _utc(end_utc, "end_utc")
    if end <= start:
        return []
    return list(itertools.takewhile(lambda t: t < end, _dues_from(rule, start)))


def next_due(rule: Recurrence, after_utc: datetime) -> datetime | None:
    """The first due instant strictly after ``after_utc``; None when there is none."""
    after = _utc(after_utc, "after_utc")
    return next(_dues_from(rule, after + timedelta(microseconds=1)), None)


def out_of_quiet(rule: Recurrence, when_utc: datetime) -> datetime:
    """``when_utc``, or the end of the quiet period it falls in."""
    when = _utc(when_utc, "when_utc")
    quiet = rule.quiet_hours
    if quiet is None:
        return when
    zone = rule.zone
    local = when.astimezone(zone)
    wall = local.time().replace(tzinfo=None)
    if not quiet.contains(wall):
        return when
    day = local.date()
    if quiet.start > quiet.end and wall >= quiet.start:
        day += timedelta(days=1)
    # max(): in a repeated (fall-back) hour the first occurrence of the end may have passed.
    return max(local_to_utc(day, quiet.end, zone), when)


def plan(rule: Recurrence, due_utc: datetime) -> list[Step]:
    """The invitation, reminders and window close of the check-in due at ``due_utc``.

    Each step is moved out of quiet hours to the end of the quiet period. The window closes
    at ``due + window`` (moved likewise) but never after the next check-in falls due, so at
    most one check-in of a schedule is open at a time. A reminder that lands at or after the
    close, or not after the invitation, or on the same instant as an earlier reminder (two
    moved to the end of the same quiet period) is dropped. Should the invitation itself land
    at or after the close (quiet hours longer than the window across a DST night), the plan
    is only the close: such a check-in is missed without being sent.
    """
    due = _utc(due_utc, "due_utc")
    invite = out_of_quiet(rule, due)
    close = out_of_quiet(rule, due + rule.window)
    following = next_due(rule, due)
    if following is not None:
        close = min(close, following)
    if invite >= close:
        return [Step("close", close)]
    steps = [Step("invite", invite)]
    taken = {invite}
    for index, offset in enumerate(rule.reminders):
        at = out_of_quiet(rule, due + offset)
        if invite < at < close and at not in taken:
            taken.add(at)
            steps.append(Step("remind", at, index))
    steps.append(Step("close", close))
    return steps


def describe(rule: Recurrence) -> str:
    """One line for people: ``weekly mon,thu at 18:00 Asia/Shanghai; window 48h; …``."""
    when = {
        "daily": "daily",
        "weekly": f"weekly {','.join(rule.weekdays)}",
        "every_n_days": f"every {rule.every} days from {rule.start}",
        "once": f"once on {rule.on}",
    }[rule.kind]
    parts = [f"{when} at {rule.at:%H:%M} {rule.tz}", f"window {format_duration(rule.window)}"]
    if rule.reminders:
        parts.append("reminders " + ", ".join(format_duration(r) for r in rule.reminders))
    if rule.quiet_hours:
        parts.append(f"quiet {rule.quiet_hours.start:%H:%M}–{rule.quiet_hours.end:%H:%M}")
    return "; ".join(parts)
