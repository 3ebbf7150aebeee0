"""A worker's quiet hours and digest time: parsed, stored, and read in CASEFLOW_TZ."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.cli import main
from casework import notify
from casework.errors import Invalid
from storage.store import Store


@pytest.fixture(autouse=True)
def _zone(monkeypatch):
    monkeypatch.setenv("CASEFLOW_TZ", "Asia/Shanghai")


@pytest.mark.parametrize(
    ("utc_hour", "until_utc_hour"),
    [(12, None), (13, 0), (15, 0), (23, 0), (0, None)],  # 20:00, 21:00, 23:00, 07:00, 08:00
)
def test_the_default_quiet_hours_run_from_21_to_08_local_time(utc_hour, until_utc_hour):
    day = 9 if utc_hour >= 12 else 10
    now = datetime(2026, 3, day, utc_hour, 0, tzinfo=UTC)
    until = notify.quiet_until({}, now)
    expected = None if until_utc_hour is None else datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
    assert until == expected


def test_quiet_hours_that_do_not_wrap_midnight_and_none():
    lunch = {"quiet_hours": "12:00-14:00"}
    assert notify.quiet_until(lunch, datetime(2026, 3, 9, 5, 0, tzinfo=UTC)) == datetime(
        2026, 3, 9, 6, 0, tzinfo=UTC
    )
    assert notify.quiet_until({"quiet_hours": "none"}, datetime(2026, 3, 9, 15, tzinfo=UTC)) is None


@pytest.mark.parametrize("text", ["25:00-07:00", "21:00", "08:00-08:00", "soon"])
def test_bad_quiet_hours_are_refused_with_the_form_to_use(text):
    with pytest.raises(Invalid):
        notify.parse_quiet(text)


def test_settings_read_back_as_a_worker_wrote_them():
    assert notify.parse_quiet(" 22:30-7:00 ") == "22:30-07:00"
    assert notify.parse_digest("OFF") == "off"
    assert notify.describe({"quiet_hours": "none", "digest_at": "07:15"}) == ("none", "07:15")
    assert notify.describe({}) == ("21:00-08:00", "08:00")


def test_caseflow_workers_set_stores_quiet_hours_and_digest(tmp_path, capsys):
    db = str(tmp_path / "c.db")
    store = Store.open(db)
    store.add_person("Wang", "worker", telegram_user_id=555)
    store.close()
    assert (
        main(["workers", "set", "555", "--quiet", "22:00-07:00", "--digest", "off", "--db", db])
        == 0
    )
    assert "quiet hours 22:00-07:00, daily digest off" in capsys.readouterr().out
    assert main(["workers", "set", "555", "--quiet", "late", "--db", db]) == 2
    assert main(["workers", "set", "999", "--digest", "08:00", "--db", db]) == 2
