"""The four studies' case files, built by scripted interviews in Chinese and checked against
reviewed golden files (tests/golden/study*.zh.*); see tests/studies.py for the cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.store import Store
from templates.i18n import zone
from templates.render import Renderer
from tests import studies
from tests.test_records import cli
from tests.test_records import clock as clock  # the fixture (a predictable clock)
from tests.test_render import golden


@pytest.fixture
def study(tmp_path, clock, monkeypatch):
    for name in ("CASEFLOW_FLOWS", "CASEFLOW_INSTRUMENTS", "CASEFLOW_TEMPLATES"):
        monkeypatch.delenv(name, raising=False)
    db = str(tmp_path / "study.db")
    store = Store.open(db)
    from datetime import UTC, datetime

    def at(month, day, hour):
        clock.at(datetime(2026, month, day, hour, 0, tzinfo=UTC))

    yield studies.Study(store=store, db=db, at=at, cli=cli)
    store.close()


def render(study, name):
    renderer = Renderer(study.store, tz=zone("Asia/Shanghai"))
    case = study.store.case(study.case.id)
    golden(f"{name}.zh.html", renderer.case(case, "html", lang="zh", as_of=studies.AS_OF))
    golden(f"{name}.zh.md", renderer.case(case, "md", lang="zh", as_of=studies.AS_OF))
    return renderer, case


def test_study1_a_left_behind_childs_case_file(study):
    studies.study1(study)
    render(study, "study1")


def test_study2_a_rural_childs_resilience_case_file(study):
    studies.study2(study)
    render(study, "study2")


def test_study3_an_older_woman_living_alone_case_file(study):
    studies.study3(study)
    render(study, "study3")


def test_study4_a_familys_resilience_case_file_and_its_prepost_report(study, monkeypatch):
    examples = Path(__file__).resolve().parent.parent / "examples" / "flows"
    monkeypatch.setenv("CASEFLOW_FLOWS", str(examples))
    studies.study4(study)
    renderer, case = render(study, "study4")
    golden("study4_prepost.zh.html", renderer.prepost(case, "html", lang="zh", as_of=studies.AS_OF))
    golden("study4_prepost.zh.md", renderer.prepost(case, "md", lang="zh", as_of=studies.AS_OF))
