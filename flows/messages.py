"""What the engine says to a respondent, in each language it speaks.

Short sentences, plain words: many respondents are grandparents reading on a phone.
A test checks that every message exists in every language with the same placeholders.
"""

from __future__ import annotations

LANGUAGES = ("en", "zh")

MESSAGES: dict[str, dict[str, str]] = {
    "instrument_age": {
        "en": "{instrument} is made for ages {ages}, and the client of this case is {age}. "
        "Use a scale made for their age, or note in the record why you use this one.",
        "zh": "{instrument}适用于 {ages} 岁的人，本个案的服务对象 {age} 岁。"
        "请换用适合其年龄的量表，或在记录中说明使用理由。",
    },
    "required": {
        "en": "Please answer this question.",
        "zh": "请回答这个问题。",
    },
    "cannot_skip": {
        "en": "This question needs an answer, so it can't be skipped.",
        "zh": "这个问题需要回答，不能跳过。",
    },
    "not_a_number": {
        "en": "Please type a number, for example 3.",
        "zh": "请输入一个数字，例如 3。",
    },
    "one_number": {
        "en": "Please give one number, for example 3.",
        "zh": "请只写一个数，例如 3。",
    },
    "wrong_unit": {
        "en": "This question counts in {unit}. Please give the number of {unit}, for example 3.",
        "zh": "这里按“{unit}”算，请写几{unit}，例如 3。",
    },
    "not_whole": {
        "en": "Please type a whole number, for example 3.",
        "zh": "请输入一个整数，例如 3。",
    },
    "below_min": {
        "en": "Please give a number of at least {min}.",
        "zh": "请输入不小于 {min} 的数字。",
    },
    "above_max": {
        "en": "Please give a number no bigger than {max}.",
        "zh": "请输入不大于 {max} 的数字。",
    },
    "choose_one": {
        "en": "Please choose one of the options: tap a button or type its number.",
        "zh": "请选择一个选项：点按钮，或输入它的编号。",
    },
    "choose_many": {
        "en": "Please choose from the options: type their numbers, like 1,3.",
        "zh": "可以选几个：输入选项的编号，中间用空格或顿号隔开，比如 1、3。",
    },
    "too_few": {
        "en": "Please choose at least {min}.",
        "zh": "请至少选择 {min} 项。",
    },
    "too_many": {
        "en": "Please choose no more than {max}.",
        "zh": "最多只能选择 {max} 项。",
    },
    "exclusive": {
        "en": "“{option}” can't go together with other answers. Choose “{option}” on its own,"
        " or the others without it.",
        "zh": "“{option}”不能和别的选项一起选。请只选“{option}”，或者只选别的选项。",
    },
    "scale": {
        "en": "Please choose a point from {min} to {max}.",
        "zh": "请选择 {min} 到 {max} 之间的一个分数。",
    },
    "yes_or_no": {
        "en": "Please answer yes or no.",
        "zh": "请回答“是”或“否”。",
    },
    "yes_or_no_labels": {
        "en": "Please answer “{yes}” or “{no}” (yes or no).",
        "zh": "请回答“{yes}”或“{no}”。",
    },
    "dont_know_optional": {
        "en": "That's all right. If you are not sure, send “skip” to leave this question out.",
        "zh": "没关系。如果说不准，可以发“跳过”先不答这一题。",
    },
    "dont_know_required": {
        "en": "This question needs an answer. Please answer as best you can.",
        "zh": "这个问题需要回答，按大概的情况回答就可以。",
    },
    "bad_date": {
        "en": "Please give a date like 2026-03-14 or 14 March, or a word like today or yesterday.",
        "zh": "请输入日期，例如 2026-03-14、3月14日，或者“今天”“昨天”。",
    },
    "bad_deadline": {
        "en": "Please give a date like 2026-12-05 or 5 Dec, or a word like tomorrow or"
        " next Monday.",
        "zh": "请输入日期，例如 2026-12-05、12月5日，或者“明天”“下周一”。",
    },
    "future_date": {
        "en": "That date is in the future. Please give a date up to today.",
        "zh": "这个日期还没到。请输入今天或之前的日期。",
    },
    "past_date": {
        "en": "That date has already passed. Please give today or a later date.",
        "zh": "这个日期已经过去了。请输入今天或以后的日期。",
    },
    "date_before": {
        "en": "Please give a date on or after {min}.",
        "zh": "请输入 {min} 或之后的日期。",
    },
    "date_after": {
        "en": "Please give a date on or before {max}.",
        "zh": "请输入 {max} 或之前的日期。",
    },
    "too_long": {
        "en": "That answer is {length} characters long; please keep it under {max}.",
        "zh": "这个回答有 {length} 个字，请控制在 {max} 字以内。",
    },
    "too_short": {
        "en": "Please write at least {min} characters.",
        "zh": "请至少写 {min} 个字。",
    },
    "bad_format": {
        "en": "That doesn't look right for this question. Please check and try again.",
        "zh": "这个回答的格式不对，请核对一下再试。",
    },
    "text_expected": {
        "en": "Please type your answer (or send a voice message where that is offered).",
        "zh": "请打字回答。有的问题也可以直接发语音。",
    },
    "voice_not_here": {
        "en": "A voice message can't answer this question. Please use the buttons or type.",
        "zh": "这道题不能用语音回答，请点按钮或打字。",
    },
    "unknown_command": {
        "en": "'/{command}' is not a command here. You can use: {commands}",
        "zh": "这里没有“/{command}”这个命令。可以用：{commands}",
    },
    "not_now": {
        "en": "/{command} can't be used at this point.",
        "zh": "现在不能使用 /{command}。",
    },
    "not_now_word": {
        "en": "“{word}” can't be used at this point.",
        "zh": "现在不能用“{word}”。",
    },
    "at_start": {
        "en": "This is the first question; there is nothing before it.",
        "zh": "这已经是第一题了，前面没有题了。",
    },
    "not_ready_for_review": {
        "en": "Some questions still need an answer before the review.",
        "zh": "还有问题没回答，答完才能核对。",
    },
    "stale": {
        "en": "That button belongs to a question that has passed. Here is the current one.",
        "zh": "那个按钮是前面题目的，请回答现在这道题。",
    },
    "review_hint": {
        "en": "Send “submit” (/submit) to finish, or “edit N” (/edit N) to change answer N.",
        "zh": "发送“提交”（/submit）完成，或发送“修改 编号”（/edit 编号）修改某个回答。",
    },
    "no_such_answer": {
        "en": "There is no answer number {number}. Choose a number from the list.",
        "zh": "没有第 {number} 个回答。请从列表中选择编号。",
    },
    "paused": {
        "en": "Paused. Your answers are saved. Send “resume” (/resume) to carry on.",
        "zh": "已暂停，您的回答都保存好了。想接着填的时候，发送“继续”（/resume）。",
    },
    "cancelled": {
        "en": "Cancelled. No more questions. The answers given so far are kept.",
        "zh": "好的，这次先不填了。已经填好的内容会保留。",
    },
    "completed": {
        "en": "Thank you, all done. Your answers are saved.",
        "zh": "谢谢您！都填好了，回答已经保存。",
    },
    "already_finished": {
        "en": "This interview is already finished.",
        "zh": "这次的填写已经结束。",
    },
    "recap": {
        "en": "Welcome back. You were at question {position} of {total}: {label}",
        "zh": "欢迎回来。您上次答到第 {position} 题（共 {total} 题）：{label}",
    },
    "recap_review": {
        "en": "Welcome back. All questions are answered; please check and submit.",
        "zh": "欢迎回来。问题都答完了，请核对一下再提交。",
    },
    "last_time": {
        "en": "Last time you said: {value}",
        "zh": "上次您的回答是：{value}",
    },
    "current_answer": {
        "en": "Your answer now: {value}",
        "zh": "您现在的回答：{value}",
    },
    "review_title": {
        "en": "Please check your answers:",
        "zh": "请核对一下您的回答：",
    },
    "skipped": {
        "en": "(skipped)",
        "zh": "（已跳过）",
    },
    "yes": {"en": "Yes", "zh": "是"},
    "no": {"en": "No", "zh": "否"},
    "voice_note": {
        "en": "voice message ({seconds} s)",
        "zh": "语音（{seconds} 秒）",
    },
    "continue": {"en": "Continue", "zh": "继续"},
    "today": {"en": "Today", "zh": "今天"},
    "yesterday": {"en": "Yesterday", "zh": "昨天"},
    "tomorrow": {"en": "Tomorrow", "zh": "明天"},
    # What `help` (or 帮助, ?) says: the forms this question takes, then the command words.
    "help_text": {
        "en": "Type your answer in your own words.",
        "zh": "用自己的话写下回答就可以。",
    },
    "help_choice": {
        "en": "Tap a button, or type the number or the words of an option.",
        "zh": "点按钮，或者输入选项的编号或文字。",
    },
    "help_multi": {
        "en": "Choose all that apply: type their numbers or words, like 1,3 or 1 3.",
        "zh": "符合的都可以选：输入编号或文字，例如 1,3 或 1 3。",
    },
    "help_exclusive": {
        "en": "“{option}” is chosen on its own.",
        "zh": "“{option}”只能单独选。",
    },
    "help_scale": {
        "en": "Choose a point from {min} to {max}: tap it, or type the number.",
        "zh": "选一个 {min} 到 {max} 之间的分数：点一下，或者输入数字。",
    },
    "help_number": {
        "en": "Type a number, like 3 (0 or “none” if none).",
        "zh": "输入数字就行，例如 3、三、两天；没有就写 0 或“没有”。",
    },
    "help_yesno": {
        "en": "Answer yes or no (y or n will do).",
        "zh": "回答“是”或“不是”；“有/没有”“对/不对”“要/不要”“会/不会”“嗯”也可以。",
    },
    "help_yesno_labels": {
        "en": "Answer “{yes}” or “{no}”; yes or no will do too.",
        "zh": "回答“{yes}”或“{no}”；说“是/不是”“有/没有”也可以。",
    },
    "help_date_past": {
        "en": "Type a date: today, yesterday, the day before yesterday, 3 days ago, Monday (the"
        " last one), last Monday, 14 March or March 14, 2026-03-14.",
        "zh": "输入日期：今天、昨天、前天、三天前、周一（最近过去的那个）、上周一、3月14日、"
        "14号、2026年3月14日、2026-03-14。",
    },
    "help_date_future": {
        "en": "Type a date: today, tomorrow, the day after tomorrow, in 3 days, Monday (the"
        " coming one), next Monday, 5 Dec or Dec 5, 2026-12-05.",
        "zh": "输入日期：今天、明天、后天、三天后、周一（接下来的那个）、下周一、12月5日、"
        "5号、2026年12月5日、2026-12-05。",
    },
    "help_words": {
        "en": "You can also send these words on their own: {words}. To answer with one of them,"
        " write a few more words.",
        "zh": "也可以单独发这些词：{words}。如果回答正好是其中一个词，请多写几个字。",
    },
}

