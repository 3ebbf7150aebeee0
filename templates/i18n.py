"""The words of a record (headings, field names, phases, readings) in each language, and
dates written the way a reader of that language writes them.

Flow texts (stage titles, question labels) come from the flow version a session used, and
answers are shown as the respondent saw them; only the record's own words live here. A test
checks that every label exists in every language with the same placeholders.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LANGUAGES = ("en", "zh")

LABELS: dict[str, dict[str, str]] = {
    # titles
    "session_record": {"en": "Session record", "zh": "填写记录"},
    "case_summary": {"en": "Case summary", "zh": "个案概览"},
    "prepost_report": {"en": "Pre/post evaluation", "zh": "前后测评估报告"},
    "contact_log": {"en": "Informal-contact log", "zh": "非正式接触记录"},
    # record header
    "case": {"en": "Case", "zh": "个案"},
    "respondent": {"en": "Respondent", "zh": "填写人"},
    "workers": {"en": "Worker", "zh": "社工"},
    "flow": {"en": "Interview", "zh": "表单"},
    "flow_version": {"en": "{flow} (version {version})", "zh": "{flow}（第 {version} 版）"},
    "channel": {"en": "Channel", "zh": "填写途径"},
    "phase": {"en": "Phase", "zh": "测评时点"},
    "language": {"en": "Language", "zh": "语言"},
    "started": {"en": "Started", "zh": "开始时间"},
    "ended": {"en": "Ended", "zh": "结束时间"},
    "not_ended": {"en": "not finished", "zh": "未完成"},
    "status": {"en": "Status", "zh": "状态"},
    "session": {"en": "Session", "zh": "记录编号"},
    "sign_off": {"en": "Sign-off", "zh": "签字确认"},
    "signed_by": {"en": "Signed off by {name}, {at}", "zh": "{name} 于 {at} 签字确认"},
    "not_signed": {"en": "Not signed off", "zh": "督导尚未审核"},
    "sign_comment": {"en": "Supervisor's comment", "zh": "督导意见"},
    "nobody": {"en": "none", "zh": "无"},
    "colon": {"en": ": ", "zh": "："},
    "list_sep": {"en": ", ", "zh": "、"},
    "comma": {"en": ", ", "zh": "，"},
    "semicolon": {"en": "; ", "zh": "；"},
    "full_stop": {"en": ". ", "zh": "。"},
    "space": {"en": " ", "zh": ""},
    "paren": {"en": "({text})", "zh": "（{text}）"},
    "bands_line": {"en": "Bands ({higher}): {bands}.", "zh": "结果等级（{higher}）：{bands}。"},
    # flags
    "flags": {"en": "Flags — read these first", "zh": "警示——请先阅读"},
    "flag_in": {"en": "{instrument}, {date}", "zh": "{instrument}，{date}"},
    "answer_was": {"en": "Answer: {answer}", "zh": "回答：{answer}"},
    "severity_urgent": {"en": "URGENT", "zh": "紧急"},
    "severity_warning": {"en": "WARNING", "zh": "注意"},
    "severity_attention": {"en": "ATTENTION", "zh": "关注"},
    "severity_info": {"en": "Note", "zh": "提示"},
    "flag_acknowledged": {
        "en": "Acknowledged by {name}, {at}: {note}",
        "zh": "{name} 已于 {at} 确认处理：{note}",
    },
    "flag_open": {"en": "Not acknowledged yet", "zh": "尚未确认处理"},
    "flag_withdrawn": {
        "en": "Withdrawn {at}: the answer was changed",
        "zh": "已于 {at} 撤销：回答已修改",
    },
    "flag_escalated": {"en": "Escalated to the supervisor {at}", "zh": "已于 {at} 上报督导"},
    # answers
    "no_answers": {"en": "No answers recorded.", "zh": "暂无回答记录。"},
    "revised": {"en": "revised", "zh": "已修改"},
    "revision_n": {"en": "revision {n}", "zh": "第 {n} 次修改"},
    "amended_by": {"en": "changed by {name}", "zh": "由 {name} 修改"},
    "voice_kept": {"en": "voice file {file_id}", "zh": "语音文件 {file_id}"},
    "other_answers": {"en": "Other answers", "zh": "其他回答"},
    # scores
    "scores": {"en": "Scores", "zh": "量表得分"},
    "instrument": {"en": "Scale", "zh": "量表"},
    "score": {"en": "Score", "zh": "得分"},
    "band": {"en": "Band", "zh": "结果等级"},
    "range": {"en": "{low}–{high}", "zh": "{low}–{high}"},
    "higher_better": {"en": "higher is better", "zh": "分数越高越好"},
    "higher_worse": {"en": "higher is worse", "zh": "分数越高越差"},
    "not_scored": {
        "en": "not scored: {missing} of {items} items unanswered",
        "zh": "未计分：{items} 题中有 {missing} 题未作答",
    },
    "prorated": {
        "en": "prorated from {answered} of {items} items",
        "zh": "按已答 {answered}/{items} 题折算",
    },
    "other_scores": {"en": "Subscales and other scores", "zh": "分量表及其他得分"},
    "rescored": {"en": "rescored after a change", "zh": "修改后重新计分"},
    # changes
    "changes": {"en": "Changes after the interview", "zh": "填写结束后的修改"},
    "changes_intro": {
        "en": "Every answer changed after the interview ended: who changed it, when and why.",
        "zh": "填写结束后改过的每一个回答：谁改的、什么时候改的、为什么改。",
    },
    "when": {"en": "When", "zh": "时间"},
    "question": {"en": "Question", "zh": "问题"},
    "before": {"en": "Was", "zh": "原回答"},
    "after": {"en": "Now", "zh": "修改后"},
    "by": {"en": "By", "zh": "修改人"},
    "reason": {"en": "Reason", "zh": "原因"},
    "no_reason": {"en": "(no reason given)", "zh": "（未说明原因）"},
    "after_signoff": {"en": "after sign-off", "zh": "签字确认后"},
    # case summary
    "as_of": {"en": "As of {at}", "zh": "截至 {at}"},
    "members": {"en": "Who is on the case", "zh": "个案成员"},
    "role": {"en": "Role", "zh": "角色"},
    "since": {"en": "Since", "zh": "加入时间"},
    "name": {"en": "Name", "zh": "姓名"},
    "latest_scores": {"en": "Latest scores", "zh": "最近一次量表得分"},
    "compliance": {
        "en": "Scheduled check-ins, last 8 weeks",
        "zh": "定期小调查填写情况（最近 8 周）",
    },
    "member": {"en": "Member", "zh": "成员"},
    "checkin_flow": {"en": "Check-in", "zh": "小调查"},
    "due": {"en": "Due", "zh": "应填"},
    "completed_n": {"en": "Completed", "zh": "已填"},
    "late": {"en": "Late", "zh": "逾期"},
    "missed": {"en": "Missed", "zh": "未填"},
    "rate": {"en": "Rate", "zh": "完成率"},
    "no_scores": {"en": "No scale has been scored yet.", "zh": "尚无量表得分。"},
    "date": {"en": "Date", "zh": "日期"},
    "scores_over_time": {"en": "Scores over time", "zh": "得分变化"},
    "chart_of": {"en": "{instrument} over time", "zh": "{instrument}得分变化"},
    "chart_note": {
        "en": "The shading shows the scale's bands ({higher}); each dot is one completed "
        "administration.",
        "zh": "底色表示量表的结果等级（{higher}）；每个点代表一次完成的测评。",
    },
    "chart_note_plain": {
        "en": "Each dot is one completed administration ({higher}).",
        "zh": "每个点代表一次完成的测评（{higher}）。",
    },
    "timeline": {"en": "Timeline", "zh": "服务时间线"},
    "what": {"en": "What", "zh": "内容"},
    "who": {"en": "Who", "zh": "填写人"},
    "no_sessions": {"en": "No sessions yet.", "zh": "尚无填写记录。"},
    "contact_note": {"en": "Informal contact", "zh": "非正式接触"},
    "sessions_count": {
        "en": "Sessions: {sessions} · informal contacts: {notes}",
        "zh": "填写记录 {sessions} 份 · 非正式接触 {notes} 次",
    },
    "member_since": {"en": "since {day}", "zh": "{day}加入"},
    "signed_mark": {"en": "signed off", "zh": "已签字确认"},
    # pre/post
    "prepost_intro": {
        "en": "For each scale: the first and the last completed administration side by side, "
        "the change, and the reliable change index (Jacobson and Truax) where the scale's file "
        "gives a reliability and a norm SD.",
        "zh": "每个量表：第一次与最后一次完成的测评并列比较，列出变化量；"
        "量表文件提供信度和常模标准差时，另给出可靠改变指数（Jacobson–Truax）。",
    },
    "pre": {"en": "Pre", "zh": "前测"},
    "post": {"en": "Post", "zh": "后测"},
    "change": {"en": "Change", "zh": "变化"},
    "change_note": {"en": "({higher}; range {range})", "zh": "（{higher}；范围 {range}）"},
    "rci": {"en": "Reliable change index", "zh": "可靠改变指数（RCI）"},
    "rci_value": {
        "en": "{rci} (|RCI| > {threshold} is reliable; r = {r}, SD = {sd}; "
        "a change of at least {min_change} points is reliable)",
        "zh": "{rci}（|RCI| > {threshold} 为可靠改变；r = {r}，SD = {sd}；"
        "变化至少 {min_change} 分才算可靠）",
    },
    "rci_source": {"en": "Source: {source}", "zh": "来源：{source}"},
    "reading": {"en": "Reading", "zh": "解读"},
    "reading_improved": {"en": "Reliable improvement", "zh": "可靠改善"},
    "reading_deteriorated": {"en": "Reliable deterioration", "zh": "可靠恶化"},
    "reading_no_reliable_change": {"en": "No reliable change", "zh": "无可靠改变"},
    "reading_rci_unavailable": {
        "en": "Reliable change index not available: the scale's file gives no reliability "
        "and norm SD",
        "zh": "无法计算可靠改变指数：量表文件未提供信度和常模标准差",
    },
    "reading_single": {
        "en": "Only one administration so far: change needs two",
        "zh": "目前只有一次测评，比较变化需要至少两次",
    },
    "administrations": {"en": "Administrations", "zh": "各次测评"},
    "no_prepost": {
        "en": "No scale has a completed administration on this case yet.",
        "zh": "本个案尚无已完成的量表测评。",
    },
    "total": {"en": "Total", "zh": "总分"},
    # contact log
    "no_notes": {"en": "No informal-contact notes yet.", "zh": "尚无非正式接触记录。"},
    "recorded": {"en": "Recorded {at} by {name}", "zh": "{name} 于 {at} 记录"},
    # footer
    "footer": {
        "en": "Rendered from the stored record by caseflow. Times are in {tz}.",
        "zh": "由 caseflow 根据存档记录生成。时间按 {tz} 显示。",
    },
    # phases (free text is shown as given)
    "phase_baseline": {"en": "baseline", "zh": "基线"},
    "phase_pre": {"en": "pre-test", "zh": "前测"},
    "phase_mid": {"en": "mid-test", "zh": "中测"},
    "phase_post": {"en": "post-test", "zh": "后测"},
    "phase_follow-up": {"en": "follow-up", "zh": "跟进回访"},
    "phase_ongoing": {"en": "ongoing", "zh": "日常"},
    # statuses
    "status_completed": {"en": "completed", "zh": "已完成"},
    "status_cancelled": {"en": "cancelled", "zh": "已取消"},
    "status_active": {"en": "in progress", "zh": "进行中"},
    "status_paused": {"en": "paused", "zh": "已暂停"},
    # channels
    "channel_terminal": {"en": "terminal", "zh": "电脑录入"},
    "channel_telegram": {"en": "Telegram", "zh": "Telegram"},
    "channel_web": {"en": "web page", "zh": "网页"},
    # roles
    "role_worker": {"en": "worker", "zh": "社工"},
    "role_supervisor": {"en": "supervisor", "zh": "督导"},
    "role_caregiver": {"en": "caregiver", "zh": "照顾者"},
    "role_client": {"en": "client", "zh": "服务对象"},
    "role_admin": {"en": "administrator", "zh": "管理员"},
    # languages
    "lang_en": {"en": "English", "zh": "英文"},
    "lang_zh": {"en": "Chinese", "zh": "中文"},
    # the case file: profile
    "profile": {"en": "Profile", "zh": "基本资料"},
    "no_profile": {"en": "not filled in yet", "zh": "尚未填写"},
    "client": {"en": "Client", "zh": "服务对象"},
    "born_age": {"en": "born {year}, about {age}", "zh": "{year} 年出生，约 {age} 岁"},
    "age_years": {"en": "about {age}", "zh": "约 {age} 岁"},
    "group": {"en": "Group", "zh": "服务对象类别"},
    "main_caregiver": {"en": "Main caregiver", "zh": "主要照顾者"},
    "case_worker": {"en": "Responsible worker", "zh": "负责社工"},
    "case_state": {"en": "Case status", "zh": "个案状态"},
    "group_left_behind_child": {"en": "left-behind child", "zh": "留守儿童"},
    "group_low_income_child": {
        "en": "child in a low-income family",
        "zh": "困难（低收入）家庭儿童",
    },
    "group_child_in_difficulty": {"en": "child in family difficulty", "zh": "家庭困境儿童"},
    "group_elder_alone": {"en": "older person living alone", "zh": "独居老人"},
    "group_family": {"en": "family", "zh": "家庭"},
    "group_other": {"en": "other", "zh": "其他"},
    "case_status_open": {"en": "open", "zh": "服务中"},
    "case_status_closed": {"en": "closed", "zh": "已结案"},
    # consent
    "consent": {"en": "Consent", "zh": "知情同意"},
    "no_consent": {"en": "no consent recorded", "zh": "尚未记录知情同意"},
    "no_consent_warning": {
        "en": "No consent is recorded for this case: record it with the consent interview "
        "before going on.",
        "zh": "本个案尚未记录知情同意，请先完成知情同意访谈再继续服务。",
    },
    "consent_withdrawn_warning": {
        "en": "Consent was declined or withdrawn on {day}.",
        "zh": "{day} 对方表示不同意或撤回了同意。",
    },
    "consent_given": {
        "en": "given by {by} ({role}), {method}, {day}",
        "zh": "{by}（{role}）于 {day} {method}",
    },
    "consent_declined": {
        "en": "declined by {by} ({role}), {method}, {day}",
        "zh": "{by}（{role}）于 {day} 表示不同意（{method}）",
    },
    "consent_explained": {"en": "Explained: {points}", "zh": "已说明：{points}"},
    "consent_role_client": {"en": "the client", "zh": "服务对象本人"},
    "consent_role_caregiver": {"en": "caregiver", "zh": "照顾者"},
    "consent_role_guardian": {"en": "guardian", "zh": "监护人"},
    "consent_role_family_member": {"en": "family member", "zh": "家庭成员"},
    "consent_method_spoken": {"en": "spoken", "zh": "口头同意"},
    "consent_method_paper": {"en": "signed on paper", "zh": "书面签字同意"},
    "consent_method_chat": {"en": "in the chat", "zh": "在聊天中确认同意"},
    "explained_purpose": {"en": "purpose", "zh": "服务目的"},
    "explained_recorded": {"en": "what is recorded", "zh": "记录内容"},
    "explained_who_sees": {"en": "who sees it", "zh": "谁能看到"},
    "explained_kept": {"en": "how long it is kept", "zh": "保存期限"},
    "explained_stop_any_time": {"en": "may stop at any time", "zh": "可随时退出"},
    # plan and goals
    "plan_goals": {"en": "Intervention plan", "zh": "服务计划"},
    "no_goals": {"en": "No goals set yet.", "zh": "尚未制定服务目标。"},
    "goal": {"en": "Goal", "zh": "目标"},
    "goal_area": {"en": "Serves", "zh": "对应维度"},
    "goal_activities": {"en": "Activities", "zh": "计划活动"},
    "goal_target": {"en": "Target", "zh": "预期成效"},
    "progress": {"en": "Progress", "zh": "进展"},
    "progress_over_time": {
        "en": "Progress ratings by the day each session was held (1 = none yet, 5 = reached).",
        "zh": "按会谈日期列出的进展评分（1 = 还没有进展，5 = 已经达成）。",
    },
    "not_rated": {"en": "not rated yet", "zh": "尚无评分"},
    "worked_on_in": {"en": "worked on in {n} session(s)", "zh": "涉及 {n} 次会谈"},
    "goal_status_active": {"en": "in progress", "zh": "进行中"},
    "goal_status_met": {"en": "met", "zh": "已达成"},
    "goal_status_partly_met": {"en": "partly met", "zh": "部分达成"},
    "goal_status_not_met": {"en": "not met", "zh": "未达成"},
    "goal_status_dropped": {"en": "dropped", "zh": "已取消"},
    # stages as a sequence
    "stages_held": {"en": "Stages as held", "zh": "介入阶段进程"},
    "stages_note": {
        "en": "Session records in the order held, by intervention stage.",
        "zh": "按会谈日期排列的各次会谈及其所处的介入阶段。",
    },
    "stage": {"en": "Intervention stage", "zh": "介入阶段"},
    "held_on": {"en": "Held on", "zh": "会谈日期"},
    "session_no": {"en": "Session {n}", "zh": "第 {n} 次"},
    "sessions_n": {"en": "{n} session(s)", "zh": "{n} 次会谈"},
    "stage_direct": {"en": "direct intervention", "zh": "直接介入"},
    "stage_indirect": {"en": "indirect intervention", "zh": "间接介入"},
    "stage_consolidation": {"en": "consolidation", "zh": "巩固"},
    "stage_closing": {"en": "closing", "zh": "结案"},
    "stage_follow_up": {"en": "follow-up", "zh": "跟进"},
    # trends
    "trends": {"en": "Check-in answers over time", "zh": "定期问答的变化趋势"},
    "trend_note": {
        "en": "Each dot is one completed check-in; the scale is the question's own.",
        "zh": "每个点代表一次完成的问答；纵轴为该题的选项或数值。",
    },
    "trend_of": {"en": "{question} ({flow})", "zh": "{question}（{flow}）"},
    "trend_scale": {"en": "Scale: {points}", "zh": "纵轴：{points}"},
    # ratings that are not published instruments
    "ratings_kind": {"en": "ratings, not a published scale", "zh": "评分，非标准化量表"},
    "ratings_note": {
        "en": "A rating agreed in the interview, not a published scale: no norms, no cut-offs.",
        "zh": "访谈中商定的评分，并非标准化量表：没有常模，也没有划界分。",
    },
    "reading_ratings": {
        "en": "Ratings, not a published scale: no reliable change index; read the change "
        "with the notes",
        "zh": "此为评分而非标准化量表，不计算可靠改变指数；请结合记录解读变化",
    },
    # closing
    "closing": {"en": "Closing", "zh": "结案"},
    "closing_report": {"en": "Closing report", "zh": "结案报告"},
    "closed_on": {"en": "Closed {at} by {name}", "zh": "{name} 于 {at} 结案"},
    "reopened_on": {
        "en": "Reopened {at} by {name}: {reason}",
        "zh": "{name} 于 {at} 重新开案：{reason}",
    },
    "case_event_closed": {"en": "closed", "zh": "结案"},
    "case_event_reopened": {"en": "reopened", "zh": "重新开案"},
    "after_closing": {"en": "After closing", "zh": "结案后"},
}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def label(key: str, lang: str, **params: object) -> str:
    """The record's word ``key`` in ``lang`` (English when the language is unknown)."""
    texts = LABELS[key]
    text = texts[lang] if lang in texts else texts["en"]  # "" is a real text (zh "space")
    return text.format(**params) if params else text


