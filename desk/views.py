"""What the desk's pages show, read on the read-only connection and handed to the templates
as plain data. Each function asks the access policy first (through ``casework``), and audits the
view; a case or record the worker may not see raises ``casework.errors.NotFound``.

Records and case summaries (scores, check-in trends, compliance) come from ``templates.view``
and ``templates.render``, the same code as ``caseflow render``: the desk adds the one-line
timeline, schedules, web links, and the forms' choices.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from casework import flags as flag_actions
from casework import followups as followup_actions
from casework import notify, policy
from casework import schedules as schedule_actions
from casework import weblinks as weblink_actions
from casework.caseload import CaseRow, caseload
from casework.cases import case_for
from casework.identity import Actor
from casework.records import session_for
from flows.engine import Engine
from flows.model import ChoiceItem, NumberItem, ScaleItem, YesNoItem
from flows.recurrence import describe, next_due
from flows.registry import FlowRegistry
from storage.casefile import CaseFile, Profile
from storage.desk import DeskStore
from storage.records import Records
from storage.store import Case, Store
from templates.i18n import format_moment, label
from templates.render import Renderer
from templates.view import CaseSummary, Entry, SessionRecord, Views

__all__ = [
    "PURPOSE_FLOWS",
    "CasePage",
    "CaseloadPage",
    "FlagLine",
    "FlowChoice",
    "FollowUpLine",
    "HistoryLine",
    "InboxPage",
    "ProfileForm",
    "RecordPage",
    "ScheduleLine",
    "TimelineLine",
    "WebLinkLine",
    "case_page",
    "caseload_page",
    "inbox_page",
    "purpose_flow",
    "record_page",
]

KEY_ANSWERS = 3
TREND_CHARTS = 4


@dataclass(frozen=True, slots=True)
class CaseloadPage:
    rows: list[CaseRow]
    query: str
    is_supervisor: bool
    flows: list[FlowChoice]


@dataclass(frozen=True, slots=True)
class FlowChoice:
    id: str
    title: str
    respondent: str
    purpose: str | None = None


# Listing the installation's flows reads every flow file's metadata: kept for a while, so a
# page does not do it each time (a flow file added shows up within this many seconds).
FLOW_LIST_SECONDS = 30.0
_FLOW_LISTS: dict[tuple[int, str], tuple[float, list[FlowChoice]]] = {}


def _all_flows(registry: FlowRegistry, lang: str) -> list[FlowChoice]:
    key = (id(registry), lang)
    now = time.monotonic()
    cached = _FLOW_LISTS.get(key)
    if cached is not None and now - cached[0] < FLOW_LIST_SECONDS:
        return cached[1]
    out = []
    for path in registry.available():
        try:
            flow = registry.current(path.stem).engine.flow
        except Exception:  # a broken flow file is reported by `caseflow flows validate`
            flow = None
        if flow is not None:
            out.append(
                FlowChoice(flow.id, flow.text(flow.title, lang), flow.respondent, flow.purpose)
            )
    out.sort(key=lambda f: f.title)
    _FLOW_LISTS[key] = (now, out)
    return out


def flow_choices(registry: FlowRegistry, lang: str, respondents: set[str]) -> list[FlowChoice]:
    """The installation's flows answered by ``respondents``, by title."""
    return [f for f in _all_flows(registry, lang) if f.respondent in respondents]


# The bundled flow the case file offers for each purpose; an installation without it gets
# its first flow of that purpose (by title).
PURPOSE_FLOWS = {"consent": "consent", "closing": "closing_report", "follow_up": "followup_visit"}


def purpose_flow(registry: FlowRegistry, lang: str, purpose: str) -> FlowChoice | None:
    """The worker's flow that records the case's consent, closes it, or follows it up."""
    found = [
        f for f in _all_flows(registry, lang) if f.purpose == purpose and f.respondent == "worker"
    ]
    preferred = [f for f in found if f.id == PURPOSE_FLOWS.get(purpose)]
    return next(iter(preferred or found), None)


