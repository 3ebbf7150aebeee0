"""Numbers, dates, yes and no, and commands as people write them, in Chinese and English.

A grandparent answering on a phone writes "两天", "三次", "没有", "嗯", "下周一", "12月5号" or
"返回"; the Chinese keyboard gives full-width digits ("３"). These are pure functions from
such text to values; ``flows.answers`` uses them to read answers and ``flows.engine`` to
recognise a command sent as a word. Nothing here knows about items or sessions.

Numbers are the small ones a respondent gives (a count of days, an age): digits with an
optional sign and decimal part, or Chinese numerals up to the 亿 (the spoken shortenings
"一百五" = 150 and "三万五" = 35000 included), with "半" for a half and a unit or counter
after them. Two digits side by side ("五六次") mean "five or six" in speech, so they are
refused rather than read as 56.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

__all__ = [
    "COMMAND_WORDS",
    "DONT_KNOW",
    "NO_WORDS",
    "UNIT_KINDS",
    "YES_WORDS",
    "Direction",
    "NumberReading",
    "chinese_integer",
    "command_word",
    "is_dont_know",
    "normalise",
    "read_date",
    "read_integer",
    "read_number",
    "read_yes_no",
    "same_words",
    "unit_kind",
]

# Full-width forms that a Chinese keyboard types: digits, sign, point, slash, colon, space.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９＋－．／：　", "0123456789+-./: ")
_END_PUNCTUATION = "。.!！~～…,，;；、 "


def normalise(text: str) -> str:
    """Full-width digits and signs as ASCII, case folded, trimmed, final full stops gone."""
    return text.translate(_FULL_WIDTH).strip().casefold().rstrip(_END_PUNCTUATION).strip()


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


# ----------------------------------------------------------------------------- numbers

_DIGITS = {
    "零": 0,
    "〇": 0,
    "○": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
_NUMERAL_CHARS = "".join(_DIGITS) + "".join(_SMALL_UNITS) + "".join(_BIG_UNITS)


def chinese_integer(text: str) -> int | None:
    """A whole number written in Chinese numerals (十二, 两百零五, 一百五, 三万五), or None.

    Digits side by side without a unit between them ("五六", "二零") are refused: in speech
    that is a range ("five or six"), and a year is read by ``read_date`` instead."""
    if not text or any(ch not in _NUMERAL_CHARS for ch in text):
        return None
    if all(_DIGITS.get(ch) == 0 for ch in text):
        return 0 if len(text) == 1 else None
    total = section = 0
    digit: int | None = None
    last_unit: int | None = None  # the last of 十/百/千 in this section: they must descend
    last_big: int | None = None
    zero = False  # a 零 since the last unit: "一百零五" is 105, not 150
    for ch in text:
        if ch in _DIGITS:
            value = _DIGITS[ch]
            if digit is not None:
                return None
            if value == 0:
                if last_unit is None and last_big is None:
                    return None  # a leading 零
                zero = True
            else:
                digit = value
        elif ch in _SMALL_UNITS:
            unit = _SMALL_UNITS[ch]
            if last_unit is not None and unit >= last_unit:
                return None
            if digit is None:
                if unit != 10 or section or zero:
                    return None
                digit = 1  # "十二": a ten on its own is one ten
            section += digit * unit
            digit, last_unit, zero = None, unit, False
        else:
            big = _BIG_UNITS[ch]
            if last_big is not None and big >= last_big:
                return None
            section += digit or 0
            if not section:
                return None
            total += section * big
            section, digit, last_unit, last_big, zero = 0, None, None, big, False
    if digit is not None:
        if not zero and last_unit is not None and last_unit >= 100:
            section += digit * (last_unit // 10)  # "一百五" is 150, "两千三" is 2300
        elif not zero and last_unit is None and last_big is not None and not section:
            section += digit * (last_big // 10)  # "三万五" is 35000
        else:
            section += digit
    elif zero:
        return None  # a trailing 零 ("一百零")
    return total + section


# Units of the same kind, so that "2天" answers a question counted in days (unit: 天 / days)
# and "2小时" is refused there. Counters (个, 次, times) count anything.
UNIT_KINDS: dict[str, tuple[str, ...]] = {
    "day": ("天", "日", "days", "day"),
    "week": ("个星期", "星期", "个礼拜", "礼拜", "周", "weeks", "week"),
    "month": ("个月", "月", "months", "month"),
    "year": ("周岁", "岁", "年", "yearsold", "years", "year", "yrs"),
    "hour": ("个小时", "小时", "个钟头", "钟头", "hours", "hour", "hrs"),
    "minute": ("分钟", "minutes", "minute", "mins", "min"),
    "times": ("次", "回", "遍", "趟", "下", "times", "time", "x", "×"),
    "people": ("个人", "人", "位", "口", "people", "persons", "person"),
    "count": ("个", "件", "份", "本", "张", "顿", "块", "元", "items", "item"),
}
COUNTERS = frozenset({"times", "people", "count"})
_KIND_OF = {word: kind for kind, words in UNIT_KINDS.items() for word in words}
_ZERO_WORDS = frozenset({"没有", "没", "无", "都没有", "一个也没有", "none", "never", "zero"})
_NONE_OF = re.compile(r"一(?:个|次|天|回|趟|遍|下|个人)?[也都]没有?")
_APPROXIMATELY = re.compile(
    r"^(?:大概|大约|差不多|约|about|around|approximately|roughly)|(?:左右|上下)$"
)
_RANGE = re.compile(rf"[\d.{_NUMERAL_CHARS}]+(?:[-~～到至]|或者?|or)[\d.{_NUMERAL_CHARS}]+\D*")
_NUMBER = re.compile(
    rf"(?P<num>[+-]?\d+(?:[.,，]\d+)?|[{_NUMERAL_CHARS}]+)?(?P<ge>个)?(?P<half>半)?"
    r"(?P<unit>\D*?)(?P<half2>半)?"
)


@dataclass(frozen=True, slots=True)
class NumberReading:
    """What a typed number says: a value, or why it is not one.

    ``problem`` is ``"not_a_number"``, ``"one_number"`` (a range such as "五六次" or "3-4"),
    or ``"wrong_unit"`` (a unit of another kind than the question's: "3小时" for days)."""

    value: float | None = None
    problem: Literal["not_a_number", "one_number", "wrong_unit"] | None = None


def unit_kind(unit: str) -> str:
    """The kind of a unit word ("天" and "days" are both "day"); an unknown unit is its own."""
    word = _squeeze(normalise(unit))
    return _KIND_OF.get(word) or word


def read_number(text: str, units: Iterable[str] = ()) -> NumberReading:
    """A number as typed: "3", "３", "-1", "3.5", "三", "十二", "两天", "3 次", "两个半小时",
    "半天", "三天左右", "没有" (0).

    ``units`` are the question's own unit words (its ``unit`` in each language). A typed
    unit of another kind is refused; a counter (个, 次, times) fits any question."""
    word = _squeeze(normalise(text))
    word = _APPROXIMATELY.sub("", word)
    if word in _ZERO_WORDS or _NONE_OF.fullmatch(word):
        return NumberReading(0.0)
    if word in ("半", "一半", "half"):
        return NumberReading(0.5)
    if _RANGE.fullmatch(word):
        return NumberReading(problem="one_number")  # "3-4天", "三到四次"
    match = _NUMBER.fullmatch(word)
    if match is None or not word:
        return NumberReading(problem="not_a_number")
    num, half = match["num"], bool(match["half"]) + bool(match["half2"])
    if half > 1 or (match["ge"] and not num):
        return NumberReading(problem="not_a_number")
    value: float
    if num is None:
        if not half:
            return NumberReading(problem="not_a_number")
        value = 0.0  # "半天", "半个月"
    elif num[-1].isdigit():
        value = float(num.replace("，", ".").replace(",", "."))
    else:
        parsed = chinese_integer(num)
        if parsed is None:
            if len(num) > 1 and all(ch in _DIGITS for ch in num):
                return NumberReading(problem="one_number")  # "五六次": five or six
            return NumberReading(problem="not_a_number")
        value = parsed
    value += 0.5 * half
    unit = match["unit"]
    if unit:
        kind = unit_kind(unit)
        wanted = {unit_kind(u) for u in units if u.strip()}
        if kind not in _KIND_OF.values() and kind not in wanted:
            return NumberReading(problem="not_a_number")
        if wanted and kind not in wanted and kind not in COUNTERS:
            return NumberReading(problem="wrong_unit")
    return NumberReading(float(value))


def read_integer(text: str) -> int | None:
    """A whole number for a list position or an answer number: "3", "３", "三", "第三个"."""
    squeezed = _squeeze(normalise(text))
    squeezed = re.sub(r"^第|(?:个|项|条|题|号)$", "", squeezed)
    if squeezed.isascii() and squeezed.isdigit():
        return int(squeezed)
    return chinese_integer(squeezed)


# ----------------------------------------------------------------------------- yes and no

YES_WORDS = frozenset(
    {
        "是",
        "对",
        "有",
        "嗯",
        "恩",
        "要",
        "好",
        "会",
        "行",
        "可以",
        "需要",
        "想",
        "愿意",
        "当然",
        "有过",
        "去过",
        "出过",
        "出过门",
        "没错",
        "没问题",
        "对头",
        "是啊",
        "y",
        "yes",
        "yeah",
        "yea",
        "yep",
        "yup",
        "sure",
        "ok",
        "okay",
        "true",
        "of course",
        "1",
        "✓",
        "✔",
        "✅",
        "👍",
        "👌",
    }
)
NO_WORDS = frozenset(
    {
        "否",
        "不",
        "不是",
        "没有",
        "没",
        "无",
        "不对",
        "不要",
        "不用",
        "不需要",
        "不好",
        "不会",
        "不行",
        "不想",
        "不愿意",
        "没有过",
        "没去过",
        "没出过",
        "没出门",
        "从来没有",
        "从没有",
        "算了",
        "n",
        "no",
        "nope",
        "nah",
        "false",
        "not really",
        "never",
        "2",
        "✗",
        "✘",
        "❌",
        "×",
        "👎",
    }
)
# Sentence-final particles that change nothing: 是的, 有的呀, 没有的, 好吧, 对啊.
_PARTICLES = "的啊呀吧哦噢喔嘛啦了呢哈"


def _core(text: str) -> str:
    word = normalise(text)
    if not word.isascii():
        word = _squeeze(word)
        while len(word) > 1 and word[-1] in _PARTICLES:
            word = word[:-1]
        word = re.sub(r"(.)\1+", r"\1", word)  # 嗯嗯, 对对对, 好好
    return re.sub(r"\s+", " ", word)


def same_words(typed: str, label: str) -> bool:
    """Whether a typed answer is a label, ignoring case, spacing, a final full stop and
    sentence-final particles ("出过门了" is "出过门")."""
    return bool(label.strip()) and _core(typed) == _core(label)


def read_yes_no(text: str) -> bool | None:
    """True for yes (是, 对, 有, 嗯, 要, 好, 会, yes, y, yeah...), False for no (不是, 没有,
    没, 不要, 不会, no, n, nope...), None for anything else."""
    word = _core(text)
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    return None


DONT_KNOW = frozenset(
    {
        "不知道",
        "不清楚",
        "不确定",
        "说不好",
        "说不清",
        "不记得",
        "记不清",
        "忘了",
        "不晓得",
        "don't know",
        "dont know",
        "i don't know",
        "i dont know",
        "not sure",
        "dunno",
        "idk",
        "no idea",
    }
)


def is_dont_know(text: str) -> bool:
    """ "不知道", "not sure": an answer that is none, and never silently a skip."""
    return _core(text).replace("’", "'") in DONT_KNOW


# ----------------------------------------------------------------------------- commands

COMMAND_WORDS: dict[str, tuple[str, ...]] = {
    "back": ("返回", "上一题", "上一个", "上一步", "回到上一题", "back", "go back", "previous"),
    "skip": ("跳过", "跳过这题", "跳过这一题", "skip", "skip this"),
    "pause": (
        "暂停",
        "等会儿",
        "等一会儿",
        "等一下",
        "等下",
        "稍等",
        "待会儿",
        "晚点再填",
        "pause",
        "later",
        "wait",
    ),
    "cancel": ("取消", "不填了", "不想填了", "不做了", "退出", "cancel", "quit"),
    "help": ("帮助", "怎么填", "怎么回答", "help", "?", "？"),
    "resume": ("继续", "接着填", "继续填", "resume", "continue", "go on"),
    "review": ("核对", "核对一下", "检查一下", "检查答案", "核对答案", "review", "check answers"),
    "submit": ("提交", "确认提交", "submit"),
}
"""Whole messages that are commands, as the first word of each list names them in help.

"检查" and "check" alone are not here: "去医院检查" shows they are answers too."""

_WORD_TO_COMMAND = {_squeeze(w.casefold()): c for c, ws in COMMAND_WORDS.items() for w in ws}
_EDIT = re.compile(
    r"(?:修改|改|edit|change)第?(?P<n>[0-9一二两三四五六七八九十百]+)(?:个|题|项|条)?"
)


def command_word(text: str) -> tuple[str, str] | None:
    """``(command, argument)`` when the whole message is a command word ("返回", "skip",
    "不填了", "修改 3"), else None. A word inside a longer answer is never a command."""
    raw = text.translate(_FULL_WIDTH).strip().casefold()
    if raw in ("?", "？"):
        return ("help", "")
    word = _squeeze(normalise(raw))
    command = _WORD_TO_COMMAND.get(word)
    if command:
        return (command, "")
    edit = _EDIT.fullmatch(word)
    if edit:
        number = read_integer(edit["n"])
        return ("edit", str(number) if number is not None else edit["n"])
    return None


# ----------------------------------------------------------------------------- dates

Direction = Literal["past", "future"]

_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_WEEKDAY.update({str(i + 1): i for i in range(7)})
_EN_WEEKDAYS = {
    name: i
    for i, names in enumerate(
        (
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thur", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        )
    )
    for name in names
}
_EN_MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_DAY_WORDS = {
    "今天": 0,
    "今日": 0,
    "today": 0,
    "昨天": -1,
    "昨日": -1,
    "yesterday": -1,
    "前天": -2,
    "大前天": -3,
    "the day before yesterday": -2,
    "明天": 1,
    "明日": 1,
    "tomorrow": 1,
    "后天": 2,
    "大后天": 3,
    "the day after tomorrow": 2,
}
_N = r"[0-9零〇一二两三四五六七八九十百]+"
_WEEK = r"(?:周|星期|礼拜)"
_CN_RELATIVE = re.compile(
    rf"(?P<n>{_N})(?P<unit>天|日|个星期|个礼拜|星期|礼拜|周)(?P<dir>前|以前|之前|后|以后|之后)"
)
_EN_RELATIVE = re.compile(
    r"(?:(?P<n1>\d+|a|an|one|two|three|four|five|six|seven) (?P<u1>days?|weeks?) ago)"
    r"|(?:in (?P<n2>\d+|a|an|one|two|three|four|five|six|seven) (?P<u2>days?|weeks?))"
)
_EN_SMALL = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_EN_SMALL.update({"six": 6, "seven": 7})
_CN_WEEKDAY = re.compile(
    rf"(?P<which>下下|下个?|上上|上个?|这个?|本)?{_WEEK}(?P<day>[一二三四五六日天末1-7])"
)
_CN_FULL = re.compile(
    rf"(?P<y>\d{{4}}|[零〇○一二三四五六七八九]{{4}})年(?P<m>{_N})月(?P<d>{_N})[日号]?"
)
_ISO_LIKE = re.compile(r"(?P<y>\d{4})\s*[-/.]\s*(?P<m>\d{1,2})\s*[-/.]\s*(?P<d>\d{1,2})")
_CN_MONTH_DAY = re.compile(
    rf"(?:(?P<rel>下个?|上个?|这个?|本)月)?(?:(?P<m>{_N})月)?(?P<d>{_N})[日号]"
)
_CN_MONTH_DAY_BARE = re.compile(rf"(?P<m>{_N})月(?P<d>{_N})")
_ORD = r"(?:st|nd|rd|th)?"
_EN_DAY_MONTH = re.compile(
    rf"(?:the )?(?P<d>\d{{1,2}}){_ORD} (?:of )?(?P<mon>[a-z]+)\.?(?:,? (?P<y>\d{{4}}))?"
)
_EN_MONTH_DAY = re.compile(
    rf"(?P<mon>[a-z]+)\.? (?:the )?(?P<d>\d{{1,2}}){_ORD}(?:,? (?P<y>\d{{4}}))?"
)
_EN_WEEKDAY = re.compile(r"(?:(?P<which>next|last|this|coming|on) )?(?P<day>[a-z]+)")


def _number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    return chinese_integer(text)


def _year(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    digits = [_DIGITS.get(ch) for ch in text]
    if any(d is None for d in digits):
        return None
    return int("".join(str(d) for d in digits))


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month_day(month: int, day: int, today: date, direction: Direction) -> date | None:
    """The 12月5日 nearest to ``today`` in ``direction`` (today itself included)."""
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    step = -1 if direction == "past" else 1
    for offset in range(9):  # 2月29日 may be up to 8 years away
        found = _make(today.year + step * offset, month, day)
        if found and (found <= today if direction == "past" else found >= today):
            return found
    return None


def _day_of_month(
    day: int, today: date, direction: Direction, months_ahead: int | None = None
) -> date | None:
    """The 5号 nearest to ``today`` in ``direction``, or in the month ``months_ahead`` away."""
    if not 1 <= day <= 31:
        return None

    def month_from_now(offset: int) -> tuple[int, int]:
        index = today.year * 12 + today.month - 1 + offset
        return index // 12, index % 12 + 1

    if months_ahead is not None:
        year, month = month_from_now(months_ahead)
        return _make(year, month, day)
    step = -1 if direction == "past" else 1
    for offset in range(12):
        year, month = month_from_now(step * offset)
        if day > calendar.monthrange(year, month)[1]:
            continue
        found = date(year, month, day)
        if found <= today if direction == "past" else found >= today:
            return found
    return None


def _weekday(target: int, which: str, today: date, direction: Direction) -> date:
    monday = today - timedelta(days=today.weekday())
    weeks = {"下下": 2, "下": 1, "下个": 1, "上上": -2, "上": -1, "上个": -1}
    if which in ("这", "这个", "本", "this"):
        return monday + timedelta(days=target)
    if which in weeks:  # 下周五: Friday of next week, whatever today is
        return monday + timedelta(days=target + 7 * weeks[which])
    if which == "next":  # "next friday": the first Friday after today
        return today + timedelta(days=(target - today.weekday() - 1) % 7 + 1)
    if which == "last":
        return today - timedelta(days=(today.weekday() - target - 1) % 7 + 1)
    # "周三", "wednesday", "coming wednesday": the nearest one, today included.
    ahead = (target - today.weekday()) % 7
    if which == "coming" or direction == "future":
        return today + timedelta(days=ahead)
    return today - timedelta(days=(today.weekday() - target) % 7)


def read_date(text: str, today: date, direction: Direction = "past") -> date | None:
    """A date as typed, relative to ``today``; ``direction`` says which way a date without
    a year, month or week ("周三", "12月5日", "5号") is taken: the nearest one in the past
    (including today) for a question about what happened, the nearest one to come for a
    deadline. None when the text is no date."""
    word = normalise(text)
    spaced = re.sub(r"\s+", " ", word.replace(",", ", ")).replace(" ,", ",")
    spaced = re.sub(r"^(?:on|by|before) ", "", spaced)
    squeezed = _squeeze(word)
    squeezed = re.sub(r"^(?:在|到|截止到?|截至)", "", squeezed)
    if squeezed in _DAY_WORDS:
        return today + timedelta(days=_DAY_WORDS[squeezed])
    if spaced in _DAY_WORDS:
        return today + timedelta(days=_DAY_WORDS[spaced])
    found = _read_chinese(squeezed, today, direction)
    if found is None and re.search(r"(?:之前|以前|前)$", squeezed):
        # "周五前", "12月5日之前": by that day. ("三天前" was read above, as three days ago.)
        found = _read_chinese(re.sub(r"(?:之前|以前|前)$", "", squeezed), today, direction)
    return found or _read_english(spaced, today, direction)


def _read_chinese(word: str, today: date, direction: Direction) -> date | None:
    if word in _DAY_WORDS:
        return today + timedelta(days=_DAY_WORDS[word])
    if m := _ISO_LIKE.fullmatch(word):
        return _make(int(m["y"]), int(m["m"]), int(m["d"]))
    if m := _CN_FULL.fullmatch(word):
        year, month, day = _year(m["y"]), _number(m["m"]), _number(m["d"])
        if year is None or month is None or day is None:
            return None
        return _make(year, month, day)
    if m := _CN_RELATIVE.fullmatch(word):
        n = _number(m["n"])
        if n is None:
            return None
        days = n * (1 if m["unit"] in ("天", "日") else 7)
        return today + timedelta(days=-days if "前" in m["dir"] else days)
    if m := _CN_WEEKDAY.fullmatch(word):
        return _weekday(_WEEKDAY[m["day"]], m["which"] or "", today, direction)
    if m := (_CN_MONTH_DAY.fullmatch(word) or _CN_MONTH_DAY_BARE.fullmatch(word)):
        day = _number(m["d"])
        month = _number(m["m"]) if m["m"] else None
        if day is None or (m["m"] and month is None):
            return None
        rel = m.groupdict().get("rel")
        if rel:
            if month is not None:
                return None
            offset = 1 if rel.startswith("下") else -1 if rel.startswith("上") else 0
            return _day_of_month(day, today, direction, offset)
        if month is not None:
            return _month_day(month, day, today, direction)
        return _day_of_month(day, today, direction)
    return None


def _read_english(word: str, today: date, direction: Direction) -> date | None:
    if m := _EN_RELATIVE.fullmatch(word):
        count, unit = (m["n1"], m["u1"]) if m["n1"] else (m["n2"], m["u2"])
        n = int(count) if count.isdigit() else _EN_SMALL[count]
        days = n * (7 if unit.startswith("week") else 1)
        return today + timedelta(days=-days if m["n1"] else days)
    for pattern in (_EN_DAY_MONTH, _EN_MONTH_DAY):
        if (m := pattern.fullmatch(word)) and m["mon"] in _EN_MONTHS:
            month, day = _EN_MONTHS[m["mon"]], int(m["d"])
            if m["y"]:
                return _make(int(m["y"]), month, day)
            return _month_day(month, day, today, direction)
    if (m := _EN_WEEKDAY.fullmatch(word)) and m["day"] in _EN_WEEKDAYS:
        which = m["which"] if m["which"] != "on" else ""
        return _weekday(_EN_WEEKDAYS[m["day"]], which or "", today, direction)
    return None
