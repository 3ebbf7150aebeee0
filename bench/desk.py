"""The desk under load: server time per page, and the bot's step latency beside it.

    .venv/bin/python bench/desk.py [--cases 500] [--sessions 20000] [--requests 100]
        [--caregivers 200] [--desk-users 20] [--rate 30] [--seconds 40] [--skip-bot]

1. **Data**: a file database with ``--cases`` cases (25 per worker, 20 workers under two
   supervisors, one caregiver per case) and ``--sessions`` sessions: per case two scale
   administrations (pre and post: PHQ-9, GAD-7, WHO-5), two session records, two informal
   contacts and weekly child check-ins for the rest, plus a weekly schedule with eight weeks
   of due, completed and missed check-ins. A few sessions are run through the engine; the
   rest are copies of them (answers and scores too) on other cases and dates, made with SQL.
2. **Pages**, in this process through Starlette's TestClient (so the time includes the test
   client's own ~1 ms), each page a bounded number of times: a worker's caseload (25 cases),
   a supervisor's caseload (250 cases, by worker), a case page (about 40 sessions; the first
   view of each case, and again), a chart image drawn for the first time, and a session
   record. p50 and p95.
3. **The bot beside the desk**: ``caseflow run`` (bot and desk in one process; the bot's
   database thread also takes the desk's writes, the desk reads on its own read-only
   connection; as ``make run`` with a token) against the fake Bot API server of
   ``tests/fakebot.py`` in this process. ``--caregivers`` caregivers answer child check-ins
   together at ``--rate`` updates a second (``bench/telegram.py``'s paced run: each waits for
   the bot's reply before the next step) for ``--seconds``; once with nobody at the desk and
   once while ``--desk-users`` workers browse it over HTTP on loopback (the caseload, a case,
   a record of it, round again, reading each page ``--think`` seconds). The bot's step
   latency (an action to the bot's next message) p50/p95/p99 in each, and the desk's page
   times under that load: its own (a Server-Timing header) and as the bench's client saw it
   (that includes this process's event loop, busy with the fake server and 200 caregivers).

Prints figures; asserts nothing. Every loop is bounded in count or time; the server process
is stopped (SIGTERM, then SIGKILL) whatever happens; traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.telegram import (  # noqa: E402
    FIRST_USER,
    WARMUP_USER,
    BenchTelegram,
    checkin,
    paced,
    stop_bot,
    wait_ready,
)
from casework import signin  # noqa: E402
from casework.interviews import Interviews  # noqa: E402
from flows.recurrence import Recurrence  # noqa: E402
from flows.registry import FlowRegistry  # noqa: E402
from storage.store import Store  # noqa: E402
from tests.deskkit import CHECKINS, NOTE, RECORD, SCALES_HIGH, SCALES_LOW, administer  # noqa: E402
from tests.fakebot import bypass_proxies  # noqa: E402

CASEFLOW = str(Path(sys.executable).parent / "caseflow")

# The child check-in as the bundled flow asks it now ("how it was shown" is a several-choice
# question: a tick, then Done), shorter than bench/telegram.py's: no worries this week.
CHECKIN_SCRIPT: list[tuple[str, str, str]] = [
    ("command", "/checkin", "How has the child's mood been"),
    ("press", "🙂", "how did they show it"),
    ("tick", "Cried or got angry", "✓ Cried or got angry"),
    ("press", "Done ✔", "What happened?"),
    ("text", "She cried at bedtime", "How has the child slept"),
    ("press", "Some bad nights", "How many school days"),
    ("text", "1", "Why did the child miss 1 day"),
    ("text", "had a cold", "Is anything worrying you"),
    ("press", "No", "Please check your answers"),
    ("press", "✅ Submit", "Thank you, all done"),
]


class DeskBenchTelegram(BenchTelegram):
    """The bot bench's fake server, driving this bench's check-in."""

    def __init__(self) -> None:
        super().__init__(CHECKIN_SCRIPT)


WORKERS = 20
CASES_PER_WORKER = 25
START = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


# -- the data ---------------------------------------------------------------------------------


@dataclass
class World:
    path: str
    workers: list[int]
    supervisors: list[int]
    cases: list[tuple[int, str]]  # (id, code)
    sessions: list[str]
    caregivers: list[int]  # telegram ids of caregivers with a case, in case order


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def build(path: str, cases: int, sessions: int) -> World:
    store = Store.open(path)
    db = store.db
    try:
        sup = [store.add_person(f"Supervisor {i}", "supervisor") for i in range(2)]
        workers = []
        for w in range(max(1, cases // CASES_PER_WORKER)):
            person = store.add_person(f"Worker {w:02d}", "worker", telegram_user_id=500_000 + w)
            store.set_supervisor(person, sup[w % 2])
            workers.append(person)
        # The templates: sessions run through the engine on a case of their own.
        template_worker = workers[0]
        template_case = store.create_case("TEMPLATE", template_worker)
        template_carer = store.add_person("Template carer", "caregiver")
        store.add_member(template_case.id, template_carer, "caregiver", template_worker)
        interviews = Interviews(store, FlowRegistry())
        templates: dict[str, list[str]] = {"checkin": [], "scales": [], "record": [], "note": []}
        for lines in CHECKINS:
            templates["checkin"].append(
                administer(interviews, "child_checkin", template_case, template_carer, lines)
            )
        for lines, phase in ((SCALES_HIGH, "pre"), (SCALES_LOW, "post")):
            templates["scales"].append(
                administer(
                    interviews, "adult_scales", template_case, template_carer, lines, phase=phase
                )
            )
        templates["record"].append(
            administer(interviews, "session_record", template_case, template_worker, RECORD)
        )
        templates["note"].append(
            administer(interviews, "contact_note", template_case, template_worker, NOTE)
        )
        per_case = max(8, sessions // cases)
        made_cases: list[tuple[int, str]] = []
        session_ids: list[str] = []
        caregivers: list[int] = []
        rule = Recurrence(kind="weekly", weekdays=["mon"], at="18:00", tz="Asia/Shanghai")
        with store.atomic():
            for c in range(cases):
                worker = workers[c % len(workers)]
                code = f"K-{c:04d}"
                case = store.create_case(
                    code,
                    worker,
                    title=f"Family {c}",
                    facts={
                        "child_name": f"Child {c}",
                        "age": 6 + c % 10,
                        "checkin_flow": "child_checkin",
                    },
                )
                carer_tg = FIRST_USER + c
                carer = store.add_person(f"Caregiver {c}", "caregiver", telegram_user_id=carer_tg)
                store.add_member(case.id, carer, "caregiver", worker)
                made_cases.append((case.id, code))
                caregivers.append(carer_tg)
                plan = ["scales", "record", "note"] + ["checkin"] * (per_case - 6)
                plan += ["record", "note", "scales"]
                for k, kind in enumerate(plan):
                    pool = templates[kind]
                    if kind == "scales":
                        source = pool[0] if k == 0 else pool[1]
                    else:
                        source = pool[k % len(pool)]
                    at = START + timedelta(days=7 * k + c % 7, hours=c % 5)
                    respondent = carer if kind in ("checkin", "scales") else worker
                    session_ids.append(_clone(db, source, case.id, respondent, at))
                _schedule(db, case.id, carer, worker, rule)
        # The bot bench's warm-up caregiver, on a case of their own.
        warm_case = store.create_case(
            "WARM-UP", workers[0], facts={"checkin_flow": "child_checkin"}
        )
        warm = store.add_person("Warm-up", "caregiver", telegram_user_id=WARMUP_USER)
        store.add_member(warm_case.id, warm, "caregiver", workers[0])
        store.db.execute("ANALYZE")
        return World(path, workers, sup, made_cases, session_ids, caregivers)
    finally:
        store.close()


def _clone(db: Any, source: str, case_id: int, respondent: int, at: datetime) -> str:
    new = str(uuid.uuid4())
    begin, end = _iso(at), _iso(at + timedelta(minutes=9))
    db.execute(
        "INSERT INTO sessions (id, case_id, flow_id, flow_version, respondent_id, channel, lang,"
        " phase, state, resume_state, editing, status, shown_at, started_at, updated_at,"
        " completed_at) SELECT ?, ?, flow_id, flow_version, ?, channel, lang, phase, state,"
        " resume_state, editing, status, shown_at, ?, ?, ? FROM sessions WHERE id = ?",
        (new, case_id, respondent, begin, end, end, source),
    )
    db.execute(
        "INSERT INTO answers (session_id, stage_id, question_id, parent_id, revision, status,"
        " value, display, shown_at, answered_at, changed_by, reason) SELECT ?, stage_id,"
        " question_id, parent_id, revision, status, value, display, ?, ?, ?, reason"
        " FROM answers WHERE session_id = ?",
        (new, begin, begin, respondent, source),
    )
    db.execute(
        "INSERT INTO scores (session_id, stage_id, instrument_id, instrument_version, total,"
        " band, result, revision, computed_at) SELECT ?, stage_id, instrument_id,"
        " instrument_version, total, band, result, revision, ? FROM scores WHERE session_id = ?",
        (new, end, source),
    )
    return new


def _schedule(db: Any, case_id: int, carer: int, worker: int, rule: Recurrence) -> None:
    now = datetime.now(UTC)
    created = now - timedelta(weeks=9)
    cursor = db.execute(
        "INSERT INTO schedules (case_id, person_id, flow_id, rule, created_by, created_at,"
        " active_from) VALUES (?, ?, 'child_checkin', ?, ?, ?, ?)",
        (case_id, carer, rule.to_json(), worker, _iso(created), _iso(created)),
    )
    schedule_id = cursor.lastrowid
    for week in range(8):
        due = _iso(now - timedelta(weeks=8 - week))
        db.execute(
            "INSERT INTO schedule_events (schedule_id, due_at, kind, at) VALUES (?, ?, 'due', ?)",
            (schedule_id, due, due),
        )
        kind = "missed" if (case_id + week) % 5 == 0 else "completed"
        db.execute(
            "INSERT INTO schedule_events (schedule_id, due_at, kind, at) VALUES (?, ?, ?, ?)",
            (schedule_id, due, kind, due),
        )


def links(path: str, people: list[int]) -> list[str]:
    store = Store.open(path)
    try:
        now = datetime.now(UTC)
        return [signin.issue_link(store, p, now, created_by=None, via="bench") for p in people]
    finally:
        store.close()


# -- figures ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(name: str, times: list[float], aim: float | None = None) -> str:
    p50, p95 = percentile(times, 0.5) * 1000, percentile(times, 0.95) * 1000
    verdict = "" if aim is None else f"  (aim < {aim:g} ms: {'met' if p95 < aim else 'MISSED'})"
    return f"  {name:<44} n={len(times):<5} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms{verdict}"


# -- part 2: pages in process -----------------------------------------------------------------


def page_times(world: World, requests: int) -> None:
    from starlette.testclient import TestClient

    from desk.app import build_app
    from desk.backend import Backend
    from flows.recurrence import default_tz
    from templates.i18n import zone

    backend = Backend.open(world.path)
    app = build_app(backend, secret=b"b" * 32, tz=zone(default_tz()), bot_username="bench_bot")
    worker, supervisor = world.workers[0], world.supervisors[0]
    worker_link, supervisor_link = links(world.path, [worker, supervisor])

    def client(token: str) -> TestClient:
        made = TestClient(app, follow_redirects=False)
        page = made.get(f"/signin/{token}")
        found = CSRF.search(page.text)
        assert found is not None
        assert (
            made.post("/signin", data={"token": token, "csrf": found.group(1)}).status_code == 303
        )
        return made

    as_worker, as_supervisor = client(worker_link), client(supervisor_link)
    mine = [code for i, (_, code) in enumerate(world.cases) if i % len(world.workers) == 0]
    sessions_of_mine = _sessions_of(world, {cid for cid, code in world.cases if code in mine})

    def timed(get: Callable[[], Any], n: int) -> list[float]:
        out = []
        for _ in range(n):
            started = time.perf_counter()
            response = get()
            out.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
        return out

    rnd = random.Random(7)
    timed(lambda: as_worker.get("/caseload"), 3)  # warm: templates, flow versions
    # The process's first case page compiles flow versions; do that on a case of another
    # worker of the same supervisor, so "first view" below means the case's, not the process's.
    if len(world.cases) > 2 and len(world.workers) > 2:
        timed(lambda: as_supervisor.get(f"/cases/{world.cases[2][1]}"), 1)
    print(f"Pages in process ({os.cpu_count()} CPUs), TestClient, {requests} requests each:")
    print(
        line(
            "caseload, worker (25 cases)", timed(lambda: as_worker.get("/caseload"), requests), 100
        )
    )
    print(
        line(
            "caseload, supervisor (250 cases by worker)",
            timed(lambda: as_supervisor.get("/caseload"), max(10, requests // 2)),
            100,
        )
    )
    cold: list[float] = []
    drawn: list[float] = []
    for code in mine:
        path = f"/cases/{code}"
        cold += timed(lambda: as_worker.get(path), 1)  # noqa: B023 (called at once)
        page = as_worker.get(path).text
        for chart in re.findall(r'<img src="(/cases/[^"]+/charts/[0-9a-f]+\.svg)"', page):
            drawn += timed(lambda: as_worker.get(chart), 1)  # noqa: B023
    print(line("case page, first view of each case", cold, 150))
    warm = timed(lambda: as_worker.get(f"/cases/{rnd.choice(mine)}"), requests)
    print(line("case page, seen before", warm, 150))
    print(line("a chart image, first drawn (matplotlib)", drawn))
    print(
        line(
            "record page",
            timed(lambda: as_worker.get(f"/records/{rnd.choice(sessions_of_mine)}"), requests),
            20,
        )
    )
    backend.close()


def _sessions_of(world: World, case_ids: set[int]) -> list[str]:
    store = Store.open(world.path)
    try:
        rows = store._all("SELECT id, case_id FROM sessions")
    finally:
        store.close()
    return [str(r["id"]) for r in rows if r["case_id"] in case_ids]


# -- part 3: the bot beside the desk ----------------------------------------------------------


def server_time(response: httpx.Response) -> float:
    """The desk's own time for a response (its Server-Timing header), in seconds."""
    found = re.search(r"dur=([0-9.]+)", response.headers.get("server-timing", ""))
    return float(found.group(1)) / 1000 if found else float("nan")


