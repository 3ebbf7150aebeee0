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
