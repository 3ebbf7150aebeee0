"""``caseflow flags`` and ``caseflow followups``: what calls for action, and saying what was
done about it, from the command line. A thin layer over ``casework.flags`` and
``casework.followups``, acting as the worker linked to the calling OS account.

``bot/cli.py`` calls :func:`register` with its subparsers. Exit codes: 0 done, 1 refused by
the rules (a withdrawn flag, a note too long, already done), 2 no such flag, follow-up or
case, 3 the account is not linked to a worker, or that worker may not see or change it
(refused and audited).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from bot.cli_identity import NOT_ALLOWED, caller
from casework import notify
from casework.errors import Invalid, NotAllowed, NotFound
from casework.flags import acknowledge, list_flags
from casework.followups import done, list_followups
from casework.identity import Actor
from storage.flags import FlagRow, FollowUpRow
from storage.store import Store
from templates.i18n import format_moment

__all__ = ["cmd_flags", "cmd_flags_ack", "cmd_followups", "cmd_followups_done", "register"]

clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731 (tests replace it)


def _say(message: str) -> None:
    print(f"caseflow: {message}", file=sys.stderr)


def _open(args: argparse.Namespace) -> Store:
    from bot.cli import default_db  # here, not at import: bot.cli imports this module

    return Store.open(args.db or default_db())


def _run(args: argparse.Namespace, body: Callable[[Store, Actor], int]) -> int:
    store = _open(args)
    try:
        actor = caller(store)
        if actor is None:
            return NOT_ALLOWED
        return body(store, actor)
    except NotFound as exc:
        _say(f"{exc}.")
        return 2
    except NotAllowed:
        _say("that is not on your cases.")
        return NOT_ALLOWED
    except Invalid as exc:
        _say(f"{exc}.")
        return 1
    finally:
        store.close()


def _when(iso: str | None, lang: str) -> str:
    return format_moment(iso, lang, notify.zone()) if iso else "—"


def _flag_lines(flag: FlagRow, lang: str) -> list[str]:
    state = flag.state
    if flag.acknowledged_at:
        state = (
            f"acknowledged by {flag.acknowledged_by_name}, {_when(flag.acknowledged_at, lang)}:"
            f" {flag.ack_note or '—'}"
        )
    lines = [
        f"#{flag.id}  {flag.severity.upper():<9} {flag.case_code:<10} "
        f"{_when(flag.raised_at, lang)}  {state}",
        f"      {flag.text('question', lang)}: {flag.text('answer', lang)}",
        f"      {flag.text('message', lang)}",
    ]
    if flag.escalated_at:
        lines.append(f"      escalated {_when(flag.escalated_at, lang)}")
    return lines


def cmd_flags(args: argparse.Namespace) -> int:
    """Flags on your cases (or one case), newest first."""

    def body(store: Store, actor: Actor) -> int:
        found = list_flags(store, actor, case_code=args.case, open_only=args.open)
        if args.json:
            print(json.dumps([f.to_dict() for f in found], ensure_ascii=False, indent=2))
            return 0
        if not found:
            print("No open flags." if args.open else "No flags.")
            return 0
        for flag in found:
            print("\n".join(_flag_lines(flag, args.lang or actor.lang)))
        return 0

    return _run(args, body)


def cmd_flags_ack(args: argparse.Namespace) -> int:
    """Acknowledge a flag, saying what was done."""

    def body(store: Store, actor: Actor) -> int:
        result = acknowledge(store, actor, args.id, args.note, clock())
        flag = result.flag
        if not result.first:
            _say(
                f"flag {flag.id} was already acknowledged by {flag.acknowledged_by_name}, "
                f"{_when(flag.acknowledged_at, 'en')}: {flag.ack_note or '—'}"
            )
            return 1
        print(f"Flag {flag.id} on case {flag.case_code} acknowledged: {flag.ack_note}")
        return 0

    return _run(args, body)


def _followup_line(task: FollowUpRow, lang: str) -> str:
    today = notify.local_day(clock())
    state = "overdue" if task.overdue(today) else task.status
    if task.status == "done":
        state = f"done by {task.done_by_name}, {_when(task.done_at, lang)}: {task.done_note or '—'}"
    return (
        f"#{task.id}  {task.case_code:<10} due {task.due_on}  {task.owner_name:<14} {state}\n"
        f"      {task.text}"
    )


def cmd_followups(args: argparse.Namespace) -> int:
    """Follow-ups on your cases (or one case) by due date."""

    def body(store: Store, actor: Actor) -> int:
        today = notify.local_day(clock())
        found = list_followups(
            store,
            actor,
            case_code=args.case,
            overdue_on=today if args.overdue else None,
            open_only=args.open,
        )
        if args.json:
            print(json.dumps([t.to_dict(today) for t in found], ensure_ascii=False, indent=2))
            return 0
        if not found:
            print("No overdue follow-ups." if args.overdue else "No follow-ups.")
            return 0
        for task in found:
            print(_followup_line(task, args.lang or actor.lang))
        return 0

    return _run(args, body)


def cmd_followups_done(args: argparse.Namespace) -> int:
    """Close a follow-up, saying what was done."""

    def body(store: Store, actor: Actor) -> int:
        result = done(store, actor, args.id, args.note, clock())
        task = result.task
        if not result.first:
            _say(f"follow-up {task.id} was already done by {task.done_by_name}.")
            return 1
        print(f"Follow-up {task.id} on case {task.case_code} done: {task.done_note}")
        return 0

    return _run(args, body)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``flags`` (list, ack) and ``followups`` (list, done)."""
    from bot.cli import DEFAULT_DB

    db_help = f"SQLite file (default: ./{DEFAULT_DB} or $CASEFLOW_DB)"

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", default=None, help=db_help)

    flags = subparsers.add_parser(
        "flags",
        help="answers that call for action: list, acknowledge",
        description="Flags raised by answers on your cases. `caseflow flags ack ID --note TEXT`"
        " says what was done.",
    )
    flags.add_argument("--case", default=None, help="case code")
    flags.add_argument("--open", action="store_true", help="only flags nobody acknowledged")
    flags.add_argument("--json", action="store_true", help="print JSON")
    flags.add_argument("--lang", choices=["en", "zh"], default=None)
    common(flags)
    flags.set_defaults(func=cmd_flags)
    flag_sub = flags.add_subparsers(dest="flags_command")
    ack = flag_sub.add_parser("ack", help="acknowledge a flag, saying what was done")
    ack.add_argument("id", type=int, help="flag number (see `caseflow flags`)")
    ack.add_argument("--note", required=True, help="what was done")
    common(ack)
    ack.set_defaults(func=cmd_flags_ack)

    tasks = subparsers.add_parser(
        "followups",
        help="follow-up tasks from contact notes and session records: list, done",
        description="Follow-ups on your cases. `caseflow followups done ID --note TEXT` closes"
        " one.",
    )
    tasks.add_argument("--case", default=None, help="case code")
    tasks.add_argument("--overdue", action="store_true", help="only open ones past their date")
    tasks.add_argument("--open", action="store_true", help="only open ones")
    tasks.add_argument("--json", action="store_true", help="print JSON")
    tasks.add_argument("--lang", choices=["en", "zh"], default=None)
    common(tasks)
    tasks.set_defaults(func=cmd_followups)
    task_sub = tasks.add_subparsers(dest="followups_command")
    close = task_sub.add_parser("done", help="close a follow-up, saying what was done")
    close.add_argument("id", type=int, help="follow-up number (see `caseflow followups`)")
    close.add_argument("--note", required=True, help="what was done")
    common(close)
    close.set_defaults(func=cmd_followups_done)
