"""Session records: reading them back, signing off, and amending with a stated reason.

Also holds the helpers the render and export tests share: a clock that makes stored times
predictable, ``administer`` (a real interview through ``Interviews`` into the database) and
``cli`` (the ``caseflow`` parser with the record commands registered).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

import flows.engine
import storage.store
from bot import cli as cli_module
from bot import cli_records
from casework import records as record_actions
from casework.errors import NotFound as Refused  # a refusal looks like a missing record
from casework.interviews import Interviews
from flows.engine import Reply
from flows.registry import FlowRegistry
from storage.records import (
    AlreadySigned,
    AmbiguousSession,
    NoChange,
    NotApplicable,
    NotFinished,
    ReasonRequired,
    Records,
)
from storage.store import NotFound, Store
from tests.conftest import run_as

# -- shared helpers -------------------------------------------------------------------


class Clock:
    """Stands in for the clocks of the engine and the store: each reading moves on a few
    seconds, and ``at`` jumps to a day, so a test case can span weeks."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def at(self, when: datetime) -> None:
        self.now = when

    def tick(self) -> datetime:
        self.now += timedelta(seconds=3)
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    counter = iter(range(1, 10**6))
    monkeypatch.setattr(flows.engine, "_now", clock.tick)
    monkeypatch.setattr(
        storage.store, "_now", lambda: clock.tick().isoformat(timespec="microseconds")
    )
    monkeypatch.setattr(
        uuid,
        "uuid4",
        lambda: uuid.UUID(bytes=hashlib.sha256(f"s{next(counter)}".encode()).digest()[:16]),
    )
    return clock


def administer(store, flow, case, person, answers, *, phase=None, lang="en", registry=None):
    """Run one real interview through ``Interviews``; returns the session id."""
    interviews = Interviews(store, registry or FlowRegistry())
    sid = interviews.open(flow, case, person, "terminal", lang=lang, phase=phase).session.id
    turn = None
    for answer in answers:
        turn = interviews.reply(
            sid, person, answer if isinstance(answer, Reply) else Reply(text=answer)
        )
        assert turn.error is None, (flow, answer, turn.error)
    assert turn is not None and turn.status == "completed", turn and turn.status
    return sid


def cli(argv):
    """``caseflow ARGV`` with the record commands, whether or not bot/cli.py registers them."""
    parser = cli_module.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "render" not in sub.choices:
        cli_records.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


# PHQ-9 stage of adult_scales: the welcome note, WHO-5 (5 items), PHQ-9 (9), GAD-7 (7).
SCALES_PRE = ["", *"22122", *"121112101", *"1211110", "/submit"]
SCALES_POST = ["", *"44344", *"000000000", *"0000000", "/submit"]


@pytest.fixture
def worker(store):
    return store.add_person("Wang Fang", "worker")


@pytest.fixture
def case(store, worker):
    return store.create_case("LBC-07", worker, title="Xiaoming")


@pytest.fixture
def scales(store, case, worker):
    """A completed adult_scales session."""
    return administer(store, "adult_scales", case, worker, SCALES_PRE, phase="pre")


# -- reading ----------------------------------------------------------------------------


def test_a_session_is_found_by_its_id_or_a_unique_prefix(store, scales):
    records = Records(store)
    assert records.find_session(scales) == scales
    assert records.find_session(scales[:8]) == scales
    assert records.find_session(scales[:8].upper() + "…") == scales
    with pytest.raises(NotFound):
        records.find_session(scales[:3])
    with pytest.raises(NotFound):
        records.find_session("ffffffff")


def test_a_prefix_two_sessions_share_is_ambiguous(store, case, worker, monkeypatch):
    ids = iter(
        [
            uuid.UUID("abcd1234-0000-4000-8000-000000000001"),
            uuid.UUID("abcd1234-0000-4000-8000-000000000002"),
        ]
    )
    monkeypatch.setattr(uuid, "uuid4", lambda: next(ids))
    administer(store, "adult_scales", case, worker, SCALES_PRE)
    administer(store, "adult_scales", case, worker, SCALES_PRE)
    with pytest.raises(AmbiguousSession):
        Records(store).find_session("abcd1234")
    assert Records(store).find_session("abcd1234-0000-4000-8000-000000000002").endswith("2")


