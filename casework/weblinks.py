"""A member's personal web link: their own check-ins in a phone's browser, without Telegram.

A worker gives a caregiver or client of a case a link (``caseflow link CASE --member NAME``,
or the desk's case page); the worker forwards it any way they like (WeChat, SMS, a printed
QR code). The link's token is the credential: 256 random bits, shown once when the link is
made, stored only as its SHA-256. It opens only that member's check-ins on that case, is
checked again on every request, and can be revoked or replaced (the old one stops working
at once). Every use that is refused is audited, and refusals look like a link that does
not exist.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from casework import policy
from casework.errors import Invalid, NotFound
from casework.identity import Actor
from casework.interviews import Interviews, Opened
from flows.engine import Reply, Turn
from flows.recurrence import Recurrence
from flows.registry import FlowRegistry
from storage.schedules import Schedules
from storage.store import Case, Store
from storage.store import NotFound as StoreNotFound
from storage.weblinks import LinkExists, WebLink, WebLinks

CHANNEL = "web"
PATH_PREFIX = "/r/"
TOKEN_BYTES = 32  # 43 characters of [A-Za-z0-9_-]
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
MEMBER_ROLES = ("caregiver", "client")
LANGUAGES = ("zh", "en")

TEXTS: dict[str, dict[str, str]] = {
    "due_with_link": {
        "en": "Hello {name}. It is time for the check-in: {title}. It takes a few minutes; you "
        "can answer until {close}. Open this link to answer:\n{url}",
        "zh": "{name}，您好！现在可以填写“{title}”了，只要几分钟，{close} 前填好就行。"
        "请点开这个链接填写：\n{url}",
    },
    "due": {
        "en": "Hello {name}. It is time for the check-in: {title}. It takes a few minutes; you "
        "can answer until {close}. Please open the link I sent you before.",
        "zh": "{name}，您好！现在可以填写“{title}”了，只要几分钟，{close} 前填好就行。"
        "请点开我之前发给您的链接填写。",
    },
    "link": {
        "en": "Hello {name}. This is your own link for the check-ins: open it whenever it is "
        "time to answer. Please keep it to yourself.\n{url}",
        "zh": "{name}，您好！这是您专用的填写链接，以后每次要填小调查，点开它就行。"
        "请不要转发给别人。\n{url}",
    },
    "nothing_due": {
        "en": "Hello {name}. There is no check-in to answer right now.",
        "zh": "{name}，您好！现在没有要填写的小调查。",
    },
}


def _text(key: str, lang: str, **params: object) -> str:
    texts = TEXTS[key]
    return (texts.get(lang) or texts["en"]).format(**params)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def path_for(token: str) -> str:
    """The link's path on the desk: ``/r/<token>``."""
    return f"{PATH_PREFIX}{token}"


