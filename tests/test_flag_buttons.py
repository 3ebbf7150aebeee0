"""Flag and follow-up buttons in the Telegram channel, without a network: each press is a
claim the policy checks again; after a tap, the worker's next text is the note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.telegram_service import Send, TelegramService
from casework.interviews import Interviews
from flows.registry import FlowRegistry
from storage.flags import Flags
from tests.test_telegram_service import CAREGIVER_TG, WORKER_TG, Phone, invite_token, texts

OTHER_TG = 4004


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(datetime(2026, 3, 9, 10, 0, tzinfo=UTC))  # 18:00 in Shanghai


@pytest.fixture
def service(store, clock, monkeypatch):
    monkeypatch.setenv("CASEFLOW_TZ", "Asia/Shanghai")
    service = TelegramService(
        store, Interviews(store, FlowRegistry(), clock=clock), "caseflow_test_bot", clock=clock
    )
    service.outbox_sent = []
    store.add_person("Worker Wang", "worker", telegram_user_id=WORKER_TG)
    store.add_person("Worker Zhao", "worker", telegram_user_id=OTHER_TG)
    return service


@pytest.fixture
def worker(service):
    return Phone(service, WORKER_TG, "Wang")


@pytest.fixture
def flagged(service, worker, store):
    """Grandma Li asked for a call; the alert went to Wang."""
    worker.say("/newcase LBC-07")
    caregiver = Phone(service, CAREGIVER_TG, "Grandma Li")
    caregiver.say(f"/start {invite_token(worker.say('/invite LBC-07'))}")
    caregiver.say("/checkin")
    caregiver.tap("🙂")
    caregiver.tap("Done ✔", checked=(0,))  # told someone about it
    caregiver.tap("Well")
    for line in ["0", "yes", "She cries at night", "/skip", "", "yes"]:
        caregiver.say(line)
    (alert,) = [m for m in service.outbox_sent if "Wants a call" in m.text]
    (flag,) = Flags(store).of_cases([store.case_by_code("LBC-07").id])
    return caregiver, alert, flag


def test_the_alert_carries_an_acknowledge_button_for_its_flag(flagged):
    _caregiver, alert, flag = flagged
    assert alert.chat_id == WORKER_TG
    assert [[(b.text, b.data) for b in row] for row in alert.keyboard] == [
        [("✅ Acknowledge", f"A:{flag.id}:0:0")]
    ]


def test_a_forged_acknowledge_button_is_refused_and_the_flag_stays_open(service, flagged, store):
    caregiver, _alert, flag = flagged
    assert texts(caregiver.tap_data(f"A:{flag.id}:0:0")) == ["Sorry, that is not on your cases."]
    stranger = Phone(service, OTHER_TG, "Zhao")
    assert texts(stranger.tap_data(f"A:{flag.id}:0:0")) == ["Sorry, that is not on your cases."]
    assert Flags(store).get(flag.id).open
    refused = [r for r in store.audit_rows() if r["action"] == "access.refused"]
    assert refused and refused[-1]["entity"] == "flag"


def test_a_tap_then_a_text_is_the_note_and_a_quick_note_also_works(flagged, worker, store):
    _caregiver, alert, flag = flagged
    outs = worker.tap_data(f"A:{flag.id}:0:0", alert.text)
    assert texts(outs)[0].endswith("✅ Acknowledged by Worker Wang, 9 Mar 2026, 18:00")
    assert "What was done?" in texts(outs)[1]
    assert texts(worker.say("Called her back")) == ["Noted on flag #1: Called her back"]
    assert Flags(store).get(flag.id).ack_note == "Called her back"
    worker.tap("Told my supervisor")
    assert Flags(store).get(flag.id).ack_note == "Told my supervisor"
    again = worker.tap_data(f"A:{flag.id}:0:0", alert.text)
    assert texts(again) == [
        "Flag #1 was already acknowledged by Worker Wang, 9 Mar 2026, 18:00: Told my supervisor"
    ]


def test_a_text_long_after_the_tap_is_not_taken_as_a_note(flagged, worker, store, clock):
    _caregiver, alert, flag = flagged
    worker.tap_data(f"A:{flag.id}:0:0", alert.text)
    clock.now += timedelta(minutes=31)
    outs = worker.say("hello")
    assert "Noted" not in " ".join(texts(outs))
    assert Flags(store).get(flag.id).ack_note in ("", None)


def test_a_command_after_the_tap_leaves_no_note_pending(flagged, worker, store):
    _caregiver, alert, flag = flagged
    worker.tap_data(f"A:{flag.id}:0:0", alert.text)
    worker.say("/flags")
    outs = worker.say("hello")
    assert "Noted" not in " ".join(texts(outs))


def test_flags_lists_open_flags_with_buttons_and_all_shows_acknowledged_ones(flagged, worker):
    _caregiver, alert, flag = flagged
    (listing,) = worker.say("/flags")
    assert listing.text.startswith("Flags nobody has acknowledged yet")
    assert "#1 · ATTENTION · LBC-07" in listing.text and "Wants a call: Yes" in listing.text
    assert listing.keyboard[0][0].data == f"A:{flag.id}:0:0"
    worker.tap_data(f"A:{flag.id}:0:0", alert.text)
    assert texts(worker.say("/flags")) == ["No open flags on your cases."]
    assert "acknowledged by Worker Wang" in texts(worker.say("/flags LBC-07 all"))[0]
    assert texts(worker.say("/flags NOPE")) == ["There is no #NOPE."]


def test_a_caregiver_sees_no_flags_and_may_not_set_a_digest(flagged):
    caregiver, _alert, _flag = flagged
    assert texts(caregiver.say("/flags")) == ["No open flags on your cases."]
    assert texts(caregiver.say("/digest 07:00")) == ["Sorry, only social workers can do that."]


def test_a_worker_sets_quiet_hours_and_the_digest_time(worker, store):
    assert "Quiet hours: 21:00-08:00" in texts(worker.say("/quiet"))[0]
    assert "Quiet hours: 22:30-07:00" in texts(worker.say("/quiet 22:30-07:00"))[0]
    assert "not a time of day" in texts(worker.say("/quiet 25:00-07:00"))[0]
    assert "Daily digest: off" in texts(worker.say("/digest off"))[0]
    assert "Daily digest: 07:15" in texts(worker.say("/digest 7:15"))[0]
    person = store.person_by_telegram(WORKER_TG)
    assert (person["quiet_hours"], person["digest_at"]) == ("22:30-07:00", "07:15")


def test_the_digest_buttons_open_a_flag_that_can_be_acknowledged(service, flagged, worker, clock):
    _caregiver, _alert, flag = flagged
    clock.now = datetime(2026, 3, 10, 0, 5, tzinfo=UTC)  # 08:05
    sent = service.casework_tick(clock.now)
    (digest,) = [m for _id, m in sent if m.chat_id == WORKER_TG and "Good morning" in m.text]
    assert digest.keyboard[0][0].data == f"F:{flag.id}:0:0"
    (shown,) = worker.tap_data(digest.keyboard[0][0].data, digest.text)[1:]
    assert isinstance(shown, Send) and "Wants a call: Yes" in shown.text
    assert shown.keyboard[0][0].data == f"A:{flag.id}:0:0"
    assert service.casework_tick(clock.now + timedelta(minutes=30)) == [], "handed out once"
