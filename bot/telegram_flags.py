"""Flags, follow-ups and the digest in the Telegram channel: thin, over ``casework``.

``TelegramService`` hands these over: the commands ``/flags``, ``/followups``, ``/digest``
and ``/quiet``; the buttons (``A:<flag>`` acknowledge, ``F:<flag>`` show a flag,
``Q:<flag or follow-up>:<kind>:<n>`` a quick note, ``U:<follow-up>`` show one, ``D:<id>``
done, ``P:<case>`` a case's check-ins); the worker's next text after a tap (the note); and
the buttons of outbox messages (built from the ``actions`` each payload carries).

Every button is a claim: the application layer asks the policy again on every press.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from casework import flags as case_flags
from casework import followups as case_followups
from casework import notify
from casework.errors import CaseworkError, Invalid, NotAllowed, NotFound
from casework.identity import Actor, actor_from_row
from storage.flags import Digests, FlagRow, FollowUpRow
from templates.i18n import format_moment

if TYPE_CHECKING:
    from bot.telegram_service import Button, Incoming, Keyboard, Out, TelegramService

NOTE_WAIT = timedelta(minutes=30)
"""How long after a tap the worker's next text message is taken as its note."""
CALLBACKS = ("A", "F", "Q", "U", "D", "P")
COMMANDS = ("flags", "followups", "digest", "quiet")

TEXTS: dict[str, dict[str, str]] = {
    "flags_none": {
        "en": "No open flags on your cases.",
        "zh": "您的个案目前没有待处理的警示。",
    },
    "flags_head": {
        "en": "Flags on your cases, newest first:",
        "zh": "您个案的警示（最新的在前）：",
    },
    "flags_open_head": {
        "en": "Flags nobody has acknowledged yet, newest first:",
        "zh": "尚未确认处理的警示（最新的在前）：",
    },
    "flag_line": {
        "en": "#{id} · {severity} · {code} · {when}\n{question}: {answer}\n{state}",
        "zh": "#{id} · {severity} · {code} · {when}\n{question}：{answer}\n{state}",
    },
    "state_open": {"en": "not acknowledged yet", "zh": "尚未确认处理"},
    "state_acknowledged": {
        "en": "acknowledged by {name}, {at}: {note}",
        "zh": "{name} 已于 {at} 确认处理：{note}",
    },
    "ack_done": {
        "en": "✅ Flag #{id} (case {code}) is acknowledged. What was done? Send a short note, "
        "or tap one:",
        "zh": "✅ 已确认处理警示 #{id}（个案 {code}）。做了什么？请发一句话说明，或点选：",
    },
    "ack_already": {
        "en": "Flag #{id} was already acknowledged by {name}, {at}: {note}",
        "zh": "警示 #{id} 已由 {name} 于 {at} 确认处理：{note}",
    },
    "acked_line": {"en": "✅ Acknowledged by {name}, {at}", "zh": "✅ {name} 已于 {at} 确认处理"},
    "note_saved": {"en": "Noted on flag #{id}: {note}", "zh": "已记在警示 #{id} 下：{note}"},
    "followups_none": {
        "en": "No open follow-ups on your cases.",
        "zh": "您的个案目前没有待办的跟进事项。",
    },
    "followups_head": {
        "en": "Open follow-ups on your cases, by due date:",
        "zh": "您个案待办的跟进事项（按期限排列）：",
    },
    "followup_line": {
        "en": "#{id} · {code} · due {due}{late} · {owner}\n{text}",
        "zh": "#{id} · {code} · 期限 {due}{late} · {owner}\n{text}",
    },
    "overdue": {"en": " (overdue)", "zh": "（已逾期）"},
    "followup_done": {
        "en": "✔ Follow-up #{id} (case {code}) is done. What was done? Send a short note, "
        "or tap one:",
        "zh": "✔ 跟进事项 #{id}（个案 {code}）已完成。做了什么？请发一句话说明，或点选：",
    },
    "followup_already": {
        "en": "Follow-up #{id} was already done by {name}, {at}: {note}",
        "zh": "跟进事项 #{id} 已由 {name} 于 {at} 完成：{note}",
    },
    "followup_note_saved": {
        "en": "Noted on follow-up #{id}: {note}",
        "zh": "已记在跟进事项 #{id} 下：{note}",
    },
    "ack_button": {"en": "✅ Acknowledge #{id}", "zh": "✅ 确认处理 #{id}"},
    "done_button": {"en": "✔ Done #{id}", "zh": "✔ 完成 #{id}"},
    "no_note": {"en": "No note", "zh": "不用说明"},
    "quick_notes": {
        "en": "Called them|Visited them|Told my supervisor|Will follow up today",
        "zh": "已电话联系|已上门探访|已告知督导|今天内跟进",
    },
    "not_yours": {
        "en": "Sorry, that is not on your cases.",
        "zh": "抱歉，这不是您的个案。",
    },
    "gone": {"en": "There is no #{id}.", "zh": "没有 #{id}。"},
    "usage_digest": {
        "en": "Daily digest: {at}. Change it with /digest 08:00, or /digest off.",
        "zh": "每日摘要：{at}。可发送 /digest 08:00 修改，或 /digest off 关闭。",
    },
    "usage_quiet": {
        "en": "Quiet hours: {quiet}. Change them with /quiet 21:00-08:00, or /quiet none. "
        "Urgent flags come at any hour.",
        "zh": "免打扰时段：{quiet}。可发送 /quiet 21:00-08:00 修改，或 /quiet none 取消。"
        "紧急警示任何时候都会发送。",
    },
    "digest_off": {"en": "off", "zh": "关闭"},
    "quiet_none": {"en": "none", "zh": "无"},
    "more": {"en": "… and {n} more.", "zh": "……还有 {n} 条。"},
}

