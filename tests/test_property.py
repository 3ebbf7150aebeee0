"""Whatever a person sends, no flow crashes and the database stays consistent."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casework.interviews import Interviews
from flows.engine import Reply, Voice
from flows.load import bundled_flow_paths
from flows.registry import FlowRegistry
from storage.store import Store

REGISTRY = FlowRegistry()
COMMANDS = [
    "/back",
    "/skip",
    "/pause",
    "/resume",
    "/cancel",
    "/review",
    "/submit",
    "/edit 1",
    "/edit 99",
    "/edit",
    "/frob",
    "/",
    "/start",
    "/help",
]
WORDS = [
    "",
    " ",
    "1",
    "2",
    "3",
    "99",
    "-1",
    "yes",
    "no",
    "是",
    "否",
    "today",
    "昨天",
    "2026-02-30",
    "1,2",
    "nan",
    "🙂",
    "x" * 10_000,
    "{{ 7*7 }}",
    "<script>",
    "\x00",
    "\u202e",
]

replies = st.one_of(
    st.sampled_from(COMMANDS).map(lambda t: Reply(text=t)),
    st.sampled_from(WORDS).map(lambda t: Reply(text=t)),
    st.text(max_size=300).map(lambda t: Reply(text=t)),
    st.builds(
        Reply,
        choice=st.sampled_from(["1", "yes", "zzz", "school"]),
        token=st.sampled_from([None, "mood", "review", "nope"]),
    ),
    st.builds(Reply, voice=st.builds(Voice, st.text(min_size=1, max_size=20), st.integers(0, 600))),
    st.sampled_from(["sticker", "photo", "location"]).map(lambda m: Reply(media=m)),
)


@pytest.mark.parametrize("path", bundled_flow_paths(), ids=lambda p: p.stem)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs=st.lists(replies, max_size=40), lang=st.sampled_from(["en", "zh"]))
def test_any_input_to_any_bundled_flow_never_crashes_and_keeps_the_database_consistent(
    path, inputs, lang
):
    store = Store.open(":memory:")
    person = store.add_person("P", "caregiver")
    case = store.create_case("P-1", person)
    interviews = Interviews(store, REGISTRY)
    opened = interviews.open(path.stem, case, person, "terminal", lang=lang)
    session = opened.session
    for reply in inputs:
        turn = interviews.reply(session.id, person, reply)
        assert turn.status in ("active", "paused", "completed", "cancelled")
        assert turn.prompt is not None or turn.status != "active"
        row = store.session_info(session.id)
        assert row.status == turn.status
        stored = {
            a["question_id"]: (a["status"], None if a["value"] is None else json.loads(a["value"]))
            for a in store.current_answers(session.id)
        }
        assert stored == {qid: (r.status, r.value) for qid, r in session.answers.items()}
        if turn.status in ("completed", "cancelled"):
            break
    reloaded = store.load_session(session.id)
    assert reloaded.state == session.state
    assert store.check_integrity() == []
    store.close()