def labels(lang: str) -> dict[str, str]:
    """Every label in ``lang``, for templates (``{{ t.case }}``)."""
    return {key: texts[lang] if lang in texts else texts["en"] for key, texts in LABELS.items()}


def coded(prefix: str, code: str | None, lang: str) -> str:
    """The label of a stored code (``phase``, ``status``...), or the code itself."""
    if not code:
        return ""
    key = f"{prefix}_{code}"
    return label(key, lang) if key in LABELS else code


def zone(name: str | None) -> tzinfo:
    """A time zone by IANA name; UTC when none is given or the name is unknown."""
    if not name or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def zone_name(tz: tzinfo) -> str:
    return "UTC" if tz is UTC else str(tz)


def parse_moment(iso: str | None) -> datetime | None:
    """A stored ISO timestamp (UTC when it carries no offset), or None."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_date(day: date, lang: str) -> str:
    if lang.startswith("zh"):
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def format_moment(iso: str | None, lang: str, tz: tzinfo = UTC) -> str:
    """A stored timestamp as the reader writes it: ``14 Mar 2026, 09:30`` /
    ``2026年3月14日 09:30``, in ``tz``."""
    moment = parse_moment(iso)
    if moment is None:
        return iso or ""
    local = moment.astimezone(tz)
    sep = " " if lang.startswith("zh") else ", "
    return f"{format_date(local.date(), lang)}{sep}{local:%H:%M}"


def format_day(iso: str | None, lang: str, tz: tzinfo = UTC) -> str:
    """The date part only, of a timestamp or of a ``YYYY-MM-DD`` answer."""
    if not iso:
        return ""
    if len(iso) == 10:
        try:
            return format_date(date.fromisoformat(iso), lang)
        except ValueError:
            return iso
    moment = parse_moment(iso)
    return format_date(moment.astimezone(tz).date(), lang) if moment else iso


def format_number(value: float | int | None) -> str:
    """A score as people write it: ``12``, ``2.5``, ``—`` when there is none."""
    if value is None:
        return "—"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def format_signed(value: float | None) -> str:
    """A change with its sign: ``+3``, ``−2.5`` (a true minus sign), ``0``."""
    if value is None:
        return "—"
    text = format_number(abs(value))
    if value > 0:
        return f"+{text}"
    if value < 0:
        return f"−{text}"
    return text
