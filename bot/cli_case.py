"""``caseflow case profile|show|consent|goals|close|reopen``: the case file from the command
line, as the worker linked to the calling OS account (``bot/cli_identity.py``).

``bot/cli.py`` calls :func:`register` with its subparsers. Every handler takes the parsed
arguments and returns the exit code: 0 done, 1 refused by the case file's rules (a closed
case, no closing report yet), 2 a usage error (no such case or goal, a value the case file
cannot hold, with the reason), 3 the caller may not do that on the case (refused and
audited by the access policy, casework/policy.py).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from bot.cli_identity import NOT_ALLOWED, caller
from casework import casefile as casefile_actions
from casework.cases import case_for, open_case
from casework.errors import Invalid, NotAllowed
from casework.errors import NotFound as Refused
from casework.identity import Actor
from flows.model import CONSENT_METHODS, CONSENT_ROLES
from storage.casefile import (
    CLIENT_GROUPS,
    GOAL_STATUSES,
    CaseFile,
)
from storage.store import Case, StorageError, Store
from templates.i18n import coded, label

__all__ = ["register"]


def _say(message: str) -> None:
    print(f"caseflow: {message}", file=sys.stderr)


def _db(args: argparse.Namespace) -> str:
    if args.db:
        return str(args.db)
    from bot.cli import default_db  # here, not at import: bot.cli imports this module

    return default_db()


def _case(store: Store, actor: Actor, code: str, action: str) -> Case | int:
    """The case, if the caller may do ``action`` on it; else the exit code, said."""
    code = code.strip().upper()
    if not store.case_exists(code):
        _say(f"no case {code!r}.")
        return 2
    try:
        return case_for(store, actor, code, action)
    except Refused:  # refused and audited by the policy
        _say(f"you may not do that on case {code}.")
        return NOT_ALLOWED


# --------------------------------------------------------------------------- profile


def cmd_profile(args: argparse.Namespace) -> int:
    """Set the client's profile; a new case code makes a new case with you as its worker."""
    store = Store.open(_db(args))
    try:
        who = caller(store)
        if who is None:
            return NOT_ALLOWED
        code = args.case.strip().upper()
        if not store.case_exists(code):
            try:
                open_case(store, who, code)
            except (NotAllowed, Invalid) as exc:
                _say(f"you may not open case {code} ({exc}).")
                return NOT_ALLOWED
            print(f"New case {code}, with you as its worker.")
        case = _case(store, who, code, "case.profile.edit")
        if isinstance(case, int):
            return case
        changes: dict[str, Any] = {}
        if args.name is not None:
            changes["client_name"] = args.name
        if args.birth_year is not None:
            changes["birth_year"] = args.birth_year
        if args.age is not None:
            changes["birth_year"] = date.today().year - args.age
        if args.group is not None:
            changes["client_group"] = args.group
        if args.caregiver is not None:
            changes["caregiver"] = args.caregiver
        if args.worker is not None:
            worker = _person(store, case, args.worker)
            if worker is None:
                return 2
            changes["worker_id"] = worker
        try:
            casefile_actions.set_profile(store, who, case, **changes)
        except Invalid as exc:
            _say(f"{exc}.")
            return 2
        _show(store, store.case(case.id), args.lang or who.lang)
        return 0
    finally:
        store.close()


def _person(store: Store, case: Case, given: str) -> int | None:
    """A worker of the case by id or name (case-insensitive)."""
    members = [m for m in store.members(case.id) if m["role"] in ("worker", "supervisor")]
    wanted = given.strip().casefold()
    found = [m for m in members if str(m["id"]) == wanted or str(m["name"]).casefold() == wanted]
    if len(found) == 1:
        return int(found[0]["id"])
    listing = ", ".join(f"{m['name']} (id {m['id']})" for m in members) or "none"
    _say(f"no single worker {given!r} on case {case.code}; its workers: {listing}.")
    return None


# --------------------------------------------------------------------------- show