COMMAND_WORD_SHOWN: dict[str, dict[str, str]] = {
    "back": {"en": "back", "zh": "返回"},
    "skip": {"en": "skip", "zh": "跳过"},
    "pause": {"en": "pause", "zh": "暂停"},
    "resume": {"en": "resume", "zh": "继续"},
    "cancel": {"en": "cancel", "zh": "取消"},
    "review": {"en": "review", "zh": "核对"},
    "submit": {"en": "submit", "zh": "提交"},
    "edit": {"en": "edit N", "zh": "修改 编号"},
    "help": {"en": "help", "zh": "帮助"},
}
"""The word that stands for each command in help texts; flows.spoken knows the others."""

COMMAND_HELP: dict[str, dict[str, str]] = {
    "back": {"en": "previous question", "zh": "上一题"},
    "skip": {"en": "skip this question", "zh": "跳过这道题"},
    "pause": {"en": "stop for now, carry on later", "zh": "先暂停，等会儿再接着填"},
    "resume": {"en": "carry on", "zh": "继续"},
    "cancel": {"en": "stop this interview", "zh": "这次先不填"},
    "review": {"en": "check all answers", "zh": "核对全部回答"},
    "submit": {"en": "finish and save", "zh": "提交"},
    "edit": {"en": "change answer N", "zh": "修改第 N 个回答"},
}


def say(key: str, lang: str, **params: object) -> str:
    """The message ``key`` in ``lang`` (English when the language is unknown)."""
    texts = MESSAGES[key]
    return (texts.get(lang) or texts["en"]).format(**params)
