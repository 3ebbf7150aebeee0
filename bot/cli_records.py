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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flows import answers as answer_types
from flows.registry import FlowRegistry
from storage.records import AMENDING_ROLES, NotAllowed, RecordError, Records
from storage.store import Case, NotFound, Store

__all__ = ["InvalidAnswer", "amend_answer", "register"]

TZ_VAR = "CASEFLOW_TZ"


class InvalidAnswer(RecordError):
    """The new answer is not one the question takes (the message says why)."""


@dataclass(frozen=True)
class _Who:
    person_id: int
    lang: str


def _say(message: str) -> None:
    print(f"caseflow: {message}", file=sys.stderr)


def _db(args: argparse.Namespace) -> str:
    if args.db:
        return str(args.db)
    from bot.cli import default_db  # here, not at import: bot.cli imports this module

    return default_db()


def _asker(store: Store, name: str | None) -> _Who:
    from bot.cli import _local_user

    person_id = store.local_person(_local_user(name))
    return _Who(person_id, str(store.person(person_id)["lang"] or "en"))


def _allowed(store: Store, case_id: int, person_id: int, code: str) -> bool:
    """Whether the person is on the case; a refusal is audited."""
    if store.is_member(case_id, person_id):
        return True
    store.audit(person_id, "access.refused", "case", case_id, case_id)
    _say(f"you are not on case {code}.")
    return False


def _write(text: str, out: str | None) -> None:
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")
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
        who = _asker(store, args.as_user)
        records = Records(store)
        renderer = Renderer(store, templates=args.templates, tz=tz)
        try:
            if args.what == "session":
                ids = [records.find_session(key) for key in args.sessions]
                for sid in ids:
                    info = store.session_info(sid)
                    if not _allowed(
                        store, info.case_id, who.person_id, store.case(info.case_id).code
                    ):
                        return 3
                text = renderer.session(ids, args.format, lang=args.lang, actor_id=who.person_id)
            else:
                case = store.case_by_code(args.case)
                if not _allowed(store, case.id, who.person_id, case.code):
                    return 3
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
        who = _asker(store, args.as_user)
        records = Records(store)
        cases: list[Case]
        if args.case:
            try:
                case = store.case_by_code(args.case)
            except NotFound:
                _say(f"no case {args.case!r}.")
                return 2
            if not _allowed(store, case.id, who.person_id, case.code):
                return 3
            cases = [case]
        else:
            cases = records.cases_for(who.person_id)
        written = export(
            store, cases, args.out, args.format, lang=args.lang or who.lang, actor_id=who.person_id
        )
    finally:
        store.close()
    for path in written:
        print(path)
    return 0


# --------------------------------------------------------------------------- sign


def _worker(store: Store, key: str | None) -> int | None:
    """A person by id, or by terminal user name (default: whoever runs the command)."""
    if key is None:
        return _asker(store, None).person_id
    if key.isdecimal():
        try:
            return int(store.person(int(key))["id"])
        except NotFound:
            return None
    row = store._one("SELECT id FROM people WHERE local_user = ?", (key,))
    return int(row["id"]) if row else None


def cmd_sign(args: argparse.Namespace) -> int:
    """Sign off (lock) a session record: later changes need a stated reason."""
    store = Store.open(_db(args))
    try:
        records = Records(store)
        worker_id = _worker(store, args.worker)
        if worker_id is None:
            _say(f"no worker {args.worker!r} (give a person id or a terminal user name).")
            return 2
        try:
            sid = records.find_session(args.session)
        except NotFound as exc:
            _say(f"{exc}.")
            return 2
        info = store.session_info(sid)
        if not _allowed(store, info.case_id, worker_id, store.case(info.case_id).code):
            return 3
        try:
            signed_at = records.sign(sid, worker_id, comment=args.comment)
        except NotAllowed as exc:
            store.audit(worker_id, "access.refused", "session", sid, info.case_id)
            _say(f"{exc}.")
            return 3
        except RecordError as exc:
            _say(f"{exc}.")
            return 1
    finally:
        store.close()
    print(f"Session {sid} signed off at {signed_at}.")
    return 0


# --------------------------------------------------------------------------- amend


def amend_answer(
    store: Store,
    session_id: str,
    question_id: str,
    text: str,
    reason: str | None,
    person_id: int,
    registry: FlowRegistry | None = None,
) -> int:
    """Change one answer of a completed session from what a worker typed; returns the new
    revision. The text is read as the question reads an answer (its options, range, date
    rules), shown as the respondent would have seen it, and an instrument stage it belongs to
    is rescored in the same transaction."""
    records = Records(store)
    row = records.session(session_id)
    registry = registry or FlowRegistry()
    flow_id, version = row["flow_id"], row["flow_version"]
    engine = registry.engine(flow_id, version, lambda: store.flow_source(flow_id, version))
    question = engine.compiled.by_id.get(question_id)
    if question is None or not question.answerable:
        raise NotFound(f"{flow_id} v{version} has no question {question_id!r}")
    lang = str(row["lang"])
    session = store.load_session(session_id)
    item = engine.item(session, question)
    parsed = answer_types.parse(item, text, lang, datetime.now(UTC).date())
    if isinstance(parsed, answer_types.Rejected):
        choices = answer_types.options(item, lang)
        keys = answer_types.keys(item)
        listed = "; ".join(f"{k} = {label}" for k, (_, label) in zip(keys, choices, strict=False))
        raise InvalidAnswer(f"{parsed.message} ({listed})" if listed else parsed.message)
    value = parsed.value
    display = answer_types.display(item, value, lang)
    recorded = session.answers.get(question_id)
    if recorded is not None and recorded.status != "withdrawn":
        # Score and read the case-file facts from the answers as they will be.
        recorded.value, recorded.status = value, "answered"
    scores = engine.rescore(session, question_id)
    outcome = engine.outcome(session) if row["status"] == "completed" else None
    return records.amend(
        session_id, question_id, value, display, reason, person_id, score=scores, outcome=outcome
    )


def cmd_amend(args: argparse.Namespace) -> int:
    """Correct one answer of a completed session; after sign-off a reason is required."""
    store = Store.open(_db(args))
    try:
        who = _asker(store, args.as_user)
        records = Records(store)
        try:
            sid = records.find_session(args.session)
        except NotFound as exc:
            _say(f"{exc}.")
            return 2
        info = store.session_info(sid)
        if not _allowed(store, info.case_id, who.person_id, store.case(info.case_id).code):
            return 3
        try:
            revision = amend_answer(
                store, sid, args.question, args.value, args.reason, who.person_id
            )
        except NotAllowed as exc:
            store.audit(who.person_id, "access.refused", "session", sid, info.case_id)
            _say(f"{exc}.")
            return 3
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


def _common(parser: argparse.ArgumentParser, *, asker: bool = True) -> None:
    parser.add_argument(
        "--db", default=None, help="SQLite file (default: ./caseflow.db, or $CASEFLOW_DB)"
    )
    if asker:
        parser.add_argument(
            "--as", dest="as_user", default=None, help="who is asking (default: you)"
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
        f"changed with `caseflow amend ... --reason`. Only a case's {' or '.join(AMENDING_ROLES)} "
        "can sign.",
    )
    sign.add_argument("session", help="session id (or its first 8 characters)")
    sign.add_argument(
        "--worker",
        metavar="ID",
        default=None,
        help="person id or terminal user name (default: you)",
    )
    sign.add_argument(
        "--comment",
        default=None,
        help="the supervisor's comment (督导意见), shown with the sign-off on the record",
    )
    _common(sign, asker=False)
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
