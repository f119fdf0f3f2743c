"""Held-out metrics as JSON-serialisable dicts (numpy + scipy only).

Classifiers: accuracy, balanced accuracy, ROC AUC (one-vs-rest macro average for three
classes), and confusion matrices at confidence thresholds 0.5/0.8/0.95/0.99 with the fraction
of samples kept at each (a sample is kept when the model's confidence in its predicted class,
max(p, 1−p) in binary mode, reaches the threshold).
Regressors: Pearson r, Spearman ρ, RMSE, bias, and the mean prediction in bins of the true value.
"""
from __future__ import annotations

from typing import Any, Dict, Sequence

import numpy as np

THRESHOLDS = (0.5, 0.8, 0.95, 0.99)


def _probs(y_pred: np.ndarray) -> np.ndarray:
    """(n, n_classes) probabilities from a sigmoid column or softmax rows."""
    p = np.asarray(y_pred, float)
    if p.ndim == 1 or p.shape[1] == 1:
        p1 = p.reshape(-1)
        return np.stack([1 - p1, p1], axis=1)
    return p


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve for binary ``y_true`` (Mann–Whitney, ties count half)."""
    from scipy.stats import rankdata

    y = np.asarray(y_true).astype(int)
    s = np.asarray(score, float)
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def confusion(y_true: np.ndarray, y_hat: np.ndarray, n_classes: int) -> list:
    """Confusion matrix as nested lists: rows = true class, columns = predicted class."""
    m = np.zeros((n_classes, n_classes), int)
    np.add.at(m, (np.asarray(y_true, int), np.asarray(y_hat, int)), 1)
    return m.tolist()


def balanced_accuracy(y_true: np.ndarray, y_hat: np.ndarray, n_classes: int) -> float:
    y_true = np.asarray(y_true, int)
    recalls = [float(np.mean(y_hat[y_true == c] == c)) for c in range(n_classes) if np.any(y_true == c)]
    return float(np.mean(recalls)) if recalls else float("nan")


def classification_metrics(y_true: Sequence, y_pred: np.ndarray, n_classes: int = 2,
                           thresholds: Sequence[float] = THRESHOLDS) -> Dict[str, Any]:
    """Metrics of a classifier.

    Parameters
    ----------
    y_true : (n,) int class indices
    y_pred : (n,) or (n, 1) P(class 1), or (n, n_classes) probabilities
    """
    y_true = np.asarray(y_true).astype(int)
    p = _probs(y_pred)
    y_hat = p.argmax(axis=1)
    conf = p.max(axis=1)
    out: Dict[str, Any] = {"n": int(len(y_true)), "n_classes": int(n_classes)}
    if len(y_true) == 0:
        return out
    out["accuracy"] = float(np.mean(y_hat == y_true))
    out["balanced_accuracy"] = balanced_accuracy(y_true, y_hat, n_classes)
    if n_classes == 2:
        out["roc_auc"] = roc_auc(y_true, p[:, 1])
    else:
        aucs = [roc_auc(y_true == c, p[:, c]) for c in range(n_classes)]
        aucs = [a for a in aucs if np.isfinite(a)]
        out["roc_auc"] = float(np.mean(aucs)) if aucs else float("nan")
    out["class_counts"] = np.bincount(y_true, minlength=n_classes).tolist()
    out["confusion"] = confusion(y_true, y_hat, n_classes)
    at = {}
    for t in thresholds:
        keep = conf >= t
        at[f"{t:g}"] = {
            "kept_fraction": float(keep.mean()),
            "n_kept": int(keep.sum()),
            "accuracy": float(np.mean(y_hat[keep] == y_true[keep])) if keep.any() else float("nan"),
            "confusion": confusion(y_true[keep], y_hat[keep], n_classes),
        }
    out["at_confidence"] = at
    return out


def regression_metrics(y_true: Sequence, y_pred: np.ndarray, n_bins: int = 5) -> Dict[str, Any]:
    """Metrics of a regressor: Pearson, Spearman, RMSE, bias, binned means."""
    from scipy.stats import pearsonr, spearmanr

    t = np.asarray(y_true, float).reshape(-1)
    p = np.asarray(y_pred, float).reshape(-1)
    ok = np.isfinite(t) & np.isfinite(p)
    t, p = t[ok], p[ok]
    out: Dict[str, Any] = {"n": int(len(t))}
    if len(t) < 3:
        return out
    const = np.ptp(t) == 0 or np.ptp(p) == 0
    out["pearson"] = float("nan") if const else float(pearsonr(t, p)[0])
    out["spearman"] = float("nan") if const else float(spearmanr(t, p)[0])
    out["rmse"] = float(np.sqrt(np.mean((p - t) ** 2)))
    out["bias"] = float(np.mean(p - t))
    edges = np.quantile(t, np.linspace(0, 1, n_bins + 1))
    bins = []
    for i in range(n_bins):
        lo, hi = edges[i], edges[i + 1]
        sel = (t >= lo) & ((t <= hi) if i == n_bins - 1 else (t < hi))
        if sel.any():
            bins.append({"lo": float(lo), "hi": float(hi), "n": int(sel.sum()),
                         "mean_true": float(t[sel].mean()), "mean_pred": float(p[sel].mean()),
                         "std_pred": float(p[sel].std())})
    out["binned"] = bins
    return out
