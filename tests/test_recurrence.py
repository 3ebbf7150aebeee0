"""When check-ins fall due: recurrence, time zones, daylight saving, quiet hours, plans.

Every instant is given: nothing here reads the clock.
"""

from __future__ import annotations

import time as systime
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from flows.recurrence import (
    DEFAULT_TZ,
    QuietHours,
    Recurrence,
    Step,
    default_tz,
    describe,
    format_duration,
    local_date,
    local_to_utc,
    next_due,
    occurrences,
    out_of_quiet,
    parse_duration,
    plan,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def rule(**fields) -> Recurrence:
    fields.setdefault("kind", "daily")
    fields.setdefault("tz", "Asia/Shanghai")
    fields.setdefault("reminders", [])
    if fields["kind"] == "daily":
        fields.setdefault("window", "24h")
    return Recurrence.model_validate(fields)


def local(moments: list[datetime], tz: str) -> list[str]:
    return [m.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z") for m in moments]


# -- daylight saving -------------------------------------------------------------------------


def test_a_time_in_the_spring_forward_gap_fires_at_the_first_valid_instant_new_york():
    r = rule(at="02:30", tz="America/New_York")
    got = occurrences(r, utc(2026, 3, 7), utc(2026, 3, 10))
    assert local(got, "America/New_York") == [
        "2026-03-07 02:30 EST",
        "2026-03-08 03:00 EDT",  # 02:30 does not exist that day: the gap ends at 03:00
        "2026-03-09 02:30 EDT",
    ]
    assert got[1] == utc(2026, 3, 8, 7, 0)


def test_a_time_in_the_spring_forward_gap_fires_at_the_first_valid_instant_london():
    r = rule(at="01:30", tz="Europe/London")
    got = occurrences(r, utc(2026, 3, 28), utc(2026, 3, 31))
    assert local(got, "Europe/London") == [
        "2026-03-28 01:30 GMT",
        "2026-03-29 02:00 BST",
        "2026-03-30 01:30 BST",
    ]


def test_an_ambiguous_time_on_the_fall_back_day_fires_once_at_its_first_occurrence():
    r = rule(at="01:30", tz="America/New_York")
    got = occurrences(r, utc(2026, 10, 31), utc(2026, 11, 3))
    assert local(got, "America/New_York") == [
        "2026-10-31 01:30 EDT",
        "2026-11-01 01:30 EDT",  # 01:30 happens twice; the first (fold=0) is the one
        "2026-11-02 01:30 EST",
    ]
    assert got[1] == utc(2026, 11, 1, 5, 30)


def test_london_fall_back_fires_once_in_the_repeated_hour():
    r = rule(at="01:30", tz="Europe/London")
    got = occurrences(r, utc(2026, 10, 24), utc(2026, 10, 27))
    assert got == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_a_weekly_check_in_keeps_its_local_time_when_the_clocks_change():
    r = Recurrence(kind="weekly", weekdays=("sun",), at=time(9), tz="America/New_York")
    got = occurrences(r, utc(2026, 2, 25), utc(2026, 3, 20))
    assert [m.hour for m in got] == [14, 13, 13]  # UTC: EST, then EDT
    assert local(got, "America/New_York") == [
        "2026-03-01 09:00 EST",
        "2026-03-08 09:00 EDT",
        "2026-03-15 09:00 EDT",
    ]


def test_shanghai_has_no_daylight_saving_so_the_utc_time_never_moves():
    r = rule(at="20:00", tz="Asia/Shanghai")
    got = occurrences(r, utc(2026, 1, 1), utc(2027, 1, 1))
    assert len(got) == 365
    assert {(m.hour, m.minute) for m in got} == {(12, 0)}


def test_a_member_in_berlin_is_asked_at_berlin_time_whatever_zone_the_machine_is_in(
    monkeypatch,
):
    # The worker (and the server) may be anywhere; only the rule's zone counts.
    r = rule(at="18:00", tz="Europe/Berlin")
    expected = [utc(2026, 3, 28, 17), utc(2026, 3, 29, 16), utc(2026, 3, 30, 16)]
    for host in ("Asia/Shanghai", "America/Los_Angeles", "UTC"):
        monkeypatch.setenv("TZ", host)
        systime.tzset()
        assert occurrences(r, utc(2026, 3, 28), utc(2026, 3, 31)) == expected
    monkeypatch.delenv("TZ")
    systime.tzset()


def test_a_daily_window_ends_at_the_next_check_in_on_the_short_spring_forward_day():
    r = rule(at="09:00", tz="America/New_York", window="24h")
    due = utc(2026, 3, 7, 14)  # 09:00 EST; the next is 09:00 EDT, 23 hours later
    assert plan(r, due)[-1] == Step("close", utc(2026, 3, 8, 13))


def test_local_to_utc_resolves_a_gap_at_midnight():
    # Chile moves its clocks at midnight: 00:00 does not exist on the first day of DST.
    got = local_to_utc(date(2026, 9, 6), time(0, 0), ZoneInfo("America/Santiago"))
    assert got.astimezone(ZoneInfo("America/Santiago")).strftime("%H:%M") == "01:00"


def test_a_day_long_gap_gives_one_check_in_not_two():
    # Samoa skipped 30 December 2011: both it and the 31st at 00:00 name the same instant.
    r = rule(at="00:00", tz="Pacific/Apia")
    got = occurrences(r, utc(2011, 12, 28), utc(2012, 1, 1))
    assert [m.astimezone(r.zone).strftime("%m-%d %H:%M") for m in got] == [
        "12-28 00:00",
        "12-29 00:00",
        "12-31 00:00",  # for the 30th (which never was) and the 31st: once
        "01-01 00:00",
    ]


# -- kinds -------------------------------------------------------------------------------------


def test_weekly_falls_on_the_chosen_days_only():
    r = Recurrence(kind="weekly", weekdays=("mon", "thu"), at=time(18), tz="Asia/Shanghai")
    got = occurrences(r, utc(2026, 3, 16), utc(2026, 3, 30))
    assert [m.astimezone(r.zone).strftime("%a %d") for m in got] == [
        "Mon 16",
        "Thu 19",
        "Mon 23",
        "Thu 26",
    ]


def test_every_n_days_counts_from_its_start_date_and_not_before():
    r = Recurrence(
        kind="every_n_days", every=3, start=date(2026, 3, 10), at=time(8), tz="Asia/Shanghai"
    )
    got = occurrences(r, utc(2026, 3, 1), utc(2026, 3, 20))
    assert [m.astimezone(r.zone).day for m in got] == [10, 13, 16, 19]
    later = occurrences(r, utc(2026, 3, 14), utc(2026, 3, 20))
    assert [m.astimezone(r.zone).day for m in later] == [16, 19]


def test_once_falls_due_once_and_then_never_again():
    r = Recurrence(kind="once", on=date(2026, 4, 1), at=time(10), tz="Europe/Berlin")
    assert occurrences(r, utc(2026, 1, 1), utc(2027, 1, 1)) == [utc(2026, 4, 1, 8)]
    assert next_due(r, utc(2026, 3, 1)) == utc(2026, 4, 1, 8)
    assert next_due(r, utc(2026, 4, 1, 8)) is None


def test_next_due_is_strictly_after_and_occurrences_are_half_open():
    r = rule(at="18:00")
    due = utc(2026, 3, 16, 10)
    assert next_due(r, due - timedelta(microseconds=1)) == due
    assert next_due(r, due) == due + timedelta(days=1)
    assert occurrences(r, due, due + timedelta(days=1)) == [due]
    assert occurrences(r, due + timedelta(microseconds=1), due + timedelta(days=1)) == []


def test_naive_instants_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        occurrences(rule(at="18:00"), datetime(2026, 3, 1), utc(2026, 3, 2))


# -- quiet hours ---------------------------------------------------------------------------------


def test_quiet_hours_that_wrap_midnight_move_a_late_invitation_to_the_morning():
    r = rule(at="22:00", tz="Asia/Shanghai", quiet_hours={"start": "21:00", "end": "08:00"})
    due = utc(2026, 3, 16, 14)  # 22:00 in Shanghai
    assert plan(r, due)[0] == Step("invite", utc(2026, 3, 17, 0))  # 08:00 the next day


def test_quiet_hours_after_midnight_move_to_the_same_morning():
    r = rule(at="06:30", tz="Asia/Shanghai", quiet_hours={"start": "21:00", "end": "08:00"})
    assert out_of_quiet(r, utc(2026, 3, 16, 22, 30)) == utc(2026, 3, 17, 0)


def test_quiet_hours_start_is_quiet_and_end_is_not():
    q = QuietHours(start=time(21), end=time(8))
    assert q.contains(time(21)) and q.contains(time(23, 59)) and q.contains(time(7, 59))
    assert not q.contains(time(8)) and not q.contains(time(20, 59))
    midday = QuietHours(start=time(12), end=time(14))
    assert midday.contains(time(13)) and not midday.contains(time(14))
    assert not midday.contains(time(11, 59))


def test_quiet_hours_in_the_middle_of_the_day_do_not_wrap():
    r = rule(at="12:30", tz="Europe/Berlin", quiet_hours={"start": "12:00", "end": "14:00"})
    due = utc(2026, 6, 1, 10, 30)  # 12:30 CEST
    assert plan(r, due)[0].at == utc(2026, 6, 1, 12)  # 14:00 CEST


def test_an_instant_outside_quiet_hours_is_left_alone():
    r = rule(at="18:00", quiet_hours={"start": "21:00", "end": "08:00"})
    assert out_of_quiet(r, utc(2026, 3, 16, 10)) == utc(2026, 3, 16, 10)


def test_quiet_hours_end_in_a_dst_gap_moves_to_the_end_of_the_gap():
    r = rule(at="18:00", tz="America/New_York", quiet_hours={"start": "23:00", "end": "02:30"})
    # 01:00 EST on the spring-forward night; 02:30 does not exist, 03:00 EDT does.
    assert out_of_quiet(r, utc(2026, 3, 8, 6)) == utc(2026, 3, 8, 7)


# -- plans -------------------------------------------------------------------------------------


def test_a_plan_has_the_invitation_the_reminders_and_the_close_moved_out_of_quiet_hours():
    r = Recurrence.model_validate(
        {
            "kind": "weekly",
            "weekdays": "mon",
            "at": "18:00",
            "tz": "Asia/Shanghai",
            "window": "48h",
            "reminders": "4h,24h",
            "quiet_hours": {"start": "21:00", "end": "08:00"},
        }
    )
    assert plan(r, utc(2026, 3, 16, 10)) == [
        Step("invite", utc(2026, 3, 16, 10)),  # Mon 18:00
        Step("remind", utc(2026, 3, 17, 0), 0),  # 22:00 is quiet: Tue 08:00
        Step("remind", utc(2026, 3, 17, 10), 1),  # Tue 18:00
        Step("close", utc(2026, 3, 18, 10)),  # Wed 18:00
    ]


def test_a_reminder_pushed_by_quiet_hours_to_the_close_is_dropped():
    r = rule(
        at="20:00",
        window="12h",
        reminders=["30m", "1h", "11h"],
        quiet_hours={"start": "21:00", "end": "08:00"},
    )
    due = utc(2026, 3, 16, 12)  # 20:00; the window closes at 08:00, as the quiet hours end
    assert plan(r, due) == [
        Step("invite", due),
        Step("remind", utc(2026, 3, 16, 12, 30), 0),  # 20:30: before the quiet hours
        # +1h (21:00) and +11h (07:00) would move to 08:00, the close: dropped
        Step("close", utc(2026, 3, 17, 0)),
    ]


def test_reminders_moved_to_the_same_instant_are_sent_once():
    r = rule(
        at="20:00",
        window="20h",
        reminders=["2h", "4h", "13h"],
        quiet_hours={"start": "21:00", "end": "08:00"},
    )
    steps = plan(r, utc(2026, 3, 16, 12))
    reminders = [s for s in steps if s.kind == "remind"]
    # 22:00 and 00:00 both move to 08:00: one reminder there, kept as the first (index 0)
    assert reminders == [
        Step("remind", utc(2026, 3, 17, 0), 0),
        Step("remind", utc(2026, 3, 17, 1), 2),
    ]


def test_a_plan_is_in_time_order_and_ends_with_the_close():
    r = Recurrence(
        kind="weekly",
        weekdays=("tue",),
        at=time(21, 30),
        tz="Europe/Berlin",
        window=timedelta(hours=30),
        reminders=(timedelta(hours=1), timedelta(hours=12)),
        quiet_hours=QuietHours(start=time(21), end=time(8)),
    )
    steps = plan(r, next_due(r, utc(2026, 3, 1)) or utc(2026, 1, 1))
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    assert steps[0].kind == "invite" and steps[-1].kind == "close"


# -- the rule's own checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "weekly"}, "needs weekdays"),
        ({"kind": "daily", "weekdays": ["mon"]}, "belongs to a weekly"),
        ({"kind": "every_n_days", "every": 3}, "needs the start date"),
        ({"kind": "once"}, "needs on"),
        ({"kind": "daily", "window": "48h"}, "longer than the time between two check-ins"),
        ({"kind": "daily", "window": "24h", "reminders": ["30h"]}, "not inside"),
        ({"kind": "daily", "window": "30m"}, "at least 1h"),
        ({"kind": "daily", "tz": "Mars/Olympus"}, "unknown time zone"),
        ({"kind": "weekly", "weekdays": ["funday"]}, "not a weekday"),
        (
            {"kind": "daily", "window": "10h", "quiet_hours": {"start": "21:00", "end": "08:00"}},
            "longer than the quiet hours",
        ),
        ({"kind": "daily", "quiet_hours": {"start": "08:00", "end": "08:00"}}, "same time"),
    ],
)
def test_a_rule_that_cannot_work_is_refused_with_the_reason(fields, message):
    base = {"at": "18:00", "tz": "Asia/Shanghai", "window": "24h", "reminders": []}
    with pytest.raises(ValidationError, match=message):
        Recurrence.model_validate(base | fields)


