"""A cheap fingerprint of the survey's models and predictions, to notice a change made by any
process (the CLI's ``kinview train``/``predict``, a training run in the GUI, another window).

:func:`data_version` is SQLite's ``PRAGMA data_version``: it changes on the connection that
reads it whenever *another* connection committed anything, and costs no I/O.  Only when it has
moved does :func:`models_mark` look at the tables (a few index look-ups, microseconds).
"""
from __future__ import annotations

import sqlite3
from typing import Tuple


def data_version(conn: sqlite3.Connection) -> int:
    """SQLite's change counter for commits made by other connections."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def models_mark(conn: sqlite3.Connection) -> Tuple:
    """(number of models, newest model id, the active models' ids, newest prediction row,
    newest registry event) — changes whenever a model is added, activated, removed or
    predicts."""
    n, newest = conn.execute("SELECT count(*), max(id) FROM models").fetchone()
    active = tuple(r[0] for r in conn.execute(
        "SELECT id FROM models WHERE active = 1 ORDER BY id"))
    last_pred = conn.execute("SELECT max(rowid) FROM predictions").fetchone()[0]
    try:                                   # schema v2: the registry's append-only history
        last_event = conn.execute("SELECT max(id) FROM model_events").fetchone()[0]
    except sqlite3.OperationalError:
        last_event = None
    return int(n or 0), newest, active, last_pred, last_event
