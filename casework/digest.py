"""The daily digest: each worker who wants one gets, once a day at their digest time, the
flags on their cases nobody has acknowledged, their follow-ups due today or overdue, and the
check-ins missed yesterday, each with a button. Nothing to say, no message.

One a day, also across a restart: ``people.last_digest_on`` is claimed in the transaction
that queues the message. Overdue follow-ups in a digest count as that day's reminder.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from casework import notify
from casework.followups import done_action, overdue_line
from casework.policy import allowed
from flows.recurrence import local_to_utc
from storage.flags import Digests, Flags, FollowUps
from storage.store import Store

__all__ = ["compose", "digest_due"]

MAX_FLAGS = 10
MAX_FOLLOWUPS = 10

TEXTS: dict[str, dict[str, str]] = {
    "head": {"en": "☀️ Good morning, {name}. Today:", "zh": "☀️ {name}，早上好。今天需要留意："},
    "flags": {
        "en": "⚑ Flags not yet acknowledged ({n}):",
        "zh": "⚑ 尚未确认处理的警示（{n} 条）：",
    },
    "flag_line": {
        "en": "• #{id} · {severity} · {code} · {question}: {answer}",
        "zh": "• #{id} · {severity} · {code} · {question}：{answer}",
    },
    "more": {"en": "… and {n} more: /flags", "zh": "……还有 {n} 条：/flags"},
    "followups": {
        "en": "☐ Your follow-ups due today or overdue ({n}):",
        "zh": "☐ 今天到期或已逾期的跟进事项（{n} 项）：",
    },
    "more_followups": {"en": "… and {n} more: /followups", "zh": "……还有 {n} 项：/followups"},
    "missed": {"en": "✗ Check-ins missed yesterday:", "zh": "✗ 昨天未完成的定期填写："},
    "missed_line": {"en": "• {code} · {member} · {flow}", "zh": "• {code} · {member} · {flow}"},
    "open_flag": {"en": "⚑ #{id} {code}", "zh": "⚑ #{id} {code}"},
    "compliance": {"en": "📋 {code}: check-ins", "zh": "📋 {code}：填写情况"},
}

SEVERITY = {
    "urgent": {"en": "URGENT", "zh": "紧急"},
    "attention": {"en": "ATTENTION", "zh": "关注"},
    "info": {"en": "Note", "zh": "提示"},
}


def _t(key: str, lang: str, **params: object) -> str:
    texts = TEXTS[key]
    return (texts.get(lang) or texts["en"]).format(**params)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compose(store: Store, person: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """The digest for one person now (``text``, ``actions`` and the ids it names), or None
    when there is nothing to say."""
    lang = str(person.get("lang") or "en")
    pid = int(person["id"])
    today = notify.local_day(now)
    cases = [int(r["id"]) for r in store.cases_of(pid)]
    flag_cases = [c for c in cases if allowed(store, pid, "flag.view", c)]
    task_cases = [c for c in cases if allowed(store, pid, "followup.view", c)]
    flags = Flags(store).of_cases(flag_cases, open_only=True)
    tasks = [t for t in FollowUps(store).of_cases(task_cases, due_by=today) if t.owner_id == pid]
    tz = notify.zone()
    start = local_to_utc(today - timedelta(days=1), datetime.min.time(), tz)
    end = local_to_utc(today, datetime.min.time(), tz)
    missed = Digests(store).missed(flag_cases, start, end)
    if not (flags or tasks or missed):
        return None
    lines = [_t("head", lang, name=person["name"])]
    actions: list[dict[str, object]] = []
    if flags:
        lines += ["", _t("flags", lang, n=len(flags))]
        for flag in flags[:MAX_FLAGS]:
            lines.append(
                _t(
                    "flag_line",
                    lang,
                    id=flag.id,
                    severity=SEVERITY[flag.severity].get(lang, flag.severity),
                    code=flag.case_code,
                    question=_cut(flag.text("question", lang), 80),
                    answer=_cut(flag.text("answer", lang), 80),
                )
            )
            label = _t("open_flag", lang, id=flag.id, code=flag.case_code)
            actions.append({"do": "flag.open", "id": flag.id, "label": label})
        if len(flags) > MAX_FLAGS:
            lines.append(_t("more", lang, n=len(flags) - MAX_FLAGS))
    if tasks:
        lines += ["", _t("followups", lang, n=len(tasks))]
        lines += [overdue_line(t, today, lang) for t in tasks[:MAX_FOLLOWUPS]]
        actions += [done_action(t, lang) for t in tasks[:MAX_FOLLOWUPS]]
        if len(tasks) > MAX_FOLLOWUPS:
            lines.append(_t("more_followups", lang, n=len(tasks) - MAX_FOLLOWUPS))
    if missed:
        lines += ["", _t("missed", lang)]
        for row in missed:
            lines.append(
                _t("missed_line", lang, code=row["code"], member=row["member"], flow=row["flow_id"])
            )
        for case_id, code in sorted({(int(r["case_id"]), str(r["code"])) for r in missed}):
            label = _t("compliance", lang, code=code)
            actions.append({"do": "case.compliance", "id": case_id, "label": label})
    return {
        "text": _cut("\n".join(lines), 4000),
        "flags": [f.id for f in flags[:MAX_FLAGS]],
        "followups": [t.id for t in tasks[:MAX_FOLLOWUPS]],
        "actions": actions,
        "overdue": [t.id for t in tasks if t.overdue(today)],
    }


def digest_due(store: Store, now: datetime) -> list[int]:
    """Queue the digests owed by ``now``; the ids of the people who got one."""
    today = notify.local_day(now)
    local = now.astimezone(notify.zone()).time().replace(tzinfo=None)
    digests = Digests(store)
    sent: list[int] = []
    with store.atomic():
        for person in digests.staff():
            at = notify.digest_time(person)
            if at is None or local < at or person.get("telegram_chat_id") is None:
                continue
            if notify.quiet_until(person, now) is not None:
                continue  # a digest time inside the quiet hours waits for their end
            if (person.get("last_digest_on") or "") >= today.isoformat():
                continue
            if not digests.claim(int(person["id"]), today):
                continue
            payload = compose(store, person, now)
            if payload is None:
                continue
            for task_id in payload.pop("overdue"):
                FollowUps(store).mark_reminded(task_id, today)
            store.queue_message(
                int(person["id"]),
                None,
                "digest",
                payload,
                key=f"digest:{person['id']}:{today.isoformat()}",
            )
            store.audit(None, "digest.send", "person", int(person["id"]))
            sent.append(int(person["id"]))
    return sent
