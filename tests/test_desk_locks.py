"""Opening a second connection to the database (the desk's reader beside the bot's writer)
keeps the first one's locks.

Closing any descriptor of a file drops every POSIX lock the process holds on it. If opening
the second connection opened and closed the database file itself, the first connection's
shared lock would be gone, and another process closing its own connection would take the
file for itself, checkpoint and delete the write-ahead log under this one: "database disk
image is malformed".
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from storage.store import Store

OPEN_AND_CLOSE = """
import sys
sys.path.insert(0, sys.argv[2])
from storage.store import Store
Store.open(sys.argv[1]).close()
"""


def test_another_process_closing_the_database_leaves_our_log_alone(tmp_path):
    path = str(tmp_path / "c.db")
    writer = Store.open(path)
    reader = Store.open(path)  # as the desk opens its read-only connection
    try:
        writer.add_person("Wang Fang", "worker")  # something in the write-ahead log
        root = str(Path(__file__).resolve().parent.parent)
        subprocess.run([sys.executable, "-c", OPEN_AND_CLOSE, path, root], check=True, timeout=60)
        assert Path(path + "-wal").exists()  # not checkpointed away under us
        writer.add_person("Chen Li", "supervisor")
        names = [r["name"] for r in reader._all("SELECT name FROM people ORDER BY id")]
        assert names == ["Wang Fang", "Chen Li"]
        assert writer.check_integrity() == []
    finally:
        reader.close()
        writer.close()
