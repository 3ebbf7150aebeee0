"""Shared fixtures: an in-memory store, flows written inline, and a driver for any flow."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import patch

import pytest

from casework.identity import os_login
from flows.compile import compile_flow
from flows.engine import Engine, Prompt, Reply, Session, Turn
from flows.load import parse_flow
from flows.model import DateItem, NumberItem, TextItem
from storage.store import Store

NOW = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


def make_engine(yaml_text: str) -> Engine:
    """An engine for a flow written inline in a test."""
    return Engine(compile_flow(parse_flow(textwrap.dedent(yaml_text), "<test>")))


def flow_yaml(items: str, *, languages: str = "[en]", stage_extra: str = "") -> str:
    """A one-stage flow around ``items`` (YAML for the item list, any indentation)."""
    body = textwrap.indent(textwrap.dedent(items).strip(), "      ")
    return (
        "id: t\nversion: 1\ntitle: {en: T, zh: T}\nrespondent: caregiver\n"
        f"languages: {languages}\nstages:\n  - id: s1\n    title: {{en: S, zh: S}}\n"
        f"{stage_extra}    items:\n{body}\n"
    )


def run(engine: Engine, session: Session, *texts: str) -> Turn:
    turn = engine.start(session, NOW) if session.state == "new" else None
    for text in texts:
        turn = engine.handle(session, Reply(text=text), NOW)
    assert turn is not None
    return turn


def valid_answer(engine: Engine, prompt: Prompt) -> str:
    """Some answer the prompt accepts: the first option, the lowest number, today..."""
    if prompt.kind == "review":
        return "/submit"
    if prompt.kind == "note":
        return ""
    if prompt.options:
        return prompt.keys[0]
    item = engine.compiled.by_id[prompt.token].item
    if isinstance(item, NumberItem):
        low = item.validation.min
        return str(int(low) if low is not None else 1)
    if isinstance(item, DateItem):
        return "today"
    if isinstance(item, TextItem):
        if item.validation.pattern:
            return "/skip"
        return "x" * max(item.validation.min_length or 0, 12)
    raise AssertionError(f"no generic answer for {prompt.type}")


def script_for(engine: Engine, lang: str = "en") -> list[str]:
    """The lines that take a fresh session of ``engine`` from start to completed."""
    session = engine.new_session("script", lang)
    turn = engine.start(session, NOW)
    lines: list[str] = []
    while turn.status == "active":
        assert turn.prompt is not None
        line = valid_answer(engine, turn.prompt)
        lines.append(line)
        turn = engine.handle(session, Reply(text=line), NOW)
        assert turn.error is None, (line, turn.error)
        assert len(lines) < 500, "the flow does not end"
    assert turn.status == "completed"
    return lines


@pytest.fixture
def store() -> Store:
    s = Store.open(":memory:")
    yield s
    s.close()


# -- who runs a command -----------------------------------------------------------------------


def run_as(login: str, command: Callable[[list[str]], int], argv: list[str]) -> int:
    """Run an in-process ``caseflow`` command as if the calling OS account were ``login``
    (the identity comes from the process's uid; here the lookup is replaced)."""
    with patch("casework.identity.os_login", return_value=login):
        return command(argv)


def worker_for_this_account(db: str | Path, name: str = "Tester") -> int:
    """Register a worker linked to the OS account running the tests, as an administrator
    would with ``caseflow workers add ... --login``; commands run in a subprocess act as it."""
    store = Store.open(db)
    try:
        return store.add_person(name, "worker", local_user=os_login())
    finally:
        store.close()


# -- the desk ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def desk_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the desk's test team and cases, made once and copied per test."""
    from tests.desk_client import template_db

    return template_db(tmp_path_factory.mktemp("desk-template"))


@pytest.fixture
def desk(desk_template: Path, tmp_path: Path):
    from tests.desk_client import make_desk

    under_test = make_desk(desk_template, tmp_path)
    yield under_test
    under_test.backend.close()
