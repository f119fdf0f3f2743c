"""The ``models``, ``model_events`` and ``predictions`` tables: every SQL statement about models.

Rows are never deleted: removing a model sets ``models.removed`` and appends a ``removed``
event, so the record of what was trained, imported, activated and rolled back stays in the
survey database.  At most one model per task is active (``active = 1``); every change of the
active model appends ``activated`` / ``deactivated`` events, which is what *Roll back* reads.

All functions take an open connection (:func:`kinview.db.connection.connect`); the caller
owns the transaction (:func:`kinview.db.connection.transaction`) when several statements must
go together.  Times are ISO 8601 UTC strings; ``metrics`` and ``card`` are JSON text.
"""
from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from kinview.db.connection import connect, db_path
from kinview.strict_json import jsonable

#: events a model row can have (``model_events.event``)
EVENTS = ("trained", "imported", "recorded", "activated", "deactivated", "removed", "kept-inactive")


def now() -> str:
    """The current time, ISO 8601 UTC to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _json(value) -> str:
    return json.dumps(jsonable(value))


# ----------------------------------------------------------------------------- reads
def get(conn: sqlite3.Connection, model_id: int) -> Optional[sqlite3.Row]:
    """The row of one model (removed or not), or None."""
    return conn.execute("SELECT * FROM models WHERE id = ?", (int(model_id),)).fetchone()


def active(conn: sqlite3.Connection, task: str) -> Optional[sqlite3.Row]:
    """The task's active model row, or None."""
    return conn.execute("SELECT * FROM models WHERE task = ? AND active = 1 ORDER BY id DESC LIMIT 1",
                        (task,)).fetchone()


def read_active(workspace: Union[str, Path], task: str, missing_ok: bool = False) -> Optional[sqlite3.Row]:
    """The task's active model row in a workspace's database (opened and closed here), or None.

    Parameters
    ----------
    workspace : path-like
        Survey (or cluster dataset) directory.
    task : str
        Task name.
    missing_ok : bool
        True: a workspace without a database has no active model (None, and no database is
        created); False: the database is opened as :func:`kinview.db.connection.connect` does
        (created when missing, :class:`~kinview.errors.SurveyError` for no such folder).
    """
    if missing_ok and not db_path(workspace).exists():
        return None
    conn = connect(workspace)
    try:
        return active(conn, task)
    finally:
        conn.close()


def decode(row) -> Dict[str, Any]:
    """A ``models`` row as a plain dict, its JSON ``metrics`` and ``card`` decoded (``{}`` for
    none) and ``removed`` None in a database from before that column."""
    out = {key: row[key] for key in row.keys()}
    out["metrics"] = json.loads(row["metrics"] or "{}")
    out["card"] = json.loads(row["card"] or "{}")
    out.setdefault("removed", None)
    return out


def rows(conn: sqlite3.Connection, task: Optional[str] = None, include_removed: bool = False
         ) -> List[sqlite3.Row]:
    """Model rows, newest first (of one task when given; removed ones only when asked)."""
    where, args = [], []
    if task is not None:
        where.append("task = ?")
        args.append(task)
    if not include_removed:
        where.append("removed IS NULL")
    sql = "SELECT * FROM models" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
    return conn.execute(sql, args).fetchall()


def find_by_path(conn: sqlite3.Connection, task: str, path: str) -> Optional[sqlite3.Row]:
    """The newest row of ``task`` recorded for a model file ``path``."""
    return conn.execute("SELECT * FROM models WHERE task = ? AND path = ? ORDER BY id DESC LIMIT 1",
                        (task, str(path))).fetchone()


def events(conn: sqlite3.Connection, task: Optional[str] = None, model_id: Optional[int] = None
           ) -> List[sqlite3.Row]:
    """Registry events, oldest first (``id, model_id, task, event, created, note``)."""
    where, args = [], []
    if task is not None:
        where.append("task = ?")
        args.append(task)
    if model_id is not None:
        where.append("model_id = ?")
        args.append(int(model_id))
    sql = "SELECT * FROM model_events" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    return conn.execute(sql, args).fetchall()


def previous_active(conn: sqlite3.Connection, task: str) -> Optional[sqlite3.Row]:
    """The model that was active before the current one (for *Roll back*), or None.

    Walks the task's ``activated`` events from the newest back and returns the first model
    that is not the current active one, still listed (not removed).
    """
    cur = active(conn, task)
    cur_id = None if cur is None else int(cur["id"])
    for ev in conn.execute("SELECT e.model_id FROM model_events e JOIN models m ON m.id = e.model_id "
                           "WHERE e.task = ? AND e.event = 'activated' AND m.removed IS NULL "
                           "ORDER BY e.id DESC", (task,)):
        if int(ev["model_id"]) != cur_id:
            return get(conn, int(ev["model_id"]))
    return None


# ----------------------------------------------------------------------------- writes
def add_event(conn: sqlite3.Connection, model_id: int, task: str, event: str, note: str = "") -> None:
    """Append one registry event."""
    if event not in EVENTS:
        raise ValueError(f"unknown model event {event!r}")
    conn.execute("INSERT INTO model_events (model_id, task, event, created, note) VALUES (?, ?, ?, ?, ?)",
                 (int(model_id), task, event, now(), note or None))


def insert(conn: sqlite3.Connection, task: str, arch: str, path: str, metrics: Dict[str, Any],
           label_hash: str, card: Dict[str, Any], active: bool = True, event: str = "trained",
           note: str = "") -> int:
    """Add a model row (and its ``event``); with ``active`` it becomes the task's only active
    model.  Returns its id."""
    cur = conn.execute(
        "INSERT INTO models (task, arch, path, created, metrics, label_hash, card, active) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
        (task, arch, str(path), card.get("date") or now(), _json(metrics or {}), label_hash or "",
         _json(card or {})))
    model_id = int(cur.lastrowid)
    add_event(conn, model_id, task, event, note)
    if active:
        activate(conn, model_id, note="")
    return model_id


