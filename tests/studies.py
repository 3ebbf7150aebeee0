"""Four realistic cases, one for each study in ../shared/domain/casework-studies.md, built the
way a worker builds them: the profile and the plan from the command line (``caseflow case``),
and every record by a scripted interview in Chinese through the engine (``Interviews``):
consent, intake, check-ins, session records across the stages, scales or ratings before and
after, the closing report, closing, and a follow-up after closing.

A script answers each question by its id, so it reads as the interview did; a question the
script does not answer is skipped when it is optional (the probes, mostly) and an error when
it is required, and a script answer no question asked for is an error too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from casework.interviews import Interviews
from flows.engine import Reply
from flows.registry import FlowRegistry
from storage.records import Records
from storage.store import Case, Store
from tests.conftest import run_as

AS_OF = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
"""The case summaries are rendered as of this moment."""


def interview(
    store: Store,
    flow: str,
    case: Case,
    person: int,
    answers: Mapping[str, str],
    *,
    lang: str = "zh",
    phase: str | None = None,
) -> str:
    """Run one interview, answering each question from ``answers`` by its id; returns the
    session id."""
    interviews = Interviews(store, FlowRegistry())
    opened = interviews.open(flow, store.case(case.id), person, "terminal", lang=lang, phase=phase)
    sid, turn, used = opened.session.id, opened.turn, set()
    while turn.status == "active":
        prompt = turn.prompt
        assert prompt is not None
        if prompt.kind == "review":
            text = "/submit"
        elif prompt.kind == "note":
            text = ""
        elif prompt.token in answers:
            text = answers[prompt.token]
            used.add(prompt.token)
        elif not prompt.required:
            text = "/skip"
        else:
            raise AssertionError(f"{flow}: the script does not answer {prompt.token!r}")
        turn = interviews.reply(sid, person, Reply(text=text))
        assert turn.error is None, (flow, prompt.token, text, turn.error)
    assert turn.status == "completed", (flow, turn.status)
    unused = set(answers) - used
    assert not unused, f"{flow}: the script answers questions never asked: {sorted(unused)}"
    return sid


@dataclass
class Study:
    """One case being built: its store, the clock, and the people on it."""

    store: Store
    db: str
    at: Callable[[int, int, int], None]
    cli: Callable[[list[str]], int]
    case: Case | None = None
    people: dict[str, int] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)

    def on(self, month: int, day: int, hour: int = 10) -> None:
        """Move the clock to a day and an hour of Beijing time."""
        self.at(month, day, hour - 8)

    def caseflow(self, *argv: str, who: str = "worker") -> None:
        """``caseflow ARGV`` run by the OS account linked to ``who``."""
        login = str(self.store.person(self.people[who])["local_user"])
        code = run_as(login, self.cli, [*argv, "--db", self.db])
        assert code == 0, argv

    def person(self, key: str, name: str, role: str, member: str | None = None) -> int:
        local = f"{key}_{len(self.people)}" if role in ("worker", "supervisor") else None
        pid = self.store.add_person(name, role, local_user=local, lang="zh")
        self.people[key] = pid
        if member and self.case is not None:
            self.store.add_member(self.case.id, pid, member, self.people.get("worker"))
        return pid

    def run(self, key: str, flow: str, who: str, answers: Mapping[str, str], **kw: Any) -> str:
        assert self.case is not None
        sid = interview(self.store, flow, self.case, self.people[who], answers, **kw)
        self.sessions[key] = sid
        return sid

    def sign(self, key: str, who: str = "supervisor", comment: str | None = None) -> None:
        Records(self.store).sign(self.sessions[key], self.people[who], comment=comment)


def open_case(study: Study, code: str, title: str, worker: str, supervisor: str) -> None:
    study.person("worker", worker, "worker")
    study.person("supervisor", supervisor, "supervisor")
    study.store.set_supervisor(study.people["worker"], study.people["supervisor"])
    study.case = study.store.create_case(code, study.people["worker"], title=title)
    study.store.add_member(
        study.case.id, study.people["supervisor"], "supervisor", study.people["worker"]
    )


def session_record(
    number: int,
    day: str,
    stage: str,
    goals: str,
    ratings: Mapping[int, str],
    *,
    setting: str,
    present: str,
    work: str,
    techniques: str,
    response: str,
    notes: str,
    observed: str,
    reflection: str,
    next_steps: str,
    next_date: str | None = None,
    own_words: str | None = None,
    change: str | None = None,
    review: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The answers of one bundled session record. ``stage``: 1 direct, 2 indirect,
    3 consolidation, 4 closing, 5 follow-up; ``goals``: the goal numbers worked on."""
    answers = {
        "session_number": str(number),
        "session_date": day,
        "intervention_stage": stage,
        "setting": setting,
        "present": present,
        "goals_worked": goals,
        **{f"goal_progress_{n}": r for n, r in ratings.items()},
        "work_done": work,
        "techniques": techniques,
        "client_response": response,
        "response_notes": notes,
        "observations": observed,
        "worker_reflection": reflection,
        "next_steps": next_steps,
        "safeguarding": "否",
    }
    if next_date is not None:
        answers["next_session_date"] = next_date
    if own_words is not None:
        answers["response_notes.own_words"] = own_words
    if change is not None:
        answers["response_notes.change"] = change
    if review is not None:
        answers["progress_review"] = review
    answers.update(extra or {})
    return answers


def child_checkin(
    mood: str, expression: str, sleep: str, missed: str, worries: str | None = None, **more: str
) -> dict[str, str]:
    answers = {
        "mood": mood,
        "expression": expression,
        "sleep": sleep,
        "school_days_missed": missed,
        "has_worries": "有" if worries else "没有",
    }
    if worries:
        answers |= {"worries": worries, "wants_call": more.pop("wants_call", "否")}
    return answers | more


# --------------------------------------------------------------------------- study 1