def _show(store: Store, case: Case, lang: str) -> None:
    casefile = CaseFile(store)
    profile = casefile.profile(case.id)
    sep = label("colon", lang)
    status = coded("case_status", case.status, lang)
    print(f"{case.code} · {status}")
    if profile is None:
        print(f"  {label('profile', lang)}{sep}{label('no_profile', lang)}")
    else:
        name = profile.client_name or "—"
        if profile.birth_year:
            age = profile.age(date.today())
            name += label(
                "paren", lang, text=label("born_age", lang, year=profile.birth_year, age=age)
            )
        print(f"  {label('client', lang)}{sep}{name}")
        if profile.client_group:
            print(f"  {label('group', lang)}{sep}{coded('group', profile.client_group, lang)}")
        if profile.caregiver:
            print(f"  {label('main_caregiver', lang)}{sep}{profile.caregiver}")
        if profile.worker_name:
            print(f"  {label('case_worker', lang)}{sep}{profile.worker_name}")
    consent = casefile.consent(case.id)
    if consent is None:
        print(f"  {label('consent', lang)}{sep}{label('no_consent', lang)}")
    else:
        key = "consent_given" if consent.agreed else "consent_declined"
        print(
            f"  {label('consent', lang)}{sep}"
            + label(
                key,
                lang,
                by=consent.agreed_by,
                role=coded("consent_role", consent.agreed_role, lang),
                method=coded("consent_method", consent.method, lang),
                day=consent.agreed_on,
            )
        )
    goals = casefile.goals(case.id)
    print(f"  {label('plan_goals', lang)}{sep}{'' if goals else label('no_goals', lang)}")
    for goal in goals:
        _print_goal(goal, lang)
    stages = store._all(
        "SELECT stage, COUNT(*) AS n FROM sessions WHERE case_id = ? AND status = 'completed'"
        " AND stage IS NOT NULL GROUP BY stage ORDER BY MIN(COALESCE(held_on, completed_at))",
        (case.id,),
    )
    if stages:
        held = label("list_sep", lang).join(
            f"{coded('stage', r['stage'], lang)} ×{r['n']}" for r in stages
        )
        print(f"  {label('stages_held', lang)}{sep}{held}")
    for event in casefile.events(case.id):
        when = str(event["at"])[:10]
        reason = label("paren", lang, text=event["reason"]) if event["reason"] else ""
        print(f"  {coded('case_event', event['kind'], lang)}{sep}{when}{reason}")


def _print_goal(goal: Any, lang: str) -> None:
    status = coded("goal_status", goal.status, lang)
    print(f"    {goal.number}. {goal.title} [{status}]")
    sep = label("colon", lang)
    for key, value in (
        ("area", goal.area),
        ("activities", goal.activities),
        ("target", goal.target),
    ):
        if value:
            print(f"       {label('goal_' + key, lang)}{sep}{' / '.join(value.splitlines())}")
    rated = [r for r in goal.ratings if r.rating is not None]
    if rated:
        trail = " → ".join(str(r.rating) for r in rated)
        high = rated[-1].high
        print(f"       {label('progress', lang)}{sep}{trail}{f' / {high}' if high else ''}")


def cmd_show(args: argparse.Namespace) -> int:
    """The case file in brief: profile, consent, goals with progress, stages held, closing."""
    store = Store.open(_db(args))
    try:
        who = caller(store)
        if who is None:
            return NOT_ALLOWED
        case = _case(store, who, args.case, "case.view")
        if isinstance(case, int):
            return case
        store.audit(who.person_id, "case.file.read", "case", case.id, case.id)
        _show(store, case, args.lang or who.lang)
        return 0
    finally:
        store.close()


# --------------------------------------------------------------------------- consent


