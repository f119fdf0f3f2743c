"""Labelling rules of the classification workspace that are not about storage (no Qt here).

When to advance
    The workspace moves on to the next unlabelled galaxy when a quality label makes the galaxy
    *labelled* (stellar quality, and gas quality unless the galaxy has no gas): only on that
    transition.  Correcting a field of a galaxy that was already labelled stays on it.
A galaxy without gas
    When the gas map has no valid spaxels (no emission-line map, or every spaxel masked), the
    stellar quality alone labels the galaxy.  Committing it also records gas quality 0
    ("do not use") and the gas note :data:`NO_GAS_NOTE`, written *before* the stellar quality so
    that undoing the stellar quality leaves the (true) "no gas" record in place.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

#: Free-text note stored on the gas field of a galaxy whose gas map has no valid spaxels.
NO_GAS_NOTE = "no gas"


def has_valid_spaxels(velocity) -> bool:
    """True when a velocity map (km/s, NaN = masked) has at least one finite spaxel;
    None (no map) is False."""
    if velocity is None:
        return False
    return bool(np.isfinite(np.asarray(velocity, dtype=float)).any())


def implied_labels(labels: Dict[Tuple[str, str], object], field: str, kind: str, value,
                   has_gas: Optional[bool]) -> List[Tuple[str, str, object]]:
    """Labels to commit before (field, kind, value) on a galaxy with current ``labels``.

    For a stellar quality on a galaxy known to have no gas (``has_gas is False``; None means
    not known yet, e.g. its maps are still loading) whose gas quality is not set: gas quality 0
    and the gas note :data:`NO_GAS_NOTE`.  Otherwise nothing.
    """
    if (field, kind) != ("stellar", "quality") or value is None or has_gas is not False:
        return []
    if ("gas", "quality") in labels:
        return []
    out: List[Tuple[str, str, object]] = [("gas", "quality", 0)]
    if labels.get(("gas", "note")) != NO_GAS_NOTE:
        out.append(("gas", "note", NO_GAS_NOTE))
    return out


def should_advance(kind: str, labelled_before: bool, labelled_after: bool) -> bool:
    """Advance to the next unlabelled galaxy only when a quality label completed the galaxy."""
    return kind == "quality" and labelled_after and not labelled_before


def labels_by_galaxy(current) -> Dict[str, Dict[Tuple[str, str], object]]:
    """``{plateifu: {(field, kind): value}}`` from one expert's current labels (the DataFrame
    of :meth:`kinview.labels.LabelStore.current`): float codes and PAs, note texts."""
    out: Dict[str, Dict[Tuple[str, str], object]] = {}
    for p, f, k, v, t in zip(current["plateifu"].tolist(), current["field"].tolist(),
                             current["kind"].tolist(), current["value"].tolist(),
                             current["text"].tolist()):
        out.setdefault(p, {})[(f, k)] = t if k == "note" else float(v)
    return out