def study1(study: Study) -> None:
    """A left-behind child in a town (psychosocial model): emotional expression. Direct work
    with the child, indirect work with the grandmother, the parents and the teacher, then
    consolidation; the concern ratings at intake and at closing are the pre/post test, and
    the grandmother's weekly check-ins show the change week by week."""
    study.on(3, 2, 9)
    open_case(study, "LBC-2026-01", "小雨：情绪表达", "王芳", "陈丽")
    study.caseflow(
        "case",
        "profile",
        "LBC-2026-01",
        "--name",
        "小雨",
        "--birth-year",
        "2016",
        "--group",
        "left_behind_child",
        "--caregiver",
        "奶奶 陈秀英",
        "--worker",
        "王芳",
    )
    study.person("grandma", "陈秀英", "caregiver", member="caregiver")
    study.run(
        "consent",
        "consent",
        "worker",
        {
            "explained": "1,2,3,4,5",
            "questions_raised": "奶奶担心学校会知道孩子“有问题”。解释了记录只有社工和督导能看。",
            "agreed": "是",
            "agreed_by": "陈秀英，奶奶",
            "agreed_role": "2",
            "consent_method": "2",
            "consent_date": "今天",
            "child_assent": "是",
        },
    )
    study.on(3, 2, 11)
    study.run(
        "intake",
        "intake_assessment",
        "worker",
        {
            "referral_date": "2026-02-24",
            "referral_source": "1",
            "client_group": "1",
            "client_age": "10",
            "referral_reason": "班主任反映：小雨上课常发呆，和同学闹了矛盾就哭，问她原因也不说。",
            "referral_reason.client_view": "小雨说：“我没事，就是不想说。”",
            "household": "grandparents",
            "parents_situation": "1",
            "parent_contact": "2",
            "main_caregiver": "3",
            "family_notes": "父母在广州打工，一年回来一次；小雨和奶奶住在镇上，爷爷前年去世。",
            "family_notes.caregiver_coping": "奶奶 68 岁，身体还行，但说“管得了吃穿，管不了心思”。",
            "presenting_problem": "不高兴时不说话、躲进房间，或者突然大哭；很少说出自己的感受。",
            "presenting_problem.started": "去年春节妈妈走后明显起来。",
            "presenting_problem.own_words": "“说了也没用，妈妈又不在。”",
            "physio_notes": "身体健康；有时说肚子疼，不想上学。",
            "physio_notes.sleep_appetite": "妈妈打电话那几天晚上睡不着。",
            "physio_concern": "2",
            "psych_notes": "情绪词汇少，只会说“烦”；自我评价偏低。",
            "psych_notes.expression": "多数时候闷在心里，憋不住就哭。",
            "psych_concern": "4",
            "social_notes": "在班里有一个要好的同学；和奶奶交流少。",
            "social_notes.support": "班主任比较关心她。",
            "social_concern": "3",
            "inner_strengths": "interests,ability",
            "inner_strengths_notes": "喜欢画画，画得很细；做事认真，作业从不拖欠。",
            "outer_strengths": "family,school",
            "outer_strengths_notes": "奶奶很疼她；妈妈愿意每周视频；班主任愿意配合。",
            "risks": "none",
            "goals": "小雨能认出并说出自己的情绪；不高兴时能用说的代替哭闹；家里人能接住她的情绪。",
            "goals.signs": "奶奶说她会讲“我生气了”“我想妈妈了”。",
            "goals_agreed": "是",
            "info_sources": "interview,observation,others_told",
            "plan_notes": "心理社会治疗模式：直接介入（情绪卡片、绘本、角色扮演）与间接介入（奶奶、父母、老师）结合。",
            "plan_notes.first_session": "3月4日放学后，在家里。",
        },
    )
    for title, area, activities, target in (
        (
            "能认出并说出自己的基本情绪",
            "情绪认知（心理层面）",
            "情绪卡片；绘本共读；情绪温度计",
            "能说出 6 种以上情绪词，并对应到自己的经历",
        ),
        (
            "不高兴时能用语言而不是哭闹来表达",
            "情绪表达（心理层面）",
            "角色扮演；情绪日记；“我信息”练习",
            "一周内哭闹次数减少一半，奶奶能听到她说出原因",
        ),
        (
            "奶奶和父母能回应孩子的情绪",
            "家庭支持（社会层面，间接介入）",
            "家庭会议；和父母约定视频时间；奶奶回应情绪的小练习",
            "父母每周至少视频两次，奶奶能说出一种回应孩子情绪的方法",
        ),
    ):
        study.caseflow(
            "case",
            "goals",
            "LBC-2026-01",
            "add",
            title,
            "--area",
            area,
            "--activities",
            activities,
            "--target",
            target,
        )
    weeks = [
        (
            (3, 8),
            child_checkin(
                "2",
                "3",
                "2",
                "1",
                "她说肚子疼不去上学，其实是想妈妈。",
                school_note="肚子疼，在家待了一天。",
            ),
        ),
        (
            (3, 15),
            child_checkin("2", "2", "2", "0", expression_detail="和同学为一块橡皮吵架，回家哭了。"),
        ),
        ((3, 22), child_checkin("3", "2", "1", "0")),
        ((3, 29), child_checkin("3", "1", "1", "0")),
        ((4, 5), child_checkin("3", "1", "2", "0")),
        ((4, 12), child_checkin("4", "1", "1", "0")),
        ((4, 19), child_checkin("4", "4", "1", "0")),
        ((4, 26), child_checkin("5", "1", "1", "0")),
    ]
    for n, ((month, day), answers) in enumerate(weeks, start=1):
        study.on(month, day, 19)
        study.run(f"week{n}", "child_checkin", "grandma", answers)
    records = [
        (
            (3, 4),
            session_record(
                1,
                "2026-03-04",
                "1",
                "1",
                {1: "1"},
                setting="1",
                present="1,2",
                work="自我介绍、约定保密；用情绪卡片玩“猜猜我的心情”。",
                techniques="1,6",
                response="2",
                notes="开始很拘谨，只挑“开心”和“烦”两张卡片；后来愿意翻卡片看。",
                own_words="“这张（难过）……有时候是我。”",
                observed="坐得离奶奶很远；说到妈妈时低头抠手指。",
                reflection="节奏可以再慢一点，先多玩、少问。",
                next_steps="下次带绘本《我的情绪小怪兽》；请奶奶记下她哭的次数。",
                next_date="2026-03-11",
            ),
        ),
        (
            (3, 11),
            session_record(
                2,
                "2026-03-11",
                "1",
                "1,2",
                {1: "2", 2: "1"},
                setting="1",
                present="1",
                work="绘本共读；探索—描述—宣泄：画“想妈妈的时候”。",
                techniques="1,6",
                response="1",
                notes="画了一张火车站的画，边画边说妈妈走的那天。说完哭了，但哭完说“好一点了”。",
                own_words="“我不敢跟奶奶说想妈妈，她会更难过。”",
                observed="第一次主动提到妈妈；哭后情绪平复得比较快。",
                reflection="宣泄后要留出收尾的时间，这次结束得有点仓促。",
                next_steps="练习用“我觉得……因为……”说话；和奶奶沟通孩子怕她难过的顾虑。",
                next_date="2026-03-18",
            ),
        ),
        (
            (3, 18),
            session_record(
                3,
                "2026-03-18",
                "1",
                "2",
                {2: "2"},
                setting="3",
                present="1",
                work="角色扮演：同学拿了橡皮不还，怎么说。",
                techniques="5",
                response="1",
                notes="第二次扮演时能说出“你拿我的橡皮不还，我很生气”。",
                change="奶奶说这周只哭了一次。",
                observed="在社区活动室比在家里放松，笑了好几次。",
                reflection="角色扮演很有效，下次可以让她来演“对方”。",
                next_steps="请奶奶和妈妈一起参加下次家庭会议。",
                next_date="2026-03-25",
            ),
        ),
        (
            (3, 25),
            session_record(
                4,
                "2026-03-25",
                "2",
                "3",
                {3: "2"},
                setting="1",
                present="1,2,3",
                work="家庭会议：妈妈视频参加；一起定下每周视频的时间；教奶奶回应孩子情绪的一句话。",
                techniques="7,9",
                response="2",
                notes="妈妈很愿意，奶奶起初说“小孩子哭哭就好了”，练习后能说“你是不是想妈妈了”。",
                observed="视频时小雨一直靠在屏幕边上，挂断后主动帮奶奶收碗。",
                reflection="奶奶的观念要慢慢来，不能只在一次会上讲道理。",
                next_steps="约班主任了解在校情况；请奶奶每天睡前问一句“今天开心吗”。",
                next_date="2026-04-01",
            ),
        ),
        (
            (4, 1),
            session_record(
                5,
                "2026-04-01",
                "2",
                "2,3",
                {2: "3", 3: "3"},
                setting="2",
                present="1,5",
                work="和班主任沟通，请老师在她不开心时给一个“说出来”的机会。",
                techniques="8",
                response="1",
                notes="班主任说最近和同学闹矛盾时会先来找老师说。",
                observed="在老师面前说话声音大了一些。",
                reflection="学校是重要的支持点，应该更早联系。",
                next_steps="开始写情绪日记，每天一句。",
                next_date="2026-04-15",
            ),
        ),
        (
            (4, 15),
            session_record(
                6,
                "2026-04-15",
                "3",
                "1,2",
                {1: "4", 2: "4"},
                setting="1",
                present="1,2",
                work="回顾两周的情绪日记，找出“生气—说出来—好一点”的例子。",
                techniques="2,4",
                response="1",
                notes="日记写了 11 天，用到 8 种情绪词。",
                own_words="“原来说出来就没那么难受了。”",
                observed="主动把日记拿给奶奶看。",
                reflection="巩固期要让她自己总结，而不是我来总结。",
                next_steps="下次回顾家庭会议的约定是否坚持。",
                next_date="2026-04-22",
            ),
        ),
        (
            (4, 22),
            session_record(
                7,
                "2026-04-22",
                "3",
                "3",
                {3: "4"},
                setting="1",
                present="1,2,3",
                work="回顾每周视频约定；奶奶分享她怎样回应孩子。",
                techniques="7,4",
                response="1",
                notes="一个月来每周视频两到三次；奶奶能举出两个自己回应情绪的例子。",
                observed="奶奶和小雨一起笑着讲上周的事。",
                reflection="家人能接住孩子的情绪后，孩子的变化更稳。",
                next_steps="准备结案：和小雨一起回顾变化，做一本“成长小册子”。",
                next_date="2026-04-29",
            ),
        ),
        (
            (4, 29),
            session_record(
                8,
                "2026-04-29",
                "4",
                "1,2,3",
                {1: "5", 2: "4", 3: "4"},
                setting="1",
                present="1,2",
                work="回顾服务过程，处理离别情绪，送“成长小册子”。",
                techniques="2,4",
                response="1",
                notes="说自己学会了“把心里的话说出来”。",
                observed="说到结束时有点舍不得，但能说出来“我会想你的”。",
                reflection="离别处理得比较自然，提前两次预告很重要。",
                next_steps="写结案报告；六月回访。",
                review="能说出 9 种情绪词；不高兴时多数能先说出来；奶奶和父母的回应明显增多。",
                extra={"progress_review.client_view": "“我现在会说我生气了。”"},
            ),
        ),
    ]
    for n, ((month, day), answers) in enumerate(records, start=1):
        study.on(month, day, 17)
        study.run(f"session{n}", "session_record", "worker", answers)
    study.on(3, 20, 16)
    study.run(
        "teacher_call",
        "contact_note",
        "worker",
        {
            "contact_date": "今天",
            "contact_with": "4",
            "channel": "1",
            "what_said": "班主任说小雨这周和同学闹别扭后没有哭，而是来找老师说了。",
            "worried": "否",
            "followup_needed": "否",
        },
    )
    study.on(3, 26, 9)
    study.sign(
        "session4",
        comment="家庭会议的安排很好。奶奶的观念转变需要时间，下次会谈请记录奶奶的具体回应方式，作为目标三的进展依据。",
    )
    study.on(5, 6, 10)
    study.run(
        "closing",
        "closing_report",
        "worker",
        {
            "closing_date": "今天",
            "closing_reason": "1",
            "sessions_held": "8",
            "goals_met": "1,2",
            "goals_partly_met": "3",
            "goals_evidence": "目标一：日记中用到 9 种情绪词。目标二：奶奶记录的哭闹从每周 4 次降到 1 次，老师反映她会先说出来。目标三：视频已固定为每周两次以上，但爸爸参与少。",
            "goals_evidence.not_met_why": "爸爸工作时间长，只参加过一次视频。",
            "prepost_summary": "问题关注程度从接案时的 9 分降到 5 分；奶奶每周问答中的心情从 2 分升到 5 分。",
            "physio_concern": "1",
            "psych_concern": "2",
            "social_concern": "2",
            "client_view": "“我现在会说我生气了，也敢跟奶奶说想妈妈了。”",
            "family_view": "奶奶：“孩子比以前开朗多了，回家会跟我讲学校的事。”",
            "satisfaction": "5",
            "worker_reflection": "直接介入和间接介入结合得比较好；前期和老师联系偏晚。",
            "worker_reflection.ethics": "奶奶曾想让我不要告诉妈妈孩子哭的事。和奶奶商量后，由奶奶自己告诉妈妈。",
            "referred": "否",
            "followup_plan": "六月上门回访一次，之后电话回访。",
            "followup_date": "2026-06-10",
        },
    )
    study.sign("closing", comment="同意结案。建议回访时重点了解父亲的参与情况。")
    study.on(5, 6, 11)
    study.caseflow("case", "close", "LBC-2026-01")
    study.on(6, 10, 16)
    study.run(
        "followup",
        "followup_visit",
        "worker",
        {
            "visit_date": "今天",
            "visit_way": "1",
            "held": "4",
            "now": "期末考试前有点紧张，但能说出来“我担心考不好”。",
            "now.others": "奶奶说这个月只哭过一次，是因为妈妈没能回来过端午。",
            "new_concern": "否",
            "next_action": "2",
            "next_notes": "九月开学后电话回访一次。",
        },
    )