@dataclass
class DeskLoad:
    times: dict[str, list[float]] = field(
        default_factory=lambda: {"caseload": [], "case": [], "record": []}
    )
    server: dict[str, list[float]] = field(
        default_factory=lambda: {"caseload": [], "case": [], "record": []}
    )
    errors: list[str] = field(default_factory=list)


async def desk_user(
    base: str,
    token: str,
    world: World,
    worker_index: int,
    stop: asyncio.Event,
    load: DeskLoad,
    think: tuple[float, float],
) -> None:
    """One worker at the desk: the caseload, one of their cases, one of its records, and
    round again, reading each page for ``think`` seconds (a random time in that range)."""
    rnd = random.Random(worker_index)
    mine = [
        code for i, (cid, code) in enumerate(world.cases) if i % len(world.workers) == worker_index
    ]
    records: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=False) as client:
        page = await client.get(f"/signin/{token}")
        found = CSRF.search(page.text)
        if found is None:
            load.errors.append("no sign-in form")
            return
        await client.post("/signin", data={"token": token, "csrf": found.group(1)})
        # People do not all click at the same moment: each starts within one reading time.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rnd.uniform(0, think[1]))
        step = 0
        while not stop.is_set():
            kind = ("caseload", "case", "record")[step % 3]
            if kind == "record" and not records:
                kind = "case"
            path = {
                "caseload": "/caseload",
                "case": f"/cases/{rnd.choice(mine)}",
                "record": f"/records/{rnd.choice(records) if records else ''}",
            }[kind]
            started = time.perf_counter()
            response = await client.get(path)
            load.times[kind].append(time.perf_counter() - started)
            load.server[kind].append(server_time(response))
            if response.status_code != 200:
                load.errors.append(f"{path}: {response.status_code}")
            if kind == "case":
                records = re.findall(r'href="/records/([0-9a-f-]{36})"', response.text)
            step += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rnd.uniform(*think))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def bot_beside_desk(
    world: World, args: argparse.Namespace, with_desk: bool, workdir: Path
) -> tuple[list[float], DeskLoad, str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    name = "desk" if with_desk else "alone"
    log = workdir / f"run-{name}.log"
    # Each run on its own copy of the data: the fake server numbers updates from 1 again,
    # and the bot rightly ignores update ids it has already handled.
    path = str(workdir / f"run-{name}.db")
    for suffix in ("", "-wal", "-shm", ".desk-secret"):
        Path(path + suffix).unlink(missing_ok=True)
    shutil.copy(world.path, path)
    world = replace(world, path=path)
    server = DeskBenchTelegram()
    load = DeskLoad()
    async with server:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": server.token,
            "CASEFLOW_TELEGRAM_BASE_URL": server.base_url,
            "CASEFLOW_TELEGRAM_RATE": "0",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        command = [CASEFLOW, "run", "--db", world.path, "--listen", f"127.0.0.1:{port}"]
        with log.open("ab") as out:
            proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            await wait_ready(server, proc, log)
            warm = server.user(WARMUP_USER, first_name="Warm-up")
            await checkin(server, warm, args.timeout, [])
            users = [
                server.user(uid, first_name=f"Caregiver {uid}")
                for uid in world.caregivers[: args.caregivers]
            ]
            stop = asyncio.Event()
            desk_tasks = []
            if with_desk:
                tokens = links(world.path, world.workers[: args.desk_users])
                desk_tasks = [
                    asyncio.create_task(
                        desk_user(base, tokens[i], world, i, stop, load, args.think_range)
                    )
                    for i in range(min(args.desk_users, len(tokens)))
                ]
                await asyncio.sleep(2)  # every desk user signed in and browsing
            phase, finished = await paced(
                server, users, args.rate, args.seconds, args.timeout, proc.pid
            )
            stop.set()
            for outcome in await asyncio.gather(*desk_tasks, return_exceptions=True):
                if isinstance(outcome, BaseException):  # a desk user who gave up: say why
                    load.errors.append(f"a desk user stopped: {outcome!r}")
        finally:
            await stop_bot(proc, server)
    note = f"{finished} check-ins finished, {len(phase.errors)} caregiver errors"
    if phase.errors:
        note += f" (first: {phase.errors[0][:120]})"
    return phase.latencies, load, note


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=100, help="requests per page kind")
    parser.add_argument("--caregivers", type=int, default=200)
    parser.add_argument("--desk-users", type=int, default=20)
    parser.add_argument("--rate", type=float, default=30, help="caregivers' updates/s in all")
    parser.add_argument("--seconds", type=float, default=40, help="length of each paced run")
    parser.add_argument(
        "--think", default="2-6", help="seconds a desk user reads a page, a range (2-6)"
    )
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--skip-bot", action="store_true", help="pages only")
    parser.add_argument("--workdir", help="keep the database and logs here (default: temp)")
    args = parser.parse_args()
    low, _, high = args.think.partition("-")
    args.think_range = (float(low), float(high or low))
    bypass_proxies()
    with tempfile.TemporaryDirectory() as temp:
        workdir = Path(args.workdir or temp)
        workdir.mkdir(parents=True, exist_ok=True)
        path = str(workdir / "desk-bench.db")
        for suffix in ("", "-wal", "-shm", ".desk-secret"):
            Path(path + suffix).unlink(missing_ok=True)
        started = time.perf_counter()
        world = build(path, args.cases, args.sessions)
        took = time.perf_counter() - started
        print(
            f"{len(world.cases)} cases, {len(world.sessions)} sessions, "
            f"{len(world.workers)} workers, 2 supervisors: built in {took:.1f} s"
        )
        page_times(world, args.requests)
        if args.skip_bot:
            return 0
        print(
            f"\nThe bot beside the desk: `caseflow run` (one process, one database thread); "
            f"{args.caregivers} caregivers at {args.rate:g} updates/s for {args.seconds:g} s; "
            f"desk users read each page {args.think} s"
        )
        alone, _, note_alone = asyncio.run(bot_beside_desk(world, args, False, workdir))
        print(line("bot step latency, nobody at the desk", alone))
        print(f"    p99 {percentile(alone, 0.99) * 1000:.1f} ms; {note_alone}")
        beside, load, note_beside = asyncio.run(bot_beside_desk(world, args, True, workdir))
        print(line(f"bot step latency, {args.desk_users} desk users browsing", beside))
        print(f"    p99 {percentile(beside, 0.99) * 1000:.1f} ms; {note_beside}")
        a95, b95 = percentile(alone, 0.95), percentile(beside, 0.95)
        if a95 == a95 and b95 == b95 and a95 > 0:
            change = (b95 - a95) / a95 * 100
            verdict = "met" if b95 < 0.5 and change <= 20 else "MISSED"
            print(
                f"    p95 with the desk {change:+.0f} % (aim: < 500 ms and within +20 %: {verdict})"
            )
        for kind, times in load.times.items():
            print(line(f"desk {kind}: the desk's own time, under load", load.server[kind]))
            print(line(f"desk {kind}: as the bench's client saw it", times))
        if load.errors:
            print(f"    desk errors: {len(load.errors)} (first: {load.errors[0]})")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
