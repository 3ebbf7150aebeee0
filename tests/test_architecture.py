"""The layers keep to their places: the engine knows no database or Telegram."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {(path.name, alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add((path.name, node.module))
    return found


@pytest.mark.parametrize("package", ["flows", "storage", "templates"])
def test_flows_storage_and_templates_never_import_telegram(package):
    assert not [i for i in imports(package) if i[1].split(".")[0] in ("telegram", "bot")]


def test_the_engine_never_imports_the_database():
    forbidden = ("storage", "sqlite3", "sqlite_utils")
    assert not [i for i in imports("flows") if i[1].split(".")[0] in forbidden]


def test_the_application_layer_knows_no_channel():
    channels = ("telegram", "bot", "desk", "starlette", "uvicorn")
    assert not [i for i in imports("casework") if i[1].split(".")[0] in channels]


@pytest.mark.parametrize("package", ["bot", "desk"])
def test_channels_write_no_sql(package):
    """Channels translate and render; storage/ is the only place with SQL."""
    if not (ROOT / package).exists():
        pytest.skip(f"no {package}/ yet")
    found = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("execute", "executescript"):
                found.append(f"{path.name}:{node.lineno}")
    assert not [i for i in imports(package) if i[1].split(".")[0] in ("sqlite3", "sqlite_utils")]
    assert not found


def test_only_the_policy_reads_a_persons_role_on_a_case():
    """Rights come from casework/policy.py: no channel asks a person's global role whether
    they may act on a case (the last place that did was the bot's worker commands)."""
    text = (ROOT / "bot" / "telegram_service.py").read_text(encoding="utf-8")
    assert "can_see_case" not in text
    assert "is_member(" not in text