def caseload_page(
    store: Store, registry: FlowRegistry, actor: Actor, now: datetime, query: str, lang: str
) -> CaseloadPage:
    rows = caseload(store, actor, now, query=query)
    team = DeskStore(store).team(actor.person_id)
    checkins = flow_choices(registry, lang, {"caregiver", "client"})
    return CaseloadPage(rows, query, bool(team) or actor.role == "supervisor", checkins)


# --------------------------------------------------------------------------- case page


@dataclass(frozen=True, slots=True)
class TimelineLine:
    entry: Entry
    stage: str | None
    key_answers: list[str]
    sign_comment: str | None


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    id: int
    member: str
    flow_title: str
    rule: str
    state: str
    next_due: str | None


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class WebLinkLine:
    """A caregiver or client and their web link (never its token: that is not kept)."""

    person_id: int
    name: str
    role: str
    since: str | None


@dataclass(frozen=True, slots=True)
class ProfileForm:
    """The profile form's values: the profile as stored, or for a case opened before
    profiles, what it was opened with (saving the form moves them into the profile)."""

    client_name: str
    age: str
    """The year of birth, or an age the case was opened with: the form takes either."""
    group: str
    caregiver: str
    worker_id: int | None


@dataclass(frozen=True, slots=True)
class CasePage:
    case: Case
    summary: CaseSummary
    facts: list[tuple[str, str]]
    """What the case was opened with beyond its profile: its check-in flow."""
    lines: list[TimelineLine]
    schedules: list[ScheduleLine]
    respondents: list[Member]
    flows: list[FlowChoice]
    may_schedule: bool
    may_invite: bool
    may_export: bool
    may_view_schedules: bool
    rights: dict[str, bool] = field(default_factory=dict)
    interviews: list[FlowChoice] = field(default_factory=list)
    weblinks: list[WebLinkLine] = field(default_factory=list)
    profile_form: ProfileForm | None = None
    workers: list[Member] = field(default_factory=list)
    """Who may be the responsible worker: the case's workers."""
    closing_report: str | None = None
    """An open case's closing report written since it was (re)opened: it may close."""
    purpose_flows: dict[str, FlowChoice] = field(default_factory=dict)
    """The worker's flows for the case file: ``consent``, ``closing``, ``follow_up``."""
    paused_by_closing: list[ScheduleLine] = field(default_factory=list)
    """A closed case's check-ins that closing paused (those still on the case)."""
    client_name: str | None = None
    """The client's name as the profile says, or as a case opened before profiles was."""
    born: str | None = None
    """The client's year of birth and age as the profile says, or the age a case opened
    before profiles was opened with."""


def _engine(views: Views, row: dict[str, Any]) -> Engine | None:
    return views.engine(str(row["flow_id"]), int(row["flow_version"]))


def _key_answers(engine: Engine | None, answers: list[dict[str, Any]], lang: str) -> list[str]:
    """A few answers that say how a session went: choices, scales, yes/no and numbers of the
    flow's own questions (no free text, no scale items, no probes), in the flow's order."""
    if engine is None:
        return []
    by_id = {a["question_id"]: a for a in answers if a["status"] == "answered"}
    out = []
    for q in engine.questions:
        row = by_id.get(q.id)
        if row is None or q.parent is not None or q.instrument is not None:
            continue
        if not isinstance(q.item, ChoiceItem | ScaleItem | YesNoItem | NumberItem):
            continue
        out.append(f"{q.item.label(lang)}{label('colon', lang)}{row['display'] or ''}")
        if len(out) == KEY_ANSWERS:
            break
    return out


def _stage_of(engine: Engine | None, state: str, lang: str) -> str | None:
    if engine is None:
        return None
    question = engine.compiled.by_id.get(state)
    if question is not None:
        return engine.flow.text(question.stage.title, lang)
    return None


