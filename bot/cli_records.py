"""``caseflow render``, ``export``, ``sign`` and ``amend``: session records, case summaries,
pre/post reports and contact logs; tidy tables for analysis; signing off and correcting a
record.

``bot/cli.py`` calls :func:`register` with its subparsers. Every handler takes the parsed
arguments and returns the exit code: 0 done, 1 refused by the record's rules (already signed
off, no reason given, a broken organisation template), 2 no such case, session or question,
or an answer the question does not take, 3 the person asking is not on the case (refused and
audited).
"""

from __future__ import annotations

import argparse
import sys

from bot.cli_identity import NOT_ALLOWED, caller
from casework import policy
from casework.cases import cases_where
from casework.errors import NotAllowed
from casework.identity import Actor
from casework.records import InvalidAnswer, amend_answer
from storage.files import write_private
from storage.records import RecordError, Records
from storage.store import Case, NotFound, Store

__all__ = ["InvalidAnswer", "amend_answer", "register"]

TZ_VAR = "CASEFLOW_TZ"


def _say(message: str) -> None:
    print(f"caseflow: {message}", file=sys.stderr)


def _db(args: argparse.Namespace) -> str:
    if args.db:
        return str(args.db)
    from bot.cli import default_db  # here, not at import: bot.cli imports this module

    return default_db()


def _allowed(store: Store, case_id: int, actor: Actor, code: str, action: str) -> bool:
    """Whether the caller may perform ``action`` on the case; a refusal is audited."""
    try:
        policy.require(store, actor, action, case_id)
    except NotAllowed:
        _say(f"you are not on case {code}.")
        return False
    return True


def _write(text: str, out: str | None) -> None:
    if out:
        write_private(out, text)  # a record is case data: 0600, in a 0700 folder if new
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


# --------------------------------------------------------------------------- render


def cmd_render(args: argparse.Namespace) -> int:
    """Render a session record, case summary, pre/post report or contact log."""
    from flows.recurrence import default_tz
    from templates.i18n import zone, zone_name
    from templates.render import Renderer, RenderError

    tz_name = args.tz or default_tz()  # one setting for schedules and records
    tz = zone(tz_name)
    if tz_name and tz_name.upper() != "UTC" and zone_name(tz) == "UTC":
        _say(f"unknown time zone {tz_name!r}; give an IANA name such as Asia/Shanghai.")
        return 2
    store = Store.open(_db(args))
    try:
        who = caller(store)
        if who is None:
            return NOT_ALLOWED
        records = Records(store)
        renderer = Renderer(store, templates=args.templates, tz=tz)
        try:
            if args.what == "session":
                ids = [records.find_session(key) for key in args.sessions]
                for sid in ids:
                    info = store.session_info(sid)
                    code = store.case(info.case_id).code
                    if not _allowed(store, info.case_id, who, code, "record.view"):
                        return NOT_ALLOWED
                text = renderer.session(ids, args.format, lang=args.lang, actor_id=who.person_id)
            else:
                case = store.case_by_code(args.case)
                if not _allowed(store, case.id, who, case.code, "record.view"):
                    return NOT_ALLOWED
                render = getattr(renderer, args.what)
                text = render(case, args.format, lang=args.lang or who.lang, actor_id=who.person_id)
        except NotFound as exc:
            _say(f"{exc}.")
            return 2
        except RenderError as exc:
            _say(str(exc))
            return 1
    finally:
        store.close()
    _write(text, args.out)
    return 0


# --------------------------------------------------------------------------- export


def cmd_export(args: argparse.Namespace) -> int:
    """Write tidy tables (answers, scores, codebook) of one case or of every case one may read."""
    from templates.export import export

    store = Store.open(_db(args))
    try:
        who = caller(store)
        if who is None:
            return NOT_ALLOWED
        cases: list[Case]
        if args.case:
            try:
                case = store.case_by_code(args.case)
            except NotFound:
                _say(f"no case {args.case!r}.")
                return 2
            if not _allowed(store, case.id, who, case.code, "record.export"):
                return NOT_ALLOWED
            cases = [case]
        else:
            cases = cases_where(store, who, "record.export")
        written = export(
            store, cases, args.out, args.format, lang=args.lang or who.lang, actor_id=who.person_id
        )
    finally:
        store.close()
    for path in written:
        print(path)
    return 0


# --------------------------------------------------------------------------- sign


def cmd_sign(args: argparse.Namespace) -> int:
    """Sign off (lock) a session record, as the worker linked to the calling OS account."""
    store = Store.open(_db(args))
    try:
        who = caller(store)
        if who is None:
            return NOT_ALLOWED
        records = Records(store)
        try:
            sid = records.find_session(args.session)
        except NotFound as exc:
            _say(f"{exc}.")
            return 2
        info = store.session_info(sid)
        if not _allowed(store, info.case_id, who, store.case(info.case_id).code, "record.sign"):
            return NOT_ALLOWED
        try:
            signed_at = records.sign(sid, who.person_id, comment=args.comment)
        except RecordError as exc:
            _say(f"{exc}.")
            return 1
    finally:
        store.close()
    print(f"Session {sid} signed off at {signed_at} by {who.name}.")
    return 0


