"""Telegram conversations as plain data: one incoming update in, outgoing actions out.

This is the Telegram channel without the network: it runs on the thread that owns the
database, and ``bot/telegram.py`` performs the actions it returns. One update is one
transaction, recorded with its ``update_id``, so a redelivered update changes nothing, and
an answer is on disk before the next question is sent.

Messages are plain text (no parse mode), so nothing a respondent wrote can turn into markup.
Buttons carry short callback data ``kind:session:question:arg`` (well under Telegram's 64
bytes); a button of a question that has passed, of another session or of nothing at all
gets a short answer and the current question again.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import segno

from bot.telegram_flags import CALLBACKS as FLAG_CALLBACKS
from bot.telegram_flags import COMMANDS as FLAG_COMMANDS
from bot.telegram_flags import FlagsChannel, outbox_keyboard
from casework import casefile as casefile_actions
from casework import cases as case_actions
from casework import identity, policy, signin
from casework import records as record_actions
from casework import schedules as schedule_actions
from casework.errors import CaseworkError, Invalid, NotAllowed, NotFound
from casework.interviews import CaseIsClosed, InterviewError, Interviews
from flows.answers import QUICK_DATES, options
from flows.compile import REVIEW
from flows.engine import Engine, Prompt, Reply, Session, Turn, Voice
from flows.messages import COMMAND_HELP
from storage.store import Case, Store

if TYPE_CHECKING:
    from bot.scheduler import CheckinScheduler

log = logging.getLogger(__name__)

CHANNEL = "telegram"
INTERVIEW_COMMANDS = ("back", "skip", "pause", "resume", "cancel", "review", "submit", "edit")
CASE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,19}$")
CHECKIN_FLOWS = ("child_checkin", "elder_checkin")
PROFILE_FLOW = "case_profile"
# Channels whose sessions a person carries on here: one started or last answered in the
# browser (a member's web link) is theirs to continue on Telegram too.
CARRIED_ON = ("web",)


@dataclass(frozen=True)
class Button:
    text: str
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Send:
    chat_id: int
    text: str
    keyboard: Keyboard | None = None


@dataclass(frozen=True)
class Edit:
    chat_id: int
    message_id: int
    text: str
    keyboard: Keyboard | None = None


@dataclass(frozen=True)
class AnswerCallback:
    callback_id: str
    text: str | None = None


@dataclass(frozen=True)
class SendDocument:
    chat_id: int
    filename: str
    data: bytes
    caption: str = ""


@dataclass(frozen=True)
class SendPhoto:
    chat_id: int
    data: bytes
    caption: str = ""


@dataclass(frozen=True)
class SendVoice:
    chat_id: int
    file_id: str
    caption: str = ""


Out = Send | Edit | AnswerCallback | SendDocument | SendPhoto | SendVoice


@dataclass(frozen=True)
class Incoming:
    """What the channel needs from a Telegram update, and nothing else."""

    update_id: int
    user_id: int
    chat_id: int
    first_name: str = ""
    language_code: str | None = None
    text: str | None = None
    callback_id: str | None = None
    callback_data: str | None = None
    message_id: int | None = None
    message_text: str | None = None
    checked: tuple[int, ...] = ()
    voice: Voice | None = None
    media: str | None = None


@dataclass
class Handled:
    """The actions for one update, and alerts owed to other people (sent after commit)."""

    outs: list[Out] = field(default_factory=list)
    outbox: list[tuple[int, Send]] = field(default_factory=list)


TEXTS: dict[str, dict[str, str]] = {
    "welcome_stranger": {
        "en": "Hello. This bot is for families working with a social worker. "
        "Please open the link your social worker sent you.",
        "zh": "这是社工为服务家庭准备的填写工具，请点开社工发给您的链接。",
    },
    "not_registered": {
        "en": "Sorry, I can't help with that: you are not registered here. "
        "Please ask your social worker for a link.",
        "zh": "抱歉，您还没有登记，暂时用不了这个功能。请找社工要一个链接。",
    },
    "not_allowed": {
        "en": "Sorry, only social workers can do that.",
        "zh": "抱歉，这项操作只有社工才能做。",
    },
    "case_closed": {
        "en": "Case {code} is closed, so there is nothing to fill in for it now. "
        "Thank you. If you need the social worker, please contact them directly.",
        "zh": "个案 {code} 已经结案，现在不需要再填写了，谢谢您。"
        "如果需要社工帮忙，请直接联系社工。",
    },
    "no_case": {
        "en": "I can't find case {code} among your cases. Send /cases to see them.",
        "zh": "您的个案里没有 {code}。发送 /cases 查看您的个案。",
    },
    "invite_bad": {
        "en": "This link has expired or was already used. Please ask your social worker "
        "for a new one.",
        "zh": "这个链接已经过期或用过了。请找社工要一个新链接。",
    },
    "joined": {
        "en": "Welcome, {name}. You are now connected to case {code}. "
        "Send /checkin to answer this week's questions, or /note to leave a note.",
        "zh": "{name}，欢迎您！已经和社工连上了（个案 {code}）。发送 /checkin 回答本周的问题，"
        "或发送 /note 给社工留言。",
    },
    "member_joined": {
        "en": "{name} joined case {code} through your invitation.",
        "zh": "{name} 通过您的邀请加入了个案 {code}。",
    },
    "case_opened": {
        "en": "Case {code} is open (check-in: {flow}). Invite the caregiver with /invite {code}. "
        "First, a few details about the client; skip what you do not know yet.",
        "zh": "个案 {code} 已建立（定期小调查：{flow}）。用 /invite {code} 邀请照顾者。"
        "先登记几项服务对象的基本信息，暂时不清楚的可以跳过。",
    },
    "usage_profile": {
        "en": "Use: /profile CASE, to change the client's profile (name, age, group, caregiver).",
        "zh": "用法：/profile 个案编号，修改服务对象的基本信息（姓名、年龄、类别、照顾者）。",
    },
    "usage_close": {
        "en": "Use: /close CASE. The case needs a closing report first: "
        "/interview CASE closing_report",
        "zh": "用法：/close 个案编号。结案前要先填写结案报告：/interview 个案编号 closing_report",
    },
    "usage_reopen": {
        "en": "Use: /reopen CASE REASON, for example /reopen {example} the family asked for help "
        "again",
        "zh": "用法：/reopen 个案编号 原因，例如：/reopen {example} 家属再次求助",
    },
    "no_closing_report": {
        "en": "Case {code} has no closing report since it was opened. Write it first: "
        "/interview {code} closing_report, then send /close {code} again.",
        "zh": "个案 {code} 还没有填写结案报告。请先填写：/interview {code} closing_report，"
        "填完再发送 /close {code}。",
    },
    "closed_case": {
        "en": "Case {code} is closed; {paused} scheduled check-in(s) will no longer be sent. "
        "A follow-up after closing: /interview {code} followup_visit",
        "zh": "个案 {code} 已结案，{paused} 项定期小调查不再发送。"
        "结案后回访请用：/interview {code} followup_visit",
    },
    "already_closed": {
        "en": "Case {code} is already closed. To work on it again: /reopen {code} REASON",
        "zh": "个案 {code} 已经结案了。如需重新开案：/reopen {code} 原因",
    },
    "reopened_case": {
        "en": "Case {code} is open again. Check-ins paused at closing stay paused: resume "
        "those still wanted on the case's page at the desk (/desk), or schedule new ones "
        "with /schedule {code} FLOW.",
        "zh": "个案 {code} 已重新开案。结案时暂停的定期小调查仍然暂停，还需要的请在工作台的"
        "个案页面恢复（/desk），或用 /schedule {code} 表单 重新安排。",
    },
    "not_closed": {
        "en": "Case {code} is open; there is nothing to reopen.",
        "zh": "个案 {code} 没有结案，不需要重新开案。",
    },
    "case_exists": {
        "en": "There is already a case {code}.",
        "zh": "已经有个案 {code} 了。",
    },
    "usage_newcase": {
        "en": "Use: /newcase [CODE] [child_checkin|elder_checkin]",
        "zh": "用法：/newcase [编号] [child_checkin|elder_checkin]",
    },
    "usage_invite": {"en": "Use: /invite CASE", "zh": "用法：/invite 个案编号"},
    "usage_interview": {
        "en": "Use: /interview CASE FLOW, for example /interview {example} session_record",
        "zh": "用法：/interview 个案编号 表单名，例如 /interview {example} session_record",
    },
    "usage_record": {"en": "Use: /record SESSION_NUMBER", "zh": "用法：/record 记录编号"},
    "usage_scores": {"en": "Use: /scores CASE", "zh": "用法：/scores 个案编号"},
    "no_cases": {"en": "You have no cases yet.", "zh": "您还没有个案。"},
    "your_cases": {"en": "Your cases:", "zh": "您的个案："},
    "invite": {
        "en": "Send this link to the caregiver of case {code}. It works once and "
        "expires on {expires}:\n{link}",
        "zh": "请把这个链接发给个案 {code} 的照顾者。只能用一次，{expires} 过期：\n{link}",
    },
    "invite_qr": {
        "en": "Or let them scan this code with their phone.",
        "zh": "也可以让对方用手机扫这个二维码。",
    },
    "no_flow": {
        "en": "There is no interview '{flow}'. Available: {flows}",
        "zh": "没有“{flow}”这个表单。可用的有：{flows}",
    },
    "not_your_flow": {
        "en": "'{flow}' is answered by the caregiver on their phone: invite them with /invite.",
        "zh": "“{flow}”要由照顾者在自己的手机上填写，请先用 /invite 邀请对方。",
    },
    "no_session": {
        "en": "Nothing is open right now. {hint}",
        "zh": "现在没有要填写的内容。{hint}",
    },
    "hint_caregiver": {
        "en": "Send /checkin to start this week's questions.",
        "zh": "发送 /checkin 开始本周的问题。",
    },
    "hint_worker": {
        "en": "Send /interview CASE FLOW or /note CASE.",
        "zh": "发送 /interview 个案编号 表单名，或 /note 个案编号。",
    },
    "paused_other": {
        "en": "Your other interview ({flow}) is paused; send /resume to go back to it later.",
        "zh": "您另一份没填完的（{flow}）先暂停了，之后发送 /resume 可以接着填。",
    },
    "choose_case": {"en": "Which case?", "zh": "是哪个个案？"},
    "unknown_command": {
        "en": "I don't know /{command}. Send /help to see what I can do.",
        "zh": "没有 /{command} 这个命令。发送 /help 看看可以做什么。",
    },
    "carried_on": {
        "en": "You carried on in the browser, so that message was not taken as an answer. "
        "This is where you are now:",
        "zh": "您在网页上接着填过了，所以刚才这条没有算作回答。现在到这一题：",
    },
    "button_dead": {
        "en": "That button no longer works.",
        "zh": "这个按钮已经不能用了。",
    },
    "session_over": {
        "en": "That interview has ended.",
        "zh": "那次的填写已经结束。",
    },
    "language_choose": {"en": "Choose your language:", "zh": "请选择语言："},
    "language_set": {"en": "Language: English.", "zh": "语言：中文。"},
    "no_record": {
        "en": "There is no session {number} among your cases.",
        "zh": "您的个案里没有编号为 {number} 的记录。",
    },
    "records_unavailable": {
        "en": "Records can't be rendered in this installation.",
        "zh": "当前系统无法生成记录文件。",
    },
    "voice_sent": {"en": "Voice message: {label}", "zh": "语音：{label}"},
    "busy_error": {
        "en": "Sorry, something went wrong and that was not saved. Please send it again.",
        "zh": "抱歉，出了点问题，刚才的内容没有保存。请再发送一次。",
    },
    "voice_refused": {
        "en": "That voice message could not be kept. Please send one shorter than an hour, "
        "or type your answer.",
        "zh": "这条语音无法保存。请发送一小时以内的语音，或直接输入文字回答。",
    },
    "help_worker": {
        "en": "/newcase [CODE] [FLOW] open a case\n/cases your cases\n/invite CASE invite a "
        "caregiver\n/interview CASE FLOW run an interview\n/note CASE note an informal "
        "contact\n/record SESSION get a session record\n/scores CASE scores over time\n"
        "/schedule CASE FLOW schedule check-ins\n/compliance CASE who answered them\n"
        "/flags [CASE] [all] answers that call for action\n/followups [CASE] tasks to do\n"
        "/digest [HH:MM|off] daily digest\n/quiet [HH:MM-HH:MM|none] quiet hours\n"
        "/profile CASE the client's profile\n/close CASE close a case\n"
        "/reopen CASE REASON reopen a closed case\n"
        "/desk a sign-in link to the desk in your browser\n/language change language",
        "zh": "/newcase [编号] [表单] 新建个案\n/cases 我的个案\n/invite 个案 邀请照顾者\n"
        "/interview 个案 表单 开始填写\n/note 个案 记录非正式接触\n"
        "/record 记录编号 获取填写记录\n/scores 个案 查看量表得分\n"
        "/schedule 个案 表单 安排定期小调查\n/compliance 个案 查看填写情况\n"
        "/flags [个案] [all] 需要处理的警示\n/followups [个案] 跟进事项\n"
        "/digest [时间|off] 每日摘要\n/quiet [时段|none] 免打扰时段\n"
        "/profile 个案 修改基本信息\n/close 个案 结案\n/reopen 个案 原因 重新开案\n"
        "/desk 获取电脑端工作台的登录链接\n/language 更换语言",
    },
    "desk_link": {
        "en": "Your sign-in link to the desk (it works once, for 15 minutes; do not forward "
        "it):\n{url}",
        "zh": "您的工作台登录链接（只能用一次，15 分钟内有效，请勿转发）：\n{url}",
    },
    "desk_not_set_up": {
        "en": "The desk's address is not set up yet. Ask your administrator to set "
        "CASEFLOW_DESK_URL, or for a link from `caseflow desk link`.",
        "zh": "工作台的网址还没有设置。请联系管理员设置 CASEFLOW_DESK_URL，"
        "或请管理员用 caseflow desk link 生成登录链接。",
    },
    "help_caregiver": {
        "en": "/checkin answer this week's questions\n/note leave a note for the social worker\n"
        "/language change language",
        "zh": "/checkin 回答本周的问题\n/note 给社工留言\n/language 更换语言",
    },
    "help_interview": {
        "en": "During questions you can send these words on their own (or the commands): "
        "back (/back) previous question · skip (/skip) · pause (/pause) stop for now · "
        "resume (/resume) carry on · cancel (/cancel) stop · review (/review) check answers · "
        "help: how to answer this question. To answer with one of these words, write a few more.",
        "zh": "答题时，可以直接发这些词（或对应的命令）：返回（/back）回到上一题 · 跳过（/skip） · "
        "暂停（/pause） · 继续（/resume） · 取消（/cancel）这次先不填 · "
        "核对（/review）看看填过的回答 · 帮助：说说这道题怎么答。"
        "如果回答正好是其中一个词，请多写几个字。",
    },
    "usage_schedule": {
        "en": "Use: /schedule CASE FLOW, for example /schedule C-0001 child_checkin",
        "zh": "用法：/schedule 个案编号 表单名，例如 /schedule C-0001 child_checkin",
    },
    "schedule_no_member": {
        "en": "Case {code} has no caregiver or client yet: invite one with /invite {code}.",
        "zh": "个案 {code} 还没有照顾者或服务对象，请先用 /invite {code} 邀请。",
    },
    "schedule_who": {"en": "Who answers the check-in?", "zh": "由谁填写？"},
    "schedule_how_often": {"en": "How often?", "zh": "多久一次？"},
    "schedule_when": {
        "en": "At what time (their local time)?",
        "zh": "几点发送（按对方当地时间）？",
    },
    "schedule_window": {
        "en": "How long may they take to answer, and when to remind them?",
        "zh": "要在多长时间内填完？什么时候提醒？",
    },
    "daily": {"en": "Every day", "zh": "每天"},
    "weekly_on": {"en": "Every {day}", "zh": "每{day}"},
    "weekdays": {
        "en": "Monday,Tuesday,Wednesday,Thursday,Friday,Saturday,Sunday",
        "zh": "周一,周二,周三,周四,周五,周六,周日",
    },
    "every_n": {"en": "Every {n} days", "zh": "每 {n} 天"},
    "once_tomorrow": {"en": "Once, tomorrow", "zh": "只发一次（明天）"},
    "preset_0": {
        "en": "48 h; remind after 4 h and 24 h",
        "zh": "48 小时内填完；4 小时和 24 小时后提醒",
    },
    "preset_1": {"en": "24 h; remind after 4 h", "zh": "24 小时内填完；4 小时后提醒"},
    "preset_2": {
        "en": "72 h; remind after 24 h and 48 h",
        "zh": "72 小时内填完；24 小时和 48 小时后提醒",
    },
    "preset_3": {"en": "12 h; remind after 4 h", "zh": "12 小时内填完；4 小时后提醒"},
    "schedule_invalid": {
        "en": "That schedule can't work as chosen. Please start again: /schedule {code} FLOW.",
        "zh": "这样安排行不通，请重新设置：/schedule {code} 表单。",
    },
    "schedule_saved": {
        "en": "Scheduled (no. {id}): {what}. First check-in: {first}. Nothing is sent between "
        "21:00 and 08:00. Change or stop it with caseflow schedule.",
        "zh": "已安排定期小调查（第 {id} 号）：{what}。第一次发送：{first}。"
        "晚上 21:00 到早上 08:00 之间不发送。可用 caseflow schedule 修改或停止。",
    },
    "no_schedules": {
        "en": "Case {code} has no scheduled check-ins.",
        "zh": "个案 {code} 还没有安排定期小调查。",
    },
    "compliance_head": {
        "en": "Check-ins on case {code}, last 8 weeks:",
        "zh": "个案 {code} 最近 8 周的定期小调查填写情况：",
    },
    "compliance_row": {
        "en": "• {name}, {flow}: due {due}, completed {completed} (late {late}), missed {missed}, "
        "rate {rate}",
        "zh": "• {name}，{flow}：应填 {due} 次，已填 {completed} 次（逾期 {late} 次），"
        "未填 {missed} 次，完成率 {rate}",
    },
    "keep": {"en": "✓ Keep: {value}", "zh": "✓ 保持：{value}"},
    "same": {"en": "↩ Same as last time: {value}", "zh": "↩ 和上次一样：{value}"},
    "done": {"en": "Done ✔", "zh": "选好了 ✔"},
    "back": {"en": "⬅ Back", "zh": "⬅ 上一题"},
    "skip": {"en": "Skip ➡", "zh": "跳过 ➡"},
    "submit": {"en": "✅ Submit", "zh": "✅ 提交"},
    "change": {"en": "✏️ {n}", "zh": "✏️ {n}"},
    "continue": {"en": "Continue ▶", "zh": "继续 ▶"},
}

Renderer = Callable[[str, str], tuple[str, bytes]]
Charter = Callable[[int, str], tuple[str, bytes | None]]


def text(key: str, lang: str, **params: object) -> str:
    texts = TEXTS[key]
    return (texts.get(lang) or texts["en"]).format(**params)


def _truncate(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


class TelegramService:
    """Decides what the bot does with each update. Call only from the database thread."""

    def __init__(
        self,
        store: Store,
        interviews: Interviews,
        bot_username: str,
        *,
        render_record: Renderer | None = None,
        chart_scores: Charter | None = None,
        scheduler: CheckinScheduler | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        desk_url: str | None = None,
    ) -> None:
        self.store = store
        self.interviews = interviews
        self.bot_username = bot_username
        self.render_record = render_record
        self.chart_scores = chart_scores
        self.scheduler = scheduler
        self.clock = clock
        self.desk_url = desk_url.rstrip("/") if desk_url else None
        self._queued = False
        self._in_flight: set[int] = set()  # outbox rows handed to the sender, not yet marked
        self.flags = FlagsChannel(self)

    def _queue_message(
        self, person_id: int, case_id: int | None, kind: str, payload: dict[str, Any]
    ) -> None:
        self.store.queue_message(person_id, case_id, kind, payload)
        self._queued = True

    # -- entry point ----------------------------------------------------------------------

    def handle(self, inc: Incoming) -> Handled:
        """One update, one transaction: its id, its effect and any alerts it causes."""
        handled = Handled()
        with self.store.atomic():
            if not self.store.update_seen(inc.update_id):
                return handled  # a redelivered update: its effect is already on disk
            handled.outs = self._dispatch(inc)
        if self._queued:  # only look at the outbox when this update owed someone a message
            self._queued = False
            handled.outbox = self.pending_outbox()
        return handled

    def pending_outbox(self, now: datetime | None = None) -> list[tuple[int, Send]]:
        """Messages owed by now, each handed out once (until marked sent or released)."""
        out = []
        for row in self.store.unsent_messages(now or self.clock()):
            if row["telegram_chat_id"] is None or int(row["id"]) in self._in_flight:
                continue
            payload = json.loads(row["payload"])
            chat = int(row["telegram_chat_id"])
            self._in_flight.add(int(row["id"]))
            out.append((int(row["id"]), Send(chat, payload["text"], outbox_keyboard(payload))))
        return out

    def mark_sent(self, outbox_id: int) -> None:
        self.store.mark_sent(outbox_id)
        self._in_flight.discard(outbox_id)

    def release(self, outbox_id: int) -> None:
        """A message that could not be sent now: offer it again later."""
        self._in_flight.discard(outbox_id)

    def casework_tick(self, now: datetime) -> list[tuple[int, Send]]:
        """Escalations, digests and follow-up reminders owed by ``now``, queued; then every
        outbox message due (an attention alert held over quiet hours among them)."""
        from casework.digest import digest_due
        from casework.flags import escalate_due
        from casework.followups import remind_due

        escalate_due(self.store, now)
        digest_due(self.store, now)
        remind_due(self.store, now)
        return self.pending_outbox(now)

    # -- routing --------------------------------------------------------------------------

    def _lang(self, person: dict[str, Any] | None, inc: Incoming) -> str:
        if person:
            return str(person["lang"])
        return "zh" if (inc.language_code or "").startswith("zh") else "en"

    def _dispatch(self, inc: Incoming) -> list[Out]:
        person = self.store.person_by_telegram(inc.user_id)
        lang = self._lang(person, inc)
        if person and person["telegram_chat_id"] != inc.chat_id:
            self.store.set_chat(int(person["id"]), inc.chat_id)
        outs: list[Out] = []
        if inc.callback_id is not None:
            outs.append(AnswerCallback(inc.callback_id))
            return outs + self._callback(inc, person, lang)
        command = None
        if inc.text and inc.text.startswith("/"):
            word, _, arg = inc.text[1:].partition(" ")
            command = (word.split("@", 1)[0].casefold(), arg.strip())
        if command and command[0] == "start":
            return self._start(inc, person, lang, command[1])
        if command and command[0] == "language":
            return [self._language_choice(inc.chat_id, lang)]
        if person is None:
            policy.refuse_stranger(self.store, inc.user_id, "bot.message")
            return [Send(inc.chat_id, text("not_registered", lang))]
        pid = int(person["id"])
        if command:
            self.flags.clear_awaiting(person)
            return self._command(inc, person, pid, lang, *command)
        waiting = self.flags.awaiting_note(person) if inc.text else None
        if waiting is not None:  # the note of an acknowledgement or a follow-up just done
            return self.flags.note(inc, person, lang, *waiting)
        return self._answer(inc, pid, lang, self._reply_of(inc))

    def _reply_of(self, inc: Incoming) -> Reply:
        if inc.voice is not None:
            return Reply(voice=inc.voice)
        if inc.media is not None:
            return Reply(media=inc.media)
        return Reply(text=inc.text or "")

    def _is_worker(self, person: dict[str, Any]) -> bool:
        """Whether to show a worker's help and hints; rights on a case come from the policy."""
        return person["role"] in ("worker", "supervisor", "admin")

    def _command(
        self, inc: Incoming, person: dict[str, Any], pid: int, lang: str, name: str, arg: str
    ) -> list[Out]:
        chat = inc.chat_id
        if name == "help":
            key = "help_worker" if self._is_worker(person) else "help_caregiver"
            return [Send(chat, text(key, lang) + "\n\n" + text("help_interview", lang))]
        if name in INTERVIEW_COMMANDS:
            return self._interview_command(inc, pid, lang, name, arg)
        if name == "checkin":
            return self._checkin(inc, person, pid, lang, None)
        if name == "note":
            return self._note(inc, person, pid, lang, arg)
        if name == "desk":
            return self._cmd_desk(inc, person, pid, lang)
        if name in FLAG_COMMANDS:
            if name in ("digest", "quiet") and not self._is_worker(person):
                # A worker's own times; what flags and follow-ups a person sees is decided
                # per case by the policy.
                self.store.audit_refusal(pid, f"command.{name}", "person", pid)
                return [Send(chat, text("not_allowed", lang))]
            return self.flags.command(inc, person, lang, name, arg)
        if name in (
            "newcase",
            "cases",
            "invite",
            "interview",
            "record",
            "scores",
            "schedule",
            "compliance",
            "profile",
            "close",
            "reopen",
        ):
            if name in ("newcase", "cases") and not self._is_worker(person):
                # Opening cases is the one right a global role gives; everything else is
                # decided per case by the policy, in each command.
                self.store.audit_refusal(pid, f"command.{name}", "person", pid)
                return [Send(chat, text("not_allowed", lang))]
            commands = {
                "newcase": self._cmd_newcase,
                "cases": self._cmd_cases,
                "invite": self._cmd_invite,
                "interview": self._cmd_interview,
                "record": self._cmd_record,
                "scores": self._cmd_scores,
                "schedule": self._cmd_schedule,
                "compliance": self._cmd_compliance,
                "profile": self._cmd_profile,
                "close": self._cmd_close,
                "reopen": self._cmd_reopen,
            }
            return commands[name](inc, pid, lang, arg)
        return [Send(chat, text("unknown_command", lang, command=_truncate(name, 30)))]

    # -- joining ------------------------------------------------------------------------------

    def _start(
        self, inc: Incoming, person: dict[str, Any] | None, lang: str, token: str
    ) -> list[Out]:
        chat = inc.chat_id
        if not token:
            if person is None:
                return [Send(chat, text("welcome_stranger", lang))]
            key = "help_worker" if self._is_worker(person) else "help_caregiver"
            return [Send(chat, text(key, lang))]
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", token):
            token = ""
        new_person = None
        if person is None:
            new_person = {
                "name": (inc.first_name or "—")[:64],
                "telegram_user_id": inc.user_id,
                "lang": lang,
            }
        try:
            joined = case_actions.join(
                self.store,
                token,
                int(person["id"]) if person else None,
                self.clock(),
                new_person=new_person,
            )
        except CaseworkError:
            if person is None:
                policy.refuse_stranger(self.store, inc.user_id, "invite.use")
            else:
                self.store.audit_refusal(int(person["id"]), "invite.use", "bot", inc.user_id)
            return [Send(chat, text("invite_bad", lang))]
        if person is None:
            self.store.set_chat(joined.person_id, chat)
        case = joined.case
        inviter = self.store.person(joined.inviter_id)
        self._queue_message(
            int(inviter["id"]),
            case.id,
            "joined",
            {"text": text("member_joined", inviter["lang"], name=inc.first_name, code=case.code)},
        )
        return [Send(chat, text("joined", lang, name=inc.first_name, code=case.code))]

    def _language_choice(self, chat: int, lang: str) -> Send:
        keyboard = ((Button("English", "L:0:0:en"), Button("中文", "L:0:0:zh")),)
        return Send(chat, text("language_choose", lang), keyboard)

    # -- worker commands ----------------------------------------------------------------------

    def _worker_case(self, pid: int, code: str, action: str) -> Case | None:
        """The case, when the person may perform ``action`` on it; a refusal is audited and
        answered as if there were no such case."""
        try:
            return case_actions.case_for(self.store, pid, code, action)
        except NotFound:
            return None

    def _cmd_newcase(self, inc: Incoming, pid: int, lang: str, arg: str) -> list[Out]:
        parts = arg.split()
        flow = next((p for p in parts if p in CHECKIN_FLOWS), CHECKIN_FLOWS[0])
        codes = [p for p in parts if p not in CHECKIN_FLOWS]
        if len(codes) > 1 or (codes and not CASE_CODE.match(codes[0])):
            return [Send(inc.chat_id, text("usage_newcase", lang))]
        code = codes[0].upper() if codes else self._next_code()
        actor = identity.by_id(self.store, pid, CHANNEL)
        try:
            case = case_actions.open_case(self.store, actor, code, {"checkin_flow": flow})
        except Invalid:
            return [Send(inc.chat_id, text("case_exists", lang, code=code))]
        except NotAllowed:
            return [Send(inc.chat_id, text("not_allowed", lang))]
        opened = Send(inc.chat_id, text("case_opened", lang, code=code, flow=flow))
        # The profile right away, one question at a time; each can be skipped.
        return [opened, *self._open(inc, pid, lang, PROFILE_FLOW, case)]

    def _cmd_profile(self, inc: Incoming, pid: int, lang: str, arg: str) -> list[Out]:
        code = arg.strip()
        if not code or " " in code:
            return [Send(inc.chat_id, text("usage_profile", lang))]
        case = self._worker_case(pid, code, "case.profile.edit")
        if case is None:
            return [Send(inc.chat_id, text("no_case", lang, code=_truncate(code, 20)))]
        if case.status == "closed":
            return [Send(inc.chat_id, text("already_closed", lang, code=case.code))]
        return self._open(inc, pid, lang, PROFILE_FLOW, case)

    def _cmd_close(self, inc: Incoming, pid: int, lang: str, arg: str) -> list[Out]:
        code = arg.strip()
        if not code or " " in code:
            return [Send(inc.chat_id, text("usage_close", lang))]
        case = self._worker_case(pid, code, "case.close")
        if case is None:
            return [Send(inc.chat_id, text("no_case", lang, code=_truncate(code, 20)))]
        if case.status == "closed":
            return [Send(inc.chat_id, text("already_closed", lang, code=case.code))]
        try:
            closed = casefile_actions.close(self.store, pid, case)
        except casefile_actions.Refused:
            return [Send(inc.chat_id, text("no_closing_report", lang, code=case.code))]
        paused = len(closed.paused_schedules)
        return [Send(inc.chat_id, text("closed_case", lang, code=case.code, paused=paused))]

    def _cmd_reopen(self, inc: Incoming, pid: int, lang: str, arg: str) -> list[Out]:
        code, _, reason = arg.strip().partition(" ")
        if not code or not reason.strip():
            example = next((r["code"] for r in self.store.cases_of(pid)), "C-0001")
            return [Send(inc.chat_id, text("usage_reopen", lang, example=example))]
        case = self._worker_case(pid, code, "case.close")
        if case is None:
            return [Send(inc.chat_id, text("no_case", lang, code=_truncate(code, 20)))]
        try:
            casefile_actions.reopen(self.store, pid, case, _truncate(reason.strip(), 500))
        except casefile_actions.Refused:
            return [Send(inc.chat_id, text("not_closed", lang, code=case.code))]
        return [Send(inc.chat_id, text("reopened_case", lang, code=case.code))]

    def _next_code(self) -> str:
        number = self.store.count_cases() + 1
        while True:
            code = f"C-{number:04d}"
            if not self.store.case_exists(code):
                return code
            number += 1

    def _cmd_desk(self, inc: Incoming, person: dict[str, Any], pid: int, lang: str) -> list[Out]:
        """A one-time sign-in link to the desk, for a worker or supervisor."""
        if not self._is_worker(person):
            self.store.audit_refusal(pid, "command.desk", "person", pid)
            return [Send(inc.chat_id, text("not_allowed", lang))]
        if self.desk_url is None:
            return [Send(inc.chat_id, text("desk_not_set_up", lang))]
        token = signin.issue_link(self.store, pid, self.clock(), created_by=pid, via="telegram")
        url = f"{self.desk_url}/signin/{token}"
        return [Send(inc.chat_id, text("desk_link", lang, url=url))]

    def _cmd_cases(self, inc: Incoming, pid: int, lang: str, arg: str) -> list[Out]:
        rows = case_actions.cases_where(self.store, pid, "case.view")
        self.store.audit(pid, "cases.list", "person", pid, count=len(rows))
        if not rows:
            return [Send(inc.chat_id, text("no_cases", lang))]
        lines = [text("your_cases", lang)]
        for case in rows:
            members = self.store.members(case.id)
            people = ", ".join(f"{m['name']} ({m['role']})" for m in members)
            lines.append(f"• {case.code}: {_truncate(people, 200)}")
        return [Send(inc.chat_id, _truncate("\n".join(lines), 4000))]

    def _cmd_invite(self, inc: Incoming, pid: int, lang: str, arg: str) -> list[Out]:
        code, _, role = arg.partition(" ")
        if not code:
            return [Send(inc.chat_id, text("usage_invite", lang))]
        case = self._worker_case(pid, code, "member.invite")
        if case is None:
            return [Send(inc.chat_id, text("no_case", lang, code=_truncate(code, 20)))]
        role = role.strip() if role.strip() in case_actions.INVITE_ROLES else "caregiver"
        invitation = case_actions.invite(self.store, pid, case, role, self.clock())
        expires = invitation.expires
        link = f"https://t.me/{self.bot_username}?start={invitation.token}"
        outs: list[Out] = [
            Send(
                inc.chat_id,
                text("invite", lang, code=case.code, link=link, expires=expires.date().isoformat()),
            )
        ]
        outs.append(SendPhoto(inc.chat_id, _qr_png(link), text("invite_qr", lang)))
        return outs

    def _cmd_interview(self, inc: Incoming, pid: int, lang: str, arg: str) -> list[Out]:
        parts = arg.split()
        if len(parts) != 2:
            example = next((r["code"] for r in self.store.cases_of(pid)), "C-0001")
            return [Send(inc.chat_id, text("usage_interview", lang, example=example))]
        case = self._worker_case(pid, parts[0], "interview.run")
        if case is None:
            return [Send(inc.chat_id, text("no_case", lang, code=_truncate(parts[0], 20)))]
        flows = [p.stem for p in self.interviews.registry.available()]
        if not self.interviews.registry.known(parts[1]):
            flow = _truncate(parts[1], 40)
            return [Send(inc.chat_id, text("no_flow", lang, flow=flow, flows=", ".join(flows)))]
        respondent = self.interviews.registry.current(parts[1]).engine.flow.respondent
        # A worker also administers a client's scales in person; a caregiver's check-in is
        # answered by the caregiver on their own phone.
        if respondent == "caregiver":
            return [Send(inc.chat_id, text("not_your_flow", lang, flow=parts[1]))]
        return self._open(inc, pid, lang, parts[1], case)

    def _cmd_record(self, inc: Incoming, pid: int, lang: str, arg: str) -> list[Out]:
        number = int(arg) if arg.isdecimal() and len(arg) < 12 else None
        session_id = self.store.session_by_number(number) if number else None
        try:
            if session_id is None:
                raise NotFound(arg)
            info = record_actions.session_for(self.store, pid, session_id, "record.view")
        except NotFound:
            return [Send(inc.chat_id, text("no_record", lang, number=_truncate(arg, 12) or "?"))]
        if self.render_record is None:
            return [Send(inc.chat_id, text("records_unavailable", lang))]
        from templates.render import RenderError  # templates load only where records are made

        try:
            filename, data = self.render_record(info.id, lang)
        except RenderError as exc:
            # An organisation's broken template affects that record only.
            log.error("record of session %s could not be rendered: %s", info.id, exc)
            return [Send(inc.chat_id, text("records_unavailable", lang))]
        self.store.audit(pid, "record.render", "session", info.id, info.case_id, format="html")
        outs: list[Out] = [SendDocument(inc.chat_id, filename, data)]
        voices = self._voice_buttons(info.id, number or 0, lang)
        if voices and policy.allowed(self.store, pid, "voice.replay", info.case_id):
            outs.append(Send(inc.chat_id, "🎤", voices))
        return outs

    def _voice_buttons(self, session_id: str, number: int, lang: str) -> Keyboard:
        engine = self.interviews.engine_for(self.store.load_session(session_id))
        rows = []
        for answer in self.store.current_answers(session_id):
            if answer["value"] and '"voice"' in answer["value"]:
                question = engine.compiled.by_id.get(answer["question_id"])
                if question is None:
                    continue
                label = _truncate(question.item.label(lang), 40)
                data = f"V:{number}:{question.index}:0"
                rows.append((Button(text("voice_sent", lang, label=label), data),))
        return tuple(rows)

    def _cmd_scores(self, inc: Incoming, pid: int, lang: str, arg: str) -> list[Out]:
        if not arg:
            return [Send(inc.chat_id, text("usage_scores", lang))]
        case = self._worker_case(pid, arg.split()[0], "scores.view")
        if case is None:
            return [Send(inc.chat_id, text("no_case", lang, code=_truncate(arg, 20)))]
        if self.chart_scores is None:
            return [Send(inc.chat_id, text("records_unavailable", lang))]
        summary, png = self.chart_scores(case.id, lang)
        self.store.audit(pid, "scores.read", "case", case.id, case.id)
        if png:
            return [SendPhoto(inc.chat_id, png, _truncate(summary, 1000))]
        return [Send(inc.chat_id, _truncate(summary, 4000))]

    # -- scheduled check-ins ------------------------------------------------------------------

    def _checkin_button(self, inc: Incoming, pid: int, lang: str, kind: str) -> list[Out]:
        """Start or Not now on a scheduled check-in's invitation or reminder."""
        from bot.scheduler import Refusal, parse_checkin_data

        parsed = parse_checkin_data(inc.callback_data or "")
        if self.scheduler is None or parsed is None:
            return [Send(inc.chat_id, text("button_dead", lang))]
        _, schedule_id, due = parsed
        now = self.clock()
        if kind == "Z":
            return [Send(inc.chat_id, self.scheduler.not_now(schedule_id, due, pid, now))]
        decision = self.scheduler.start(schedule_id, due, pid, now)
        if isinstance(decision, Refusal):
            return [Send(inc.chat_id, decision.text)]
        outs = self._open(inc, pid, lang, decision.flow_id, self.store.case(decision.case_id))
        current = self.store.current_session(pid, CHANNEL)
        if current is not None:
            self.scheduler.schedules.link_session(schedule_id, due, str(current["id"]), now)
        return outs

    def _cmd_compliance(self, inc: Incoming, pid: int, lang: str, arg: str) -> list[Out]:
        case = self._worker_case(pid, arg.split()[0], "compliance.view") if arg else None
        if case is None or self.scheduler is None:
            return [Send(inc.chat_id, text("no_case", lang, code=_truncate(arg, 20) or "?"))]
        rows = schedule_actions.compliance(self.store, pid, case.id, self.clock())
        if not rows:
            return [Send(inc.chat_id, text("no_schedules", lang, code=case.code))]
        lines = [text("compliance_head", lang, code=case.code)]
        for row in rows:
            rate = "—" if row.rate is None else f"{row.rate:.0%}"
            lines.append(
                text(
                    "compliance_row",
                    lang,
                    name=row.person_name,
                    flow=row.flow_id,
                    due=row.due,
                    completed=row.completed,
                    late=row.late,
                    missed=row.missed,
                    rate=rate,
                )
            )
        return [Send(inc.chat_id, _truncate("\n".join(lines), 4000))]

    def _cmd_schedule(self, inc: Incoming, pid: int, lang: str, arg: str) -> list[Out]:
        parts = arg.split()
        if len(parts) != 2:
            return [Send(inc.chat_id, text("usage_schedule", lang))]
        case = self._worker_case(pid, parts[0], "schedule.create")
        if case is None:
            return [Send(inc.chat_id, text("no_case", lang, code=_truncate(parts[0], 20)))]
        if case.status == "closed":
            # A closed case sends no check-ins (casework.schedules refuses them too).
            return [Send(inc.chat_id, text("already_closed", lang, code=case.code))]
        flow = parts[1]
        available = {p.stem for p in self.interviews.registry.available()}
        if not self.interviews.registry.known(flow) or len(flow) > 24:
            flows = ", ".join(sorted(available))
            return [Send(inc.chat_id, text("no_flow", lang, flow=_truncate(flow, 40), flows=flows))]
        return self._guide_schedule(inc, pid, lang, case.id, 0, flow)

    def _guide_schedule(
        self, inc: Incoming, pid: int, lang: str, case_id: int, step: int, arg: str
    ) -> list[Out]:
        """/schedule as a few taps; the choices so far travel in the button data. The data is
        a claim: each tap re-checks the policy, the flow and the member."""
        from flows.recurrence import Recurrence, RecurrenceError, default_tz, describe, next_due

        chat = inc.chat_id
        dead: list[Out] = [Send(chat, text("button_dead", lang))]
        try:
            case = case_actions.case_by_id(self.store, pid, case_id, "schedule.create")
        except NotFound:
            return dead
        chosen = arg.split(".")
        registry = self.interviews.registry
        if self.scheduler is None or not registry.known(chosen[0]) or len(chosen) != step + 1:
            return dead
        flow = chosen[0]
        if step >= 1:
            member = chosen[1]
            try:
                if not member.isdecimal():
                    raise Invalid(member)
                schedule_actions.check_flow_for_member(
                    self.store, registry, case.id, int(member), flow
                )
            except Invalid:
                return dead

        def ask(question: str, options: list[tuple[str, str]], width: int = 1) -> list[Out]:
            buttons = [
                Button(label, f"G:{case_id}:{step + 1}:{arg}.{value}") for label, value in options
            ]
            rows = tuple(tuple(buttons[i : i + width]) for i in range(0, len(buttons), width))
            return [Send(chat, question, rows)]

        if step == 0:
            members = []
            for m in self.store.members(case_id):
                try:
                    schedule_actions.check_flow_for_member(
                        self.store, registry, case.id, int(m["id"]), flow
                    )
                except Invalid:
                    continue
                members.append(m)
            if not members:
                return [Send(chat, text("schedule_no_member", lang, code=case.code))]
            return ask(text("schedule_who", lang), [(m["name"], str(m["id"])) for m in members])
        if step == 1:
            days = TEXTS["weekdays"][lang if lang in TEXTS["weekdays"] else "en"].split(",")
            options = [(text("daily", lang), "d")]
            options += [(text("weekly_on", lang, day=day), f"w{i}") for i, day in enumerate(days)]
            options += [(text("every_n", lang, n=3), "e3"), (text("once_tomorrow", lang), "o")]
            return ask(text("schedule_how_often", lang), options, width=2)
        often = chosen[2]
        gap = _cadence_hours(often)
        if gap is None:
            return dead
        if step == 2:
            times = ["08:00", "10:00", "12:00", "16:00", "18:00", "20:00"]
            return ask(text("schedule_when", lang), [(t, t.replace(":", "")) for t in times], 3)
        at = chosen[3]
        if not re.fullmatch(r"([01]\d|2[0-3])[0-5]\d", at):
            return dead
        fitting = [key for key, (hours, _) in SCHEDULE_PRESETS.items() if hours <= gap]
        if step == 3:
            presets = [(text(f"preset_{key}", lang), key) for key in fitting]
            return ask(text("schedule_window", lang), presets)
        preset = chosen[4]
        if step != 4 or preset not in fitting:
            return dead
        hours, reminders = SCHEDULE_PRESETS[preset]
        tz = default_tz()
        rule: dict[str, Any] = {
            "at": f"{at[:2]}:{at[2:]}",
            "tz": tz,
            "window": f"{hours}h",
            "reminders": reminders,
            "quiet_hours": {"start": "21:00", "end": "08:00"},
        }
        if often == "d":
            rule["kind"] = "daily"
        elif often.startswith("w"):
            rule |= {"kind": "weekly", "weekdays": [WEEKDAYS[int(often[1:])]]}
        elif often.startswith("e"):
            today = self.clock().astimezone(_zone(tz)).date()
            rule |= {"kind": "every_n_days", "every": int(often[1:]), "start": today.isoformat()}
        else:
            tomorrow = self.clock().astimezone(_zone(tz)).date() + timedelta(days=1)
            rule |= {"kind": "once", "on": tomorrow.isoformat()}
        try:
            recurrence = Recurrence.model_validate(rule)
            schedule = schedule_actions.create(
                self.store, registry, pid, case_id, int(chosen[1]), flow, recurrence, self.clock()
            )
        except (RecurrenceError, ValueError):
            # The buttons offer only what fits; a rule that still fails is told in words,
            # never as a validation dump.
            return [Send(chat, text("schedule_invalid", lang, code=case.code))]
        except CaseworkError:
            return dead
        first = next_due(schedule.rule, self.clock())
        when = first.astimezone(_zone(tz)).strftime("%Y-%m-%d %H:%M") if first else "—"
        return [
            Send(
                chat,
                text(
                    "schedule_saved", lang, what=describe(schedule.rule), first=when, id=schedule.id
                ),
            )
        ]

    # -- caregiver commands ---------------------------------------------------------------

    def _member_cases(self, pid: int, action: str) -> list[Case]:
        return case_actions.cases_where(self.store, pid, action)

    def _checkin(
        self, inc: Incoming, person: dict[str, Any], pid: int, lang: str, case_id: int | None
    ) -> list[Out]:
        cases = self._member_cases(pid, "checkin.answer")
        if case_id is not None:
            cases = [c for c in cases if c.id == case_id]
        if not cases:
            return [Send(inc.chat_id, text("no_cases", lang))]
        if len(cases) > 1:
            return [self._choose_case(inc.chat_id, lang, cases, "checkin")]
        case = cases[0]
        flow = str(case.facts.get("checkin_flow") or CHECKIN_FLOWS[0])
        return self._open(inc, pid, lang, flow, case)

    def _note(
        self, inc: Incoming, person: dict[str, Any], pid: int, lang: str, arg: str
    ) -> list[Out]:
        cases = self._member_cases(pid, "note.create")
        if arg:
            cases = [c for c in cases if c.code == arg.split()[0].upper()]
            if not cases:
                return [Send(inc.chat_id, text("no_case", lang, code=_truncate(arg, 20)))]
        if not cases:
            return [Send(inc.chat_id, text("no_cases", lang))]
        if len(cases) > 1:
            return [self._choose_case(inc.chat_id, lang, cases, "note")]
        return self._open(inc, pid, lang, "contact_note", cases[0])

    def _choose_case(self, chat: int, lang: str, cases: list[Case], action: str) -> Send:
        kind = "C" if action == "checkin" else "N"
        keyboard = tuple((Button(c.code, f"{kind}:0:0:{c.id}"),) for c in cases[:20])
        return Send(chat, text("choose_case", lang), keyboard)

    # -- interviews -------------------------------------------------------------------------

    def _open(self, inc: Incoming, pid: int, lang: str, flow: str, case: Case) -> list[Out]:
        outs: list[Out] = []
        current = self.store.current_session(pid, CHANNEL)
        if current and current["flow_id"] != flow:
            self.interviews.reply(str(current["id"]), pid, Reply(text="/pause"))
            outs.append(Send(inc.chat_id, text("paused_other", lang, flow=current["flow_id"])))
        try:
            opened = self.interviews.open(flow, case, pid, CHANNEL, lang=lang)
        except CaseIsClosed:
            return [*outs, Send(inc.chat_id, text("case_closed", lang, code=case.code))]
        except InterviewError:
            return [*outs, Send(inc.chat_id, text("not_allowed", lang))]
        except FileNotFoundError:
            flows = ", ".join(p.stem for p in self.interviews.registry.available())
            return [*outs, Send(inc.chat_id, text("no_flow", lang, flow=flow, flows=flows))]
        outs += [Send(inc.chat_id, warning) for warning in opened.warnings]
        number = self.store.session_number(opened.session.id)
        return outs + self._render(inc, opened.session, number, opened.turn, opened.engine, None)

    def _interview_command(
        self, inc: Incoming, pid: int, lang: str, name: str, arg: str
    ) -> list[Out]:
        row = self.store.current_session(pid, CHANNEL)
        if row is None and name == "resume":
            row = self.store.latest_paused(pid, (CHANNEL, *CARRIED_ON))
        if row is None:
            elsewhere = self.store.current_session(pid, CARRIED_ON)
            if elsewhere is None:
                return [self._nothing_open(inc.chat_id, pid, lang)]
            if name not in ("pause", "cancel"):
                # /back, /skip, /edit... mean the question this chat showed, which has passed.
                return self._take_over(inc, pid, lang, str(elsewhere["id"]))
            row = elsewhere
        command = f"/{name} {arg}".strip()
        return self._reply(inc, pid, str(row["id"]), Reply(text=command), None)

    def _answer(self, inc: Incoming, pid: int, lang: str, reply: Reply) -> list[Out]:
        row = self.store.current_session(pid, CHANNEL)
        if row is None:
            elsewhere = self.store.current_session(pid, CARRIED_ON)
            if elsewhere is not None:
                return self._take_over(inc, pid, lang, str(elsewhere["id"]))
            return [self._nothing_open(inc.chat_id, pid, lang)]
        return self._reply(inc, pid, str(row["id"]), reply, None)

    def _take_over(self, inc: Incoming, pid: int, lang: str, session_id: str) -> list[Out]:
        """A session carried on in the browser since this chat last showed it: the message
        was written for a question that has passed, so it answers nothing; show where the
        session is now, and take it back to this chat."""
        try:
            session, _case_id = self.interviews.session(session_id, pid)
        except InterviewError:
            return [self._nothing_open(inc.chat_id, pid, lang)]
        engine = self.interviews.engine_for(session)
        prompt = engine.prompt(session)
        self.store.set_last_channel(session_id, CHANNEL)
        outs: list[Out] = [Send(inc.chat_id, text("carried_on", lang))]
        if prompt is not None:
            number = self.store.session_number(session_id)
            outs.append(self._prompt_message(inc.chat_id, number, prompt, engine, session))
        return outs

    def _nothing_open(self, chat: int, pid: int, lang: str) -> Send:
        person = self.store.person(pid)
        hint = text("hint_worker" if self._is_worker(person) else "hint_caregiver", lang)
        return Send(chat, text("no_session", lang, hint=hint))

    def _reply(
        self, inc: Incoming, pid: int, session_id: str, reply: Reply, tapped: int | None
    ) -> list[Out]:
        try:
            turn = self.interviews.reply(session_id, pid, reply, CHANNEL)
        except InterviewError:
            return [Send(inc.chat_id, text("button_dead", self._lang(None, inc)))]
        session, case_id = self.interviews.session(session_id, pid)
        engine = self.interviews.engine_for(session)
        self._alert(session, case_id, turn)
        if turn.status == "completed" and self.scheduler is not None:
            self.scheduler.schedules.session_completed(session_id, self.clock())
        number = self.store.session_number(session_id)
        return self._render(inc, session, number, turn, engine, tapped)

    def _alert(self, session: Session, case_id: int, turn: Turn) -> None:
        """A turn's flags queued alerts for the case's workers in its transaction
        (``casework.flags.on_turn``); send them once this update is handled."""
        if turn.flags_raised or turn.flags_withdrawn:
            self._queued = True

    # -- buttons ----------------------------------------------------------------------------

    def _callback(self, inc: Incoming, person: dict[str, Any] | None, lang: str) -> list[Out]:
        parts = (inc.callback_data or "").split(":")
        if len(parts) != 4 or not all(p.lstrip("-").isdecimal() for p in parts[1:3]):
            return [Send(inc.chat_id, text("button_dead", lang)), *self._current(inc, person)]
        kind, number, index, arg = parts[0], int(parts[1]), int(parts[2]), parts[3]
        if kind == "L" and arg in ("en", "zh"):
            if person:
                self.store.set_language(int(person["id"]), arg)
            return [Send(inc.chat_id, text("language_set", arg))]
        if person is None:
            self.store.audit(None, "access.refused", "bot", inc.user_id)
            return [Send(inc.chat_id, text("not_registered", lang))]
        pid = int(person["id"])
        if kind in FLAG_CALLBACKS:
            return self.flags.callback(inc, person, lang, kind, number, index, arg)
        self.flags.clear_awaiting(person)  # another button: the note is no longer awaited
        if kind in ("I", "Z"):
            return self._checkin_button(inc, pid, lang, kind)
        if kind == "G":
            return self._guide_schedule(inc, pid, lang, number, index, arg)
        if kind in ("C", "N") and arg.isdecimal():
            if kind == "C":
                return self._checkin(inc, person, pid, lang, int(arg))
            case = next(
                (c for c in self._member_cases(pid, "note.create") if c.id == int(arg)), None
            )
            if case is None:
                return [Send(inc.chat_id, text("button_dead", lang))]
            return self._open(inc, pid, lang, "contact_note", case)
        session_id = self.store.session_by_number(number)
        if session_id is None:
            return [Send(inc.chat_id, text("button_dead", lang)), *self._current(inc, person)]
        if kind == "V":
            return self._replay_voice(inc, pid, lang, session_id, index)
        try:
            session, _case = self.interviews.session(session_id, pid)
        except InterviewError:
            return [Send(inc.chat_id, text("button_dead", lang)), *self._current(inc, person)]
        if session.state in ("completed", "cancelled"):
            return [Send(inc.chat_id, text("session_over", lang)), *self._current(inc, person)]
        engine = self.interviews.engine_for(session)
        token = REVIEW if index < 0 else _question_id(engine, index)
        if token is None:
            return [Send(inc.chat_id, text("button_dead", lang)), *self._current(inc, person)]
        if kind == "m" and token == session.state and arg.isdecimal():
            return self._toggle(inc, engine, session, int(arg))
        reply = _button_reply(kind, arg, token, engine, session, inc.checked)
        if reply is None:
            return [Send(inc.chat_id, text("button_dead", lang)), *self._current(inc, person)]
        return self._reply(inc, pid, session_id, reply, inc.message_id)

    def _current(self, inc: Incoming, person: dict[str, Any] | None) -> list[Out]:
        """The current question again, after a button that led nowhere."""
        if person is None:
            return []
        pid = int(person["id"])
        row = self.store.current_session(pid, CHANNEL)
        if row is None:
            return []
        session, _ = self.interviews.session(str(row["id"]), pid)
        engine = self.interviews.engine_for(session)
        prompt = engine.prompt(session)
        if prompt is None:
            return []
        number = self.store.session_number(session.id)
        return [self._prompt_message(inc.chat_id, number, prompt, engine, session)]

    def _toggle(self, inc: Incoming, engine: Engine, session: Session, option: int) -> list[Out]:
        prompt = engine.prompt(session)
        if prompt is None or inc.message_id is None or not 0 <= option < len(prompt.options):
            return []
        checked = prompt.toggled(set(inc.checked), option)
        number = self.store.session_number(session.id)
        keyboard = _keyboard(number, prompt, engine, session.lang, checked)
        message = _question_text(prompt, session.lang)
        return [Edit(inc.chat_id, inc.message_id, message, keyboard)]

    def _replay_voice(
        self, inc: Incoming, pid: int, lang: str, session_id: str, index: int
    ) -> list[Out]:
        """A voice answer replayed from a record's button: the data names a session and a
        question, and is re-checked against the policy for whoever pressed it."""
        engine = self.interviews.engine_for(self.store.load_session(session_id))
        question_id = _question_id(engine, index)
        try:
            if question_id is None:
                raise NotFound(str(index))
            file_id = record_actions.voice_note(self.store, pid, session_id, question_id)
        except CaseworkError:
            return [Send(inc.chat_id, text("button_dead", lang))]
        return [SendVoice(inc.chat_id, file_id)]

    # -- what a turn looks like on a phone ----------------------------------------------------

    def _render(
        self,
        inc: Incoming,
        session: Session,
        number: int,
        turn: Turn,
        engine: Engine,
        tapped: int | None,
    ) -> list[Out]:
        chat = inc.chat_id
        outs: list[Out] = []
        if tapped is not None and turn.accepted is not None and turn.error is None:
            question = _truncate(inc.message_text or "", 3800)
            outs.append(Edit(chat, tapped, f"{question}\n\n✓ {_truncate(turn.accepted, 200)}"))
        notes = [f"⚠️ {turn.error}"] if turn.error else []
        notes += turn.notices
        if notes:
            outs.append(Send(chat, _truncate("\n".join(notes), 4000)))
        if turn.prompt is not None:
            outs.append(self._prompt_message(chat, number, turn.prompt, engine, session))
        return outs

    def _prompt_message(
        self, chat: int, number: int, prompt: Prompt, engine: Engine, session: Session
    ) -> Send:
        keyboard = _keyboard(number, prompt, engine, session.lang, set())
        return Send(chat, _question_text(prompt, session.lang), keyboard or None)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Answer windows the guided /schedule offers: hours, and reminders after the invitation.