# What a case opened before profiles keeps among its facts: shown (and offered to the profile
# form) as the client's name and age until the profile holds them.
OPENING_NAMES = ("child_name", "client_name")


def _facts(registry: FlowRegistry, case: Case, lang: str) -> list[tuple[str, str]]:
    names = {"checkin_flow": {"en": "Check-in", "zh": "小调查"}}
    out = []
    for key, value in case.facts.items():
        if value in (None, "") or key in (*OPENING_NAMES, "age"):
            continue  # the profile's lines say these
        text = names.get(key, {}).get(lang) or key
        if key == "checkin_flow" and isinstance(value, str):
            value = _flow_title(registry, value, lang)
        out.append((text, str(value)))
    return out


def _client_name(case: Case, profile: Profile | None) -> str | None:
    if profile is not None and profile.client_name:
        return profile.client_name
    found = [str(case.facts[k]) for k in OPENING_NAMES if case.facts.get(k)]
    return found[0] if found else None


def _opening_age(case: Case) -> int | None:
    age = case.facts.get("age")
    return age if isinstance(age, int) and not isinstance(age, bool) else None


def _profile_form(case: Case, profile: Profile | None) -> ProfileForm:
    if profile is not None and profile.birth_year:
        age = str(profile.birth_year)
    else:
        opening = _opening_age(case)
        age = "" if opening is None else str(opening)
    return ProfileForm(
        client_name=_client_name(case, profile) or "",
        age=age,
        group=(profile.client_group if profile else None) or "",
        caregiver=(profile.caregiver if profile else None) or "",
        worker_id=profile.worker_id if profile else None,
    )


def _born(case: Case, profile: Profile | None, today: date, lang: str) -> str | None:
    if profile is not None and profile.birth_year:
        return label("born_age", lang, year=profile.birth_year, age=profile.age(today))
    opening = _opening_age(case)
    return None if opening is None else str(opening)


def _paused_by_closing(
    casefile: CaseFile, case: Case, schedules: list[ScheduleLine]
) -> list[ScheduleLine]:
    if case.status != "closed":
        return []
    closings = [e for e in casefile.events(case.id) if e["kind"] == "closed"]
    if not closings:
        return []
    paused = {int(i) for i in json.loads(closings[-1]["schedules"] or "[]")}
    return [s for s in schedules if s.id in paused]


