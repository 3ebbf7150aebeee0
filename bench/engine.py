"""Engine + storage speed for the caregiver check-in. Prints figures; asserts nothing.

    .venv/bin/python bench/engine.py [--sessions 400] [--open 10000]

- committed steps/s: replies through ``Interviews.reply`` (engine + one SQLite transaction
  each, WAL, synchronous=NORMAL) on a file database, one session after another;
- step latency: median and p99 of those replies;
- compile: parsing + validating the YAML, and building the state machine;
- memory: resident set growth with N open sessions held by the service.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from casework.interviews import Interviews
from flows.compile import compile_flow
from flows.engine import Engine, Reply
from flows.load import find_flow, parse_flow
from flows.registry import FlowRegistry
from storage.store import Store

FLOW = "child_checkin"
# A full check-in with the worries branch, its probes, a review, an edit and a submit.
SCRIPT = [
    "4",
    "2",
    "she cried at bedtime",
    "2",
    "1",
    "had a cold",
    "yes",
    "she misses her mother",
    "since spring",
    "her teacher",
    "yes",
    "/edit 1",
    "3",
    "/submit",
]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_compile(repeat: int = 20) -> tuple[float, float]:
    source = find_flow(FLOW).read_text(encoding="utf-8")
    parse_times, compile_times = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        flow = parse_flow(source, FLOW)
        t1 = time.perf_counter()
        compile_flow(flow)
        t2 = time.perf_counter()
        parse_times.append(t1 - t0)
        compile_times.append(t2 - t1)
    return statistics.median(parse_times) * 1000, statistics.median(compile_times) * 1000


def bench_steps(sessions: int, folder: Path) -> list[float]:
    store = Store.open(folder / "bench.db")
    interviews = Interviews(store, FlowRegistry())
    worker = store.add_person("bench", "caregiver")
    latencies: list[float] = []
    for n in range(sessions):
        case = store.create_case(f"B-{n}", worker)
        sid = interviews.open(FLOW, case, worker, "bench").session.id
        for text in SCRIPT:
            t0 = time.perf_counter()
            turn = interviews.reply(sid, worker, Reply(text=text))
            latencies.append(time.perf_counter() - t0)
            if turn.error:
                raise SystemExit(f"bench script out of step with the flow: {text!r}: {turn.error}")
        if turn.status != "completed":
            raise SystemExit("bench script did not complete the flow")
    store.close()
    return latencies


def bench_memory(count: int, folder: Path) -> tuple[float, float]:
    store = Store.open(folder / "memory.db")
    interviews = Interviews(store, FlowRegistry())
    person = store.add_person("bench", "caregiver")
    case = store.create_case("M-1", person)
    engine: Engine = FlowRegistry().current(FLOW).engine
    gc.collect()
    before = rss_mib()
    # Open sessions as the service holds them, each part-way through (4 answers given).
    with store.atomic():
        for n in range(count):
            session = engine.new_session(f"m{n}", "en")
            engine.start(session)
            for text in SCRIPT[:4]:
                engine.handle(session, Reply(text=text))
            interviews._open[session.id] = (session, case.id, person, None)
    gc.collect()
    after = rss_mib()
    store.close()
    return before, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=400)
    parser.add_argument("--open", type=int, default=10_000)
    args = parser.parse_args()
    parse_ms, compile_ms = bench_compile()
    print(f"flow {FLOW}: parse+validate {parse_ms:.2f} ms, state machine {compile_ms:.2f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        latencies = bench_steps(args.sessions, folder)
        wall = time.perf_counter() - t0
        ordered = sorted(latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
        print(
            f"committed steps: {len(latencies)} in {wall:.2f} s = "
            f"{len(latencies) / sum(latencies):.0f} steps/s (reply time only), "
            f"{len(latencies) / wall:.0f} steps/s (wall, incl. opening sessions)"
        )
        print(f"step latency: median {p50:.3f} ms, p99 {p99:.3f} ms")
        before, after = bench_memory(args.open, folder)
        print(
            f"memory: {args.open} open sessions: RSS {before:.1f} -> {after:.1f} MiB "
            f"(+{after - before:.1f} MiB, {(after - before) * 1024 / args.open:.1f} KiB/session)"
        )


if __name__ == "__main__":
    main()
