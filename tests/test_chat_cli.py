"""`caseflow chat` end to end, as a person or a script would run it."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from casework.identity import os_login
from flows.load import bundled_flow_paths
from flows.registry import FlowRegistry
from storage.store import Store
from tests.conftest import script_for, worker_for_this_account

CASEFLOW = str(Path(sys.executable).parent / "caseflow")
PROMPT = re.compile(r"^\[\d+/\d+\] ")


def chat(
    *args: str,
    stdin: str = "",
    cwd: Path | None = None,
    linked: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``caseflow chat`` as the OS account running the tests, which (``linked``) an
    administrator has linked to a worker in the database the command will use."""
    if linked:
        db = (
            Path(args[args.index("--db") + 1])
            if "--db" in args
            else (cwd or Path()) / "caseflow.db"
        )
        store = Store.open(db)
        if store.person_by_login(os_login()) is None:
            store.add_person("Tester", "worker", local_user=os_login())
        store.close()
    return subprocess.run(
        [CASEFLOW, "chat", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
        env=env,
    )


@pytest.mark.parametrize("path", bundled_flow_paths(), ids=lambda p: p.stem)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_scripted_chat_completes_every_bundled_flow(tmp_path, path, lang):
    engine = FlowRegistry().current(path.stem).engine
    lines = script_for(engine, lang)
    db = tmp_path / "c.db"
    result = chat(
        path.stem, "--db", str(db), "--case", "S-1", "--lang", lang, stdin="\n".join(lines) + "\n"
    )
    assert result.returncode == 0, result.stderr
    assert f"Stored in {db.resolve()}" in result.stdout
    store = Store.open(db)
    (session,) = store.sessions_of_case(store.case_by_code("S-1").id)
    assert session["status"] == "completed"
    assert session["lang"] == lang
    answered = [a for a in store.current_answers(session["id"]) if a["status"] != "withdrawn"]
    assert len(answered) == sum(1 for line in lines if line not in ("/submit",)) - sum(
        1 for q in engine.questions if q.item.type == "note"
    )


def test_chat_defaults_the_database_to_a_file_in_the_working_directory(tmp_path):
    result = chat("child_checkin", "--case", "D", stdin="/pause\n", cwd=tmp_path)
    assert result.returncode == 0
    assert (tmp_path / "caseflow.db").exists()


def test_chat_help_names_the_default_database():
    result = subprocess.run(
        [CASEFLOW, "chat", "--help"], capture_output=True, text=True, check=False
    )
    assert "caseflow.db" in result.stdout


def test_running_chat_again_resumes_where_it_stopped(tmp_path):
    db = str(tmp_path / "c.db")
    chat("child_checkin", "--db", db, stdin="4\n2\n")
    again = chat("child_checkin", "--db", db, stdin="")
    assert "Welcome back. You were at question 3 of 9: What happened" in again.stdout


def test_an_unknown_flow_gets_a_clear_error(tmp_path):
    result = chat("no_such_flow", "--db", str(tmp_path / "c.db"))
    assert result.returncode == 2
    assert "no flow 'no_such_flow'" in result.stderr


def test_a_broken_flow_file_is_reported_not_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nversion: 1\n")
    result = chat(str(bad), "--db", str(tmp_path / "c.db"))
    assert result.returncode == 2
    assert "bad.yaml:1: 'title' is required here" in result.stderr


def test_a_worker_not_on_the_case_is_refused(tmp_path):
    db = str(tmp_path / "c.db")
    store = Store.open(db)
    owner = store.add_person("Owner", "worker", local_user="owner-account")
    store.create_case("X", owner)
    store.close()
    result = chat("child_checkin", "--db", db, "--case", "X")
    assert result.returncode == 3
    assert "not on case X" in result.stderr


def test_an_account_not_linked_to_a_worker_is_told_how_to_link_it(tmp_path):
    db = str(tmp_path / "c.db")
    result = chat("child_checkin", "--db", db, "--case", "X", linked=False)
    assert result.returncode == 3
    assert f"caseflow workers add TELEGRAM_ID --name NAME --login {os_login()}" in result.stderr
    store = Store.open(db)
    assert store.db.execute("SELECT COUNT(*) FROM people").fetchone()[0] == 0  # none created
    assert not store.case_exists("X")


def test_the_caller_is_the_uid_not_the_user_or_logname_variables(tmp_path):
    db = str(tmp_path / "c.db")
    store = Store.open(db)
    owner = store.add_person("Owner", "worker", local_user="owner-account")
    store.create_case("X", owner)
    store.close()
    env = {**os.environ, "USER": "owner-account", "LOGNAME": "owner-account"}
    result = chat("child_checkin", "--db", db, "--case", "X", env=env)
    assert result.returncode == 3
    assert "not on case X" in result.stderr


def test_long_unicode_and_command_lines_do_not_break_the_chat(tmp_path):
    lines = [
        "x" * 10_000,
        "🙂",
        "/nonsense",
        "/edit 3",
        "",
        "\u202eevil",
        "{{ 7*7 }}",
        "1",
        "/back",
    ]
    result = chat("child_checkin", "--db", str(tmp_path / "c.db"), stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


class _Reader:
    """Reads a child's stdout on a thread so the test can wait for a line without hanging."""

    def __init__(self, stream) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.lines.put(line)

    def until(self, pattern: re.Pattern[str]) -> str:
        while True:
            line = self.lines.get(timeout=60)
            if pattern.search(line):
                return line


@pytest.mark.slow
def test_sigkill_mid_interview_loses_no_acknowledged_answer_and_resumes_at_the_right_question(
    tmp_path,
):
    db = str(tmp_path / "k.db")
    worker_for_this_account(db)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [CASEFLOW, "chat", "child_checkin", "--db", db, "--case", "K"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    reader = _Reader(proc.stdout)
    reader.until(PROMPT)
    acknowledged = ["4", "3", "she cried at night"]
    for answer in acknowledged:
        proc.stdin.write(answer + "\n")
        proc.stdin.flush()
        reader.until(PROMPT)  # the next question is shown only after the answer is committed
    proc.stdin.write("1\n")  # not acknowledged: may or may not have landed
    proc.stdin.flush()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    store = Store.open(db)
    (session,) = store.sessions_of_case(store.case_by_code("K").id)
    values = {a["question_id"]: a["value"] for a in store.current_answers(session["id"])}
    assert values["mood"] == "4"
    assert values["expression"] == '["kept_inside"]'
    assert values["expression_detail"] == '"she cried at night"'
    assert store.check_integrity() == []
    store.close()

    expected = "question 5 of 9" if "sleep" in values else "question 4 of 9: Sleep"
    again = chat("child_checkin", "--db", db, "--case", "K", stdin="")
    assert f"Welcome back. You were at {expected}" in again.stdout