def test_a_rule_round_trips_through_its_stored_json_with_short_durations():
    r = Recurrence.model_validate(
        {
            "kind": "weekly",
            "weekdays": "thu,mon",
            "at": "18:00",
            "tz": "Asia/Shanghai",
            "window": "48h",
            "reminders": "24h,4h",
            "quiet_hours": {"start": "21:00", "end": "08:00"},
        }
    )
    stored = r.to_json()
    assert '"window":"48h"' in stored and '"reminders":["4h","24h"]' in stored
    assert '"weekdays":["mon","thu"]' in stored
    assert Recurrence.model_validate_json(stored) == r
    assert describe(r) == (
        "weekly mon,thu at 18:00 Asia/Shanghai; window 48h; reminders 4h, 24h; quiet 21:00–08:00"
    )


@pytest.mark.parametrize("text", ["48h", "90m", "7d", "1d12h", "30h30m", "5d3h"])
def test_short_durations_read_back_as_written(text):
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


def test_the_default_zone_comes_from_caseflow_tz_else_shanghai():
    assert default_tz({}) == DEFAULT_TZ == "Asia/Shanghai"
    assert default_tz({"CASEFLOW_TZ": "Europe/Berlin"}) == "Europe/Berlin"


# -- property ----------------------------------------------------------------------------------

ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


