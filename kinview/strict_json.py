"""Strict JSON for what kinview stores: no NaN, no infinities, no numpy types.

Model cards, the ``models.metrics`` column, out-of-fold runs and the CLI's JSON output all go
through :func:`jsonable`, so a metric that is undefined (e.g. ROC AUC with one class) is written
as ``null`` rather than the non-standard ``NaN`` that :mod:`json` would emit.
"""
from __future__ import annotations

import numpy as np

__all__ = ["jsonable"]


def jsonable(obj):
    """Replace NaN/inf by None and numpy scalars by Python ones, recursively (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if np.isfinite(f) else None
    return obj
