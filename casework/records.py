"""Records as user actions: find a session one may read, sign it off, amend it, replay a
voice note. Each asks the access policy for the action on the session's case."""

from __future__ import annotations

import json

from casework import policy
from casework.errors import NotAllowed, NotFound
from casework.identity import Actor
from storage.records import Records
from storage.store import NotFound as StoreNotFound
from storage.store import SessionInfo, Store


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


__all__ = ["session_for", "voice_note"]