SEVERITY = {
    "urgent": {"en": "URGENT", "zh": "紧急"},
    "attention": {"en": "ATTENTION", "zh": "关注"},
    "info": {"en": "Note", "zh": "提示"},
}
LIST_LIMIT = 15


def _t(key: str, lang: str, **params: object) -> str:
    texts = TEXTS[key]
    return (texts.get(lang) or texts["en"]).format(**params)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(iso: str | None, lang: str) -> str:
    return format_moment(iso, lang, notify.zone())


def actor_of(person: dict[str, Any]) -> Actor:
    """The person behind a Telegram update, as the application layer knows them."""
    return actor_from_row(person, "telegram")


class FlagsChannel:
    """The flag and follow-up parts of the Telegram channel, for one ``TelegramService``."""

    def __init__(self, service: TelegramService) -> None:
        self.service = service
        self.store = service.store

    # -- what the service hands over -------------------------------------------------------

    def command(
        self, inc: Incoming, person: dict[str, Any], lang: str, name: str, arg: str
    ) -> list[Out]:
        actor = actor_of(person)
        if name == "flags":
            return self._list_flags(inc, actor, lang, arg)
        if name == "followups":
            return self._list_followups(inc, actor, lang, arg)
        if name == "digest":
            return self._digest(inc, person, lang, arg)
        return self._quiet(inc, person, lang, arg)

    def callback(
        self,
        inc: Incoming,
        person: dict[str, Any],
        lang: str,
        kind: str,
        number: int,
        index: int,
        arg: str,
    ) -> list[Out]:
        from bot.telegram_service import Send

        actor = actor_of(person)
        self._await(person, None)
        try:
            if kind == "A":
                return self._ack(inc, actor, lang, number)
            if kind == "F":
                return [self._show_flag(inc, case_flags.get_flag(self.store, actor, number), lang)]
            if kind == "Q":
                return self._quick_note(inc, actor, lang, number, index, arg)
            if kind == "U":
                task = case_followups.get_followup(self.store, actor, number)
                return [self._show_followup(inc, task, lang)]
            if kind == "D":
                return self._done(inc, actor, lang, number)
            code = self.store.case(number).code
            return self.service._cmd_compliance(inc, actor.person_id, lang, code)
        except NotFound:
            return [Send(inc.chat_id, _t("gone", lang, id=number))]
        except NotAllowed:
            return [Send(inc.chat_id, _t("not_yours", lang))]
        except Invalid as exc:
            return [Send(inc.chat_id, _cut(str(exc), 500))]

    def awaiting_note(self, person: dict[str, Any]) -> tuple[str, int] | None:
        """What the person's next text is a note for, if they tapped lately."""
        raw = person.get("awaiting_note")
        if not raw:
            return None
        what, _, rest = str(raw).partition(":")
        number, _, asked = rest.partition(":")
        try:
            asked_at = datetime.fromisoformat(asked)
        except ValueError:
            return None
        if not number.isdecimal() or self.service.clock() - asked_at > NOTE_WAIT:
            return None
        return what, int(number)

    def note(
        self, inc: Incoming, person: dict[str, Any], lang: str, what: str, number: int
    ) -> list[Out]:
        """The worker's text after a tap: the note of what was done."""
        from bot.telegram_service import Send

        self._await(person, None)
        actor = actor_of(person)
        text = (inc.text or "").strip()
        try:
            if what == "flag":
                flag = case_flags.add_note(self.store, actor, number, text)
                return [Send(inc.chat_id, _t("note_saved", lang, id=flag.id, note=_cut(text, 300)))]
            task = case_followups.add_note(self.store, actor, number, text)
            saved = _t("followup_note_saved", lang, id=task.id, note=_cut(text, 300))
            return [Send(inc.chat_id, saved)]
        except CaseworkError as exc:
            return [Send(inc.chat_id, _cut(str(exc), 500))]

    def clear_awaiting(self, person: dict[str, Any]) -> None:
        if person.get("awaiting_note"):
            self._await(person, None)

    # -- flags -------------------------------------------------------------------------------

    def _ack(self, inc: Incoming, actor: Actor, lang: str, flag_id: int) -> list[Out]:
        from bot.telegram_service import Edit, Send

        done = case_flags.acknowledge(self.store, actor, flag_id, None, self.service.clock())
        flag = done.flag
        if not done.first:
            return [
                Send(
                    inc.chat_id,
                    _t(
                        "ack_already",
                        lang,
                        id=flag.id,
                        name=flag.acknowledged_by_name or "?",
                        at=_when(flag.acknowledged_at, lang),
                        note=flag.ack_note or "—",
                    ),
                )
            ]
        outs: list[Out] = []
        if inc.message_id is not None and inc.message_text:
            line = _t("acked_line", lang, name=actor.name, at=_when(flag.acknowledged_at, lang))
            outs.append(
                Edit(inc.chat_id, inc.message_id, _cut(inc.message_text, 3800) + "\n\n" + line)
            )
        self._await_for(actor.person_id, "flag", flag.id)
        question = _t("ack_done", lang, id=flag.id, code=flag.case_code)
        outs.append(Send(inc.chat_id, question, self._quick_keyboard("f", flag.id, lang)))
        return outs

    def _quick_keyboard(self, what: str, number: int, lang: str) -> Keyboard:
        from bot.telegram_service import Button

        notes = _t("quick_notes", lang).split("|")
        buttons = [Button(note, f"Q:{number}:{i}:{what}") for i, note in enumerate(notes)]
        rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
        rows.append((Button(_t("no_note", lang), f"Q:{number}:-1:{what}"),))
        return tuple(rows)

    def _quick_note(
        self, inc: Incoming, actor: Actor, lang: str, number: int, index: int, what: str
    ) -> list[Out]:
        from bot.telegram_service import Send

        notes = _t("quick_notes", lang).split("|")
        if index < 0:
            return []  # no note: the acknowledgement stands as it is
        if what not in ("f", "u") or index >= len(notes):
            return [Send(inc.chat_id, _t("gone", lang, id=number))]
        note = notes[index]
        if what == "f":
            flag = case_flags.add_note(self.store, actor, number, note)
            return [Send(inc.chat_id, _t("note_saved", lang, id=flag.id, note=note))]
        task = case_followups.add_note(self.store, actor, number, note)
        return [Send(inc.chat_id, _t("followup_note_saved", lang, id=task.id, note=note))]

    def _state(self, flag: FlagRow, lang: str) -> str:
        if flag.acknowledged_at is None:
            return _t("state_open", lang)
        return _t(
            "state_acknowledged",
            lang,
            name=flag.acknowledged_by_name or "?",
            at=_when(flag.acknowledged_at, lang),
            note=flag.ack_note or "—",
        )

    def _flag_line(self, flag: FlagRow, lang: str) -> str:
        return _t(
            "flag_line",
            lang,
            id=flag.id,
            severity=SEVERITY[flag.severity].get(lang, flag.severity),
            code=flag.case_code,
            when=_when(flag.raised_at, lang),
            question=_cut(flag.text("question", lang), 120),
            answer=_cut(flag.text("answer", lang), 120),
            state=self._state(flag, lang),
        )

    def _show_flag(self, inc: Incoming, flag: FlagRow, lang: str) -> Out:
        from bot.telegram_service import Button, Send

        text = self._flag_line(flag, lang) + "\n" + _cut(flag.text("message", lang), 2000)
        keyboard = None
        if flag.open:
            keyboard = ((Button(_t("ack_button", lang, id=flag.id), f"A:{flag.id}:0:0"),),)
        return Send(inc.chat_id, _cut(text, 4000), keyboard)

    def _list_flags(self, inc: Incoming, actor: Actor, lang: str, arg: str) -> list[Out]:
        from bot.telegram_service import Button, Send

        words = arg.split()
        show_all = "all" in (w.casefold() for w in words)
        codes = [w for w in words if w.casefold() != "all"]
        try:
            found = case_flags.list_flags(
                self.store, actor, case_code=codes[0] if codes else None, open_only=not show_all
            )
        except NotFound:
            return [Send(inc.chat_id, _t("gone", lang, id=_cut(codes[0], 20)))]
        except NotAllowed:
            return [Send(inc.chat_id, _t("not_yours", lang))]
        if not found:
            return [Send(inc.chat_id, _t("flags_none", lang))]
        head = _t("flags_head" if show_all else "flags_open_head", lang)
        lines = [head] + ["\n" + self._flag_line(f, lang) for f in found[:LIST_LIMIT]]
        if len(found) > LIST_LIMIT:
            lines.append(_t("more", lang, n=len(found) - LIST_LIMIT))
        buttons = [
            Button(_t("ack_button", lang, id=f.id), f"A:{f.id}:0:0")
            for f in found[:LIST_LIMIT]
            if f.open
        ]
        rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
        return [Send(inc.chat_id, _cut("\n".join(lines), 4000), rows or None)]

    # -- follow-ups --------------------------------------------------------------------------

    def _followup_line(self, task: FollowUpRow, lang: str) -> str:
        today = notify.local_day(self.service.clock())
        late = _t("overdue", lang) if task.overdue(today) else ""
        return _t(
            "followup_line",
            lang,
            id=task.id,
            code=task.case_code,
            due=task.due_on,
            late=late,
            owner=task.owner_name,
            text=_cut(task.text, 300),
        )

    def _show_followup(self, inc: Incoming, task: FollowUpRow, lang: str) -> Out:
        from bot.telegram_service import Button, Send

        keyboard = None
        if task.status == "open":
            keyboard = ((Button(_t("done_button", lang, id=task.id), f"D:{task.id}:0:0"),),)
        return Send(inc.chat_id, self._followup_line(task, lang), keyboard)

    def _list_followups(self, inc: Incoming, actor: Actor, lang: str, arg: str) -> list[Out]:
        from bot.telegram_service import Button, Send

        code = arg.split()[0] if arg.split() else None
        try:
            found = case_followups.list_followups(self.store, actor, case_code=code, open_only=True)
        except NotFound:
            return [Send(inc.chat_id, _t("gone", lang, id=_cut(code or "", 20)))]
        except NotAllowed:
            return [Send(inc.chat_id, _t("not_yours", lang))]
        if not found:
            return [Send(inc.chat_id, _t("followups_none", lang))]
        lines = [_t("followups_head", lang)]
        lines += ["\n" + self._followup_line(t, lang) for t in found[:LIST_LIMIT]]
        if len(found) > LIST_LIMIT:
            lines.append(_t("more", lang, n=len(found) - LIST_LIMIT))
        buttons = [
            Button(_t("done_button", lang, id=t.id), f"D:{t.id}:0:0") for t in found[:LIST_LIMIT]
        ]
        rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
        return [Send(inc.chat_id, _cut("\n".join(lines), 4000), rows or None)]

    def _done(self, inc: Incoming, actor: Actor, lang: str, followup_id: int) -> list[Out]:
        from bot.telegram_service import Edit, Send

        closed = case_followups.done(self.store, actor, followup_id, None, self.service.clock())
        task = closed.task
        if not closed.first:
            return [
                Send(
                    inc.chat_id,
                    _t(
                        "followup_already",
                        lang,
                        id=task.id,
                        name=task.done_by_name or "?",
                        at=_when(task.done_at, lang),
                        note=task.done_note or "—",
                    ),
                )
            ]
        outs: list[Out] = []
        if inc.message_id is not None and inc.message_text:
            line = f"✔ #{task.id}"
            outs.append(
                Edit(inc.chat_id, inc.message_id, _cut(inc.message_text, 3800) + "\n\n" + line)
            )
        self._await_for(actor.person_id, "followup", task.id)
        question = _t("followup_done", lang, id=task.id, code=task.case_code)
        outs.append(Send(inc.chat_id, question, self._quick_keyboard("u", task.id, lang)))
        return outs

    # -- settings ----------------------------------------------------------------------------

    def _digest(self, inc: Incoming, person: dict[str, Any], lang: str, arg: str) -> list[Out]:
        from bot.telegram_service import Send

        if arg.strip():
            try:
                self.store.set_digest(int(person["id"]), notify.parse_digest(arg))
            except Invalid as exc:
                return [Send(inc.chat_id, _cut(str(exc), 300))]
            person = self.store.person(int(person["id"]))
        _quiet, at = notify.describe(person)
        shown = _t("digest_off", lang) if at == "off" else at
        return [Send(inc.chat_id, _t("usage_digest", lang, at=shown))]

    def _quiet(self, inc: Incoming, person: dict[str, Any], lang: str, arg: str) -> list[Out]:
        from bot.telegram_service import Send

        if arg.strip():
            try:
                self.store.set_quiet_hours(int(person["id"]), notify.parse_quiet(arg))
            except Invalid as exc:
                return [Send(inc.chat_id, _cut(str(exc), 300))]
            person = self.store.person(int(person["id"]))
        quiet, _at = notify.describe(person)
        shown = _t("quiet_none", lang) if quiet == "none" else quiet
        return [Send(inc.chat_id, _t("usage_quiet", lang, quiet=shown))]

    # -- the note a tap waits for ------------------------------------------------------------

    def _await_for(self, person_id: int, what: str, number: int) -> None:
        asked = self.service.clock().isoformat()
        Digests(self.store).set_awaiting(person_id, f"{what}:{number}:{asked}")

    def _await(self, person: dict[str, Any], what: str | None) -> None:
        Digests(self.store).set_awaiting(int(person["id"]), what)


def outbox_keyboard(payload: dict[str, Any]) -> Keyboard | None:
    """Buttons for an outbox message, from the actions its payload offers."""
    from bot.telegram_service import Button

    prefixes = {
        "flag.ack": "A",
        "flag.open": "F",
        "followup.done": "D",
        "followup.open": "U",
        "case.compliance": "P",
    }
    buttons: list[Button] = []
    for action in payload.get("actions") or []:
        prefix = prefixes.get(str(action.get("do")))
        number = action.get("id")
        if prefix is None or not isinstance(number, int):
            continue
        buttons.append(
            Button(_cut(str(action.get("label") or f"#{number}"), 60), f"{prefix}:{number}:0:0")
        )
    if not buttons:
        return None
    return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))


def payload_of(row: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(row["payload"])
    return loaded
