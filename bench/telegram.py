"""The whole Telegram pipeline under load: our bot against PTB's ConversationHandler way.

    .venv/bin/python bench/telegram.py [--users 100] [--rounds 1] [--paced-seconds 20]
        [--rate 30] [--only ours|baseline] [--message-rate 0] [--http lean|httpx] [--profile]

For each bot, in one run: a fake Bot API server (``tests/fakebot.py``) in this process,
the bot as a subprocess polling it, and N simulated caregivers who each send ``/checkin`` and
answer the whole child check-in (taps, typed text, the worries branch and its probes, the
review, Submit), each waiting for the bot's next question before acting, all at once.

- ``ours``: ``caseflow bot --db FILE --base-url URL`` on a fresh SQLite file with the caregivers
  and their cases made through ``storage.store.Store``. Every answer is committed to SQLite
  before the next question is sent. Its limit of ~30 messages a second is off unless
  ``--message-rate`` is given: the fake server has no limits and the baseline no limiter.
- ``baseline``: ``bench/baseline_conversationhandler.py``, the same check-in written the way
  PTB's examples do it (ConversationHandler + PicklePersistence, default settings); its state
  lives in memory and reaches the pickle every 60 s and at shutdown.

Figures, per bot:

- updates/s: updates answered per second of wall time, all users at once (``--rounds``
  check-ins each, after one unmeasured warm-up check-in);
- CPU ms/update: user+system CPU time of the bot process (``/proc/PID/stat``, all threads)
  over that run, divided by the updates;
- CPU % at the paced rate: the bot process's CPU as a share of one core while the caregivers
  together send ``--rate`` updates a second for ``--paced-seconds``;
- for context, the fake server's own time per request and this process's CPU per update (the
  fake server and the simulated users share the machine with the bot).

At the end the run checks what was stored: for ours every session in SQLite completed with all
eleven answers, for the baseline every check-in in the pickle. It prints; it asserts nothing
about speed. Bounded: every wait has a time-out, and the bots are stopped (SIGTERM, then
SIGKILL) whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pickle
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# This file's name would shadow the telegram package for everything imported after it.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from storage.store import Store  # noqa: E402
from tests.fakebot import BotMessage, FakeTelegram, FakeUser, bypass_proxies  # noqa: E402

CASEFLOW = str(Path(sys.executable).parent / "caseflow")
BASELINE = str(Path(__file__).resolve().parent / "baseline_conversationhandler.py")
WORKER_ID = 600_000
FIRST_USER = 700_001
WARMUP_USER = 699_999
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# One check-in: (action, argument, a piece of the bot's next message). Taps cost the bot three
# Bot API calls (answerCallbackQuery, editMessageText, sendMessage), typed text one.
SCRIPT: list[tuple[str, str, str]] = [
    ("command", "/checkin", "How has the child's mood been"),
    ("press", "🙂", "how did they show it"),
    ("press", "Cried or got angry", "What happened?"),
    ("text", "She cried at bedtime", "How has the child slept"),
    ("press", "Some bad nights", "How many school days"),
    ("text", "1", "Why did the child miss 1 day"),
    ("text", "had a cold", "Is anything worrying you"),
    ("press", "Yes", "What is worrying you"),
    ("text", "She misses her mother", "Since when"),
    ("text", "since spring", "Who else knows"),
    ("text", "her teacher", "call you this week"),
    ("press", "Yes", "Please check your answers"),
    ("press", "✅ Submit", "Thank you, all done"),
]
# Ours asks how the child showed being upset as a multi-choice (several may be true): a tap
# ticks an option in place (an edit, no new message), then Done moves on. The baseline keeps
# the single choice it was written with.
SCRIPT_OURS: list[tuple[str, str, str]] = [
    step
    for original in SCRIPT
    for step in (
        [("tick", original[1], f"✓ {original[1]}"), ("press", "Done ✔", original[2])]
        if original[1] == "Cried or got angry"
        else [original]
    )
]
# What a completed session of that script holds in SQLite (question id -> JSON value).
EXPECTED_OURS: dict[str, Any] = {
    "mood": 4,
    "expression": ["cried"],
    "expression_detail": "She cried at bedtime",
    "sleep": "some_bad_nights",
    "school_days_missed": 1,
    "school_note": "had a cold",
    "has_worries": True,
    "worries": "She misses her mother",
    "worries.since_when": "since spring",
    "worries.who_knows": "her teacher",
    "wants_call": True,
}
# ... and what the baseline keeps in user_data["checkins"].
EXPECTED_BASELINE: dict[str, Any] = {
    "mood": "4 🙂",
    "expression": "Cried or got angry",
    "expression_detail": "She cried at bedtime",
    "sleep": "Some bad nights",
    "school_days_missed": 1,
    "school_note": "had a cold",
    "has_worries": True,
    "worries": "She misses her mother",
    "since_when": "since spring",
    "who_knows": "her teacher",
    "wants_call": True,
}


class BenchTelegram(FakeTelegram):
    """The fake server, waking only the chat a message went to.

    ``FakeUser.wait_reply`` re-checks every waiting user on every server event, which costs
    O(users) per event in this process; here each chat has its own event.
    """

    def __init__(self, script: list[tuple[str, str, str]]) -> None:
        super().__init__(log_limit=1000)
        self.arrived: dict[int, asyncio.Event] = {}
        self.script = script

    def _record(self, chat: Any, message: BotMessage, line: str) -> BotMessage:
        recorded = super()._record(chat, message, line)
        event = self.arrived.get(chat.user.id)
        if event is not None:
            event.set()
        return recorded

    async def act(self, user: FakeUser, step: tuple[str, str, str], timeout: float) -> None:
        """Do one step of the script and wait for the bot's next message that contains the
        expected words (new messages only: a tap's edit comes before it)."""
        kind, argument, expect = step
        chat = self._chat(user.id)
        event = self.arrived.setdefault(user.id, asyncio.Event())
        seen = len(chat.order)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if kind == "tick":
            # The tick edits the question's buttons in place: wait for the ticked label.
            (question,) = [m for m in reversed(chat.order) if m.button(argument)][:1]
            user.press(argument, question)
            while question.button(expect) is None:
                if loop.time() > deadline:
                    raise TimeoutError(f"user {user.id}: {argument!r} was not ticked")
                await asyncio.sleep(0.002)
            return
        if kind == "command":
            user.send_command(argument)
        elif kind == "press":
            user.press(argument)
        else:
            user.send_text(argument)
        while True:
            for message in chat.order[seen:]:
                if expect in message.content:
                    return
            seen = len(chat.order)
            event.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                tail = "\n  ".join(chat.transcript[-6:])
                raise TimeoutError(
                    f"user {user.id}: no reply containing {expect!r} within {timeout}s after "
                    f"{kind} {argument!r}; last lines:\n  {tail}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Sample:
    """Counters at one moment, to subtract."""

    wall: float
    bot_cpu: float
    own_cpu: float
    requests: int
    server_busy: float
    connections: int
    calls: dict[str, int]

    @classmethod
    def take(cls, server: FakeTelegram, pid: int) -> Sample:
        return cls(
            time.perf_counter(),
            cpu_seconds(pid),
            time.process_time(),
            server.stats.requests,
            server.stats.busy_seconds,
            server.stats.connections,
            dict(server.calls),
        )


@dataclass
class Phase:
    updates: int
    wall: float
    bot_cpu: float
    own_cpu: float
    requests: int
    server_busy: float
    api_calls: int  # Bot API calls other than getUpdates
    messages: int  # sendMessage + editMessageText: what Telegram's ~30/s limit counts
    connections: int  # TCP connections the bot opened to the server
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def between(cls, a: Sample, b: Sample, updates: int) -> Phase:
        delta = {k: v - a.calls.get(k, 0) for k, v in b.calls.items()}
        return cls(
            updates,
            b.wall - a.wall,
            b.bot_cpu - a.bot_cpu,
            b.own_cpu - a.own_cpu,
            b.requests - a.requests,
            b.server_busy - a.server_busy,
            sum(v for k, v in delta.items() if k != "getUpdates"),
            delta.get("sendMessage", 0) + delta.get("editMessageText", 0),
            b.connections - a.connections,
        )

    @property
    def rate(self) -> float:
        return self.updates / self.wall if self.wall else 0.0

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.bot_cpu / self.updates if self.updates else float("nan")

    @property
    def cpu_share(self) -> float:
        return 100 * self.bot_cpu / self.wall if self.wall else float("nan")


@dataclass
class Result:
    bot: str
    users: int
    burst: Phase | None = None
    paced: Phase | None = None
    idle_share: float = float("nan")  # CPU % of one core while nobody writes
    stored: str = ""
    log: str = ""


# -- the caregivers ---------------------------------------------------------------------------


async def checkin(
    server: BenchTelegram, user: FakeUser, timeout: float, latencies: list[float]
) -> None:
    for step in server.script:
        started = time.perf_counter()
        await server.act(user, step, timeout)
        latencies.append(time.perf_counter() - started)


async def burst(
    server: BenchTelegram, users: list[FakeUser], rounds: int, timeout: float, limit: float
) -> tuple[int, list[float], list[str]]:
    """Every user does ``rounds`` check-ins, all users at once. Updates done, latencies,
    errors."""
    latencies: list[float] = []
    errors: list[str] = []

    async def one(user: FakeUser) -> None:
        try:
            for _ in range(rounds):
                await checkin(server, user, timeout, latencies)
        except (TimeoutError, LookupError) as exc:
            errors.append(str(exc))

    tasks = [asyncio.create_task(one(u)) for u in users]
    _, pending = await asyncio.wait(tasks, timeout=limit)
    for task in pending:
        task.cancel()
        errors.append("a caregiver was still busy when the run's time limit came")
    await asyncio.gather(*pending, return_exceptions=True)
    return len(latencies), latencies, errors


async def paced(
    server: BenchTelegram,
    users: list[FakeUser],
    rate: float,
    seconds: float,
    timeout: float,
    pid: int,
) -> tuple[Phase, int]:
    """The users together send ``rate`` updates a second for ``seconds``; each still waits for
    the bot's reply before its next step. The phase and the check-ins completed.

    Before the window (not measured) user i goes i steps into a check-in, so the window sees
    the script's mix of taps and typed answers rather than everyone's first steps. After the
    window everyone finishes the check-in in hand (not measured either), so every session
    ends completed.
    """
    loop = asyncio.get_running_loop()
    tickets: asyncio.Queue[None] = asyncio.Queue()
    window_open = True
    done_in_window = 0
    finished = 0
    errors: list[str] = []
    latencies: list[float] = []

    async def lead_in(user: FakeUser, steps: int) -> None:
        for step in server.script[:steps]:
            await server.act(user, step, timeout)

    async def user_loop(user: FakeUser, position: int) -> None:
        nonlocal done_in_window, finished
        try:
            while window_open or position:
                if window_open:
                    await tickets.get()
                in_window = window_open
                started = time.perf_counter()
                await server.act(user, server.script[position], timeout)
                if in_window:
                    done_in_window += 1
                    latencies.append(time.perf_counter() - started)
                position = (position + 1) % len(server.script)
                finished += position == 0
        except (TimeoutError, LookupError) as exc:
            errors.append(str(exc))

    positions = [i % len(server.script) for i in range(len(users))]
    await asyncio.gather(*(lead_in(u, p) for u, p in zip(users, positions, strict=True)))
    tasks = [asyncio.create_task(user_loop(u, p)) for u, p in zip(users, positions, strict=True)]
    start = Sample.take(server, pid)
    begin = loop.time()
    issued = 0
    while (now := loop.time()) < begin + seconds:
        due = int((now - begin) * rate) + 1
        for _ in range(due - issued):
            tickets.put_nowait(None)
        issued = max(issued, due)
        await asyncio.sleep(max(0.0, begin + issued / rate - loop.time()))
    end = Sample.take(server, pid)
    window_open = False
    for _ in users:  # wake whoever waits for a ticket
        tickets.put_nowait(None)
    _, pending = await asyncio.wait(tasks, timeout=timeout + 30)
    for task in pending:
        task.cancel()
        errors.append("a caregiver did not finish the check-in in hand")
    await asyncio.gather(*pending, return_exceptions=True)
    phase = Phase.between(start, end, done_in_window)
    phase.latencies, phase.errors = latencies, errors
    return phase, finished


# -- the bots ---------------------------------------------------------------------------------


def prepare_db(path: str, user_ids: list[int]) -> None:
    store = Store.open(path)
    try:
        with store.atomic():
            worker = store.add_person("Bench Worker", "worker", telegram_user_id=WORKER_ID)
            for n, uid in enumerate(user_ids):
                person = store.add_person(f"Caregiver {n}", "caregiver", telegram_user_id=uid)
                case = store.create_case(
                    f"B-{n:05d}", worker, facts={"checkin_flow": "child_checkin"}
                )
                store.add_member(case.id, person, "caregiver", worker)
    finally:
        store.close()


def verify_ours(path: str, user_ids: list[int], expected_checkins: int) -> str:
    store = Store.open(path)
    try:
        complete = incomplete = 0
        for uid in user_ids:
            person = store.person_by_telegram(uid)
            assert person is not None
            for case in store.cases_of(int(person["id"])):
                for session in store.sessions_of_case(int(case["id"])):
                    values = {
                        a["question_id"]: json.loads(a["value"])
                        for a in store.current_answers(str(session["id"]))
                        if a["value"] is not None
                    }
                    if session["status"] == "completed" and values == EXPECTED_OURS:
                        complete += 1
                    else:
                        incomplete += 1
        problems = store.check_integrity()
    finally:
        store.close()
    verdict = "OK" if complete == expected_checkins and not incomplete and not problems else "!!"
    return (
        f"{verdict} SQLite: {complete} sessions completed with all {len(EXPECTED_OURS)} answers "
        f"(expected {expected_checkins}), {incomplete} not; integrity "
        f"{'ok' if not problems else problems[:3]}"
    )


def verify_baseline(path: str, user_ids: list[int], expected_checkins: int) -> str:
    if not Path(path).exists():
        return "!! no pickle was written"
    with open(path, "rb") as handle:
        data = pickle.load(handle)  # our own file, written by the baseline just now
    user_data = data.get("user_data", {})
    complete = incomplete = 0
    for uid in user_ids:
        for item in user_data.get(uid, {}).get("checkins", []):
            if item == EXPECTED_BASELINE:
                complete += 1
            else:
                incomplete += 1
    verdict = "OK" if complete == expected_checkins and not incomplete else "!!"
    return (
        f"{verdict} pickle: {complete} check-ins with all {len(EXPECTED_BASELINE)} answers "
        f"(expected {expected_checkins}), {incomplete} not"
    )


@contextlib.contextmanager
def bot_process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def profiling(enabled: bool, pid: int, stem: Path) -> Iterator[None]:
    """Sample the bot with py-spy (if asked for and installed) while the block runs: collapsed
    stacks in ``STEM.txt`` (one "frame;frame;... count" a line) and a flame graph in ``STEM.svg``.
    """
    spy = Path(sys.executable).parent / "py-spy"
    if not enabled or not spy.exists():
        if enabled:
            print(f"  (no {spy}: pip install py-spy to profile)")
        yield
        return
    record = [str(spy), "record", "--pid", str(pid), "--rate", "200", "--nonblocking"]
    recorders = [
        subprocess.Popen(
            [*record, "--format", fmt, "-o", f"{stem}.{ext}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for fmt, ext in (("raw", "txt"), ("flamegraph", "svg"))
    ]
    time.sleep(0.5)  # let py-spy attach
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)
        for recorder in recorders:
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait(timeout=10)
        print(f"  profile: {stem}.txt, {stem}.svg")


async def stop_bot(proc: subprocess.Popen[bytes], server: FakeTelegram) -> None:
    """SIGTERM with the server still up (the baseline flushes its pickle), then close the
    server so a long poll returns, then SIGKILL."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    server_stopped = False
    while proc.poll() is None and loop.time() < deadline:
        if not server_stopped and loop.time() > deadline - 17:
            await server.stop()  # answers the long poll our bot is waiting in
            server_stopped = True
        await asyncio.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
        await asyncio.to_thread(proc.wait, 10)


async def wait_ready(server: FakeTelegram, proc: subprocess.Popen[bytes], log: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while server.calls["getUpdates"] == 0:
        if proc.poll() is not None or loop.time() > deadline:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the bot did not start polling; its log ends:\n{tail}")
        await asyncio.sleep(0.05)


async def run_bot(kind: str, args: argparse.Namespace, workdir: Path) -> Result:
    user_ids = [FIRST_USER + n for n in range(args.users)]
    everyone = [WARMUP_USER, *user_ids]
    log = workdir / f"{kind}.log"
    store_path = str(workdir / ("ours.db" if kind == "ours" else "baseline.pickle"))
    result = Result(kind, args.users, log=str(log))
    server = BenchTelegram(SCRIPT_OURS if kind == "ours" else SCRIPT)
    async with server:
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": server.token}
        if kind == "ours":
            env["CASEFLOW_TELEGRAM_RATE"] = f"{args.message_rate:g}"
            if args.http:
                env["CASEFLOW_TELEGRAM_HTTP"] = args.http
            prepare_db(store_path, everyone)
            command = [*shlex.split(args.ours_command)]
            command += ["bot", "--db", store_path, "--base-url", server.base_url]
        else:
            command = [
                sys.executable,
                BASELINE,
                "--base-url",
                server.base_url,
                "--persistence",
                store_path,
            ]
        checkins = 0
        with bot_process(command, env, log) as proc:
            try:
                await wait_ready(server, proc, log)
                warmup = server.user(WARMUP_USER, first_name="Warm-up")
                await checkin(server, warmup, args.timeout, [])
                checkins += 1
                users = [server.user(uid, first_name=f"Caregiver {uid}") for uid in user_ids]
                quiet = Sample.take(server, proc.pid)
                await asyncio.sleep(args.idle_seconds)
                result.idle_share = Phase.between(quiet, Sample.take(server, proc.pid), 0).cpu_share

                before = Sample.take(server, proc.pid)
                with profiling(args.profile, proc.pid, workdir / f"{kind}-burst"):
                    updates, latencies, errors = await burst(
                        server, users, args.rounds, args.timeout, args.max_seconds
                    )
                after = Sample.take(server, proc.pid)
                result.burst = Phase.between(before, after, updates)
                result.burst.latencies, result.burst.errors = latencies, errors
                checkins += updates // len(server.script)

                if args.paced_seconds > 0:
                    with profiling(args.profile, proc.pid, workdir / f"{kind}-paced"):
                        result.paced, finished = await paced(
                            server, users, args.rate, args.paced_seconds, args.timeout, proc.pid
                        )
                    checkins += finished
            finally:
                await stop_bot(proc, server)
            if proc.returncode not in (0, -signal.SIGTERM):
                result.stored = f"!! the bot exited with {proc.returncode}; see {log}"
    verify = verify_ours if kind == "ours" else verify_baseline
    stored = verify(store_path, everyone, checkins)
    result.stored = f"{result.stored} {stored}".strip()
    return result


# -- the report -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(results: list[Result], args: argparse.Namespace) -> None:
    nan = float("nan")
    print()
    intro = (
        f"{args.users} caregivers x {args.rounds} check-in(s) of {len(SCRIPT_OURS)} updates for "
        f"ours (6 taps and a tick, 6 typed answers, 1 command) and {len(SCRIPT)} for the "
        f"baseline (6 taps, its single choice needs no Done), all at once; "
        f"then {args.rate:g} updates/s for "
        f"{args.paced_seconds:g} s. {os.cpu_count()} CPUs, loopback, fake Bot API server in the "
        f"bench process. Ours: message rate limit "
        f"{'off' if not args.message_rate else f'{args.message_rate:g}/s'}, "
        f"HTTP {args.http or 'default'}."
    )
    print(textwrap.fill(intro, width=100))
    head = (
        f"{'bot':<10}{'users':>6}{'updates':>9}{'wall s':>8}{'upd/s':>8}{'CPU ms/upd':>12}"
        f"   {f'CPU % at {args.rate:g}/s':<28}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        b = r.burst
        if b is None:
            print(f"{r.bot:<10} (no result)")
            continue
        pace = "-"
        if r.paced is not None:
            pace = f"{r.paced.cpu_share:.1f}"
            if r.paced.rate < 0.95 * args.rate:
                pace += f" (reached {r.paced.rate:.1f}/s)"
        print(
            f"{r.bot:<10}{r.users:>6}{b.updates:>9}{b.wall:>8.2f}{b.rate:>8.1f}{b.cpu_ms:>12.2f}"
            f"   {pace:<28}"
        )
    by_name = {r.bot: r for r in results}
    ours, base = by_name.get("ours"), by_name.get("baseline")
    if ours and base and ours.burst and base.burst and base.burst.rate and ours.burst.cpu_ms:
        print(
            f"ours/baseline: throughput {ours.burst.rate / base.burst.rate:.2f}x; "
            f"CPU per update {ours.burst.cpu_ms / base.burst.cpu_ms:.2f}x "
            f"(the baseline spends {base.burst.cpu_ms / ours.burst.cpu_ms:.2f}x ours)"
        )
    print()
    head = (
        f"{'context':<10}{'calls/upd':>10}{'conns':>6}{'p50 ms':>8}{'p95 ms':>8}{'paced upd/s':>12}"
        f"{'msg/s':>7}{'polls/upd':>10}{'ms/upd':>8}{'idle %':>8}{'server us/req':>14}"
        f"{'bench ms/upd':>13}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        b, p = r.burst, r.paced
        if b is None:
            continue
        median = statistics.median(b.latencies) if b.latencies else nan
        paced_cols = f"{'-':>12}{'-':>7}{'-':>10}{'-':>8}"
        if p is not None:
            polls = (p.requests - p.api_calls) / p.updates if p.updates else nan
            paced_cols = f"{p.rate:>12.1f}{p.messages / p.wall if p.wall else nan:>7.1f}"
            paced_cols += f"{polls:>10.2f}{p.cpu_ms:>8.2f}"
        print(
            f"{r.bot:<10}{b.api_calls / max(b.updates, 1):>10.2f}{b.connections:>6}"
            f"{1000 * median:>8.1f}"
            f"{1000 * percentile(b.latencies, 0.95):>8.1f}{paced_cols}{r.idle_share:>8.2f}"
            f"{1e6 * b.server_busy / b.requests if b.requests else nan:>14.0f}"
            f"{1000 * b.own_cpu / max(b.updates, 1):>13.2f}"
        )
    legend = (
        "calls/upd: Bot API calls per update besides getUpdates; conns: TCP connections the bot "
        "opened in the all-at-once run; p50/p95: a caregiver's wait for "
        "the next question in the all-at-once run; msg/s: sendMessage + editMessageText per "
        "second in the paced run (Telegram allows about 30); polls/upd: getUpdates calls per "
        "update there; ms/upd: bot CPU per update there; "
        "idle %: bot CPU with nobody writing; server us/req: the fake server's handler code per "
        "request; bench ms/upd: this process's CPU (server, users) per update."
    )
    print(textwrap.fill(legend, width=100))
    for r in results:
        print(f"{r.bot}: {r.stored}")
        for phase in (r.burst, r.paced):
            if phase and phase.errors:
                print(f"  {len(phase.errors)} caregiver error(s); first: {phase.errors[0]}")
        if r.paced is not None and r.paced.rate < 0.95 * args.rate:
            print(
                f"  {r.bot} fell behind the paced rate: {r.paced.rate:.1f} of {args.rate:g} "
                f"updates/s, sending {r.paced.messages / r.paced.wall:.1f} messages/s"
            )
    print(f"logs: {', '.join(r.log for r in results)}")


def main() -> int:
    parser = argparse.ArgumentParser(description="Telegram pipeline bench (prints figures).")
    parser.add_argument("--users", type=int, default=100, help="simulated caregivers")
    parser.add_argument("--rounds", type=int, default=1, help="check-ins per caregiver")
    parser.add_argument("--only", choices=("ours", "baseline"), help="run one bot only")
    parser.add_argument("--paced-seconds", type=float, default=20, help="0 skips the paced run")
    parser.add_argument("--rate", type=float, default=30, help="updates/s in the paced run")
    parser.add_argument(
        "--idle-seconds", type=float, default=3, help="how long to measure the idle bot"
    )
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for a reply")
    parser.add_argument(
        "--max-seconds", type=float, default=600, help="time limit of the all-at-once run"
    )
    parser.add_argument(
        "--message-rate",
        type=float,
        default=0,
        help="our bot's limit on messages a second (CASEFLOW_TELEGRAM_RATE); 0, the default "
        "here, turns it off as the fake server has no limits and the baseline no limiter; 30 is "
        "what the bot runs with against Telegram",
    )
    parser.add_argument(
        "--http",
        choices=("lean", "httpx"),
        help="our bot's HTTP client (CASEFLOW_TELEGRAM_HTTP); default: the bot's own default",
    )
    parser.add_argument("--workdir", help="keep the databases and logs here (default: temp)")
    parser.add_argument(
        "--ours-command",
        default=CASEFLOW,
        help="how to start our bot (to try a variant or run it under a profiler), followed by "
        "'bot --db FILE --base-url URL'; default: %(default)s",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample each bot with py-spy during both runs (WORKDIR/BOT-burst.*, BOT-paced.*)",
    )
    args = parser.parse_args()
    if args.users < 1 or args.rounds < 1:
        parser.error("--users and --rounds must be at least 1")
    bypass_proxies()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="caseflow-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for kind in [args.only] if args.only else ["ours", "baseline"]:
        print(f"running {kind} ...", flush=True)
        results.append(asyncio.run(run_bot(kind, args, workdir)))
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
