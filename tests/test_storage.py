"""Storage round trips: sessions, answers per stage with revisions, audit, migrations."""

from __future__ import annotations

import sqlite3

import pytest

from casework.interviews import Interviews, NotOnCase, NotYourSession
from flows.engine import Reply
from flows.registry import FlowRegistry
from storage.migrations import migrations
from storage.store import FlowVersionConflict, connect


@pytest.fixture
def interviews(store):
    return Interviews(store, FlowRegistry())


@pytest.fixture
def worker(store):
    return store.add_person("Worker Wang", "worker")


@pytest.fixture
def case(store, worker):
    return store.create_case("C-1", worker, facts={"child_name": "Xiaoming"})


def test_migrations_are_recorded_and_applying_again_changes_nothing(tmp_path):
    path = tmp_path / "c.db"
    connect(path).close()
    db = connect(path)
    applied = [m.name for m in migrations.applied(db)]
    assert applied == [
        "m001_initial",
        "m002_signoff_invites_updates",
        "m004_schedules",
        "m005_update_failures",
        "m007_flags_followups",
        "m008_desk",
        "m009_case_file",
        "m010_web_links",
    ]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_foreign_keys_are_enforced(store):
    with pytest.raises(sqlite3.IntegrityError):
        store.db.execute(
            "INSERT INTO case_members (case_id, person_id, role, added_at)"
            " VALUES (99, 99, 'worker', 'x')"
        )


def test_a_session_round_trips_with_answers_per_stage(store, interviews, case, worker):
    opened = interviews.open("child_checkin", case, worker, "terminal", lang="en")
    sid = opened.session.id
    for text in ["4", "1", "1", "0"]:
        interviews.reply(sid, worker, Reply(text=text))
    rows = store.current_answers(sid)
    assert [(r["stage_id"], r["question_id"]) for r in rows] == [
        ("mood", "mood"),
        ("mood", "expression"),
        ("daily_life", "sleep"),
        ("daily_life", "school_days_missed"),
    ]
    loaded = store.load_session(sid)
    assert loaded.state == opened.session.state == "has_worries"
    assert loaded.value("mood") == 4
    assert loaded.answers["mood"].shown_at is not None
    info = store.session_info(sid)
    assert (info.flow_id, info.flow_version, info.channel, info.phase) == (
        "child_checkin",
        FlowRegistry().current("child_checkin").engine.flow.version,
        "terminal",
        "ongoing",
    )


def test_a_revised_answer_keeps_its_history(store, interviews, case, worker):
    sid = interviews.open("child_checkin", case, worker, "terminal").session.id
    for text in ["4", "/back", "2"]:
        interviews.reply(sid, worker, Reply(text=text))
    history = [(r["question_id"], r["revision"], r["value"]) for r in store.answer_history(sid)]
    assert history == [("mood", 1, "4"), ("mood", 2, "2")]
    assert store.load_session(sid).value("mood") == 2


def test_every_change_and_refusal_leaves_an_audit_row_without_answer_content(
    store, interviews, case, worker
):
    sid = interviews.open("child_checkin", case, worker, "terminal").session.id
    interviews.reply(sid, worker, Reply(text="5"))
    stranger = store.add_person("Someone", "caregiver")
    with pytest.raises(NotOnCase):
        interviews.open("child_checkin", case, stranger, "terminal")
    with pytest.raises(NotYourSession):
        interviews.reply(sid, stranger, Reply(text="1"))
    actions = [(r["action"], r["actor_id"]) for r in store.audit_rows(case.id)]
    assert actions == [
        ("case.create", worker),
        ("session.start", worker),
        ("answer.record", worker),
        ("access.refused", stranger),
        ("access.refused", stranger),
    ]
    for row in store.audit_rows():
        assert "Xiaoming" not in row["detail"]
        assert "value" not in row["detail"]


