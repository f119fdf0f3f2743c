"""Queues for labelling with a model in the loop (used by the GUI).

They apply to a task that learns a per-field expert label
(:attr:`kinview.tasks.base.Task.queue_label_kind`, e.g. ``quality``).

``most_uncertain``
    Fields with no current label of that kind (by the given expert — the GUI's "label next"
    queue passes the expert at work —, or by anybody) whose active-model prediction is the
    least confident (the stored ``confidence``, e.g. max(P, 1 − P) of a binary
    classifier).
``likely_label_errors``
    Labelled fields whose *out-of-sample* prediction (stored with ``extra["oof"] = true``:
    the model's held-out test split, or k-fold cross-validation with
    ``train(..., options={"oof_folds": k})``) confidently disagrees with the label
    (:meth:`kinview.tasks.base.Task.label_disagreement`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Set, Union

import numpy as np
import pandas as pd

from kinview.errors import KinviewError
from kinview.labels.visibility import visible_label_rows
from kinview.learning.datasets import current_labels
from kinview.tasks.registry import get
from kinview.training.prediction import predictions

QUEUE_COLUMNS = ["plateifu", "field", "value", "confidence"]


def _task(task):
    task = get(task) if isinstance(task, str) else task
    if not task.queue_label_kind:
        raise KinviewError(f"{task.name}: no labelling queues (the task learns no per-field expert label)")
    return task


def most_uncertain(workspace_dir: Union[str, Path], task, n: int = 50,
                   expert: Optional[str] = None) -> pd.DataFrame:
    """Up to ``n`` unlabelled fields, least confident first.

    Parameters
    ----------
    task : str or Task
        A task with a :attr:`~kinview.tasks.base.Task.queue_label_kind`.
    expert : str, optional
        Count only this expert's labels as "labelled" (default: anybody's).

    Returns
    -------
    DataFrame ``plateifu, field, value, confidence`` (empty without an active model).
    """
    task = _task(task)
    pred = predictions(workspace_dir, task.name)
    if pred.empty:
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    cur = current_labels(workspace_dir)
    cur = cur[cur["kind"] == task.queue_label_kind]
    if expert:
        cur = cur[cur["expert"] == expert]
    labelled = set(zip(cur["plateifu"], cur["field"]))
    mask = np.array([(p, f) not in labelled for p, f in zip(pred["plateifu"], pred["field"])], bool)
    pred = pred[mask & pred["confidence"].notna().to_numpy()]
    pred = pred.sort_values(["confidence", "plateifu", "field"], kind="stable").head(int(n))
    return pred[QUEUE_COLUMNS].reset_index(drop=True)


def likely_label_errors(workspace_dir: Union[str, Path], task, n: int = 50,
                        min_confidence: float = 0.8, expert: Optional[str] = None,
                        viewer: Optional[str] = None,
                        revealed: Optional[Set[str]] = None) -> pd.DataFrame:
    """Labelled fields whose out-of-fold prediction confidently disagrees with the label.

    The task says what disagreeing means (:meth:`~kinview.tasks.base.Task.label_disagreement`;
    for ``quality`` labels in binary mode: usable-vs-not, label ≥ 1 against P(usable) ≥ 0.5).

    ``expert`` keeps that expert's labels only.  ``viewer`` and ``revealed`` apply blind mode
    (:func:`kinview.labels.visibility.visible_label_rows`): other raters' labels (a published
    catalogue's included) are kept only for the galaxies in ``revealed``; None: all of them.

    Returns
    -------
    DataFrame ``plateifu, field, expert, label, value, confidence`` sorted by confidence
    (most confident disagreement first), at most ``n`` rows.
    """
    cols = ["plateifu", "field", "expert", "label", "value", "confidence"]
    task = _task(task)
    pred = predictions(workspace_dir, task.name)
    if pred.empty:
        return pd.DataFrame(columns=cols)
    pred = pred[np.array([bool(e.get("oof")) for e in pred["extra"]], bool)]
    cur = current_labels(workspace_dir)
    cur = cur[(cur["kind"] == task.queue_label_kind) & cur["value"].notna()]
    if expert:
        cur = cur[cur["expert"] == expert]
    if viewer is not None:
        cur = visible_label_rows(cur, viewer, revealed)
    merged = pred.merge(cur[["plateifu", "field", "expert", "value"]].rename(columns={"value": "label"}),
                        on=["plateifu", "field"])
    rows = []
    for r in merged.itertuples(index=False):
        conf = task.label_disagreement(r.value, r.confidence, r.extra or {}, r.label)
        if conf is not None and conf >= min_confidence:
            rows.append((r.plateifu, r.field, r.expert, float(r.label), float(r.value), conf))
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["confidence", "plateifu"], ascending=[False, True]).head(int(n)).reset_index(drop=True)
