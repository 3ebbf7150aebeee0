"""The two promises of the README and of `pip install .` hold for a real install."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

import httpx
import pytest

from casework.identity import os_login

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_a_non_editable_install_finds_its_bundled_flows_and_instruments(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("caseflow-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    # The dependencies come from this environment's site-packages, through PYTHONPATH, which
    # does not run .pth files: the editable install of this checkout stays out of the way.
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    env.pop("CASEFLOW_FLOWS", None)
    caseflow = str(venv / "bin" / "caseflow")
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import flows; print(flows.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(venv))
    validate = subprocess.run(
        [caseflow, "flows", "validate"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "adult_scales" in validate.stdout
    link = subprocess.run(
        [
            caseflow,
            "workers",
            "add",
            "555",
            "--name",
            "Tester",
            "--login",
            os_login(),
            "--db",
            "x.db",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert link.returncode == 0, link.stderr
    chat = subprocess.run(
        [caseflow, "chat", "adult_scales", "--db", "x.db"],
        input="/pause\n",
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert chat.returncode == 0, chat.stderr
    assert "Wellbeing, mood and worry scales" in chat.stdout
    score = subprocess.run(
        [caseflow, "score", "phq9", *"000000000"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert score.returncode == 0, score.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_run_without_a_token_serves_the_desk_and_prints_a_sign_in_link(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["CASEFLOW_DB"] = str(tmp_path / "run.db")
    env["NO_PROXY"] = "127.0.0.1,localhost"
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "caseflow"), "run", "--listen", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = threading.Timer(90, process.kill)  # a hung start fails instead of hanging
    deadline.start()
    try:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:  # ends when the process does; bounded by the kill below
            lines.append(line)
            if "caseflow desk on" in line:
                break
        output = "".join(lines)
        assert f"the account {os_login()!r} is now registered as the first worker" in output
        (link,) = re.findall(r"http://127\.0\.0\.1:\d+/signin/[A-Za-z0-9_-]+", output)
        with httpx.Client(timeout=10, follow_redirects=False) as client:
            page = client.get(link)
            assert page.status_code == 200 and 'name="token"' in page.text
            csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
            assert csrf is not None
            token = link.rsplit("/", 1)[1]
            signed = client.post(
                f"http://127.0.0.1:{port}/signin", data={"token": token, "csrf": csrf.group(1)}
            )
            assert signed.status_code == 303
            caseload = client.get(f"http://127.0.0.1:{port}/caseload")
            assert caseload.status_code == 200 and "Caseload" in caseload.text
    finally:
        deadline.cancel()
        process.terminate()
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, process.stderr.read() if process.stderr else ""
    assert (tmp_path / "run.db").exists()