# --------------------------------------------------------------------------- study 2


def study2(study: Study) -> None:
    """A child in a poor rural family (strengths perspective, person-centred model):
    resilience on the five RSCA sub-dimensions, each a goal of the plan; the school's
    counselling room as a setting; the concern ratings before and after."""
    study.on(3, 3, 9)
    open_case(study, "RC-2026-02", "小林：心理韧性", "李娜", "陈丽")
    study.caseflow(
        "case",
        "profile",
        "RC-2026-02",
        "--name",
        "小林",
        "--birth-year",
        "2014",
        "--group",
        "low_income_child",
        "--caregiver",
        "母亲 刘桂芳",
        "--worker",
        "李娜",
    )
    study.person("mother", "刘桂芳", "caregiver", member="caregiver")
    study.run(
        "consent",
        "consent",
        "worker",
        {
            "explained": "1,2,3,4,5",
            "agreed": "是",
            "agreed_by": "刘桂芳，母亲",
            "agreed_role": "3",
            "consent_method": "2",
            "consent_date": "今天",
            "child_assent": "是",
        },
    )
    study.on(3, 3, 11)
    study.run(
        "intake",
        "intake_assessment",
        "worker",
        {
            "referral_date": "2026-02-27",
            "referral_source": "1",
            "client_group": "2",
            "client_age": "12",
            "referral_reason": "关爱农村留守和困境儿童项目的学校摸底中，心理韧性量表得分明显偏低；班主任说他成绩下滑、不爱说话。",
            "household": "mother,father,siblings",
            "parents_situation": "4",
            "main_caregiver": "1",
            "family_notes": "父亲患尿毒症，每周透析两次，家里靠低保和母亲打零工；有一个 7 岁的弟弟。",
            "family_notes.money": "医药费压力大，母亲说“能撑一天是一天”。",
            "presenting_problem": "遇到困难就说“我不行”；考试没考好会撕卷子；放学后不出门。",
            "presenting_problem.own_words": "“反正我家就这样，努力也没用。”",
            "physio_notes": "身体偏瘦，早饭常不吃。",
            "physio_concern": "2",
            "psych_notes": "自我评价低，情绪起伏大，对未来没有想法。",
            "psych_concern": "4",
            "social_notes": "在班里很少和同学说话；妈妈忙，和孩子交流少。",
            "social_concern": "4",
            "inner_strengths": "interests,ability,perseverance",
            "inner_strengths_notes": "喜欢打篮球，投篮准；作文写得好；每天接送弟弟、照顾爸爸，很懂事。",
            "inner_strengths_notes.own_view": "他自己说不出一个优点。",
            "outer_strengths": "family,school,policy",
            "outer_strengths_notes": "母亲很爱孩子；学校有心理咨询室和篮球队；家里有低保和助学金。",
            "risks": "none",
            "goals": "从五个方面提升心理韧性：目标专注、情绪控制、积极认知、家庭支持、人际协助。",
            "goals_agreed": "是",
            "info_sources": "interview,scales,observation,others_told",
            "baseline_scores": "心理韧性量表（学校摸底）：总分明显低于同年级平均水平。",
            "plan_notes": "优势视角下的人本治疗模式：先建立信任、发掘优势，再分维度开展；结合学校心理咨询室和篮球队。",
        },
    )
    for title, area, activities, target in (
        (
            "能为自己定一个小目标并坚持两周",
            "目标专注（个人力）",
            "目标卡；每周复盘",
            "连续两周完成自己定的学习小目标",
        ),
        (
            "遇到挫折时能用方法平复情绪",
            "情绪控制（个人力）",
            "情绪温度计；深呼吸和暂停练习",
            "一个月内不再撕卷子、摔东西",
        ),
        (
            "能看到并说出自己的优点",
            "积极认知（个人力）",
            "优势清单；“我能行”事例分享",
            "能说出自己的三个优点，并举出例子",
        ),
        (
            "母亲每周和孩子有一次专门的谈心",
            "家庭支持（支持力）",
            "亲子沟通辅导；家庭谈心时间",
            "连续四周，每周至少一次",
        ),
        (
            "在班里找到可以求助的同伴",
            "人际协助（支持力）",
            "篮球队；同伴互助小组",
            "能说出两个遇到困难可以找的同学",
        ),
    ):
        study.caseflow(
            "case",
            "goals",
            "RC-2026-02",
            "add",
            title,
            "--area",
            area,
            "--activities",
            activities,
            "--target",
            target,
        )
    weeks = [
        ((3, 9), child_checkin("2", "3", "2", "0")),
        (
            (3, 16),
            child_checkin(
                "2",
                "2",
                "2",
                "1",
                "爸爸住院了一周，孩子要照顾弟弟。",
                school_note="爸爸住院，在家照顾弟弟。",
            ),
        ),
        ((3, 23), child_checkin("3", "3", "1", "0")),
        ((3, 30), child_checkin("3", "1", "1", "0")),
        ((4, 6), child_checkin("3", "1", "2", "0")),
        ((4, 13), child_checkin("4", "1", "1", "0")),
        ((4, 20), child_checkin("4", "4", "1", "0")),
        ((4, 27), child_checkin("4", "1", "1", "0")),
    ]
    for n, ((month, day), answers) in enumerate(weeks, start=1):
        study.on(month, day, 20)
        study.run(f"week{n}", "child_checkin", "mother", answers)
    records = [
        (
            (3, 5),
            session_record(
                1,
                "2026-03-05",
                "1",
                "3",
                {3: "1"},
                setting="2",
                present="1",
                work="在学校心理咨询室见面；一起列“我会做的事”清单。",
                techniques="4",
                response="2",
                notes="一开始只写了“打篮球”，在提示下又写了“照顾弟弟”“写作文”。",
                own_words="“这些也算优点吗？”",
                observed="说到家里时声音变小，说到篮球时坐直了。",
                reflection="优势要从他自己的生活里找，不能我替他说。",
                next_steps="请班主任和母亲各写一句孩子的优点。",
                next_date="2026-03-12",
            ),
        ),
        (
            (3, 12),
            session_record(
                2,
                "2026-03-12",
                "1",
                "1,3",
                {1: "1", 3: "2"},
                setting="2",
                present="1",
                work="读老师和母亲写的优点；用目标卡定第一个小目标：每天背 10 个英语单词。",
                techniques="4,2",
                response="1",
                notes="看到妈妈写的“你是家里的小男子汉”时沉默了很久。",
                observed="主动把目标卡夹进了课本。",
                reflection="目标要小到他一定能做到，第一周的成功很关键。",
                next_steps="一周后复盘目标卡。",
                next_date="2026-03-19",
            ),
        ),
        (
            (3, 19),
            session_record(
                3,
                "2026-03-19",
                "1",
                "1,2",
                {1: "2", 2: "1"},
                setting="2",
                present="1",
                work="复盘目标卡；这周爸爸住院，他撕了一次卷子，一起画“情绪温度计”，练习深呼吸。",
                techniques="1,9",
                response="2",
                notes="说起撕卷子先是辩解，后来承认“当时就是很烦很怕”。",
                own_words="“爸爸一住院，我就什么都做不下去。”",
                observed="练深呼吸时有点不好意思，练到第三次才认真。",
                reflection="目标专注受家庭危机影响很大，要把情绪放在前面处理。",
                next_steps="和母亲谈父亲的病情怎么跟孩子说。",
                next_date="2026-03-26",
            ),
        ),
        (
            (3, 26),
            session_record(
                4,
                "2026-03-26",
                "2",
                "4",
                {4: "1"},
                setting="1",
                present="1,2",
                work="家访：亲子沟通辅导，约定每周六晚上是“谈心时间”。",
                techniques="7,9",
                response="1",
                notes="母亲说以前怕孩子担心，什么都不跟他讲。",
                observed="母亲说到孩子懂事时哭了，孩子递了纸巾。",
                reflection="母亲自己也需要支持，可以链接社区的大病救助资源。",
                next_steps="链接镇社工站的大病救助；请学校心理老师组织同伴小组。",
                next_date="2026-04-02",
            ),
        ),
        (
            (4, 2),
            session_record(
                5,
                "2026-04-02",
                "2",
                "5",
                {5: "2"},
                setting="2",
                present="1,5,6",
                work="和心理老师一起组织 4 人同伴互助小组；推荐他参加篮球队训练。",
                techniques="8",
                response="1",
                notes="在小组里分享了照顾弟弟的经验，有同学说“你好厉害”。",
                observed="训练时和队友有说有笑。",
                reflection="学校的资源比预想的多，早点用起来会更好。",
                next_steps="下次回顾前几个目标。",
                next_date="2026-04-16",
            ),
        ),
        (
            (4, 16),
            session_record(
                6,
                "2026-04-16",
                "3",
                "1,2,3",
                {1: "4", 2: "3", 3: "4"},
                setting="2",
                present="1",
                work="回顾一个月的目标卡和情绪温度计；写“我能行”事例。",
                techniques="2,4",
                response="1",
                notes="目标卡连续完成了 13 天；这个月没有再撕卷子，有一次想摔书包，先停下来深呼吸。",
                own_words="“原来我也能坚持。”",
                observed="主动要求再定一个新目标：数学小测进步 10 分。",
                reflection="巩固时让他自己讲成功经验，比我总结更有力。",
                next_steps="回顾家庭谈心和同伴小组。",
                next_date="2026-04-23",
            ),
        ),
        (
            (4, 23),
            session_record(
                7,
                "2026-04-23",
                "3",
                "4,5",
                {4: "4", 5: "4"},
                setting="1",
                present="1,2",
                work="回顾家庭谈心时间；说出两个可以求助的同学。",
                techniques="2,7",
                response="1",
                notes="四周谈心坚持了三次；能说出篮球队的两个同学。",
                observed="母子俩互相开玩笑，气氛轻松。",
                reflection="家庭支持还要靠母亲自己坚持，结案前要和她一起想好以后怎么办。",
                next_steps="准备结案。",
                next_date="2026-04-30",
            ),
        ),
        (
            (4, 30),
            session_record(
                8,
                "2026-04-30",
                "4",
                "1,2,3,4,5",
                {1: "5", 2: "4", 3: "5", 4: "4", 5: "5"},
                setting="2",
                present="1,2",
                work="回顾四个多月的服务，处理离别；一起做“我的力量卡”。",
                techniques="2,4",
                response="1",
                notes="在力量卡上写了五个优点。",
                observed="自信多了，说话会看着对方的眼睛。",
                reflection="心理韧性的五个维度分开做，目标清楚，孩子也看得到自己的进步。",
                next_steps="写结案报告；暑假前回访。",
                review="心理韧性五个维度都有提升；自我概念更清晰，情绪更稳定，家庭和同伴支持增强。",
            ),
        ),
    ]
    for n, ((month, day), answers) in enumerate(records, start=1):
        study.on(month, day, 16)
        study.run(f"session{n}", "session_record", "worker", answers)
    study.on(4, 9, 12)
    study.run(
        "school_note",
        "contact_note",
        "worker",
        {
            "contact_date": "今天",
            "contact_with": "4",
            "channel": "5",
            "what_said": "心理老师说同伴小组里他开始主动发言；数学小测进步了 8 分。",
            "worried": "否",
            "followup_needed": "否",
        },
    )
    study.on(3, 27, 9)
    study.sign("session4", comment="注意母亲的情绪负担，大病救助链接的结果请在下次记录中写明。")
    study.on(5, 8, 10)
    study.run(
        "closing",
        "closing_report",
        "worker",
        {
            "closing_date": "今天",
            "closing_reason": "1",
            "sessions_held": "8",
            "goals_met": "1,3,5",
            "goals_partly_met": "2,4",
            "goals_evidence": "目标专注：目标卡连续完成 13 天以上。积极认知：能说出并举例五个优点。人际协助：能说出两个可以求助的同学，加入了篮球队。情绪控制和家庭支持有进步，但还不稳定。",
            "prepost_summary": "问题关注程度从 10 分降到 5 分；心理韧性量表后测由学校统一安排在六月。",
            "physio_concern": "1",
            "psych_concern": "2",
            "social_concern": "2",
            "client_view": "“我觉得我也没那么差，我能照顾好弟弟，也能把成绩搞上去。”",
            "family_view": "母亲：“孩子愿意跟我说话了。”班主任：“上课敢举手了。”",
            "satisfaction": "5",
            "worker_reflection": "优势视角让孩子和家长都看到了自己的力量；把服务和学校心理咨询室结合，效果更好。",
            "worker_reflection.ethics": "孩子要求不把撕卷子的事告诉老师；在不涉及安全的前提下尊重了他的意愿。",
            "referred": "是",
            "referral_detail": "母亲转介到镇社工站大病救助项目，减轻医药费负担。",
            "followup_plan": "六月底和心理老师一起回访，看心理韧性量表后测结果。",
            "followup_date": "2026-06-24",
        },
    )
    study.on(5, 8, 11)
    study.caseflow("case", "close", "RC-2026-02")
    study.on(6, 24, 15)
    study.run(
        "followup",
        "followup_visit",
        "worker",
        {
            "visit_date": "今天",
            "visit_way": "3",
            "held": "4",
            "now": "心理韧性量表后测比前测提高了不少；期末数学及格了。",
            "now.own_words": "“暑假我要带弟弟去打球。”",
            "new_concern": "是",
            "new_concern_detail": "父亲病情加重，可能要住院更久。",
            "next_action": "2",
            "next_notes": "八月电话回访，关注父亲住院期间孩子的情绪。",
        },
    )


