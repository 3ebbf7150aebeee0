"""What the README shows works."""

from __future__ import annotations

import re
from pathlib import Path

from flows.compile import compile_flow
from flows.load import parse_flow

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_the_flow_example_in_the_readme_is_a_valid_flow():
    (example,) = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    flow = parse_flow(example, "README.md")
    assert [q.id for q in compile_flow(flow).questions][:3] == [
        "has_worries",
        "worries",
        "worries.since_when",
    ]


def test_the_readme_shows_the_two_commands():
    assert "make run" in README
    assert "make test" in README
