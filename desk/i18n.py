"""The desk's own words in English and in a mainland caseworker's Chinese.

Records keep their words in ``templates/i18n.py`` (the desk shows those as they are); these
are the desk's pages, buttons and messages. A test checks that every label has every
language with the same placeholders.
"""

from __future__ import annotations

LANGUAGES = ("en", "zh")

LABELS: dict[str, dict[str, str]] = {
    "app": {"en": "caseflow desk", "zh": "caseflow 社工工作台"},
    "caseload": {"en": "Caseload", "zh": "个案列表"},
    "inbox": {"en": "Inbox", "zh": "待办事项"},
    "sign_out": {"en": "Sign out", "zh": "退出登录"},
    "switch_lang": {"en": "中文", "zh": "English"},
    "signed_in_as": {"en": "Signed in as {name}", "zh": "当前登录：{name}"},
    "skip_to_content": {"en": "Skip to content", "zh": "跳到正文"},
    # signing in and out
    "signin_title": {"en": "Sign in to the desk", "zh": "登录社工工作台"},
    "signin_intro": {
        "en": "This link signs you in once. It works for 15 minutes from when it was made.",
        "zh": "此链接只能登录一次，生成后 15 分钟内有效。",
    },
    "signin_button": {"en": "Sign in", "zh": "登录"},
    "signin_needed": {"en": "Please sign in", "zh": "请先登录"},
    "signin_how": {
        "en": "Send /desk to the caseflow bot on Telegram for a sign-in link, or ask your "
        "administrator to run: caseflow desk link YOUR_TELEGRAM_ID",
        "zh": "在 Telegram 上给 caseflow 机器人发送 /desk 获取登录链接，"
        "或请管理员运行：caseflow desk link 您的Telegram账号ID",
    },
    "signin_refused": {"en": "This sign-in link does not work", "zh": "这个登录链接无法使用"},
    "signin_refused_why": {
        "en": "It has been used already, it is more than 15 minutes old, or it was copied "
        "incompletely. Ask for a new one.",
        "zh": "链接可能已经用过、生成已超过 15 分钟，或者复制得不完整。请重新获取一个。",
    },
    "signed_out": {"en": "You have signed out", "zh": "您已退出登录"},
    "signed_out_idle": {
        "en": "You were signed out after {minutes} minutes without activity.",
        "zh": "由于 {minutes} 分钟没有操作，系统已自动退出登录。",
    },
    "form_expired": {"en": "This form has expired", "zh": "表单已失效"},
    "form_expired_why": {
        "en": "Go back, reload the page and send the form again.",
        "zh": "请返回上一页，刷新后重新提交。",
    },
    "not_found": {"en": "Nothing here", "zh": "找不到这个页面"},
    "not_found_why": {
        "en": "There is no such page, or it belongs to a case you are not on.",
        "zh": "页面不存在，或属于您没有参与的个案。",
    },
    "back_to_caseload": {"en": "Back to the caseload", "zh": "返回个案列表"},
    "busy": {"en": "The database is busy", "zh": "系统繁忙"},
    "busy_why": {
        "en": "Nothing was changed. Please try again in a moment.",
        "zh": "本次操作没有保存，请稍后再试。",
    },
    # caseload
    "search": {"en": "Search", "zh": "搜索"},
    "search_label": {"en": "Case code or name", "zh": "个案编号或姓名"},
    "clear_search": {"en": "Show all", "zh": "显示全部"},
    "my_cases": {"en": "My cases", "zh": "我负责的个案"},
    "team_of": {"en": "Cases of {name}", "zh": "{name}负责的个案"},
    "team_cases": {"en": "My team's cases", "zh": "团队成员的个案"},
    "no_cases": {"en": "No cases yet.", "zh": "暂无个案。"},
    "no_match": {"en": "No case matches “{query}”.", "zh": "没有与“{query}”相符的个案。"},
    "col_code": {"en": "Case", "zh": "个案编号"},
    "col_members": {"en": "Members", "zh": "成员"},
    "col_last_contact": {"en": "Last contact", "zh": "最近联系"},
    "col_next_due": {"en": "Next check-in due", "zh": "下次小调查"},
    "col_compliance": {"en": "Check-ins done", "zh": "小调查完成率"},
    "col_flags": {"en": "Open flags", "zh": "未处理警示"},
    "col_followups": {"en": "Overdue follow-ups", "zh": "逾期跟进"},
    "sort_by": {"en": "Sort by {column}", "zh": "按{column}排序"},
    "never": {"en": "never", "zh": "无"},
    "none_scheduled": {"en": "none scheduled", "zh": "未安排"},
    "closed": {"en": "closed", "zh": "已结案"},
    "cases_count": {"en": "{count} cases", "zh": "共 {count} 个个案"},
    # opening a case
    "new_case": {"en": "Open a new case", "zh": "新建个案"},
    "new_case_code": {"en": "Case code", "zh": "个案编号"},
    "new_case_code_help": {
        "en": "Letters, digits and dashes, up to 20 (e.g. C-0012). Leave empty for the next "
        "free number.",
        "zh": "字母、数字和短横线，最多 20 个字符（如 C-0012）。留空则自动编号。",
    },
    "new_case_title": {"en": "Title (optional)", "zh": "个案名称（选填）"},
    "new_case_client": {
        "en": "Client's name or alias (optional)",
        "zh": "服务对象姓名或化名（选填）",
    },
    "new_case_age": {"en": "Age or year of birth (optional)", "zh": "年龄或出生年份（选填）"},
    "new_case_age_help": {
        "en": "An age (8) or a year of birth (2017), in digits.",
        "zh": "填年龄（如 8）或出生年份（如 2017）都可以，请用数字。",
    },
    "new_case_group": {"en": "Group", "zh": "服务对象类别"},
    "group_none": {"en": "not decided yet", "zh": "暂不选择"},
    "new_case_caregiver": {"en": "Main caregiver (optional)", "zh": "主要照顾者（选填）"},
    "new_case_caregiver_help": {
        "en": "Who looks after the client day to day, e.g. “grandmother, Li Guilan”.",
        "zh": "日常照顾服务对象的人，如“奶奶李桂兰”。",
    },
    "new_case_flow": {"en": "Weekly check-in", "zh": "每周小调查"},
    "new_case_flow_none": {"en": "decide later", "zh": "以后再定"},
    "new_case_button": {"en": "Open the case", "zh": "创建个案"},
    "case_code_bad": {
        "en": "A case code is 1–20 letters, digits or dashes, starting with a letter or digit.",
        "zh": "个案编号须为 1–20 个字母、数字或短横线，并以字母或数字开头。",
    },
    "case_exists": {"en": "There is already a case {code}.", "zh": "个案 {code} 已经存在。"},
    "age_bad": {
        "en": "Write the age (e.g. 8) or the year of birth (e.g. 2017) in digits.",
        "zh": "请用数字填写年龄（如 8）或出生年份（如 2017）。",
    },
    "group_bad": {"en": "Choose a group from the list.", "zh": "请从列表中选择服务对象类别。"},
    "checkin_flow_note": {
        "en": "Check-in flow: {flow}. Add a caregiver or client, then a schedule below.",
        "zh": "小调查表单：{flow}。请先邀请照顾者或服务对象，再在下方安排定期填写。",
    },
    # case page
    "profile": {"en": "Profile", "zh": "基本信息"},
    "profile_age": {"en": "Age", "zh": "年龄"},
    "edit_profile": {"en": "Change the profile", "zh": "修改基本信息"},
    "profile_worker_help": {
        "en": "One of the workers on the case.",
        "zh": "从本个案的社工中选择。",
    },
    "worker_unset": {"en": "not chosen", "zh": "未指定"},
    "save_profile": {"en": "Save the profile", "zh": "保存基本信息"},
    "worker_not_on_case": {
        "en": "The responsible worker must be one of the workers on this case.",
        "zh": "负责社工必须是本个案的社工。",
    },
    "no_consent_short": {"en": "No consent recorded", "zh": "未记录知情同意"},
    "record_consent": {
        "en": "Record consent given on paper or spoken",
        "zh": "登记书面或口头知情同意",
    },
    "record_consent_help": {
        "en": "When the client or a caregiver agreed outside the consent interview: who "
        "agreed, as whom, how, and on which day.",
        "zh": "服务对象或照顾者没有经过知情同意访谈，而是当面口头同意或在纸质同意书上签字的，"
        "在这里登记同意人、身份、方式和日期。",
    },
    "consent_by": {"en": "Who agreed", "zh": "同意人"},
    "consent_role": {"en": "As", "zh": "身份"},
    "consent_method": {"en": "How", "zh": "同意方式"},
    "consent_on": {"en": "On", "zh": "同意日期"},
    "consent_button": {"en": "Record the consent", "zh": "登记知情同意"},
    "consent_by_needed": {"en": "Say who agreed.", "zh": "请填写同意人。"},
    "consent_date_bad": {
        "en": "Write the date like 2026-03-02.",
        "zh": "请按 2026-03-02 的格式填写日期。",
    },
    "consent_date_future": {
        "en": "The day of consent cannot be after today.",
        "zh": "同意日期不能晚于今天。",
    },
    "consent_interview": {"en": "The consent interview", "zh": "知情同意访谈"},
    "consent_interview_help": {
        "en": "Go through it with the client or caregiver: the purpose, what is recorded, who "
        "sees it, how long it is kept, and that they may stop at any time. Its answers "
        "become the case's consent record.",
        "zh": "和服务对象或照顾者一起逐项完成：服务目的、记录内容、谁能看到、保存期限，"
        "以及可以随时退出。访谈结果即作为本个案的知情同意记录。",
    },
    "start_flow": {"en": "Start “{title}”", "zh": "开始填写“{title}”"},
    # plan and goals
    "plan_title": {"en": "Plan and goals", "zh": "服务计划与目标"},
    "add_goal": {"en": "Add a goal", "zh": "新增服务目标"},
    "goal_title": {"en": "Goal", "zh": "目标内容"},
    "goal_area_help": {
        "en": "What it serves: an RSCA dimension, a Walsh domain, a psychosocial level…",
        "zh": "对应的维度或领域，如抗逆力的某个维度、Walsh 家庭抗逆力的某个领域、"
        "生理心理社会的某个层面等。",
    },
    "goal_add_button": {"en": "Add the goal", "zh": "添加目标"},
    "goal_status_button": {"en": "Change", "zh": "更新"},
    "goal_title_needed": {"en": "A goal needs a title.", "zh": "请填写目标内容。"},
    "plan_closed": {
        "en": "The case is closed: reopen it to change its plan.",
        "zh": "个案已结案，需要先重新开案才能修改服务计划。",
    },
    "plan_read_only": {
        "en": "The case is closed: its plan is shown as it was.",
        "zh": "个案已结案，服务计划仅供查看。",
    },
    "no_stages": {
        "en": "No session record has said its intervention stage yet.",
        "zh": "暂无注明介入阶段的会谈记录。",
    },
    # closing and reopening
    "close_title": {"en": "Close the case", "zh": "办理结案"},
    "details_below": {"en": "Details below ↓", "zh": "详见下方 ↓"},
    "no_closing_report": {
        "en": "There is no closing report since the case was opened: write one first.",
        "zh": "本个案开案以来还没有结案报告，请先填写结案报告。",
    },
    "closing_report_ready": {
        "en": "The closing report is written.",
        "zh": "结案报告已经完成。",
    },
    "open_closing_report": {"en": "Open the closing report", "zh": "查看结案报告"},
    "close_help": {
        "en": "Closing pauses the case's scheduled check-ins. A closed case can be reopened, "
        "with the reason.",
        "zh": "结案后，本个案的定期小调查会全部暂停。如有需要，可以写明原因后重新开案。",
    },
    "close_button": {"en": "Close the case", "zh": "确认结案"},
    "already_closed": {"en": "The case is closed already.", "zh": "个案已经结案。"},
    "case_is_closed": {"en": "This case is closed.", "zh": "本个案已结案。"},
    "closed_events": {"en": "Closing and reopening", "zh": "结案与重新开案记录"},
    "paused_by_closing": {
        "en": "Closing paused these scheduled check-ins:",
        "zh": "结案时暂停了以下定期小调查：",
    },
    "reopen_title": {
        "en": "Reopen the case (say why)",
        "zh": "重新开案（请写明原因）",
    },
    "reopen_reason": {"en": "Reason", "zh": "原因"},
    "reopen_button": {"en": "Reopen the case", "zh": "重新开案"},
    "reopen_reason_needed": {
        "en": "Say why the case is reopened.",
        "zh": "请写明重新开案的原因。",
    },
    "not_closed": {"en": "The case is open.", "zh": "个案尚未结案。"},
    "followup_title": {"en": "Follow-up after closing", "zh": "结案后跟进"},
    "followup_help": {
        "en": "A closed case takes only a follow-up visit.",
        "zh": "已结案的个案只能填写跟进回访记录。",
    },
    "fact": {"en": "Fact", "zh": "项目"},
    "value": {"en": "Value", "zh": "内容"},
    "no_facts": {"en": "No profile details yet.", "zh": "暂无基本信息。"},
    "case_status": {"en": "Case status", "zh": "个案状态"},
    "status_open": {"en": "open", "zh": "服务中"},
    "status_closed": {"en": "closed", "zh": "已结案"},
    "timeline_intro": {
        "en": "By the date each session was held, newest first.",
        "zh": "按填写日期排列，最新的在前。",
    },
    "open_record": {"en": "Open record", "zh": "查看记录"},
    "at_stage": {"en": "at “{stage}”", "zh": "进行到“{stage}”"},
    "no_trends": {"en": "No completed check-in yet.", "zh": "尚无已完成的小调查。"},
    "schedules": {"en": "Scheduled check-ins", "zh": "定期小调查安排"},
    "no_schedules": {"en": "Nothing is scheduled.", "zh": "尚未安排定期小调查。"},
    "schedule_state_active": {"en": "active", "zh": "进行中"},
    "schedule_state_paused": {"en": "paused", "zh": "已暂停"},
    "schedule_next": {"en": "next: {when}", "zh": "下次：{when}"},
    "pause": {"en": "Pause", "zh": "暂停"},
    "resume": {"en": "Resume", "zh": "恢复"},
    "remove": {"en": "Remove", "zh": "删除"},
    "add_schedule": {"en": "Add a schedule", "zh": "新增定期安排"},
    "sched_member": {"en": "Who answers", "zh": "由谁填写"},
    "sched_flow": {"en": "Flow", "zh": "表单"},
    "sched_how": {"en": "How often", "zh": "频率"},
    "sched_daily": {"en": "daily", "zh": "每天"},
    "sched_weekly": {"en": "weekly on", "zh": "每周"},
    "sched_every": {"en": "every N days", "zh": "每隔 N 天"},
    "sched_once": {"en": "once, on", "zh": "仅一次，日期"},
    "sched_days": {"en": "Weekdays (mon,thu)", "zh": "星期（如 mon,thu）"},
    "sched_every_n": {"en": "N", "zh": "N"},
    "sched_date": {"en": "Date (2026-03-16)", "zh": "日期（如 2026-03-16）"},
    "sched_at": {"en": "At (HH:MM)", "zh": "时间（如 18:00）"},
    "sched_window": {"en": "Window (48h)", "zh": "填写时限（如 48h）"},
    "sched_remind": {"en": "Reminders (4h,24h)", "zh": "提醒（如 4h,24h）"},
    "sched_quiet": {"en": "Quiet hours (21:00-08:00)", "zh": "免打扰时段（如 21:00-08:00）"},
    "sched_add_button": {"en": "Add the schedule", "zh": "添加安排"},
    "sched_no_members": {
        "en": "Invite a caregiver or client first: schedules are for members who answer.",
        "zh": "请先邀请照顾者或服务对象：定期小调查只能安排给填写的成员。",
    },
    "invite": {"en": "Invite a caregiver or client", "zh": "邀请照顾者或服务对象"},
    "invite_role": {"en": "As", "zh": "身份"},
    "invite_button": {"en": "Make an invitation link", "zh": "生成邀请链接"},
    "invite_made": {
        "en": "Send this link to the {role} (WeChat, SMS or in person). It works once, until "
        "{expires}.",
        "zh": "请把这个链接发给{role}（微信、短信或当面扫码均可）。"
        "仅可使用一次，{expires} 前有效。",
    },
    "invite_qr": {"en": "Or let them scan this code:", "zh": "也可以让对方扫描二维码："},
    "invite_no_bot": {
        "en": "The bot's username is not known to the desk, so it cannot make Telegram links. "
        "Set CASEFLOW_BOT_USERNAME, or run `caseflow run` with TELEGRAM_BOT_TOKEN.",
        "zh": "工作台不知道机器人的用户名，无法生成 Telegram 链接。"
        "请设置 CASEFLOW_BOT_USERNAME，或在设置 TELEGRAM_BOT_TOKEN 后运行 caseflow run。",
    },
    "run_interview": {"en": "Run an interview", "zh": "开始填写"},
    "run_interview_help": {
        "en": "In the browser, one question at a time; a long answer is easy to type here.",
        "zh": "在电脑上逐题填写，较长的回答也方便输入。",
    },
    "weblinks": {"en": "Web links", "zh": "网页链接"},
    "weblinks_help": {
        "en": "For a caregiver or client without Telegram: a personal link to their check-ins, "
        "to send by WeChat or SMS or print as a QR code.",
        "zh": "给不用 Telegram 的照顾者或服务对象：一个专属链接，可以通过微信、短信发送，"
        "或打印成二维码，对方点开就能填写小调查。",
    },
    "weblink_none": {"en": "no link", "zh": "尚无链接"},
    "weblink_since": {"en": "link given {when}", "zh": "{when} 发出链接"},
    "weblink_give": {"en": "Give a web link", "zh": "生成网页链接"},
    "weblink_replace": {"en": "New link", "zh": "重新生成"},
    "weblink_revoke": {"en": "Revoke", "zh": "停用"},
    "weblink_made": {"en": "A web link for {name}", "zh": "{name}的网页链接"},
    "weblink_once": {
        "en": "Send it now: it is shown only this once (it is not kept). Anyone with the link "
        "sees this person's check-ins, so send it to them alone; a new link stops this one.",
        "zh": "请现在就发出：链接只显示这一次（系统不保存）。拿到链接的人都能看到此人的小调查，"
        "所以只发给本人；重新生成后，这个链接即失效。",
    },
    "weblink_replaced": {
        "en": "The old link no longer works.",
        "zh": "旧链接已失效。",
    },
    "weblink_text": {"en": "A message to forward:", "zh": "可以直接转发的消息："},
    "weblink_lang": {
        "en": "The message is in the member's language ({member_lang}).",
        "zh": "消息使用对方的语言（{member_lang}）。",
    },
    "weblink_forward": {
        "en": "Hello {name}, this is your link for the weekly questions from your social "
        "worker. Open it on your phone whenever it suits you: {url}",
        "zh": "{name}您好，这是社工给您的每周小调查链接，方便的时候用手机打开就能填写：{url}",
    },
    "ok_link_revoked": {"en": "The link no longer works.", "zh": "链接已停用。"},
    "export": {"en": "Export", "zh": "导出"},
    "export_summary": {"en": "Case summary (HTML, prints well)", "zh": "个案概览（HTML，可打印）"},
    "export_tables": {
        "en": "Answers and scores (CSV for Excel, SPSS or R)",
        "zh": "回答与得分数据表（CSV，可用 Excel、SPSS 或 R 打开）",
    },
    "actions": {"en": "Actions", "zh": "操作"},
    "no_rights": {
        "en": "Only the case's worker can change this.",
        "zh": "只有本个案的社工可以修改。",
    },
    # record page
    "record": {"en": "Record", "zh": "记录"},
    "back_to_case": {"en": "Back to case {code}", "zh": "返回个案 {code}"},
    "sign_off_title": {"en": "Sign off this record", "zh": "审核签字"},
    "sign_off_intro": {
        "en": "Signing off locks the record: afterwards an answer can only change with a stated "
        "reason, and the record shows the change.",
        "zh": "签字确认后记录即锁定：之后修改任何回答都必须说明原因，记录中会显示修改痕迹。",
    },
    "sign_comment_label": {
        "en": "Supervisor's comment (optional)",
        "zh": "督导意见（选填）",
    },
    "sign_button": {"en": "Sign off", "zh": "签字确认"},
    "not_completed": {
        "en": "This session is not completed, so it cannot be signed off or amended yet.",
        "zh": "该次填写尚未完成，暂时不能签字确认或修改。",
    },
    "amend_title": {"en": "Amend an answer", "zh": "修改回答"},
    "amend_question": {"en": "Question", "zh": "问题"},
    "amend_value": {"en": "New answer", "zh": "新的回答"},
    "amend_value_help": {
        "en": "As the question takes it: an option's number or label, a number, a date.",
        "zh": "按问题的格式填写：选项序号或选项文字、数字或日期。",
    },
    "amend_reason": {"en": "Reason", "zh": "修改原因"},
    "amend_reason_help": {
        "en": "Required once the record is signed off.",
        "zh": "记录签字确认后必须填写。",
    },
    "amend_button": {"en": "Save the change", "zh": "保存修改"},
    "history": {"en": "History of changes", "zh": "修改历史"},
    "history_intro": {
        "en": "Every revision of every answer, in the order written.",
        "zh": "每个回答的每一次改动，按时间先后排列。",
    },
    "no_history": {"en": "No answer has been changed.", "zh": "没有回答被修改过。"},
    "revision": {"en": "Revision", "zh": "版本"},
    # inbox
    "inbox_flags": {"en": "Flags to acknowledge", "zh": "待确认的警示"},
    "inbox_followups": {"en": "Follow-ups due or overdue", "zh": "到期或逾期的跟进事项"},
    "inbox_none_flags": {"en": "No open flags on your cases.", "zh": "您的个案暂无未处理的警示。"},
    "inbox_none_followups": {
        "en": "No follow-up is due on your cases.",
        "zh": "您的个案暂无到期的跟进事项。",
    },
    "ack_note": {"en": "What was done", "zh": "处理情况"},
    "ack_note_needed": {
        "en": "Say what was done about the flag.",
        "zh": "请填写对这条警示的处理情况。",
    },
    "escalated": {"en": "told the supervisor", "zh": "已上报督导"},
    "owner": {"en": "Owner", "zh": "负责人"},
    "ack_button": {"en": "Acknowledge", "zh": "确认已处理"},
    "done_button": {"en": "Mark done", "zh": "标记为已完成"},
    "overdue": {"en": "overdue", "zh": "已逾期"},
    "due_on": {"en": "due {day}", "zh": "{day}到期"},
    "yes": {"en": "yes", "zh": "是"},
    "no": {"en": "no", "zh": "否"},
    # after a form was saved
    "ok_case_opened": {"en": "The case is open.", "zh": "个案已创建。"},
    "ok_profile_saved": {"en": "The profile is saved.", "zh": "基本信息已保存。"},
    "ok_consent_recorded": {"en": "The consent is recorded.", "zh": "知情同意已登记。"},
    "ok_goal_added": {"en": "The goal is added to the plan.", "zh": "服务目标已添加。"},
    "ok_goal_status_changed": {"en": "The goal's status is changed.", "zh": "目标状态已更新。"},
    "ok_case_closed": {
        "en": "The case is closed. Its scheduled check-ins are paused (listed below).",
        "zh": "个案已结案，定期小调查已全部暂停（见下方）。",
    },
    "ok_case_closed_none": {
        "en": "The case is closed. It had no scheduled check-ins to pause.",
        "zh": "个案已结案。本个案没有需要暂停的定期小调查。",
    },
    "ok_case_reopened": {"en": "The case is open again.", "zh": "个案已重新开案。"},
    "ok_case_reopened_paused": {
        "en": "The case is open again. The check-ins closing paused stay paused: resume "
        "those still wanted below.",
        "zh": "个案已重新开案。结案时暂停的定期小调查仍处于暂停状态，如需继续，请在下方恢复。",
    },
    "ok_schedule_added": {"en": "The schedule is added.", "zh": "定期安排已添加。"},
    "ok_schedule_changed": {"en": "The schedule is changed.", "zh": "定期安排已更新。"},
    "ok_signed": {"en": "The record is signed off.", "zh": "记录已签字确认。"},
    "ok_amended": {
        "en": "The answer is changed; the record shows the change.",
        "zh": "回答已修改，记录中会显示修改痕迹。",
    },
    "ok_acked": {"en": "The flag is acknowledged.", "zh": "警示已确认处理。"},
    "ok_acked_before": {
        "en": "Someone had acknowledged that flag already; theirs stands.",
        "zh": "这条警示已有人确认处理，以对方的记录为准。",
    },
    "ok_done": {"en": "The follow-up is done.", "zh": "跟进事项已完成。"},
    "ok_done_before": {
        "en": "That follow-up had been closed already.",
        "zh": "这项跟进事项此前已经完成。",
    },
    # errors shown by a form
    "problem": {"en": "Not saved: {message}", "zh": "未保存：{message}"},
}


def label(key: str, lang: str, **params: object) -> str:
    texts = LABELS[key]
    text = texts.get(lang) or texts["en"]
    return text.format(**params) if params else text


def labels(lang: str) -> dict[str, str]:
    return {key: texts.get(lang) or texts["en"] for key, texts in LABELS.items()}


__all__ = ["LABELS", "LANGUAGES", "label", "labels"]
