"""Flags: who is told and when, acknowledgement, escalation, listing.

A flag is stored by ``Store.apply`` with the answer that raised it; :func:`on_turn` runs in
that same transaction and queues what the case's workers are owed (the outbox):

- ``urgent``: an alert at once, at any hour;
- ``attention``: an alert at once, or at the end of the worker's quiet hours;
- ``info``: nothing now; it is in the worker's daily digest.

A flag withdrawn by an edit calls off an alert still waiting; one already sent is followed
by a note that it was withdrawn. An urgent flag nobody acknowledged within 2 hours, an
attention flag within 24 hours, is escalated to the supervisors of the case's workers, once
(:func:`escalate_due`: ``flags.escalated_at`` and the outbox key make it once across
restarts). Acknowledging asks the policy (``flag.ack``) every time: a button is a claim.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from casework import notify
from casework.errors import Invalid, NotFound
from casework.identity import Actor
from casework.policy import allowed, require
from flows.engine import Turn
from flows.recurrence import parse_duration
from storage import store as _store
from storage.flags import FlagRow, Flags
from storage.store import Store

__all__ = [
    "ESCALATE_AFTER",
    "Acknowledged",
    "acknowledge",
    "add_note",
    "alert_text",
    "escalate_due",
    "escalation_delays",
    "get_flag",
    "list_flags",
    "on_turn",
    "safety_message",
]

ESCALATE_AFTER = {"urgent": timedelta(hours=2), "attention": timedelta(hours=24)}
"""How long a flag may stay unacknowledged before the supervisor is told; override with
``CASEFLOW_ESCALATE_URGENT`` and ``CASEFLOW_ESCALATE_ATTENTION`` (``2h``, ``90m``, ``1d``)."""

NOTE_LIMIT = 1000

TEXTS: dict[str, dict[str, str]] = {
    "severity_urgent": {"en": "URGENT", "zh": "紧急"},
    "severity_attention": {"en": "ATTENTION", "zh": "关注"},
    "severity_info": {"en": "Note", "zh": "提示"},
    "alert": {
        "en": "⚠️ {severity} · Case {code} · flag #{id}\n{question}: {answer}\n{message}",
        "zh": "⚠️ {severity} · 个案 {code} · 警示 #{id}\n{question}：{answer}\n{message}",
    },
    "withdrawn": {
        "en": "↩️ Flag #{id} on case {code} was withdrawn: the answer was changed ({question}).",
        "zh": "↩️ 个案 {code} 的警示 #{id} 已撤销：回答已修改（{question}）。",
    },
    "ack_button": {"en": "✅ Acknowledge", "zh": "✅ 确认处理"},
    "escalated": {
        "en": "⏫ Not acknowledged within {hours} h, so you are told as the supervisor of "
        "{workers}.\n{alert}",
        "zh": "⏫ 超过 {hours} 小时无人确认处理，作为 {workers} 的督导，特此告知。\n{alert}",
    },
    "unescalated": {
        "en": "⏫ Still not acknowledged after {hours} h, and no supervisor is set for this "
        "case's workers, so nobody else has been told. Please deal with it now, and ask your "
        "administrator to set your supervisor (caseflow workers add ... --team).\n{alert}",
        "zh": "⏫ 超过 {hours} 小时仍无人确认处理。本个案的社工还没有设置督导，没有其他人收到提醒，"
        "请尽快处理，并请管理员为您设置督导（caseflow workers add … --team）。\n{alert}",
    },
}


def _t(key: str, lang: str, **params: object) -> str:
    texts = TEXTS[key]
    return (texts.get(lang) or texts["en"]).format(**params)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- what the respondent sees -----------------------------------------------------------------

_BUNDLED_SAFETY = "safety.toml"


def safety_message(lang: str) -> str:
    """The organisation's safety message, shown to a respondent right after an answer that
    raised an urgent flag: from the TOML file in ``$CASEFLOW_SAFETY`` (``en = "..."``,
    ``zh = "..."``), else the bundled default (emergency numbers 110 and 120)."""
    path = os.environ.get("CASEFLOW_SAFETY")
    texts: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as handle:
                texts = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError):
            texts = {}  # an unreadable file must not hide the message: the default speaks
    if not texts:
        bundled = resources.files("casework") / _BUNDLED_SAFETY
        texts = tomllib.loads(bundled.read_text(encoding="utf-8"))
    texts = texts.get("safety", texts)
    message = texts.get(lang) or texts.get("en") or next(iter(texts.values()), "")
    return str(message).strip()


def safety_file() -> Path:
    """The bundled safety message, for an organisation to copy and change."""
    return Path(str(resources.files("casework") / _BUNDLED_SAFETY))


# -- alerts ------------------------------------------------------------------------------------


def alert_text(flag: FlagRow, lang: str) -> str:
    return _cut(
        _t(
            "alert",
            lang,
            severity=_t(f"severity_{flag.severity}", lang),
            code=flag.case_code,
            id=flag.id,
            question=_cut(flag.text("question", lang), 300),
            answer=_cut(flag.text("answer", lang), 300),
            message=_cut(flag.text("message", lang), 2000),
        ),
        3800,
    )


def ack_action(flag: FlagRow, lang: str) -> dict[str, object]:
    """The one-tap acknowledgement a channel offers with an alert."""
    return {"do": "flag.ack", "id": flag.id, "label": _t("ack_button", lang)}


def _lang(person: dict[str, Any]) -> str:
    return str(person.get("lang") or "en")


def on_turn(
    store: Store,
    *,
    session_id: str,
    case_id: int,
    turn: Turn,
    respondent_lang: str,
    respondent_is_worker: bool,
    now: datetime,
) -> list[str]:
    """Queue what a turn's flags owe the case's workers (call inside the turn's transaction);
    returns what to show the respondent now: the safety message after an urgent flag,
    unless the respondent is a worker writing their own record."""
    return on_flag_changes(
        store,
        session_id=session_id,
        case_id=case_id,
        raised_ids=[f.flag_id for f in turn.flags_raised],
        withdrawn_ids=turn.flags_withdrawn,
        respondent_lang=respondent_lang,
        respondent_is_worker=respondent_is_worker,
        now=now,
    )


def on_flag_changes(
    store: Store,
    *,
    session_id: str,
    case_id: int,
    raised_ids: list[str],
    withdrawn_ids: list[str],
    respondent_lang: str,
    respondent_is_worker: bool,
    now: datetime,
) -> list[str]:
    """``on_turn`` for flags raised and withdrawn by any change of answers: a turn, or an
    amendment of a completed record."""
    flags = Flags(store)
    workers = store.case_workers(case_id)
    raised = flags.standing_in(session_id, raised_ids)
    for flag in raised:
        if flag.severity == "info":
            continue  # in the daily digest
        for worker in workers:
            wait = notify.quiet_until(worker, now) if flag.severity == "attention" else None
            store.queue_message(
                int(worker["id"]),
                case_id,
                "flag",
                {
                    "text": alert_text(flag, _lang(worker)),
                    "flag_row": flag.id,
                    "actions": [ack_action(flag, _lang(worker))],
                },
                not_before=wait,
                key=f"flag:{flag.id}:alert:{worker['id']}",
            )
        store.audit(
            None,
            "flag.alert",
            "flag",
            flag.id,
            case_id,
            severity=flag.severity,
            workers=[int(w["id"]) for w in workers],
        )
    for flag in flags.withdrawn_in(session_id, withdrawn_ids):
        flags.cancel_pending(flag.id, now)
        if flag.sent_at is None:
            continue
        for worker in workers:
            question = flag.text("question", _lang(worker))
            store.queue_message(
                int(worker["id"]),
                case_id,
                "flag_withdrawn",
                {
                    "text": _t(
                        "withdrawn",
                        _lang(worker),
                        id=flag.id,
                        code=flag.case_code,
                        question=_cut(question, 200),
                    ),
                    "flag_row": flag.id,
                },
                key=f"flag:{flag.id}:withdrawn:{worker['id']}",
            )
    if not respondent_is_worker and any(f.severity == "urgent" for f in raised):
        return [safety_message(respondent_lang)]
    return []


# -- acknowledgement ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Acknowledged:
    """The flag after an acknowledgement; ``first`` is False when someone had already
    acknowledged it (their acknowledgement stands)."""

    flag: FlagRow
    first: bool


def get_flag(store: Store, actor: Actor, flag_id: int) -> FlagRow:
    """One flag, for someone allowed ``flag.view`` on its case."""
    flag = _flag(store, flag_id)
    require(store, actor, "flag.view", flag.case_id, entity="flag", entity_id=flag.id)
    return flag


def _flag(store: Store, flag_id: int) -> FlagRow:
    try:
        return Flags(store).get(flag_id)
    except _store.NotFound:
        raise NotFound(f"no flag {flag_id}") from None


def _note(note: str | None) -> str | None:
    if note is None:
        return None
    note = note.strip()
    if len(note) > NOTE_LIMIT:
        raise Invalid(f"the note is too long ({len(note)} characters; at most {NOTE_LIMIT})")
    return note or None


def acknowledge(
    store: Store, actor: Actor, flag_id: int, note: str | None, now: datetime
) -> Acknowledged:
    """Say a flag was seen and acted on, with what was done (the note may follow later
    with :func:`add_note`). The policy is asked every time (``flag.ack`` on its case)."""
    flag = _flag(store, flag_id)
    require(store, actor, "flag.ack", flag.case_id, entity="flag", entity_id=flag.id)
    if flag.withdrawn_at is not None and flag.acknowledged_at is None:
        raise Invalid(f"flag {flag.id} was withdrawn: the answer that raised it was changed")
    text = _note(note)
    with store.atomic():
        first = Flags(store).acknowledge(flag.id, actor.person_id, text or "", now)
        if first:
            store.audit(actor.person_id, "flag.ack", "flag", flag.id, flag.case_id)
            # An alert still waiting for the end of quiet hours is no longer needed.
            Flags(store).cancel_pending(flag.id, now)
    return Acknowledged(Flags(store).get(flag.id), first)


def add_note(store: Store, actor: Actor, flag_id: int, note: str) -> FlagRow:
    """The note of an acknowledgement first given with one tap (only its author adds it)."""
    flag = _flag(store, flag_id)
    require(store, actor, "flag.ack", flag.case_id, entity="flag", entity_id=flag.id)
    text = _note(note)
    if not text:
        raise Invalid("the note is empty")
    if flag.acknowledged_by != actor.person_id:
        raise Invalid(f"flag {flag.id} was acknowledged by someone else")
    with store.atomic():
        Flags(store).set_note(flag.id, actor.person_id, text)
        store.audit(actor.person_id, "flag.note", "flag", flag.id, flag.case_id)
    return Flags(store).get(flag.id)


# -- listing -----------------------------------------------------------------------------------


def visible_cases(store: Store, actor: Actor, action: str, case_code: str | None) -> list[int]:
    """The ids of the cases ``actor`` may do ``action`` on: one case by code (NotFound when
    there is none, NotAllowed when it is not theirs), or all of theirs."""
    if case_code is not None:
        try:
            case = store.case_by_code(case_code.strip().upper())
        except _store.NotFound:
            raise NotFound(f"no case {case_code!r}") from None
        require(store, actor, action, case.id, entity="case", entity_id=case.id)
        return [case.id]
    ids = [int(r["id"]) for r in store.cases_of(actor.person_id)]
    return [i for i in ids if allowed(store, actor, action, i)]


def list_flags(
    store: Store,
    actor: Actor,
    *,
    case_code: str | None = None,
    open_only: bool = False,
) -> list[FlagRow]:
    """Flags on the actor's cases (or one case), newest first; withdrawn ones are left out."""
    cases = visible_cases(store, actor, "flag.view", case_code)
    found = Flags(store).of_cases(cases, open_only=open_only)
    for case_id in sorted({f.case_id for f in found}):
        store.audit(actor.person_id, "flags.read", "case", case_id, case_id)
    return found


# -- escalation --------------------------------------------------------------------------------


def escalation_delays(environ: dict[str, str] | None = None) -> dict[str, timedelta]:
    """The escalation delays, with ``CASEFLOW_ESCALATE_URGENT``/``_ATTENTION`` applied."""
    env = os.environ if environ is None else environ
    out = dict(ESCALATE_AFTER)
    for severity in out:
        value = env.get(f"CASEFLOW_ESCALATE_{severity.upper()}")
        if value:
            out[severity] = parse_duration(value)
    return out


def supervisors_of(store: Store, case_id: int) -> list[tuple[dict[str, Any], list[str]]]:
    """The supervisors of a case's workers, each with the names of their workers there."""
    out: dict[int, tuple[dict[str, Any], list[str]]] = {}
    for worker in store.case_workers(case_id):
        lead_id = worker.get("supervisor_id")
        if lead_id is None or lead_id == worker["id"]:
            continue
        if lead_id not in out:
            out[int(lead_id)] = (store.person(int(lead_id)), [])
        out[int(lead_id)][1].append(str(worker["name"]))
    return list(out.values())


def escalate_due(
    store: Store, now: datetime, after: dict[str, timedelta] | None = None
) -> list[int]:
    """Escalate every flag left unacknowledged too long; the ids escalated. Each flag is
    escalated once: its ``escalated_at`` is set in the transaction that queues the
    supervisor's message, under a key the outbox takes once."""
    delays = after or escalation_delays()
    done: list[int] = []
    with store.atomic():
        for severity in ("urgent", "attention"):
            delay = delays[severity]
            for flag in Flags(store).to_escalate(severity, now - delay):
                leads = supervisors_of(store, flag.case_id)
                first_lead = int(leads[0][0]["id"]) if leads else None
                if not Flags(store).mark_escalated(flag.id, first_lead, now):
                    continue
                if not leads:
                    # Nobody above the workers: remind the case's workers again rather than
                    # tell nobody, and say why.
                    _remind_workers(store, flag, severity, delay, now)
                for lead, workers in leads:
                    lang = _lang(lead)
                    hours = f"{delay.total_seconds() / 3600:g}"
                    text = _t(
                        "escalated",
                        lang,
                        hours=hours,
                        workers=", ".join(workers),
                        alert=alert_text(flag, lang),
                    )
                    wait = notify.quiet_until(lead, now) if severity == "attention" else None
                    store.queue_message(
                        int(lead["id"]),
                        flag.case_id,
                        "flag_escalated",
                        {
                            "text": _cut(text, 4000),
                            "flag_row": flag.id,
                            "actions": [ack_action(flag, lang)],
                        },
                        not_before=wait,
                        key=f"flag:{flag.id}:escalate:{lead['id']}",
                    )
                store.audit(
                    None,
                    "flag.escalate",
                    "flag",
                    flag.id,
                    flag.case_id,
                    severity=severity,
                    to=[int(lead["id"]) for lead, _ in leads],
                    reminded=[]
                    if leads
                    else [int(w["id"]) for w in store.case_workers(flag.case_id)],
                )
                done.append(flag.id)
    return done


def _remind_workers(
    store: Store, flag: FlagRow, severity: str, delay: timedelta, now: datetime
) -> None:
    for worker in store.case_workers(flag.case_id):
        lang = _lang(worker)
        text = _t(
            "unescalated",
            lang,
            hours=f"{delay.total_seconds() / 3600:g}",
            alert=alert_text(flag, lang),
        )
        wait = notify.quiet_until(worker, now) if severity == "attention" else None
        store.queue_message(
            int(worker["id"]),
            flag.case_id,
            "flag_escalated",
            {"text": _cut(text, 4000), "flag_row": flag.id, "actions": [ack_action(flag, lang)]},
            not_before=wait,
            key=f"flag:{flag.id}:escalate:{worker['id']}",
        )