def test_running_again_resumes_the_unfinished_session(store, interviews, case, worker):
    first = interviews.open("child_checkin", case, worker, "terminal")
    interviews.reply(first.session.id, worker, Reply(text="3"))
    again = Interviews(store, FlowRegistry()).open("child_checkin", case, worker, "terminal")
    assert again.resumed
    assert again.session.id == first.session.id
    assert again.turn.prompt.token == "expression"
    assert again.turn.notices[0].startswith("Welcome back. You were at question 2 of 9")


def test_last_completed_session_feeds_carry_forward(store, interviews, case, worker):
    sid = interviews.open("child_checkin", case, worker, "terminal").session.id
    for text in ["2", "4", "3", "0", "no", "/submit"]:
        turn = interviews.reply(sid, worker, Reply(text=text))
    assert turn.status == "completed"
    next_week = interviews.open("child_checkin", case, worker, "terminal")
    assert next_week.session.id != sid
    assert next_week.turn.prompt.last_time == "Last time you said: 2 🙁"


def test_a_changed_flow_file_with_the_same_version_is_refused(store):
    store.remember_flow("f", 1, "a: 1\n")
    store.remember_flow("f", 1, "a: 1\n")
    with pytest.raises(FlowVersionConflict):
        store.remember_flow("f", 1, "a: 2\n")


def test_a_session_keeps_its_flow_version_after_the_file_moves_on(tmp_path, store, case, worker):
    flows = tmp_path / "flows"
    flows.mkdir()
    text = (
        "id: mini\nversion: {v}\ntitle: {{en: Mini}}\nrespondent: worker\nlanguages: [en]\n"
        "stages:\n  - id: s\n    title: {{en: S}}\n    items:\n"
        "      - {{id: a, type: yesno, prompt: {{en: {q}}}}}\n"
    )
    (flows / "mini.yaml").write_text(text.format(v=1, q="Old question"))
    sid = Interviews(store, FlowRegistry([flows])).open("mini", case, worker, "terminal").session.id
    (flows / "mini.yaml").write_text(text.format(v=2, q="New question"))
    fresh = Interviews(store, FlowRegistry([flows]))
    turn = fresh.reply(sid, worker, Reply(text="/back"))
    assert turn.prompt.text == "Old question"
    assert store.session_info(sid).flow_version == 1


def test_integrity_check_passes_after_a_full_interview(store, interviews, case, worker):
    sid = interviews.open("child_checkin", case, worker, "terminal").session.id
    for text in ["2", "4", "3", "0", "yes", "worried", "", "", "yes", "/edit 5", "no", "/submit"]:
        interviews.reply(sid, worker, Reply(text=text))
    assert store.check_integrity() == []
    statuses = {r["question_id"]: r["status"] for r in store.current_answers(sid)}
    assert statuses["worries"] == "withdrawn"
    assert store.session_info(sid).status == "completed"


def test_a_migration_that_fails_half_way_leaves_no_half_schema(tmp_path, monkeypatch):
    from sqlite_utils import Database

    import storage.migrations as m

    calls = {"n": 0}
    real_execute = Database.execute

    def failing_execute(self, sql, *args, **kwargs):
        if sql.lstrip().startswith("CREATE TABLE cases"):
            raise sqlite3.OperationalError("disk I/O error (simulated)")
        calls["n"] += 1
        return real_execute(self, sql, *args, **kwargs)

    monkeypatch.setattr(Database, "execute", failing_execute)
    with pytest.raises(sqlite3.OperationalError):
        connect(tmp_path / "half.db")
    monkeypatch.setattr(Database, "execute", real_execute)
    db = connect(tmp_path / "half.db")  # starts again from nothing and succeeds
    assert [x.name for x in m.migrations.applied(db)] == [
        "m001_initial",
        "m002_signoff_invites_updates",
        "m004_schedules",
        "m005_update_failures",
        "m007_flags_followups",
        "m008_desk",
        "m009_case_file",
        "m010_web_links",
    ]
    assert calls["n"] > 0