# --------------------------------------------------------------------------- study 3


def reminiscence(
    number: int,
    day: str,
    stage: str,
    goals: str,
    ratings: Mapping[int, str],
    *,
    before: str,
    after: str,
    theme: str,
    prompts: str,
    detail: str,
    memories: str,
    feelings: str,
    strengths: str,
    strengths_notes: str,
    reflection: str,
    next_steps: str,
    next_date: str | None = None,
) -> dict[str, str]:
    answers = {
        "session_number": str(number),
        "session_date": day,
        "intervention_stage": stage,
        "setting": "1",
        "mood_before": before,
        "theme": theme,
        "prompts_used": prompts,
        "prompts_detail": detail,
        "memories": memories,
        "memories.feelings": feelings,
        "strengths": strengths,
        "strengths_notes": strengths_notes,
        "goals_worked": goals,
        **{f"goal_progress_{n}": r for n, r in ratings.items()},
        "mood_after": after,
        "client_response": "1",
        "worker_reflection": reflection,
        "next_steps": next_steps,
        "safeguarding": "否",
    }
    if next_date:
        answers["next_session_date"] = next_date
    return answers


def elder_checkin(
    mood: str,
    lonely: str,
    days_out: str | None,
    places: str,
    contacts: str,
    sleep: str,
    **more: str,
) -> dict[str, str]:
    answers = {"mood": mood, "lonely": lonely, "contacts": contacts, "health_worry": "没有"}
    if days_out is None:
        answers |= {"went_out": "没有", "not_out_reason": more.pop("why", "4")}
    else:
        answers |= {"went_out": "有", "days_out": days_out, "places": places}
    return answers | {"meals": more.pop("meals", "1"), "sleep": sleep, "wants_contact": "否"} | more


