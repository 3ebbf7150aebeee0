"""Scheduled check-ins at run time, without Telegram: what to send now, and when exactly.

:meth:`CheckinScheduler.tick` runs on the database thread (every 30 s, from PTB's JobQueue):
it asks :meth:`storage.schedules.Schedules.due_work` what is owed by ``now``, writes the
events, and returns :class:`Action` s: a message (``bot.telegram_service.Send``) and the
instant to send it, spread by :class:`Spreader` so that a thousand check-ins due in the same
minute stay inside Telegram's limits.

**At most once.** The ``sent`` (or ``reminded``, ``missed``) event is committed *before* the
message is handed over, and a message is returned only by the call whose INSERT wrote that
event (UNIQUE per check-in). A crash between the commit and the Bot API call loses that one
message; it can never send it twice, which is what the issue asks ("never sends the same
invitation twice"). Writing after sending (at least once) would resend on every crash in
between, and Telegram offers no idempotency key to make a resend harmless. The loss is
bounded and visible: the check-in's reminders still go out (a reminder carries the same
Start button), and a check-in nobody answered is reported missed to the worker.

Buttons: ``I:<schedule>:0:<due minutes since the epoch>`` opens the check-in (Start),
``Z:…`` is "Not now" (one extra reminder, :data:`SNOOZE` later). 64 bytes is far away.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bot.telegram_service import Button, Keyboard, Send
from flows.recurrence import Recurrence
from flows.registry import FlowRegistry
from storage.schedules import Schedules, Work
from storage.store import Case, Store

__all__ = [
    "PER_SECOND",
    "SNOOZE",
    "Action",
    "CheckinScheduler",
    "Opening",
    "Refusal",
    "Spreader",
    "checkin_data",
    "parse_checkin_data",
]

log = logging.getLogger(__name__)

PER_SECOND = 25
"""Scheduled messages per second: Telegram allows about 30 a bot; 5 stay for replies."""
PER_CHAT = timedelta(seconds=1)
"""At most one scheduled message a second to one chat (Telegram's per-chat limit)."""
SNOOZE = timedelta(hours=2)
"""How long "Not now" waits before its one reminder."""

TEXTS: dict[str, dict[str, str]] = {
    "invite": {
        "en": "Hello {name}. It is time for the check-in: {title}. It takes a few minutes; "
        "you can answer until {close}.",
        "zh": "{name}，您好！现在可以填写“{title}”了，只要几分钟，{close} 前填好就行。",
    },
    "remind": {
        "en": "A gentle reminder: the check-in ({title}) is still waiting for you. "
        "You can answer until {close}.",
        "zh": "温馨提醒：“{title}”还在等您填写，{close} 前都可以填。",
    },
    "remind_started": {
        "en": "A gentle reminder: you started the check-in ({title}). Carry on where you "
        "left off whenever it suits you, until {close}.",
        "zh": "温馨提醒：“{title}”您已经填了一部分，方便的时候接着填就行，{close} 前都可以。",
    },
    "start": {"en": "▶ Start", "zh": "▶ 开始"},
    "continue": {"en": "▶ Continue", "zh": "▶ 继续"},
    "not_now": {"en": "Not now", "zh": "等会儿再填"},
    "snoozed": {
        "en": "All right. I will remind you once more at {until}.",
        "zh": "好的，{until} 再提醒您一次。",
    },
    "snoozed_past_close": {
        "en": "All right. The check-in stays open until {close}.",
        "zh": "好的。{close} 前都可以填写。",
    },
    "checkin_closed": {
        "en": "That check-in has closed. Thank you; the next one will come as usual.",
        "zh": "这次的填写已经结束。谢谢您，下次到时候还会提醒您。",
    },
    "checkin_done": {
        "en": "You have already answered that check-in. Thank you!",
        "zh": "这次您已经填好了，谢谢您！",
    },
    "button_dead": {"en": "That button no longer works.", "zh": "这个按钮已经不能用了。"},
    "missed_head": {
        "en": "Check-ins not answered in time:",
        "zh": "以下定期小调查没有按时填写：",
    },
    "broken": {
        "en": "⚠️ Case {code}: scheduled check-in no. {id} ({flow}) could not be sent and is "
        "paused. Check the flow, then resume it: caseflow schedule resume {id}.",
        "zh": "⚠️ 个案 {code}：第 {id} 号定期小调查（{flow}）无法发送，已暂停。"
        "请检查表单后恢复：caseflow schedule resume {id}。",
    },
    "missed_line": {
        "en": "• {code} · {member} · {title} · due {due}",
        "zh": "• {code} · {member} · {title} · 应于 {due} 填写",
    },
}


def _t(key: str, lang: str, **params: object) -> str:
    texts = TEXTS[key]
    return (texts.get(lang) or texts["en"]).format(**params)


def _local(moment: datetime, rule: Recurrence, lang: str, *, zone: bool = False) -> str:
    """An instant as the member reads it, in their time zone (named, for a worker who may
    be elsewhere)."""
    local = moment.astimezone(rule.zone)
    text = (
        f"{local.month}月{local.day}日 {local:%H:%M}" if lang == "zh" else f"{local:%a %d %b %H:%M}"
    )
    return f"{text} ({rule.tz})" if zone else text


# -- buttons ----------------------------------------------------------------------------------


def checkin_data(kind: Literal["I", "Z"], schedule_id: int, due_at: datetime) -> str:
    """Callback data of a check-in's Start (``I``) or Not now (``Z``) button."""
    minutes = int(due_at.astimezone(UTC).timestamp()) // 60
    return f"{kind}:{schedule_id}:0:{minutes}"


def parse_checkin_data(data: str) -> tuple[str, int, datetime] | None:
    """``(kind, schedule_id, due_at)`` from a check-in button; None for anything else."""
    parts = data.split(":")
    if len(parts) != 4 or parts[0] not in ("I", "Z") or parts[2] != "0":
        return None
    if not (parts[1].isdecimal() and parts[3].isdecimal()) or len(parts[3]) > 10:
        return None
    due = datetime.fromtimestamp(int(parts[3]) * 60, UTC)
    return parts[0], int(parts[1]), due


# -- rate ------------------------------------------------------------------------------------


class Spreader:
    """Send times for messages that fall due together, within a rate.

    Slots are at least ``1/per_second`` apart (rounded up to the microsecond), so no second
    holds more than ``per_second`` of them, and two messages to one chat are at least
    ``per_chat`` apart. Chats take turns, so one chat with several messages does not hold up
    the rest. The cursor carries over between calls: a tick's messages queue behind the
    previous tick's. Pure: the caller gives ``now``.
    """

    def __init__(self, per_second: int = PER_SECOND, per_chat: timedelta = PER_CHAT) -> None:
        if per_second < 1:
            raise ValueError("per_second must be at least 1")
        self.interval = timedelta(microseconds=math.ceil(1_000_000 / per_second))
        self.per_chat = per_chat
        self._cursor: datetime | None = None
        self._last: dict[int, datetime] = {}

    def assign(self, now: datetime, chats: Sequence[int]) -> list[datetime]:
        """A send time for each message (given by its chat id), in the order given."""
        cursor = now if self._cursor is None or self._cursor < now else self._cursor
        self._last = {c: t for c, t in self._last.items() if t + self.per_chat > now}
        by_chat: dict[int, list[int]] = defaultdict(list)
        for index, chat in enumerate(chats):
            by_chat[chat].append(index)
        queues = list(by_chat.items())
        times: list[datetime] = [now] * len(chats)
        turn = 0
        while queues:
            chat, waiting = queues[turn % len(queues)]
            slot = cursor
            last = self._last.get(chat)
            if last is not None and slot < last + self.per_chat:
                slot = last + self.per_chat
            times[waiting.pop(0)] = slot
            self._last[chat] = slot
            cursor = slot + self.interval
            if waiting:
                turn += 1
            else:
                queues.pop(turn % len(queues))
        self._cursor = cursor
        return times


# -- actions ---------------------------------------------------------------------------------


ActionKind = Literal["invite", "remind", "missed"]


@dataclass(frozen=True)
class Action:
    """A message to send at ``at`` (UTC), and what it is about."""

    at: datetime
    send: Send
    kind: ActionKind
    schedule_id: int | None = None
    due_at: datetime | None = None


@dataclass(frozen=True)
class Opening:
    """A Start button that may open its check-in: open ``flow_id`` on the case, then call
    ``Schedules.link_session(schedule_id, due_at, session_id, now)``."""

    schedule_id: int
    due_at: datetime
    case_id: int
    flow_id: str


@dataclass(frozen=True)
class Refusal:
    """A check-in button that does nothing now, and what to tell the member."""

    text: str


@dataclass
class _Tick:
    actions: list[tuple[ActionKind, int | None, datetime | None, Send]] = field(
        default_factory=list
    )
    missed: dict[int, tuple[str, list[str]]] = field(default_factory=dict)
    cases: dict[int, tuple[Case, list[dict[str, Any]]]] = field(default_factory=dict)


FlowTitle = Callable[[str, str], str]


def _registry_title() -> FlowTitle:
    registry = FlowRegistry()

    def title(flow_id: str, lang: str) -> str:
        try:
            flow = registry.current(flow_id).engine.flow
        except Exception:  # a flow file gone or broken must not stop the reminders
            return flow_id
        return flow.text(flow.title, lang)

    return title


class CheckinScheduler:
    """Turns owed check-in work into messages. Call only from the database thread."""

    def __init__(
        self,
        store: Store,
        schedules: Schedules | None = None,
        *,
        spreader: Spreader | None = None,
        flow_title: FlowTitle | None = None,
        snooze: timedelta = SNOOZE,
        registry: FlowRegistry | None = None,
    ) -> None:
        self.store = store
        self.schedules = schedules or Schedules(store)
        self.spreader = spreader or Spreader()
        self._flow_title = flow_title
        self.snooze_after = snooze
        self.registry = registry or FlowRegistry()

    def flow_title(self, flow_id: str, lang: str) -> str:
        if self._flow_title is None:
            self._flow_title = _registry_title()
        return self._flow_title(flow_id, lang)

    def tick(self, now: datetime) -> list[Action]:
        """Everything owed by ``now``, written down, as messages with their send times."""
        now = now.astimezone(UTC)
        done = _Tick()
        people: dict[int, dict[str, Any]] = {}

        def person(person_id: int) -> dict[str, Any]:
            if person_id not in people:
                people[person_id] = self.store.person(person_id)
            return people[person_id]

        broken: set[int] = set()
        with self.store.atomic():
            for work in self.schedules.due_work(now):
                if work.schedule.id in broken:
                    continue
                item = _Tick(cases=done.cases)
                try:
                    # A savepoint each: one broken schedule (a flow file gone, a bad rule)
                    # is set aside and reported, and stops no other check-in.
                    with self.store.atomic():
                        self._work(item, work, now, person)
                except Exception as exc:
                    broken.add(work.schedule.id)
                    log.error(
                        "schedule %s could not be handled (%s); paused",
                        work.schedule.id,
                        type(exc).__name__,
                    )
                    self._set_aside(done, work, now)
                    continue
                done.actions += item.actions
                for chat, (lang, lines) in item.missed.items():
                    done.missed.setdefault(chat, (lang, []))[1].extend(lines)
        for chat, (lang, lines) in done.missed.items():
            body = "\n".join([_t("missed_head", lang), *lines])
            done.actions.append(("missed", None, None, Send(chat, body[:4000])))
        times = self.spreader.assign(now, [send.chat_id for *_, send in done.actions])
        actions = [
            Action(at, send, what, schedule_id, due)
            for at, (what, schedule_id, due, send) in zip(times, done.actions, strict=True)
        ]
        if actions:
            counts: dict[str, int] = defaultdict(int)
            for action in actions:
                counts[action.kind] += 1
            log.info("check-ins: %s", ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
        return actions

    def _work(
        self, done: _Tick, work: Work, now: datetime, person: Callable[[int], dict[str, Any]]
    ) -> None:
        if work.kind == "completed":
            self.schedules.take(work, now)
        elif work.kind == "missed":
            if self.schedules.take(work, now):
                self._tell_workers(done, work, person)
        else:
            if not self.registry.known(work.schedule.flow_id):
                raise LookupError("the schedule's flow is not installed")
            member = person(work.schedule.person_id)
            chat = member["telegram_chat_id"]
            if chat is None:
                # Not on Telegram (yet): take the check-in up so it counts, and offer it at
                # each tick while its window is open (the web link shows it too).
                self.schedules.record(work.schedule.id, work.due_at, "due", now)
                return
            if self.schedules.take(work, now):
                send = self._member_message(work, member, int(chat))
                kind: ActionKind = "invite" if work.kind == "invite" else "remind"
                done.actions.append((kind, work.schedule.id, work.due_at, send))

    def _set_aside(self, done: _Tick, work: Work, now: datetime) -> None:
        """Pause a schedule that cannot be handled and tell the case's workers, once (a paused
        schedule is not due again until a worker resumes it)."""
        schedule = work.schedule
        try:
            with self.store.atomic():
                if not self.schedules.pause(schedule.id, None, now):
                    return
                self.store.audit(None, "schedule.broken", "schedule", schedule.id, schedule.case_id)
                case = self.store.case(schedule.case_id)
                for worker in self.store.case_workers(schedule.case_id):
                    chat = worker["telegram_chat_id"]
                    if chat is None:
                        continue
                    lang = str(worker["lang"] or "en")
                    body = _t("broken", lang, code=case.code, id=schedule.id, flow=schedule.flow_id)
                    done.actions.append(("missed", None, None, Send(int(chat), body)))
        except Exception as exc:  # the report must not stop the tick either
            log.error("schedule %s could not be set aside (%s)", schedule.id, type(exc).__name__)

    def _member_message(self, work: Work, member: dict[str, Any], chat: int) -> Send:
        lang = str(member["lang"] or "en")
        rule = work.schedule.rule
        title = self.flow_title(work.schedule.flow_id, lang)
        close = _local(work.close_at, rule, lang)
        if work.kind == "invite":
            message = _t("invite", lang, name=member["name"], title=title, close=close)
        else:
            key = "remind_started" if work.started else "remind"
            message = _t(key, lang, title=title, close=close)
        buttons = [
            Button(
                _t("continue" if work.started else "start", lang),
                checkin_data("I", work.schedule.id, work.due_at),
            )
        ]
        if not work.snoozed:
            buttons.append(
                Button(_t("not_now", lang), checkin_data("Z", work.schedule.id, work.due_at))
            )
        keyboard: Keyboard = (tuple(buttons),)
        return Send(chat, message, keyboard)

    def _tell_workers(
        self, done: _Tick, work: Work, person: Callable[[int], dict[str, Any]]
    ) -> None:
        schedule = work.schedule
        if schedule.case_id not in done.cases:
            done.cases[schedule.case_id] = (
                self.store.case(schedule.case_id),
                self.store.case_workers(schedule.case_id),
            )
        case, workers = done.cases[schedule.case_id]
        member = person(schedule.person_id)
        for worker in workers:
            chat = worker["telegram_chat_id"]
            if chat is None:
                continue
            lang = str(worker["lang"] or "en")
            line = _t(
                "missed_line",
                lang,
                code=case.code,
                member=member["name"],
                title=self.flow_title(schedule.flow_id, lang),
                due=_local(work.due_at, schedule.rule, lang, zone=True),
            )
            done.missed.setdefault(int(chat), (lang, []))[1].append(line)

    # -- the member's buttons ----------------------------------------------------------------

    def start(
        self, schedule_id: int, due_at: datetime, person_id: int, now: datetime
    ) -> Opening | Refusal:
        """The Start button: whether it opens its check-in now."""
        lang = str(self.store.person(person_id)["lang"] or "en")
        checkin = self.schedules.checkin(schedule_id, due_at)
        if checkin is None or checkin.schedule.person_id != person_id:
            if checkin is not None:
                self.store.audit(
                    person_id, "access.refused", "schedule", schedule_id, checkin.schedule.case_id
                )
            return Refusal(_t("button_dead", lang))
        if checkin.has("completed"):
            return Refusal(_t("checkin_done", lang))
        if checkin.has("missed") or now >= checkin.close_at or checkin.schedule.removed_at:
            return Refusal(_t("checkin_closed", lang))
        schedule = checkin.schedule
        return Opening(schedule.id, checkin.due_at, schedule.case_id, schedule.flow_id)

    def not_now(self, schedule_id: int, due_at: datetime, person_id: int, now: datetime) -> str:
        """The Not now button: one reminder later; what to tell the member."""
        lang = str(self.store.person(person_id)["lang"] or "en")
        checkin = self.schedules.checkin(schedule_id, due_at)
        if checkin is None or checkin.schedule.person_id != person_id:
            return _t("button_dead", lang)
        if checkin.has("completed"):
            return _t("checkin_done", lang)
        rule = checkin.schedule.rule
        with self.store.atomic():
            until = self.schedules.snooze(schedule_id, due_at, now + self.snooze_after, now)
        if until is None:
            return _t("checkin_closed", lang)
        if until >= checkin.close_at:
            return _t("snoozed_past_close", lang, close=_local(checkin.close_at, rule, lang))
        return _t("snoozed", lang, until=_local(until, rule, lang))
