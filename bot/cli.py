"""The ``caseflow`` command: a thin layer over flows/, storage/ and the channels."""

from __future__ import annotations

import argparse
import getpass
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.console import run_console
from bot.interview import Interviews, NotOnCase
from flows.load import bundled_flow_paths, load_flow
from flows.problems import FlowError
from flows.registry import FlowRegistry
from storage.store import FlowVersionConflict, Store

DEFAULT_DB = "caseflow.db"
DEFAULT_FLOW = "child_checkin"
DEFAULT_CASE = "DEMO"


def default_db() -> str:
    return os.environ.get("CASEFLOW_DB", DEFAULT_DB)


def _flow_dirs() -> list[Path]:
    extra = os.environ.get("CASEFLOW_FLOWS", "")
    return [Path(p) for p in extra.split(os.pathsep) if p]


def _local_user(name: str | None) -> str:
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "local"


def cmd_chat(args: argparse.Namespace) -> int:
    store = Store.open(args.db)
    try:
        person_id = store.local_person(_local_user(args.as_user), args.lang or "en")
        case = store.ensure_case(args.case, person_id)
        interviews = Interviews(store, FlowRegistry(_flow_dirs()))
        try:
            opened = interviews.open(
                args.flow, case, person_id, "terminal", lang=args.lang, phase=args.phase
            )
        except NotOnCase:
            print(f"caseflow: you are not on case {args.case}.", file=sys.stderr)
            return 3
        except FileNotFoundError:
            print(f"caseflow: no flow {args.flow!r} (see `caseflow flows list`).", file=sys.stderr)
            return 2
        except (FlowError, FlowVersionConflict) as exc:
            print(f"caseflow: {exc}", file=sys.stderr)
            return 2
        return run_console(interviews, opened, person_id, str(Path(args.db).resolve()))
    finally:
        store.close()


def cmd_flows_list(args: argparse.Namespace) -> int:
    for path in FlowRegistry(_flow_dirs()).available():
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


def cmd_run(args: argparse.Namespace) -> int:
    """`make run`: the Telegram bot when a token is set, else the check-in in the terminal."""
    if os.environ.get("TELEGRAM_BOT_TOKEN"):
        try:
            telegram_channel = importlib.import_module("bot.telegram")
        except ImportError:
            print(
                "caseflow: the Telegram channel is not part of this build yet; "
                "running the interview in the terminal instead.",
                file=sys.stderr,
            )
        else:
            return int(telegram_channel.run_from_cli(args))
    chat = argparse.Namespace(
        flow=DEFAULT_FLOW, case=DEFAULT_CASE, db=args.db, lang=args.lang, as_user=None, phase=None
    )
    return cmd_chat(chat)


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
    chat.add_argument("--as", dest="as_user", default=None, help="who is answering (default: you)")
    chat.add_argument("--phase", default=None, help="baseline, pre, mid, post, follow-up")
    chat.set_defaults(func=cmd_chat)

    run = sub.add_parser("run", help="the main job: Telegram bot if TELEGRAM_BOT_TOKEN is set")
    run.add_argument("--db", default=default_db(), help=db_help)
    run.add_argument("--lang", choices=["en", "zh"], default=None)
    run.set_defaults(func=cmd_run)

    flows = sub.add_parser("flows", help="list or validate flow files")
    flows_sub = flows.add_subparsers(dest="flows_command", required=True)
    listing = flows_sub.add_parser("list", help="the flows available")
    listing.add_argument("--lang", default="en")
    listing.set_defaults(func=cmd_flows_list)
    validate = flows_sub.add_parser("validate", help="check flow files, report every problem")
    validate.add_argument("paths", nargs="*", help="flow files (default: the bundled flows)")
    validate.set_defaults(func=cmd_flows_validate)

    try:
        from bot import cli_scales
    except ImportError:
        pass
    else:
        cli_scales.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
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
