"""A record shows the flags its answers raised, and what was done about each."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from storage.flags import Flags
from templates.render import Renderer
from tests.test_records import administer
from tests.test_records import clock as clock  # the fixture (a predictable clock)

AS_OF = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
CHECKIN = ["3", "1", "1", "0", "yes", "She cries at night", "", "", "yes", "/submit"]


@pytest.fixture
def flagged(store, clock):
    worker = store.add_person("Wang Fang", "worker")
    case = store.create_case("LBC-07", worker)
    grandma = store.add_person("Li Guilan", "caregiver")
    store.add_member(case.id, grandma, "caregiver", worker)
    sid = administer(store, "child_checkin", case, grandma, CHECKIN)
    (flag,) = Flags(store).of_session(sid)
    return store, case, worker, sid, flag


def test_an_open_flag_is_at_the_top_of_the_record_and_the_case_summary(flagged):
    store, case, _worker, sid, _flag = flagged
    renderer = Renderer(store)
    record = renderer.session(sid, "md")
    assert record.index("ATTENTION") < record.index("## Mood")
    assert "Wants a call: Yes" in record
    assert "Not acknowledged yet" in record
    assert "Not acknowledged yet" in renderer.case(case, "md", as_of=AS_OF)


def test_an_acknowledged_flag_shows_who_when_and_the_note(flagged):
    store, case, worker, sid, flag = flagged
    at = datetime(2026, 3, 3, 1, 15, tzinfo=UTC)
    Flags(store).acknowledge(flag.id, worker, "Called her back; visit on Friday.", at)
    renderer = Renderer(store)
    record = renderer.session(sid, "md")
    assert "Acknowledged by Wang Fang, 3 Mar 2026, 01:15: Called her back; visit on Friday." in (
        record
    )
    data = json.loads(renderer.session(sid, "json"))
    (shown,) = data["flags"]
    assert (shown["state"], shown["acknowledged_by"], shown["note"]) == (
        "acknowledged",
        "Wang Fang",
        "Called her back; visit on Friday.",
    )
    html = renderer.session(sid, "html", lang="zh")
    assert "Wang Fang 已于" in html and "确认处理" in html
    summary = renderer.case(case, "md", as_of=AS_OF)
    assert "Flags — read these first" not in summary, "an acknowledged flag leaves the top"