# Only those no longer than the gap between two check-ins are offered.
SCHEDULE_PRESETS = {
    "3": (12, ["4h"]),
    "1": (24, ["4h"]),
    "0": (48, ["4h", "24h"]),
    "2": (72, ["24h", "48h"]),
}


def _cadence_hours(often: str) -> int | None:
    """Hours between two check-ins of a guided /schedule choice; None for data we never
    put on a button."""
    if often == "d":
        return 24
    if often == "o":
        return 10_000
    if often == "e3":
        return 72
    if re.fullmatch(r"w[0-6]", often):
        return 168
    return None


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _question_id(engine: Engine, index: int) -> str | None:
    questions = engine.compiled.questions
    return questions[index].id if 0 <= index < len(questions) else None


def _button_reply(
    kind: str, arg: str, token: str, engine: Engine, session: Session, checked: tuple[int, ...]
) -> Reply | None:
    """The reply a button stands for; None for data no button of ours carries."""
    if kind == "o" and arg.isdecimal():
        question = engine.compiled.by_id.get(token)
        if question is None:
            return Reply(choice=arg, token=token)
        values = [value for value, _ in options(engine.item(session, question), "en")]
        index = int(arg)
        if index >= len(values):
            return None
        return Reply(choice=values[index], token=token)
    if kind == "d":
        question = engine.compiled.by_id.get(token)
        if question is None:
            return None
        values = [value for value, _ in options(engine.item(session, question), "en")]
        chosen = [values[i] for i in sorted(checked) if 0 <= i < len(values)]
        return Reply(choice=chosen, token=token) if chosen else Reply(text="", token=token)
    if kind == "t" and arg in QUICK_DATES:
        return Reply(choice=arg, token=token)
    if kind == "k":
        return Reply(text="", token=token)
    commands = {"b": "/back", "s": "/skip", "S": "/submit"}
    if kind in commands:
        return Reply(text=commands[kind], token=token)
    if kind == "e" and arg.isdecimal():
        return Reply(text=f"/edit {arg}", token=token)
    return None


