"""Files that hold case data: readable and writable by their owner only, whatever the umask.

The promise: every file caseflow writes that holds case data (the database and its ``-wal``
and ``-shm``, rendered records, exports and their codebook) is mode 0600, and every folder
caseflow creates for them is 0700. A folder that already exists (a home directory, a shared
folder someone chose for an export) keeps its mode: the files in it are private either way.

The modes are set explicitly (``os.open`` with a mode, then ``fchmod``/``chmod``), so a
permissive umask such as 022 changes nothing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, TextIO, cast

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "private_database",
    "private_dir",
    "private_text",
    "write_private",
]

FILE_MODE = 0o600
DIR_MODE = 0o700

# SQLite creates these next to the database, with the database file's own mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: str | Path) -> Path:
    """Create ``path`` and any missing parents as 0700 folders; existing ones are left alone."""
    folder = Path(path)
    missing: list[Path] = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for step in reversed(missing):
        with suppress(FileExistsError):  # another process made it meanwhile: keep theirs
            os.mkdir(step, DIR_MODE)
            # mkdir's mode passes through the umask; chmod does not.
            os.chmod(step, DIR_MODE)
    return folder


@contextmanager
def _replacing(
    target: Path, mode: str, encoding: str | None, newline: str | None
) -> Iterator[IO[Any]]:
    """A 0600 temporary file beside ``target``, opened; renamed onto ``target`` on success."""
    if target.exists() and not target.is_file():
        # A pipe or a terminal (`--out /dev/stdout`): written through; nothing to replace.
        with open(target, mode, encoding=encoding, newline=newline) as stream:
            yield stream
        return
    private_dir(target.parent)
    # mkstemp creates the file 0600 whatever the umask; fchmod says so explicitly.
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        handle = os.fdopen(fd, mode, encoding=encoding, newline=newline)
    except BaseException:
        os.close(fd)
        os.unlink(temporary)
        raise
    try:
        with handle:
            yield handle
        os.replace(temporary, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@contextmanager
def private_text(
    path: str | Path, *, encoding: str = "utf-8", newline: str | None = None
) -> Iterator[TextIO]:
    """Write a 0600 text file: into a temporary file beside it, renamed into place on success.

    A reader never sees half a file, a failure leaves an earlier file as it was, and a file
    that was there with a wider mode (or a symlink to one) is replaced, not written through.
    """
    with _replacing(Path(path), "w", encoding, newline) as handle:
        yield cast(TextIO, handle)


def write_private(path: str | Path, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` to a 0600 file at ``path`` (see :func:`private_text`)."""
    target = Path(path)
    raw = data if isinstance(data, bytes) else data.encode(encoding)
    with _replacing(target, "wb", None, None) as handle:
        handle.write(raw)
    return target


def private_database(path: str | Path) -> None:
    """Make the SQLite file at ``path`` 0600 before SQLite opens it.

    SQLite creates a new database with the umask (0644 under the usual 022), but its
    ``-wal``, ``-shm`` and ``-journal`` files with the database file's own mode. So the
    database is created here, empty and 0600, for SQLite to open; an existing one, and any
    companion files left by an earlier run, are made 0600.
    """
    database = Path(path)
    private_dir(database.parent)
    if database.exists():
        # Never open and close an existing database file here: closing any descriptor of a
        # file drops every POSIX lock this process holds on it, including the locks of a
        # connection already open (the bot's, when the desk opens its reader), and another
        # process could then write under it. chmod touches no lock.
        os.chmod(database, FILE_MODE)
    else:
        fd = os.open(database, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
        finally:
            os.close(fd)
    for suffix in SQLITE_COMPANIONS:
        with suppress(FileNotFoundError):
            os.chmod(f"{database}{suffix}", FILE_MODE)
