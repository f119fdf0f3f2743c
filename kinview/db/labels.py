"""The ``labels`` table: the rule that picks an expert's current labels from the event log.

The label log itself (appending events, undo, imports) is :class:`kinview.labels.store.LabelStore`;
this module holds the SQL that other readers share.
"""
from __future__ import annotations

import sqlite3
from typing import List, Optional, Sequence

from kinview.db.import_batches import VISIBLE


def current_labels_sql(where: Sequence[str] = (), visible: Optional[str] = None) -> str:
    """SQL selecting the current labels: the latest event per (plateifu, field, kind, expert),
    cleared ones (value NULL) left out, oldest first.

    Columns, in order: plateifu, field, kind, expert, value_num, value_text, id, created,
    source, model_id, model_value, model_confidence.  ``where`` holds conditions on the
    ``labels`` table (with ``?`` placeholders) applied before picking the latest event.
    Events of an import still being written are left out (``visible``, default
    :data:`kinview.db.import_batches.VISIBLE`).  This is the one place the "current label"
    rule is written.
    """
    where = list(where) + [VISIBLE if visible is None else visible]
    inner = "SELECT MAX(id) AS id FROM labels"
    if where:
        inner += " WHERE " + " AND ".join(where)
    inner += " GROUP BY plateifu, field, kind, expert"
    return ("SELECT l.plateifu, l.field, l.kind, l.expert, l.value_num, l.value_text, l.id, l.created,"
            " l.source, l.model_id, l.model_value, l.model_confidence"
            f" FROM labels l JOIN ({inner}) m ON l.id = m.id"
            " WHERE l.value_num IS NOT NULL OR l.value_text IS NOT NULL ORDER BY l.id")


def current_label_rows(conn: sqlite3.Connection) -> List[tuple]:
    """``(plateifu, field, kind, expert, value_num, value_text)`` of every current label
    (:func:`current_labels_sql`), oldest first."""
    return [tuple(r)[:6] for r in conn.execute(current_labels_sql())]


# ---- the label log (kinview.labels.store.LabelStore) --------------------------------------------
#: Columns of :func:`events`, in order.
EVENT_COLUMNS = ["id", "plateifu", "field", "kind", "value_num", "value_text", "expert", "created",
                 "source", "undoes", "model_id", "model_value", "model_confidence"]

_INSERT = ("INSERT INTO labels (plateifu, field, kind, value_num, value_text, expert, created,"
           " source, model_id, model_value, model_confidence) VALUES (?,?,?,?,?,?,?,?,?,?,?)")


def has_batch_column(conn: sqlite3.Connection) -> bool:
    """Whether ``labels`` has the import-batch column (schema version 4 and later)."""
    return "batch" in {r[1] for r in conn.execute("PRAGMA table_info(labels)")}


def plain_rows(conn: sqlite3.Connection, sql: str, args=()) -> list:
    """Run a query built by this module and return plain tuples (faster than sqlite3.Row)."""
    cur = conn.cursor()
    cur.row_factory = None
    return cur.execute(sql, args).fetchall()


def count_events(conn: sqlite3.Connection, visible: str, expert: Optional[str] = None) -> int:
    """Number of events passing the SQL condition ``visible`` (of one expert, or all)."""
    sql = f"SELECT COUNT(*) FROM labels WHERE {visible}"
    args = ()
    if expert is not None:
        sql += " AND expert = ?"
        args = (expert,)
    return int(conn.execute(sql, args).fetchone()[0])


def insert_event(conn: sqlite3.Connection, row: tuple) -> int:
    """Append one event (``plateifu, field, kind, value_num, value_text, expert, created, source,
    model_id, model_value, model_confidence``); return its id.  The caller owns the transaction."""
    return int(conn.execute(_INSERT, row).lastrowid)


def insert_events(conn: sqlite3.Connection, rows: List[tuple]) -> List[int]:
    """Append events (rows as :func:`insert_event`) inside the caller's write transaction;
    return their ids (AUTOINCREMENT ids inside one write transaction are consecutive)."""
    conn.executemany(_INSERT, rows)
    last = int(conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'labels'").fetchone()[0])
    return list(range(last - len(rows) + 1, last + 1))


def undone_ids(conn: sqlite3.Connection, expert: str, visible: str) -> set:
    """Ids of the expert's events that an undo event undid."""
    return {r[0] for r in conn.execute(
        f"SELECT undoes FROM labels WHERE expert = ? AND undoes IS NOT NULL AND {visible}",
        (expert,))}


def undoable(conn: sqlite3.Connection, expert: str, visible: str):
    """The expert's GUI/CLI events (not undo events, not imports), newest first, as rows with
    ``id, plateifu, field, kind`` (a lazy cursor)."""
    return conn.execute(
        "SELECT id, plateifu, field, kind FROM labels WHERE expert = ? AND source != 'undo'"
        f" AND source NOT LIKE 'import:%' AND {visible} ORDER BY id DESC", (expert,))


def value_before(conn: sqlite3.Connection, plateifu: str, field: str, kind: str, expert: str,
                 before_id: int, visible: str):
    """``value_num, value_text`` of the expert's latest event on a label before ``before_id``,
    or None."""
    return conn.execute(
        "SELECT value_num, value_text FROM labels WHERE plateifu = ? AND field = ? AND kind = ?"
        f" AND expert = ? AND id < ? AND {visible} ORDER BY id DESC LIMIT 1",
        (plateifu, field, kind, expert, before_id)).fetchone()


def insert_undo(conn: sqlite3.Connection, plateifu: str, field: str, kind: str, value_num,
                value_text, expert: str, created: str, undoes: int) -> int:
    """Append an undo event (``source='undo'``) restoring a value; return its id."""
    return int(conn.execute(
        "INSERT INTO labels (plateifu, field, kind, value_num, value_text, expert, created, source,"
        " undoes) VALUES (?,?,?,?,?,?,?,'undo',?)",
        (plateifu, field, kind, value_num, value_text, expert, created, undoes)).lastrowid)


def events(conn: sqlite3.Connection, where: Sequence[str], args: Sequence) -> list:
    """:data:`EVENT_COLUMNS` tuples of the events passing ``where`` (SQL conditions with ``?``
    placeholders), oldest first."""
    sql = f"SELECT {', '.join(EVENT_COLUMNS)} FROM labels"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return plain_rows(conn, sql + " ORDER BY id", args)


def experts(conn: sqlite3.Connection, visible: str) -> List[str]:
    """Names of every expert with a visible event, sorted."""
    return [r[0] for r in conn.execute(
        f"SELECT DISTINCT expert FROM labels WHERE {visible} ORDER BY expert")]


def quality_events_after(conn: sqlite3.Connection, last_id: int, visible: str) -> list:
    """``(id, plateifu, field, expert, value_num)`` tuples of visible quality events with id
    above ``last_id``, by id."""
    return plain_rows(conn, "SELECT id, plateifu, field, expert, value_num FROM labels"
                      f" WHERE id > ? AND kind = 'quality' AND {visible} ORDER BY id", (last_id,))