def _exists(day: date, at: time, zone: ZoneInfo) -> bool:
    naive = datetime.combine(day, at)
    back = naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return back == naive


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tz=st.sampled_from(ZONES),
    kind=st.sampled_from(["daily", "weekly", "every_n_days"]),
    at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    weekdays=st.sets(
        st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1
    ),
    every=st.integers(1, 10),
    start=st.datetimes(datetime(1990, 1, 1), datetime(2060, 1, 1)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    days=st.integers(1, 40),
)
def test_occurrences_keep_the_local_time_except_in_a_gap_and_never_repeat(
    tz, kind, at, weekdays, every, start, days
):
    fields: dict = {"kind": kind, "at": at, "tz": tz, "window": "1h", "reminders": []}
    if kind == "weekly":
        fields["weekdays"] = sorted(weekdays)
    if kind == "every_n_days":
        fields |= {"every": every, "start": start.date()}
    r = Recurrence.model_validate(fields)
    zone = r.zone
    end = start + timedelta(days=days)
    got = occurrences(r, start, end)
    assert all(start <= m < end and m.tzinfo is UTC for m in got)
    assert got == sorted(set(got)), "strictly increasing, no duplicates"
    for m in got:
        wall = m.astimezone(zone)
        if wall.time().replace(tzinfo=None) == at:
            continue
        # Otherwise the rule's time did not exist that day, and this is the end of the gap:
        # a transition instant, just after which the wall clock jumped past the rule's time.
        before = (m - timedelta(seconds=1)).astimezone(zone)
        assert before.utcoffset() != wall.utcoffset()
        assert not _exists(before.date(), at, zone) or not _exists(wall.date(), at, zone)
    # Nothing is left out: every whole day in the range where the rule's local time exists
    # and the rule applies has its check-in.
    for m in occurrences(r, start + timedelta(days=1), end - timedelta(days=1)):
        assert m in got
    if kind == "daily" and days >= 3:
        first_day = (start.astimezone(zone) + timedelta(days=1)).date()
        at_instant = local_to_utc(first_day, at, zone)
        if start <= at_instant < end:
            assert at_instant in got


def test_the_local_date_is_the_day_in_the_zone_and_an_unknown_zone_is_the_default_one():
    late = datetime(2026, 3, 14, 23, 0, tzinfo=UTC)  # 07:00 on the 15th in Beijing
    assert local_date(late, "Asia/Shanghai") == date(2026, 3, 15)
    assert local_date(late, "UTC") == date(2026, 3, 14)
    assert local_date(late, "Mars/Olympus_Mons") == date(2026, 3, 15)
