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