def url_for(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + path_for(token)


@dataclass(frozen=True, slots=True)
class Member:
    """A caregiver or client of a case, as a link is made for them."""

    person_id: int
    name: str
    role: str
    lang: str
    on_telegram: bool


@dataclass(frozen=True, slots=True)
class Issued:
    """A link just made: the only time its token exists outside the member's hands."""

    token: str
    link: WebLink
    member: Member

    @property
    def path(self) -> str:
        return path_for(self.token)

    def url(self, base_url: str) -> str:
        return url_for(base_url, self.token)


@dataclass(frozen=True, slots=True)
class LinkState:
    """A member and their link, for the case page (never the token: it is not kept)."""

    member: Member
    link: WebLink | None


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who a link lets in: one member of one case."""

    person_id: int
    name: str
    lang: str
    role: str
    case: Case
    link_id: int


@dataclass(frozen=True, slots=True)
class Due:
    """A scheduled check-in the member can answer now."""

    schedule_id: int
    due_at: datetime
    close_at: datetime
    flow_id: str
    title: str
    close_text: str
    session_id: str | None  # the session it was started with, if any


# -- members ---------------------------------------------------------------------------------


def _member(store: Store, case: Case, person_id: int) -> Member:
    relations = store.case_relations(case.id, person_id) & set(MEMBER_ROLES)
    if not relations:
        raise Invalid(f"person {person_id} is not a caregiver or client on case {case.code}")
    person = store.person(person_id)
    return Member(
        person_id,
        str(person["name"]),
        sorted(relations)[0],
        str(person["lang"] or "en"),
        person["telegram_user_id"] is not None,
    )


def members(store: Store, case: Case) -> list[Member]:
    """The caregivers and clients of a case: the people a link can be made for."""
    out: list[Member] = []
    for row in store.members(case.id):
        if row["role"] in MEMBER_ROLES and not any(m.person_id == row["id"] for m in out):
            out.append(_member(store, case, int(row["id"])))
    return out


def find_member(store: Store, case: Case, who: str) -> Member:
    """A caregiver or client of the case by name (any case) or ``#id``; Invalid when there
    is none or more than one, with the names there are."""
    wanted = who.strip()
    found = members(store, case)
    if wanted.startswith("#") and wanted[1:].isdecimal():
        matches = [m for m in found if m.person_id == int(wanted[1:])]
    else:
        matches = [m for m in found if m.name.casefold() == wanted.casefold()]
    if len(matches) == 1:
        return matches[0]
    listed = ", ".join(f"{m.name} (#{m.person_id}, {m.role})" for m in found) or "none"
    if matches:
        raise Invalid(f"more than one member is called {wanted!r}: use #ID ({listed})")
    raise Invalid(f"no caregiver or client {wanted[:40]!r} on case {case.code} (members: {listed})")


def add_member(
    store: Store, actor: Actor | int, case: Case, name: str, role: str, lang: str
) -> Member:
    """A new caregiver or client on the case who answers by web link (no Telegram)."""
    policy.require(store, actor, "member.link", case.id)
    name = " ".join(name.split())
    if not 0 < len(name) <= 64:
        raise Invalid("give the member a name of 1 to 64 characters")
    if role not in MEMBER_ROLES:
        raise Invalid(f"a member is a caregiver or a client, not {role[:20]!r}")
    if lang not in LANGUAGES:
        raise Invalid(f"language {lang[:10]!r}: use zh or en")
    if any(m.name.casefold() == name.casefold() for m in members(store, case)):
        raise Invalid(f"case {case.code} already has a member called {name!r}")
    person = actor if isinstance(actor, int) else actor.person_id
    with store.atomic():
        person_id = store.add_person(name, role, lang=lang, actor_id=person)
        store.add_member(case.id, person_id, role, person)
    return _member(store, case, person_id)


# -- links -----------------------------------------------------------------------------------


def create(store: Store, actor: Actor | int, case: Case, member_id: int, now: datetime) -> Issued:
    """A new link for a caregiver or client of the case; Invalid when they have one already
    (revoke or replace it: the token of a link is not kept, so it cannot be shown again)."""
    policy.require(store, actor, "member.link", case.id)
    member = _member(store, case, member_id)
    token = _new_token()
    person = actor if isinstance(actor, int) else actor.person_id
    try:
        link = WebLinks(store).create(case.id, member_id, token_hash(token), person, now)
    except LinkExists as exc:
        raise Invalid(f"{member.name} already has a link on case {case.code}: replace it") from exc
    return Issued(token, link, member)


def replace(store: Store, actor: Actor | int, case: Case, member_id: int, now: datetime) -> Issued:
    """A new link for the member; their old one (if any) stops working at once."""
    policy.require(store, actor, "member.link", case.id)
    member = _member(store, case, member_id)
    token = _new_token()
    person = actor if isinstance(actor, int) else actor.person_id
    link = WebLinks(store).replace(case.id, member_id, token_hash(token), person, now)
    return Issued(token, link, member)


def revoke(store: Store, actor: Actor | int, case: Case, member_id: int, now: datetime) -> bool:
    """Stop the member's link working; False when they had none."""
    policy.require(store, actor, "member.link", case.id)
    links = WebLinks(store)
    live = links.live(case.id, member_id)
    if live is None:
        return False
    person = actor if isinstance(actor, int) else actor.person_id
    return links.revoke(live.id, person, now)


def link_states(store: Store, actor: Actor | int, case: Case) -> list[LinkState]:
    """Each caregiver and client of the case with their live link (None: no link)."""
    policy.require(store, actor, "case.view", case.id)
    links = WebLinks(store)
    return [LinkState(m, links.live(case.id, m.person_id)) for m in members(store, case)]


def resolve(store: Store, token: str) -> Visitor:
    """Who the link lets in, checked afresh: the token names a live link, its case is open,
    and its person is still a caregiver or client there. NotFound otherwise (audited; a
    token is never written anywhere)."""
    link = WebLinks(store).by_hash(token_hash(token)) if TOKEN_SHAPE.fullmatch(token) else None
    if link is None:
        store.audit_refusal(None, "weblink.use", "weblink", None)
        raise NotFound("link")
    case: Case | None = None
    member: Member | None = None
    try:
        case = store.case(link.case_id)
        member = _member(store, case, link.person_id)
    except (StoreNotFound, Invalid):
        pass
    if not link.live or case is None or member is None or case.status != "open":
        store.audit_refusal(link.person_id, "weblink.use", "weblink", link.id, link.case_id)
        raise NotFound("link")
    return Visitor(member.person_id, member.name, member.lang, member.role, case, link.id)


def set_language(store: Store, visitor: Visitor, lang: str) -> None:
    if lang not in LANGUAGES:
        raise Invalid(lang[:10])
    store.set_language(visitor.person_id, lang)
    store.audit(visitor.person_id, "person.language", "person", visitor.person_id, visitor.case.id)


# -- check-ins --------------------------------------------------------------------------------


def _local(moment: datetime, rule: Recurrence, lang: str) -> str:
    local = moment.astimezone(rule.zone)
    if lang == "zh":
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local:%a %d %b %H:%M}"


