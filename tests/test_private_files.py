"""Files that hold case data are 0600 and the folders made for them 0700, whatever the umask."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from storage.files import private_dir, private_text, write_private
from storage.store import Store
from templates.export import TABLES, export
from tests.conftest import run_as
from tests.test_records import SCALES_PRE, administer, cli
from tests.test_records import clock as clock  # the fixture (a predictable clock)


@pytest.fixture(autouse=True)
def umask_022():
    """The usual umask, which makes new files 0644 and folders 0755 unless told otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_database_and_its_wal_and_shm_are_0600_in_a_new_0700_folder(tmp_path):
    db = tmp_path / "data" / "caseflow" / "c.db"
    store = Store.open(db)
    store.add_person("Wang Fang", "worker")  # a write: SQLite now has -wal and -shm open
    files = {p.name: mode(p) for p in db.parent.iterdir()}
    store.close()
    assert files == {"c.db": 0o600, "c.db-wal": 0o600, "c.db-shm": 0o600}
    assert mode(tmp_path / "data") == mode(tmp_path / "data" / "caseflow") == 0o700


def test_an_existing_database_left_readable_by_an_older_version_is_made_private(tmp_path):
    db = tmp_path / "c.db"
    older = sqlite3.connect(db, isolation_level=None)  # created 0644 under umask 022
    older.execute("PRAGMA journal_mode=WAL")
    older.execute("CREATE TABLE t (x)")  # keeps its -wal and -shm while it is open
    assert mode(db) == mode(f"{db}-wal") == mode(f"{db}-shm") == 0o644
    store = Store.open(db)
    assert mode(db) == mode(f"{db}-wal") == mode(f"{db}-shm") == 0o600
    store.close()
    older.close()


def test_the_folder_of_a_database_that_exists_already_keeps_its_mode(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    Store.open(shared / "c.db").close()
    assert mode(shared) == 0o755
    assert mode(shared / "c.db") == 0o600


def test_a_rendered_record_written_with_out_is_0600_in_0700_folders(tmp_path, clock, capsys):
    db = str(tmp_path / "c.db")
    store = Store.open(db)
    me = store.add_person("wang", "worker", local_user="wang")
    sid = administer(store, "adult_scales", store.create_case("LBC-07", me), me, SCALES_PRE)
    store.close()
    out = tmp_path / "records" / "2026" / "session.html"
    argv = ["render", "session", sid, "--format", "html", "--out", str(out), "--db", db]
    assert run_as("wang", cli, argv) == 0
    assert "PHQ-9" in out.read_text(encoding="utf-8")
    assert mode(out) == 0o600
    assert mode(tmp_path / "records") == mode(tmp_path / "records" / "2026") == 0o700
    assert [p.name for p in out.parent.iterdir()] == ["session.html"], "no temporary file left"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_export_and_its_codebook_are_0600_in_a_0700_folder(tmp_path, fmt, clock):
    store = Store.open(tmp_path / "c.db")
    worker = store.add_person("Wang Fang", "worker")
    case = store.create_case("LBC-07", worker)
    administer(store, "adult_scales", case, worker, SCALES_PRE)
    out = tmp_path / "exports" / "lbc"
    written = export(store, [case], out, fmt, actor_id=worker)
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.{fmt}" for t in TABLES)
    assert {p.name: mode(p) for p in written} == {f"{t}.{fmt}": 0o600 for t in TABLES}
    assert mode(tmp_path / "exports") == mode(out) == 0o700


def test_rewriting_a_readable_file_makes_it_private(tmp_path):
    old = tmp_path / "answers.csv"
    old.write_text("old", encoding="utf-8")
    assert mode(old) == 0o644
    write_private(old, "new")
    assert (old.read_text(encoding="utf-8"), mode(old)) == ("new", 0o600)
    write_private(old, "新".encode())
    assert old.read_bytes() == "新".encode()


def test_a_failed_write_leaves_the_earlier_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "items.csv"
    write_private(target, "complete\n")
    with pytest.raises(RuntimeError), private_text(target) as handle:
        handle.write("half")
        raise RuntimeError("the export failed half-way")
    assert target.read_text(encoding="utf-8") == "complete\n"
    assert [p.name for p in tmp_path.iterdir()] == ["items.csv"]


def test_writing_to_a_pipe_or_terminal_goes_through_it(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_private(fifo, "to the pipe")
        assert os.read(reader, 100) == b"to the pipe"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode), "not replaced by a file"


def test_private_dir_makes_every_missing_folder_0700_and_leaves_existing_ones(tmp_path):
    (tmp_path / "a").mkdir(mode=0o755)
    private_dir(tmp_path / "a" / "b" / "c")
    assert mode(tmp_path / "a") == 0o755
    assert mode(tmp_path / "a" / "b") == mode(tmp_path / "a" / "b" / "c") == 0o700
