"""The adjudication log in the survey database (table ``adjudications``).

Where experts disagree on a categorical label (quality, feature, gas note) of a galaxy's field,
an *adjudicator* records the final label.  Like the label log, the adjudication log is
append-only: every decision is a new row (who, when, the value, and the experts' labels it
settled, as ``"name=value;..."``), and

- the **final label** of a (plateifu, field, kind) is its latest adjudication event, whoever
  gave it; an event whose value is NULL means the adjudication was *withdrawn* (the majority
  of the experts applies again);
- nothing is ever updated or deleted.

Only SQL lives here; the rules that use it are in :mod:`kinview.labels.adjudication`.
"""
from __future__ import annotations

import sqlite3
from typing import List, Optional, Sequence

#: Columns of :func:`final_labels` rows, in order.
FINAL_COLUMNS = ["plateifu", "field", "kind", "value", "adjudicator", "created", "basis", "id"]


def final_labels_sql(where: Sequence[str] = ()) -> str:
    """SQL selecting the current final labels: the latest adjudication event per
    (plateifu, field, kind), withdrawn ones (value NULL) left out, oldest first.

    ``where`` holds conditions on the ``adjudications`` table (``?`` placeholders) applied
    before picking the latest event.  Columns: :data:`FINAL_COLUMNS`.
    """
    inner = "SELECT MAX(id) AS id FROM adjudications"
    if where:
        inner += " WHERE " + " AND ".join(where)
    inner += " GROUP BY plateifu, field, kind"
    return ("SELECT a.plateifu, a.field, a.kind, a.value_num, a.adjudicator, a.created, a.basis, a.id"
            f" FROM adjudications a JOIN ({inner}) m ON a.id = m.id"
            " WHERE a.value_num IS NOT NULL ORDER BY a.id")


def final_labels(conn: sqlite3.Connection, plateifu: Optional[str] = None) -> List[tuple]:
    """Rows (:data:`FINAL_COLUMNS`) of the current final labels, of one galaxy or all."""
    where, args = ([], []) if plateifu is None else (["plateifu = ?"], [plateifu])
    cur = conn.cursor()
    cur.row_factory = None
    return cur.execute(final_labels_sql(where), args).fetchall()


def add(conn: sqlite3.Connection, plateifu: str, field: str, kind: str, value: Optional[float],
        adjudicator: str, created: str, basis: str = "", source: str = "gui") -> int:
    """Append one adjudication event (value None = withdraw); return its id once committed.

    The connection is in autocommit mode (:func:`kinview.db.connect`), so the INSERT is
    committed and fsynced when this returns.
    """
    cur = conn.execute(
        "INSERT INTO adjudications (plateifu, field, kind, value_num, adjudicator, created, basis,"
        " source) VALUES (?,?,?,?,?,?,?,?)",
        (plateifu, field, kind, None if value is None else float(value), adjudicator, created,
         basis, source))
    return int(cur.lastrowid)


def count_events(conn: sqlite3.Connection) -> int:
    """Number of adjudication events (decisions and withdrawals)."""
    return int(conn.execute("SELECT COUNT(*) FROM adjudications").fetchone()[0])