def case_page(
    store: Store,
    registry: FlowRegistry,
    actor: Actor,
    code: str,
    now: datetime,
    lang: str,
    tz: tzinfo,
) -> CasePage:
    case = case_for(store, actor, code, "case.view")
    records = Records(store)
    views = Views(records, registry, tz)
    summary = views.case(case, lang, now)
    sessions = DeskStore(store).sessions_summary(case.id)
    answers = records.current_answers(s["id"] for s in sessions)
    by_id = {s["id"]: s for s in sessions}
    lines = []
    for entry in reversed(summary.timeline):
        row = by_id[entry.session_id]
        engine = _engine(views, row)
        stage = None
        if row["status"] in ("active", "paused"):
            stage = _stage_of(engine, str(row["resume_state"] or row["state"]), lang)
        key = [] if entry.note else _key_answers(engine, answers[entry.session_id], lang)
        lines.append(TimelineLine(entry, stage, key, row.get("sign_comment")))

    def allowed(action: str) -> bool:
        return policy.allowed(store, actor, action, case.id)

    schedule_lines: list[ScheduleLine] = []
    may_view_schedules = allowed("schedule.view")
    if may_view_schedules:
        for s in schedule_actions.of_case(store, actor, case.id):
            nxt = next_due(s.rule, max(now, s.active_from)) if s.state == "active" else None
            schedule_lines.append(
                ScheduleLine(
                    id=s.id,
                    member=str(store.person(s.person_id)["name"]),
                    flow_title=_flow_title(registry, s.flow_id, lang),
                    rule=describe(s.rule),
                    state=s.state,
                    next_due=format_moment(nxt.isoformat(), lang, tz) if nxt else None,
                )
            )
    respondents = [
        Member(int(m["id"]), str(m["name"]), str(m["role"]))
        for m in records.members(case.id)
        if m["role"] in ("caregiver", "client")
    ]
    rights = {
        "interview": allowed("interview.run"),
        "link": allowed("member.link"),
        "profile": allowed("case.profile.edit"),
        "consent": allowed("consent.record"),
        "plan": allowed("plan.edit"),
        "close": allowed("case.close"),
    }
    casefile = CaseFile(store)
    profile = casefile.profile(case.id)
    closed = case.status == "closed"
    # What a worker runs in the browser: their own flows, a client's scales or check-in
    # read aloud, an informal-contact note (a caregiver answers their own). A closed case
    # takes only a follow-up.
    interviews = (
        [
            f
            for f in flow_choices(registry, lang, {"worker", "client", "anyone"})
            if not closed or f.purpose == "follow_up"
        ]
        if rights["interview"]
        else []
    )
    purpose_flows = {}
    if rights["interview"]:
        for purpose in PURPOSE_FLOWS:
            found = purpose_flow(registry, lang, purpose)
            if found is not None:
                purpose_flows[purpose] = found
    weblinks = []
    if rights["link"]:
        weblinks = [
            WebLinkLine(
                state.member.person_id,
                state.member.name,
                state.member.role,
                format_moment(state.link.created_at, lang, tz) if state.link else None,
            )
            for state in weblink_actions.link_states(store, actor, case)
        ]
    store.audit(actor.person_id, "desk.case.view", "case", case.id, case.id)
    return CasePage(
        case=case,
        summary=summary,
        facts=_facts(registry, case, lang),
        lines=lines,
        schedules=schedule_lines,
        respondents=respondents,
        flows=flow_choices(registry, lang, {"caregiver", "client"}),
        may_schedule=allowed("schedule.create") and case.status != "closed",
        may_invite=allowed("member.invite"),
        may_export=allowed("record.export"),
        may_view_schedules=may_view_schedules,
        rights=rights,
        interviews=interviews,
        weblinks=weblinks,
        profile_form=_profile_form(case, profile) if rights["profile"] else None,
        workers=[
            Member(int(m["id"]), str(m["name"]), str(m["role"]))
            for m in records.members(case.id)
            if m["role"] in ("worker", "supervisor")
        ],
        closing_report=casefile.closing_report(case.id) if not closed else None,
        purpose_flows=purpose_flows,
        paused_by_closing=_paused_by_closing(casefile, case, schedule_lines),
        client_name=_client_name(case, profile),
        born=_born(case, profile, now.astimezone(tz).date(), lang),
    )


def _flow_title(registry: FlowRegistry, flow_id: str, lang: str) -> str:
    """A flow's title as its file says now; its id when the file has gone since."""
    for flow in _all_flows(registry, lang):
        if flow.id == flow_id:
            return flow.title
    return flow_id


# --------------------------------------------------------------------------- record page


@dataclass(frozen=True, slots=True)
class HistoryLine:
    question: str
    revision: int
    answer: str
    status: str
    at: str
    by: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class RecordPage:
    session_id: str
    case_code: str
    record: SessionRecord
    html: str
    status: str
    signed: bool
    may_sign: bool
    may_amend: bool
    questions: list[tuple[str, str]]
    history: list[HistoryLine]


