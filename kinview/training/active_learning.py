"""Queues for labelling with a model in the loop (used by the GUI).

``most_uncertain``
    Fields with no current quality label (by any expert) whose active-model prediction is the
    least confident: P(usable) nearest 0.5 in binary mode (confidence = max(P, 1 − P)),
    the lowest top-class probability in three-class mode.
``likely_label_errors``
    Labelled fields whose *out-of-sample* prediction (stored with ``extra["oof"] = true``:
    the model's held-out test split, or k-fold cross-validation with
    ``train(..., options={"oof_folds": k})``) confidently disagrees with the label.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np
import pandas as pd

QUEUE_COLUMNS = ["plateifu", "field", "value", "confidence"]


def _binary_usable(value: float, extra: dict) -> float:
    """P(usable) from a stored vfield-quality prediction (binary or 3class)."""
    if extra.get("mode") == "3class":
        return float(extra.get("p_usable", np.nan))
    return float(value)


def most_uncertain(workspace_dir: Union[str, Path], task="vfield-quality", n: int = 50,
                   expert: Optional[str] = None) -> pd.DataFrame:
    """Up to ``n`` unlabelled fields, least confident first.

    Parameters
    ----------
    expert : str, optional
        Count only this expert's labels as "labelled" (default: anybody's).

    Returns
    -------
    DataFrame ``plateifu, field, value, confidence`` (empty without an active model).
    """
    from kinview.learning.datasets import current_labels
    from kinview.training.prediction import predictions

    pred = predictions(workspace_dir, task)
    if pred.empty:
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    cur = current_labels(workspace_dir)
    cur = cur[cur["kind"] == "quality"]
    if expert:
        cur = cur[cur["expert"] == expert]
    labelled = set(zip(cur["plateifu"], cur["field"]))
    mask = np.array([(p, f) not in labelled for p, f in zip(pred["plateifu"], pred["field"])], bool)
    pred = pred[mask & pred["confidence"].notna().to_numpy()]
    pred = pred.sort_values(["confidence", "plateifu", "field"], kind="stable").head(int(n))
    return pred[QUEUE_COLUMNS].reset_index(drop=True)


def likely_label_errors(workspace_dir: Union[str, Path], task="vfield-quality", n: int = 50,
                        min_confidence: float = 0.8, expert: Optional[str] = None) -> pd.DataFrame:
    """Labelled fields whose out-of-fold prediction confidently disagrees with the label.

    A binary disagreement is usable-vs-not (label quality ≥ 1 vs P(usable) ≥ 0.5); in
    three-class mode the predicted quality differs from the label.

    Returns
    -------
    DataFrame ``plateifu, field, expert, label, value, confidence`` sorted by confidence
    (most confident disagreement first), at most ``n`` rows.
    """
    from kinview.learning.datasets import current_labels
    from kinview.training.prediction import predictions

    cols = ["plateifu", "field", "expert", "label", "value", "confidence"]
    pred = predictions(workspace_dir, task)
    if pred.empty:
        return pd.DataFrame(columns=cols)
    pred = pred[np.array([bool(e.get("oof")) for e in pred["extra"]], bool)]
    cur = current_labels(workspace_dir)
    cur = cur[(cur["kind"] == "quality") & cur["value"].notna()]
    if expert:
        cur = cur[cur["expert"] == expert]
    merged = pred.merge(cur[["plateifu", "field", "expert", "value"]].rename(columns={"value": "label"}),
                        on=["plateifu", "field"])
    rows = []
    for r in merged.itertuples(index=False):
        extra = r.extra or {}
        if extra.get("mode") == "3class":
            disagree = int(round(r.value)) != int(r.label)
            conf = float(r.confidence)
        else:
            p = _binary_usable(r.value, extra)
            disagree = (p >= 0.5) != (r.label >= 1)
            conf = max(p, 1 - p)
        if disagree and conf >= min_confidence:
            rows.append((r.plateifu, r.field, r.expert, float(r.label), float(r.value), conf))
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["confidence", "plateifu"], ascending=[False, True]).head(int(n)).reset_index(drop=True)
