"""Stored predictions of trained models.

(Named ``prediction``, not ``predict``: a submodule called ``predict`` would shadow the
function :func:`kinview.training.predict` once imported.)

:func:`predictions` reads the ``predictions`` table of the task's active model (what the GUI
shows and the exporter writes).  Running a model on inputs is :func:`kinview.training.use.predict_arrays`,
and turning its outputs into rows the task's :meth:`~kinview.tasks.base.Task.to_predictions`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Union

import pandas as pd

from kinview.db import models as db_models
from kinview.db.connection import connect
from kinview.training.registry import active_model

__all__ = ["predictions"]


def predictions(workspace_dir: Union[str, Path], task, model_id: Optional[int] = None) -> pd.DataFrame:
    """Stored predictions of a model (default: the task's active model).

    Returns
    -------
    DataFrame with ``plateifu, field, value, confidence, extra`` (extra decoded from JSON);
    empty when the task has no active model.
    """
    cols = ["plateifu", "field", "value", "confidence", "extra"]
    if model_id is None:
        rec = active_model(workspace_dir, task)
        if rec is None:
            return pd.DataFrame(columns=cols)
        model_id = rec.id
    conn = connect(workspace_dir)
    try:
        rows = db_models.read_predictions(conn, model_id)
    finally:
        conn.close()
    df = pd.DataFrame([tuple(r) for r in rows], columns=cols)
    df["extra"] = [json.loads(e) if e else {} for e in df["extra"]]
    return df
