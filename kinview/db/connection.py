"""SQLite connections for the survey database.

Every connection is opened in WAL mode with ``synchronous=FULL`` (a commit is fsynced before
it returns, so an acknowledged label survives ``kill -9``), a busy timeout so that a reader
(training thread, exporter) and the labelling GUI never see "database is locked", and
foreign keys on.  Connections are not shared between threads: open one per thread.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Iterator, Optional, Union

from kinview.db.schema import migrate as _migrate
from kinview.errors import SurveyError

DB_NAME = "kinview.sqlite"
BUSY_TIMEOUT_MS = 30_000
#: Tables every kinview database has (schema version 1 and later).
KINVIEW_TABLES = ("galaxies", "labels", "pa_fits", "models", "predictions", "meta")
#: The database this process opened last: named in error messages that reach the user.
LAST_PATH: Optional[Path] = None


def db_path(survey_dir: Union[str, Path]) -> Path:
    """Path of the database of the survey in ``survey_dir``."""
    return Path(survey_dir) / DB_NAME


def _restore_hint(path: Path) -> str:
    return (f"restore {path.name} from a backup, or move it away and run "
            f"'kinview ingest {path.parent}' to start an empty one")


def _resolve(path: Union[str, Path]) -> Path:
    path = Path(path)
    if path.is_dir():
        if path.name == DB_NAME:
            raise SurveyError(f"{path}: is a folder, not a database; move it away so that "
                              f"kinview can create {DB_NAME} there")
        path = path / DB_NAME
        if path.is_dir():
            raise SurveyError(f"{path}: is a folder, not a database; move it away so that "
                              f"kinview can create {DB_NAME} there")
    return path


def is_writable(path: Union[str, Path]) -> bool:
    """Whether kinview can write the database ``path`` (the file, if it exists, and its
    folder, where SQLite keeps the ``-wal`` and ``-shm`` files, must both be writable)."""
    path = _resolve(path)
    if path.exists() and not os.access(path, os.W_OK):
        return False
    return os.access(path.parent, os.W_OK)


def check_kinview(conn: sqlite3.Connection, path: Path) -> int:
    """Refuse a file that is not a kinview database, or one that lost a table.

    Reads only (``user_version`` and ``sqlite_master``): a file is *foreign* when it has
    tables but no kinview schema version, *damaged* when it has a version but lacks one of
    :data:`KINVIEW_TABLES`.  Returns the schema version (0 for an empty, new file).

    Raises
    ------
    SurveyError
        One line: what is wrong and what to do; the file is left untouched.
    """
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    except sqlite3.DatabaseError as exc:
        raise SurveyError(f"{path}: this is not a kinview database or it is damaged ({exc}); "
                          f"{_restore_hint(path)}") from None
    if version == 0 and tables:
        some = ", ".join(sorted(tables)[:4])
        raise SurveyError(f"{path}: this is not a kinview database (it holds tables {some} "
                          f"but no kinview schema); kinview will not write to it: move it "
                          f"away or choose another survey folder")
    missing = [t for t in KINVIEW_TABLES if t not in tables]
    if version > 0 and missing:
        raise SurveyError(f"{path}: the kinview database is damaged (table "
                          f"{', '.join(missing)} is missing); {_restore_hint(path)}")
    return version


def check_integrity(conn: sqlite3.Connection, path: Optional[Path] = None) -> None:
    """``PRAGMA quick_check`` (reads every page: run it before bulk writes, not per label).

    Raises
    ------
    SurveyError
        The file has corrupt pages; nothing is written to it.
    """
    path = Path(path) if path is not None else LAST_PATH
    try:
        rows = conn.execute("PRAGMA quick_check(3)").fetchall()
        problems = [str(r[0]) for r in rows if str(r[0]).lower() != "ok"]
    except sqlite3.DatabaseError as exc:
        problems = [str(exc)]
    if problems:
        raise SurveyError(f"{path}: the kinview database is damaged ({problems[0][:120]}); "
                          f"kinview will not write to it: {_restore_hint(path or Path(DB_NAME))}")


def connect(path: Union[str, Path], migrate: bool = True, readonly: Optional[bool] = None
            ) -> sqlite3.Connection:
    """Open (and create or migrate) a survey database.

    Parameters
    ----------
    path : path-like
        The database file, or a survey directory (then ``DIR/kinview.sqlite``).
    migrate : bool
        Bring the schema up to date (in one transaction) when it is older.
    readonly : bool or None
        True: open with ``mode=ro`` (the file must exist).  None: read-only when the file
        or its folder is not writable (a survey on read-only media still serves every
        command that only reads), else read-write.

    Returns
    -------
    sqlite3.Connection
        In autocommit mode (``isolation_level=None``): use :func:`transaction` for
        multi-statement writes.  Rows are :class:`sqlite3.Row`.

    Raises
    ------
    SurveyError
        The path is a folder; the file is not a kinview database (another program's
        SQLite file, or not SQLite at all) or lost a table; read-only and missing.  Such a
        file is never written to (not even switched to WAL).
    """
    global LAST_PATH
    path = _resolve(path)
    LAST_PATH = path
    if readonly is None:
        readonly = path.exists() and not is_writable(path)
    if readonly and not path.is_file():
        raise SurveyError(f"{path}: no such database, and the folder is read-only")
    if not readonly and not path.parent.is_dir():
        raise SurveyError(f"{path.parent}: no such survey directory")
    conn = None
    try:
        if readonly:
            conn = _open_readonly(path)
        else:
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=True)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        version = check_kinview(conn, path)   # before anything could write to a foreign file
        if readonly and version == 0:
            raise SurveyError(f"{path}: empty database on a read-only folder; run "
                              f"'kinview ingest' where the survey can be written")
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
    except SurveyError:
        if conn is not None:
            conn.close()
        raise
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        raise SurveyError(f"{path}: this is not a kinview database or it is damaged ({exc}); "
                          f"{_restore_hint(path)}") from None
    if migrate and not readonly:
        _migrate(conn, path)
    return conn


def _open_readonly(path: Path) -> sqlite3.Connection:
    """``mode=ro``; on a read-only folder where SQLite cannot create the ``-shm`` file of a
    WAL database, ``immutable=1`` (nothing can write there anyway)."""
    uri = f"file:{path}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                           isolation_level=None, check_same_thread=True)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True,
                           timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=True)


#: The command line of this process (``kinview labels import ...``), set by the CLI: a
#: writer that holds the lock announces it, so that a waiting writer can say who it waits for.
COMMAND: Optional[str] = None
WRITER_SUFFIX = "-writer"


def _db_file(conn: sqlite3.Connection) -> Optional[Path]:
    try:
        for row in conn.execute("PRAGMA database_list"):
            if row[1] == "main" and row[2]:
                return Path(row[2])
    except sqlite3.Error:
        pass
    return None


def _announce(conn: sqlite3.Connection) -> Optional[Path]:
    """Write ``kinview.sqlite-writer`` (pid and command) while this process holds the write
    lock; best effort (a read-only folder just has no announcement)."""
    db = _db_file(conn)
    if db is None:
        return None
    note = db.with_name(db.name + WRITER_SUFFIX)
    try:
        tmp = note.with_name(f"{note.name}.{os.getpid()}")
        tmp.write_text(f"{os.getpid()}\n{COMMAND or 'kinview (Python API or GUI)'}\n")
        os.replace(tmp, note)
        return note
    except OSError:
        return None


def _retire(note: Optional[Path]) -> None:
    if note is None:
        return
    try:
        if note.read_text().split("\n", 1)[0] == str(os.getpid()):
            note.unlink()
    except OSError:
        pass


def current_writer(path: Union[str, Path, None]) -> Optional[str]:
    """The command of the process that announced it holds the write lock of ``path``, if it
    is still running (else None)."""
    if path is None:
        return None
    note = Path(path).with_name(Path(path).name + WRITER_SUFFIX)
    try:
        pid_text, command = note.read_text().split("\n", 2)[:2]
        pid = int(pid_text)
        if pid == os.getpid():
            return None
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return f"{command.strip()} (pid {pid})"


def locked_error(path: Union[str, Path, None]) -> SurveyError:
    """The one-line error for a write that waited longer than the busy timeout."""
    who = current_writer(path)
    by = f"by {who}" if who else "by another writer"
    return SurveyError(f"{path or DB_NAME}: the database stayed locked {by} for "
                       f"{BUSY_TIMEOUT_MS // 1000} s; nothing was written: try again when it "
                       f"has finished")


def explain(exc: sqlite3.Error, path: Union[str, Path, None] = None) -> str:
    """One line for a SQLite error that reached the command line."""
    path = path or LAST_PATH or DB_NAME
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return str(locked_error(path))
    if "readonly" in low or "read-only" in low:
        return (f"{path}: the survey database is read-only ({text}); this command writes "
                f"to it: copy the survey to a writable folder")
    if "malformed" in low or "not a database" in low or "no such table" in low:
        return (f"{path}: the kinview database is damaged ({text}); nothing was written: "
                f"{_restore_hint(Path(path))}")
    return f"{path}: database error ({text})"


@contextlib.contextmanager
def prompt_write(conn: sqlite3.Connection, timeout_s: Optional[float] = None,
                 poll_s: float = 0.002) -> Iterator[sqlite3.Connection]:
    """Like :func:`transaction`, for a short interactive write (a label from the GUI).

    SQLite's own busy handler backs off to 100 ms between tries, so a writer that commits
    chunk after chunk (a large import, which pauses briefly between chunks) could starve it.
    This polls for the write lock every ``poll_s`` instead, so it gets in at the next pause.
    """
    deadline = time.monotonic() + (BUSY_TIMEOUT_MS / 1000 if timeout_s is None else timeout_s)
    conn.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                    if "locked" in text or "busy" in text:
                        raise locked_error(_db_file(conn)) from None
                    raise
                time.sleep(poll_s)
    finally:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    with _commit_or_rollback(conn):
        yield conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception.

    All-or-nothing writes (a catalogue import, a batch of predictions) go through this, so a
    malformed input or a Ctrl-C leaves the database exactly as it was.  While it holds the
    write lock the process announces itself (:func:`current_writer`); a lock still held by
    another writer after the busy timeout raises :func:`locked_error` (one line that names
    that writer's command when it is known).
    """
    try:
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc).lower() or "busy" in str(exc).lower():
            raise locked_error(_db_file(conn)) from None
        raise
    note = _announce(conn) if immediate else None
    try:
        with _commit_or_rollback(conn):
            yield conn
    finally:
        _retire(note)


@contextlib.contextmanager
def _commit_or_rollback(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """The body of an open transaction: ``COMMIT`` when it ends, ``ROLLBACK`` on any exception."""
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
