"""Metrics with 95 % bootstrap intervals (numpy + scipy only).

A few hundred labelled fields give metrics whose sampling error is several per cent, so every
figure kinview reports for a model comes with an interval.  Intervals are percentile
bootstrap intervals: the samples are resampled *by group* (galaxy) with replacement, because a
galaxy's stellar and gas fields are not independent, and the metric is recomputed on each
resample (``n_boot`` resamples, default 1000; seeded, so the same inputs give the same
interval).  Resamples where a metric is undefined (e.g. one class only, for AUC) are skipped.

Every metric is a dict ``{"value", "lo", "hi"}`` (``lo``/``hi`` ``None`` when undefined).

Classifiers (:func:`classification_intervals`): ``roc_auc`` (binary; one-vs-rest macro mean
for three classes), ``balanced_accuracy`` and ``accuracy`` at the most probable class, and
``majority_baseline``: the accuracy of always answering the most common class of these samples
(its AUC is 0.5 and its balanced accuracy 1 / n_classes by construction).
Regressors (:func:`regression_intervals`): ``pearson``, ``spearman``, ``rmse`` and
``baseline_rmse`` (the RMSE of always answering the mean, i.e. the spread of the targets).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence

import numpy as np

from kinview.learning.metrics import _probs, balanced_accuracy, roc_auc

LEVEL = 0.95
N_BOOT = 1000


def _group_index(groups: Optional[Sequence], n: int):
    """List of index arrays, one per group (each sample its own group when ``groups`` is None)."""
    if groups is None:
        return [np.array([i]) for i in range(n)]
    g = np.asarray([str(v) for v in groups])
    _, inv = np.unique(g, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    bounds = np.flatnonzero(np.diff(inv[order])) + 1
    return np.split(order, bounds)


def bootstrap(stats: Dict[str, Callable[[np.ndarray], float]], n: int, groups: Optional[Sequence] = None,
              n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL) -> Dict[str, Dict[str, Any]]:
    """Percentile bootstrap of several statistics of the same samples.

    Parameters
    ----------
    stats : dict name -> callable(index array) -> float
        Each statistic, computed on the samples selected by an index array (with repeats).
    n : int
        Number of samples.
    groups : sequence, optional
        Group of every sample; whole groups are resampled.
    n_boot, seed, level
        Resamples, random seed, central coverage of the interval.

    Returns
    -------
    dict name -> {"value": statistic on all samples, "lo", "hi"}.
    """
    full = np.arange(n)
    out = {name: {"value": _finite(fn(full)), "lo": None, "hi": None} for name, fn in stats.items()}
    if n < 2 or n_boot < 1:
        return out
    blocks = _group_index(groups, n)
    rng = np.random.default_rng(seed)
    draws = {name: [] for name in stats}
    for _ in range(int(n_boot)):
        pick = rng.integers(0, len(blocks), len(blocks))
        idx = np.concatenate([blocks[i] for i in pick])
        for name, fn in stats.items():
            v = fn(idx)
            if v is not None and np.isfinite(v):
                draws[name].append(v)
    a = (1 - level) / 2
    for name, vals in draws.items():
        if len(vals) >= max(10, n_boot // 10) and out[name]["value"] is not None:
            lo, hi = np.quantile(vals, [a, 1 - a])
            out[name]["lo"], out[name]["hi"] = float(lo), float(hi)
    return out


def _finite(v) -> Optional[float]:
    return float(v) if v is not None and np.isfinite(v) else None


def classification_intervals(y_true: Sequence, y_pred: np.ndarray, groups: Optional[Sequence] = None,
                             n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL) -> Dict[str, Any]:
    """Classifier metrics with bootstrap intervals.

    Parameters
    ----------
    y_true : (n,) int class indices
    y_pred : (n,) or (n, 1) P(class 1), or (n, n_classes) probabilities
    groups : (n,) group (galaxy) of every sample, optional

    Returns
    -------
    dict with ``n``, ``n_groups``, ``n_classes``, ``class_counts``, ``majority_class``,
    ``roc_auc``, ``balanced_accuracy``, ``accuracy``, ``majority_baseline`` (each
    ``{"value", "lo", "hi"}``) and ``interval`` (how the intervals were made).
    """
    y = np.asarray(y_true).astype(int).reshape(-1)
    p = _probs(y_pred)
    n_classes = max(p.shape[1], int(y.max()) + 1 if len(y) else 2)
    y_hat = p.argmax(axis=1)
    counts = np.bincount(y, minlength=n_classes)
    major = int(counts.argmax()) if len(y) else 0

    def auc(idx):
        if n_classes == 2:
            return roc_auc(y[idx], p[idx, 1])
        vals = [roc_auc(y[idx] == c, p[idx, c]) for c in range(n_classes)]
        vals = [v for v in vals if np.isfinite(v)]
        return float(np.mean(vals)) if len(vals) == n_classes else float("nan")

    stats = {
        "roc_auc": auc,
        "balanced_accuracy": lambda idx: balanced_accuracy(y[idx], y_hat[idx], n_classes),
        "accuracy": lambda idx: float(np.mean(y_hat[idx] == y[idx])),
        "majority_baseline": lambda idx: float(np.mean(y[idx] == major)),
    }
    out: Dict[str, Any] = {"n": int(len(y)), "n_groups": len(_group_index(groups, len(y))),
                           "n_classes": int(n_classes), "class_counts": counts.tolist(),
                           "majority_class": major}
    if len(y):
        out.update(bootstrap(stats, len(y), groups, n_boot, seed, level))
    out["interval"] = _describe(n_boot, level, groups)
    return out


def regression_intervals(y_true: Sequence, y_pred: np.ndarray, groups: Optional[Sequence] = None,
                         n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL) -> Dict[str, Any]:
    """Regressor metrics with bootstrap intervals: ``pearson``, ``spearman``, ``rmse``,
    ``baseline_rmse`` (each ``{"value", "lo", "hi"}``), plus ``n``, ``n_groups``, ``interval``.
    Samples with a non-finite target or prediction are left out."""
    from scipy.stats import rankdata

    t = np.asarray(y_true, float).reshape(-1)
    p = np.asarray(y_pred, float).reshape(-1)
    ok = np.isfinite(t) & np.isfinite(p)
    t, p = t[ok], p[ok]
    g = None if groups is None else np.asarray(groups)[ok]

    def corr(a, b):
        if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
            return float("nan")
        return float(np.corrcoef(a, b)[0, 1])

    stats = {
        "pearson": lambda idx: corr(t[idx], p[idx]),
        "spearman": lambda idx: corr(rankdata(t[idx]), rankdata(p[idx])),
        "rmse": lambda idx: float(np.sqrt(np.mean((p[idx] - t[idx]) ** 2))),
        "baseline_rmse": lambda idx: float(np.std(t[idx])),
    }
    out: Dict[str, Any] = {"n": int(len(t)), "n_groups": len(_group_index(g, len(t)))}
    if len(t):
        out.update(bootstrap(stats, len(t), g, n_boot, seed, level))
    out["interval"] = _describe(n_boot, level, groups)
    return out


def _describe(n_boot: int, level: float, groups) -> str:
    unit = "galaxies" if groups is not None else "samples"
    return f"{level:.0%} percentile bootstrap over {unit} ({n_boot} resamples)"


def format_metric(m: Optional[Dict[str, Any]], digits: int = 3) -> str:
    """``0.912 [0.861, 0.954]`` for a metric dict (``n/a`` when undefined)."""
    if not m or m.get("value") is None:
        return "n/a"
    s = f"{m['value']:.{digits}f}"
    if m.get("lo") is not None and m.get("hi") is not None:
        s += f" [{m['lo']:.{digits}f}, {m['hi']:.{digits}f}]"
    return s
