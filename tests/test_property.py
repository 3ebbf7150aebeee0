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


def _any_valid_answer(data, engine, prompt) -> str:
    """One answer the prompt accepts, drawn at random: any option, a number in range, a
    quick date, some text, or a skip of an optional question."""
    from flows.model import NumberItem, TextItem

    item = engine.compiled.by_id[prompt.token].item
    if prompt.kind == "note":
        return ""
    if not item.required and data.draw(st.booleans()):
        return "/skip"
    if prompt.type == "multi":
        exclusive = set(prompt.exclusive)
        picked = data.draw(
            st.sets(st.sampled_from(range(len(prompt.keys))), min_size=1, max_size=3)
        )
        if picked & exclusive:
            picked = {min(picked & exclusive)}
        return ",".join(prompt.keys[i] for i in sorted(picked))
    if prompt.options:
        return data.draw(st.sampled_from(prompt.keys))
    if prompt.quick_dates:
        return data.draw(st.sampled_from([day for day, _ in prompt.quick_dates]))
    if isinstance(item, NumberItem):
        low = int(item.validation.min if item.validation.min is not None else 0)
        high = int(item.validation.max if item.validation.max is not None else low + 10)
        return str(data.draw(st.integers(low, high)))
    if isinstance(item, TextItem):
        if item.validation.pattern:
            return "/skip"
        return "x" * max(item.validation.min_length or 0, 12)
    raise AssertionError(f"no answer for {prompt.type}")


@pytest.mark.parametrize("path", bundled_flow_paths(), ids=lambda p: p.stem)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), lang=st.sampled_from(["en", "zh"]))
def test_progress_goes_up_by_one_per_question_and_never_shows_n_of_n_before_the_end(
    path, data, lang
):
    from tests.conftest import NOW

    engine = REGISTRY.current(path.stem).engine
    session = engine.new_session("p", lang)
    turn = engine.start(session, NOW)
    shown: list[tuple[int, int]] = []  # (position, total) of each question asked, in order
    for _ in range(500):
        prompt = turn.prompt
        assert prompt is not None and turn.error is None, turn.error
        if prompt.kind == "review":
            break
        if engine.compiled.by_id[prompt.token].counted:
            position, total = prompt.position, prompt.total
            assert position <= total
            if shown:
                assert position == shown[-1][0] + 1, shown
                assert total <= shown[-1][1], shown
                assert shown[-1][0] < shown[-1][1], f"{shown[-1]} shown before the end"
            shown.append((position, total))
        turn = engine.handle(session, Reply(text=_any_valid_answer(data, engine, prompt)), NOW)
    else:
        raise AssertionError("the flow does not end")
    assert shown and shown[0][0] == 1
