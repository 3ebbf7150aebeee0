"""Flags and follow-ups on disk: written with the answer that raised them, changed once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from casework.interviews import Interviews
from flows.engine import Reply
from flows.registry import FlowRegistry
from storage.flags import Flags, FollowUps
from storage.store import Store
from tests.conftest import flow_yaml

T0 = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)

FLAGGED = flow_yaml(
    """\
    - id: worried
      type: yesno
      prompt: {en: "Worried?"}
      flags:
        - when: "answers.worried"
          severity: urgent
          message: {en: "They are worried"}
    - id: more
      type: text
      required: false
      prompt: {en: "More?"}
    """
)


@pytest.fixture
def setup(store, tmp_path):
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "t.yaml").write_text(FLAGGED)
    worker = store.add_person("Wang", "worker")
    case = store.create_case("C-1", worker)
    interviews = Interviews(store, FlowRegistry([tmp_path / "flows"]))
    sid = interviews.open("t", case, worker, "terminal").session.id
    return store, interviews, worker, case, sid


def flag_rows(store: Store) -> list[dict]:
    return store._all("SELECT * FROM flags ORDER BY id")


def test_a_raised_flag_is_stored_with_the_revision_of_its_answer(setup):
    store, interviews, worker, case, sid = setup
    interviews.reply(sid, worker, Reply(text="yes"))
    (row,) = flag_rows(store)
    assert (row["flag_id"], row["question_id"], row["answer_revision"], row["severity"]) == (
        "worried",
        "worried",
        1,
        "urgent",
    )
    assert (row["session_id"], row["case_id"], row["raised_by"]) == (sid, case.id, worker)
    assert row["withdrawn_at"] is None and row["acknowledged_at"] is None


def test_a_flag_is_written_in_the_transaction_of_its_answer(setup, monkeypatch):
    store, interviews, worker, _case, sid = setup

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_record_flags", broken)
    with pytest.raises(RuntimeError):
        interviews.reply(sid, worker, Reply(text="yes"))
    assert store.answer_history(sid) == [], "no answer without its flag"
    assert flag_rows(store) == []


def test_an_edit_withdraws_the_stored_flag_and_a_new_raise_is_a_new_row(setup):
    store, interviews, worker, _case, sid = setup
    for text in ("yes", "/back", "no", "/back", "yes"):
        interviews.reply(sid, worker, Reply(text=text))
    rows = flag_rows(store)
    assert [(r["answer_revision"], r["withdrawn_at"] is not None) for r in rows] == [
        (1, True),
        (3, False),
    ]


def test_a_resumed_session_knows_its_standing_flags_and_raises_none_again(setup):
    store, interviews, worker, _case, sid = setup
    interviews.reply(sid, worker, Reply(text="yes"))
    fresh = Interviews(store, interviews.registry)
    assert store.load_session(sid).flags == {"worried"}
    turn = fresh.reply(sid, worker, Reply(text="more words"))
    assert turn.flags_raised == []
    assert len(flag_rows(store)) == 1


def test_a_flag_is_acknowledged_once_and_the_first_note_stands(setup):
    store, interviews, worker, _case, sid = setup
    interviews.reply(sid, worker, Reply(text="yes"))
    flags = Flags(store)
    (flag,) = flags.of_session(sid)
    assert flag.open
    assert flags.acknowledge(flag.id, worker, "Called her; she is safe.", T0)
    assert not flags.acknowledge(flag.id, worker, "again", T0 + timedelta(hours=1))
    again = flags.get(flag.id)
    assert (again.state, again.acknowledged_by_name, again.ack_note) == (
        "acknowledged",
        "Wang",
        "Called her; she is safe.",
    )
    assert again.acknowledged_at == T0.isoformat(timespec="microseconds")
    assert flags.of_cases([again.case_id], open_only=True) == []


def test_escalation_is_marked_once(setup):
    store, interviews, worker, _case, sid = setup
    interviews.reply(sid, worker, Reply(text="yes"))
    flags = Flags(store)
    raised = datetime.fromisoformat(flags.of_session(sid)[0].raised_at)
    assert flags.to_escalate("urgent", raised - timedelta(seconds=1)) == []
    (due,) = flags.to_escalate("urgent", raised + timedelta(hours=2))
    assert flags.mark_escalated(due.id, None, T0)
    assert not flags.mark_escalated(due.id, None, T0)
    assert flags.to_escalate("urgent", raised + timedelta(hours=3)) == []


def test_an_outbox_key_queues_a_message_once_and_not_before_holds_it_back(store):
    person = store.add_person("Wang", "worker")
    later = T0 + timedelta(hours=1)
    assert store.queue_message(person, None, "flag", {"text": "x"}, not_before=later, key="k1")
    assert not store.queue_message(person, None, "flag", {"text": "x"}, key="k1")
    assert store.unsent_messages(T0) == []
    assert [r["key"] for r in store.unsent_messages(later)] == ["k1"]


# -- follow-ups -------------------------------------------------------------------------------


def contact_note(interviews, case, person, who: str, by: str) -> str:
    sid = interviews.open("contact_note", case, person, "terminal").session.id
    for text in ["today", "4", "1", "Spoke with the teacher", "no", "yes", "Visit home", who, by]:
        turn = interviews.reply(sid, person, Reply(text=text))
        assert turn.error is None, (text, turn.error)
    assert interviews.reply(sid, person, Reply(text="/submit")).status == "completed"
    return sid


@pytest.fixture
def team(store):
    worker = store.add_person("Wang", "worker")
    other = store.add_person("Zhao", "worker")
    grandma = store.add_person("Li", "caregiver")
    case = store.create_case("C-1", worker)
    store.add_member(case.id, other, "worker", worker)
    store.add_member(case.id, grandma, "caregiver", worker)
    return store, Interviews(store, FlowRegistry()), case, worker, other, grandma


def test_a_contact_note_sets_a_follow_up_owned_by_the_worker_who_wrote_it(team):
    store, interviews, case, _worker, other, _grandma = team
    sid = contact_note(interviews, case, other, "1", "2099-01-05")
    (task,) = FollowUps(store).of_session(sid)
    assert (task.owner_id, task.due_on, task.text, task.status) == (
        other,
        "2099-01-05",
        "Visit home",
        "open",
    )


def test_a_caregivers_follow_up_and_the_case_workers_choice_go_to_the_case_worker(team):
    store, interviews, case, worker, other, grandma = team
    mine = contact_note(interviews, case, grandma, "1", "2099-01-05")
    theirs = contact_note(interviews, case, other, "2", "2099-01-06")
    tasks = FollowUps(store)
    assert [t.owner_id for t in tasks.of_session(mine)] == [worker]
    assert [t.owner_id for t in tasks.of_session(theirs)] == [worker]


def test_a_follow_up_is_done_once_and_overdue_ones_are_reminded_once_a_day(team):
    store, interviews, case, worker, _other, _grandma = team
    contact_note(interviews, case, worker, "1", "2099-01-05")
    tasks = FollowUps(store)
    (task,) = tasks.of_cases([case.id])
    assert tasks.to_remind(date(2099, 1, 5)) == [], "due today is not overdue"
    day_after = date(2099, 1, 6)
    assert [t.id for t in tasks.of_cases([case.id], due_before=day_after)] == [task.id]
    assert [t.id for t in tasks.to_remind(day_after)] == [task.id]
    assert tasks.mark_reminded(task.id, day_after)
    assert not tasks.mark_reminded(task.id, day_after)
    assert tasks.to_remind(day_after) == []
    assert [t.id for t in tasks.to_remind(day_after + timedelta(days=1))] == [task.id]
    assert tasks.done(task.id, worker, "Visited on Monday", T0)
    assert not tasks.done(task.id, worker, "twice", T0)
    closed = tasks.get(task.id)
    assert (closed.status, closed.done_note, closed.done_by_name) == (
        "done",
        "Visited on Monday",
        "Wang",
    )
    assert tasks.to_remind(day_after + timedelta(days=2)) == []


def test_an_amended_signed_answer_raises_its_flag_and_alerts_and_amending_back_withdraws_it(
    setup, tmp_path
):
    from casework import records as record_actions
    from storage.records import Records

    store, interviews, worker, case, sid = setup
    for text in ("no", "/skip", "/submit"):
        interviews.reply(sid, worker, Reply(text=text))
    assert flag_rows(store) == []
    Records(store).sign(sid, worker, None)
    registry = FlowRegistry([tmp_path / "flows"])

    revision = record_actions.amend(
        store, registry, worker, sid, "worried", "yes", "the paper form says yes"
    )
    (row,) = flag_rows(store)
    assert (row["flag_id"], row["answer_revision"], row["withdrawn_at"]) == (
        "worried",
        revision,
        None,
    )
    alerts = store._all("SELECT * FROM outbox WHERE kind = 'flag' AND sent_at IS NULL")
    assert [a["person_id"] for a in alerts] == [worker], "the case's worker is alerted"
    assert any(r["action"] == "flag.raise" for r in store.audit_rows(case.id))

    record_actions.amend(store, registry, worker, sid, "worried", "no", "misread the form")
    (row,) = flag_rows(store)
    assert row["withdrawn_at"] is not None
    pending = store._all(
        "SELECT * FROM outbox WHERE kind = 'flag' AND sent_at IS NULL AND cancelled_at IS NULL"
    )
    assert pending == [], "the alert not yet sent is cancelled"