def activate(conn: sqlite3.Connection, model_id: int, note: str = "") -> sqlite3.Row:
    """Make a model its task's only active model (no-op when it already is).

    Raises
    ------
    LookupError
        No such model, or it was removed.
    """
    row = get(conn, model_id)
    if row is None:
        raise LookupError(f"no model {model_id}")
    if row["removed"] is not None:
        raise LookupError(f"model {model_id} was removed on {row['removed']}")
    task = row["task"]
    if int(row["active"]) == 1:
        return row
    for old in conn.execute("SELECT id FROM models WHERE task = ? AND active != 0 AND id != ?",
                            (task, int(model_id))).fetchall():
        conn.execute("UPDATE models SET active = 0 WHERE id = ?", (int(old["id"]),))
        add_event(conn, int(old["id"]), task, "deactivated", f"replaced by model {model_id}")
    conn.execute("UPDATE models SET active = 1 WHERE id = ?", (int(model_id),))
    add_event(conn, int(model_id), task, "activated", note)
    return get(conn, model_id)


def remove(conn: sqlite3.Connection, model_id: int, note: str = "") -> sqlite3.Row:
    """Take a model out of the registry's list: ``removed`` is set, the row, file and
    predictions are kept.  An active model is deactivated first (its task then has no
    active model: the shipped default is used).

    Raises
    ------
    LookupError
        No such model, or it was already removed.
    """
    row = get(conn, model_id)
    if row is None:
        raise LookupError(f"no model {model_id}")
    if row["removed"] is not None:
        raise LookupError(f"model {model_id} was already removed on {row['removed']}")
    if int(row["active"]) == 1:
        conn.execute("UPDATE models SET active = 0 WHERE id = ?", (int(model_id),))
        add_event(conn, int(model_id), row["task"], "deactivated", "removed")
    conn.execute("UPDATE models SET removed = ? WHERE id = ?", (now(), int(model_id)))
    add_event(conn, int(model_id), row["task"], "removed", note)
    return get(conn, model_id)


def update_card(conn: sqlite3.Connection, model_id: int, card: Dict[str, Any]) -> None:
    """Replace a model's JSON card."""
    conn.execute("UPDATE models SET card = ? WHERE id = ?", (_json(card), int(model_id)))


# ----------------------------------------------------------------------------- predictions
PredictionRow = Tuple[str, str, Optional[float], Optional[float], Optional[dict]]


def write_predictions(conn: sqlite3.Connection, model_id: int, rows_: Iterable[PredictionRow]) -> int:
    """Replace a model's predictions with ``(plateifu, field, value, confidence, extra)`` rows
    (non-finite values stored as NULL, ``extra`` as JSON).  Returns the number written."""
    data = [(int(model_id), str(p), str(f), None if v is None or not np.isfinite(v) else float(v),
             None if c is None or not np.isfinite(c) else float(c),
             None if extra is None else _json(extra))
            for p, f, v, c, extra in rows_]
    conn.execute("DELETE FROM predictions WHERE model_id = ?", (int(model_id),))
    conn.executemany("INSERT OR REPLACE INTO predictions (model_id, plateifu, field, value, confidence, extra) "
                     "VALUES (?, ?, ?, ?, ?, ?)", data)
    return len(data)


def count_predictions(conn: sqlite3.Connection, model_id: int) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM predictions WHERE model_id = ?", (int(model_id),)).fetchone()[0])


def read_predictions(conn: sqlite3.Connection, model_id: int) -> Sequence[sqlite3.Row]:
    """``plateifu, field, value, confidence, extra`` rows of a model, by plateifu and field."""
    return conn.execute("SELECT plateifu, field, value, confidence, extra FROM predictions "
                        "WHERE model_id = ? ORDER BY plateifu, field", (int(model_id),)).fetchall()


def prediction_rows(conn: sqlite3.Connection, model_id: int) -> Sequence[sqlite3.Row]:
    """``plateifu, field, value, confidence, extra`` rows of a model, in storage order (cheaper
    than :func:`read_predictions` when the caller indexes them itself)."""
    return conn.execute("SELECT plateifu, field, value, confidence, extra FROM predictions "
                        "WHERE model_id = ?", (int(model_id),)).fetchall()


def prediction_of(conn: sqlite3.Connection, model_id: int, plateifu: str) -> Optional[sqlite3.Row]:
    """``value, confidence, extra`` of one galaxy's prediction by a model (its first field), or None."""
    return conn.execute("SELECT value, confidence, extra FROM predictions WHERE model_id = ? "
                        "AND plateifu = ?", (int(model_id), plateifu)).fetchone()


def latest_active_id_of(conn: sqlite3.Connection, tasks: Sequence[str]) -> Optional[int]:
    """Id of the newest active model of any of ``tasks``; None if none (or no task given)."""
    tasks = list(tasks)
    if not tasks:
        return None
    marks = ",".join("?" * len(tasks))
    row = conn.execute(f"SELECT id FROM models WHERE active = 1 AND task IN ({marks}) "
                       "ORDER BY id DESC LIMIT 1", tasks).fetchone()
    return None if row is None else int(row[0])


def active_ids_and_tasks(conn: sqlite3.Connection) -> List[Tuple[int, str]]:
    """(id, task) of every active model, by task then id."""
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT id, task FROM models WHERE active != 0 ORDER BY task, id").fetchall()]
