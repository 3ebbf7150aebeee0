"""How long a case summary takes to render for a long case. Prints figures; asserts nothing.

    .venv/bin/python bench/render.py [--sessions 200] [--repeat 15]

Builds a case of N sessions through ``Interviews`` in a temporary file database (weekly
caregiver check-ins, informal-contact notes, the worker's session records, and the scales
at pre, mid and post: three instruments, so three charts), then times:

- the case summary as Markdown and as HTML without charts: cold (a new ``Renderer``, which
  rebuilds each flow version from its stored text) and warm (median of --repeat renders);
- the charts' cost: HTML with charts minus HTML without, and per chart;
- one session record, for scale.

The aim is a warm case summary under 300 ms without charts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from casework.interviews import Interviews
from flows.engine import Reply
from flows.registry import FlowRegistry
from storage.store import Case, Store
from templates.render import Renderer

CHECKIN = ["4", "2", "she cried at bedtime", "2", "1", "had a cold", "yes", "misses her mother"]
CHECKIN += ["since spring", "her teacher", "yes", "/submit"]
NOTE = ["today", "2", "1", "Grandmother says she sleeps better.", "no", "no", "/submit"]
RECORD = ["3", "today", "1", "1", "1,2", "Name feelings with cards.", "Yes.", "6", "1"]
RECORD += ["Sorted the cards.", "'I miss Mum.'", "Calmer.", "Looked at the phone often."]
RECORD += ["Call the school.", "/skip", "no", "/submit"]
SCALES = ["", *"22122", *"121112101", *"1211110", "/submit"]


def administer(
    interviews: Interviews, flow: str, case: Case, person: int, lines: list[str], phase: str
) -> None:
    sid = interviews.open(flow, case, person, "terminal", phase=phase).session.id
    for line in lines:
        interviews.reply(sid, person, Reply(text=line))


def build(store: Store, sessions: int) -> Case:
    worker = store.add_person("Wang Fang", "worker")
    case = store.create_case("BENCH-1", worker, title="A long case")
    grandma = store.add_person("Li Guilan", "caregiver")
    store.add_member(case.id, grandma, "caregiver", worker)
    interviews = Interviews(store, FlowRegistry())
    scales_at = {0: "pre", sessions // 2: "mid", sessions - 1: "post"}
    for i in range(sessions):
        if i in scales_at:
            administer(interviews, "adult_scales", case, grandma, SCALES, scales_at[i])
        elif i % 4 == 1:
            administer(interviews, "contact_note", case, worker, NOTE, "ongoing")
        elif i % 10 == 3:
            administer(interviews, "session_record", case, worker, RECORD, "ongoing")
        else:
            administer(interviews, "child_checkin", case, grandma, CHECKIN, "ongoing")
    return case


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, min) in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "bench.db")
        start = time.perf_counter()
        case = build(store, args.sessions)
        built = time.perf_counter() - start
        session_id = store.sessions_of_case(case.id)[-1]["id"]
        print(f"case of {args.sessions} sessions built in {built:.1f} s")

        start = time.perf_counter()
        Renderer(store, charts=False).case(case, "md")
        cold = (time.perf_counter() - start) * 1000
        plain = Renderer(store, charts=False)
        charted = Renderer(store, charts=True)
        plain.case(case, "html")
        charted.case(case, "html")  # warm both: flow versions compiled, templates loaded
        md, md_min = timed(lambda: plain.case(case, "md"), args.repeat)
        html, html_min = timed(lambda: plain.case(case, "html"), args.repeat)
        full, full_min = timed(lambda: charted.case(case, "html"), args.repeat)
        charts = charted.case(case, "html").count("<svg")
        record, _ = timed(lambda: plain.session(session_id, "html"), args.repeat)
        store.close()
    print(f"case summary, Markdown, cold (new renderer):   {cold:7.1f} ms")
    print(f"case summary, Markdown, warm (median / min):   {md:7.1f} / {md_min:.1f} ms")
    print(f"case summary, HTML without charts (med / min): {html:7.1f} / {html_min:.1f} ms")
    print(f"case summary, HTML with {charts} charts (med / min):  {full:7.1f} / {full_min:.1f} ms")
    cost = full - html
    print(f"charts' cost: {cost:.1f} ms in all, {cost / max(charts, 1):.1f} ms per chart")
    print(f"one session record, HTML (median):             {record:7.1f} ms")


if __name__ == "__main__":
    main()
