"""Using trained models: stored predictions and on-the-fly prediction of one galaxy.

(Named ``prediction``, not ``predict``: a submodule called ``predict`` would shadow the
function :func:`kinview.training.predict` once imported.)

:func:`predictions` reads the ``predictions`` table of the task's active model (what the GUI
shows and the exporter writes); :func:`predict_fields` runs a model on a galaxy's fields
without touching the database (e.g. the galaxy on screen while a model trains).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np
import pandas as pd

from kinview.db import models as db_models
from kinview.db.connection import connect
from kinview.kinematics.inputs import vfield_input
from kinview.training.registry import active_model
from kinview.training.use import predict_arrays

__all__ = ["predictions", "predict_fields"]


def predictions(workspace_dir: Union[str, Path], task, model_id: Optional[int] = None) -> pd.DataFrame:
    """Stored predictions of a model (default: the task's active model).

    Returns
    -------
    DataFrame with ``plateifu, field, value, confidence, extra`` (extra decoded from JSON);
    empty when the task has no active model.
    """
    import json

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


def predict_fields(model, maps, fields=("stellar", "gas")) -> Dict[str, Tuple[float, float]]:
    """P(usable) (or class) and confidence for one galaxy's fields with a vfield-quality model.

    Parameters
    ----------
    model : keras.Model (e.g. from :func:`kinview.training.load_model`)
    maps : kinview.data.fields.MapsData

    Returns
    -------
    dict field -> (value, confidence); fields without valid spaxels are left out.
    """
    names, X = [], []
    for name in fields:
        fld = maps.field(name)
        if fld is not None and fld.valid.any():
            names.append(name)
            X.append(vfield_input(fld, 32))
    if not X:
        return {}
    p = predict_arrays(model, np.asarray(X, np.float32))
    out = {}
    for name, row in zip(names, p):
        row = np.asarray(row, float).reshape(-1)
        if row.size == 1:
            out[name] = (float(row[0]), float(max(row[0], 1 - row[0])))
        else:
            k = int(row.argmax())
            out[name] = (float(k), float(row[k]))
    return out
