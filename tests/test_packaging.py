"""The two promises of the README and of `pip install .` hold for a real install."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from casework.identity import os_login
from tests.conftest import worker_for_this_account

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


def test_run_without_a_token_runs_the_child_checkin_in_the_terminal(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["CASEFLOW_DB"] = str(tmp_path / "run.db")
    worker_for_this_account(tmp_path / "run.db")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "caseflow"), "run"],
        input="4\n/pause\n",
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Weekly check-in about the child" in result.stdout
    assert "[2/5]" in result.stdout
    assert (tmp_path / "run.db").exists()
