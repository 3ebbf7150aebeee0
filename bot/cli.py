"""The ``caseflow`` command: a thin layer over flows/, storage/ and the channels."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.cli_identity import NOT_ALLOWED, caller
from bot.console import run_console
from casework import policy
from casework.cases import case_for, open_case
from casework.errors import Invalid, NotAllowed
from casework.errors import NotFound as CaseworkNotFound
from casework.identity import WORKER_ROLES, os_login
from casework.interviews import CaseIsClosed, Interviews, NotOnCase
from flows.load import bundled_flow_paths, load_flow
from flows.problems import FlowError
from flows.registry import FlowRegistry
from storage.store import FlowVersionConflict, NotFound, Store

DEFAULT_DB = "caseflow.db"
DEFAULT_FLOW = "child_checkin"
DEFAULT_CASE = "DEMO"


def default_db() -> str:
    return os.environ.get("CASEFLOW_DB", DEFAULT_DB)


def cmd_chat(args: argparse.Namespace) -> int:
    store = Store.open(args.db)
    try:
        actor = caller(store)
        if actor is None:
            return NOT_ALLOWED
        person_id = actor.person_id
        code = args.case.strip().upper() if args.case else DEFAULT_CASE
        try:
            if store.case_exists(code):
                case = case_for(store, actor, code, "case.view")
            else:
                case = open_case(store, actor, code)
        except (CaseworkNotFound, NotAllowed):
            print(f"caseflow: you are not on case {code}.", file=sys.stderr)
            return NOT_ALLOWED
        except Invalid as exc:
            print(f"caseflow: {exc}.", file=sys.stderr)
            return 2
        interviews = Interviews(store, FlowRegistry())
        try:
            opened = interviews.open(
                args.flow,
                case,
                person_id,
                "terminal",
                lang=args.lang,
                phase=args.phase,
                allow_path=True,
            )
        except NotOnCase:
            print(f"caseflow: you may not answer {args.flow} on case {code}.", file=sys.stderr)
            return NOT_ALLOWED
        except CaseIsClosed:
            print(
                f"caseflow: case {code} is closed; it takes only a follow-up"
                f" (caseflow chat followup_visit --case {code}), or reopen it with"
                f" caseflow case reopen {code} --reason TEXT.",
                file=sys.stderr,
            )
            return 1
        except FileNotFoundError:
            print(f"caseflow: no flow {args.flow!r} (see `caseflow flows list`).", file=sys.stderr)
            return 2
        except (FlowError, FlowVersionConflict) as exc:
            print(f"caseflow: {exc}", file=sys.stderr)
            return 2
        for warning in opened.warnings:
            print(f"caseflow: {warning}", file=sys.stderr)
        return run_console(interviews, opened, person_id, str(Path(args.db).resolve()))
    finally:
        store.close()


READINGS = {
    "improved": "reliable improvement",
    "deteriorated": "reliable deterioration",
    "no_reliable_change": "no reliable change",
}


def cmd_compare(args: argparse.Namespace) -> int:
    """Each administration of an instrument on a case, the change, and its reliability."""
    from flows.comparison import Administration, compare
    from flows.instruments import InstrumentError, load_instrument

    store = Store.open(args.db)
    try:
        actor = caller(store)
        if actor is None:
            return NOT_ALLOWED
        person_id = actor.person_id
        try:
            case = store.case_by_code(args.case)
        except NotFound:
            print(f"caseflow: no case {args.case!r}.", file=sys.stderr)
            return 2
        try:
            policy.require(store, actor, "scores.view", case.id)
        except NotAllowed:
            print(f"caseflow: you are not on case {args.case}.", file=sys.stderr)
            return NOT_ALLOWED
        try:
            instrument = load_instrument(args.instrument)
        except InstrumentError as exc:
            print(f"caseflow: {exc}", file=sys.stderr)
            return 2
        rows = store.instrument_scores(case.id, instrument.id)
        store.audit(person_id, "scores.read", "case", case.id, case.id, instrument=instrument.id)
    finally:
        store.close()
    result = compare(
        instrument,
        [
            Administration(r["session_id"], r["completed_at"], r["phase"], json.loads(r["result"]))
            for r in rows
        ],
    )
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return 0
    lang = args.lang
    name = instrument.text(instrument.short_name or instrument.name, lang)
    if not result.administrations:
        print(f"No completed administration of {name} on case {case.code}.")
        return 0
    print(f"{name} on case {case.code}: {len(result.administrations)} administration(s)")
    print(f"  {'date':<10}  {'phase':<9}  {'total':>6}  band")
    for a in result.administrations:
        total = "—" if a.total is None else f"{a.result['total']:g}"
        band = a.band_label.get(lang) or next(iter(a.band_label.values()), "")
        subscales = ", ".join(f"{k} {v:g}" for k, v in a.subscales.items() if v is not None)
        extra = f"  ({subscales})" if subscales else ""
        print(f"  {a.when[:10]:<10}  {a.phase:<9}  {total:>6}  {band}{extra}")
    first, last = result.first, result.last
    if first is None or last is None or result.change is None:
        print("Change: needs two scored administrations.")
        return 0
    higher = instrument.higher_is_for(instrument.total_scale.id)
    print(
        f"Change from first to last: {result.change:+g} "
        f"({first.result['total']:g} → {last.result['total']:g}; higher is {higher})"
    )
    if result.reliable is None:
        print(
            f"Reliable change index: not available ({name}'s file declares no reliability "
            "and norm SD)."
        )
    else:
        rc = result.reliable
        print(
            f"Reliable change index: {rc.rci:+.2f} (|RCI| > 1.96 is reliable; "
            f"r = {rc.reliability:g}, SD = {rc.norm_sd:g}): {READINGS[rc.direction]}"
        )
    return 0


def cmd_flows_list(args: argparse.Namespace) -> int:
    for path in FlowRegistry().available():
        try:
            flow = load_flow(path)
        except FlowError as exc:
            print(f"{path.stem:<22} (invalid: {len(exc.problems)} problem(s))")
            continue
        title = flow.text(flow.title, args.lang)
        print(f"{flow.id:<22} v{flow.version}  {flow.respondent:<9} {title}")
    return 0


def cmd_flows_validate(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths] or bundled_flow_paths()
    failed = 0
    for path in paths:
        try:
            flow = load_flow(path)
        except FlowError as exc:
            failed += 1
            for problem in exc.problems:
                print(problem)
            continue
        try:
            from flows.compile import compile_flow

            compile_flow(flow)
        except Exception as exc:
            failed += 1
            print(f"{path}:1: the flow does not compile: {exc}")
            continue
        print(f"{path}: ok ({flow.id} v{flow.version})")
    return 1 if failed else 0


def cmd_bot(args: argparse.Namespace) -> int:
    """The Telegram bot (the token comes from TELEGRAM_BOT_TOKEN and is never printed)."""
    from bot.telegram import run_from_cli

    return run_from_cli(args)


def cmd_workers_add(args: argparse.Namespace) -> int:
    """Register a worker (an administrator's step), optionally linked to an OS account."""
    store = Store.open(args.db)
    try:
        if store.person_by_telegram(args.telegram_user_id):
            print(
                f"caseflow: Telegram user {args.telegram_user_id} is already registered"
                " (link an account with `caseflow workers link`).",
                file=sys.stderr,
            )
            return 2
        if args.login and store.person_by_login(args.login):
            print(f"caseflow: the account {args.login!r} is already linked.", file=sys.stderr)
            return 2
        role = "supervisor" if args.supervisor else "worker"
        store.via = {"channel": "terminal", "os_user": os_login()}
        person_id = store.add_person(
            args.name,
            role,
            telegram_user_id=args.telegram_user_id,
            local_user=args.login,
            lang=args.lang,
        )
        if args.team is not None:
            lead = store.person_by_telegram(args.team)
            if lead is None or lead["role"] != "supervisor":
                print(f"caseflow: {args.team} is not a registered supervisor.", file=sys.stderr)
                return 2
            store.set_supervisor(person_id, int(lead["id"]))
        linked = f", linked to the account {args.login}" if args.login else ""
        print(f"Registered {role} {args.name} (Telegram user {args.telegram_user_id}){linked}.")
        return 0
    finally:
        store.close()


def cmd_workers_link(args: argparse.Namespace) -> int:
    """Link (or with --unlink, unlink) an OS account to a registered worker."""
    store = Store.open(args.db)
    try:
        person = store.person_by_telegram(args.telegram_user_id)
        if person is None or person["role"] not in WORKER_ROLES:
            print(
                f"caseflow: no registered worker with Telegram user {args.telegram_user_id}.",
                file=sys.stderr,
            )
            return 2
        store.via = {"channel": "terminal", "os_user": os_login()}
        if args.unlink:
            store.link_login(int(person["id"]), None)
            print(f"Unlinked {person['name']} from any account.")
            return 0
        holder = store.person_by_login(args.login)
        if holder is not None and holder["id"] != person["id"]:
            print(f"caseflow: the account {args.login!r} is already linked.", file=sys.stderr)
            return 2
        store.link_login(int(person["id"]), args.login)
        print(f"Linked the account {args.login} to {person['name']}.")
        return 0
    finally:
        store.close()


def cmd_workers_list(args: argparse.Namespace) -> int:
    store = Store.open(args.db)
    try:
        rows = [
            (p["name"], p["role"], p["telegram_user_id"], p["local_user"]) for p in store.workers()
        ]
        for name, role, telegram_id, login in rows:
            print(f"{telegram_id or '—'!s:<14} {role:<10} {login or '—':<12} {name}")
        return 0
    finally:
        store.close()


def cmd_workers_set(args: argparse.Namespace) -> int:
    """A worker's quiet hours and digest time."""
    from casework.errors import Invalid
    from casework.notify import describe, parse_digest, parse_quiet

    store = Store.open(args.db)
    try:
        person = store.person_by_telegram(args.telegram_user_id)
        if person is None or person["role"] not in ("worker", "supervisor", "admin"):
            print(f"caseflow: {args.telegram_user_id} is not a registered worker.", file=sys.stderr)
            return 2
        try:
            quiet = parse_quiet(args.quiet) if args.quiet is not None else None
            digest = parse_digest(args.digest) if args.digest is not None else None
        except Invalid as exc:
            print(f"caseflow: {exc}.", file=sys.stderr)
            return 2
        if quiet is not None:
            store.set_quiet_hours(int(person["id"]), quiet)
        if digest is not None:
            store.set_digest(int(person["id"]), digest)
        quiet_now, digest_now = describe(store.person(int(person["id"])))
        print(f"{person['name']}: quiet hours {quiet_now}, daily digest {digest_now}.")
        return 0
    finally:
        store.close()


def cmd_run(args: argparse.Namespace) -> int:
    """`make run`: the desk, with the Telegram bot in the same process when a token is set."""
    from desk.server import cmd_run as run_desk_and_bot

    return run_desk_and_bot(args)


def cmd_desk(args: argparse.Namespace) -> int:
    """`caseflow desk` (serve it) and `caseflow desk link WORKER` (a sign-in link)."""
    from desk import server

    if getattr(args, "desk_command", None) == "link":
        return server.cmd_desk_link(args)
    return server.cmd_desk(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="caseflow", description="A guided interview assistant for social casework."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (no personal data)")
    sub = parser.add_subparsers(dest="command", required=True)

    db_help = f"SQLite file (default: ./{DEFAULT_DB} in the working directory, or $CASEFLOW_DB)"

    chat = sub.add_parser("chat", help="run an interview in the terminal")
    chat.add_argument("flow", help="flow id (see `caseflow flows list`) or a .yaml path")
    chat.add_argument("--case", default=DEFAULT_CASE, help=f"case code (default {DEFAULT_CASE})")
    chat.add_argument("--db", default=default_db(), help=db_help)
    chat.add_argument("--lang", choices=["en", "zh"], default=None, help="language")
    chat.add_argument("--phase", default=None, help="baseline, pre, mid, post, follow-up")
    chat.set_defaults(func=cmd_chat)

    cmp = sub.add_parser("compare", help="pre/post: an instrument's scores on a case over time")
    cmp.add_argument("case", help="case code")
    cmp.add_argument(
        "instrument", help="instrument id, e.g. phq9 (see `caseflow instruments list`)"
    )
    cmp.add_argument("--db", default=default_db(), help=db_help)
    cmp.add_argument("--lang", choices=["en", "zh"], default="en")
    cmp.add_argument("--json", action="store_true", help="print JSON")
    cmp.set_defaults(func=cmd_compare)

    listen_help = "HOST:PORT the desk listens on (default 127.0.0.1:8080; TLS: a proxy in front)"
    url_help = "the desk's address as people reach it, for links (default: $CASEFLOW_DESK_URL)"
    run = sub.add_parser(
        "run",
        help="the main job: the desk, and the Telegram bot too if TELEGRAM_BOT_TOKEN is set",
        description="Serve the desk (and with TELEGRAM_BOT_TOKEN, the bot in the same process) "
        "and print a one-time sign-in link for the worker linked to this OS account. On a "
        "database without workers, this account is registered as the first worker.",
    )
    run.add_argument("--db", default=default_db(), help=db_help)
    run.add_argument("--listen", default=None, help=listen_help)
    run.add_argument("--url", default=None, help=url_help)
    run.set_defaults(func=cmd_run)

    desk = sub.add_parser(
        "desk",
        help="the desk in the browser, or (desk link WORKER) a sign-in link",
        description="Serve the desk for workers and supervisors. Sign-in is by one-time "
        "links: /desk in Telegram, or `caseflow desk link WORKER`.",
    )
    desk.add_argument("--db", default=default_db(), help=db_help)
    desk.add_argument("--listen", default="127.0.0.1:8080", help=listen_help)
    desk.add_argument("--url", default=None, help=url_help)
    desk.add_argument(
        "--templates", metavar="DIR", default=None, help="organisation record templates"
    )
    desk.set_defaults(func=cmd_desk)
    desk_sub = desk.add_subparsers(dest="desk_command", metavar="{link}")
    desk_link = desk_sub.add_parser(
        "link",
        help="print a one-time sign-in link (15 minutes) for a worker",
        description="An administrator's step: a one-time link that signs WORKER in to the "
        "desk, valid for 15 minutes. WORKER is a Telegram user id or a linked OS login.",
    )
    desk_link.add_argument("worker", help="Telegram user id or OS login of the worker")
    desk_link.add_argument("--db", default=default_db(), help=db_help)
    desk_link.add_argument("--listen", default="127.0.0.1:8080", help=listen_help)
    desk_link.add_argument("--url", default=None, help=url_help)
    desk_link.set_defaults(func=cmd_desk)

    tg = sub.add_parser("bot", help="run the Telegram bot (token from TELEGRAM_BOT_TOKEN)")
    tg.add_argument("--db", default=default_db(), help=db_help)
    tg.add_argument("--base-url", default=None, help="a self-hosted Bot API server, .../bot")
    tg.add_argument("--config", default=None, help="a TOML settings file (see the README)")
    tg.add_argument("--webhook", default=None, help="public HTTPS URL Telegram posts updates to")
    tg.add_argument(
        "--listen", default=None, help="HOST:PORT the webhook listens on (default 127.0.0.1:8443)"
    )
    tg.set_defaults(func=cmd_bot)

    workers = sub.add_parser("workers", help="register social workers for the bot")
    workers_sub = workers.add_subparsers(dest="workers_command", required=True)
    add = workers_sub.add_parser("add", help="register a worker by Telegram user id")
    add.add_argument("telegram_user_id", type=int)
    add.add_argument("--name", required=True)
    add.add_argument("--supervisor", action="store_true", help="a supervisor sees the team's cases")
    add.add_argument(
        "--team", type=int, default=None, help="Telegram id of this worker's supervisor"
    )
    add.add_argument("--lang", choices=["en", "zh"], default="en")
    add.add_argument(
        "--login",
        default=None,
        metavar="OS_USER",
        help="the operating-system account whose commands act as this worker",
    )
    add.add_argument("--db", default=default_db(), help=db_help)
    add.set_defaults(func=cmd_workers_add)
    link = workers_sub.add_parser("link", help="link an OS account to a registered worker")
    link.add_argument("telegram_user_id", type=int)
    group = link.add_mutually_exclusive_group(required=True)
    group.add_argument("--login", metavar="OS_USER", help="the account to link")
    group.add_argument("--unlink", action="store_true", help="unlink any account")
    link.add_argument("--db", default=default_db(), help=db_help)
    link.set_defaults(func=cmd_workers_link)
    wlist = workers_sub.add_parser("list", help="the registered workers")
    wlist.add_argument("--db", default=default_db(), help=db_help)
    wlist.set_defaults(func=cmd_workers_list)
    wset = workers_sub.add_parser(
        "set", help="a worker's quiet hours and daily digest time (in $CASEFLOW_TZ)"
    )
    wset.add_argument("telegram_user_id", type=int)
    wset.add_argument(
        "--quiet", default=None, metavar="HH:MM-HH:MM", help="no attention alerts then, or none"
    )
    wset.add_argument("--digest", default=None, metavar="HH:MM", help="digest time, or off")
    wset.add_argument("--db", default=default_db(), help=db_help)
    wset.set_defaults(func=cmd_workers_set)

    flows = sub.add_parser("flows", help="list or validate flow files")
    flows_sub = flows.add_subparsers(dest="flows_command", required=True)
    listing = flows_sub.add_parser("list", help="the flows available")
    listing.add_argument("--lang", default="en")
    listing.set_defaults(func=cmd_flows_list)
    validate = flows_sub.add_parser("validate", help="check flow files, report every problem")
    validate.add_argument("paths", nargs="*", help="flow files (default: the bundled flows)")
    validate.set_defaults(func=cmd_flows_validate)

    from bot import cli_case, cli_flags, cli_records, cli_scales, cli_schedules, cli_weblinks

    cli_case.register(sub)
    cli_scales.register(sub)
    cli_schedules.register(sub)
    cli_records.register(sub)
    cli_flags.register(sub)
    cli_weblinks.register(sub)
    return parser


def quiet_libraries() -> None:
    """httpx logs every request URL at INFO, and a Bot API URL contains the bot's token;
    PTB at DEBUG logs update contents. Neither may reach the logs, even with -v."""
    for name in ("httpx", "httpcore", "telegram", "apscheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Everything caseflow writes holds case data: private to this account whatever the
    # shell's umask (storage/files.py also sets each file's mode explicitly).
    os.umask(0o077)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_libraries()
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`caseflow ... | head`): nothing left to say to it.
        sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
