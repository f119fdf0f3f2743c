"""SQLite connections for the survey database.

Every connection is opened in WAL mode with ``synchronous=FULL`` (a commit is fsynced before
it returns, so an acknowledged label survives ``kill -9``), a busy timeout so that a reader
(training thread, exporter) and the labelling GUI never see "database is locked", and
foreign keys on.  Connections are not shared between threads: open one per thread.
"""
from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Iterator, Union

from kinview.errors import SurveyError

DB_NAME = "kinview.sqlite"
BUSY_TIMEOUT_MS = 30_000


def db_path(survey_dir: Union[str, Path]) -> Path:
    """Path of the database of the survey in ``survey_dir``."""
    return Path(survey_dir) / DB_NAME


def connect(path: Union[str, Path], migrate: bool = True, readonly: bool = False) -> sqlite3.Connection:
    """Open (and create or migrate) a survey database.

    Parameters
    ----------
    path : path-like
        The database file, or a survey directory (then ``DIR/kinview.sqlite``).
    migrate : bool
        Bring the schema up to date (in one transaction) when it is older.
    readonly : bool
        Open with ``mode=ro``; the file must exist.

    Returns
    -------
    sqlite3.Connection
        In autocommit mode (``isolation_level=None``): use :func:`transaction` for
        multi-statement writes.  Rows are :class:`sqlite3.Row`.
    """
    path = Path(path)
    if path.is_dir():
        path = path / DB_NAME
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=True)
        else:
            if not path.parent.is_dir():
                raise SurveyError(f"{path.parent}: no such survey directory")
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=True)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.DatabaseError as exc:
        raise SurveyError(f"{path}: not a kinview database ({exc})") from None
    if migrate and not readonly:
        from kinview.db.schema import migrate as _migrate

        _migrate(conn, path)
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception.

    All-or-nothing writes (a catalogue import, a batch of predictions) go through this, so a
    malformed input or a Ctrl-C leaves the database exactly as it was.
    """
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