def _question_text(prompt: Prompt, lang: str) -> str:
    if prompt.kind == "review":
        lines = [prompt.text, ""]
        for line in prompt.review:
            prefix = "   ↳ " if line.probe else f"{line.number}. "
            number = f"({line.number}) " if line.probe else ""
            lines.append(
                f"{prefix}{number}{_truncate(line.label, 120)}: {_truncate(line.answer, 300)}"
            )
        lines += ["", prompt.help or ""]
        return _truncate("\n".join(lines), 4000)
    parts = []
    if prompt.stage_intro:
        parts.append(prompt.stage_intro)
    head = (
        f"{prompt.position}/{prompt.total} · {prompt.stage_title}"
        if prompt.kind == "question"
        else ""
    )
    if head:
        parts.append(head)
    parts.append(prompt.text)
    if prompt.help:
        parts.append(f"({prompt.help})")
    if prompt.type == "scale" and prompt.style != "faces":
        anchors = [label for _, label in prompt.options if not label.isdecimal()]
        if anchors:
            parts.append(" · ".join(anchors))
    if prompt.last_time and not prompt.current:
        parts.append(prompt.last_time)
    return _truncate("\n\n".join(parts), 4000)


def _keyboard(
    number: int, prompt: Prompt, engine: Engine, lang: str, checked: set[int]
) -> Keyboard:
    rows: list[tuple[Button, ...]] = []
    if prompt.kind == "review":
        rows.append((Button(text("submit", lang), f"S:{number}:-1:0"),))
        edits = [
            Button(text("change", lang, n=line.number), f"e:{number}:-1:{line.number}")
            for line in prompt.review
        ]
        rows += [tuple(edits[i : i + 5]) for i in range(0, len(edits), 5)]
        return tuple(rows)
    question = engine.compiled.by_id[prompt.token]
    index = question.index

    def data(kind: str, arg: object = 0) -> str:
        return f"{kind}:{number}:{index}:{arg}"

    if prompt.kind == "note":
        return ((Button(text("continue", lang), data("k")),),)
    if prompt.current_value is not None:
        keep = text("keep", lang, value=prompt.current_value)
        rows.append((Button(_truncate(keep, 60), data("k")),))
    elif prompt.last_value is not None:
        same = text("same", lang, value=prompt.last_value)
        rows.append((Button(_truncate(same, 60), data("k")),))
    if prompt.type == "multi":
        for i, (_value, label) in enumerate(prompt.options):
            mark = "✓ " if i in checked else ""
            rows.append((Button(_truncate(mark + label, 60), data("m", i)),))
        rows.append((Button(text("done", lang), data("d")),))
    elif prompt.type == "scale":
        buttons = [
            Button(label.split(" ", 1)[0] if prompt.style == "faces" else value, data("o", i))
            for i, (value, label) in enumerate(prompt.options)
        ]
        rows += [tuple(buttons[i : i + 6]) for i in range(0, len(buttons), 6)]
    elif prompt.options:
        rows += [
            (Button(_truncate(label, 60), data("o", i)),)
            for i, (_v, label) in enumerate(prompt.options)
        ]
    elif prompt.quick_dates:
        rows.append(tuple(Button(label, data("t", day)) for day, label in prompt.quick_dates))
    nav = []
    if "back" in prompt.commands:
        nav.append(Button(text("back", lang), data("b")))
    if "skip" in prompt.commands:
        nav.append(Button(text("skip", lang), data("s")))
    if nav:
        rows.append(tuple(nav))
    return tuple(rows)


def _qr_png(link: str) -> bytes:
    """The link as a QR code (PNG)."""
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="png", scale=8, border=2)
    return buffer.getvalue()


def command_list(lang: str) -> list[tuple[str, str]]:
    """The bot's command menu (setMyCommands)."""
    names = {
        "checkin": {"en": "answer this week's questions", "zh": "回答本周的问题"},
        "note": {"en": "leave a note", "zh": "给社工留言"},
        "help": {"en": "what I can do", "zh": "帮助"},
        "language": {"en": "change language", "zh": "更换语言"},
    }
    out = [(name, texts.get(lang, texts["en"])) for name, texts in names.items()]
    out += [
        (c, COMMAND_HELP[c].get(lang, COMMAND_HELP[c]["en"]))
        for c in ("back", "skip", "pause", "resume", "cancel", "review")
    ]
    return out


__all__ = [
    "AnswerCallback",
    "Button",
    "Edit",
    "Handled",
    "Incoming",
    "Out",
    "Send",
    "SendDocument",
    "SendPhoto",
    "SendVoice",
    "TelegramService",
    "command_list",
]
