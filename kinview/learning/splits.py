"""Train / validation / test splits by group (galaxy), fixed by a seed.

A galaxy's stellar and gas fields (or a cluster's projections) share a group, and a group never
straddles two splits, so a test score never benefits from the other field of a training galaxy.
"""
from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np


def split_groups(groups: Sequence, fractions: Tuple[float, float, float] = (0.7, 0.15, 0.15),
                 seed: int = 0) -> Dict[str, np.ndarray]:
    """Split sample indices by group.

    Parameters
    ----------
    groups : sequence
        Group id of every sample (e.g. the plate-ifu).
    fractions : (train, val, test)
        Fractions of the *groups* in each split (normalised to sum 1).
    seed : int
        The same seed and the same set of groups give the same split, whatever the order of the
        samples (groups are sorted before shuffling).

    Returns
    -------
    dict with ``train``, ``val``, ``test``: sorted int arrays of sample indices.
    """
    groups = np.asarray([str(g) for g in groups])
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    order = unique[rng.permutation(len(unique))]
    f = np.asarray(fractions, float)
    f = f / f.sum()
    n = len(order)
    n_test = int(round(f[2] * n))
    n_val = int(round(f[1] * n))
    if n >= 3:
        n_test = max(n_test, 1) if f[2] > 0 else 0
        n_val = max(n_val, 1) if f[1] > 0 else 0
    test_g = set(order[:n_test])
    val_g = set(order[n_test:n_test + n_val])
    which = np.array(["test" if g in test_g else "val" if g in val_g else "train" for g in groups])
    return {name: np.flatnonzero(which == name) for name in ("train", "val", "test")}


def split_by_test_groups(groups: Sequence, test_groups: Sequence, val_fraction: float = 0.15 / 0.85,
                         seed: int = 0) -> Dict[str, np.ndarray]:
    """Splits where the test groups are given (e.g. read back from a model card)."""
    groups = np.asarray([str(g) for g in groups])
    test_set = set(str(g) for g in test_groups)
    is_test = np.array([g in test_set for g in groups], bool)
    rest = split_groups(groups[~is_test], (1 - val_fraction, val_fraction, 0.0), seed)
    idx_rest = np.flatnonzero(~is_test)
    return {"train": idx_rest[rest["train"]], "val": idx_rest[rest["val"]],
            "test": np.flatnonzero(is_test)}


def kfold_groups(groups: Sequence, k: int = 5, seed: int = 0):
    """Yield ``(train_idx, held_idx)`` for k folds of groups (each group held out once)."""
    groups = np.asarray([str(g) for g in groups])
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    order = unique[rng.permutation(len(unique))]
    fold_of = {g: i % k for i, g in enumerate(order)}
    fold = np.array([fold_of[g] for g in groups])
    for i in range(k):
        yield np.flatnonzero(fold != i), np.flatnonzero(fold == i)


def class_weights(y: np.ndarray, n_classes: int) -> Dict[int, float]:
    """Balanced class weights ``n / (n_classes · count_c)`` (absent classes get weight 0)."""
    y = np.asarray(y).astype(int)
    counts = np.bincount(y, minlength=n_classes).astype(float)
    n = counts.sum()
    present = counts > 0
    n_present = int(present.sum()) or 1
    return {c: (float(n / (n_present * counts[c])) if present[c] else 0.0) for c in range(n_classes)}