def cmd_consent(args: argparse.Namespace) -> int:
    """Record consent given outside the consent interview (a signed paper form, say)."""
    store = Store.open(_db(args))
    try:
        who = caller(store)
        if who is None:
            return NOT_ALLOWED
        case = _case(store, who, args.case, "consent.record")
        if isinstance(case, int):
            return case
        try:
            CaseFile(store).record_consent(
                case.id,
                agreed=not args.declined,
                by=args.by,
                role=args.role,
                method=args.method,
                on=args.on,
                actor_id=who.person_id,
            )
        except StorageError as exc:
            _say(f"{exc}.")
            return 2
        _show(store, case, args.lang or who.lang)
        return 0
    finally:
        store.close()


# --------------------------------------------------------------------------- goals


def cmd_goals(args: argparse.Namespace) -> int:
    """Add a goal to the plan, list the goals, or set a goal's status."""
    store = Store.open(_db(args))
    try:
        who = caller(store)
        if who is None:
            return NOT_ALLOWED
        action = "case.view" if args.goal_command == "list" else "plan.edit"
        case = _case(store, who, args.case, action)
        if isinstance(case, int):
            return case
        casefile = CaseFile(store)
        lang = args.lang or who.lang
        try:
            if args.goal_command == "add":
                goal = casefile_actions.add_goal(
                    store,
                    who,
                    case,
                    args.title,
                    area=args.area,
                    activities=args.activities,
                    target=args.target,
                )
                print(f"{case.code}{label('colon', lang)}")
                _print_goal(goal, lang)
            elif args.goal_command == "status":
                goal = casefile_actions.set_goal_status(store, who, case, args.number, args.status)
                _print_goal(goal, lang)
            else:
                store.audit(who.person_id, "case.file.read", "case", case.id, case.id)
                goals = casefile.goals(case.id)
                if not goals:
                    print(label("no_goals", lang))
                for goal in goals:
                    _print_goal(goal, lang)
        except casefile_actions.Refused as exc:
            _say(f"{exc}.")
            return 1
        except Invalid as exc:
            _say(f"{exc}.")
            return 2
        return 0
    finally:
        store.close()


# --------------------------------------------------------------------------- closing


def cmd_close(args: argparse.Namespace) -> int:
    """Close a case that has a closing report; its schedules stop."""
    store = Store.open(_db(args))
    try:
        who = caller(store)
        if who is None:
            return NOT_ALLOWED
        case = _case(store, who, args.case, "case.close")
        if isinstance(case, int):
            return case
        try:
            closed = casefile_actions.close(store, who, case)
        except casefile_actions.Refused as exc:
            _say(f"{exc}.")
            return 1
    finally:
        store.close()
    paused = closed.paused_schedules
    print(f"Case {case.code} is closed; its closing report is session {closed.report_session[:8]}.")
    if paused:
        listed = ", ".join(str(s) for s in paused)
        print(f"Paused its schedules {listed}: no more check-ins are sent.")
    print(f"A follow-up after closing: caseflow chat followup_visit --case {case.code}")
    return 0


def cmd_reopen(args: argparse.Namespace) -> int:
    """Reopen a closed case, saying why."""
    store = Store.open(_db(args))
    try:
        who = caller(store)
        if who is None:
            return NOT_ALLOWED
        case = _case(store, who, args.case, "case.close")
        if isinstance(case, int):
            return case
        try:
            paused = casefile_actions.reopen(store, who, case, args.reason)
        except casefile_actions.Refused as exc:
            _say(f"{exc}.")
            return 1
        except Invalid as exc:
            _say(f"{exc}.")
            return 2
    finally:
        store.close()
    print(f"Case {case.code} is open again.")
    if paused:
        listed = ", ".join(str(s) for s in paused)
        print(f"Schedules {listed} were paused at closing; resume those still wanted with")
        print("  caseflow schedule resume ID")
    return 0


