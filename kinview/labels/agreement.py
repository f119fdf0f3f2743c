"""Inter-expert agreement: Cohen's κ (two experts) and Fleiss' κ (any number).

κ = (p_o − p_e) / (1 − p_e): observed agreement corrected for the agreement expected by chance
from the label frequencies.  κ = 1 is perfect agreement, 0 chance level, < 0 worse than chance.
When chance agreement is already 1 (every label in one class) κ is undefined and NaN is
returned.

References
----------
Cohen, J. (1960), Educational and Psychological Measurement 20, 37.
Fleiss, J. L. (1971), Psychological Bulletin 76, 378.
"""
from __future__ import annotations

from itertools import combinations
from typing import Dict, Iterable, Optional, Sequence

import numpy as np
import pandas as pd


def _kappa(po: float, pe: float) -> float:
    if not np.isfinite(po) or not np.isfinite(pe) or np.isclose(pe, 1.0):
        return float("nan")
    return float((po - pe) / (1.0 - pe))


def confusion_table(a: Sequence, b: Sequence, categories: Optional[Iterable] = None) -> pd.DataFrame:
    """Counts of (label by rater A, label by rater B) over the same items.

    Rows are A's categories, columns B's.
    """
    a = list(a)
    b = list(b)
    if len(a) != len(b):
        raise ValueError(f"raters labelled different numbers of items ({len(a)} vs {len(b)})")
    cats = sorted(set(a) | set(b)) if categories is None else list(categories)
    index = {c: i for i, c in enumerate(cats)}
    table = np.zeros((len(cats), len(cats)), dtype=np.int64)
    for x, y in zip(a, b):
        table[index[x], index[y]] += 1
    return pd.DataFrame(table, index=cats, columns=cats)


def cohen_kappa_table(table) -> float:
    """Cohen's κ from a k×k contingency table of two raters (rows rater A, columns rater B).

    Examples
    --------
    The worked example of Wikipedia's *Cohen's kappa* article (50 proposals; 20 yes/yes,
    5 yes/no, 10 no/yes, 15 no/no):

    >>> round(cohen_kappa_table([[20, 5], [10, 15]]), 6)
    0.4
    """
    t = np.asarray(table, dtype=float)
    n = t.sum()
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise ValueError("a Cohen contingency table must be square")
    if n == 0:
        return float("nan")
    po = np.trace(t) / n
    pe = float(np.sum(t.sum(axis=1) * t.sum(axis=0))) / n ** 2
    return _kappa(po, pe)


def cohen_kappa(a: Sequence, b: Sequence, categories: Optional[Iterable] = None) -> float:
    """Cohen's κ between two raters' labels of the same items (``a[i]`` and ``b[i]``)."""
    return cohen_kappa_table(confusion_table(a, b, categories).to_numpy())


def cohen_kappa_per_class(a: Sequence, b: Sequence, categories: Optional[Iterable] = None) -> Dict:
    """One-vs-rest Cohen's κ for every category (how well the raters agree on "is it c?")."""
    a = list(a)
    b = list(b)
    cats = sorted(set(a) | set(b)) if categories is None else list(categories)
    return {c: cohen_kappa([x == c for x in a], [y == c for y in b], [False, True]) for c in cats}


def _counts(counts) -> np.ndarray:
    m = np.asarray(counts, dtype=float)
    if m.ndim != 2:
        raise ValueError("Fleiss counts must be a 2-D array: items x categories")
    return m[m.sum(axis=1) >= 2]  # an item needs two ratings to say anything about agreement


