"""``caseflow schedule add|list|pause|resume|remove`` and ``caseflow compliance``: scheduled
check-ins from the command line, and who answered them.

``bot/cli.py`` calls :func:`register` with its subparsers. Every handler takes the parsed
arguments and returns the exit code: 0 done, 2 a usage error (no such case, member, flow or
schedule; a rule that cannot work, with the reason), 3 refused: the calling OS account is
not linked to a worker, or that worker is not on the case (refused and audited).

The bot sends the check-ins; these commands only write and read the schedules. A new
schedule's time zone defaults to ``$CASEFLOW_TZ`` (else Asia/Shanghai).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from bot.cli_identity import NOT_ALLOWED, caller
from casework import policy
from casework import schedules as schedule_actions
from casework.cases import cases_where
from casework.errors import Invalid, NotAllowed
from casework.errors import NotFound as CaseworkNotFound
from casework.identity import Actor
from casework.schedules import check_flow_for_member
from flows.recurrence import (
    MIN_WINDOW,
    QuietHours,
    Recurrence,
    RecurrenceError,
    default_tz,
    describe,
    next_due,
    parse_duration,
)
from flows.registry import FlowRegistry
from storage.schedules import Schedule
from storage.store import Case, NotFound, Store

__all__ = [
    "cmd_compliance",
    "cmd_schedule_add",
    "cmd_schedule_list",
    "cmd_schedule_pause",
    "cmd_schedule_remove",
    "cmd_schedule_resume",
    "register",
]

DEFAULT_WINDOW = timedelta(hours=48)
DEFAULT_REMINDERS = (timedelta(hours=4), timedelta(hours=24))

clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731 (tests replace it)


def _say(message: str) -> None:
    print(f"caseflow: {message}", file=sys.stderr)


def _db(args: argparse.Namespace) -> str:
    if args.db:
        return str(args.db)
    from bot.cli import default_db  # here, not at import: bot.cli imports this module

    return default_db()


def _worker_on(store: Store, case: Case, actor: Actor, action: str) -> bool:
    """Whether the caller may perform ``action`` on the case (the policy decides; a refusal
    is audited there)."""
    try:
        policy.require(store, actor, action, case.id)
    except NotAllowed:
        _say(f"you are not a worker on case {case.code}.")
        return False
    return True


def _case(store: Store, code: str) -> Case | None:
    try:
        return store.case_by_code(code.upper())
    except NotFound:
        _say(f"no case {code!r}.")
        return None


def _member(store: Store, case: Case, given: str) -> int | None:
    """The case member named by id or by name (case-insensitive)."""
    members = store.members(case.id)
    if given.isdecimal():
        found = [m for m in members if m["id"] == int(given)]
    else:
        found = [m for m in members if str(m["name"]).casefold() == given.strip().casefold()]
    if len(found) == 1:
        return int(found[0]["id"])
    listing = ", ".join(f"{m['name']} (id {m['id']}, {m['role']})" for m in members)
    if found:
        _say(f"more than one member of {case.code} is called {given!r}; give the id: {listing}")
    else:
        _say(f"no member {given!r} on case {case.code}; members: {listing or 'none'}")
    return None


def _rule_problem(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        where = ".".join(str(p) for p in error["loc"])
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def _parse_time(text: str, what: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise RecurrenceError(f"{what} {text!r} is not a time; write it like 18:00") from None


def _parse_date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise RecurrenceError(f"{what} {text!r} is not a date; write it like 2026-03-16") from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RecurrenceError(
            f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai"
        ) from None


def rule_from_args(args: argparse.Namespace, now: datetime) -> Recurrence:
    """The rule the ``schedule add`` options describe (RecurrenceError / ValidationError)."""
    tz = args.tz or default_tz()
    fields: dict[str, Any] = {"at": _parse_time(args.at, "--at"), "tz": tz}
    if args.daily:
        fields["kind"] = "daily"
    elif args.weekly:
        fields |= {"kind": "weekly", "weekdays": args.weekly}
    elif args.every is not None:
        fields |= {"kind": "every_n_days", "every": args.every}
        if args.start:
            fields["start"] = _parse_date(args.start, "--start")
        else:
            fields["start"] = now.astimezone(_zone(tz)).date()
    else:
        fields |= {"kind": "once", "on": _parse_date(args.once, "--once")}
    if args.start and args.every is None:
        raise RecurrenceError("--start goes with --every")
    if args.quiet and args.quiet.strip().lower() != "none":
        start, sep, end = args.quiet.partition("-")
        if not sep:
            raise RecurrenceError(f"--quiet {args.quiet!r}: write it like 21:00-08:00")
        fields["quiet_hours"] = QuietHours(
            start=_parse_time(start, "--quiet"), end=_parse_time(end, "--quiet")
        )
    if args.window:
        fields["window"] = parse_duration(args.window)
    else:
        # 48 hours, or less where check-ins come closer together (daily: 24 hours).
        probe = Recurrence(**{**fields, "window": MIN_WINDOW, "reminders": [], "quiet_hours": None})
        gap = probe.shortest_gap
        fields["window"] = min(DEFAULT_WINDOW, gap) if gap else DEFAULT_WINDOW
    if args.remind is None:  # the defaults that fit inside the window
        fields["reminders"] = [r for r in DEFAULT_REMINDERS if r < fields["window"]]
    elif args.remind.strip().lower() in ("", "none"):
        fields["reminders"] = []
    else:
        fields["reminders"] = [parse_duration(r) for r in args.remind.split(",") if r.strip()]
    return Recurrence(**fields)


def _open(args: argparse.Namespace) -> Store:
    return Store.open(_db(args))


def cmd_schedule_add(args: argparse.Namespace) -> int:
    """Schedule a flow for a case member."""
    store = _open(args)
    try:
        actor = caller(store)
        if actor is None:
            return NOT_ALLOWED
        case = _case(store, args.case)
        if case is None:
            return 2
        if not _worker_on(store, case, actor, "schedule.create"):
            return NOT_ALLOWED
        member = _member(store, case, args.member)
        if member is None:
            return 2
        registry = FlowRegistry()
        try:
            check_flow_for_member(store, registry, case.id, member, args.flow)
        except Invalid as exc:
            _say(f"{exc}.")
            return 2
        now = clock()
        try:
            rule = rule_from_args(args, now)
        except RecurrenceError as exc:
            _say(str(exc))
            return 2
        except ValidationError as exc:
            _say(_rule_problem(exc))
            return 2
        schedule = schedule_actions.create(
            store, registry, actor, case.id, member, args.flow, rule, now
        )
        first = next_due(rule, now - timedelta(microseconds=1))
        print(
            f"Schedule {schedule.id}: {args.flow} for {store.person(member)['name']} on {case.code}"
        )
        print(f"  {describe(rule)}")
        if first is not None:
            print(f"  first check-in: {_when(first, rule)}")
        else:
            print("  no check-in will fall due (the date has passed)")
        return 0
    finally:
        store.close()


def _when(moment: datetime, rule: Recurrence) -> str:
    return f"{moment.astimezone(rule.zone):%a %Y-%m-%d %H:%M} ({rule.tz})"


def cmd_schedule_list(args: argparse.Namespace) -> int:
    """The schedules of one case, or of every case the person may see."""
    store = _open(args)
    try:
        actor = caller(store)
        if actor is None:
            return NOT_ALLOWED
        if args.case:
            case = _case(store, args.case)
            if case is None:
                return 2
            if not _worker_on(store, case, actor, "schedule.view"):
                return NOT_ALLOWED
            cases = [case]
        else:
            cases = cases_where(store, actor, "schedule.view")
        rows: list[tuple[Case, Schedule]] = []
        for case in cases:
            rows += [(case, s) for s in schedule_actions.of_case(store, actor, case.id)]
        if not rows:
            print("No schedules." if args.case else "No schedules on your cases.")
            return 0
        now = clock()
        print(f"{'id':>4}  {'case':<10} {'member':<18} {'flow':<16} {'state':<7} next check-in")
        for case, s in rows:
            nxt = next_due(s.rule, max(now, s.active_from)) if s.state == "active" else None
            when = _when(nxt, s.rule) if nxt else "—"
            name = str(store.person(s.person_id)["name"])[:18]
            print(f"{s.id:>4}  {case.code:<10} {name:<18} {s.flow_id:<16} {s.state:<7} {when}")
            print(f"{'':>6}{describe(s.rule)}")
        return 0
    finally:
        store.close()


def _change(args: argparse.Namespace, verb: str) -> int:
    store = _open(args)
    try:
        actor = caller(store)
        if actor is None:
            return NOT_ALLOWED
        try:
            schedule = schedule_actions.get(store, actor, args.id, "schedule.change")
            changed = schedule_actions.change(store, actor, schedule.id, verb, clock())
        except CaseworkNotFound:
            _say(f"no schedule {args.id} on your cases.")
            return 2
        except Invalid:
            _say(f"schedule {args.id} was removed.")
            return 2
        done = {"pause": "paused", "resume": "resumed", "remove": "removed"}[verb]
        if changed:
            print(f"Schedule {schedule.id} {done}.")
        else:
            print(f"Schedule {schedule.id} was already {done if verb != 'resume' else 'active'}.")
        return 0
    finally:
        store.close()


def cmd_schedule_pause(args: argparse.Namespace) -> int:
    """No new check-ins (one already sent runs its course)."""
    return _change(args, "pause")


def cmd_schedule_resume(args: argparse.Namespace) -> int:
    """Check-ins again from now on (none for the time it was paused)."""
    return _change(args, "resume")


def cmd_schedule_remove(args: argparse.Namespace) -> int:
    """Stop for good; the history stays for the compliance figures."""
    return _change(args, "remove")


def cmd_compliance(args: argparse.Namespace) -> int:
    """Per member and flow: due, completed, late, missed, open and the completion rate."""
    store = _open(args)
    try:
        actor = caller(store)
        if actor is None:
            return NOT_ALLOWED
        case = _case(store, args.case)
        if case is None:
            return 2
        if not _worker_on(store, case, actor, "compliance.view"):
            return NOT_ALLOWED
        rows = schedule_actions.compliance(store, actor, case.id, clock(), weeks=args.weeks)
    finally:
        store.close()
    if args.json:
        print(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
        return 0
    print(f"Check-ins on case {case.code}, the last {args.weeks} weeks:")
    if not rows:
        print("  no schedules.")
        return 0
    head = f"  {'member':<18} {'flow':<16} {'due':>4} {'done':>5} {'late':>5} {'missed':>7}"
    print(head + f" {'open':>5} {'rate':>5}")
    for r in rows:
        rate = "—" if r.rate is None else f"{r.rate:.0%}"
        print(
            f"  {r.person_name[:18]:<18} {r.flow_id:<16} {r.due:>4} {r.completed:>5} {r.late:>5}"
            f" {r.missed:>7} {r.open:>5} {rate:>5}"
        )
    print(
        "  done: completed inside the answer window; late: done only after a reminder;\n"
        "  missed: the window closed first; open: window still open; rate: done / (done + missed)."
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``schedule`` (add, list, pause, resume, remove) and ``compliance``."""
    from bot.cli import DEFAULT_DB

    db_help = f"SQLite file (default: ./{DEFAULT_DB} or $CASEFLOW_DB)"

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", default=None, help=db_help)

    schedule = subparsers.add_parser(
        "schedule",
        help="scheduled check-ins: add, list, pause, resume, remove",
        description="Check-ins the bot sends a case member on a schedule, with reminders.",
    )
    sub = schedule.add_subparsers(dest="schedule_command", required=True)

    add = sub.add_parser(
        "add",
        help="schedule a flow for a case member",
        description="Example: caseflow schedule add LBC-07 child_checkin --member 'Grandma Li' "
        "--weekly mon --at 18:00 --tz Asia/Shanghai --window 48h --remind 4h,24h "
        "--quiet 21:00-08:00",
    )
    add.add_argument("case", help="case code")
    add.add_argument("flow", help="flow id, e.g. child_checkin")
    add.add_argument("--member", required=True, metavar="NAME_OR_ID", help="who answers")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--daily", action="store_true", help="every day")
    when.add_argument("--weekly", metavar="DAYS", help="on these weekdays: mon,thu")
    when.add_argument("--every", type=int, metavar="N", help="every N days (from --start)")
    when.add_argument("--once", metavar="DATE", help="once, on this date (2026-03-16)")
    add.add_argument("--start", metavar="DATE", help="with --every: the first date (default today)")
    add.add_argument("--at", required=True, metavar="HH:MM", help="local time of day")
    add.add_argument(
        "--tz", default=None, help="the member's time zone (default $CASEFLOW_TZ or Asia/Shanghai)"
    )
    add.add_argument(
        "--window",
        default=None,
        help="how long answers are taken (default 48h, or the time to the next check-in)",
    )
    add.add_argument(
        "--remind",
        default=None,
        help="reminders, as times after the due time (default 4h,24h, those inside the window;"
        " none for no reminders)",
    )
    add.add_argument("--quiet", default=None, metavar="HH:MM-HH:MM", help="send nothing then")
    common(add)
    add.set_defaults(func=cmd_schedule_add)

    listing = sub.add_parser("list", help="the schedules of a case, or of all your cases")
    listing.add_argument("--case", default=None, help="case code")
    common(listing)
    listing.set_defaults(func=cmd_schedule_list)

    for verb, about, fn in (
        ("pause", "no new check-ins until resumed", cmd_schedule_pause),
        ("resume", "check-ins again, from now on", cmd_schedule_resume),
        ("remove", "stop for good (history stays)", cmd_schedule_remove),
    ):
        p = sub.add_parser(verb, help=about)
        p.add_argument("id", type=int, help="schedule id (see `caseflow schedule list`)")
        common(p)
        p.set_defaults(func=fn)

    comp = subparsers.add_parser(
        "compliance", help="who answered their check-ins: due, done, late, missed, rate"
    )
    comp.add_argument("case", help="case code")
    comp.add_argument("--weeks", type=int, default=8, help="how far back (default 8)")
    comp.add_argument("--json", action="store_true", help="print JSON")
    common(comp)
    comp.set_defaults(func=cmd_compliance)