# --------------------------------------------------------------------------- wiring


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``case`` (profile, show, consent, goals, close, reopen)."""
    from bot.cli import DEFAULT_DB

    db_help = f"SQLite file (default: ./{DEFAULT_DB} or $CASEFLOW_DB)"

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", default=None, help=db_help)
        p.add_argument("--lang", choices=["en", "zh"], default=None, help="language of labels")

    case = subparsers.add_parser(
        "case",
        help="the case file: profile, consent, plan and goals, closing",
        description="The case file around the answers: who the client is, their consent, "
        "the intervention plan's goals and their progress, closing and reopening.",
    )
    sub = case.add_subparsers(dest="case_command", required=True)

    profile = sub.add_parser(
        "profile",
        help="set the client's profile (a new code makes a new case)",
        description="Example: caseflow case profile LBC-07 --name 小明 --birth-year 2017 "
        "--group left_behind_child --caregiver '奶奶 李桂兰'. Flows that say "
        "case.client_name or case.child_name use the name given here.",
    )
    profile.add_argument("case", help="case code")
    profile.add_argument("--name", help="the client's name or an alias")
    years = profile.add_mutually_exclusive_group()
    years.add_argument("--birth-year", type=int, metavar="YEAR", help="year of birth")
    years.add_argument("--age", type=int, metavar="YEARS", help="age now (kept as a birth year)")
    profile.add_argument("--group", choices=CLIENT_GROUPS, help="the client group")
    profile.add_argument("--caregiver", help="the main caregiver, e.g. '奶奶 李桂兰'")
    profile.add_argument("--worker", metavar="NAME_OR_ID", help="the case's responsible worker")
    common(profile)
    profile.set_defaults(func=cmd_profile)

    show = sub.add_parser("show", help="the case file in brief")
    show.add_argument("case", help="case code")
    common(show)
    show.set_defaults(func=cmd_show)

    consent = sub.add_parser(
        "consent",
        help="record consent given outside the consent interview",
        description="Consent is normally recorded by the consent interview (caseflow chat "
        "consent --case CODE). Use this for a form signed on paper before the case was here.",
    )
    consent.add_argument("case", help="case code")
    consent.add_argument("--by", required=True, help="who agreed, e.g. '李桂兰（奶奶）'")
    consent.add_argument("--role", required=True, choices=CONSENT_ROLES)
    consent.add_argument("--method", required=True, choices=CONSENT_METHODS)
    consent.add_argument("--on", required=True, metavar="DATE", help="the day, e.g. 2026-03-02")
    consent.add_argument("--declined", action="store_true", help="they did not agree")
    common(consent)
    consent.set_defaults(func=cmd_consent)

    goals = sub.add_parser("goals", help="the intervention plan's goals: add, list, status")
    goals.add_argument("case", help="case code")
    goal_sub = goals.add_subparsers(dest="goal_command", required=True)
    add = goal_sub.add_parser(
        "add",
        help="add a goal",
        description="Example: caseflow case goals LBC-07 add '能用语言说出自己的情绪' "
        "--area 情绪表达 --activities '情绪卡片；角色扮演' --target '连续两周每天说出一次'",
    )
    add.add_argument("title", help="the goal, in the client's words where you can")
    add.add_argument("--area", help="what it serves: an RSCA dimension, a Walsh domain, a level")
    add.add_argument("--activities", help="the activities planned")
    add.add_argument("--target", help="how you will know it is reached")
    common(add)
    listing = goal_sub.add_parser("list", help="the goals with their progress")
    common(listing)
    status = goal_sub.add_parser("status", help="set a goal's status")
    status.add_argument("number", type=int, help="the goal's number")
    status.add_argument("status", choices=GOAL_STATUSES)
    common(status)
    for p in (add, listing, status):
        p.set_defaults(func=cmd_goals)

    close = sub.add_parser(
        "close",
        help="close the case (needs a closing report); its schedules stop",
        description="Write the closing report first: caseflow chat closing_report --case CODE.",
    )
    close.add_argument("case", help="case code")
    common(close)
    close.set_defaults(func=cmd_close)

    reopen = sub.add_parser("reopen", help="reopen a closed case, with the reason")
    reopen.add_argument("case", help="case code")
    reopen.add_argument("--reason", required=True, help="why the case is reopened")
    common(reopen)
    reopen.set_defaults(func=cmd_reopen)
