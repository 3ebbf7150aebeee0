"""Records as user actions: find a session one may read, sign it off, amend it, replay a
voice note. Each asks the access policy for the action on the session's case."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from casework import policy
from casework.errors import Invalid, NotAllowed, NotFound
from casework.flags import on_flag_changes
from casework.identity import Actor
from flows import answers as answer_types
from flows.registry import FlowRegistry
from storage.records import RecordError, Records
from storage.store import NotFound as StoreNotFound
from storage.store import SessionInfo, Store

MAX_COMMENT = 2000
MAX_REASON = 1000


class InvalidAnswer(RecordError):
    """The new answer is not one the question takes (the message says why)."""


def session_for(store: Store, actor: Actor | int, key: str, action: str) -> SessionInfo:
    """The session named by id, id prefix or number, if the person may perform ``action``
    on its case; one they may not touch answers like one that does not exist."""
    try:
        session_id = Records(store).find_session(key)
        info = store.session_info(session_id)
    except StoreNotFound as exc:
        raise NotFound(str(exc)) from exc
    try:
        policy.require(store, actor, action, info.case_id, entity="session", entity_id=info.id)
    except NotAllowed as exc:
        raise NotFound(f"no session {key[:40]!r}") from exc
    return info


def voice_note(store: Store, actor: Actor | int, session_id: str, question_id: str) -> str:
    """The Telegram file id of a voice answer, for a person allowed to replay it."""
    try:
        info = store.session_info(session_id)
    except StoreNotFound as exc:
        raise NotFound(session_id) from exc
    policy.require(
        store, actor, "voice.replay", info.case_id, entity="session", entity_id=session_id
    )
    for answer in store.current_answers(session_id):
        if answer["question_id"] == question_id and answer["value"]:
            value = json.loads(answer["value"])
            if isinstance(value, dict) and "voice" in value:
                person = actor if isinstance(actor, int) else actor.person_id
                store.audit(person, "voice.read", "session", session_id, info.case_id)
                return str(value["voice"])
    raise NotFound(question_id)


def _person(actor: Actor | int) -> int:
    return actor if isinstance(actor, int) else actor.person_id


def amend_answer(
    store: Store,
    session_id: str,
    question_id: str,
    text: str,
    reason: str | None,
    person_id: int,
    registry: FlowRegistry | None = None,
) -> int:
    """Change one answer of a completed session from what a worker typed; returns the new
    revision. The text is read as the question reads an answer (its options, range, date
    rules), shown as the respondent would have seen it, and an instrument stage it belongs to
    is rescored in the same transaction."""
    records = Records(store)
    row = records.session(session_id)
    registry = registry or FlowRegistry()
    flow_id, version = row["flow_id"], row["flow_version"]
    engine = registry.engine(flow_id, version, lambda: store.flow_source(flow_id, version))
    question = engine.compiled.by_id.get(question_id)
    if question is None or not question.answerable:
        raise StoreNotFound(f"{flow_id} v{version} has no question {question_id!r}")
    lang = str(row["lang"])
    session = store.load_session(session_id)
    item = engine.item(session, question)  # a choice among the case's goals gets them
    parsed = answer_types.parse(item, text, lang, datetime.now(UTC).date())
    if isinstance(parsed, answer_types.Rejected):
        choices = answer_types.options(item, lang)
        keys = answer_types.keys(item)
        listed = "; ".join(f"{k} = {label}" for k, (_, label) in zip(keys, choices, strict=False))
        raise InvalidAnswer(f"{parsed.message} ({listed})" if listed else parsed.message)
    value = parsed.value
    display = answer_types.display(item, value, lang)
    recorded = session.answers.get(question_id)
    if recorded is not None and recorded.status != "withdrawn":
        # Score, and read the case-file facts, from the answers as they will be.
        recorded.value, recorded.status = value, "answered"
    scores = engine.rescore(session, question_id)
    outcome = engine.outcome(session) if row["status"] == "completed" else None
    now = datetime.now(UTC)
    # An amended answer raises and withdraws flags as an answer in the interview does: a
    # PHQ-9 item 9 corrected from paper alerts the workers the same way.
    raised, withdrawn = engine.amended_flags(session, now)
    with store.atomic():
        revision = records.amend(
            session_id,
            question_id,
            value,
            display,
            reason,
            person_id,
            score=scores,
            outcome=outcome,
        )
        if raised or withdrawn:
            raised = [
                replace(flag, revision=revision) if flag.question_id == question_id else flag
                for flag in raised
            ]
            at = now.isoformat(timespec="microseconds")
            store.record_flag_changes(session_id, row["case_id"], raised, withdrawn, person_id, at)
            on_flag_changes(
                store,
                session_id=session_id,
                case_id=int(row["case_id"]),
                raised_ids=[f.flag_id for f in raised],
                withdrawn_ids=withdrawn,
                respondent_lang=lang,
                respondent_is_worker=True,
                now=now,
            )
    return revision


def sign_off(store: Store, actor: Actor | int, session_id: str, comment: str | None = None) -> str:
    """Sign off (lock) a session record with an optional comment (a supervisor's remarks);
    returns when. NotFound for a record the person may not sign; Invalid when the record's
    state refuses (not completed, signed already) or the comment is too long."""
    info = session_for(store, actor, session_id, "record.sign")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise Invalid(f"a comment of at most {MAX_COMMENT} characters")
    try:
        return Records(store).sign(info.id, _person(actor), comment)
    except RecordError as exc:
        raise Invalid(str(exc)) from exc


def amend(
    store: Store,
    registry: FlowRegistry,
    actor: Actor | int,
    session_id: str,
    question_id: str,
    text: str,
    reason: str | None,
) -> int:
    """Change one answer of a completed record, read the way the question reads answers;
    returns the new revision. NotFound for a record the person may not amend or a question
    it does not have; Invalid for an answer the question does not take, a missing reason
    after sign-off, or no change."""
    info = session_for(store, actor, session_id, "record.amend")
    if reason is not None and len(reason) > MAX_REASON:
        raise Invalid(f"a reason of at most {MAX_REASON} characters")
    try:
        return amend_answer(
            store, info.id, question_id, text, reason, _person(actor), registry=registry
        )
    except StoreNotFound as exc:
        raise NotFound(str(exc)) from exc
    except RecordError as exc:
        raise Invalid(str(exc)) from exc


__all__ = [
    "InvalidAnswer",
    "amend",
    "amend_answer",
    "session_for",
    "sign_off",
    "voice_note",
]
