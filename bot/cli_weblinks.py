"""``caseflow link CASE --member NAME``: a member's personal web link to their check-ins.

The link is printed once, with the text to forward it with (WeChat, SMS): only a hash of
its token is kept, so it cannot be shown again; ``--replace`` makes a new one (the old one
stops working at once) and ``--revoke`` stops it. ``--add caregiver|client`` first adds a
member who has no Telegram. The links point at ``--base-url`` (default
``$CASEFLOW_DESK_URL``, else http://127.0.0.1:8080), where ``caseflow desk`` serves them.

Exit codes as the other commands: 0 done, 2 a usage error (no such case or member, a link
already there), 3 refused (the calling account is not a worker on the case; audited).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from bot.cli_identity import NOT_ALLOWED, caller
from casework import weblinks
from casework.cases import case_for
from casework.errors import Invalid, NotAllowed, NotFound
from flows.registry import FlowRegistry
from storage.store import Store

__all__ = ["DEFAULT_BASE_URL", "cmd_link", "register"]

DEFAULT_BASE_URL = "http://127.0.0.1:8080"

clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731  (tests replace it)


def _say(message: str) -> None:
    print(f"caseflow: {message}", file=sys.stderr)


def cmd_link(args: argparse.Namespace) -> int:
    """Make, replace or revoke a member's web link."""
    from bot.cli import default_db

    store = Store.open(args.db or default_db())
    try:
        actor = caller(store)
        if actor is None:
            return NOT_ALLOWED
        try:
            case = case_for(store, actor, args.case, "member.link")
        except NotFound:
            _say(f"you are not a worker on case {args.case[:20]}, or there is no such case.")
            return NOT_ALLOWED
        now = clock()
        base = (args.base_url or os.environ.get("CASEFLOW_DESK_URL") or DEFAULT_BASE_URL).strip()
        try:
            if args.add:
                member = weblinks.add_member(
                    store, actor, case, args.member, args.add, args.lang or "zh"
                )
                print(f"{member.name} (#{member.person_id}) is now a {member.role} on {case.code}.")
            else:
                member = weblinks.find_member(store, case, args.member)
            if args.revoke:
                if weblinks.revoke(store, actor, case, member.person_id, now):
                    print(f"{member.name}'s link on {case.code} no longer works.")
                else:
                    print(f"{member.name} has no link on {case.code}.")
                return 0
            make = weblinks.replace if args.replace else weblinks.create
            issued = make(store, actor, case, member.person_id, now)
            registry = FlowRegistry()
            url = issued.url(base)
            text = weblinks.invitation_text(
                store, registry, actor, case, member.person_id, now, url=url
            )
        except NotAllowed:
            return NOT_ALLOWED
        except Invalid as exc:
            message = str(exc)
            if "already has a link" in message:
                # The token is not kept, so the link cannot be shown again: only replaced.
                message = message.split(":", 1)[0] + (
                    "; a link is shown only when it is made: add --replace for a new one"
                    " (the old one stops working)"
                )
            _say(f"{message}.")
            return 2
        print(f"Link for {member.name} ({member.role}) on {case.code}; it is shown only now:")
        print(url)
        print()
        print("To forward:")
        print(text)
        return 0
    finally:
        store.close()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bot.cli import DEFAULT_DB

    link = subparsers.add_parser(
        "link",
        help="a case member's personal web link to their check-ins (make, replace, revoke)",
        description="Example: caseflow link LBC-07 --member 'Grandma Li'. The link is shown "
        "once; forward it with the text printed under it.",
    )
    link.add_argument("case", help="case code")
    link.add_argument("--member", required=True, metavar="NAME_OR_#ID", help="who it is for")
    what = link.add_mutually_exclusive_group()
    what.add_argument("--replace", action="store_true", help="a new link; the old one stops")
    what.add_argument("--revoke", action="store_true", help="stop the member's link")
    link.add_argument(
        "--add",
        choices=weblinks.MEMBER_ROLES,
        help="first add the member to the case (someone without Telegram)",
    )
    link.add_argument("--lang", choices=weblinks.LANGUAGES, help="with --add: their language")
    link.add_argument(
        "--base-url",
        default=None,
        help=f"where the desk is reached (default $CASEFLOW_DESK_URL or {DEFAULT_BASE_URL})",
    )
    link.add_argument("--db", default=None, help=f"SQLite file (default: ./{DEFAULT_DB})")
    link.set_defaults(func=cmd_link)