def fleiss_kappa(counts) -> float:
    """Fleiss' κ from an items × categories matrix of rating counts.

    ``counts[i, j]`` is how many raters put item ``i`` in category ``j``.  Items may have
    different numbers of raters (the usual generalisation: each item's agreement is
    ``(Σ_j n_ij² − n_i) / (n_i (n_i − 1))``; category shares are pooled over all ratings);
    items with fewer than two ratings are ignored.

    Examples
    --------
    Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories.

    >>> table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
    ...          [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
    ...          [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    >>> round(fleiss_kappa(table), 3)
    0.21
    """
    m = _counts(counts)
    if len(m) == 0:
        return float("nan")
    n = m.sum(axis=1)
    p_items = (np.sum(m * m, axis=1) - n) / (n * (n - 1))
    p_bar = float(p_items.mean())
    p_j = m.sum(axis=0) / n.sum()
    pe = float(np.sum(p_j ** 2))
    return _kappa(p_bar, pe)


def fleiss_kappa_per_category(counts) -> np.ndarray:
    """Fleiss' (1971) κ_j for each category j: agreement on that category beyond chance."""
    m = _counts(counts)
    if len(m) == 0:
        return np.full(np.asarray(counts).shape[1], np.nan)
    n = m.sum(axis=1, keepdims=True)
    p_j = m.sum(axis=0) / n.sum()
    disagree = np.sum(m * (n - m) / (n * (n - 1)), axis=0) / len(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 - disagree / (p_j * (1.0 - p_j))
    out[(p_j <= 0) | (p_j >= 1)] = np.nan
    return out


def agreement(current: pd.DataFrame, field: str, kind: str = "quality",
              categories: Optional[Iterable] = None) -> dict:
    """Agreement of all experts on one label (e.g. stellar quality).

    Parameters
    ----------
    current : DataFrame
        Current labels with columns ``plateifu, field, kind, expert, value`` (as from
        :meth:`kinview.labels.LabelStore.current`).
    field, kind : str
        Which label to compare.
    categories : iterable, optional
        The possible values (default: those that occur).

    Returns
    -------
    dict
        ``method`` ('cohen' for two experts, 'fleiss' for more, None for fewer), ``experts``,
        ``n_items`` (galaxies rated by both experts for Cohen, by ≥ 2 experts for Fleiss),
        ``kappa`` (overall), ``per_class`` ({value: κ}), ``pairwise`` ({"A|B": Cohen κ}) and
        ``observed`` (share of compared items on which all their raters agree).
    """
    sel = current[(current["field"] == field) & (current["kind"] == kind)]
    sel = sel.dropna(subset=["value"])
    experts = sorted(sel["expert"].unique())
    out = {"field": field, "kind": kind, "experts": experts, "method": None, "n_items": 0,
           "kappa": float("nan"), "per_class": {}, "pairwise": {}, "observed": float("nan")}
    if len(experts) < 2:
        return out
    wide = sel.pivot_table(index="plateifu", columns="expert", values="value", aggfunc="last")
    cats = sorted(pd.unique(sel["value"])) if categories is None else list(categories)
    for a, b in combinations(experts, 2):
        both = wide[[a, b]].dropna()
        out["pairwise"][f"{a}|{b}"] = cohen_kappa(both[a], both[b], cats) if len(both) else float("nan")
    if len(experts) == 2:
        both = wide[experts].dropna()
        a, b = both[experts[0]], both[experts[1]]
        out.update(method="cohen", n_items=int(len(both)),
                   kappa=cohen_kappa(a, b, cats) if len(both) else float("nan"),
                   per_class=cohen_kappa_per_class(a, b, cats) if len(both) else {},
                   observed=float(np.mean(a.to_numpy() == b.to_numpy())) if len(both) else float("nan"))
        return out
    counts = np.stack([(wide == c).sum(axis=1).to_numpy() for c in cats], axis=1)
    keep = counts.sum(axis=1) >= 2
    counts = counts[keep]
    out.update(method="fleiss", n_items=int(len(counts)), kappa=fleiss_kappa(counts),
               per_class=dict(zip(cats, fleiss_kappa_per_category(counts).tolist())) if len(counts) else {},
               observed=float(np.mean(counts.max(axis=1) == counts.sum(axis=1))) if len(counts) else float("nan"))
    return out
