"""What an answer owes the case's workers at once, whichever channel it came through.

A flagged answer (an instrument's flag in the turn's scores, such as PHQ-9 item 9) is
queued in the outbox for every worker on the case, in the caller's transaction, so the
alert is owed exactly when the answer is stored. The Telegram channel sends the outbox;
an answer given in the browser is owed the same alerts, worded the same.
"""

from __future__ import annotations

from flows.engine import Session, Turn
from storage.store import Store

FLAG_ALERT = {
    "en": "⚠️ Case {code}: {message}",
    "zh": "⚠️ 个案 {code}：{message}",
}


def flag_alerts(store: Store, session: Session, case_id: int, turn: Turn) -> int:
    """Queue an alert to each worker on the case for each flag the turn's scores raised, and
    audit it; how many messages were queued. Call inside the turn's transaction."""
    flags = [f for score in turn.scores for f in score.result.get("flags", [])]
    if not flags:
        return 0
    case = store.case(case_id)
    queued = 0
    for worker in store.case_workers(case_id):
        lang = str(worker["lang"])
        for flag in flags:
            message = flag["message"].get(lang) or next(iter(flag["message"].values()))
            wording = FLAG_ALERT.get(lang) or FLAG_ALERT["en"]
            store.queue_message(
                int(worker["id"]),
                case_id,
                "flag",
                {
                    "text": wording.format(code=case.code, message=message),
                    "session": session.id,
                    "flag": flag["id"],
                },
            )
            queued += 1
        store.audit(
            int(worker["id"]),
            "flag.alert",
            "session",
            session.id,
            case_id,
            flags=[f["id"] for f in flags],
        )
    return queued


__all__ = ["FLAG_ALERT", "flag_alerts"]