def gds15(answers: str) -> dict[str, str]:
    """The GDS-15's fifteen answers (是/否), in order, separated by spaces."""
    given = answers.split()
    assert len(given) == 15
    return {f"gds15_{i}": answer for i, answer in enumerate(given, start=1)}


def study3(study: Study) -> None:
    """An older woman living alone (psychosocial model, reminiscence): grief and anxiety
    held in for a long time, direct work with reminiscence sessions, indirect work with the
    community and her son; GDS-15 and UCLA-3 before and after, and her own weekly check-ins
    (mood, loneliness, days out, sleep)."""
    study.on(3, 2, 9)
    open_case(study, "EL-2026-03", "周奶奶：负面情绪", "王芳", "陈丽")
    study.caseflow(
        "case",
        "profile",
        "EL-2026-03",
        "--name",
        "周奶奶",
        "--birth-year",
        "1948",
        "--group",
        "elder_alone",
        "--caregiver",
        "儿子 周建国（在深圳工作）",
        "--worker",
        "王芳",
    )
    study.person("client", "周秀珍", "client", member="client")
    study.run(
        "consent",
        "consent",
        "worker",
        {
            "explained": "1,2,3,4,5",
            "questions_raised": "问“要不要花钱”“会不会告诉儿子”。说明服务免费，告诉儿子要经她同意。",
            "agreed": "是",
            "agreed_by": "周秀珍",
            "agreed_role": "1",
            "consent_method": "1",
            "consent_date": "今天",
        },
    )
    study.on(3, 2, 10)
    study.run(
        "intake",
        "intake_assessment",
        "worker",
        {
            "referral_date": "2026-02-26",
            "referral_source": "2",
            "client_group": "4",
            "client_age": "78",
            "referral_reason": "社区居委会反映：周奶奶老伴前年去世后很少出门，邻居说常听到她在家里哭。",
            "household": "alone",
            "children_contact": "2",
            "family_notes": "独居在 Z 社区的老小区五楼；独子在深圳工作，每月打一两次电话，春节回来。",
            "family_notes.changes": "老伴 2024 年冬天因病去世。",
            "presenting_problem": "长期情绪低落、焦虑，觉得自己“没用了”，不愿意出门。",
            "presenting_problem.own_words": "“老头子走了，我一个人活着有什么意思。”",
            "physio_notes": "高血压，膝关节不好，上下楼吃力；睡眠差，凌晨三四点就醒。",
            "physio_notes.daily_living": "能自己做饭、买菜，但买菜一周只去一次。",
            "physio_concern": "3",
            "psych_notes": "悲伤和焦虑压在心里很久，觉得自己没用、是儿子的负担。",
            "psych_notes.self_view": "说过“我就是个累赘”。",
            "psych_concern": "4",
            "social_notes": "以前是纺织厂的老工人，和老同事、老邻居都断了联系。",
            "social_notes.participation": "社区活动从来不去。",
            "social_concern": "4",
            "inner_strengths": "past_success,ability,perseverance",
            "inner_strengths_notes": "当过纺织厂劳动模范；会剪纸；年轻时是厂里文艺队的楚剧演员。",
            "outer_strengths": "family,neighbours,community",
            "outer_strengths_notes": "儿子孝顺但离得远；对门邻居常帮忙；社区有老年活动中心和剪纸班。",
            "risks": "self_harm_talk",
            "risk_detail": "说过“活着没意思”，但否认有具体想法或计划。",
            "risk_detail.safe_now": "目前安全；对门邻居每天会看一眼。",
            "risk_urgency": "3",
            "goals": "把压在心里的悲伤说出来；重新看到自己的价值；走出家门，和人重新来往。",
            "goals_agreed": "是",
            "info_sources": "interview,scales,observation,others_told",
            "baseline_scores": "GDS-15 和 UCLA 孤独感量表（三题版）见前测。",
            "plan_notes": "心理社会治疗模式：直接介入（宣泄、怀旧治疗），间接介入（社区活动、儿子、老邻居）。",
        },
    )
    study.on(3, 2, 11)
    study.run(
        "scales_pre",
        "elder_scales",
        "client",
        {
            **gds15("否 是 是 是 否 是 否 是 是 否 是 否 否 是 否"),
            "ucla3_1": "3",
            "ucla3_2": "3",
            "ucla3_3": "2",
        },
        phase="pre",
    )
    for title, area, activities, target in (
        (
            "把长期压在心里的悲伤和焦虑说出来",
            "心理层面（情绪宣泄）",
            "探索—描述—宣泄；哀伤辅导",
            "能平静地讲老伴的事，焦虑明显减轻",
        ),
        (
            "回顾人生中的成就，重新看到自己的价值",
            "心理层面（自我认知）",
            "怀旧治疗：老照片、老物件、楚剧",
            "能说出自己的长处，不再说“我没用”",
        ),
        (
            "每周走出家门参加一次社区活动",
            "社会层面（社会参与）",
            "陪同参加剪纸班；老年活动中心",
            "连续四周每周至少参加一次",
        ),
        (
            "和儿子、老邻居的联系更多",
            "社会层面（支持网络）",
            "和儿子视频会谈；联系老同事",
            "每周和儿子通话一次，恢复一位老朋友的来往",
        ),
    ):
        study.caseflow(
            "case",
            "goals",
            "EL-2026-03",
            "add",
            title,
            "--area",
            area,
            "--activities",
            activities,
            "--target",
            target,
        )
    weeks = [
        (
            (3, 7),
            elder_checkin("1", "3", None, "", "6", "3", lonely_when="晚上，一个人吃饭的时候。"),
        ),
        ((3, 14), elder_checkin("2", "3", "1", "1", "5", "3")),
        ((3, 21), elder_checkin("2", "2", "2", "1,3", "3,5", "2")),
        (
            (3, 28),
            elder_checkin(
                "3",
                "2",
                "3",
                "1,2",
                "1,3,5",
                "2",
                community_activity="第一次去剪纸班，剪了一条鱼。",
            ),
        ),
        ((4, 4), elder_checkin("3", "2", "3", "1,2,3", "1,3,4", "2")),
        ((4, 11), elder_checkin("4", "1", "4", "1,2,3", "1,3,4,5", "1")),
        ((4, 18), elder_checkin("4", "1", "4", "1,2,4", "1,2,3,4", "1")),
        ((4, 25), elder_checkin("5", "1", "5", "1,2,3,4", "1,3,4,5", "1")),
    ]
    for n, ((month, day), answers) in enumerate(weeks, start=1):
        study.on(month, day, 18)
        study.run(f"week{n}", "elder_checkin", "client", answers)
    study.on(3, 4, 15)
    study.run(
        "session1",
        "session_record",
        "worker",
        session_record(
            1,
            "2026-03-04",
            "1",
            "1",
            {1: "1"},
            setting="1",
            present="1",
            work="上门陪伴；请她讲老伴生病和去世的经过。",
            techniques="1",
            response="2",
            notes="一开始说“不提了”，看到墙上的照片后讲了一个多小时，哭了几次。",
            own_words="“这些话我从来没跟人说过，怕儿子担心。”",
            observed="家里很整洁，老伴的东西都没动过；说完后肩膀放松下来。",
            reflection="宣泄后要给情绪收尾，下次用怀旧把注意力引向她自己的经历。",
            next_steps="下次请她找出年轻时的照片。",
            next_date="2026-03-11",
        ),
    )
    for n, (month, day, answers) in enumerate(
        (
            (
                3,
                11,
                reminiscence(
                    2,
                    "2026-03-11",
                    "1",
                    "1,2",
                    {1: "2", 2: "2"},
                    before="2",
                    after="4",
                    theme="2",
                    prompts="1,6",
                    detail="1968 年纺织厂劳模合影；劳模奖状。",
                    memories="讲了在纺织厂三班倒、带徒弟、评上劳模的经过。",
                    feelings="讲到评劳模时笑了，讲到老伴去厂门口接她时又哭了。",
                    strengths="1,2,3",
                    strengths_notes="能吃苦、手艺好，带出过十几个徒弟；自己说“那时候我可是厂里的能人”。",
                    reflection="怀旧让她从“失去”转向“拥有过的”，效果比预想的好。",
                    next_steps="下次带剪纸工具。",
                    next_date="2026-03-18",
                ),
            ),
            (
                3,
                18,
                reminiscence(
                    3,
                    "2026-03-18",
                    "1",
                    "2",
                    {2: "3"},
                    before="3",
                    after="4",
                    theme="5",
                    prompts="2",
                    detail="剪纸剪刀和红纸；她年轻时剪的窗花样子。",
                    memories="讲了过年剪窗花、给邻居家孩子剪生肖。",
                    feelings="边剪边笑，说“手还没生”。",
                    strengths="2,3",
                    strengths_notes="手巧；愿意教人。",
                    reflection="让她“教”社工剪纸，角色从被照顾者变成了老师。",
                    next_steps="打听社区剪纸班的时间。",
                    next_date="2026-03-25",
                ),
            ),
        ),
        start=2,
    ):
        study.on(month, day, 15)
        study.run(f"session{n}", "reminiscence_session", "worker", answers)
    study.on(3, 25, 15)
    study.run(
        "session4",
        "session_record",
        "worker",
        session_record(
            4,
            "2026-03-25",
            "2",
            "3",
            {3: "2"},
            setting="3",
            present="1,7",
            work="陪同第一次去社区剪纸班，向老师介绍她会剪窗花。",
            techniques="8",
            response="1",
            notes="在班上剪了一条鲤鱼，被大家围着看。",
            observed="下楼时很吃力，但坚持自己走；回来的路上话多了。",
            reflection="陪同很重要，下次可以请对门邻居一起去。",
            next_steps="联系儿子，约一次视频会谈。",
            next_date="2026-04-01",
        ),
    )
    study.on(4, 1, 15)
    study.run(
        "session5",
        "session_record",
        "worker",
        session_record(
            5,
            "2026-04-01",
            "2",
            "4",
            {4: "2"},
            setting="5",
            present="1,3",
            work="和儿子视频会谈：让儿子了解母亲的状况，约定每周日晚上视频。",
            techniques="7",
            response="1",
            notes="儿子说不知道母亲这么难受，以为她“不想麻烦人”。",
            observed="母子俩都哭了，最后约好五一儿子回来。",
            reflection="儿子是重要资源，早点联系会更好。",
            next_steps="帮她联系纺织厂的老同事。",
            next_date="2026-04-08",
        ),
    )
    study.on(4, 8, 15)
    study.run(
        "session6",
        "reminiscence_session",
        "worker",
        reminiscence(
            6,
            "2026-04-08",
            "3",
            "2,4",
            {2: "4", 4: "3"},
            before="4",
            after="5",
            theme="6",
            prompts="1,3",
            detail="一起整理的“人生相册”；楚剧《葛麻》的唱段。",
            memories="把照片按年代排成相册，讲了文艺队演出、劳模、把儿子供上大学。",
            feelings="说“回头看看，这辈子也没白过”。",
            strengths="1,3,5",
            strengths_notes="坚韧、乐观，会唱会剪；自己总结了“三件最骄傲的事”。",
            reflection="巩固阶段用相册做总结，她能自己讲出人生的意义。",
            next_steps="约老同事张阿姨一起去剪纸班。",
            next_date="2026-04-22",
        ),
    )
    study.on(4, 22, 15)
    study.run(
        "session7",
        "session_record",
        "worker",
        session_record(
            7,
            "2026-04-22",
            "3",
            "3,4",
            {3: "4", 4: "4"},
            setting="3",
            present="1,6",
            work="和老同事张阿姨一起在剪纸班；回顾一个月的社区活动。",
            techniques="2,8",
            response="1",
            notes="这个月去了剪纸班四次；和张阿姨约好每周二一起去。",
            observed="在班上主动教新来的人。",
            reflection="同伴支持比社工陪同更持久。",
            next_steps="准备结案，做后测。",
            next_date="2026-04-29",
        ),
    )
    study.on(4, 29, 10)
    study.run(
        "scales_post",
        "elder_scales",
        "client",
        {
            **gds15("是 否 否 否 是 是 是 否 否 是 是 否 否 否 否"),
            "ucla3_1": "2",
            "ucla3_2": "1",
            "ucla3_3": "1",
        },
        phase="post",
    )
    study.on(4, 29, 15)
    study.run(
        "session8",
        "session_record",
        "worker",
        session_record(
            8,
            "2026-04-29",
            "4",
            "1,2,3,4",
            {1: "4", 2: "5", 3: "5", 4: "4"},
            setting="1",
            present="1",
            work="回顾服务，看前后测变化；处理离别。",
            techniques="2,4",
            response="1",
            notes="看到相册和剪纸作品，说“这两个月像换了个人”。",
            observed="家里老伴的照片旁边多了一幅她剪的“福”字。",
            reflection="结束前要把社区和邻居的支持交接好。",
            next_steps="写结案报告。",
            review="GDS-15 从 11 分降到 3 分；孤独感从 8 分降到 4 分；每周出门 4 到 5 天。",
        ),
    )
    study.on(4, 30, 9)
    study.sign("session8", comment="前后测变化明显。结案后请关注老人五一后儿子离开时的情绪。")
    study.on(5, 7, 10)
    study.run(
        "closing",
        "closing_report",
        "worker",
        {
            "closing_date": "今天",
            "closing_reason": "1",
            "sessions_held": "8",
            "goals_met": "2,3",
            "goals_partly_met": "1,4",
            "goals_evidence": "目标二：能说出自己的三件骄傲的事，没再说“没用”。目标三：剪纸班连续四周以上。目标一、四：哀伤还在，但能平静地讲；和儿子每周视频，老同事恢复来往。",
            "prepost_summary": "GDS-15：11 → 3（中度抑郁 → 正常）；UCLA 孤独感：8 → 4；问题关注程度：11 → 6。",
            "physio_concern": "2",
            "psych_concern": "2",
            "social_concern": "2",
            "client_view": "“我现在有事做了，也有人说话了。”",
            "family_view": "儿子：“妈妈电话里声音都不一样了。”对门邻居说她常常哼楚剧。",
            "satisfaction": "5",
            "worker_reflection": "怀旧治疗很适合这位老人；间接介入中儿子和老同事是关键。",
            "worker_reflection.model": "心理社会治疗模式的“人在情境中”帮助我同时看到她的身体、情绪和社会关系。",
            "referred": "否",
            "followup_plan": "一个月后上门回访；请社区网格员每周探望一次。",
            "followup_date": "2026-06-05",
        },
    )
    study.on(5, 7, 11)
    study.caseflow("case", "close", "EL-2026-03")
    study.on(6, 5, 15)
    study.run(
        "followup",
        "followup_visit",
        "worker",
        {
            "visit_date": "今天",
            "visit_way": "1",
            "held": "4",
            "now": "儿子五一回来住了五天，走后难过了几天，但还是照常去剪纸班。",
            "now.own_words": "“他有他的工作，我也有我的事。”",
            "new_concern": "否",
            "next_action": "1",
        },
    )