# --------------------------------------------------------------------------- amend


def cmd_amend(args: argparse.Namespace) -> int:
    """Correct one answer of a completed session; after sign-off a reason is required."""
    store = Store.open(_db(args))
    try:
        who = caller(store)
        if who is None:
            return NOT_ALLOWED
        records = Records(store)
        try:
            sid = records.find_session(args.session)
        except NotFound as exc:
            _say(f"{exc}.")
            return 2
        info = store.session_info(sid)
        if not _allowed(store, info.case_id, who, store.case(info.case_id).code, "record.amend"):
            return NOT_ALLOWED
        try:
            revision = amend_answer(
                store, sid, args.question, args.value, args.reason, who.person_id
            )
        except (NotFound, InvalidAnswer) as exc:
            _say(f"{exc}")
            return 2
        except RecordError as exc:
            _say(f"{exc}.")
            return 1
    finally:
        store.close()
    print(f"Answer {args.question} of session {sid} is now revision {revision}.")
    return 0


# --------------------------------------------------------------------------- wiring


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", default=None, help="SQLite file (default: ./caseflow.db, or $CASEFLOW_DB)"
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``render``, ``export``, ``sign`` and ``amend`` to a ``caseflow`` argument parser."""
    from templates.render import FORMATS

    render = subparsers.add_parser(
        "render",
        help="a session record, case summary, pre/post report or contact log",
        description="Render a record from what is stored, as Markdown, self-contained HTML "
        "(print it from a browser) or JSON. Organisation templates in --templates DIR (or "
        "$CASEFLOW_TEMPLATES) replace the bundled ones file by file.",
    )
    what = render.add_subparsers(dest="what", metavar="{session,case,prepost,notes}", required=True)
    kinds = {
        "session": "one or more session records (a page each when printed)",
        "case": "case summary: members, flags, latest scores, charts, timeline",
        "prepost": "pre/post evaluation: first and last scores, change, reliable change index",
        "notes": "the informal-contact log of a case",
    }
    for kind, help_text in kinds.items():
        p = what.add_parser(kind, help=help_text)
        if kind == "session":
            p.add_argument(
                "sessions",
                nargs="+",
                metavar="SESSION",
                help="session id (or its first 8 characters)",
            )
        else:
            p.add_argument("case", help="case code")
        p.add_argument("--format", choices=FORMATS, default="md", help="md (default), html or json")
        p.add_argument("--out", metavar="FILE", default=None, help="write here (default: stdout)")
        p.add_argument(
            "--lang",
            choices=["en", "zh"],
            default=None,
            help="language of the record's labels (default: the session's; for a case, yours)",
        )
        p.add_argument(
            "--templates", metavar="DIR", default=None, help="organisation templates to use first"
        )
        p.add_argument(
            "--tz",
            default=None,
            help=f"time zone for times, e.g. Asia/Shanghai (default: ${TZ_VAR} or Asia/Shanghai)",
        )
        _common(p)
        p.set_defaults(func=cmd_render)

    exp = subparsers.add_parser(
        "export",
        help="tidy tables of answers and scores for Excel, SPSS or R",
        description="Write answers, scores, a codebook of items and a list of variables into "
        "DIR: CSV (UTF-8 with BOM, opens in Excel) or JSON. Without --case: every case you "
        "are on.",
    )
    exp.add_argument("--case", default=None, help="case code (default: all your cases)")
    exp.add_argument("--format", choices=["csv", "json"], required=True)
    exp.add_argument("--out", metavar="DIR", required=True, help="folder to write the tables to")
    exp.add_argument("--lang", choices=["en", "zh"], default=None, help="language of labels")
    _common(exp)
    exp.set_defaults(func=cmd_export)

    sign = subparsers.add_parser(
        "sign",
        help="sign off (lock) a session record",
        description="Sign off a completed session record. Afterwards an answer can only be "
        "changed with `caseflow amend ... --reason`. You sign as the worker linked to your "
        "account; a worker on the case or their supervisor can sign.",
    )
    sign.add_argument("session", help="session id (or its first 8 characters)")
    sign.add_argument(
        "--comment",
        default=None,
        help="the supervisor's comment (督导意见), shown with the sign-off on the record",
    )
    _common(sign)
    sign.set_defaults(func=cmd_sign)

    amend = subparsers.add_parser(
        "amend",
        help="correct one answer of a completed session record",
        description="Write a new revision of one answer, read the way the question reads "
        "answers (an option's number, value or label; a number; a date). The record shows "
        "the change, who made it and why. A signed-off record needs --reason.",
    )
    amend.add_argument("session", help="session id (or its first 8 characters)")
    amend.add_argument("question", help="question id, e.g. mood or worries.since_when")
    amend.add_argument("value", help="the new answer")
    amend.add_argument("--reason", default=None, help="why the answer changes")
    _common(amend)
    amend.set_defaults(func=cmd_amend)
