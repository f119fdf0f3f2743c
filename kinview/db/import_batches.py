"""Large label imports in short chunks, visible all at once (schema version 4).

A catalogue import of 100,000 galaxies writes ~700,000 label events.  Written in one
transaction it held the write lock for many seconds, so a labelling expert's next label
waited as long.  Instead:

1. :func:`begin` records a row in ``import_batches`` (``finished`` NULL: not visible);
2. :func:`insert_chunk` writes the events in short transactions, each event tagged with
   the batch id in ``labels.batch``; other writers slip in between two chunks;
3. :func:`finish` sets ``finished`` in one tiny transaction: from that commit on, every
   reader sees the whole import, and before it none of it (:data:`VISIBLE` is the rule
   every query on ``labels`` applies).

An import that dies (Ctrl-C, an error, ``kill -9``) leaves an unfinished batch that no
reader sees; :func:`discard` removes it at once when the importer can, and :func:`sweep`
removes those of dead processes the next time an import starts.
"""
from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone
from typing import List, Optional, Sequence

from kinview.db.connection import transaction

__all__ = ["VISIBLE", "LABEL_COLUMNS", "begin", "insert_chunk", "finish", "discard", "sweep",
           "state_key"]

#: SQL condition on a row of ``labels`` (no alias) that is true when the row is visible.
VISIBLE = ("(batch IS NULL OR batch IN (SELECT id FROM import_batches "
           "WHERE finished IS NOT NULL))")
#: The columns :func:`insert_chunk` writes, in order (``batch`` is added).
LABEL_COLUMNS = ("plateifu", "field", "kind", "value_num", "value_text", "expert", "created",
                 "source", "model_id", "model_value", "model_confidence")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def begin(conn: sqlite3.Connection, source: str, expert: str, command: Optional[str]) -> int:
    """Record a new, not yet visible import batch; return its id."""
    with transaction(conn):
        cur = conn.execute("INSERT INTO import_batches (source, expert, pid, command, started) "
                           "VALUES (?, ?, ?, ?, ?)",
                           (source, expert, os.getpid(), command, _now()))
    return int(cur.lastrowid)


def insert_chunk(conn: sqlite3.Connection, batch: int, rows: Sequence[tuple]) -> List[int]:
    """Write one chunk of label rows (tuples in :data:`LABEL_COLUMNS` order) tagged with
    ``batch`` in one short transaction; return their ids."""
    cols = ", ".join(LABEL_COLUMNS)
    marks = ",".join("?" * (len(LABEL_COLUMNS) + 1))
    with transaction(conn):
        conn.executemany(f"INSERT INTO labels ({cols}, batch) VALUES ({marks})",
                         [tuple(r) + (batch,) for r in rows])
        last = int(conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'labels'"
                                ).fetchone()[0])
    return list(range(last - len(rows) + 1, last + 1))   # consecutive within a transaction


def finish(conn: sqlite3.Connection, batch: int) -> None:
    """Make the whole batch visible in one short commit."""
    with transaction(conn):
        conn.execute("UPDATE import_batches SET finished = ? WHERE id = ?", (_now(), batch))


def discard(conn: sqlite3.Connection, batch: int, chunk: int = 20_000) -> None:
    """Remove an unfinished batch (its rows first, in short transactions)."""
    while True:
        with transaction(conn):
            n = conn.execute("DELETE FROM labels WHERE id IN (SELECT id FROM labels WHERE "
                             "batch = ? LIMIT ?)", (batch, chunk)).rowcount
        if n < chunk:
            break
    with transaction(conn):
        conn.execute("DELETE FROM import_batches WHERE id = ? AND finished IS NULL", (batch,))


def _alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:   # exists, but not ours
        return True
    return True


def sweep(conn: sqlite3.Connection) -> int:
    """Discard the unfinished batches of processes that are gone; return how many."""
    dead = [int(r[0]) for r in conn.execute(
        "SELECT id, pid FROM import_batches WHERE finished IS NULL") if not _alive(r[1])]
    for batch in dead:
        discard(conn, batch)
    return len(dead)


def state_key(conn: sqlite3.Connection) -> tuple:
    """Changes whenever a batch becomes visible (readers that cache labels reload then)."""
    return tuple(conn.execute("SELECT COUNT(*), MAX(id) FROM import_batches "
                              "WHERE finished IS NOT NULL").fetchone())
