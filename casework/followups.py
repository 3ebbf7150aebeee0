"""Follow-ups: the tasks contact notes and session records set, closing them, reminders.

A follow-up is created by ``Store.apply`` when the session that sets it is completed. Here:
listing them (``followup.view``), closing one with a note (``followup.done``), and reminding
owners of overdue ones once a day, outside their quiet hours (:func:`remind_due`: the
``last_reminded_on`` day moves once per day, so a restart never reminds twice).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from casework import notify
from casework.errors import Invalid, NotFound
from casework.flags import NOTE_LIMIT, visible_cases
from casework.identity import Actor
from casework.policy import require
from storage import store as _store
from storage.flags import FollowUpRow, FollowUps
from storage.store import Store

__all__ = [
    "Closed",
    "add_note",
    "done",
    "get_followup",
    "list_followups",
    "overdue_line",
    "remind_due",
]

TEXTS: dict[str, dict[str, str]] = {
    "remind_head": {"en": "⏰ Overdue follow-ups:", "zh": "⏰ 以下跟进事项已逾期："},
    "line": {
        "en": "• #{id} · {code} · due {due}{late}: {text}",
        "zh": "• #{id} · {code} · 期限 {due}{late}：{text}",
    },
    "late": {"en": " ({days} days overdue)", "zh": "（已逾期 {days} 天）"},
    "late_one": {"en": " (1 day overdue)", "zh": "（已逾期 1 天）"},
    "today": {"en": " (today)", "zh": "（今天到期）"},
    "done_button": {"en": "✔ Done #{id}", "zh": "✔ 完成 #{id}"},
}


def _t(key: str, lang: str, **params: object) -> str:
    texts = TEXTS[key]
    return (texts.get(lang) or texts["en"]).format(**params)


def overdue_line(task: FollowUpRow, today: date, lang: str) -> str:
    """One follow-up as a line of a reminder or a digest."""
    days = (today - date.fromisoformat(task.due_on)).days
    if days > 1:
        late = _t("late", lang, days=days)
    elif days == 1:
        late = _t("late_one", lang)
    elif days == 0:
        late = _t("today", lang)
    else:
        late = ""
    text = task.text if len(task.text) <= 200 else task.text[:199] + "…"
    return _t("line", lang, id=task.id, code=task.case_code, due=task.due_on, late=late, text=text)


def done_action(task: FollowUpRow, lang: str) -> dict[str, object]:
    return {"do": "followup.done", "id": task.id, "label": _t("done_button", lang, id=task.id)}


def get_followup(store: Store, actor: Actor, followup_id: int) -> FollowUpRow:
    task = _task(store, followup_id)
    require(store, actor, "followup.view", task.case_id, entity="followup", entity_id=task.id)
    return task


def _task(store: Store, followup_id: int) -> FollowUpRow:
    try:
        return FollowUps(store).get(followup_id)
    except _store.NotFound:
        raise NotFound(f"no follow-up {followup_id}") from None


def list_followups(
    store: Store,
    actor: Actor,
    *,
    case_code: str | None = None,
    overdue_on: date | None = None,
    open_only: bool = False,
) -> list[FollowUpRow]:
    """Follow-ups on the actor's cases (or one case) by due date; ``overdue_on``: only the
    open ones overdue on that day."""
    cases = visible_cases(store, actor, "followup.view", case_code)
    found = FollowUps(store).of_cases(cases, open_only=open_only, due_before=overdue_on)
    for case_id in sorted({t.case_id for t in found}):
        store.audit(actor.person_id, "followups.read", "case", case_id, case_id)
    return found


@dataclass(frozen=True)
class Closed:
    """The follow-up after ``done``; ``first`` is False when it was already done."""

    task: FollowUpRow
    first: bool


def done(store: Store, actor: Actor, followup_id: int, note: str | None, now: datetime) -> Closed:
    """Close a follow-up, saying what was done (the note may follow with :func:`add_note`)."""
    task = _task(store, followup_id)
    require(store, actor, "followup.done", task.case_id, entity="followup", entity_id=task.id)
    text = (note or "").strip()
    if len(text) > NOTE_LIMIT:
        raise Invalid(f"the note is too long ({len(text)} characters; at most {NOTE_LIMIT})")
    with store.atomic():
        first = FollowUps(store).done(task.id, actor.person_id, text, now)
        if first:
            store.audit(actor.person_id, "followup.done", "followup", task.id, task.case_id)
    return Closed(FollowUps(store).get(task.id), first)


def add_note(store: Store, actor: Actor, followup_id: int, note: str) -> FollowUpRow:
    """The note of a follow-up closed with one tap (only whoever closed it adds it)."""
    task = _task(store, followup_id)
    require(store, actor, "followup.done", task.case_id, entity="followup", entity_id=task.id)
    text = note.strip()
    if not text:
        raise Invalid("the note is empty")
    if len(text) > NOTE_LIMIT:
        raise Invalid(f"the note is too long ({len(text)} characters; at most {NOTE_LIMIT})")
    if task.done_by != actor.person_id:
        raise Invalid(f"follow-up {task.id} was closed by someone else")
    with store.atomic():
        FollowUps(store).set_note(task.id, actor.person_id, text)
        store.audit(actor.person_id, "followup.note", "followup", task.id, task.case_id)
    return FollowUps(store).get(task.id)


def remind_due(store: Store, now: datetime) -> list[int]:
    """Remind owners of their overdue follow-ups: one message an owner a day, not in their
    quiet hours (it waits for the next tick after them). The ids reminded."""
    today = notify.local_day(now)
    tasks = FollowUps(store)
    reminded: list[int] = []
    with store.atomic():
        by_owner: dict[int, list[FollowUpRow]] = defaultdict(list)
        for task in tasks.to_remind(today):
            by_owner[task.owner_id].append(task)
        for owner_id, owed in by_owner.items():
            owner = store.person(owner_id)
            if notify.quiet_until(owner, now) is not None:
                continue
            fresh = [t for t in owed if tasks.mark_reminded(t.id, today)]
            if not fresh:
                continue
            lang = str(owner.get("lang") or "en")
            lines = [_t("remind_head", lang)] + [overdue_line(t, today, lang) for t in fresh]
            store.queue_message(
                owner_id,
                None,
                "followup_remind",
                {
                    "text": "\n".join(lines)[:4000],
                    "followups": [t.id for t in fresh],
                    "actions": [done_action(t, lang) for t in fresh[:20]],
                },
                key=f"followups:remind:{owner_id}:{today.isoformat()}:{fresh[0].id}",
            )
            store.audit(None, "followup.remind", "person", owner_id, count=len(fresh))
            reminded += [t.id for t in fresh]
    return reminded
