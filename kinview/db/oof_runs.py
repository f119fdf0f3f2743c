"""Out-of-fold evaluation runs and their predictions (``kinview evaluate --oof K``).

Tables (created on first use with ``CREATE TABLE IF NOT EXISTS``: they only add to the
versioned schema of :mod:`kinview.db.schema` and no other table refers to them)::

    oof_runs         one row per run: task, architecture, K, seed, label-set hash, when, the
                     metrics with intervals (JSON) and a summary (JSON: samples, folds, ...)
    oof_predictions  per (run, plateifu, field): the out-of-fold prediction (value,
                     confidence as the task writes them), the label it was scored against,
                     the fold that held the sample out, and the task's extra JSON

Every run is kept (a record of how the recipe did on the labels of the day); readers take the
latest run of a task.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from kinview.db.connection import connect, db_path, transaction
from kinview.strict_json import jsonable

SCHEMA = """
CREATE TABLE IF NOT EXISTS oof_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task        TEXT NOT NULL,
    arch        TEXT NOT NULL,
    k           INTEGER NOT NULL,
    seed        INTEGER NOT NULL,
    label_hash  TEXT,
    created     TEXT NOT NULL,
    metrics     TEXT,
    summary     TEXT
);
CREATE TABLE IF NOT EXISTS oof_predictions (
    run_id      INTEGER NOT NULL REFERENCES oof_runs(id),
    plateifu    TEXT NOT NULL,
    field       TEXT NOT NULL,
    value       REAL,
    confidence  REAL,
    target      REAL,
    fold        INTEGER,
    extra       TEXT,
    PRIMARY KEY (run_id, plateifu, field)
);
"""


def _ensure(conn) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def _f(v) -> Optional[float]:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if v == v and abs(v) != float("inf") else None


def save_run(survey_dir: Union[str, Path], task: str, arch: str, k: int, seed: int, label_hash: str,
             created: str, metrics: Dict[str, Any], summary: Dict[str, Any],
             rows: Sequence[Tuple[str, str, Any, Any, Any, int, Optional[dict]]]) -> int:
    """Store a run and its predictions in one transaction; return the run id.

    ``rows`` are ``(plateifu, field, value, confidence, target, fold, extra)``.
    """
    conn = connect(survey_dir)
    try:
        with transaction(conn):
            _ensure(conn)
            cur = conn.execute(
                "INSERT INTO oof_runs (task, arch, k, seed, label_hash, created, metrics, summary) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (task, arch, int(k), int(seed), label_hash, created, json.dumps(jsonable(metrics)),
                 json.dumps(jsonable(summary))))
            run_id = int(cur.lastrowid)
            conn.executemany(
                "INSERT OR REPLACE INTO oof_predictions (run_id, plateifu, field, value, confidence, "
                "target, fold, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, str(p), str(f), _f(v), _f(c), _f(t), int(fold),
                  None if extra is None else json.dumps(jsonable(extra)))
                 for p, f, v, c, t, fold, extra in rows])
    finally:
        conn.close()
    return run_id


def latest_run(survey_dir: Union[str, Path], task: str) -> Optional[Dict[str, Any]]:
    """The latest out-of-fold run of ``task`` (``id, task, arch, k, seed, label_hash, created,
    metrics, summary``), or None (also when the survey has no database yet)."""
    if not db_path(survey_dir).exists():
        return None
    conn = connect(survey_dir)
    try:
        _ensure(conn)
        row = conn.execute("SELECT * FROM oof_runs WHERE task = ? ORDER BY id DESC LIMIT 1", (task,)).fetchone()
    finally:
        conn.close()
    if row is None:
        return None
    out = dict(row)
    out["metrics"] = json.loads(out["metrics"] or "{}")
    out["summary"] = json.loads(out["summary"] or "{}")
    return out


def run_predictions(survey_dir: Union[str, Path], run_id: int) -> List[Dict[str, Any]]:
    """Predictions of a run: dicts with ``plateifu, field, value, confidence, target, fold, extra``."""
    conn = connect(survey_dir)
    try:
        _ensure(conn)
        rows = conn.execute("SELECT plateifu, field, value, confidence, target, fold, extra FROM oof_predictions "
                            "WHERE run_id = ? ORDER BY plateifu, field", (int(run_id),)).fetchall()
    finally:
        conn.close()
    out = []
    for r in rows:
        d = dict(r)
        d["extra"] = json.loads(d["extra"]) if d["extra"] else None
        out.append(d)
    return out
