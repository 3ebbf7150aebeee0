"""The case summary record shows scheduled check-ins: due, completed, late, missed, rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.scheduler import CheckinScheduler
from flows.recurrence import Recurrence
from storage.schedules import Schedules
from templates.render import Renderer

MONDAY_10 = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
MONDAY_18 = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
THURSDAY = datetime(2026, 3, 12, 2, 0, tzinfo=UTC)


def test_the_case_summary_shows_a_missed_weekly_checkin_in_both_languages(store):
    worker = store.add_person("Wang", "worker")
    grandma = store.add_person("Grandma Li", "caregiver")
    case = store.create_case("LBC-07", worker)
    store.add_member(case.id, grandma, "caregiver", worker)
    schedules = Schedules(store)
    rule = Recurrence.model_validate(
        {
            "kind": "weekly",
            "weekdays": ["mon"],
            "at": "18:00",
            "tz": "Asia/Shanghai",
            "window": "48h",
            "reminders": ["4h", "24h"],
        }
    )
    schedules.create(case.id, grandma, "child_checkin", rule, worker, MONDAY_10)
    scheduler = CheckinScheduler(store, schedules, flow_title=lambda flow, lang: flow)
    for hours in range(0, 72, 6):  # every six hours from Monday 18:00 (Shanghai) on
        scheduler.tick(MONDAY_18 + timedelta(hours=hours))
    renderer = Renderer(store)
    english = renderer.case(case.code, "md", lang="en", as_of=THURSDAY)
    assert "## Scheduled check-ins, last 8 weeks" in english
    assert "| Grandma Li | Weekly check-in about the child | 1 | 0 | 0 | 1 | 0% |" in english
    chinese = renderer.case(case.code, "md", lang="zh", as_of=THURSDAY)
    assert "## 定期小调查填写情况（最近 8 周）" in chinese
    assert "| Grandma Li | 孩子每周情况小调查 | 1 | 0 | 0 | 1 | 0% |" in chinese
    html = renderer.case(case.code, "html", lang="en", as_of=THURSDAY)
    assert "<h2>Scheduled check-ins, last 8 weeks</h2>" in html