# --------------------------------------------------------------------------- study 4


def family_review(
    day: str,
    point: str,
    present: str,
    ratings: str,
    notes: Mapping[str, str],
    *,
    strengths: str,
    focus: str,
    next_step: str,
    next_date: str | None = None,
) -> dict[str, str]:
    """The answers of a family resilience review; ``ratings``: the nine 1-5 ratings in order
    (beliefs: meaning, outlook, transcendence; organisation: flexibility, connectedness,
    resources; communication: clarity, sharing, problem solving)."""
    keys = (
        "meaning",
        "outlook",
        "transcendence",
        "flexibility",
        "connectedness",
        "resources",
        "clarity",
        "sharing",
        "problem_solving",
    )
    answers = {
        "meeting_date": day,
        "review_point": point,
        "present": present,
        **{f"{k}_notes": notes[k] for k in keys},
        **{f"{k}_score": r for k, r in zip(keys, ratings.split(), strict=True)},
        "family_strengths": strengths,
        "focus_area": focus,
        "next_step": next_step,
    }
    if next_date:
        answers["next_review_date"] = next_date
    return answers


def study4(study: Study) -> None:
    """The family of a child in difficulty (Walsh's family resilience framework): work in
    three stages (beliefs, organisation, communication) recorded with an organisation's own
    session record whose stage list is Walsh's; family resilience reviews at the start, the
    middle and the end, whose domain scores the pre/post report compares."""
    study.on(3, 5, 9)
    open_case(study, "FAM-2026-04", "小杰一家：家庭抗逆力", "李娜", "陈丽")
    study.caseflow(
        "case",
        "profile",
        "FAM-2026-04",
        "--name",
        "小杰",
        "--birth-year",
        "2015",
        "--group",
        "family",
        "--caregiver",
        "父亲 赵强",
        "--worker",
        "李娜",
    )
    study.person("father", "赵强", "caregiver", member="caregiver")
    study.run(
        "consent",
        "consent",
        "worker",
        {
            "explained": "1,2,3,4,5",
            "questions_raised": "父亲问记录会不会影响低保审核。说明记录不会交给任何部门。",
            "agreed": "是",
            "agreed_by": "赵强，父亲",
            "agreed_role": "3",
            "consent_method": "2",
            "consent_date": "今天",
            "child_assent": "是",
        },
    )
    study.on(3, 5, 10)
    study.run(
        "intake",
        "intake_assessment",
        "worker",
        {
            "referral_date": "2026-03-01",
            "referral_source": "6",
            "client_group": "3",
            "client_age": "11",
            "referral_reason": "困境儿童项目的暑期夏令营中发现：小杰常和同学打架，说“我们家完了”；家庭抗逆力调查得分低。",
            "household": "father,grandparents",
            "parents_situation": "3",
            "parent_contact": "2",
            "main_caregiver": "2",
            "family_notes": "父亲去年在工地摔伤腰，失去工作；母亲到郑州打工，两个月回一次家；奶奶帮忙做饭。",
            "family_notes.relationships": "父母常在电话里吵架，孩子听得到。",
            "presenting_problem": "家里出事后，父亲自责、脾气大；孩子在学校打架，成绩下滑；家里分工乱，谁也不管谁。",
            "presenting_problem.own_words": "小杰：“都是因为爸爸摔伤了，我们家才这样。”",
            "physio_notes": "父亲腰伤未愈，不能干重活；孩子身体健康。",
            "physio_concern": "3",
            "psych_notes": "父亲觉得自己“没用”；孩子愤怒、自卑。",
            "psych_concern": "4",
            "social_notes": "家里很少和亲戚来往，怕人看不起；低保正在申请。",
            "social_concern": "4",
            "inner_strengths": "motivation,perseverance",
            "inner_strengths_notes": "父亲很在乎孩子，愿意改变；小杰喜欢做手工，会修自行车。",
            "outer_strengths": "family,school,community,policy",
            "outer_strengths_notes": "奶奶身体还好；社区有困境儿童项目；可以申请低保和临时救助。",
            "risks": "violence_home",
            "risk_detail": "父亲说有一次气急了打过孩子，之后很后悔。",
            "risk_detail.who_knows": "奶奶知道。",
            "risk_urgency": "2",
            "goals": "按 Walsh 家庭抗逆力框架：重建家庭信念，调整家庭组织，改善家庭沟通。",
            "goals_agreed": "是",
            "info_sources": "interview,scales,observation",
            "baseline_scores": "家庭抗逆力评估（前测）见家庭会面记录。",
            "plan_notes": "分三个阶段开展：第一阶段理性看待危机、发现家庭优势；第二阶段重新分工、恢复联结和社会支持；第三阶段打破沟通障碍、共同解决问题。",
        },
    )
    study.on(3, 6, 19)
    study.run(
        "review_start",
        "family_resilience",
        "worker",
        family_review(
            "今天",
            "1",
            "1,3,6",
            "2 1 2 2 2 1 1 2 1",
            {
                "meaning": "父亲：“都怪我，要不是我摔了……”孩子也这么想。",
                "outlook": "觉得日子“就这样了”，说不出一件顺利的事。",
                "transcendence": "父亲说最重要的是孩子能读书。",
                "flexibility": "做饭靠奶奶，孩子的作业没人管，父亲整天躺着看手机。",
                "connectedness": "妈妈每周打一次电话，常常吵起来。",
                "resources": "低保还在申请，医药费欠了两万多。",
                "clarity": "没人跟孩子讲过爸爸的伤和家里的钱怎么办。",
                "sharing": "孩子生气就摔门，父亲就吼。",
                "problem_solving": "上次孩子打架，父亲打了他一顿，事情没解决。",
            },
            strengths="奶奶说：“我们家人心不散。”",
            focus="1",
            next_step="每人说一件这个家以前挺过来的事，下次会面分享。",
            next_date="2026-03-13",
        ),
    )
    for title, area, activities, target in (
        (
            "一家人能理性看待这次变故，不再互相埋怨",
            "信念系统（Walsh）",
            "家庭故事会；重构“是谁的错”",
            "父子都能说出“这是全家一起面对的难关”",
        ),
        (
            "重新分工，家里的事有人管",
            "组织模式（Walsh）",
            "家务分工表；链接低保和临时救助",
            "分工坚持四周；低保办下来",
        ),
        (
            "每周一次家庭会议，孩子能说出自己的担心",
            "沟通与问题解决（Walsh）",
            "家庭会议；“我信息”练习；和妈妈视频",
            "连续四周开家庭会议，孩子至少说一次自己的担心",
        ),
    ):
        study.caseflow(
            "case",
            "goals",
            "FAM-2026-04",
            "add",
            title,
            "--area",
            area,
            "--activities",
            activities,
            "--target",
            target,
        )
    weeks = [
        ((3, 8), child_checkin("2", "2", "2", "0", "孩子在学校又和同学打架了。", wants_call="是")),
        ((3, 15), child_checkin("2", "2", "1", "0")),
        ((3, 22), child_checkin("3", "3", "1", "0")),
        ((3, 29), child_checkin("3", "1", "1", "0")),
        ((4, 5), child_checkin("3", "1", "1", "0")),
        ((4, 12), child_checkin("4", "1", "1", "0")),
        ((4, 19), child_checkin("4", "4", "1", "0")),
        ((4, 26), child_checkin("4", "1", "1", "0")),
    ]
    for n, ((month, day), answers) in enumerate(weeks, start=1):
        study.on(month, day, 20)
        study.run(f"week{n}", "child_checkin", "father", answers)
    records = [
        (
            (3, 13),
            session_record(
                1,
                "2026-03-13",
                "1",
                "1",
                {1: "2"},
                setting="1",
                present="1,2",
                work="家庭故事会：每人讲一件这个家以前挺过来的事；讨论“是不是爸爸的错”。",
                techniques="7,1",
                response="2",
                notes="奶奶讲了当年发洪水全家搬家的事；小杰第一次听说。",
                own_words="父亲：“我一直觉得是我拖累了这个家。”",
                observed="父亲讲到一半停下来，小杰偷偷看他。",
                reflection="重构归因不能急，先让家人看到曾经的韧性。",
                next_steps="请妈妈下次视频参加。",
                next_date="2026-03-20",
            ),
        ),
        (
            (3, 20),
            session_record(
                2,
                "2026-03-20",
                "1",
                "1",
                {1: "3"},
                setting="1",
                present="1,2,3",
                work="妈妈视频参加；一起把这次变故说成“全家的难关”，找家庭优势。",
                techniques="7,4",
                response="1",
                notes="妈妈说出去打工是为了这个家，不是嫌弃爸爸；父亲哭了。",
                observed="小杰主动把“家庭优势”写在了白板上：奶奶会做饭、爸爸会修东西、妈妈能吃苦。",
                reflection="母亲的参与是转折点。",
                next_steps="进入第二阶段：做家务分工表。",
                next_date="2026-03-27",
            ),
        ),
        (
            (3, 27),
            session_record(
                3,
                "2026-03-27",
                "2",
                "2",
                {2: "2"},
                setting="1",
                present="1,2",
                work="一起做家务分工表：父亲负责接送和辅导作业，小杰负责洗碗、喂鸡。",
                techniques="7",
                response="1",
                notes="父亲说“我还能做点事”；小杰抢着要修家里的自行车。",
                observed="分工表贴在了堂屋墙上。",
                reflection="让父亲重新承担角色，对他的自我价值很重要。",
                next_steps="陪父亲去社区申请低保和临时救助。",
                next_date="2026-04-03",
            ),
        ),
        (
            (4, 3),
            session_record(
                4,
                "2026-04-03",
                "2",
                "2",
                {2: "3"},
                setting="3",
                present="2",
                work="陪父亲到社区办理低保和临时救助；介绍社区公益岗位。",
                techniques="8",
                response="1",
                notes="临时救助当场受理；公益岗位（社区门卫）下月可以上岗。",
                observed="出门时父亲主动换了干净衣服。",
                reflection="经济压力减轻后，家庭的其他改变才有空间。",
                next_steps="进入第三阶段：家庭会议。",
                next_date="2026-04-17",
            ),
        ),
        (
            (4, 17),
            session_record(
                5,
                "2026-04-17",
                "3",
                "3",
                {3: "2"},
                setting="1",
                present="1,2,3",
                work="第一次家庭会议：练习用“我觉得……”说话；妈妈视频参加。",
                techniques="7,5",
                response="2",
                notes="小杰说“你们吵架的时候我很害怕”，父母都愣住了。",
                observed="会议开到一半父亲想走，被奶奶叫住。",
                reflection="要事先和父亲单独谈，让他有准备。",
                next_steps="每周六晚上开家庭会议，下次回顾。",
                next_date="2026-05-08",
            ),
        ),
        (
            (5, 8),
            session_record(
                6,
                "2026-05-08",
                "3",
                "2,3",
                {2: "4", 3: "4"},
                setting="1",
                present="1,2,3",
                work="回顾三次家庭会议；一起解决“周末谁带小杰去补课”的问题。",
                techniques="7,2",
                response="1",
                notes="三次家庭会议都开了；父母在电话里没再当着孩子吵架。",
                observed="小杰主持了一半的会议。",
                reflection="问题解决的练习要用家里真实的事。",
                next_steps="准备结案评估。",
                next_date="2026-05-22",
            ),
        ),
        (
            (5, 22),
            session_record(
                7,
                "2026-05-22",
                "4",
                "1,2,3",
                {1: "4", 2: "4", 3: "4"},
                setting="1",
                present="1,2,3",
                work="回顾三个阶段；一家人写下“我们家的约定”。",
                techniques="2,4",
                response="1",
                notes="约定：有事开家庭会议；不打孩子；每周和妈妈视频两次。",
                observed="父亲已经在社区公益岗位上班两周。",
                reflection="家庭抗逆力的三个部分是连在一起的，信念变了，分工和沟通才跟得上。",
                next_steps="做结案家庭评估；写结案报告。",
                review="父亲有了工作和角色，孩子打架的事这个月没再发生；家庭会议成了习惯。",
            ),
        ),
    ]
    for n, ((month, day), answers) in enumerate(records, start=1):
        study.on(month, day, 19)
        study.run(f"session{n}", "family_session_record", "worker", answers)
    study.on(4, 10, 19)
    study.run(
        "review_middle",
        "family_resilience",
        "worker",
        family_review(
            "今天",
            "2",
            "1,3,6,7",
            "3 3 3 3 3 2 2 3 2",
            {
                "meaning": "父亲说“摔伤是意外，不是谁的错”。",
                "outlook": "说起低保和公益岗位，觉得有盼头了。",
                "transcendence": "奶奶常说“人在，家就在”。",
                "flexibility": "分工表坚持了两周，偶尔忘。",
                "connectedness": "妈妈每周视频两次，吵得少了。",
                "resources": "临时救助到账，低保在公示。",
                "clarity": "爸爸跟孩子讲了自己的伤要多久好。",
                "sharing": "孩子生气时还是摔门，但会回来说。",
                "problem_solving": "还没有一起商量过事情。",
            },
            strengths="能一起扛，奶奶是家里的主心骨。",
            focus="3",
            next_step="开始每周家庭会议。",
        ),
    )
    study.on(5, 29, 19)
    study.run(
        "review_end",
        "family_resilience",
        "worker",
        family_review(
            "今天",
            "3",
            "1,2,3,6",
            "4 4 4 4 4 3 4 4 4",
            {
                "meaning": "一家人都说“这是我们家一起过的坎”。",
                "outlook": "父亲说年底想学个修车的手艺。",
                "transcendence": "小杰说“我们家的约定”最重要。",
                "flexibility": "分工表坚持了八周；父亲上班后奶奶多接送。",
                "connectedness": "每周视频两次，妈妈五一回家住了一周。",
                "resources": "低保办下来了；父亲有了公益岗位的收入。",
                "clarity": "家里的大事在家庭会议上说，孩子也知道。",
                "sharing": "孩子会说“我很生气，因为……”；父亲会说“爸爸刚才不对”。",
                "problem_solving": "补课、买自行车零件的事都是开会商量定的。",
            },
            strengths="“我们家有事一起商量，谁也不丢下谁。”",
            focus="3",
            next_step="继续每周家庭会议；暑假回访时看约定坚持得怎么样。",
        ),
    )
    study.on(4, 18, 9)
    study.sign(
        "session5",
        comment="孩子说出害怕是很重要的时刻。请记录父母当时的回应，并评估是否还有家庭暴力的风险。",
    )
    study.on(6, 2, 10)
    study.run(
        "closing",
        "closing_report",
        "worker",
        {
            "closing_date": "今天",
            "closing_reason": "1",
            "sessions_held": "7",
            "goals_met": "1,2,3",
            "goals_evidence": "家庭抗逆力评分：信念 1.67 → 4，组织 1.67 → 3.67，沟通 1.33 → 4；家庭会议坚持了六周；低保和公益岗位落实；这个月孩子没有打架。",
            "prepost_summary": "家庭抗逆力评分（九项平均）从 1.56 升到 3.89；问题关注程度从 11 降到 5。",
            "physio_concern": "2",
            "psych_concern": "2",
            "social_concern": "1",
            "client_view": "小杰：“现在家里不吵了，有事开会。”",
            "family_view": "父亲：“以前觉得天塌了，现在知道一家人能一起扛。”",
            "satisfaction": "5",
            "worker_reflection": "Walsh 框架的三个部分给了服务清楚的路线；经济支持是基础，需要更早链接。",
            "worker_reflection.ethics": "父亲打过孩子：评估风险后与家庭约定“不打孩子”，并告知督导持续跟进。",
            "referred": "否",
            "followup_plan": "暑假上门回访，看家庭约定的坚持情况。",
            "followup_date": "2026-06-30",
        },
    )
    study.on(6, 2, 11)
    study.caseflow("case", "close", "FAM-2026-04")
    study.on(6, 30, 19)
    study.run(
        "followup",
        "followup_visit",
        "worker",
        {
            "visit_date": "今天",
            "visit_way": "1",
            "held": "4",
            "now": "家庭会议改成两周一次，约定都还在；小杰期末进步了 20 名。",
            "now.others": "奶奶说父子俩一起修好了邻居家的三轮车。",
            "new_concern": "否",
            "next_action": "1",
        },
    )