def record_page(
    store: Store, renderer: Renderer, actor: Actor, session_id: str, lang: str, tz: tzinfo
) -> RecordPage:
    info = session_for(store, actor, session_id, "record.view")
    view = renderer.views.session(info.id, lang)
    html = renderer.record_html(view)
    rows = renderer.records.answer_rows(info.id)
    labels = {a.question_id: a.label for s in view.stages for a in s.answers}
    labels.update(
        {p.question_id: p.label for s in view.stages for a in s.answers for p in a.probes}
    )
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["question_id"]] = counts.get(row["question_id"], 0) + 1
    history = [
        HistoryLine(
            question=labels.get(row["question_id"], row["question_id"]),
            revision=int(row["revision"]),
            answer=str(row["display"] or ""),
            status=str(row["status"]),
            at=format_moment(row["answered_at"], lang, tz),
            by=str(row["changed_by_name"] or "?"),
            reason=row["reason"],
        )
        for row in rows
        if counts[row["question_id"]] > 1
    ]
    completed = info.status == "completed"
    signed = view.signed is not None
    questions = [
        (a.question_id, a.label)
        for s in view.stages
        for top in s.answers
        for a in (top, *top.probes)
        if a.status == "answered" and a.voice is None
    ]
    store.audit(actor.person_id, "desk.record.view", "session", info.id, info.case_id)
    return RecordPage(
        session_id=info.id,
        case_code=view.case_code,
        record=view,
        html=html,
        status=info.status,
        signed=signed,
        may_sign=completed
        and not signed
        and policy.allowed(store, actor, "record.sign", info.case_id),
        may_amend=completed and policy.allowed(store, actor, "record.amend", info.case_id),
        questions=questions,
        history=history,
    )


# --------------------------------------------------------------------------- inbox


@dataclass(frozen=True, slots=True)
class FlagLine:
    id: int
    case_code: str
    session_id: str
    severity: str
    severity_label: str
    raised: str
    question: str
    answer: str
    message: str
    escalated: bool


@dataclass(frozen=True, slots=True)
class FollowUpLine:
    id: int
    case_code: str
    text: str
    due: str
    overdue: bool
    owner: str


@dataclass(frozen=True, slots=True)
class InboxPage:
    flags: list[FlagLine]
    followups: list[FollowUpLine]


def _in(texts: dict[str, str] | None, lang: str) -> str:
    if not texts:
        return ""
    return texts.get(lang) or next(iter(texts.values()), "")


def inbox_page(store: Store, actor: Actor, now: datetime, lang: str, tz: tzinfo) -> InboxPage:
    """Flags on the worker's cases that nobody has acknowledged yet (urgent first), and
    open follow-ups due today or overdue (oldest first). The policy decides per case
    (``flag.view``, ``followup.view``); reading them is audited per case."""
    order = {"urgent": 0, "attention": 1, "warning": 1, "info": 2}
    flags = sorted(
        flag_actions.list_flags(store, actor, open_only=True),
        key=lambda f: (order.get(f.severity, 3), f.raised_at),
    )
    today = notify.local_day(now).isoformat()
    tasks = [
        t
        for t in followup_actions.list_followups(store, actor, open_only=True)
        if t.due_on <= today
    ]
    store.audit(
        actor.person_id,
        "desk.inbox.view",
        "person",
        actor.person_id,
        flags=len(flags),
        followups=len(tasks),
    )
    return InboxPage(
        flags=[
            FlagLine(
                id=f.id,
                case_code=f.case_code,
                session_id=f.session_id,
                severity=f.severity,
                severity_label=label(f"severity_{f.severity}", lang)
                if f.severity in ("urgent", "attention", "info", "warning")
                else f.severity,
                raised=format_moment(f.raised_at, lang, tz),
                question=_in(f.question, lang),
                answer=_in(f.answer, lang),
                message=_in(f.message, lang),
                escalated=f.escalated_to is not None,
            )
            for f in flags
        ],
        followups=[
            FollowUpLine(
                id=t.id,
                case_code=t.case_code,
                text=t.text,
                due=t.due_on,
                overdue=t.due_on < today,
                owner=t.owner_name,
            )
            for t in tasks
        ],
    )