def test_current_answers_of_many_sessions_come_back_in_one_query(store, case, worker):
    ids = [administer(store, "adult_scales", case, worker, SCALES_PRE) for _ in range(3)]
    current = Records(store).current_answers(ids)
    assert list(current) == ids
    assert all(len(rows) == 21 for rows in current.values())
    assert current[ids[0]][0]["question_id"] == "who5_1"


def test_case_scores_are_the_latest_revision_of_each_stage(store, scales, case):
    rows = Records(store).case_scores(case.id)
    assert {r["instrument_id"] for r in rows} == {"who5", "phq9", "gad7"}
    assert all(r["revision"] == 1 and r["session_status"] == "completed" for r in rows)


# -- signing off --------------------------------------------------------------------------


def test_signing_off_records_who_and_when_and_audits_it(store, scales, worker, case):
    signed_at = Records(store).sign(scales, worker)
    row = Records(store).session(scales)
    assert (row["signed_at"], row["signed_by"], row["signer_name"]) == (
        signed_at,
        worker,
        "Wang Fang",
    )
    assert store.audit_rows(case.id)[-1]["action"] == "session.sign"


def test_a_record_is_signed_off_once(store, scales, worker):
    Records(store).sign(scales, worker)
    with pytest.raises(AlreadySigned):
        Records(store).sign(scales, worker)


def test_an_unfinished_session_cannot_be_signed_off(store, case, worker):
    opened = Interviews(store, FlowRegistry()).open("adult_scales", case, worker, "terminal")
    with pytest.raises(NotFinished):
        Records(store).sign(opened.session.id, worker)


def test_only_a_worker_on_the_case_or_their_supervisor_signs_off(store, scales, case, worker):
    grandma = store.add_person("Grandma Li", "caregiver")
    store.add_member(case.id, grandma, "caregiver", worker)
    outsider = store.add_person("Other worker", "worker")
    for person in (grandma, outsider):
        with pytest.raises(Refused):
            record_actions.session_for(store, person, scales, "record.sign")
    supervisor = store.add_person("Supervisor Chen", "supervisor")
    store.set_supervisor(worker, supervisor)
    info = record_actions.session_for(store, supervisor, scales, "record.sign")
    Records(store).sign(info.id, supervisor)


# -- amending -----------------------------------------------------------------------------


def test_an_amendment_is_a_new_revision_with_who_and_why(store, scales, worker):
    records = Records(store)
    revision = records.amend(scales, "gad7_1", 0, "Not at all", " Read back to the client ", worker)
    assert revision == 2
    latest = [a for a in records.answer_rows(scales) if a["question_id"] == "gad7_1"]
    assert [a["revision"] for a in latest] == [1, 2]
    assert (latest[-1]["reason"], latest[-1]["changed_by"], json.loads(latest[-1]["value"])) == (
        "Read back to the client",
        worker,
        0,
    )
    assert latest[0]["display"] == "Several days"  # the earlier revision is kept as it was


def test_before_sign_off_a_reason_is_optional(store, scales, worker):
    assert Records(store).amend(scales, "gad7_1", 0, "Not at all", None, worker) == 2


def test_after_sign_off_an_amendment_needs_a_reason(store, scales, worker, case):
    records = Records(store)
    records.sign(scales, worker)
    for reason in (None, "", "   "):
        with pytest.raises(ReasonRequired):
            records.amend(scales, "gad7_1", 0, "Not at all", reason, worker)
    records.amend(scales, "gad7_1", 0, "Not at all", "Client corrected it", worker)
    audit = store.audit_rows(case.id)[-1]
    assert audit["action"] == "answer.amend"
    assert json.loads(audit["detail"]) == {"question": "gad7_1", "revision": 2, "signed": True}
    assert "Client" not in audit["detail"]  # the audit holds ids, never content


def test_an_amendment_that_changes_nothing_is_refused(store, scales, worker):
    with pytest.raises(NoChange):
        Records(store).amend(scales, "gad7_1", 1, "Several days", "same", worker)


