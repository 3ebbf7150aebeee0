"""People, cases and sessions for the desk's tests and screenshots, made through the
application layer and the engine (as the bot and the terminal make them), then dated back
over the weeks so that timelines and charts look like a case that has been going a while."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from casework import signin
from casework.interviews import Interviews
from flows.engine import Reply
from flows.registry import FlowRegistry
from storage.store import Case, Store
from tests.conftest import valid_answer

START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)

# A caregiver's weekly check-in: mood, how upset was shown (+ detail), sleep, school days
# missed (+ note), worries (+ two probes), wants a call, submit.
CHECKINS = [
    ["2", "2", "cried at bedtime", "3", "2", "had a cold", "yes", "misses her mother"],
    ["3", "1", "2", "1", "stomach ache", "yes", "her mother's call was short"],
    ["3", "3", "2", "0", "no"],
    ["4", "1", "1", "0", "no"],
    ["4", "4", "2", "0", "yes", "a test at school"],
    ["5", "1", "1", "0", "no"],
]
NOTE = ["2026-01-29", "2", "1", "Grandmother says she sleeps better.", "no", "no", "/submit"]
RECORD = ["3", "2026-01-21", "1", "1", "1,2", "Name feelings with cards.", "Yes.", "6", "1"]
RECORD += ["Sorted the cards.", "'I miss Mum.'", "Calmer.", "Looked at the phone often."]
RECORD += ["Call the school.", "/skip", "no", "/submit"]
SCALES_HIGH = ["", *"22122", *"121112101", *"1211110", "/submit"]
SCALES_LOW = ["", *"11011", *"110011000", *"1100100", "/submit"]


@dataclass
class Team:
    worker: int
    other_worker: int
    supervisor: int
    caregiver: int
    other_caregiver: int
    case: Case
    other_case: Case


def administer(
    interviews: Interviews,
    flow: str,
    case: Case,
    person: int,
    lines: list[str],
    *,
    phase: str | None = None,
    at: datetime | None = None,
    finish: bool = True,
) -> str:
    """One session of ``flow`` answered with ``lines`` (then /skip and /submit as needed),
    dated ``at``; returns its id."""
    opened = interviews.open(flow, case, person, "terminal", phase=phase)
    sid = opened.session.id
    turn = opened.turn
    for line in lines:
        if turn.status != "active":
            break
        turn = interviews.reply(sid, person, Reply(text=line))
    guard = 0
    while finish and turn.status == "active" and guard < 60:
        guard += 1
        prompt = turn.prompt
        assert prompt is not None
        # Whatever the script left unanswered (a flow that grew a question): some answer
        # the question takes.
        answer = valid_answer(opened.engine, prompt)
        turn = interviews.reply(sid, person, Reply(text=answer))
    if at is not None:
        stamp = at.isoformat(timespec="microseconds")
        done = (at + timedelta(minutes=9)).isoformat(timespec="microseconds")
        store = interviews.store
        store.db.execute(
            "UPDATE sessions SET started_at = ?, updated_at = ?,"
            " completed_at = CASE WHEN completed_at IS NULL THEN NULL ELSE ? END WHERE id = ?",
            (stamp, done, done, sid),
        )
        store.db.execute(
            "UPDATE answers SET answered_at = ?, shown_at = ? WHERE session_id = ?",
            (stamp, stamp, sid),
        )
    return sid


def team(store: Store, *, weeks: int = 6) -> Team:
    """Wang Fang (a worker, supervised by Chen Li) has case LBC-07 with a grandmother who
    answers weekly check-ins, scales at pre and post, a session record and a contact note;
    Zhao Lei (another worker, not on Chen Li's team) has case EL-02."""
    supervisor = store.add_person("Chen Li", "supervisor", telegram_user_id=3003)
    worker = store.add_person("Wang Fang", "worker", telegram_user_id=1001)
    store.set_supervisor(worker, supervisor)
    other_worker = store.add_person("Zhao Lei", "worker", telegram_user_id=2002)
    caregiver = store.add_person("Li Guilan", "caregiver", telegram_user_id=5005)
    other_caregiver = store.add_person("Sun Xiuying", "client", telegram_user_id=6006)
    case = store.create_case(
        "LBC-07",
        worker,
        title="Grandmother and granddaughter",
        facts={"child_name": "Xiao Yu", "age": 9, "checkin_flow": "child_checkin"},
    )
    store.add_member(case.id, caregiver, "caregiver", worker)
    other = store.create_case("EL-02", other_worker, title="Living alone", facts={"age": 81})
    store.add_member(other.id, other_caregiver, "client", other_worker)
    interviews = Interviews(store, FlowRegistry())
    administer(interviews, "adult_scales", case, caregiver, SCALES_HIGH, phase="pre", at=START)
    for week in range(weeks):
        at = START + timedelta(days=7 * week + 1)
        administer(
            interviews, "child_checkin", case, caregiver, CHECKINS[week % len(CHECKINS)], at=at
        )
    record = administer(
        interviews, "session_record", case, worker, RECORD, at=START + timedelta(days=16)
    )
    administer(interviews, "contact_note", case, worker, NOTE, at=START + timedelta(days=24))
    administer(
        interviews,
        "adult_scales",
        case,
        caregiver,
        SCALES_LOW,
        phase="post",
        at=START + timedelta(days=7 * weeks + 2),
    )
    administer(interviews, "elder_checkin", other, other_caregiver, ["3"], at=START, finish=False)
    # Two follow-up tasks from the session record: one overdue by the tests' clock, one not.
    tasks = (("2026-02-15", "Call the school"), ("2026-03-10", "Visit the grandmother"))
    for rule, (due, text) in enumerate(tasks, start=100):
        store.db.execute(
            "INSERT INTO followups (case_id, owner_id, due_on, session_id, rule, text,"
            " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (case.id, worker, due, record, rule, text, worker, START.isoformat()),
        )
    began = (START - timedelta(days=3)).isoformat(timespec="microseconds")
    store.db.execute("UPDATE case_members SET added_at = ?", (began,))
    store.db.execute("UPDATE cases SET created_at = ?", (began,))
    return Team(worker, other_worker, supervisor, caregiver, other_caregiver, case, other)


def link_for(store: Store, person_id: int, now: datetime | None = None) -> str:
    """A fresh one-time sign-in token for the person."""
    return signin.issue_link(
        store, person_id, now or datetime.now(UTC), created_by=None, via="test"
    )


def session_of(store: Store, case: Case, flow: str) -> str:
    """The id of the case's first session of ``flow``."""
    rows = [s for s in store.sessions_of_case(case.id) if s["flow_id"] == flow]
    return str(rows[0]["id"])