def flow_title(registry: FlowRegistry, flow_id: str, lang: str) -> str:
    try:
        flow = registry.current(flow_id).engine.flow
    except Exception:  # a flow file gone or broken still lets the member see the rest
        return flow_id
    return flow.text(flow.title, lang)


def due_checkins(
    store: Store, registry: FlowRegistry, person_id: int, case: Case, now: datetime, lang: str
) -> list[Due]:
    """The member's scheduled check-ins on the case that are open now, earliest first."""
    out: list[Due] = []
    for checkin in Schedules(store).open_for(case.id, person_id, now):
        started = checkin.first("started")
        rule = checkin.schedule.rule
        out.append(
            Due(
                schedule_id=checkin.schedule.id,
                due_at=checkin.due_at,
                close_at=checkin.close_at,
                flow_id=checkin.schedule.flow_id,
                title=flow_title(registry, checkin.schedule.flow_id, lang),
                close_text=_local(checkin.close_at, rule, lang),
                session_id=None if started is None else started["session_id"],
            )
        )
    return out


def open_due(
    interviews: Interviews, visitor: Visitor, schedule_id: int, due_at: datetime, now: datetime
) -> Opened:
    """Start (or carry on) a due check-in; NotFound when it is not the member's or not open
    now. The session is linked to the check-in, as Telegram's Start button does."""
    store = interviews.store
    schedules = Schedules(store)
    wanted = due_at.astimezone(UTC)
    checkin = next(
        (
            c
            for c in schedules.open_for(visitor.case.id, visitor.person_id, now)
            if c.schedule.id == schedule_id and c.due_at == wanted
        ),
        None,
    )
    if checkin is None:
        store.audit_refusal(
            visitor.person_id, "checkin.open", "schedule", schedule_id, visitor.case.id
        )
        raise NotFound("check-in")
    with store.atomic():
        opened = interviews.open(
            checkin.schedule.flow_id, visitor.case, visitor.person_id, CHANNEL, lang=visitor.lang
        )
        schedules.record(schedule_id, wanted, "due", now)
        schedules.link_session(schedule_id, wanted, opened.session.id, now)
    return opened


def resume(interviews: Interviews, visitor: Visitor, session_id: str) -> Turn:
    """Carry on one of the member's paused sessions on the link's case, wherever it was
    started; NotFound when it is not theirs there or not paused."""
    store = interviews.store
    try:
        info = store.session_info(session_id[:64])
    except StoreNotFound as exc:
        raise NotFound("session") from exc
    if (
        info.respondent_id != visitor.person_id
        or info.case_id != visitor.case.id
        or info.status != "paused"
    ):
        store.audit_refusal(visitor.person_id, "session.resume", "session", info.id, info.case_id)
        raise NotFound("session")
    return interviews.reply(info.id, visitor.person_id, Reply(text="/resume"), CHANNEL)


def invitation_text(
    store: Store,
    registry: FlowRegistry,
    actor: Actor | int,
    case: Case,
    member_id: int,
    now: datetime,
    url: str | None = None,
) -> str:
    """What the worker forwards to the member (WeChat, SMS), in the member's language: the
    check-in open now and until when, with the link when it is given (a link is shown only
    when made, so later texts ask the member to open the one they have)."""
    policy.require(store, actor, "member.link", case.id)
    member = _member(store, case, member_id)
    lang = member.lang
    due = due_checkins(store, registry, member_id, case, now, lang)
    if due:
        first = due[0]
        key = "due_with_link" if url else "due"
        title, close = first.title, first.close_text
        return _text(key, lang, name=member.name, title=title, close=close, url=url)
    if url:
        return _text("link", lang, name=member.name, url=url)
    return _text("nothing_due", lang, name=member.name)


__all__ = [
    "CHANNEL",
    "PATH_PREFIX",
    "Due",
    "Issued",
    "LinkState",
    "Member",
    "Visitor",
    "add_member",
    "create",
    "due_checkins",
    "find_member",
    "flow_title",
    "invitation_text",
    "link_states",
    "members",
    "open_due",
    "path_for",
    "replace",
    "resolve",
    "resume",
    "revoke",
    "set_language",
    "token_hash",
    "url_for",
]