def test_only_questions_that_were_answered_or_skipped_can_be_amended(store, case, worker):
    grandma = store.add_person("Grandma Li", "caregiver")
    store.add_member(case.id, grandma, "caregiver", worker)
    # has_worries yes → worries asked; then changed to no at the review → worries withdrawn
    sid = administer(
        store,
        "child_checkin",
        case,
        grandma,
        [
            "4",
            "4",
            "1",
            "0",
            "yes",
            "Sleeping badly",
            "/skip",
            "/skip",
            "no",
            "/edit 5",
            "no",
            "/submit",
        ],
    )
    records = Records(store)
    with pytest.raises(NotApplicable):
        records.amend(sid, "worries", "x", "x", "why", worker)
    with pytest.raises(NotFound):
        records.amend(sid, "expression_detail", "x", "x", "why", worker)
    assert records.amend(sid, "mood", 3, "3 😐 So-so", "why", worker) == 2


def test_amending_an_instrument_item_rescores_its_stage_in_the_same_change(store, scales, worker):
    assert cli_records.amend_answer(store, scales, "phq9_9", "0", "Read back", worker) == 2
    phq9 = {s["instrument_id"]: s for s in store.scores(scales)}["phq9"]
    result = json.loads(phq9["result"])
    assert (phq9["revision"], result["total"], result["flags"]) == (2, 9, [])


def test_amend_reads_the_text_the_way_the_question_reads_answers(store, scales, worker):
    with pytest.raises(cli_records.InvalidAnswer, match="0 = Not at all"):
        cli_records.amend_answer(store, scales, "phq9_9", "7", "typo", worker)
    cli_records.amend_answer(store, scales, "phq9_9", "Not at all", "typo", worker)
    assert store.current_answers(scales)[-8]["display"] == "Not at all"


# -- the commands ---------------------------------------------------------------------------


@pytest.fixture
def filed(tmp_path, clock):
    """A database file with a completed adult_scales session by the terminal user 'wang'."""
    db = str(tmp_path / "c.db")
    store = Store.open(db)
    person = store.add_person("wang", "worker", local_user="wang")
    case = store.create_case("LBC-07", person)
    sid = administer(store, "adult_scales", case, person, SCALES_PRE, phase="pre")
    store.close()
    return db, sid


def test_caseflow_sign_signs_off_a_session_by_its_prefix(filed, capsys):
    db, sid = filed
    assert run_as("wang", cli, ["sign", sid[:8], "--db", db]) == 0
    assert f"Session {sid} signed off" in capsys.readouterr().out
    assert run_as("wang", cli, ["sign", sid[:8], "--db", db]) == 1
    assert "was signed off" in capsys.readouterr().err


def test_caseflow_sign_refuses_someone_not_on_the_case_and_audits_it(filed, capsys):
    db, sid = filed
    store = Store.open(db)
    stranger = store.add_person("Stranger", "worker", local_user="stranger")
    store.close()
    assert run_as("stranger", cli, ["sign", sid, "--db", db]) == 3
    assert run_as("nobody", cli, ["sign", sid, "--db", db]) == 3
    assert "caseflow workers add TELEGRAM_ID --name NAME --login nobody" in capsys.readouterr().err
    assert run_as("wang", cli, ["sign", "00000000", "--db", db]) == 2
    store = Store.open(db)
    assert store.audit_rows()[-1]["action"] == "access.refused"
    assert store.audit_rows()[-1]["actor_id"] == stranger


def test_caseflow_amend_needs_a_reason_after_sign_off(filed, capsys):
    db, sid = filed
    run_as("wang", cli, ["sign", sid, "--db", db])
    assert run_as("wang", cli, ["amend", sid, "phq9_9", "0", "--db", db]) == 1
    assert "say why" in capsys.readouterr().err
    assert (
        run_as("wang", cli, ["amend", sid, "phq9_9", "0", "--reason", "Read back", "--db", db]) == 0
    )
    assert "revision 2" in capsys.readouterr().out
    assert run_as("wang", cli, ["amend", sid, "phq9_99", "0", "--reason", "x", "--db", db]) == 2
    assert run_as("wang", cli, ["amend", sid, "phq9_9", "9", "--reason", "x", "--db", db]) == 2
    assert run_as("stranger", cli, ["amend", sid, "phq9_9", "1", "--reason", "x", "--db", db]) == 3
